"""``embed plot``: a labelled 2-D map of words."""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING

import click

from embed import cli_options as opt

if TYPE_CHECKING:
    from embed.maps import Method


@click.command()
@click.argument("model")
@click.argument("words", nargs=-1)
@click.option(
    "--top",
    type=click.IntRange(min=2),
    default=None,
    help="Map the N most frequent words [default: 100 when no WORDS are given].",
)
@opt.choice_option("--method", choices=["pca", "tsne"], default="pca", help="scikit-learn's PCA or t-SNE.")
@opt.path_option(
    "--out",
    default=Path("map.png"),
    show_default=True,
    help="Picture to write (.png, .svg or .pdf); replaced if it exists.",
)
@click.option("--title", default="", help="Title above the map [default: word count and method].")
@opt.seed_option("Seed for PCA/t-SNE.")
def plot(model: str, words: tuple[str, ...], top: int | None, method: Method, out: Path, title: str, seed: int) -> None:
    """Draw WORDS (or the --top N most frequent words) of MODEL on a labelled 2-D map."""
    from embed.io import load
    from embed.maps import check_output, plot_map, select_words

    check_output(out)  # fail on a bad --out before loading a large model
    vectors = load(model)
    chosen = select_words(vectors, words, top)
    plot_map(vectors, chosen, out, method=method, title=title, seed=seed)
    click.echo(f"wrote {out}: {len(chosen)} words, {method}")
