"""``embed index`` (FAISS index, plus exact neighbour tables for small vocabularies) and ``embed serve``."""

from __future__ import annotations

import json
import os
import time
from collections.abc import Callable
from pathlib import Path

import click

from embed import cli_options as opt
from embed.errors import ConfigError, FormatError


@click.command()
@click.argument("model")
@opt.choice_option(
    "--kind", choices=["flat", "hnsw", "ivf"], default="hnsw", help="Approximate index (flat: none, exact scans only)."
)
@opt.choice_option(
    "--metric",
    choices=["cosine", "euclidean"],
    default="cosine",
    help="Metric of the approximate index and of the exact tables.",
)
@opt.choice_option(
    "--tables",
    choices=["auto", "on", "off"],
    default="auto",
    help="Exact all-pairs top-k tables (cost grows as vocab^2): auto builds them up to 200,000 words.",
)
@opt.count_option(
    "--k-max",
    default=100,
    help="Neighbours per word in the exact tables; by-word queries up to this k are look-ups.",
)
@opt.count_option("--hnsw-m", default=32, min=2)
@opt.count_option("--ef-construction", default=80)
@opt.count_option(
    "--ef-search", default=128, help="HNSW search breadth (recall vs speed; stored in index.json, read at load)."
)
@click.option("--nlist", type=click.IntRange(min=1), default=None, help="IVF lists [default: 4*sqrt(vocab)].")
@opt.count_option("--nprobe", default=16)
@opt.threads_option("torch/FAISS threads while building.")
@opt.quiet_option()
def index(model: str, quiet: bool, **opts: object) -> None:
    """Build the similarity index of MODEL (a model directory, or a vectors file: its cached import);
    writes MODEL/index/."""
    from embed.cli_vectors import open_model
    from embed.index import IndexConfig, build_index, check_index_writable, save_index
    from embed.io import load
    from embed.runtime import configure_threads

    config = IndexConfig(**opts)  # type: ignore[arg-type]
    configure_threads(config.threads, "index")
    if not Path(model).exists():
        raise FormatError(
            f"{model}: not a model directory; 'embed index' writes into a directory made by 'embed train' "
            "or 'embed import'"
        )
    folder = open_model(model, quiet)
    check_index_writable(folder)
    vectors = load(folder)
    started = time.perf_counter()
    bar = _StageBar(disable=quiet)
    try:
        built = build_index(vectors, config, progress=bar)
    finally:
        bar.close()
    out = save_index(built, folder)
    t = built.info["timings"]
    tables = (
        f"exact top-{config.k_max} {config.metric} table ({t[f'table_{config.metric}_seconds']}s)"
        if built.tables
        else "no exact tables (by-word queries use the ANN index)"
    )
    click.echo(
        f"wrote {out}: {config.kind} ({config.metric}) over {len(vectors):,} words x {vectors.dim} dims, "
        f"{tables}; {time.perf_counter() - started:.1f}s (ann {t['ann_seconds']}s)"
    )


class _StageBar:
    """One tqdm bar per build stage (table, ANN inserts), with rate and ETA."""

    def __init__(self, disable: bool) -> None:
        self.disable, self.bar, self.stage = disable, None, ""

    def __call__(self, stage: str, done: int, total: int) -> None:
        from tqdm import tqdm

        if stage != self.stage:
            self.close()
            self.stage = stage
            self.bar = tqdm(
                total=total,
                unit="w",
                unit_scale=True,
                desc=stage,
                disable=self.disable,
                dynamic_ncols=True,
                mininterval=0.5,
            )
        assert self.bar is not None
        self.bar.update(done - self.bar.n)

    def close(self) -> None:
        if self.bar is not None:
            self.bar.close()
            self.bar = None


def _parse_dirs(
    specs: tuple[str, ...], what: str, made_by: str, check: Callable[[Path], object], files: bool = False
) -> dict[str, str]:
    """``DIR`` or ``NAME=DIR`` -> {name: absolute dir}; ``check`` validates each directory (raises FormatError).

    With ``files``, a vectors file is accepted too: it is imported (once) into the cache and its
    directory served, named after the file (``cc.en.300.vec.gz`` -> ``cc``... use NAME=FILE to choose).
    """
    found: dict[str, str] = {}
    for spec in specs:
        name, sep, path = spec.partition("=")
        if not sep:
            name, path = Path(spec).resolve().name, spec
            if files and Path(spec).is_file():
                name = Path(spec).name.split(".")[0]
        if not name or "/" in name:
            raise ConfigError(f"{spec}: {what} name must be non-empty and without '/'; use NAME=DIR")
        if name in found:
            raise ConfigError(f"{spec}: two {what}s named {name!r}; name them with NAME=DIR")
        if files and Path(path).is_file():
            from embed.cli_vectors import open_model

            path = str(open_model(path))
        if not Path(path).is_dir():
            also = " or vectors files" if files else ""
            raise FormatError(f"{path}: not a {what} directory; pass directories made by '{made_by}'{also}")
        check(Path(path))
        found[name] = str(Path(path).resolve())
    return found


@click.command()
@click.argument("models", nargs=-1)
@click.option(
    "--classifier",
    "classifiers",
    multiple=True,
    metavar="[NAME=]DIR",
    help="A classifier directory from 'embed classify train' (repeatable); served at /v1/classifiers/NAME/predict.",
)
@click.option("--host", default="127.0.0.1", show_default=True)
@click.option("--port", type=click.IntRange(0, 65535), default=8000, show_default=True)
@opt.workers_option("Worker processes (one per core).")
@opt.threads_option("BLAS/OpenMP/FAISS threads per worker.", default=1)
@opt.flag_option("--access-log", help="Log every request (costs throughput).")
@opt.choice_option("--log-level", choices=["critical", "error", "warning", "info", "debug"], default="info")
@opt.choice_option(
    "--log-format",
    choices=["text", "json"],
    default="text",
    help=(
        "json: one JSON object a line with its request id; with --access-log, each request's method, path, status, "
        "bytes and duration_ms."
    ),
)
def serve(
    models: tuple[str, ...],
    classifiers: tuple[str, ...],
    host: str,
    port: int,
    workers: int,
    threads: int,
    access_log: bool,
    log_level: str,
    log_format: str,
) -> None:
    """Serve MODELS (model directories or vectors files, or NAME=PATH) and --classifier directories over HTTP.

    A vectors file (word2vec, fastText .vec, GloVe) is imported once into the cache
    (``$EMBED_CACHE``, default ``~/.cache/embed``) and served memory-mapped from there.

    Set EMBED_API_KEY to require a key on /v1 (X-API-Key or Authorization: Bearer).
    """
    import uvicorn

    from embed.runtime import worker_environment
    from embed.tmp import serving_marker

    workers_env = worker_environment(threads)
    # Its wait policy first: with --workers 1 this process serves, and the classifier check below loads torch.
    os.environ["OMP_WAIT_POLICY"] = workers_env["OMP_WAIT_POLICY"]
    from embed.classify.io import read_classifier_meta
    from embed.io import read_meta

    if not models and not classifiers:
        raise ConfigError("nothing to serve: give at least one model directory or --classifier DIR")
    os.environ["EMBED_MODELS"] = json.dumps(_parse_dirs(models, "model", "embed train", read_meta, files=True))
    os.environ["EMBED_CLASSIFIERS"] = json.dumps(
        _parse_dirs(classifiers, "classifier", "embed classify train", read_classifier_meta)
    )
    os.environ["EMBED_THREADS"] = str(threads)
    os.environ["EMBED_LOG_FORMAT"] = log_format
    json_access = access_log and log_format == "json"  # the service's JSON records replace uvicorn's text line
    os.environ["EMBED_ACCESS_LOG"] = "1" if json_access else "0"
    os.environ.update(workers_env)  # read by the worker processes before numpy and faiss start their thread pools
    try:
        uvicorn.run(
            "service.app:create_app",
            factory=True,
            host=host,
            port=port,
            workers=workers,
            access_log=access_log and not json_access,
            log_level=log_level,
            timeout_graceful_shutdown=30,
        )
    finally:  # the workers' "a sibling has loaded" marker (service/workers.py) names this process, the supervisor
        serving_marker(os.getpid()).unlink(missing_ok=True)
