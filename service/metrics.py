"""Prometheus ``/metrics``: requests per route and status with latency histograms, and the served models.

Request metrics: ``http_requests_total`` and ``http_request_duration_seconds`` per route, method and
status (:class:`RequestMetrics`). prometheus-fastapi-instrumentator records FastAPI's answers into
them from a middleware just outside the routes; the fast path records its own answers into the same
two metrics. The library's middleware outside the fast path cost ~70 us of a ~45 us table answer
(in process, 2026-12-01), so it sits inside. A 413 from the body limit (outside both) is not counted.
Model metrics are read from the registry at scrape time.

Each uvicorn worker (``embed serve --workers N``) keeps its own numbers, and a scrape reaches
whichever worker accepts it; for whole-server numbers run one worker per port, or scrape often
and let Prometheus ``sum`` over the samples it gets.
"""

from __future__ import annotations

from collections.abc import Iterator

from fastapi import FastAPI
from prometheus_client import CollectorRegistry, Counter, Histogram
from prometheus_client.core import GaugeMetricFamily, InfoMetricFamily, Metric
from prometheus_client.registry import Collector
from prometheus_fastapi_instrumentator import Instrumentator
from prometheus_fastapi_instrumentator.metrics import Info

from service.registry import Registry

# Seconds. A table look-up answers in ~50 us, a batch or a scan in milliseconds to seconds; the
# library's default buckets start at 5 ms and would put every fast-path answer in the first one.
LATENCY_BUCKETS = (
    0.0001,
    0.00025,
    0.0005,
    0.001,
    0.0025,
    0.005,
    0.01,
    0.025,
    0.05,
    0.1,
    0.25,
    0.5,
    1.0,
    2.5,
    5.0,
    10.0,
)


class ModelCollector(Collector):
    """``embed_model_vocab_size``, ``embed_model_load_seconds`` and ``embed_model_index_info`` per served model."""

    def __init__(self, registry: Registry) -> None:
        self.registry = registry

    def collect(self) -> Iterator[Metric]:
        vocab = GaugeMetricFamily("embed_model_vocab_size", "Words in the model's vocabulary.", labels=["model"])
        load = GaugeMetricFamily(
            "embed_model_load_seconds", "Seconds spent opening and warming the model.", labels=["model"]
        )
        index = InfoMetricFamily(
            "embed_model_index", "The model's search index: kind (hnsw, ivf, none) and metric.", labels=["model"]
        )
        for name, model in list(self.registry.models.items()):
            vocab.add_metric([name], model.info["vocab_size"])
            load.add_metric([name], model.load_seconds)
            info = model.info["index"]
            index.add_metric([name], {"kind": info["kind"] or "none", "metric": info["metric"]})
        yield from (vocab, load, index)


class RequestMetrics:
    """The two request metrics; called by the instrumentator per FastAPI answer, and by the fast path."""

    def __init__(self, collectors: CollectorRegistry) -> None:
        labels = ["handler", "method", "status"]
        self.requests = Counter(
            "http_requests_total", "Requests answered, by route, method and status.", labels, registry=collectors
        )
        self.latency = Histogram(
            "http_request_duration_seconds",
            "Seconds to answer, by route, method and status.",
            labels,
            buckets=LATENCY_BUCKETS,
            registry=collectors,
        )

    def observe(self, handler: str, method: str, status: str, seconds: float) -> None:
        self.requests.labels(handler, method, status).inc()
        self.latency.labels(handler, method, status).observe(seconds)

    def __call__(self, info: Info) -> None:
        self.observe(info.modified_handler, info.method, info.modified_status, info.modified_duration)


def instrument(app: FastAPI, registry: Registry) -> RequestMetrics:
    """Add the request-metrics middleware (outside the middleware added before it) and ``/metrics``.

    One CollectorRegistry per app, not prometheus-client's global one, so two apps in one process
    (tests) do not collide. Returns the metrics for the fast path to record into.
    """
    collectors = CollectorRegistry()
    collectors.register(ModelCollector(registry))
    request_metrics = RequestMetrics(collectors)
    instrumentator = Instrumentator(
        should_group_status_codes=False,  # 404 and 422 apart, not "4xx"
        should_ignore_untemplated=True,  # a scan of random paths adds no series
        excluded_handlers=["^/metrics$"],
        registry=collectors,
    )
    instrumentator.add(request_metrics)
    instrumentator.instrument(app).expose(app, include_in_schema=False)
    return request_metrics
