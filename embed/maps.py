"""Labelled 2-D maps of word vectors (PCA or t-SNE from scikit-learn, drawn by matplotlib).

The projection is scikit-learn's; this module only picks the words, chooses a font that can
draw them (a CJK font for Chinese words, where one is installed) and writes the picture
atomically.
"""

from __future__ import annotations

import contextlib
import logging
import os
import re
from collections.abc import Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Literal

import numpy as np

from embed.errors import ConfigError, OutputError, VocabError
from embed.vectors import Vectors

if TYPE_CHECKING:
    from matplotlib.figure import Figure

logger = logging.getLogger(__name__)

Method = Literal["pca", "tsne"]
FORMATS = ("png", "svg", "pdf")
# Families tried in order for CJK labels; Debian's fonts-noto-cjk and fonts-wqy-zenhei provide them.
CJK_FAMILIES = (
    "Noto Sans CJK SC",
    "Noto Sans CJK JP",
    "Noto Serif CJK SC",
    "WenQuanYi Zen Hei",
    "WenQuanYi Micro Hei",
    "Source Han Sans SC",
    "AR PL UMing CN",
)
_CJK_RE = re.compile("[\u3040-\u30ff\u3400-\u4dbf\u4e00-\u9fff\uf900-\ufaff\uac00-\ud7af]")


def has_cjk(words: Sequence[str]) -> bool:
    """True if any word holds a Chinese/Japanese/Korean character: ``["king", "国王"] -> True``."""
    return any(_CJK_RE.search(w) for w in words)


def select_words(vectors: Vectors, words: Sequence[str] = (), top: int | None = None) -> list[str]:
    """The words to draw: the given ones (all must be known) or the ``top`` most frequent.

    Raises:
        ConfigError: both or neither of ``words``/``top`` given, or ``top`` out of range.
        VocabError: some words are not in the vocabulary (all of them are named).
    """
    if words and top is not None:
        raise ConfigError("give either WORDS or --top N, not both")
    if not words:
        top = 100 if top is None else top
        if top < 2:
            raise ConfigError(f"--top {top}: a map needs at least 2 words")
        if top > len(vectors):
            raise ConfigError(
                f"--top {top} is larger than the vocabulary ({len(vectors)} words); use --top {len(vectors)} or less"
            )
        return vectors.words[:top]
    chosen = list(dict.fromkeys(words))  # keep order, drop repeats
    missing = [w for w in chosen if w not in vectors]
    if missing:
        shown = ", ".join(repr(w) for w in missing[:20]) + (
            f" and {len(missing) - 20} more" if len(missing) > 20 else ""
        )
        raise VocabError(
            f"not in the vocabulary: {shown}; check the spelling (the simple tokenizer lower-cases) or leave them out"
        )
    if len(chosen) < 2:
        raise ConfigError(f"a map needs at least 2 distinct words, got {len(chosen)}")
    return chosen


def project(matrix: np.ndarray, method: Method = "pca", seed: int = 1) -> np.ndarray:
    """Project ``(n, dim)`` vectors to ``(n, 2)`` with scikit-learn's PCA or t-SNE.

    t-SNE's perplexity must stay below ``n``; for small maps it is lowered to ``(n - 1) / 3``
    (at least 1), the usual rule of thumb, instead of failing.

    Raises:
        ConfigError: unknown method or fewer than 2 rows.
    """
    n = matrix.shape[0]
    if n < 2:
        raise ConfigError(f"a map needs at least 2 words, got {n}")
    from sklearn.decomposition import PCA  # noqa: F401  imported first: threadpoolctl only limits
    from sklearn.manifold import TSNE  # noqa: F401  the thread pools already loaded
    from threadpoolctl import threadpool_limits

    # One thread: maps hold hundreds of points, and OpenMP/BLAS thread pools that spin on a busy
    # 2-core machine made a 150-word t-SNE take 23 s instead of 1.3 s.
    with threadpool_limits(limits=1):
        return _project(np.asarray(matrix, dtype=np.float64), method, seed)


def _project(x: np.ndarray, method: Method, seed: int) -> np.ndarray:
    n = x.shape[0]
    if method == "pca":
        from sklearn.decomposition import PCA

        k = min(2, n, x.shape[1])
        xy: np.ndarray = PCA(n_components=k, random_state=seed).fit_transform(x)
        if k < 2:  # 1-dimensional vectors: draw them on a line
            xy = np.hstack([xy, np.zeros((n, 2 - k))])
        return xy
    if method == "tsne":
        from sklearn.manifold import TSNE

        perplexity = float(min(30.0, max(1.0, (n - 1) / 3)))
        # PCA initialisation makes the layout stable across runs; cosine suits word vectors.
        tsne = TSNE(n_components=2, perplexity=perplexity, init="pca", metric="cosine", random_state=seed)
        layout: np.ndarray = tsne.fit_transform(x)
        return layout
    raise ConfigError(f"method must be 'pca' or 'tsne', got {method!r}")


def cjk_font() -> str | None:
    """The family name of an installed CJK font matplotlib can use, or ``None``."""
    from matplotlib import font_manager as fm

    def known() -> set[str]:
        return {f.name for f in fm.fontManager.ttflist}

    names = known()
    if not any(f in names for f in CJK_FAMILIES):
        # matplotlib's font cache predates a font installed later: register the files directly.
        for path in fm.findSystemFonts():
            if re.search(r"cjk|wqy|wenquanyi|sourcehan|uming", os.path.basename(path), re.I):
                with contextlib.suppress(Exception):
                    fm.fontManager.addfont(path)
        names = known()
    return next((f for f in CJK_FAMILIES if f in names), None)


def check_output(out: Path) -> str:
    """The picture type of ``out`` (png, svg or pdf), once it is known to be writable. Raises OutputError."""
    fmt = out.suffix.lower().lstrip(".")
    if fmt not in FORMATS:
        raise OutputError(f"{out}: unknown picture type {out.suffix or '(none)'!r}; end --out with .png, .svg or .pdf")
    if out.is_dir():
        raise OutputError(f"{out}: is a directory; pass a file name such as {out / 'map.png'}")
    if not out.absolute().parent.is_dir():
        raise OutputError(f"{out}: directory {out.absolute().parent} does not exist; create it first")
    if not os.access(out.absolute().parent, os.W_OK | os.X_OK):
        raise OutputError(f"{out}: cannot write in {out.absolute().parent}; choose a writable --out")
    return fmt


def plot_map(
    vectors: Vectors,
    words: Sequence[str],
    out: str | os.PathLike[str],
    method: Method = "pca",
    title: str = "",
    seed: int = 1,
    dpi: int = 100,
) -> Path:
    """Draw ``words`` (all in ``vectors``) as labelled points on a 2-D map and write ``out``.

    The picture type follows the suffix (.png, .svg or .pdf). The file is written under a
    temporary name beside ``out`` and renamed, so a failure leaves no partial picture.
    Chinese/Japanese/Korean words are drawn with a CJK font where one is installed; without
    one a warning is logged and those labels show as empty boxes.

    Raises:
        OutputError: bad suffix or unwritable directory.
        NotInVocabError / ConfigError: from :func:`project` or unknown words.
    """
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    out = Path(out)
    fmt = check_output(out)
    words = list(words)
    xy = project(np.stack([vectors[w] for w in words]), method=method, seed=seed)
    families = ["DejaVu Sans"]
    if has_cjk(words):
        font = cjk_font()
        if font is None:
            logger.warning(
                "no CJK font found; Chinese labels will show as boxes. Install one, e.g. 'apt-get install "
                "fonts-noto-cjk'"
            )
        else:
            families.insert(0, font)  # the CJK font covers Latin too; DejaVu stays as a fallback
    size = 9 if len(words) <= 60 else 7
    with plt.rc_context({"font.family": families, "axes.unicode_minus": False}):
        fig, ax = plt.subplots(figsize=(10, 8), dpi=dpi)
        try:
            ax.scatter(xy[:, 0], xy[:, 1], s=14, color="tab:blue", alpha=0.7)
            for (x, y), w in zip(xy, words, strict=False):
                ax.annotate(w, (x, y), xytext=(3, 3), textcoords="offset points", fontsize=size)
            label = "PCA" if method == "pca" else "t-SNE"
            ax.set_title(title or f"{len(words)} words, {label} of {vectors.dim}-d vectors")
            ax.set_xlabel(f"{label} 1")
            ax.set_ylabel(f"{label} 2")
            ax.grid(alpha=0.2)
            ax.margins(0.08)  # room for the labels of points on the edge
            fig.tight_layout()
            _save_atomic(fig, out, fmt)
        finally:
            plt.close(fig)
    return out


def _save_atomic(fig: Figure, out: Path, fmt: str) -> None:
    from embed.io import atomic_file

    with atomic_file(out) as tmp:
        fig.savefig(tmp, format=fmt)
