"""The explorer (issue 18): projection build times, the projection endpoint, and the page in headless Chromium.

    python -m bench.explorer                      # runs/zh (26,057 words), 10,000 points
    python -m bench.explorer --model runs/kjv --n 5000 --skip-build

1. ``embed project COPY --method M --dims 2 --n N --threads 2`` for PCA, t-SNE and UMAP, each in a
   fresh process: the figure printed by the command (the computation) and the process's wall time
   (imports and numba's JIT included). The model is copied to a temporary directory first.
2. ``GET /v1/models/NAME/projection?method=umap`` on a real uvicorn (tests/service/serving.py): the first
   answer after start (read from ``projections/``) and the median / p95 of 100 more (from memory).
3. Headless Chromium (``/usr/bin/chromium``, ``--disable-gpu``: WebGL in software, SwiftShader, and software
   compositing, which reads the WebGL canvas back in each frame that shows a redraw). Every figure ends
   "after the frame": in a task queued from the ``requestAnimationFrame`` that follows the change (cloud.js
   ``afterPaint``), i.e. once that frame's commit, and the wait for WebGL in it, is over. The figures in
   BENCHMARKS.md before 2026-12-01's second re-run ended in that callback itself, before the frame: shorter.

   * first render: ``window.embedExplorer.firstRenderMs`` (milliseconds since navigation start) over 5
     loads of ``/?method=umap``;
   * hover: :data:`HOVERS` points, each after the pointer left every point: the mousemove event to the
     page's hover callback, and to the painted frame showing the hovered word;
   * click: :data:`CLICKS` points, the pointer arriving and pressing in one go (no time for the hover to
     settle): pointerdown to the table filled and the query and its neighbours lit in the cloud (including
     the ``/similar`` round trip), and to the painted frame that shows them. Before the next click the
     bench waits for this one's follow-up (the ``/vectors`` map) and 150 ms, as a reader would.

   Each summary gives the median, the maximum, the count and how many took :data:`BAR_MS` or more;
   ``click_samples_ms`` lists every click's figure to the painted frame, in order. ``load_before`` and
   ``load_after`` are the 1/5/15-minute load averages.

Writes ``bench/out/explorer.json`` and prints a Markdown summary.
"""

from __future__ import annotations

import argparse
import json
import os
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


def endpoint_times(url: str, name: str, method: str) -> dict[str, Any]:
    import httpx

    with httpx.Client(base_url=url, timeout=120) as client:
        t0 = time.perf_counter()
        first = client.get(f"/v1/models/{name}/projection", params={"method": method})
        while first.status_code == 202:  # not in projections/: computed in the background (tens of seconds)
            time.sleep(int(first.headers["retry-after"]))
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


CLICKS = 30
HOVERS = 30
BAR_MS = 100.0


def _wait_explorer(page: Any, n: int) -> None:
    page.wait_for_function(
        "n => window.embedExplorer.points === n && window.embedExplorer.firstRenderMs !== null", arg=n, timeout=120_000
    )


def page_times(url: str, name: str, method: str, n: int) -> dict[str, Any]:
    """First render over 5 loads, then hover and click latency on one page (see the module docstring)."""
    from playwright.sync_api import sync_playwright

    renders, hovers, hover_frames, clicks, click_frames = [], [], [], [], []
    with sync_playwright() as p:
        browser = launch_chromium(p)
        for _ in range(5):
            page = browser.new_page(viewport={"width": 1280, "height": 900})
            page.goto(f"{url}/?model={name}&method={method}")
            _wait_explorer(page, n)
            renders.append(page.evaluate("window.embedExplorer.firstRenderMs"))
            page.close()
        page = browser.new_page(viewport={"width": 1280, "height": 900})
        page.goto(f"{url}/?model={name}&method={method}")
        _wait_explorer(page, n)
        page.evaluate("""() => {
            const c = document.querySelector('#cloud');
            c.addEventListener('mousemove', (e) => (window.lastMove = e.timeStamp), true);
            window.addEventListener('pointerdown', (e) => (window.lastDown = e.timeStamp), true);
        }""")
        box = page.locator("#cloud").bounding_box()
        ranks = list(range(7, n, max(1, n // (HOVERS + CLICKS))))  # spread over frequency ranks
        drawn = page.evaluate(  # the words themselves: read from the projection the page drew
            f"fetch('v1/models/{name}/projection?method={method}').then(r => r.json()).then(d => d.words)"
        )
        for i in ranks[:HOVERS]:
            pos = page.evaluate("w => window.embedExplorer.screenPos(w)", drawn[i])
            if not pos:
                continue
            page.mouse.move(box["x"] + 5, box["y"] + 5)  # off any point first
            page.wait_for_function("() => window.embedExplorer.hovered === null")
            page.mouse.move(box["x"] + pos[0], box["y"] + pos[1])
            # the word under the pointer: this one, or a neighbour drawn over it
            page.wait_for_function(
                "() => window.embedExplorer.hovered !== null && window.embedExplorer.hoverAt > window.lastMove"
                " && window.embedExplorer.hoverPaintAt > window.embedExplorer.hoverAt",
                timeout=5000,
            )
            t = page.evaluate("[window.lastMove, window.embedExplorer.hoverAt, window.embedExplorer.hoverPaintAt]")
            hovers.append(t[1] - t[0])
            hover_frames.append(t[2] - t[0])
        for i in ranks[HOVERS : HOVERS + CLICKS]:
            pos = page.evaluate("w => window.embedExplorer.screenPos(w)", drawn[i])
            if not pos:
                continue
            page.evaluate("() => (window.embedExplorer.litPaintAt = 0)")
            # one call: the pointer arrives on the point and presses at once (no time for the hover to settle)
            page.mouse.click(box["x"] + pos[0], box["y"] + pos[1])
            page.wait_for_function("() => window.embedExplorer.litPaintAt > 0", timeout=10_000)
            t = page.evaluate("[window.lastDown, window.embedExplorer.litAt, window.embedExplorer.litPaintAt]")
            clicks.append(t[1] - t[0])
            click_frames.append(t[2] - t[0])
            # before the next click, let this one finish what follows it (the /vectors map), as a reader would
            page.wait_for_function("() => window.embedExplorer.mapFor === window.embedExplorer.queryWord")
            page.wait_for_timeout(150)
        browser.close()

    def summary(xs: list[float]) -> dict[str, float]:
        xs = sorted(xs)
        return {
            "median_ms": round(statistics.median(xs), 1),
            "max_ms": round(xs[-1], 1),
            "count": len(xs),
            "over_100_ms": sum(x >= BAR_MS for x in xs),
        }

    return {
        "click_samples_ms": [round(x, 1) for x in click_frames],  # in click order: the slow ones, and when
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
    result["load_before"] = [round(x, 2) for x in os.getloadavg()]
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
    result["load_after"] = [round(x, 2) for x in os.getloadavg()]
    OUT.mkdir(parents=True, exist_ok=True)
    (OUT / "explorer.json").write_text(json.dumps(result, indent=2) + "\n")
    print(json.dumps(result, indent=2))


if __name__ == "__main__":
    main()
