"""Train the word vectors the classifier benchmarks use, with this project's own CLI.

English: enwiki extract + IMDB review text + nltk subset, tokenised the way Kim's
(2014) sentence files are (lower case, punctuation split off, clitics such as
``n't``/``'s`` as their own tokens), so that the classifier vocabulary matches.
Chinese: the four classic novels + ChnSentiCorp review text, segmented with jieba.

    python -m bench.classify_vectors en      # -> runs/vectors_en (CBOW, 300 dims)
    python -m bench.classify_vectors zh      # -> runs/vectors_zh (CBOW, 300 dims, jieba)
    python -m bench.classify_vectors en skipgram   # -> runs/vectors_en_skipgram

Cached corpora go to ``bench/out/``; vectors to ``runs/``. Both are git-ignored.
"""

from __future__ import annotations

import csv
import gzip
import json
import re
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path

DATA = Path(__file__).resolve().parents[1].parent / "shared" / "data"
OUT = Path(__file__).resolve().parent / "out"
RUNS = Path(__file__).resolve().parents[1] / "runs"

_CLITIC = re.compile(r"(n't|'s|'re|'ve|'d|'ll|'m)\b")
_TOKEN = re.compile(r"n't|'[a-z]+|[a-z0-9]+(?:-[a-z0-9]+)*|[,!?();:.]")
_TAG = re.compile(r"<[^>]+>")


def kim_tokens(text: str) -> str:
    """Lower-cased tokens as in Kim's sentence files.

    >>> kim_tokens("It's <br />not BAD, isn't it?")
    "it 's not bad , is n't it ?"
    """
    text = _CLITIC.sub(r" \1", _TAG.sub(" ", text.lower()))
    return " ".join(_TOKEN.findall(text))


def english_lines() -> Iterator[str]:
    with gzip.open(DATA / "en_corpus/enwiki_extract_2015/enwiki_AA_wiki00-99.txt.gz", "rt", encoding="utf-8") as fh:
        for line in fh:
            if not line.startswith("<"):
                yield line
    for split in ("train", "test"):
        with gzip.open(DATA / f"classify_en/imdb_large_movie_review/{split}.jsonl.gz", "rt", encoding="utf-8") as fh:
            for line in fh:
                yield json.loads(line)["text"]
    for path in sorted((DATA / "en_corpus/nltk_subset").glob("*.txt")):
        yield from path.read_text(encoding="utf-8", errors="replace").splitlines()


def chinese_lines() -> Iterator[str]:
    for path in sorted((DATA / "zh_corpus/four_classic_novels").glob("*.txt")):
        yield from path.read_text(encoding="utf-8").splitlines()
    with open(DATA / "classify_zh/chinese_nlp_corpus/ChnSentiCorp_htl_all.csv", encoding="utf-8", newline="") as fh:
        for row in csv.DictReader(fh):
            yield row["review"]


def build(lang: str) -> Path:
    OUT.mkdir(parents=True, exist_ok=True)
    path = OUT / f"corpus_{lang}.txt"
    if not path.exists():
        tmp = path.with_suffix(".part")
        with open(tmp, "w", encoding="utf-8") as out:
            if lang == "en":
                for line in english_lines():
                    toks = kim_tokens(line)
                    if toks:
                        out.write(toks + "\n")
            else:
                for line in chinese_lines():
                    if line.strip():
                        out.write(line.strip() + "\n")
        tmp.rename(path)
    return path


def vectors_dir(lang: str, arch: str = "cbow") -> Path:
    """Where ``main(lang, arch)`` writes its vectors."""
    return RUNS / (f"vectors_{lang}" if arch == "cbow" else f"vectors_{lang}_{arch}")


def main(lang: str = "en", arch: str = "cbow", dim: int = 300) -> None:
    started = time.time()
    corpus = build(lang)
    print(f"corpus {corpus} ready after {time.time() - started:.0f} s", flush=True)
    tokenizer = "whitespace" if lang == "en" else "jieba"
    cmd = [
        sys.executable,
        "-m",
        "embed",
        "train",
        str(corpus),
        "--out",
        str(vectors_dir(lang, arch)),
        "--arch",
        arch,
        "--dim",
        str(dim),
        "--min-count",
        "3" if lang == "zh" else "5",
        "--epochs",
        "5",
        "--workers",
        "2",
        "--tokenizer",
        tokenizer,
        "--no-eval",
        "--overwrite",
        "--quiet",
        "--show",
        "",
    ]
    print(" ".join(cmd), flush=True)
    subprocess.run(cmd, check=True)
    print(f"done in {time.time() - started:.0f} s", flush=True)


if __name__ == "__main__":
    main(*(sys.argv[1:3] or ["en"]))
