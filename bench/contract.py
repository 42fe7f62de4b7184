"""The API contract at fuzzing scale (issue 19): schemathesis, every check, against ``embed serve``.

    python -m bench.contract [--max-examples 100] [--model-dir /tmp/embed-bench/kjv-contract]

Trains (once) a small KJV model from ``corpora/kjv.txt`` (gensim, dim 50, 3 epochs) and indexes it
(HNSW + exact tables), serves it with a tiny classifier beside it, and runs the schemathesis CLI
with ``--checks all`` (status codes, response schemas, positive data accepted, negative data rejected,
stateful links) on every operation but the minute-long first t-SNE/UMAP projection (as
tests/service/test_service_ops.py). 413 counts as a valid answer (the body limit is in bytes, which a schema
cannot state). Prints schemathesis' summary and writes the counts to ``bench/out/contract.json``.
"""

from __future__ import annotations

import argparse
import json
import os
import re
import subprocess
import sys
import time
from pathlib import Path

from bench.common import OUT, ROOT, machine, today
from bench.serving import free_port, wait_up

# The served names, so that generated requests reach the query code rather than a 404 for an unknown model.
CONFIG = (
    '[parameters]\n"path.model" = "kjv"\n"path.classifier" = "tiny"\n'
    '[checks.positive_data_acceptance]\nexpected-statuses = ["2xx", "401", "403", "404", "409", "413", "429"]\n'
    "[checks.negative_data_rejection]\nexpected-statuses = "
    '["400", "401", "403", "404", "405", "406", "409", "413", "415", "422", "428", "429"]\n'
)


def ensure_models(root: Path) -> tuple[Path, Path]:
    """The KJV model (indexed) and a one-epoch classifier on the bundled testament labels."""
    model, clf = root / "kjv", root / "testament"
    embed = [sys.executable, "-m", "embed"]
    env = {**os.environ, "PYTHONPATH": str(ROOT)}
    if not (model / "index" / "index.json").exists():
        subprocess.run(
            [
                *embed,
                "train",
                str(ROOT / "corpora" / "kjv.txt"),
                "--out",
                str(model),
                "--dim",
                "50",
                "--epochs",
                "3",
                "--no-eval",
                "--quiet",
                "--overwrite",
            ],
            check=True,
            env=env,
        )
        subprocess.run([*embed, "index", str(model), "--quiet"], check=True, env=env)
    if not (clf / "meta.json").exists():
        labelled = ROOT / "corpora" / "labelled" / "kjv_testament.train.txt"
        subprocess.run(
            [
                *embed,
                "classify",
                "train",
                str(labelled),
                "--out",
                str(clf),
                "--vectors",
                str(model),
                "--epochs",
                "1",
                "--quiet",
                "--overwrite",
            ],
            check=True,
            env=env,
        )
    return model, clf


def main(argv: list[str] | None = None) -> None:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--model-dir", type=Path, default=Path("/tmp/embed-bench/kjv-contract"))
    p.add_argument("--max-examples", type=int, default=100)
    args = p.parse_args(argv)
    model, clf = ensure_models(args.model_dir)
    port = free_port()
    url = f"http://127.0.0.1:{port}"
    env = {**os.environ, "PYTHONPATH": str(ROOT), "EMBED_MAX_BODY_BYTES": "65536"}
    server = subprocess.Popen(
        [
            sys.executable,
            "-m",
            "embed",
            "serve",
            str(model),
            "--classifier",
            f"tiny={clf}",
            "--port",
            str(port),
            "--workers",
            "2",
            "--log-level",
            "warning",
        ],
        env=env,
        cwd=ROOT,
    )
    work = args.model_dir / "schemathesis"
    work.mkdir(parents=True, exist_ok=True)
    (work / "schemathesis.toml").write_text(CONFIG)
    try:
        wait_up(url, what="embed serve")
        started = time.perf_counter()
        cmd = [
            str(Path(sys.executable).with_name("schemathesis")),
            "--config-file",
            str(work / "schemathesis.toml"),
            "run",
            f"{url}/openapi.json",
            "--checks",
            "all",
            "--max-examples",
            str(args.max_examples),
            "--generation-deterministic",
            "--request-timeout",
            "30",
            "--exclude-path-regex",
            "/projection$",
        ]
        done = subprocess.run(cmd, capture_output=True, text=True, cwd=work, env={**os.environ, "NO_COLOR": "1"})
        seconds = time.perf_counter() - started
    finally:
        server.terminate()
        server.wait(60)
    out = done.stdout
    print(out[-4000:])
    generated = re.search(r"(\d+) generated", out)
    found = re.search(r"(\d+) found (\d+) unique failures", out)
    report = {
        "date": today(),
        "machine": machine(),
        "max_examples": args.max_examples,
        "exit_code": done.returncode,
        "seconds": round(seconds),
        "cases": int(generated.group(1)) if generated else None,
        "failures": int(found.group(2)) if found else 0,
        "summary": [ln.strip() for ln in out.splitlines() if re.match(r"\s*(✅|❌|⏭)", ln)][:12],
    }
    (OUT / "contract.json").write_text(json.dumps(report, indent=2, ensure_ascii=False) + "\n", encoding="utf-8")
    print(json.dumps({k: v for k, v in report.items() if k != "summary"}))
    sys.exit(done.returncode)


if __name__ == "__main__":
    main()
