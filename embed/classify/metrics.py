"""Classification metrics (scikit-learn): accuracy, macro-F1, per-class P/R/F1, confusion matrix."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import numpy as np


@dataclass
class Metrics:
    """Scores of predictions against gold labels.

    ``per_class[label]`` holds ``precision``, ``recall``, ``f1`` and ``support``;
    ``confusion[i][j]`` counts gold ``labels[i]`` predicted as ``labels[j]``.
    """

    accuracy: float
    macro_f1: float
    per_class: dict[str, dict[str, float]]
    confusion: list[list[int]]
    labels: list[str]
    n: int

    def to_dict(self) -> dict[str, Any]:
        return {
            "accuracy": self.accuracy,
            "macro_f1": self.macro_f1,
            "n": self.n,
            "labels": self.labels,
            "per_class": self.per_class,
            "confusion": self.confusion,
        }

    def format(self) -> str:
        """A plain-text report: totals, the per-class table and the confusion matrix."""
        width = max(8, *(len(lab) for lab in self.labels))
        lines = [
            f"accuracy {self.accuracy:.4f}  macro-F1 {self.macro_f1:.4f}  ({self.n} examples)",
            "",
            f"{'label':<{width}}  precision  recall  f1      support",
        ]
        for lab in self.labels:
            c = self.per_class[lab]
            lines.append(
                f"{lab:<{width}}  {c['precision']:.4f}     {c['recall']:.4f}  {c['f1']:.4f}  {int(c['support'])}"
            )
        lines += [
            "",
            "confusion (rows gold, columns predicted)",
            " " * width + "  " + "  ".join(f"{lab:>7}" for lab in self.labels),
        ]
        for lab, row in zip(self.labels, self.confusion, strict=False):
            lines.append(f"{lab:<{width}}  " + "  ".join(f"{v:>7}" for v in row))
        return "\n".join(lines)


def score(gold: np.ndarray, pred: np.ndarray, labels: list[str]) -> Metrics:
    """Score integer class ids ``gold`` and ``pred`` (both ``(n,)``) over ``labels``."""
    from sklearn.metrics import accuracy_score, confusion_matrix, f1_score, precision_recall_fscore_support

    ids = list(range(len(labels)))
    p, r, f, s = precision_recall_fscore_support(gold, pred, labels=ids, zero_division=0)
    per_class = {
        lab: {"precision": float(p[i]), "recall": float(r[i]), "f1": float(f[i]), "support": int(s[i])}
        for i, lab in enumerate(labels)
    }
    return Metrics(
        accuracy=float(accuracy_score(gold, pred)),
        macro_f1=float(f1_score(gold, pred, labels=ids, average="macro", zero_division=0)),
        per_class=per_class,
        confusion=confusion_matrix(gold, pred, labels=ids).tolist(),
        labels=list(labels),
        n=int(len(gold)),
    )
