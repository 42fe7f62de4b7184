"""Streaming corpus readers and tokenizers.

A :class:`Corpus` is a re-iterable stream of token lists (one per line of input),
read lazily from a file, a directory of files, ``.gz``/``.bz2`` files, or standard
input. The whole corpus is never held in memory.
"""

from __future__ import annotations

import bz2
import codecs
import gzip
import hashlib
import io
import logging
import os
import re
import shutil
import sys
import tempfile
import zlib
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import IO, Any, cast

from embed.errors import CorpusError

logger = logging.getLogger(__name__)

MAX_SENTENCE_LENGTH = 10_000
# A line longer than this many characters (a file without newlines) is read in pieces, cut at the
# last white space, rather than held whole: memory stays bounded whatever the file.
MAX_LINE_CHARS = 1 << 20
"""Lines longer than this many tokens are split into chunks (gensim silently truncates them)."""

_SNIFF_BYTES = 8192
_decode_errors = 0


def _count_and_replace(err: UnicodeDecodeError) -> tuple[str, int]:
    global _decode_errors
    _decode_errors += err.end - err.start
    return "\ufffd", err.end


# typeshed types a handler for any UnicodeError; this one is registered for decoding only.
codecs.register_error("embed-count-replace", cast("Callable[[UnicodeError], tuple[str, int]]", _count_and_replace))

# --- tokenizers ---------------------------------------------------------------------

_WORD = re.compile(r"\w+")


def tokenize_simple(line: str) -> list[str]:
    """Unicode-aware lower-cased words: runs of letters, digits or underscores.

    >>> tokenize_simple("The Quick, brown fox's Übergröße 42!")
    ['the', 'quick', 'brown', 'fox', 's', 'übergröße', '42']
    """
    return _WORD.findall(line.lower())


def tokenize_whitespace(line: str) -> list[str]:
    """Pre-tokenised text: split on whitespace, keep case and punctuation.

    >>> tokenize_whitespace("  a  b\\tc ")
    ['a', 'b', 'c']
    """
    return line.split()


_jieba_ready = False


def tokenize_jieba(line: str) -> list[str]:
    """Chinese word segmentation with jieba; punctuation and spaces are dropped, Latin lower-cased.

    >>> tokenize_jieba("我来到北京清华大学。")
    ['我', '来到', '北京', '清华大学']
    """
    global _jieba_ready
    import jieba

    if not _jieba_ready:
        _setup_jieba(jieba)
        _jieba_ready = True
    return [t.lower() for t in jieba.lcut(line) if any(ch.isalnum() for ch in t)]


_PARALLEL_BATCH = 2000


def _setup_jieba(jieba: Any) -> None:
    """Quiet jieba, and keep its dictionary cache in the user's cache directory.

    jieba's default cache is ``jieba.cache`` in the system temp directory, shared by every
    user: a file another user planted there would be loaded (it is marshal data). Ours is
    ``<embed cache>/jieba/`` (``$EMBED_CACHE``, ``$XDG_CACHE_HOME/embed`` or ``~/.cache/embed``).
    """
    from embed.importer import cache_root

    jieba.setLogLevel(logging.WARNING)
    folder = cache_root() / "jieba"
    try:
        folder.mkdir(parents=True, exist_ok=True)
        jieba.dt.tmp_dir = str(folder)
    except OSError:
        jieba.dt.cache_file = None  # unwritable cache: jieba builds its dictionary in memory each run
        jieba.dt.tmp_dir = None


def _init_jieba() -> None:
    import jieba

    _setup_jieba(jieba)
    jieba.initialize()


def _tokenize_batch(lines: list[str]) -> tuple[list[str], list[list[str]]]:
    """A worker's share: jieba over a batch of lines (the lines go back for the parent's stats)."""
    return lines, [tokenize_jieba(line) for line in lines]


def _batches(lines: Iterable[str], size: int) -> Iterator[list[str]]:
    batch: list[str] = []
    for line in lines:
        batch.append(line)
        if len(batch) == size:
            yield batch
            batch = []
    if batch:
        yield batch


TOKENIZERS: dict[str, Callable[[str], list[str]]] = {
    "simple": tokenize_simple,
    "whitespace": tokenize_whitespace,
    "jieba": tokenize_jieba,
}


def _bounded_lines(text: IO[str], limit: int = MAX_LINE_CHARS) -> Iterator[str]:
    """The lines of ``text``, a line over ``limit`` characters as several pieces cut at white space.

    >>> list(_bounded_lines(io.StringIO("ab cd ef\\ngh"), limit=4))
    ['ab ', 'cd ', 'ef\\n', 'gh']
    """
    carry = ""
    while True:
        piece = text.readline(limit)
        if not piece:
            if carry:
                yield carry
            return
        piece = carry + piece
        carry = ""
        if len(piece) >= limit and not piece.endswith("\n"):
            cut = max(piece.rfind(" "), piece.rfind("\t")) + 1  # 0: no white space (e.g. Chinese): cut anywhere
            if cut:
                piece, carry = piece[:cut], piece[cut:]
        yield piece


def get_tokenizer(name: str) -> Callable[[str], list[str]]:
    try:
        return TOKENIZERS[name]
    except KeyError:
        raise CorpusError(f"unknown tokenizer {name!r}; choose one of {', '.join(TOKENIZERS)}") from None


# --- sources ------------------------------------------------------------------------


def _open_binary(path: Path) -> gzip.GzipFile | bz2.BZ2File | io.BufferedReader:
    name = path.name.lower()
    if name.endswith(".gz"):
        return gzip.open(path, "rb")
    if name.endswith(".bz2"):
        return bz2.open(path, "rb")
    return open(path, "rb")


def _sniff(path: Path) -> bytes:
    """First bytes of the (decompressed) file; raises CorpusError if it can't be read."""
    try:
        with _open_binary(path) as fh:
            return fh.read(_SNIFF_BYTES)
    except PermissionError:
        raise CorpusError(f"{path}: permission denied; make the file readable (chmod +r)") from None
    except (OSError, EOFError) as exc:  # gzip.BadGzipFile, bz2 errors, I/O errors
        raise CorpusError(f"{path}: cannot be read ({exc}); pass a plain, .gz or .bz2 text file") from None


def _looks_binary(head: bytes) -> bool:
    if b"\x00" in head:
        return True
    if not head:
        return False
    # A file of mostly non-text control bytes is binary even without NULs.
    ctrl = sum(1 for b in head if b < 9 or 13 < b < 32)
    return ctrl / len(head) > 0.05


MAX_UNDECODABLE = 0.2
"""Refuse a file whose first 8 KiB are more than this share U+FFFD once decoded as UTF-8."""


def _check_utf8(path: Path, head: bytes) -> None:
    """A file that is mostly not UTF-8 (GBK, Big5, Latin-1...) is refused, not trained on as U+FFFD."""
    text = head.decode("utf-8", errors="replace")
    bad = text.count("\ufffd")
    if text and bad / len(text) > MAX_UNDECODABLE:
        raise CorpusError(
            f"{path}: not UTF-8 ({bad} of the first {len(text)} characters undecodable); convert it, "
            f"e.g. iconv -f gbk -t utf-8 (Chinese) or iconv -f latin1 -t utf-8, and pass the converted file"
        )


def resolve_sources(source: str | os.PathLike[str]) -> list[Path]:
    """The list of text files behind ``source`` (a file or a directory, searched recursively).

    Raises:
        CorpusError: the path is missing, unreadable, binary, or a directory without text files.
    """
    path = Path(source)
    if not path.exists():
        raise CorpusError(f"{path}: no such file or directory; check the corpus path")
    if path.is_dir():
        candidates = sorted(
            p
            for p in path.rglob("*")
            if p.is_file() and not any(part.startswith(".") for part in p.relative_to(path).parts)
        )
        heads = {p: _sniff(p) for p in candidates}
        files = [p for p in candidates if not _looks_binary(heads[p])]
        for p in files:
            _check_utf8(p, heads[p])
        skipped = len(candidates) - len(files)
        if skipped:
            logger.warning("%s: skipped %d binary file(s)", path, skipped)
        if not files:
            raise CorpusError(f"{path}: directory holds no text files; put UTF-8 .txt, .gz or .bz2 files in it")
        return files
    if not os.access(path, os.R_OK):
        raise CorpusError(f"{path}: permission denied; make the file readable (chmod +r)")
    head = _sniff(path)
    if _looks_binary(head):
        raise CorpusError(f"{path}: looks like a binary file, not text; pass UTF-8 text with one sentence per line")
    _check_utf8(path, head)
    return [path]


@dataclass
class CorpusStats:
    """Counts from the most recent complete pass over a corpus."""

    files: int = 0
    lines: int = 0
    sentences: int = 0
    tokens: int = 0
    decode_errors: int = 0
    chunked_lines: int = 0
    paths: list[str] = field(default_factory=list)


class Corpus:
    """A re-iterable stream of token lists, one per input line (longer lines are chunked).

    Args:
        source: a file path, a directory, a ``.gz``/``.bz2`` file, or ``"-"`` for standard
            input (spooled once to a temporary file so that several epochs can re-read it).
        tokenizer: ``simple``, ``whitespace`` or ``jieba``.
        max_sentence_length: lines with more tokens are split into chunks of this size.
        workers: processes that tokenize in parallel, for the slow ``jieba`` tokenizer
            (lines go out in ordered batches, so the token stream is the same as with 1).

    Raises:
        CorpusError: the source is missing, unreadable, binary, or holds no text files.
    """

    def __init__(
        self,
        source: str | os.PathLike[str],
        tokenizer: str = "simple",
        max_sentence_length: int = MAX_SENTENCE_LENGTH,
        workers: int = 1,
    ) -> None:
        self.source = str(source)
        self.workers = workers
        self.tokenizer_name = tokenizer
        self._tokenize = get_tokenizer(tokenizer)
        self.max_sentence_length = max_sentence_length
        self._spool: tempfile._TemporaryFileWrapper[bytes] | None = None
        if self.source == "-":
            self._spool = tempfile.NamedTemporaryFile(prefix="embed-stdin-", suffix=".txt")
            shutil.copyfileobj(sys.stdin.buffer, self._spool)
            self._spool.flush()
            self.paths = resolve_sources(self._spool.name)
        else:
            self.paths = resolve_sources(source)
        self.stats = CorpusStats(files=len(self.paths), paths=[str(p) for p in self.paths])
        self._reported_decode_errors = False

    def lines(self) -> Iterator[str]:
        """Raw decoded lines (without the newline), file after file.

        Raises:
            CorpusError: a compressed file is truncated or damaged (named, with the line reached).
        """
        for path in self.paths:
            with _open_binary(path) as raw:
                yield from _decoded_lines(path, raw)

    def __iter__(self) -> Iterator[list[str]]:
        global _decode_errors
        start_errors = _decode_errors
        stats = CorpusStats(files=len(self.paths), paths=self.stats.paths)
        limit = self.max_sentence_length
        for _line, tokens in self._tokenized():
            stats.lines += 1
            if not tokens:
                continue
            n = len(tokens)
            stats.tokens += n
            if n <= limit:
                stats.sentences += 1
                yield tokens
            else:
                stats.chunked_lines += 1
                for i in range(0, n, limit):
                    stats.sentences += 1
                    yield tokens[i : i + limit]
        stats.decode_errors = _decode_errors - start_errors
        self.stats = stats
        if stats.decode_errors and not self._reported_decode_errors:
            self._reported_decode_errors = True
            logger.warning(
                "%s: %d byte(s) were not valid UTF-8 and were replaced with U+FFFD",
                self.source,
                stats.decode_errors,
            )

    def _tokenized(self) -> Iterator[tuple[str, list[str]]]:
        """``(line, tokens)`` for every line, tokenized here or by ``workers`` processes (jieba)."""
        if self.workers <= 1 or self.tokenizer_name != "jieba":
            tokenize = self._tokenize
            for line in self.lines():
                yield line, tokenize(line)
            return
        import multiprocessing

        # fork: spawn and forkserver re-import the caller's __main__, which breaks scripts without
        # an ``if __name__ == "__main__"`` guard. This runs in the vocabulary pass, before any
        # training thread starts.
        pool = multiprocessing.get_context("fork").Pool(self.workers, initializer=_init_jieba)
        try:
            for lines, tokenized in pool.imap(_tokenize_batch, _batches(self.lines(), _PARALLEL_BATCH)):
                yield from zip(lines, tokenized, strict=False)
            pool.close()  # the workers take the pool's sentinel and exit: no signal on the normal path
            pool.join()
        finally:
            pool.terminate()  # an error, or a consumer that stopped early (SIGTERMs what is left)

    def close(self) -> None:
        if self._spool is not None:
            self._spool.close()
            self._spool = None

    def shard(self, rank: int, world: int) -> CorpusShard:
        """Rank ``rank``'s share of this corpus among ``world`` ranks (:class:`CorpusShard`)."""
        return CorpusShard(self.source, rank, world, self.tokenizer_name, self.max_sentence_length, self.workers)


def _decoded_lines(path: Path, raw: gzip.GzipFile | bz2.BZ2File | io.BufferedReader) -> Iterator[str]:
    """The decoded lines of the binary stream ``raw`` of ``path`` (see :meth:`Corpus.lines`)."""
    text = io.TextIOWrapper(raw, encoding="utf-8", errors="embed-count-replace", newline=None)
    number = 0
    try:
        for line in _bounded_lines(text):
            number += 1
            yield line
    except (EOFError, OSError, zlib.error) as exc:  # gzip.BadGzipFile is an OSError
        raise CorpusError(
            f"{path}: truncated or damaged compressed data after line {number} ({exc});"
            " re-download or recompress the file"
        ) from None


# --- shards: one rank's share of a corpus (data-parallel training) ------------------

_SCAN_BLOCK = 8192
SAMPLE_BYTES = 65_536
"""The fingerprint of a shard's corpus hashes this many bytes at the start and at the end of each file."""


def is_compressed(path: Path) -> bool:
    """A ``.gz`` or ``.bz2`` file: read as one stream, it cannot be entered at a byte offset."""
    return path.name.lower().endswith((".gz", ".bz2"))


def split_bytes(sizes: list[int], world: int) -> list[int]:
    """The ``world + 1`` cut points of ``world`` equal byte ranges over files of ``sizes`` laid end to end.

    >>> split_bytes([10, 5], 2)
    [0, 7, 15]
    """
    total = sum(sizes)
    return [total * r // world for r in range(world + 1)]


def file_ranges(sizes: list[int], start: int, stop: int) -> list[tuple[int, int, int]]:
    """``(file, first byte, end byte)`` of each file's part of bytes ``start:stop`` of the concatenation.

    >>> file_ranges([10, 5], 7, 15)
    [(0, 7, 10), (1, 0, 5)]
    >>> file_ranges([10, 5], 0, 7)
    [(0, 0, 7)]
    """
    ranges, offset = [], 0
    for i, size in enumerate(sizes):
        lo, hi = max(start, offset), min(stop, offset + size)
        if lo < hi:
            ranges.append((i, lo - offset, hi - offset))
        offset += size
    return ranges


def next_line_start(fh: IO[bytes], offset: int, size: int) -> tuple[int, int]:
    """The first line start at or after byte ``offset`` of a file of ``size`` bytes, and the bytes read to find it.

    A line starts at byte 0 and after every ``\\n``; a cut that falls inside a line moves to the
    next line's start (the end of the file when no newline follows).

    >>> next_line_start(io.BytesIO(b"ab\\ncd\\nef"), 4, 8)
    (6, 5)
    >>> next_line_start(io.BytesIO(b"ab\\ncd\\nef"), 3, 8)
    (3, 6)
    """
    if offset <= 0 or offset >= size:
        return min(max(offset, 0), size), 0
    fh.seek(offset - 1)  # a line starts at ``offset`` if the byte before it ends one
    pos, read = offset - 1, 0
    while block := fh.read(_SCAN_BLOCK):
        read += len(block)
        found = block.find(b"\n")
        if found >= 0:
            return pos + found + 1, read
        pos += len(block)
    return size, read


class _ByteRange(io.RawIOBase):
    """Bytes ``start:stop`` of an unbuffered file, as a stream of their own; counts what it reads."""

    def __init__(self, raw: io.FileIO, start: int, stop: int) -> None:
        super().__init__()
        raw.seek(start)
        self.raw, self.left, self.read_bytes = raw, stop - start, 0

    def readable(self) -> bool:
        return True

    def readinto(self, buffer: Any) -> int:
        n = min(len(buffer), self.left)
        if n <= 0:
            return 0
        got = self.raw.readinto(memoryview(buffer).cast("B")[:n]) or 0
        self.left -= got
        self.read_bytes += got
        return got


@dataclass(frozen=True)
class ShardPiece:
    """What a shard reads of one file: bytes ``start:stop``, or (``stop`` is None) every line ``j`` of the
    decompressed stream with ``j % every == first``."""

    path: Path
    start: int = 0
    stop: int | None = None
    first: int = 0
    every: int = 1


class CorpusShard(Corpus):
    """Rank ``rank``'s share of a corpus read by ``world`` ranks (data-parallel training).

    Plain files are laid end to end (in :func:`resolve_sources` order) and cut into ``world``
    equal byte ranges (:func:`split_bytes`); each cut moves forward to the next line start
    (:func:`next_line_start`), so every line belongs to exactly one rank, a rank reads only its
    range plus the few bytes that place its two cuts, and the shards in rank order are the
    corpus in order (:attr:`ordered`). ``.gz``/``.bz2`` files cannot be entered at a byte offset:
    every rank decompresses them whole and keeps line ``j`` of each if ``j % world == rank``
    (their undecodable bytes are then rank 0's to count). ``bytes_read`` counts the corpus bytes
    this shard has read: its ranges, the cut scans, whole compressed files and the fingerprint's samples.

    Raises:
        CorpusError: as :class:`Corpus`; standard input, which the ranks cannot share.
    """

    def __init__(
        self,
        source: str | os.PathLike[str],
        rank: int,
        world: int,
        tokenizer: str = "simple",
        max_sentence_length: int = MAX_SENTENCE_LENGTH,
        workers: int = 1,
    ) -> None:
        if str(source) == "-":
            raise CorpusError("-: standard input cannot be shared by several ranks; pass a corpus file or directory")
        super().__init__(source, tokenizer, max_sentence_length, workers)
        self.rank, self.world = rank, world
        self.sizes = [p.stat().st_size for p in self.paths]
        self.corpus_bytes = sum(self.sizes)
        self.ordered = not any(is_compressed(p) for p in self.paths)
        self.bytes_read = 0
        self._pieces: list[ShardPiece] | None = None
        self._whole_stream_errors = 0

    def pieces(self) -> list[ShardPiece]:
        """What this shard reads of each file (the cut points are found on the first call)."""
        if self._pieces is not None:
            return self._pieces
        plain = [i for i, p in enumerate(self.paths) if not is_compressed(p)]
        sizes = [self.sizes[i] for i in plain]
        cuts = split_bytes(sizes, self.world)
        start, stop = (self._line_start(plain, sizes, cuts[r]) for r in (self.rank, self.rank + 1))
        ranges = {plain[i]: (lo, hi) for i, lo, hi in file_ranges(sizes, start, stop)}
        pieces = []
        for i, path in enumerate(self.paths):
            if is_compressed(path):
                pieces.append(ShardPiece(path, first=self.rank, every=self.world))
            elif i in ranges:
                pieces.append(ShardPiece(path, *ranges[i]))
        self._pieces = pieces
        return pieces

    def _line_start(self, plain: list[int], sizes: list[int], cut: int) -> int:
        """``cut`` (an offset into the plain files laid end to end) moved to the next line start."""
        offset = 0
        for i, size in zip(plain, sizes, strict=True):
            if cut < offset + size:
                with open(self.paths[i], "rb") as fh:
                    local, read = next_line_start(fh, cut - offset, size)
                self.bytes_read += read
                return offset + local
            offset += size
        return offset

    def lines(self) -> Iterator[str]:
        """This shard's raw decoded lines, file after file (see :class:`CorpusShard`)."""
        global _decode_errors
        for piece in self.pieces():
            if piece.stop is None:
                before = _decode_errors
                with _open_binary(piece.path) as raw:
                    for j, line in enumerate(_decoded_lines(piece.path, raw)):
                        if j % piece.every == piece.first:
                            yield line
                self.bytes_read += piece.path.stat().st_size
                self._whole_stream_errors += _decode_errors - before
                continue
            with open(piece.path, "rb", buffering=0) as fh:
                part = _ByteRange(fh, piece.start, piece.stop)
                try:
                    yield from _decoded_lines(piece.path, io.BufferedReader(part))
                finally:
                    self.bytes_read += part.read_bytes

    def __iter__(self) -> Iterator[list[str]]:
        self._whole_stream_errors = 0
        yield from super().__iter__()
        if self.rank:  # every rank decoded the compressed files whole; rank 0 counts their bad bytes
            self.stats.decode_errors -= self._whole_stream_errors

    def fingerprint(self) -> dict[str, Any]:
        """What every rank must read alike: each file's name (within a directory) and size, and a hash
        of the first and last :data:`SAMPLE_BYTES` bytes of each."""
        root = Path(self.source)
        digest = hashlib.sha256()
        files = []
        for path, size in zip(self.paths, self.sizes, strict=True):
            name = str(path.relative_to(root)) if root.is_dir() else ""
            files.append([name, size])
            digest.update(f"{name}\0{size}\0".encode())
            with open(path, "rb") as fh:
                head = fh.read(SAMPLE_BYTES)
                fh.seek(max(size - SAMPLE_BYTES, len(head)))
                tail = fh.read(SAMPLE_BYTES)
            self.bytes_read += len(head) + len(tail)
            digest.update(head + tail)
        return {"files": files, "bytes": self.corpus_bytes, "sample_sha256": digest.hexdigest()}


class TokenSpool:
    """A corpus tokenized once: the first complete pass also writes its tokens to a temporary file.

    Later passes read that file back (``str.split`` per line instead of the tokenizer), so a
    slow tokenizer such as jieba runs once per training run, not once per epoch. The file
    holds the tokens of each sentence joined by single spaces (tokens never hold whitespace),
    about the size of the corpus text, in ``directory`` or :func:`embed.tmp.scratch_dir`
    (``$TMPDIR/embed-<uid>/tokens-<pid>-*.txt``); it is deleted by :meth:`close`. A pass abandoned
    before the end (e.g. the loss probe reading the start) leaves no partial file behind:
    the next pass tokenizes again.
    """

    def __init__(self, corpus: Iterable[list[str]], directory: str | os.PathLike[str] | None = None) -> None:
        self.corpus = corpus
        self.source = getattr(corpus, "source", "corpus")
        self._dir = directory
        self._path: Path | None = None
        self.sentences = 0

    @property
    def spooled(self) -> bool:
        return self._path is not None

    def __iter__(self) -> Iterator[list[str]]:
        if self._path is not None:
            with open(self._path, encoding="utf-8", newline="\n") as fh:
                for line in fh:
                    yield line[:-1].split(" ") if len(line) > 1 else []
            return
        from embed.tmp import scratch_dir, token_prefix

        # Named after this PID in the per-user scratch directory: after a SIGKILL the next
        # ``embed train`` finds and deletes it (embed.tmp.remove_stale).
        fd, name = tempfile.mkstemp(
            prefix=token_prefix(), suffix=".txt", dir=self._dir if self._dir is not None else scratch_dir()
        )
        done = False
        try:
            with os.fdopen(fd, "w", encoding="utf-8", newline="\n") as out:
                n = 0
                for tokens in self.corpus:
                    out.write(" ".join(tokens))
                    out.write("\n")
                    n += 1
                    yield tokens
            self.sentences = n
            done = True
        finally:
            if done:
                self._path = Path(name)
            else:
                os.unlink(name)

    def close(self) -> None:
        """Delete the spooled tokens (the wrapped corpus is closed by its owner)."""
        if self._path is not None:
            self._path.unlink(missing_ok=True)
            self._path = None
