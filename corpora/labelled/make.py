"""Regenerate the small labelled sets in this folder from the bundled public-domain corpora.

    python corpora/labelled/make.py [OUT_DIR]      # default: this folder

Standard library only and seeded: the same inputs give byte-identical files (the tests
regenerate them into a temporary folder and compare).

* ``kjv_testament.{train,test}.txt`` - fastText lines ``__label__old <verse>`` /
  ``__label__new <verse>`` from ``corpora/kjv.txt`` (lines 1-23,145 are Genesis-Malachi,
  23,146-31,102 Matthew-Revelation), verses verbatim, the two classes equally sized.
* ``zh_novels.{train,test}.csv`` - ``text,novel`` rows from ``corpora/zh_novels/*.txt``:
  paragraphs stripped, chapter titles and the book-title line dropped, split into sentences
  on 。！？ and ． (红楼梦's
  full stop in many chapters; a closing quote stays with its sentence), consecutive sentences joined while
  the text stays within 100 characters; texts under 10 characters are skipped.

A text that occurs more than once (a repeated verse or refrain) or under two labels is
left out, so train and test never share a text. Exits 1 with a one-line message if a
corpus is missing or the testament boundary moved.
"""

from __future__ import annotations

import csv
import io
import random
import re
import sys
from collections import Counter
from pathlib import Path

HERE = Path(__file__).resolve().parent
CORPORA = HERE.parent
SEED = 16
KJV_NEW_TESTAMENT_LINE = 23146
"""First line of Matthew ("The book of the generation of Jesus Christ, ...") in kjv.txt."""
KJV_TRAIN, KJV_TEST = 1000, 300  # per testament
NOVELS = {
    "sanguo": "sanguo_yanyi.txt",
    "shuihu": "shuihu_zhuan.txt",
    "hongloumeng": "hongloumeng.txt",
    "xiyouji": "xiyouji.txt",
}
ZH_TRAIN, ZH_TEST = 300, 100  # per novel
ZH_MIN_CHARS, ZH_MAX_CHARS = 10, 100
_TITLE = re.compile(r"^(第[一二三四五六七八九十百零〇两\d]+回|《)")
_SENTENCE = re.compile(r"[^。！？．]*[。！？．]+[”’」』]*|[^。！？．]+$")


def sentences(paragraph: str) -> list[str]:
    """Sentences ending in 。！？ or ． (closing quotes kept with them); a tail without one is kept.

    >>> sentences("他道：“好！”便走了。余下")
    ['他道：“好！”', '便走了。', '余下']
    """
    return [s for s in _SENTENCE.findall(paragraph) if s.strip()]


def chunks(paragraph: str, limit: int = ZH_MAX_CHARS) -> list[str]:
    """Consecutive sentences joined while the text stays within ``limit`` characters;
    a single sentence over the limit is dropped.

    >>> chunks("一二三。四五。六七八九十。", limit=6)
    ['一二三。', '四五。', '六七八九十。']
    >>> chunks("一二。三四。", limit=6)
    ['一二。三四。']
    """
    out: list[str] = []
    current = ""
    for s in sentences(paragraph):
        if len(current) + len(s) <= limit:
            current += s
            continue
        if current:
            out.append(current)
        current = s if len(s) <= limit else ""
    if current:
        out.append(current)
    return out


def read_lines(path: Path) -> list[str]:
    if not path.is_file():
        sys.exit(f"{path}: missing; this script reads the corpora bundled in {CORPORA}")
    return path.read_text(encoding="utf-8").split("\n")


def unique_by_label(items: list[tuple[str, str]]) -> dict[str, list[str]]:
    """Texts by label, keeping only texts that occur exactly once in ``items`` (first-seen order)."""
    counts = Counter(text for _, text in items)
    out: dict[str, list[str]] = {}
    for label, text in items:
        if counts[text] == 1:
            out.setdefault(label, []).append(text)
    return out


def sample(
    by_label: dict[str, list[str]], n_train: int, n_test: int, rng: random.Random
) -> tuple[list[tuple[str, str]], list[tuple[str, str]]]:
    """Disjoint (label, text) samples, ``n_train`` and ``n_test`` per label, each set shuffled."""
    train, test = [], []
    for label, texts in by_label.items():
        if len(texts) < n_train + n_test:
            sys.exit(
                f"{label}: only {len(texts)} distinct texts, {n_train + n_test} needed; lower the sample sizes in"
                f" {Path(__file__).name}"
            )
        picked = rng.sample(texts, n_train + n_test)
        train += [(label, t) for t in picked[:n_train]]
        test += [(label, t) for t in picked[n_train:]]
    rng.shuffle(train)
    rng.shuffle(test)
    return train, test


def kjv(rng: random.Random, out: Path) -> None:
    verses = [v for v in read_lines(CORPORA / "kjv.txt") if v]
    if len(verses) != 31102 or not verses[KJV_NEW_TESTAMENT_LINE - 1].startswith(
        "The book of the generation of Jesus Christ"
    ):
        sys.exit(
            f"{CORPORA / 'kjv.txt'}: line {KJV_NEW_TESTAMENT_LINE} is not Matthew 1:1 (or not 31,102 verses);"
            " fix KJV_NEW_TESTAMENT_LINE"
        )
    items = [("old" if n < KJV_NEW_TESTAMENT_LINE else "new", v) for n, v in enumerate(verses, start=1)]
    train, test = sample(unique_by_label(items), KJV_TRAIN, KJV_TEST, rng)
    for name, rows in (("train", train), ("test", test)):
        (out / f"kjv_testament.{name}.txt").write_text(
            "".join(f"__label__{lab} {text}\n" for lab, text in rows), encoding="utf-8", newline="\n"
        )


def zh_novels(rng: random.Random, out: Path) -> None:
    items = []
    for label, file in NOVELS.items():
        for line in read_lines(CORPORA / "zh_novels" / file):
            paragraph = line.strip()
            if len(paragraph) < ZH_MIN_CHARS or _TITLE.match(paragraph):
                continue
            items += [(label, c) for c in chunks(paragraph) if len(c) >= ZH_MIN_CHARS]
    train, test = sample(unique_by_label(items), ZH_TRAIN, ZH_TEST, rng)
    for name, rows in (("train", train), ("test", test)):
        buf = io.StringIO(newline="")
        writer = csv.writer(buf, lineterminator="\n")
        writer.writerow(["text", "novel"])
        writer.writerows((text, label) for label, text in rows)
        (out / f"zh_novels.{name}.csv").write_text(buf.getvalue(), encoding="utf-8", newline="")


def main(argv: list[str]) -> None:
    if len(argv) > 1:
        sys.exit(f"usage: python {Path(__file__).name} [OUT_DIR]")
    out = Path(argv[0]) if argv else HERE
    if not out.is_dir():
        sys.exit(f"{out}: no such directory; create it or leave OUT_DIR out to write beside this script")
    kjv(random.Random(SEED), out)
    zh_novels(random.Random(SEED), out)


if __name__ == "__main__":
    main(sys.argv[1:])
