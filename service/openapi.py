"""The OpenAPI description as served: the request limits this deployment enforces, not the models' ceilings.

``SimilarBatch.queries`` and ``PredictRequest.texts`` allow up to 1,000 items in the pydantic
models, but a route answers 422 above ``EMBED_MAX_BATCH`` (default 256); ``VectorsRequest.words``
likewise above ``EMBED_MAX_WORDS``. The schema says the smaller number, so a client (or
schemathesis) reading it sends what is accepted. Likewise a raw ``vector`` must have the model's
dimension: when every served model has the same one, the schema says it (``minItems = maxItems``); and
the explorer's projections cover at most the smallest served vocabulary.
"""

from __future__ import annotations

from typing import Any

from fastapi import FastAPI
from fastapi.openapi.utils import get_openapi

from service.registry import Registry
from service.settings import Settings


def _limits(settings: Settings) -> dict[tuple[str, str], int]:
    """``(schema, property) -> maxItems`` for the lists a setting caps."""
    return {
        ("SimilarBatch", "queries"): settings.max_batch,
        ("PredictRequest", "texts"): settings.max_batch,
        ("VectorsRequest", "words"): settings.max_words,
    }


def _set_vector_dim(components: dict[str, Any], dim: int) -> None:
    for branch in components["SimilarQuery"]["properties"]["vector"].get("anyOf", ()):
        if branch.get("type") == "array":
            branch["minItems"] = branch["maxItems"] = dim
    components["SimilarQuery"]["properties"]["vector"]["description"] = (
        f"A raw vector of the model's dimension ({dim})."
    )


def _projection_sizes(schema: dict[str, Any], components: dict[str, Any]) -> list[dict[str, Any]]:
    """The schemas of the explorer's ``n`` (GET query parameter and the custom projection's body field)."""
    found = []
    get = schema.get("paths", {}).get("/v1/models/{model}/projection", {}).get("get", {})
    for param in get.get("parameters", ()):
        if param.get("name") == "n":
            found += [
                b for b in param.get("schema", {}).get("anyOf", [param.get("schema", {})]) if b.get("type") == "integer"
            ]
    body = components.get("CustomProjectionRequest", {}).get("properties", {}).get("n", {})
    found += [b for b in body.get("anyOf", [body]) if b.get("type") == "integer"]
    return found


def install_openapi(app: FastAPI, settings: Settings, registry: Registry) -> None:
    """Serve a schema whose limits are the enforced ones (built on request, kept once the models are loaded)."""

    def openapi() -> dict[str, Any]:
        if app.openapi_schema is not None:
            return app.openapi_schema
        schema = get_openapi(title=app.title, version=app.version, summary=app.summary, routes=app.routes)
        components = schema.get("components", {}).get("schemas", {})
        for (name, prop), limit in _limits(settings).items():
            field = components.get(name, {}).get("properties", {}).get(prop)
            if field is not None:
                field["maxItems"] = min(field.get("maxItems", limit), limit)
        served = list(registry.models.values())
        if served:  # a projection of more words than a model has is refused: say so where every model can answer
            smallest = min(model.info["vocab_size"] for model in served)
            for where in _projection_sizes(schema, components):
                where["maximum"] = min(where.get("maximum", smallest), smallest)
        dims = {model.info["dim"] for model in served}
        if len(dims) == 1 and "SimilarQuery" in components:
            _set_vector_dim(components, dims.pop())
        if registry.ready:  # before that the dimension may still be unknown
            app.openapi_schema = schema
        return schema

    app.openapi = openapi  # type: ignore[method-assign]  # FastAPI's documented way to customise the schema
