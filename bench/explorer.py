"""The explorer (issue 18): projection build times, the projection endpoint, and the page in headless Chromium.

    python -m bench.explorer                      # runs/zh (26,057 words), 10,000 points
    python -m bench.explorer --model runs/kjv --n 5000 --skip-build

1. ``embed project COPY --method M --dims 2 --n N --threads 2`` for PCA, t-SNE and UMAP, each in a
   fresh process: the figure printed by the command (the computation) and the process's wall time
   (imports and numba's JIT included). The model is copied to a temporary directory first.
2. ``GET /v1/models/NAME/projection?method=umap`` on a real uvicorn (tests/service/serving.py): the first
   answer after start (read from ``projections/``) and the median / p95 of 100 more (from memory).
3. Headless Chromium (``/usr/bin/chromium``, ``--disable-gpu``: WebGL in software, SwiftShader):
   ``window.embedExplorer.firstRenderMs`` (``performance.now()`` in the first frame after scatter-gl
   drew the cloud, so milliseconds since navigation start) over 5 loads of ``/?method=umap``; hover
   latency (mousemove event to scatter-gl's hover callback, and to the next painted frame) over 30
   points; click latency (pointerdown to the table filled and the neighbours lit, including the
   ``/similar`` round trip, and to the next frame) over 5 points.

Writes ``bench/out/explorer.json`` and prints a Markdown summary.
"""

from __future__ import annotations

import argparse
import json
import re
import shutil
import statistics
import subprocess
import tempfile
import time
from pathlib import Path
from typing import Any

from bench.common import OUT, ROOT, embed_command, machine, today

# Beyond the switches playwright passes itself (--headless, --no-sandbox, --no-first-run, --disable-sync,
# --disable-background-networking, --disable-component-update among them): WebGL in software, no QUIC.
CHROMIUM_ARGS = ["--disable-gpu", "--disable-quic"]


def launch_chromium(p: Any) -> Any:
    """Debian's Chromium (``/usr/bin/chromium``), headless, from a started ``sync_playwright()``."""
    return p.chromium.launch(executable_path="/usr/bin/chromium", args=CHROMIUM_ARGS)


def build_times(model: Path, n: int, methods: list[str]) -> dict[str, dict[str, float]]:
    out = {}
    for method in methods:
        started = time.perf_counter()
        r = subprocess.run(
            embed_command(
                "project", str(model), "--method", method, "--dims", "2", "--n", str(n), "--threads", "2", "--force"
            ),
            capture_output=True,
            text=True,
            check=True,
            cwd=ROOT,
        )
        wall = time.perf_counter() - started
        seconds = float(re.search(r"words: ([\d.]+)s", r.stdout).group(1))  # type: ignore[union-attr]
        out[method] = {"compute_s": seconds, "process_s": round(wall, 1)}
        print(f"  {method}: {seconds:.1f} s computing, {wall:.1f} s for the whole process", flush=True)
    return out


def endpoint_times(url: str, name: str, method: str) -> dict[str, float]:
    import httpx

    with httpx.Client(base_url=url, timeout=120) as client:
        t0 = time.perf_counter()
        first = client.get(f"/v1/models/{name}/projection", params={"method": method})
        first_ms = (time.perf_counter() - t0) * 1000
        assert first.status_code == 200, first.text
        times = []
        for _ in range(100):
            t0 = time.perf_counter()
            r = client.get(f"/v1/models/{name}/projection", params={"method": method})
            times.append((time.perf_counter() - t0) * 1000)
            assert r.headers["x-embed-cache"] == "memory"
    times.sort()
    return {
        "first_ms": round(first_ms, 1),
        "first_source": first.headers["x-embed-cache"],
        "median_ms": round(statistics.median(times), 2),
        "p95_ms": round(times[94], 2),
        "bytes": len(first.content),
    }


def page_times(url: str, name: str, method: str, n: int) -> dict[str, Any]:
    from playwright.sync_api import sync_playwright

    renders, hovers, hover_frames, clicks, click_frames = [], [], [], [], []
    with sync_playwright() as p:
        browser = launch_chromium(p)
        for _ in range(5):
            page = browser.new_page(viewport={"width": 1280, "height": 900})
            page.goto(f"{url}/?model={name}&method={method}")
            page.wait_for_function(
                "n => window.embedExplorer.points === n && window.embedExplorer.firstRenderMs !== null",
                arg=n,
                timeout=120_000,
            )
            renders.append(page.evaluate("window.embedExplorer.firstRenderMs"))
            page.close()
        page = browser.new_page(viewport={"width": 1280, "height": 900})
        page.goto(f"{url}/?model={name}&method={method}")
        page.wait_for_function("n => window.embedExplorer.points === n", arg=n, timeout=120_000)
        page.evaluate("""() => {
            const c = document.querySelector('#cloud');
            c.addEventListener('mousemove', (e) => (window.lastMove = e.timeStamp), true);
            window.addEventListener('pointerdown', (e) => (window.lastUp = e.timeStamp), true);
        }""")
        box = page.locator("#cloud").bounding_box()
        words = list(range(7, n, max(1, n // 40)))[:40]  # spread over frequency ranks
        # the words themselves: read from the projection the page drew
        drawn = page.evaluate(
            f"fetch('v1/models/{name}/projection?method={method}').then(r => r.json()).then(d => d.words)"
        )
        for i in words[:30]:
            w = drawn[i]
            pos = page.evaluate("w => window.embedExplorer.screenPos(w)", w)
            if not pos:
                continue
            page.mouse.move(box["x"] + 5, box["y"] + 5)  # off any point first
            page.mouse.move(box["x"] + pos[0], box["y"] + pos[1])
            try:
                page.wait_for_function(
                    "w => window.embedExplorer.hovered === w"
                    " && window.embedExplorer.hoverPaintAt > window.embedExplorer.hoverAt",
                    arg=w,
                    timeout=2000,
                )
            except Exception:  # a point hidden under a neighbour: scatter-gl picks the other one
                continue
            t = page.evaluate("[window.lastMove, window.embedExplorer.hoverAt, window.embedExplorer.hoverPaintAt]")
            hovers.append(t[1] - t[0])
            hover_frames.append(t[2] - t[0])
        for i in words[30:35]:
            w = drawn[i]
            pos = page.evaluate("w => window.embedExplorer.screenPos(w)", w)
            page.evaluate("() => (window.embedExplorer.litPaintAt = 0)")
            page.mouse.click(box["x"] + pos[0], box["y"] + pos[1])
            page.wait_for_function("() => window.embedExplorer.litPaintAt > 0", timeout=10_000)
            t = page.evaluate("[window.lastUp, window.embedExplorer.litAt, window.embedExplorer.litPaintAt]")
            clicks.append(t[1] - t[0])
            click_frames.append(t[2] - t[0])
        browser.close()

    def summary(xs: list[float]) -> dict[str, float]:
        xs = sorted(xs)
        return {"median_ms": round(statistics.median(xs), 1), "max_ms": round(xs[-1], 1), "count": len(xs)}

    return {
        "first_render": summary(renders),
        "hover": summary(hovers),
        "hover_to_frame": summary(hover_frames),
        "click": summary(clicks),
        "click_to_frame": summary(click_frames),
    }


def readme_shot(url: str, name: str, method: str, word: str, path: Path) -> None:
    """The README's picture: the cloud with ``word`` queried, its neighbours lit (1280 x 900 px)."""
    from playwright.sync_api import sync_playwright

    with sync_playwright() as p:
        browser = launch_chromium(p)
        page = browser.new_page(viewport={"width": 1280, "height": 900})
        page.goto(f"{url}/?model={name}&method={method}&word={word}")
        page.wait_for_function(
            "() => window.embedExplorer.lit.length > 0 && window.embedExplorer.points > 0", timeout=120_000
        )
        page.wait_for_timeout(500)
        page.screenshot(path=str(path))
        browser.close()
    print(f"  wrote {path}", flush=True)


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--model", type=Path, default=ROOT / "runs" / "zh")
    ap.add_argument("--n", type=int, default=10_000)
    ap.add_argument(
        "--skip-build", action="store_true", help="Only PCA and UMAP are built (UMAP is what the page loads)."
    )
    ap.add_argument(
        "--keep",
        type=Path,
        default=None,
        help="Copy the model into this folder and keep it: a second run reuses its projections.",
    )
    ap.add_argument(
        "--shot", type=Path, default=None, help="Also save the README's screenshot here (e.g. docs/explorer.png)."
    )
    ap.add_argument("--shot-word", default="诸葛亮", help="The query shown in that screenshot.")
    args = ap.parse_args()
    from tests.service.serving import run_server

    print(today(), machine(), flush=True)
    result: dict[str, Any] = {"date": today(), "machine": machine(), "model": str(args.model), "n": args.n}
    with tempfile.TemporaryDirectory() as tmp:
        model = (args.keep or Path(tmp)) / args.model.name
        if not model.exists():
            shutil.copytree(args.model, model, ignore=shutil.ignore_patterns("projections"))
        if args.keep is None or not (model / "projections").exists():
            print("building projections (embed project, 2 threads):", flush=True)
            result["build"] = build_times(
                model, args.n, ["pca", "umap"] if args.skip_build else ["pca", "tsne", "umap"]
            )
        with run_server({"zh" if args.model.name == "zh" else args.model.name: model}) as url:
            name = "zh" if args.model.name == "zh" else args.model.name
            result["endpoint"] = endpoint_times(url, name, "umap")
            print(f"  endpoint: {result['endpoint']}", flush=True)
            result["page"] = page_times(url, name, "umap", args.n)
            print(f"  page: {result['page']}", flush=True)
            if args.shot is not None:
                readme_shot(url, name, "umap", args.shot_word, args.shot)
    OUT.mkdir(parents=True, exist_ok=True)
    (OUT / "explorer.json").write_text(json.dumps(result, indent=2) + "\n")
    print(json.dumps(result, indent=2))


if __name__ == "__main__":
    main()
