"""``embed import`` / ``embed export``: vectors files to model directories and back, streamed.

Import reads a word2vec binary/text, fastText ``.vec`` or GloVe file (also ``.gz``/``.bz2``)
batch by batch (:mod:`embed.formats`) straight into a memory-mappable store
(:mod:`embed.store`), so the matrix is never held in memory, and writes the directory
atomically. Commands that take a model (``serve``, ``index``, ``similar``...) accept a plain
vectors file too: it is imported once into a cache directory (:func:`model_dir_for`).
"""

from __future__ import annotations

import hashlib
import logging
import os
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any, Literal

import numpy as np

from embed.errors import ConfigError, FormatError
from embed.io import MODEL_FORMAT, MODEL_VERSION, VOCAB_FILE, atomic_dir, atomic_file, load, save_vectors, write_meta
from embed.store import write_batches

logger = logging.getLogger(__name__)

ExportFormat = Literal["word2vec-bin", "word2vec-txt", "projector", "fasttext-bin"]
EXPORT_FORMATS: tuple[str, ...] = ("word2vec-bin", "word2vec-txt", "projector", "fasttext-bin")


def import_vectors(
    src: str | os.PathLike[str],
    out: str | os.PathLike[str],
    *,
    limit: int | None = None,
    format: str | None = None,
    allow_nonfinite: bool = False,
    overwrite: bool = False,
    progress: Callable[[int, int], None] | None = None,
) -> tuple[Path, dict[str, Any]]:
    """Stream ``src`` into the model directory ``out``; returns it and the source report.

    ``progress(bytes_read, total_bytes)`` is called as the file is read.

    Raises:
        FormatError: the file is not a vectors file, or is damaged (the message names the line).
        OutputError: ``out`` exists (without ``overwrite``) or cannot be written.
    """
    from embed.formats import VectorFileReader
    from embed.subwords_io import is_fasttext_bin

    src = Path(src)
    started = time.time()
    if format == "fasttext-bin" or (format is None and src.is_file() and is_fasttext_bin(src)):
        return _import_fasttext_bin(src, out, overwrite, started)
    total = src.stat().st_size if src.is_file() else 0
    report_bytes = None if progress is None else (lambda done: progress(done, total))
    with VectorFileReader(
        src, format=format, limit=limit, allow_nonfinite=allow_nonfinite, progress=report_bytes
    ) as reader:
        with atomic_dir(out, overwrite) as tmp:
            store = write_batches(tmp, reader.dim, ((words, rows, None) for words, rows in reader))
            report = reader.report
            if store["rows"] == 0:
                raise FormatError(f"{src}: holds no vectors")
            source = _import_source(
                src, report.format, report.header_rows, limit, report.duplicates, report.decode_errors, report.nonfinite
            )
            _write_import_meta(tmp, started, source, store)
    return Path(out), {**source, "messages": report.messages()}


def _import_source(
    src: Path,
    format: str,
    header_rows: int | None,
    limit: int | None,
    duplicates: int = 0,
    decode_errors: int = 0,
    nonfinite: int = 0,
) -> dict[str, Any]:
    """The ``source`` record of an imported model's ``meta.json``: the file and what reading it found."""
    return {
        "path": str(src.absolute()),
        "format": format,
        "header_rows": header_rows,
        "limit": limit,
        "duplicates": duplicates,
        "decode_errors": decode_errors,
        "nonfinite": nonfinite,
    }


def _write_import_meta(tmp: Path, started: float, source: dict[str, Any], store: Any, **extra: Any) -> None:
    """Write the ``meta.json`` of a model imported from ``source`` (``extra``: records beside the store)."""
    meta = {
        "format": MODEL_FORMAT,
        "version": MODEL_VERSION,
        "created": time.strftime("%Y-%m-%dT%H:%M:%S%z", time.localtime(started)),
        "source": source,
        "vectors_file": None,
        "store": store,
        **extra,
        "timings": {"import_seconds": round(time.time() - started, 3)},
    }
    write_meta(tmp, meta)


def _import_fasttext_bin(
    src: Path, out: str | os.PathLike[str], overwrite: bool, started: float
) -> tuple[Path, dict[str, Any]]:
    """A fastText ``.bin`` (gensim's loader, held in memory) -> word vectors in the store, n-grams beside them."""
    from embed.subwords_io import read_fasttext_bin, write_subwords

    words, matrix, counts, subwords = read_fasttext_bin(src)
    with atomic_dir(out, overwrite) as tmp:
        rows = (
            (words[i : i + 65_536], matrix[i : i + 65_536], None if counts is None else counts[i : i + 65_536].tolist())
            for i in range(0, len(words), 65_536)
        )
        store = write_batches(tmp, matrix.shape[1], rows, counts=counts is not None)
        source = _import_source(src, "fasttext-bin", len(words), None)
        _write_import_meta(tmp, started, source, store, subwords=write_subwords(tmp, subwords))
    return Path(out), {
        **source,
        "messages": [
            f"subwords: n-grams {subwords.spec.minn}-{subwords.spec.maxn}, {subwords.spec.bucket:,} buckets"
            " (unknown words get vectors)"
        ],
    }


def export_vectors(
    model: str | os.PathLike[str], out: str | os.PathLike[str], format: ExportFormat = "word2vec-bin"
) -> list[Path]:
    """Write a model's vectors as word2vec binary/text (gensim's writer) or TensorFlow Projector TSVs.

    ``projector`` writes ``OUT/vectors.tsv`` and ``OUT/metadata.tsv`` (a ``word<TAB>count``
    header and rows when counts are known, else one word a line without header, as the
    Projector expects). Files are written under temporary names and renamed.

    Raises:
        ConfigError: unknown format. FormatError: ``model`` is not readable.
    """
    if format not in EXPORT_FORMATS:
        raise ConfigError(f"format must be one of {', '.join(EXPORT_FORMATS)}, got {format!r}")
    vectors = load(model)
    out = Path(out)
    if format == "fasttext-bin":
        from embed.subwords_io import write_fasttext_bin

        write_fasttext_bin(vectors, out, arch=str((vectors.meta.get("params") or {}).get("arch", "skipgram")))
        return [out]
    if format != "projector":
        if vectors.counts is None:
            with atomic_file(out) as tmp:
                save_vectors(vectors, tmp, binary=format == "word2vec-bin")
            return [out]
        vocab = out.with_name(out.name + "." + VOCAB_FILE)
        with atomic_file(out) as tmp, atomic_file(vocab) as tmp_vocab:
            save_vectors(vectors, tmp, binary=format == "word2vec-bin", vocab_path=tmp_vocab)
        return [out, vocab]
    with atomic_dir(out, overwrite=True) as tmp_dir:
        with open(tmp_dir / "vectors.tsv", "w", encoding="utf-8") as fh:
            for start in range(0, len(vectors), 65_536):
                block = np.asarray(vectors.matrix[start : start + 65_536])
                np.savetxt(fh, block, delimiter="\t", fmt="%.6g")
        with open(tmp_dir / "metadata.tsv", "w", encoding="utf-8") as fh:
            if vectors.counts is not None:
                fh.write("word\tcount\n")
                fh.writelines(f"{_tsv(w)}\t{int(c)}\n" for w, c in zip(vectors, vectors.counts.tolist(), strict=False))
            else:
                fh.writelines(f"{_tsv(w)}\n" for w in vectors)
    return [out / "vectors.tsv", out / "metadata.tsv"]


def _tsv(word: str) -> str:
    return word.replace("\t", " ").replace("\n", " ")


def cache_root() -> Path:
    """``$EMBED_CACHE``, else ``$XDG_CACHE_HOME/embed``, else ``~/.cache/embed``."""
    if os.environ.get("EMBED_CACHE"):
        return Path(os.environ["EMBED_CACHE"])
    base = Path(os.environ.get("XDG_CACHE_HOME") or Path.home() / ".cache")
    return base / "embed"


def model_dir_for(path: str | os.PathLike[str], progress: Callable[[int, int], None] | None = None) -> Path:
    """A model directory for ``path``: itself when it is one, else its import in the cache.

    A vectors file is imported once to ``cache_root()/<name>-<hash>``, keyed by its absolute
    path, size and modification time; a changed file is imported again.

    Raises:
        FormatError: ``path`` is neither a model directory nor a readable vectors file.
    """
    path = Path(path)
    if path.is_dir():
        return path
    if not path.is_file():
        raise FormatError(f"{path}: no such file or directory; pass a model directory or a vectors file")
    st = path.stat()
    key = hashlib.sha256(f"{path.resolve()}\0{st.st_size}\0{st.st_mtime_ns}".encode()).hexdigest()[:16]
    target = cache_root() / f"{path.name.split('.')[0] or 'vectors'}-{key}"
    if (target / "meta.json").is_file():
        return target
    logger.info("importing %s into %s (once; later runs reuse it)", path, target)
    target.parent.mkdir(parents=True, exist_ok=True)
    import_vectors(path, target, overwrite=True, progress=progress)
    return target
