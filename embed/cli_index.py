"""``embed index`` (exact neighbour tables + FAISS index into a model directory) and ``embed serve``."""

from __future__ import annotations

import json
import os
import time
from collections.abc import Callable
from pathlib import Path

import click

from embed.errors import ConfigError, FormatError


@click.command()
@click.argument("model", type=click.Path(path_type=Path))
@click.option("--kind", type=click.Choice(["flat", "hnsw", "ivf"]), default="hnsw", show_default=True, help="Approximate index for vector/arithmetic queries with exact=false (flat: none).")
@click.option("--metric", type=click.Choice(["cosine", "euclidean"]), default="cosine", show_default=True, help="Metric of the approximate index (exact tables are built for both).")
@click.option("--k-max", type=click.IntRange(min=1), default=100, show_default=True, help="Neighbours per word in the exact tables; by-word queries up to this k are look-ups.")
@click.option("--hnsw-m", type=click.IntRange(min=2), default=32, show_default=True)
@click.option("--ef-construction", type=click.IntRange(min=1), default=80, show_default=True)
@click.option("--ef-search", type=click.IntRange(min=1), default=64, show_default=True)
@click.option("--nlist", type=click.IntRange(min=1), default=None, help="IVF lists [default: 4*sqrt(vocab)].")
@click.option("--nprobe", type=click.IntRange(min=1), default=16, show_default=True)
@click.option("--threads", type=click.IntRange(min=1), default=2, show_default=True, help="torch/FAISS threads while building.")
def index(model: Path, **opts: object) -> None:
    """Build the similarity index of MODEL (a model directory); writes MODEL/index/."""
    from embed.index import IndexConfig, build_index, save_index
    from embed.io import load, read_meta

    if not model.is_dir():
        raise FormatError(f"{model}: not a model directory; 'embed index' writes into a directory made by 'embed train'")
    read_meta(model)
    config = IndexConfig(**opts)  # type: ignore[arg-type]
    vectors = load(model)
    started = time.perf_counter()
    built = build_index(vectors, config)
    out = save_index(built, model)
    t = built.info["timings"]
    click.echo(
        f"wrote {out}: {config.kind} ({config.metric}) over {len(vectors):,} words x {vectors.dim} dims, "
        f"exact top-{config.k_max} tables for cosine and euclidean; {time.perf_counter() - started:.1f}s "
        f"(tables {t['table_cosine_seconds']}s + {t['table_euclidean_seconds']}s, ann {t['ann_seconds']}s)"
    )


def _parse_dirs(specs: tuple[str, ...], what: str, made_by: str, check: Callable[[Path], object]) -> dict[str, str]:
    """``DIR`` or ``NAME=DIR`` -> {name: absolute dir}; ``check`` validates each directory (raises FormatError)."""
    found: dict[str, str] = {}
    for spec in specs:
        name, sep, path = spec.partition("=")
        if not sep:
            name, path = Path(spec).resolve().name, spec
        if not name or "/" in name:
            raise ConfigError(f"{spec}: {what} name must be non-empty and without '/'; use NAME=DIR")
        if name in found:
            raise ConfigError(f"{spec}: two {what}s named {name!r}; name them with NAME=DIR")
        if not Path(path).is_dir():
            raise FormatError(f"{path}: not a {what} directory; pass directories made by '{made_by}'")
        check(Path(path))
        found[name] = str(Path(path).resolve())
    return found


@click.command()
@click.argument("models", nargs=-1)
@click.option("--classifier", "classifiers", multiple=True, metavar="[NAME=]DIR", help="A classifier directory from 'embed classify train' (repeatable); served at /v1/classifiers/NAME/predict.")
@click.option("--host", default="127.0.0.1", show_default=True)
@click.option("--port", type=click.IntRange(0, 65535), default=8000, show_default=True)
@click.option("--workers", type=click.IntRange(min=1), default=2, show_default=True, help="Worker processes (one per core).")
@click.option("--threads", type=click.IntRange(min=1), default=1, show_default=True, help="BLAS/OpenMP/FAISS threads per worker.")
@click.option("--access-log", is_flag=True, help="Log every request (costs throughput).")
@click.option("--log-level", type=click.Choice(["critical", "error", "warning", "info", "debug"]), default="info", show_default=True)
def serve(models: tuple[str, ...], classifiers: tuple[str, ...], host: str, port: int, workers: int, threads: int, access_log: bool, log_level: str) -> None:
    """Serve MODELS (model directories, or NAME=DIR) and --classifier directories over HTTP.

    Set EMBED_API_KEY to require a key on /v1 (X-API-Key or Authorization: Bearer).
    """
    import uvicorn

    from embed.classify.io import read_classifier_meta
    from embed.io import read_meta

    if not models and not classifiers:
        raise ConfigError("nothing to serve: give at least one model directory or --classifier DIR")
    os.environ["EMBED_MODELS"] = json.dumps(_parse_dirs(models, "model", "embed train", read_meta))
    os.environ["EMBED_CLASSIFIERS"] = json.dumps(_parse_dirs(classifiers, "classifier", "embed classify train", read_classifier_meta))
    os.environ["EMBED_THREADS"] = str(threads)
    # Worker processes read these before numpy/faiss start their thread pools.
    for var in ("OMP_NUM_THREADS", "OPENBLAS_NUM_THREADS", "MKL_NUM_THREADS"):
        os.environ[var] = str(threads)
    uvicorn.run(
        "service.app:create_app",
        factory=True,
        host=host,
        port=port,
        workers=workers,
        access_log=access_log,
        log_level=log_level,
        timeout_graceful_shutdown=30,
    )
