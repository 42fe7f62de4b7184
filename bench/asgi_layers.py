"""What each ASGI layer of the service costs per by-word table answer, in process (no sockets, no uvicorn).

    python -m bench.asgi_layers [--requests 3000] [--rounds 5] [--model-dir /tmp/embed-bench/synth100k]

Builds ``create_app`` over the synthetic 100,000-word model of ``bench/serve.py`` (with its index and
exact tables), then calls the ASGI app directly with one prebuilt request (``{"word": ..., "k": 10}``)
``--requests`` times per configuration: every layer, then the outermost layers removed one by one
(``app.user_middleware`` before the stack is built), down to the fast path alone. Medians of
``--rounds`` interleaved rounds, microseconds per request; the differences are each layer's cost.
The fast path answers every request here (a table look-up), as it does for by-word queries in service.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import statistics
import time
from pathlib import Path
from typing import Any

from bench.common import OUT, machine, today
from bench.serving import ensure_model

BODY = b'{"word": "w000200", "k": 10}'


def _app(model: Path, drop: int) -> Any:
    from service.app import create_app
    from service.settings import Settings

    app = create_app(Settings(models={"synth": model}))
    app.state.registry.load_all()
    # user_middleware is outermost first; drop the first ``drop`` layers
    names = [m.cls.__name__ for m in app.user_middleware]  # type: ignore[attr-defined]
    del app.user_middleware[:drop]
    return app, names[drop:]


async def _time(app: Any, n: int) -> float:
    scope = {
        "type": "http",
        "asgi": {"version": "3.0"},
        "http_version": "1.1",
        "method": "POST",
        "scheme": "http",
        "path": "/v1/models/synth/similar",
        "raw_path": b"/v1/models/synth/similar",
        "query_string": b"",
        "root_path": "",
        "headers": [
            (b"content-type", b"application/json"),
            (b"content-length", str(len(BODY)).encode()),
            (b"host", b"x"),
        ],
        "client": ("127.0.0.1", 1),
        "server": ("127.0.0.1", 80),
    }
    status = []

    async def receive() -> dict[str, Any]:
        return {"type": "http.request", "body": BODY, "more_body": False}

    async def send(message: dict[str, Any]) -> None:
        if message["type"] == "http.response.start":
            status.append(message["status"])

    await app(dict(scope), receive, send)  # builds the middleware stack once
    started = time.perf_counter()
    for _ in range(n):
        await app(dict(scope), receive, send)
    elapsed = time.perf_counter() - started
    assert set(status) == {200}, set(status)
    return elapsed / n * 1e6


def main(argv: list[str] | None = None) -> None:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--model-dir", type=Path, default=Path("/tmp/embed-bench/synth100k"))
    p.add_argument("--requests", type=int, default=3000)
    p.add_argument("--rounds", type=int, default=5)
    p.add_argument("--out", type=Path, default=OUT / "asgi_layers.json")
    args = p.parse_args(argv)
    model = ensure_model(args.model_dir)
    apps = [_app(model, drop) for drop in range(6)]  # 6 layers: all of them .. only the metrics inside the fast path
    timings: list[list[float]] = [[] for _ in apps]
    for _ in range(args.rounds):
        for i, (app, _) in enumerate(apps):
            timings[i].append(asyncio.run(_time(app, args.requests)))
    rows = [
        {"layers": names, "us_per_request": round(statistics.median(t), 1)}
        for (_, names), t in zip(apps, timings, strict=False)
    ]
    print("| layers (outermost first) | us / request | this layer |\n|---|---|---|")
    for row, inner in zip(rows, rows[1:] + [None], strict=False):
        cost = f"{row['us_per_request'] - inner['us_per_request']:+.1f}" if inner else "-"
        print(f"| {' > '.join(row['layers'])} | {row['us_per_request']} | {cost} |")
    args.out.parent.mkdir(parents=True, exist_ok=True)
    args.out.write_text(
        json.dumps(
            {"date": today(), "machine": machine(), "requests": args.requests, "rounds": args.rounds, "rows": rows},
            indent=2,
        )
        + "\n"
    )


if __name__ == "__main__":
    main()
