"""``embed project``: compute the explorer's vocabulary clouds once and store them in the model directory."""

from __future__ import annotations

import click

from embed import cli_options as opt
from embed.project import DEFAULT_POINTS, MAX_POINTS, METHODS


@click.command("project")
@click.argument("model")
@click.option(
    "--method",
    "methods",
    type=click.Choice([*METHODS, "all"]),
    multiple=True,
    default=("all",),
    show_default=True,
    help="Projection (repeatable): PCA (scikit-learn), t-SNE (openTSNE), UMAP (umap-learn).",
)
@click.option(
    "--dims",
    "dims_list",
    type=click.Choice(["2", "3"]),
    multiple=True,
    default=("2", "3"),
    show_default=True,
    help="Dimensions (repeatable).",
)
@click.option(
    "--n",
    "n",
    type=click.IntRange(min=3, max=MAX_POINTS),
    default=None,
    help=f"The N most frequent words [default: {DEFAULT_POINTS:,}, or the whole vocabulary if smaller].",
)
@opt.threads_option("Threads for t-SNE and UMAP.")
@opt.flag_option("--force", help="Recompute even when a cached projection exists.")
def project(
    model: str, methods: tuple[str, ...], dims_list: tuple[str, ...], n: int | None, threads: int, force: bool
) -> None:
    """Project the most frequent words of MODEL to 2-D/3-D and store them in MODEL/projections.

    `embed serve` answers the page's cloud from these files (otherwise it computes a projection
    on first request: t-SNE and UMAP of 10,000 words take tens of seconds). Files are .npy + a
    versioned JSON header, each written atomically; no pickle.
    """
    from embed import project as proj
    from embed.cli_vectors import open_model
    from embed.io import load

    folder = open_model(model)
    vectors = load(folder)
    count = n if n is not None else min(DEFAULT_POINTS, len(vectors))
    chosen = METHODS if "all" in methods else tuple(dict.fromkeys(methods))
    for method in chosen:
        for dims in sorted({int(d) for d in dims_list}):
            proj.check_request(vectors, method, dims, count)
            cached = None if force else proj.load_cached(folder, vectors, method, dims, count)
            if cached is not None:
                click.echo(f"{method} {dims}-d, {count:,} words: cached ({cached.seconds:.1f}s when computed)")
                continue
            result = proj.compute(vectors, method, dims, count, threads=threads)
            header = proj.save(result, folder, vectors)
            click.echo(f"{method} {dims}-d, {count:,} words: {result.seconds:.1f}s, wrote {header.with_suffix('.npy')}")
