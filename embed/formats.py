"""Streaming readers of word-vector files: word2vec binary, word2vec text (fastText ``.vec``), GloVe.

Each may be plain, ``.gz`` or ``.bz2`` (by file name suffix). :class:`VectorFileReader` yields
``(words, rows)`` batches, rows float32 of shape (len(words), dim), never the whole matrix::

    with VectorFileReader("wiki.vec.gz", progress=bar.update_to) as reader:
        for words, rows in reader:
            ...
        print(reader.report.messages())

Binary records are ``word + b" " + dim float32 (little-endian) [+ b"\\n"]``; the file is read in
large chunks and scanned with ``bytearray.find`` plus one buffer copy per record (see
``_scan``). Text rows are parsed a batch at a time (:mod:`embed.formats_text`).
"""

from __future__ import annotations

import contextlib
import os
import re
from collections.abc import Callable, Generator, Iterator
from dataclasses import dataclass
from types import TracebackType

import numpy as np

from embed.errors import ConfigError, EmbedError, FormatError
from embed.formats_text import MAX_DIM, Source, TextLines, glove_dim_or_fail, looks_like_text, new_words, parse_lines

FORMATS = ("word2vec-bin", "word2vec-txt", "glove")
MAX_ROWS = 2**40
CHUNK_BYTES = 32 * 2**20  # read size; 16-64 MiB all measure alike
MAX_WORD_BYTES = 16 * 2**10  # a word longer than this means misaligned records
MAX_LINE_BYTES = 8 * 2**20  # the first line (a GloVe row of up to MAX_DIM values)
BATCH_BYTES = 256 * 2**20  # batches are cut to this many matrix bytes, whatever batch_rows says
BLAME_BYTES = 64 * 2**20  # decompressed bytes read past a format error to look for a stream error
_HEADER = re.compile(rb"\s*(\d+)\s+(\d+)\s*")
_CONTROL = bytes(range(32)) + b"\x7f"


def _n(count: int, one: str, many: str) -> str:
    return f"{count} {one if count == 1 else many}"


@dataclass
class ReadReport:
    """What a read met that was not an error; filled while iterating."""

    path: str
    format: str  # one of FORMATS
    dim: int
    header_rows: int | None  # the row count the header claims (None for glove)
    rows: int = 0  # rows yielded (after dropping duplicates)
    # Later rows whose word was seen already are dropped and the first kept, as gensim's
    # load_word2vec_format does (it logs "duplicate word ... ignoring all but first").
    duplicates: int = 0
    decode_errors: int = 0  # words that were not valid UTF-8 (decoded with errors="replace")
    nonfinite: int = 0  # rows holding NaN/inf (only counted when allowed)

    def messages(self) -> list[str]:
        """Human lines for the non-zero counters, e.g. ``["3 duplicate words dropped (...)"]``."""
        out = []
        if self.duplicates:
            out.append(
                _n(self.duplicates, "duplicate word", "duplicate words") + " dropped (the first row of each kept)"
            )
        if self.decode_errors:
            out.append(
                _n(self.decode_errors, "word was", "words were") + " not valid UTF-8 (bad bytes replaced by U+FFFD)"
            )
        if self.nonfinite:
            out.append(_n(self.nonfinite, "row holds", "rows hold") + " NaN or inf values (kept: allow_nonfinite)")
        return out


def detect_format(path: str | os.PathLike[str]) -> str:
    """The format of a vectors file, one of :data:`FORMATS`, from its first line and record.

    Raises:
        FormatError: the file is missing, empty or in none of the formats.
    """
    with VectorFileReader(path) as reader:
        return reader.format


class VectorFileReader:
    """One pass over a vectors file as ``(words, rows)`` batches; also a context manager.

    After ``__init__``: ``format``, ``dim``, ``header_rows`` (None for GloVe) and
    ``total_bytes`` (size on disk, for a progress bar) are known; ``report`` fills while
    iterating. ``limit=N`` stops after the first N rows of the file (counting duplicates,
    like gensim's ``limit``). ``chunk_bytes`` is the read size (tests make it tiny).

    Raises:
        FormatError: missing, unreadable or empty file, bad or huge header (dim > 100000,
            rows > 2**40), unrecognisable format; while iterating, every damage named in
            the messages (truncation, extra rows, misaligned records, NaN/inf, bad rows).
        ConfigError: an unknown ``format``, or ``limit``/``batch_rows`` below 1.
    """

    # Attributes first set in tuple assignments outside __init__, where they cannot be annotated.
    header_rows: int | None
    _seen: set[str]
    _words: list[str]
    _rows_at: list[int]
    _newline: bool | None

    def __init__(
        self,
        path: str | os.PathLike[str],
        *,
        format: str | None = None,
        limit: int | None = None,
        allow_nonfinite: bool = False,
        batch_rows: int = 65536,
        progress: Callable[[int], None] | None = None,
        chunk_bytes: int = CHUNK_BYTES,
    ) -> None:
        if format is not None and format not in FORMATS:
            raise ConfigError(
                f"format {format!r} is not one of {', '.join(FORMATS)}; pass one of them, or None to detect it"
            )
        if (limit is not None and limit < 1) or batch_rows < 1 or chunk_bytes < 1:
            raise ConfigError(f"limit={limit}, batch_rows={batch_rows}, chunk_bytes={chunk_bytes}: each must be >= 1")
        self.path, self.limit, self.allow_nonfinite = str(path), limit, allow_nonfinite
        self.progress, self.chunk_bytes, self._used = progress, chunk_bytes, False
        self._chunks: Generator[tuple[bytes, int], None, None] | None = None  # the read-ahead, while iterating
        self._src = Source(self.path)
        self.total_bytes = self._src.size
        opened = False
        try:
            self._read_header(format)
            opened = True
        except FormatError:
            self._src.blame_stream(BLAME_BYTES)
            raise
        finally:
            if not opened:
                self._src.close()
        # Cap batch memory: 4 bytes a value in the matrix, ~12 in a text row (held 3 times over while parsed).
        per_row = 4 * self.dim if self.format == "word2vec-bin" else 48 * self.dim
        self.batch_rows = max(1, min(batch_rows, BATCH_BYTES // per_row))
        self.report = ReadReport(self.path, self.format, self.dim, self.header_rows)

    def _read_header(self, format: str | None) -> None:
        """Set format, dim, header_rows and ``_pending`` (decompressed bytes read, not yet parsed)."""
        path, line = self.path, self._src.readline(MAX_LINE_BYTES)
        if not line:
            raise FormatError(f"{path}: is empty; expected a word2vec (binary or text) or GloVe vectors file")
        header = _HEADER.fullmatch(line)
        if header and format != "glove":
            rows, dim = int(header[1]), int(header[2])
            wrong = (
                f"row count {rows} exceeds 2**40"
                if rows > MAX_ROWS
                else f"dim {dim} exceeds the maximum {MAX_DIM}"
                if dim > MAX_DIM
                else "dim 0: a vector needs dim >= 1"
                if dim < 1
                else None
            )
            if wrong:
                raise FormatError(f"{path}: line 1: header {wrong}; the header is damaged or this is no vectors file")
            if rows == 0:
                raise FormatError(f"{path}: holds no vectors (header says 0 rows); use a file with at least one vector")
            self._pending = self._src.read(MAX_WORD_BYTES + 4 * dim + 1)  # the first record, to sniff
            if not self._pending.strip():
                raise FormatError(
                    f"{path}: holds no vectors after its header (header says {rows} rows); "
                    f"the file is incomplete — download it again"
                )
            if format is None:
                sp = self._pending.find(b" ", 0, MAX_WORD_BYTES)
                text = sp > 0 and looks_like_text(self._pending[sp + 1 :], dim)
                format = "word2vec-txt" if text else "word2vec-bin"
            self.format, self.dim, self.header_rows, self._first_line = format, dim, rows, 2
            return
        shown = line[:60].decode(errors="replace").strip()
        if header:
            raise FormatError(
                f"{path}: line 1 {shown!r} is a word2vec header, not a GloVe row; "
                f"pass format word2vec-txt or word2vec-bin, or leave format unset to detect it"
            )
        if format in ("word2vec-bin", "word2vec-txt"):
            raise FormatError(
                f"{path}: line 1 {shown!r} is not a word2vec header '<rows> <dim>'; "
                f"pass format glove if the file has no header, or leave format unset"
            )
        dim = glove_dim_or_fail(
            path,
            line,
            complete=line.endswith(b"\n") or len(line) < MAX_LINE_BYTES,
            compressed=self._src.kind is not None,
        )
        self.format, self.dim, self.header_rows, self._first_line = "glove", dim, None, 1
        self._pending = line

    def __iter__(self) -> Iterator[tuple[list[str], np.ndarray]]:
        """Yield ``(words, rows)``: rows float32, C-contiguous, shape (len(words), dim), at most
        ``batch_rows`` per batch. Calls ``progress(bytes_read_from_disk)`` after each chunk."""
        if self._used:
            raise EmbedError(f"{self.path}: a VectorFileReader reads its file once; open a new reader to read it again")
        self._used, self._seen = True, set()
        header = self.header_rows
        self._want = min(header, self.limit or header) if header is not None else (self.limit or MAX_ROWS)
        # A limit at or under the header's count is "read the first N rows", so what follows is not checked.
        self._check_rest = header is not None and (self.limit is None or self.limit > header)
        try:
            if self.format == "word2vec-bin":
                yield from self._iter_binary()
            else:
                yield from self._iter_text()
            self._tell(self._src.position())
        except FormatError:
            self._src.blame_stream(BLAME_BYTES)
            raise
        finally:
            self.close()

    def _tell(self, position: int) -> None:
        if self.progress is not None:
            self.progress(position)

    def _truncated(self, got: int) -> FormatError:
        n = self.header_rows
        return FormatError(
            f"{self.path}: truncated after {got} of {n} rows (header says {n}); the file is "
            f"incomplete — download it again" + (f", or pass --limit {got}" if got else "")
        )

    def _expect_end(
        self, rest: bytes | bytearray | memoryview, chunks: Iterator[tuple[bytes, int]], where: str
    ) -> None:
        """Only whitespace may follow the last row the header claims (checked up to EOF)."""
        n = self.header_rows
        while not bytes(rest).strip():
            rest = next(chunks)[0]
            if not rest:
                return
        raise FormatError(
            f"{self.path}: more data follows the {n} rows the header claims ({where}); the header's "
            f"row count is wrong — fix it, or pass --limit {n} to read just the first {n} rows"
        )

    def _finish(self, words: list[str], mat: np.ndarray, rows_at: list[int]) -> tuple[list[str], np.ndarray]:
        """Check a batch for NaN/inf and count it."""
        if mat.size and not np.isfinite(mat).all():
            bad = np.flatnonzero(~np.isfinite(mat).all(axis=1))
            if not self.allow_nonfinite:
                k = int(bad[0])
                where = (
                    f"row {rows_at[k]}"
                    if self.format == "word2vec-bin"
                    else f"line {rows_at[k] + self._first_line - 1} (row {rows_at[k]})"
                )
                raise FormatError(
                    f"{self.path}: {where}: word {words[k]!r} holds NaN or inf values; "
                    f"clean the file, or pass allow_nonfinite=True (CLI --allow-nonfinite) to accept them"
                )
            self.report.nonfinite += len(bad)
        self.report.rows += len(words)
        return words, mat

    def _iter_text(self) -> Iterator[tuple[list[str], np.ndarray]]:
        """Text rows: parse ``batch_rows`` complete lines at a time."""
        self._chunks = self._src.chunks(self.chunk_bytes)
        with contextlib.closing(self._chunks) as chunks:
            yield from self._text_rows(TextLines(chunks, self._pending, self._tell), chunks)

    def _text_rows(
        self, lines: TextLines, chunks: Iterator[tuple[bytes, int]]
    ) -> Iterator[tuple[list[str], np.ndarray]]:
        row = 0
        while row < self._want:
            batch = lines.take(min(self.batch_rows, self._want - row))
            if not batch:
                break
            raw, mat = parse_lines(batch, self.dim, row + self._first_line, self.path)
            words, keep, bad = new_words(raw, self._seen)
            self.report.decode_errors += bad
            self.report.duplicates += len(batch) - len(keep)
            if len(keep) < len(batch):
                mat = np.ascontiguousarray(mat[keep])
            yield self._finish(words, mat, [row + k + 1 for k in keep])
            row += len(batch)
        if row < self._want and self.header_rows is not None:
            raise self._truncated(row)
        if self._check_rest:
            self._expect_end(lines.rest(), chunks, f"from line {row + self._first_line}")

    def _iter_binary(self) -> Iterator[tuple[list[str], np.ndarray]]:
        """Binary records: refill one fixed buffer (records may span chunks) and scan it."""
        rec = MAX_WORD_BYTES + 4 * self.dim + 2  # leftover after a scan is shorter than this
        buf = bytearray(self.chunk_bytes + rec)
        n = len(self._pending)
        buf[:n] = self._pending
        self._pos, self._n, self._eof, self._row, self._newline = 0, n, False, 0, None
        self._new_batch()
        self._chunks = self._src.chunks(self.chunk_bytes)
        with contextlib.closing(self._chunks) as chunks:
            yield from self._binary_rows(buf, chunks)

    def _binary_rows(
        self, buf: bytearray, chunks: Iterator[tuple[bytes, int]]
    ) -> Iterator[tuple[list[str], np.ndarray]]:
        while self._row < self._want:
            if self._scan(buf):  # the batch is full
                yield self._finish(self._words, self._out, self._rows_at)
                self._new_batch()
                continue
            if self._eof:
                break
            data, at = next(chunks)
            self._tell(at)
            left = self._n - self._pos
            buf[:left] = buf[self._pos : self._n]
            buf[left : left + len(data)] = data
            self._pos, self._n, self._eof = 0, left + len(data), not data
        if self._words:
            r = len(self._words)
            yield self._finish(self._words, self._out[:r], self._rows_at)
        if self._row < self._want:
            raise self._truncated(self._row)
        if self._check_rest:
            self._expect_end(memoryview(buf)[self._pos : self._n], chunks, f"after row {self._row}")

    def _new_batch(self) -> None:
        self._words, self._rows_at = [], []
        self._out = np.empty((self.batch_rows, self.dim), dtype=np.float32)

    def _scan(self, buf: bytearray) -> bool:
        """Move complete records of ``buf[_pos:_n]`` into the batch; True when it is full.

        Misalignment checks, cheap and robust: word2vec.c ends each record with b"\\n". When
        the first record does (so its dim is right), every record must: a damaged record then
        fails at once, bar a 1/256 chance. Otherwise (gensim writes no newline; or the header
        dim is wrong) a misaligned record shows as a "word" holding float bytes, where a
        control byte (0x00-0x1f, 0x7f) comes up with p ~ 1/8 per stray byte, so a wrong dim
        fails within a few rows. That test is skipped in newline files, whose word2vec.c
        words may hold control bytes other than \\t\\n\\r.
        Leading b"\\n" is stripped from words, as gensim does.
        """
        pos, n, eof, row, want, rb = self._pos, self._n, self._eof, self._row, self._want, 4 * self.dim
        words, rows_at, seen, rep, find = self._words, self._rows_at, self._seen, self.report, buf.find
        out, mv, r, full = self._out.data.cast("B"), memoryview(buf), len(words), self.batch_rows
        newline = self._newline
        try:
            while row < want and r < full:
                lim = pos + MAX_WORD_BYTES
                sp = find(b" ", pos, lim if lim < n else n)
                end = sp + 1 + rb
                if sp < 0 or end > n or (end == n and not eof):
                    if sp < 0 and n - pos >= MAX_WORD_BYTES:
                        raise FormatError(
                            f"{self.path}: row {row + 1}: no space within {MAX_WORD_BYTES} bytes where a word "
                            f"should end; the records are misaligned (is the header dim {self.dim} right?) "
                            f"or the file is damaged — download it again"
                        )
                    return False  # need more data (or, at EOF, the file is truncated)
                if newline is None:
                    newline = self._newline = end < n and buf[end] == 10
                raw = buf[pos:sp] if buf[pos] != 10 else buf[pos:sp].lstrip(b"\n")
                try:
                    word = raw.decode()
                except UnicodeDecodeError:
                    word, rep.decode_errors = raw.decode(errors="replace"), rep.decode_errors + 1
                if newline:
                    if end < n and buf[end] != 10:
                        self._misaligned(row, word, f"the byte after its vector is {buf[end]:#04x}, not a newline")
                    pos = end + 1 if end < n else end
                else:
                    if not raw.isalnum() and (not raw or raw.translate(None, _CONTROL) != raw):
                        self._misaligned(row, word, "its word is empty or holds control bytes")
                    pos = end
                row += 1
                if word in seen:
                    rep.duplicates += 1
                    continue
                seen.add(word)
                words.append(word)
                rows_at.append(row)
                out[r * rb : (r + 1) * rb] = mv[sp + 1 : end]
                r += 1
            return r == full
        finally:
            self._pos, self._row = pos, row

    def _misaligned(self, row: int, word: str, what: str) -> None:
        raise FormatError(
            f"{self.path}: row {row + 1} (word {word[:24]!r}): {what}; the records are misaligned — the "
            f"header dim {self.dim} does not match the record layout, or the file is damaged"
        )

    def close(self) -> None:
        """Close the file (after the read-ahead thread's last read); iterating closes it too when done."""
        if self._chunks is not None:
            self._chunks.close()
        self._src.close()

    def __enter__(self) -> VectorFileReader:
        return self

    def __exit__(
        self, exc_type: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        self.close()
