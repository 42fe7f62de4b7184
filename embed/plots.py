"""Static pictures written next to a model (matplotlib, Agg backend, no display needed)."""

from __future__ import annotations

import os
from collections.abc import Sequence
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from embed.train.base import EpochStats


def plot_training(epochs: Sequence[EpochStats], path: str | os.PathLike[str], title: str = "") -> None:
    """Loss per epoch (left axis) and words/s per epoch (right axis) to a PNG."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    xs = [e.epoch + 1 for e in epochs]
    fig, ax = plt.subplots(figsize=(6.4, 4.0), dpi=100)
    ax.plot(xs, [e.loss for e in epochs], marker="o", color="tab:blue", label="loss")
    ax.set_xlabel("epoch")
    ax.set_ylabel("negative-sampling loss (probe mean)", color="tab:blue")
    ax.set_xticks(xs)
    ax2 = ax.twinx()
    ax2.bar(xs, [e.words_per_sec / 1000 for e in epochs], alpha=0.25, color="tab:orange", width=0.5)
    ax2.set_ylabel("thousand words/s", color="tab:orange")
    ax2.set_ylim(bottom=0)
    ax.set_zorder(ax2.get_zorder() + 1)
    ax.patch.set_visible(False)
    ax.set_title(title or "training loss and speed per epoch")
    fig.tight_layout()
    fig.savefig(path)
    plt.close(fig)
