"""Streaming corpus readers and tokenizers.

A :class:`Corpus` is a re-iterable stream of token lists (one per line of input),
read lazily from a file, a directory of files, ``.gz``/``.bz2`` files, or standard
input. The whole corpus is never held in memory.
"""

from __future__ import annotations

import bz2
import codecs
import gzip
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
        with multiprocessing.get_context("fork").Pool(self.workers, initializer=_init_jieba) as pool:
            for lines, tokenized in pool.imap(_tokenize_batch, _batches(self.lines(), _PARALLEL_BATCH)):
                yield from zip(lines, tokenized, strict=False)

    def close(self) -> None:
        if self._spool is not None:
            self._spool.close()
            self._spool = None


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
