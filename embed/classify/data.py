"""Labelled sentence data: readers with format detection, splits and CV folds.

Formats (``fmt``):

* ``fasttext`` - ``__label__pos some text``;
* ``tsv`` - ``label<TAB>text`` (one TAB);
* ``csv`` - a header row; the text and label columns are named (or guessed:
  ``text``/``review``/``sentence`` and ``label``/``class``);
* ``jsonl`` - one object per line with ``text`` and ``label`` (names configurable);
* ``kim`` - ``label text`` as in Kim (2014)'s MR/SST files.

One label per example: multi-label training is not supported, so a line that carries
several (``__label__a __label__b text``, a ``a,b``/``a;b``/``a|b`` label, a JSON list, a
second TAB, fastText prefixes in another format) is refused with its line number rather
than trained on its first label or on ``"a,b"`` as a class of its own. Labels may hold
spaces (``very negative``).

Files are decoded as UTF-8 unless another ``encoding`` is named (MR's ``rt-polarity.all``
is cp1252: ``--encoding cp1252``). A byte that is not valid UTF-8 becomes U+FFFD and the
count is logged; a file where more than a fifth of the lines hold such bytes is refused,
since it is most likely in another encoding. Text is split on ``\\n`` only:
``str.splitlines`` would also break at U+0085.
"""

from __future__ import annotations

import codecs
import csv
import io
import json
import logging
import os
import re
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from embed.errors import FormatError

logger = logging.getLogger(__name__)

FORMATS: tuple[str, ...] = ("auto", "fasttext", "tsv", "csv", "jsonl", "kim")
_TEXT_COLUMNS = ("text", "review", "sentence", "content")
_LABEL_COLUMNS = ("label", "class", "category", "sentiment")
_KIM_LINE = re.compile(r"^(\S+) (.*)$")
_LABEL_SEPARATORS = re.compile(r"[,;|]")
_ONE_LABEL = "keep one label per example: multi-label training is not supported"
MAX_UNDECODABLE_LINES = 0.2
"""A UTF-8 read refuses a file where more than this share of the non-blank lines hold invalid bytes."""
_ESCAPED = re.compile("[\udc80-\udcff]")


@dataclass
class Dataset:
    """Texts with their labels (``labels[i]`` is the label name of ``texts[i]``)."""

    texts: list[str]
    labels: list[str]
    source: str = ""

    def __len__(self) -> int:
        return len(self.texts)

    def subset(self, idx: np.ndarray | list[int]) -> Dataset:
        return Dataset([self.texts[i] for i in idx], [self.labels[i] for i in idx], self.source)


def check_encoding(encoding: str) -> str:
    """``encoding`` if Python knows the codec.

    >>> check_encoding("cp1252")
    'cp1252'

    Raises:
        FormatError: an unknown codec name.
    """
    try:
        codecs.lookup(encoding)
    except LookupError:
        raise FormatError(
            f"unknown encoding {encoding!r}; pass --encoding with a codec name such as utf-8, cp1252 or gbk"
        ) from None
    return encoding


def decode(raw: bytes, encoding: str = "utf-8", source: str = "<data>") -> str:
    """The text of ``raw`` (a UTF-8 BOM is dropped).

    As UTF-8, each invalid byte becomes U+FFFD and the count is logged as a warning; any
    other ``encoding`` must decode the whole file.

    >>> decode(b"caf\\xc3\\xa9\\nok\\xff\\n1\\n2\\n3\\n4\\n")
    'café\\nok\\ufffd\\n1\\n2\\n3\\n4\\n'
    >>> decode(b"caf\\xe9", "cp1252")
    'café'

    Raises:
        FormatError: more than :data:`MAX_UNDECODABLE_LINES` of the lines are not UTF-8, the
            bytes are not valid ``encoding``, or the codec is unknown.
    """
    if codecs.lookup(check_encoding(encoding)).name != "utf-8":
        try:
            return raw.decode(encoding)
        except UnicodeDecodeError as exc:
            raise FormatError(
                f"{source}: byte {exc.start} (0x{raw[exc.start]:02x}) is not valid {encoding}; pass the file's "
                "--encoding (e.g. utf-8, cp1252 or gbk)"
            ) from None
    # surrogateescape maps each invalid byte to one lone surrogate, and valid UTF-8 never
    # yields one, so counting and replacing them is exact and needs no global error handler.
    text = raw.decode("utf-8-sig", errors="surrogateescape")
    bad_bytes = len(_ESCAPED.findall(text))
    if not bad_bytes:
        return text
    lines = [line for line in text.split("\n") if line.strip()]
    bad_lines = sum(1 for line in lines if _ESCAPED.search(line))
    if bad_lines > MAX_UNDECODABLE_LINES * len(lines):
        raise FormatError(
            f"{source}: {bad_lines} of {len(lines)} lines are not valid UTF-8; pass --encoding with the file's "
            "encoding (e.g. cp1252 or gbk)"
        )
    logger.warning(
        "%s: %d byte(s) were not valid UTF-8 and were replaced with U+FFFD; pass --encoding if the file has another "
        "encoding (e.g. cp1252)",
        source,
        bad_bytes,
    )
    return _ESCAPED.sub("\ufffd", text)


def read_text(path: str | os.PathLike[str], encoding: str = "utf-8") -> str:
    """The decoded content of a file (``-`` is standard input); see :func:`decode`.

    Raises:
        FormatError: the file does not exist, or it cannot be decoded (:func:`decode`).
    """
    import sys

    if str(path) == "-":
        return decode(sys.stdin.buffer.read(), encoding, "<stdin>")
    p = Path(path)
    if not p.is_file():
        raise FormatError(f"{path}: no such file; pass a labelled data file")
    return decode(p.read_bytes(), encoding, str(path))


def numbered_lines(text: str) -> list[tuple[int, str]]:
    """``(line number, line)`` of the non-blank lines, split on ``\\n`` only, ``\\r`` stripped.

    >>> numbered_lines("a\\x85b\\r\\n\\nc")
    [(1, 'a\\x85b'), (3, 'c')]
    """
    return [(i, line.rstrip("\r")) for i, line in enumerate(text.split("\n"), start=1) if line.strip()]


def detect_format(path: Path, first: str) -> str:
    """Guess the format from the extension and the first non-empty line.

    >>> detect_format(Path("x.txt"), "__label__pos great film")
    'fasttext'
    >>> detect_format(Path("x.txt"), "1 a stirring , funny film")
    'kim'
    """
    suffix = path.suffix.lower()
    if suffix == ".csv":
        return "csv"
    if suffix in (".jsonl", ".json", ".ndjson") or first.lstrip().startswith("{"):
        return "jsonl"
    if first.startswith("__label__"):
        return "fasttext"
    if "\t" in first:
        return "tsv"
    if _KIM_LINE.match(first):
        return "kim"
    raise FormatError(
        f"{path}: cannot tell the format from the first line {first[:60]!r}; pass --format fasttext|tsv|csv|jsonl|kim"
    )


def read_dataset(
    path: str | os.PathLike[str],
    fmt: str = "auto",
    text_column: str | None = None,
    label_column: str | None = None,
    require_labels: bool = True,
    encoding: str = "utf-8",
) -> Dataset:
    """Read a labelled data file in ``encoding`` (:func:`decode`).

    Raises:
        FormatError: missing/empty file, a file that is not in ``encoding`` (or mostly not
            UTF-8), unknown format, a line without a label or text,
            a CSV/JSONL field that is absent, or an example with several labels.
    """
    path = Path(path)
    text = read_text(path, encoding)
    lines = numbered_lines(text)
    if not lines:
        raise FormatError(f"{path}: holds no examples; pass a file with one labelled text per line")
    if fmt not in FORMATS:
        raise FormatError(f"unknown data format {fmt!r}; choose one of {', '.join(FORMATS)}")
    if fmt == "auto":
        fmt = detect_format(path, lines[0][1])
    if fmt == "csv":
        pairs = _read_csv(path, text, text_column, label_column)
    elif fmt == "jsonl":
        pairs = _read_jsonl(path, lines, text_column or "text", label_column or "label")
    else:
        pairs = [_split_line(path, i, line, fmt) for i, line in lines]
    if require_labels:
        for n, (label, _) in enumerate(pairs, start=1):
            if not label:
                raise FormatError(f"{path}: example {n} has no label; every example needs one ({fmt} format)")
    if not pairs:
        raise FormatError(f"{path}: holds no examples (only a header?)")
    return Dataset([t for _, t in pairs], [lab for lab, _ in pairs], str(path))


def _split_line(path: Path, lineno: int, line: str, fmt: str) -> tuple[str, str]:
    if fmt == "fasttext":
        if not line.startswith("__label__"):
            raise FormatError(f"{path}:{lineno}: no __label__ prefix; every line needs '__label__X text'")
        labels, words = [], line.split()
        while words and words[0].startswith("__label__"):
            labels.append(words.pop(0))
        if len(labels) > 1:
            shown = " ".join(labels[:5]) + (" ..." if len(labels) > 5 else "")
            raise FormatError(
                f"{path}:{lineno}: {len(labels)} labels ({shown}); keep one __label__ per line: multi-label training "
                "is not supported"
            )
        return labels[0][len("__label__") :], " ".join(words)
    if fmt == "tsv":
        tabs = line.count("\t")
        if tabs > 1:
            raise FormatError(
                f"{path}:{lineno}: {tabs} TABs; 'label<TAB>text' has one ({_ONE_LABEL}; replace TABs inside the text "
                "with spaces)"
            )
        label, sep, text = line.partition("\t")
        if not sep:
            raise FormatError(f"{path}:{lineno}: no TAB; every line needs 'label<TAB>text'")
        return check_label(f"{path}:{lineno}", label.strip()), text
    m = _KIM_LINE.match(line)
    if m is None:
        raise FormatError(f"{path}:{lineno}: expected 'label text', got {line[:60]!r}")
    return check_label(f"{path}:{lineno}", m.group(1)), m.group(2)


def check_label(where: str, label: str) -> str:
    """``label`` if it names one class (spaces allowed); every reader but fastText's calls it.

    >>> check_label("x.tsv:1", "very negative")
    'very negative'

    Raises:
        FormatError: it looks like several labels (``a,b``, ``a;b``, ``a|b``) or a fastText
            prefix (``__label__a``).
    """
    if "__label__" in label:
        raise FormatError(f"{where}: label {label[:60]!r} looks like fastText's; pass --format fasttext ({_ONE_LABEL})")
    if _LABEL_SEPARATORS.search(label):
        raise FormatError(
            f"{where}: label {label[:60]!r} looks like several labels; {_ONE_LABEL} (rename the class if it is one)"
        )
    return label


def _pick(path: Path, header: list[str], wanted: str | None, guesses: tuple[str, ...], what: str) -> int:
    lowered = [h.strip().lower() for h in header]
    if wanted is not None:
        if wanted.lower() not in lowered:
            raise FormatError(
                f"{path}: no column {wanted!r} in the header {header}; pass --{what}-column with one of them"
            )
        return lowered.index(wanted.lower())
    for g in guesses:
        if g in lowered:
            return lowered.index(g)
    raise FormatError(f"{path}: cannot tell the {what} column from the header {header}; pass --{what}-column")


def _read_csv(path: Path, text: str, text_col: str | None, label_col: str | None) -> list[tuple[str, str]]:
    rows = [row for row in csv.reader(io.StringIO(text, newline="")) if row]
    header = rows[0]
    ti = _pick(path, header, text_col, _TEXT_COLUMNS, "text")
    li = _pick(path, header, label_col, _LABEL_COLUMNS, "label")
    out = []
    for n, row in enumerate(rows[1:], start=2):
        if len(row) <= max(ti, li):
            raise FormatError(
                f"{path}: row {n} has {len(row)} fields, the header has {len(header)}; fix or quote that row"
            )
        out.append((check_label(f"{path}: row {n}", row[li].strip()), row[ti]))
    return out


def _read_jsonl(path: Path, lines: list[tuple[int, str]], text_key: str, label_key: str) -> list[tuple[str, str]]:
    out = []
    for n, line in lines:
        try:
            obj = json.loads(line)
        except json.JSONDecodeError as exc:
            raise FormatError(f"{path}:{n}: not valid JSON ({exc.msg}); one object per line is expected") from None
        if not isinstance(obj, dict) or text_key not in obj:
            raise FormatError(f"{path}:{n}: no {text_key!r} field; pass --text-column to name it")
        label = obj.get(label_key)
        if isinstance(label, (list, dict)):
            kind = "list" if isinstance(label, list) else "JSON object"
            raise FormatError(
                f"{path}:{n}: label {json.dumps(label, ensure_ascii=False)[:60]} is a {kind}; {_ONE_LABEL}"
            )
        out.append(("" if label is None else check_label(f"{path}:{n}", str(label)), str(obj[text_key])))
    return out


def sorted_labels(labels: list[str]) -> list[str]:
    """Distinct labels, numerically when they are all integers.

    >>> sorted_labels(["10", "2", "2", "1"])
    ['1', '2', '10']
    """
    distinct = set(labels)
    if all(re.fullmatch(r"-?\d+", lab) for lab in distinct):
        return sorted(distinct, key=int)
    return sorted(distinct)


def dev_split(n: int, fraction: float, seed: int) -> tuple[np.ndarray, np.ndarray]:
    """Shuffled (train, dev) index arrays; dev holds ``round(n * fraction)`` items (>= 1)."""
    perm = np.random.default_rng(seed).permutation(n)
    n_dev = max(1, int(round(n * fraction)))
    return np.sort(perm[n_dev:]), np.sort(perm[:n_dev])


def cv_folds(labels: list[str], k: int, seed: int) -> list[tuple[np.ndarray, np.ndarray]]:
    """Stratified ``k``-fold (train, test) index pairs, shuffled with ``seed``."""
    from sklearn.model_selection import StratifiedKFold

    skf = StratifiedKFold(n_splits=k, shuffle=True, random_state=seed)
    return list(skf.split(np.zeros(len(labels)), labels))


def fixed_split(n: int, fractions: tuple[float, float, float], seed: int) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """A seeded (train, dev, test) split, e.g. ``(0.8, 0.1, 0.1)``."""
    perm = np.random.default_rng(seed).permutation(n)
    a = int(round(n * fractions[0]))
    b = a + int(round(n * fractions[1]))
    return np.sort(perm[:a]), np.sort(perm[a:b]), np.sort(perm[b:])
