"""Intrinsic evaluation: analogy accuracy and word-pair Spearman correlation.

Built on gensim's ``evaluate_word_analogies`` / ``evaluate_word_pairs`` (SciPy's
Spearman). The named sets ``google``, ``ws353`` and ``simlex999`` are the files
gensim's wheel ships; any other file is given by path (Chinese ones included: the
files are read as UTF-8 and case-folded).
"""

from __future__ import annotations

import logging
import os
from collections.abc import Sequence
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

from embed.errors import FormatError

if TYPE_CHECKING:
    from embed.vectors import Vectors

logger = logging.getLogger(__name__)

NAMED_ANALOGIES = {"google": "questions-words.txt"}
NAMED_PAIRS = {"ws353": "wordsim353.tsv", "simlex999": "simlex999.txt"}


@dataclass
class AnalogyResult:
    name: str
    accuracy: float
    correct: int
    total: int
    sections: dict[str, float] = field(default_factory=dict)


@dataclass
class PairsResult:
    name: str
    spearman: float
    pearson: float
    oov_percent: float


@dataclass
class EvalReport:
    analogies: list[AnalogyResult] = field(default_factory=list)
    pairs: list[PairsResult] = field(default_factory=list)

    def to_dict(self) -> dict[str, Any]:
        return {"analogies": [asdict(a) for a in self.analogies], "pairs": [asdict(p) for p in self.pairs]}

    def summary(self) -> dict[str, float]:
        """``{name: score}``: accuracy for analogy sets, Spearman for pair sets."""
        out = {a.name: a.accuracy for a in self.analogies}
        out.update({p.name: p.spearman for p in self.pairs})
        return out


def resolve_eval_file(name: str, named: dict[str, str]) -> tuple[str, Path]:
    """Map a set name to gensim's bundled file, or accept a path."""
    if name in named:
        from gensim.test.utils import datapath

        return name, Path(datapath(named[name]))
    path = Path(name)
    if not path.is_file():
        raise FormatError(f"{name}: no such evaluation file; pass a path or one of {', '.join(named)}")
    return path.stem, path


def evaluate_analogies(vectors: "Vectors", name: str = "google", restrict_vocab: int = 30_000, kv: Any = None) -> AnalogyResult:
    """Accuracy on a Google-format analogy file (``: section`` headers, ``a b c d`` lines).

    ``kv``: a gensim copy of ``vectors`` to reuse (:meth:`Vectors.to_gensim`); made when None.
    """
    label, path = resolve_eval_file(name, NAMED_ANALOGIES)
    try:
        score, sections = (kv if kv is not None else vectors.to_gensim(limit=restrict_vocab)).evaluate_word_analogies(str(path), restrict_vocab=restrict_vocab, case_insensitive=True)
    except (ValueError, UnicodeDecodeError) as exc:
        raise FormatError(f"{path}: not an analogy file ({exc}); expected ': section' headers and 'a b c d' lines") from None
    total = next((s for s in sections if s["section"] == "Total accuracy"), {"correct": [], "incorrect": []})
    correct, incorrect = len(total["correct"]), len(total["incorrect"])
    per_section = {
        s["section"]: len(s["correct"]) / max(1, len(s["correct"]) + len(s["incorrect"]))
        for s in sections
        if s["section"] != "Total accuracy"
    }
    return AnalogyResult(label, float(score) if correct + incorrect else 0.0, correct, correct + incorrect, per_section)


def evaluate_pairs(vectors: "Vectors", name: str = "ws353", kv: Any = None) -> PairsResult:
    """Spearman (and Pearson) correlation on a ``word1<TAB>word2<TAB>score`` file."""
    label, path = resolve_eval_file(name, NAMED_PAIRS)
    try:
        pearson, spearman, oov = (kv if kv is not None else vectors.to_gensim()).evaluate_word_pairs(str(path), restrict_vocab=len(vectors), case_insensitive=True)
    except (ValueError, UnicodeDecodeError, IndexError) as exc:
        raise FormatError(f"{path}: not a word-pair file ({exc}); expected 'word1<TAB>word2<TAB>score' lines") from None
    return PairsResult(label, _nan_to_zero(spearman[0]), _nan_to_zero(pearson[0]), float(oov))


def _nan_to_zero(x: float) -> float:
    x = float(x)
    return 0.0 if x != x else x


def evaluate(
    vectors: "Vectors",
    analogies: Sequence[str | os.PathLike[str]] = ("google",),
    pairs: Sequence[str | os.PathLike[str]] = ("ws353", "simlex999"),
    restrict_vocab: int = 30_000,
) -> EvalReport:
    """Run every analogy set and word-pair set named (or given by path)."""
    # gensim logs every section at INFO; keep our own logs readable.
    logging.getLogger("gensim.models.keyedvectors").setLevel(logging.WARNING)
    report = EvalReport()
    kv = vectors.to_gensim() if pairs else None  # one copy for every set (gensim answers them)
    for a in analogies:
        report.analogies.append(evaluate_analogies(vectors, str(a), restrict_vocab, kv))
    for p in pairs:
        report.pairs.append(evaluate_pairs(vectors, str(p), kv))
    return report
