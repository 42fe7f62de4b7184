"""Prometheus ``/metrics``: requests per route and status with latency histograms, and the served models.

Request metrics come from prometheus-fastapi-instrumentator, whose ASGI middleware ``create_app``
adds outside the fast path, so the ``/similar`` answers the fast path gives itself are counted
under their route like the others. Model metrics are read from the registry at scrape time.

Each uvicorn worker (``embed serve --workers N``) keeps its own numbers, and a scrape reaches
whichever worker accepts it; for whole-server numbers run one worker per port, or scrape often
and let Prometheus ``sum`` over the samples it gets.
"""

from __future__ import annotations

from collections.abc import Iterator

from fastapi import FastAPI
from prometheus_client import CollectorRegistry
from prometheus_client.core import GaugeMetricFamily, InfoMetricFamily, Metric
from prometheus_client.registry import Collector
from prometheus_fastapi_instrumentator import Instrumentator, metrics

from service.registry import Registry


# Seconds. A table look-up answers in ~50 us, a batch or a scan in milliseconds to seconds; the
# library's default buckets start at 5 ms and would put every fast-path answer in the first one.
LATENCY_BUCKETS = (0.0001, 0.00025, 0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0)


class ModelCollector(Collector):
    """``embed_model_vocab_size``, ``embed_model_load_seconds`` and ``embed_model_index_info`` per served model."""

    def __init__(self, registry: Registry) -> None:
        self.registry = registry

    def collect(self) -> Iterator[Metric]:
        vocab = GaugeMetricFamily("embed_model_vocab_size", "Words in the model's vocabulary.", labels=["model"])
        load = GaugeMetricFamily("embed_model_load_seconds", "Seconds spent opening and warming the model.", labels=["model"])
        index = InfoMetricFamily("embed_model_index", "The model's search index: kind (hnsw, ivf, none) and metric.", labels=["model"])
        for name, model in list(self.registry.models.items()):
            vocab.add_metric([name], model.info["vocab_size"])
            load.add_metric([name], model.load_seconds)
            info = model.info["index"]
            index.add_metric([name], {"kind": info["kind"] or "none", "metric": info["metric"]})
        yield from (vocab, load, index)


def instrument(app: FastAPI, registry: Registry) -> None:
    """Add the request-metrics middleware (outside those added before it) and the ``/metrics`` route.

    One CollectorRegistry per app, not prometheus-client's global one, so two apps in one process
    (tests) do not collide.
    """
    collectors = CollectorRegistry()
    collectors.register(ModelCollector(registry))
    instrumentator = Instrumentator(
        should_group_status_codes=False,  # 404 and 422 apart, not "4xx"
        should_ignore_untemplated=True,  # a scan of random paths adds no series
        excluded_handlers=["^/metrics$"],
        registry=collectors,
    )
    # Two metrics, not the library's default five (body-size summaries, a second histogram): on
    # 2026-12-01 the defaults took a fast-path answer from ~45 to ~150 us in process.
    instrumentator.add(
        metrics.requests(registry=collectors),
        metrics.latency(buckets=LATENCY_BUCKETS, registry=collectors),
    )
    instrumentator.instrument(app).expose(app, include_in_schema=False)
