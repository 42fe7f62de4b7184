"""Intrinsic evaluation: analogy accuracy and word-pair Spearman correlation.

Scores come from gensim's ``evaluate_word_analogies`` / ``evaluate_word_pairs`` (SciPy's
Spearman). Named sets: ``google``, ``ws353`` and ``simlex999`` are the files gensim's wheel
ships; ``ca8-morphological``, ``ca8-semantic`` (CA8, Li et al. 2018, Apache-2.0) and
``wordsim240`` (Chinese word similarity, from the CWE repository, MIT) ship with embed in
``embed/data`` (see its SOURCE.md). Any other file is given by path.

The default sets follow the model's language (:func:`default_sets`). A set with too few
questions or pairs in the vocabulary (:data:`MIN_COVERED`) is reported as *skipped*, with
its coverage, instead of scored: a score on a handful of items means nothing, and an
English set on a Chinese model is no error.
"""

from __future__ import annotations

import logging
import os
import unicodedata
from collections.abc import Sequence
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

from embed.errors import FormatError

if TYPE_CHECKING:
    from embed.vectors import Vectors

logger = logging.getLogger(__name__)

DATA_DIR = Path(__file__).parent / "data"
NAMED_ANALOGIES = {
    "google": "gensim:questions-words.txt",
    "ca8-morphological": "ca8_morphological.txt",
    "ca8-semantic": "ca8_semantic.txt",
}
NAMED_PAIRS = {"ws353": "gensim:wordsim353.tsv", "simlex999": "gensim:simlex999.txt", "wordsim240": "wordsim240.txt"}
DEFAULTS = {
    "en": (("google",), ("ws353", "simlex999")),
    "zh": (("ca8-morphological", "ca8-semantic"), ("wordsim240",)),
}
MIN_COVERED = 20
"""A set is scored only when at least this many of its questions (pairs) are in the vocabulary."""


@dataclass
class AnalogyResult:
    name: str
    accuracy: float
    correct: int
    total: int
    sections: dict[str, float] = field(default_factory=dict)
    questions: int = 0
    """Questions in the file; ``total`` of them had all four words in the vocabulary."""
    skipped: str | None = None
    """Why the set was not scored (too few questions in the vocabulary), else None."""

    @property
    def coverage(self) -> float:
        return self.total / self.questions if self.questions else 0.0


@dataclass
class PairsResult:
    name: str
    spearman: float
    pearson: float
    oov_percent: float
    pairs: int = 0
    skipped: str | None = None


@dataclass
class EvalReport:
    analogies: list[AnalogyResult] = field(default_factory=list)
    pairs: list[PairsResult] = field(default_factory=list)

    def to_dict(self) -> dict[str, Any]:
        return {"analogies": [asdict(a) for a in self.analogies], "pairs": [asdict(p) for p in self.pairs]}

    def summary(self) -> dict[str, float]:
        """``{name: score}`` of the scored sets: accuracy for analogies, Spearman for pairs."""
        out = {a.name: a.accuracy for a in self.analogies if a.skipped is None}
        out.update({p.name: p.spearman for p in self.pairs if p.skipped is None})
        return out


def resolve_eval_file(name: str, named: dict[str, str]) -> tuple[str, Path]:
    """Map a set name to its bundled file (gensim's or embed's), or accept a path."""
    if name in named:
        file = named[name]
        if file.startswith("gensim:"):
            from gensim.test.utils import datapath

            return name, Path(datapath(file[len("gensim:") :]))
        return name, DATA_DIR / file
    path = Path(name)
    if not path.is_file():
        raise FormatError(f"{name}: no such evaluation file; pass a path or one of {', '.join(named)}")
    return path.stem, path


def _read_lines(path: Path) -> list[str]:
    try:
        return path.read_text(encoding="utf-8").splitlines()
    except UnicodeDecodeError as exc:
        raise FormatError(f"{path}: not UTF-8 (byte {exc.start}); convert it, e.g. iconv -f latin1 -t utf-8") from None
    except OSError as exc:
        raise FormatError(f"{path}: cannot be read ({exc.strerror})") from None


def _upper_vocab(vectors: Vectors, limit: int | None) -> set[str]:
    n = len(vectors) if limit is None else min(limit, len(vectors))
    return {vectors.vocab[i].upper() for i in range(n)}  # gensim's case_insensitive rule


def _analogy_questions(path: Path) -> list[list[str]]:
    """``[a, b, c, d]`` per question of a Google-format file; FormatError on a malformed line."""
    questions = []
    for no, line in enumerate(_read_lines(path), 1):
        if line.startswith(":") or not line.strip():
            continue
        words = line.split()
        if len(words) != 4:
            raise FormatError(
                f"{path}:{no}: expected ': section' or 'a b c d' (4 words), found {len(words)} fields;"
                " is this an analogy file?"
            )
        questions.append([w.upper() for w in words])
    return questions


def _word_pairs(path: Path) -> list[tuple[str, str]]:
    """``(a, b)`` per scored pair of a ``word1<TAB>word2<TAB>score`` file (gensim skips '#' lines)."""
    pairs = []
    for no, line in enumerate(_read_lines(path), 1):
        if line.startswith("#") or not line.strip():
            continue
        parts = line.split("\t")
        try:
            a, b, score = parts
            float(score)
        except ValueError:
            raise FormatError(
                f"{path}:{no}: expected 'word1<TAB>word2<TAB>score', found {line[:60]!r}; is this a word-pair file?"
            ) from None
        pairs.append((a.upper(), b.upper()))
    return pairs


def evaluate_analogies(
    vectors: Vectors, name: str = "google", restrict_vocab: int = 30_000, kv: Any = None
) -> AnalogyResult:
    """Accuracy on a Google-format analogy file (``: section`` headers, ``a b c d`` lines).

    Only questions whose four words are among the ``restrict_vocab`` most frequent count
    (gensim's rule); fewer than :data:`MIN_COVERED` of them and the set is skipped.
    ``kv``: a gensim copy of ``vectors`` to reuse (:meth:`Vectors.to_gensim`); made when None.
    """
    label, path = resolve_eval_file(name, NAMED_ANALOGIES)
    questions = _analogy_questions(path)
    known = _upper_vocab(vectors, restrict_vocab)
    covered = sum(all(w in known for w in q) for q in questions)
    if covered < MIN_COVERED:
        why = f"{covered} of {len(questions)} questions in the vocabulary (fewer than {MIN_COVERED})"
        return AnalogyResult(label, 0.0, 0, covered, questions=len(questions), skipped=why)
    score, sections = (kv if kv is not None else vectors.to_gensim(limit=restrict_vocab)).evaluate_word_analogies(
        str(path), restrict_vocab=restrict_vocab, case_insensitive=True
    )
    total: dict[str, Any] = next(
        (s for s in sections if s["section"] == "Total accuracy"), {"correct": [], "incorrect": []}
    )
    correct, incorrect = len(total["correct"]), len(total["incorrect"])
    per_section = {
        s["section"]: len(s["correct"]) / max(1, len(s["correct"]) + len(s["incorrect"]))
        for s in sections
        if s["section"] != "Total accuracy"
    }
    return AnalogyResult(label, float(score), correct, correct + incorrect, per_section, questions=len(questions))


def evaluate_pairs(vectors: Vectors, name: str = "ws353", kv: Any = None) -> PairsResult:
    """Spearman (and Pearson) correlation on a ``word1<TAB>word2<TAB>score`` file.

    Fewer than :data:`MIN_COVERED` pairs with both words in the vocabulary: skipped.
    """
    label, path = resolve_eval_file(name, NAMED_PAIRS)
    pairs = _word_pairs(path)
    known = _upper_vocab(vectors, None)
    covered = sum(a in known and b in known for a, b in pairs)
    oov = 100.0 * (1 - covered / len(pairs)) if pairs else 100.0
    if covered < MIN_COVERED:
        why = f"{covered} of {len(pairs)} pairs in the vocabulary (fewer than {MIN_COVERED})"
        return PairsResult(label, 0.0, 0.0, oov, pairs=len(pairs), skipped=why)
    pearson, spearman, oov = (kv if kv is not None else vectors.to_gensim()).evaluate_word_pairs(
        str(path), restrict_vocab=len(vectors), case_insensitive=True
    )
    return PairsResult(label, _nan_to_zero(spearman[0]), _nan_to_zero(pearson[0]), float(oov), pairs=len(pairs))


def _nan_to_zero(x: float) -> float:
    x = float(x)
    return 0.0 if x != x else x


def language(vectors: Vectors) -> str:
    """``zh`` for a jieba-tokenized model or a vocabulary mostly of CJK words, else ``en``."""
    if vectors.tokenizer == "jieba":
        return "zh"
    top = [vectors.vocab[i] for i in range(min(1000, len(vectors)))]
    cjk = sum(any(unicodedata.name(ch, "").startswith("CJK UNIFIED") for ch in w) for w in top)
    return "zh" if top and cjk / len(top) > 0.5 else "en"


def default_sets(vectors: Vectors) -> tuple[tuple[str, ...], tuple[str, ...]]:
    """``(analogy sets, pair sets)`` for the model's language (:func:`language`)."""
    return DEFAULTS[language(vectors)]


def evaluate(
    vectors: Vectors,
    analogies: Sequence[str | os.PathLike[str]] | None = None,
    pairs: Sequence[str | os.PathLike[str]] | None = None,
    restrict_vocab: int = 30_000,
) -> EvalReport:
    """Run every analogy set and word-pair set named (or given by path).

    ``None`` means the defaults for the model's language (:func:`default_sets`): Google
    analogies, WS353 and SimLex-999 for English; CA8 and wordsim-240 for Chinese. An empty
    sequence runs no set of that kind.
    """
    # gensim logs every section at INFO; keep our own logs readable.
    logging.getLogger("gensim.models.keyedvectors").setLevel(logging.WARNING)
    default_analogies, default_pairs = default_sets(vectors)
    analogies = default_analogies if analogies is None else analogies
    pairs = default_pairs if pairs is None else pairs
    report = EvalReport()
    kv = vectors.to_gensim() if pairs else None  # one copy for every set (gensim answers them)
    for a in analogies:
        report.analogies.append(evaluate_analogies(vectors, str(a), restrict_vocab, kv))
    for p in pairs:
        report.pairs.append(evaluate_pairs(vectors, str(p), kv))
    return report
