"""The memory-mapped vector store: the matrix, its norms and the vocabulary as plain files.

A store lives in a model directory (``embed import``, ``embed train``) as:

* ``vectors.npy``       float32 ``(n, dim)``, C order, opened with ``mmap_mode="r"``;
* ``norms.npy``         float32 ``(n,)`` row L2 norms, computed once at write time;
* ``words.utf8``        the words' UTF-8 bytes, concatenated;
* ``word_offsets.npy``  int64 ``(n + 1,)``: word ``i`` is ``words.utf8[off[i]:off[i+1]]``;
* ``word_hash.npy``     int32 open-addressing table (crc32 of the bytes, linear probing, -1 empty);
* ``counts.npy``        int64 ``(n,)`` corpus counts, when known.

Opening reads none of these: every file is memory-mapped read-only, so a 2M x 300 store opens
in milliseconds, and every process that serves it shares the same page-cache pages. A word is
found by hashing it and probing the table (a few page touches), without a Python dict of the
vocabulary (~250 MB at 2M words, per process). Every ``.npy`` loads with ``allow_pickle=False``.
"""

from __future__ import annotations

import hashlib
import mmap
import os
import zlib
from collections.abc import Iterable, Iterator, Sequence
from pathlib import Path
from typing import IO, Any

import numpy as np

from embed.errors import ConfigError, FormatError

MATRIX_FILE = "vectors.npy"
NORMS_FILE = "norms.npy"
WORDS_FILE = "words.utf8"
OFFSETS_FILE = "word_offsets.npy"
HASH_FILE = "word_hash.npy"
COUNTS_FILE = "counts.npy"
STORE_FILES = (MATRIX_FILE, NORMS_FILE, WORDS_FILE, OFFSETS_FILE, HASH_FILE)


class ListWords:
    """An in-memory vocabulary: a list and a dict (vectors built in Python, small models)."""

    def __init__(self, words: Iterable[str]) -> None:
        self._list = list(words)
        self._rows = {w: i for i, w in enumerate(self._list)}
        if len(self._rows) != len(self._list):
            raise ConfigError(f"{len(self._list) - len(self._rows)} duplicate words; every word needs one row")

    def __len__(self) -> int:
        return len(self._list)

    def __getitem__(self, i: int) -> str:
        return self._list[i]

    def get(self, word: str, default: int = -1) -> int:
        return self._rows.get(word, default)

    def tolist(self) -> list[str]:
        return self._list

    def __iter__(self) -> Iterator[str]:
        return iter(self._list)


class MappedWords:
    """A vocabulary read from a store's files; nothing is loaded until a word is asked for."""

    def __init__(self, folder: Path, n: int) -> None:
        self._n = n
        # Plain ndarray views of the maps: np.memmap's __getitem__ costs a few us a call.
        self._offsets = np.asarray(_load_npy(folder / OFFSETS_FILE, np.int64, (n + 1,)))
        self._table = np.asarray(_load_npy(folder / HASH_FILE, np.int32, None))
        size = self._table.shape[0]
        if size < n or size & (size - 1):
            raise FormatError(f"{folder / HASH_FILE}: table of {size} slots for {n} words; re-import the vectors")
        self._mask = size - 1
        path = folder / WORDS_FILE
        try:
            with open(path, "rb") as fh:
                self._buf = mmap.mmap(fh.fileno(), 0, access=mmap.ACCESS_READ) if os.fstat(fh.fileno()).st_size else b""
        except OSError as exc:
            raise FormatError(f"{path}: cannot read ({exc.strerror}); re-import the vectors") from None
        self._list: list[str] | None = None

    def __len__(self) -> int:
        return self._n

    def __getitem__(self, i: int) -> str:
        if not -self._n <= i < self._n:
            raise IndexError(i)
        i %= self._n
        return self._buf[int(self._offsets[i]) : int(self._offsets[i + 1])].decode("utf-8", "replace")

    def get(self, word: str, default: int = -1) -> int:
        key = word.encode("utf-8", "surrogatepass")
        table, offsets, buf, mask = self._table, self._offsets, self._buf, self._mask
        slot = zlib.crc32(key) & mask
        for _ in range(mask + 1):
            row = int(table[slot])
            if row < 0:
                return default
            if buf[int(offsets[row]) : int(offsets[row + 1])] == key:
                return row
            slot = (slot + 1) & mask
        return default

    def tolist(self) -> list[str]:
        """Every word as a Python list (decoded once and kept: ~1 s and ~150 MB at 2M words)."""
        if self._list is None:
            data = bytes(self._buf)
            off = self._offsets.tolist()
            self._list = [data[off[i] : off[i + 1]].decode("utf-8", "replace") for i in range(self._n)]
        return self._list

    def __iter__(self) -> Iterator[str]:
        return (self[i] for i in range(self._n))


def hash_table(hashes: np.ndarray) -> np.ndarray:
    """Linear-probing table for crc32 ``hashes``: ``table[slot]`` is a row or -1.

    Rows are placed in rounds, all at once: in round ``r`` every unplaced row tries slot
    ``hash + r``; of several rows trying one free slot the lowest wins. A row placed at
    ``hash + r`` thus found ``hash .. hash + r - 1`` taken, which is what a lookup that probes
    forward until an empty slot needs. The table has at least twice as many slots as rows.

    >>> hash_table(np.array([5, 5, 6], dtype=np.uint32)).tolist()  # 8 slots; row 1 finds 5 and 6 taken
    [-1, -1, -1, -1, -1, 0, 2, 1]
    """
    n = int(hashes.shape[0])
    size = 1 << max(3, (2 * n - 1).bit_length())
    table = np.full(size, -1, dtype=np.int32)
    pending = np.arange(n, dtype=np.int64)
    slots = hashes.astype(np.int64) & (size - 1)
    while pending.size:
        free = np.flatnonzero(table[slots] < 0)
        taken_slots, first = np.unique(slots[free], return_index=True)
        winners = free[first]
        table[taken_slots] = pending[winners]
        keep = np.ones(pending.size, dtype=bool)
        keep[winners] = False
        pending, slots = pending[keep], (slots[keep] + 1) & (size - 1)
    return table


class StoreWriter:
    """Writes a store into ``folder`` row batch by row batch; the matrix is never held whole.

    ``add(words, rows)`` appends; ``close()`` writes the row count into the ``.npy`` header
    (numpy reserves room for it to grow in place), the norms, offsets and word table.
    Duplicate words must have been dropped by the caller (the file readers do).
    """

    def __init__(self, folder: Path, dim: int, counts: bool = False) -> None:
        self.folder, self.dim, self.rows = Path(folder), int(dim), 0
        self._matrix = open(self.folder / MATRIX_FILE, "wb")
        self._header_len = _write_header(self._matrix, 0, self.dim)
        self._words = open(self.folder / WORDS_FILE, "wb")
        self._offsets: list[np.ndarray] = [np.zeros(1, np.int64)]
        self._hashes: list[np.ndarray] = []
        self._norms: list[np.ndarray] = []
        self._counts: list[np.ndarray] | None = [] if counts else None
        self._pos = 0

    def add(self, words: Sequence[str], rows: np.ndarray, counts: Sequence[int] | None = None) -> None:
        """Append ``len(words)`` rows: ``rows`` float32 ``(len(words), dim)``."""
        rows = np.ascontiguousarray(rows, dtype="<f4")
        if rows.ndim != 2 or rows.shape != (len(words), self.dim):
            raise ConfigError(f"rows of shape {rows.shape} for {len(words)} words of dim {self.dim}")
        self._matrix.write(rows.data.cast("B"))
        encoded = [w.encode("utf-8", "surrogatepass") for w in words]
        self._words.write(b"".join(encoded))
        lengths = np.fromiter(map(len, encoded), dtype=np.int64, count=len(encoded))
        self._offsets.append(self._pos + np.cumsum(lengths))
        self._pos += int(lengths.sum())
        self._hashes.append(np.fromiter(map(zlib.crc32, encoded), dtype=np.uint32, count=len(encoded)))
        self._norms.append(np.sqrt(np.einsum("ij,ij->i", rows, rows, dtype=np.float64)).astype(np.float32))
        if self._counts is not None:
            if counts is None or len(counts) != len(words):
                raise ConfigError("this store records counts: pass one per word")
            self._counts.append(np.asarray(counts, dtype=np.int64))
        self.rows += len(words)

    def close(self) -> dict[str, Any]:
        """Finish every file; returns ``{"rows", "dim", "files"}`` for ``meta.json``."""
        self._words.close()
        self._matrix.seek(0)
        if _write_header(self._matrix, self.rows, self.dim) != self._header_len:
            raise AssertionError("npy header changed length")  # numpy pads for this; never expected
        self._matrix.close()
        np.save(self.folder / NORMS_FILE, _cat(self._norms, np.float32), allow_pickle=False)
        np.save(self.folder / OFFSETS_FILE, np.concatenate(self._offsets), allow_pickle=False)
        np.save(self.folder / HASH_FILE, hash_table(_cat(self._hashes, np.uint32)), allow_pickle=False)
        files = list(STORE_FILES)
        if self._counts is not None:
            np.save(self.folder / COUNTS_FILE, _cat(self._counts, np.int64), allow_pickle=False)
            files.append(COUNTS_FILE)
        return {"rows": self.rows, "dim": self.dim, "files": files}

    def abort(self) -> None:
        self._words.close()
        self._matrix.close()


def write_batches(
    folder: Path,
    dim: int,
    batches: Iterable[tuple[Sequence[str], np.ndarray, Sequence[int] | None]],
    counts: bool = False,
) -> dict[str, Any]:
    """Write every ``(words, rows, counts)`` batch into a store in ``folder``; returns
    :meth:`StoreWriter.close`'s entry."""
    writer = StoreWriter(folder, dim, counts=counts)
    try:
        for words, rows, batch_counts in batches:
            writer.add(words, rows, batch_counts)
    except BaseException:
        writer.abort()
        raise
    return writer.close()


def _cat(parts: list[np.ndarray], dtype: Any) -> np.ndarray:
    return np.concatenate(parts).astype(dtype, copy=False) if parts else np.zeros(0, dtype)


def _write_header(fh: IO[bytes], rows: int, dim: int) -> int:
    start = fh.tell()
    np.lib.format.write_array_header_1_0(fh, {"descr": "<f4", "fortran_order": False, "shape": (rows, dim)})
    return fh.tell() - start


def _load_npy(path: Path, dtype: Any, shape: tuple[int, ...] | None) -> np.ndarray:
    """Memory-map ``path`` read-only, checking dtype and shape. Raises FormatError."""
    try:
        arr: np.ndarray = np.load(path, mmap_mode="r", allow_pickle=False)
    except FileNotFoundError:
        raise FormatError(f"{path}: missing from the model directory; re-import or retrain it") from None
    except (OSError, ValueError) as exc:
        raise FormatError(f"{path}: not a readable .npy file ({exc}); re-import or retrain it") from None
    if arr.dtype != np.dtype(dtype) or (shape is not None and arr.shape != shape) or (shape is None and arr.ndim != 1):
        want = f"{np.dtype(dtype)} {shape if shape is not None else '(n,)'}"
        raise FormatError(f"{path}: holds {arr.dtype} {arr.shape}, expected {want}; re-import or retrain it")
    return arr


def open_store(
    folder: str | os.PathLike[str], rows: int, dim: int
) -> tuple[np.ndarray, np.ndarray, MappedWords, np.ndarray | None]:
    """Memory-map a store written by :class:`StoreWriter`: ``(matrix, norms, words, counts)``.

    Raises:
        FormatError: a file is missing, damaged or of another shape than ``meta.json`` says.
    """
    folder = Path(folder)
    matrix = _load_npy(folder / MATRIX_FILE, np.float32, (rows, dim))
    norms = _load_npy(folder / NORMS_FILE, np.float32, (rows,))
    words = MappedWords(folder, rows)
    counts = _load_npy(folder / COUNTS_FILE, np.int64, (rows,)) if (folder / COUNTS_FILE).exists() else None
    return matrix, norms, words, counts


def fingerprint(words: ListWords | MappedWords, matrix: np.ndarray) -> str:
    """sha256 of the shape, every word and up to 1,024 evenly spaced rows.

    Detects an index built for other vectors without reading a 2.4 GB matrix at every start.
    """
    n = matrix.shape[0]
    h = hashlib.sha256(f"{tuple(matrix.shape)}".encode())
    if isinstance(words, MappedWords):
        h.update(words._buf[: int(words._offsets[n])])
        h.update(np.ascontiguousarray(words._offsets).tobytes())
    else:
        encoded = [w.encode("utf-8", "surrogatepass") for w in words.tolist()]
        h.update(b"".join(encoded))
        h.update(np.concatenate([[0], np.cumsum([len(e) for e in encoded], dtype=np.int64)]).astype(np.int64).tobytes())
    picks = np.unique(np.linspace(0, max(n - 1, 0), num=min(n, 1024)).astype(np.int64))
    h.update(np.ascontiguousarray(matrix[picks], dtype="<f4").tobytes())
    return h.hexdigest()
