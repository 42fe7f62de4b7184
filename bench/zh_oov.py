"""Neighbours of Chinese names a subword model never saw (issue 17): the bundled novels, jieba, n-grams 1-2.

    python -m bench.zh_oov [--workdir /tmp/embed-bench/zh-sub] [--backend torch]

Trains (once) ``embed train corpora/zh_novels --tokenizer jieba --subwords --minn 1 --maxn 2 --bucket 200000``
(skip-gram, dim 100, 5 epochs, 2 workers: the settings of the Chinese table in BENCHMARKS.md), then looks up
names of the novels' characters that are not in its vocabulary - aliases jieba keeps whole but that occur fewer
than 5 times (min-count), checked to be out of the vocabulary - and prints each one's top 5 neighbours and who
the name is. Writes ``bench/out/zh_oov.json``.
"""

from __future__ import annotations

import argparse
import json
import subprocess
from pathlib import Path

import embed
from bench.common import OUT, ROOT, embed_command, machine, today

# alias -> who it is (the in-vocabulary name a reader would expect near it)
NAMES = {
    "曹阿瞒": "曹操 (Cao Cao's childhood name)",
    "孔明先生": "诸葛亮 (Zhuge Liang, 'Mr Kongming')",
    "云长公": "关羽 (Guan Yu, courtesy name Yunchang)",
    "宝哥哥": "贾宝玉 (Jia Baoyu, as Daiyu calls him)",
    "鲁提辖": "鲁智深 (Lu Zhishen, 'Major Lu')",
    "武二郎": "武松 (Wu Song, 'Second Brother Wu')",
    "行者孙": "孙悟空 (Sun Wukong, an alias he gives himself)",
}


def main(argv: list[str] | None = None) -> None:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--workdir", type=Path, default=Path("/tmp/embed-bench/zh-sub"))
    p.add_argument("--backend", default="torch")
    args = p.parse_args(argv)
    model = args.workdir / args.backend
    if not (model / "meta.json").exists():
        cmd = [
            *("train", str(ROOT / "corpora" / "zh_novels"), "--tokenizer", "jieba", "--subwords"),
            *("--minn", "1", "--maxn", "2", "--bucket", "200000", "--epochs", "5", "--workers", "2"),
            *("--backend", args.backend, "--out", str(model), "--quiet", "--no-eval"),
        ]
        subprocess.run(embed_command(*cmd), check=True)
    v = embed.load(model)
    rows = []
    print(f"{today()}, {machine()}; model {model} ({len(v):,} words)\n")
    print("| name (not in the vocabulary) | who | top 5 neighbours (cosine) |\n|---|---|---|")
    for name, who in NAMES.items():
        assert name not in v and v.is_oov(name), f"{name} is in the vocabulary; pick another alias"
        top = v.most_similar(name, topn=5)
        rows.append({"name": name, "who": who, "neighbours": [[w, round(float(s), 3)] for w, s in top]})
        print(f"| {name} | {who} | {', '.join(f'{w} {s:.2f}' for w, s in top)} |")
    OUT.mkdir(parents=True, exist_ok=True)
    report = {"date": today(), "machine": machine(), "model": str(model), "backend": args.backend, "names": rows}
    (OUT / "zh_oov.json").write_text(json.dumps(report, ensure_ascii=False, indent=1) + "\n", encoding="utf-8")


if __name__ == "__main__":
    main()
