"""fastText's character n-grams: extraction, hashing, per-word bucket tables and OOV vectors.

A word is wrapped in ``<`` and ``>`` and cut into every n-gram of ``minn`` to ``maxn``
characters (Unicode code points; fastText walks UTF-8 bytes, which is the same for valid
UTF-8). The one-character n-grams ``<`` and ``>`` are left out, as fastText does; the whole
``<word>`` is an n-gram when it is short enough. Each n-gram is hashed with 32-bit FNV-1a
over its UTF-8 bytes - with fastText's quirk that each byte is sign-extended (``int8``)
before the XOR, which changes the hash of every non-ASCII n-gram (gensim's ``ft_hash_bytes``
reproduces it) - and lands in bucket ``hash % bucket``.

A vocabulary word's vector is the mean of its own row and its n-gram rows (what training
uses as the input vector, and what the model directory stores as the word's vector); an
out-of-vocabulary word's vector is the mean of its n-gram rows alone (fastText's
``getWordVector``, gensim's ``FastTextKeyedVectors.get_vector``). No file I/O here
(:mod:`embed.subwords_io`).
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np

from embed.errors import ConfigError

FNV_OFFSET = 2166136261
FNV_PRIME = 16777619
MAX_BUCKET = 2**31 - 1  # fastText keeps bucket ids in int32


@dataclass(frozen=True)
class SubwordSpec:
    """The n-gram settings of a model: lengths ``minn..maxn`` (characters) and ``bucket`` hash rows.

    Raises:
        ConfigError: ``minn < 1``, ``maxn < minn`` or ``bucket`` outside ``1..2**31-1`` (the message names the option).
    """

    minn: int = 3
    maxn: int = 6
    bucket: int = 2_000_000

    def __post_init__(self) -> None:
        check_spec(self.minn, self.maxn, self.bucket)


def check_spec(minn: int, maxn: int, bucket: int) -> None:
    """Refuse n-gram settings fastText could not use, naming the option (library terms: ``minn``, ``maxn``, ``bucket``).

    Raises:
        ConfigError: the first bad option.
    """
    if minn < 1:
        raise ConfigError(f"minn must be >= 1 (the shortest character n-gram), got {minn}")
    if maxn < minn:
        raise ConfigError(f"maxn must be >= minn, got minn {minn} > maxn {maxn}; raise maxn or lower minn")
    if not 1 <= bucket <= MAX_BUCKET:
        raise ConfigError(
            f"bucket must be in 1..{MAX_BUCKET:,} (hash rows for the n-grams; fastText's default is 2,000,000),"
            f" got {bucket:,}"
        )


def ft_hash(data: bytes) -> int:
    """fastText's 32-bit FNV-1a of ``data``, bytes sign-extended first (``dictionary.cc``'s ``hash``).

    >>> ft_hash(b"<wh")
    1048167652
    >>> ft_hash("曹".encode())  # non-ASCII: the sign extension matters
    2477270989
    """
    h = FNV_OFFSET
    for b in data:
        h = ((h ^ (b | 0xFFFFFF00 if b >= 0x80 else b)) * FNV_PRIME) & 0xFFFFFFFF
    return h


def char_ngrams(word: str, minn: int, maxn: int) -> list[str]:
    """The n-grams of ``<word>`` in fastText's order: by start position, then length.

    fastText's worked example (Bojanowski et al. 2017, section 3.2), 3-grams of "where":

    >>> char_ngrams("where", 3, 3)
    ['<wh', 'whe', 'her', 'ere', 're>']
    >>> char_ngrams("曹操", 1, 2)
    ['<曹', '曹', '曹操', '操', '操>']
    """
    s = f"<{word}>"
    n_chars = len(s)
    out = []
    for i in range(n_chars):
        for n in range(minn, min(maxn, n_chars - i) + 1):
            if n == 1 and (i == 0 or i == n_chars - 1):
                continue  # a lone boundary is no n-gram
            out.append(s[i : i + n])
    return out


def hash_many(grams: Sequence[bytes]) -> np.ndarray:
    """:func:`ft_hash` of many byte strings at once, ``uint32 (len(grams),)`` (vectorised by length).

    >>> hash_many([b"<wh", "曹".encode()]).tolist()
    [1048167652, 2477270989]
    """
    out = np.empty(len(grams), dtype=np.uint32)
    if not grams:
        return out
    lengths = np.fromiter(map(len, grams), dtype=np.int64, count=len(grams))
    for length in np.unique(lengths).tolist():
        idx = np.flatnonzero(lengths == length)
        data = np.frombuffer(b"".join(grams[i] for i in idx.tolist()), dtype=np.int8).reshape(idx.size, length)
        h = np.full(idx.size, FNV_OFFSET, dtype=np.uint32)
        prime = np.uint32(FNV_PRIME)
        for col in range(length):
            h ^= data[:, col].astype(np.int32).view(np.uint32)  # sign extension, as fastText's int8_t cast
            h *= prime  # uint32 arithmetic wraps modulo 2**32
        out[idx] = h
    return out


def ngram_buckets(word: str, spec: SubwordSpec) -> np.ndarray:
    """Bucket ids (``int64``) of ``word``'s n-grams, duplicates kept (fastText sums them all).

    One word's n-grams are hashed in plain Python, each start position's hash extended one
    character at a time (FNV-1a is sequential, so ``<wh`` continues from ``<w``): a few
    microseconds, where :func:`hash_many`'s numpy set-up costs ~70 us for one word. The ids
    equal :func:`hash_many` of :func:`char_ngrams` (tested against gensim's).

    >>> ngram_buckets("where", SubwordSpec(3, 3, 2_000_000)).tolist()[:2]
    [167652, 420941]
    """
    s = f"<{word}>"
    codes = [[b | 0xFFFFFF00 if b >= 0x80 else b for b in c.encode("utf-8", "surrogatepass")] for c in s]
    last, minn, maxn, bucket = len(s) - 1, spec.minn, spec.maxn, spec.bucket
    out: list[int] = []
    for i in range(len(s)):
        h = FNV_OFFSET
        for n, char in enumerate(codes[i : i + maxn], 1):
            for b in char:
                h = ((h ^ b) * FNV_PRIME) & 0xFFFFFFFF
            if n >= minn and not (n == 1 and (i == 0 or i == last)):  # a lone boundary is no n-gram
                out.append(h % bucket)
    return np.array(out, dtype=np.int64)


def has_ngrams(word: str, spec: SubwordSpec) -> bool:
    """True when ``word`` has at least one n-gram (so a subword model can build it a vector).

    >>> has_ngrams("", SubwordSpec(3, 6, 10)), has_ngrams("a", SubwordSpec(3, 6, 10))
    (False, True)
    """
    n_chars = len(word) + 2
    if spec.minn > 1:
        return n_chars >= spec.minn
    return n_chars > 2 or spec.maxn >= 2  # "" with minn 1: only "<>" (a 2-gram), never a lone boundary


def word_ngram_table(words: Sequence[str], spec: SubwordSpec) -> tuple[np.ndarray, np.ndarray]:
    """CSR table of each vocabulary word's input rows: its own row ``i`` then ``V + bucket id`` per n-gram.

    Returns ``offsets`` int64 ``(V + 1,)`` and ``rows`` int64: word ``i`` trains rows
    ``rows[offsets[i]:offsets[i + 1]]`` of a ``(V + bucket, dim)`` input matrix. Computed once
    per vocabulary, not per token.

    >>> off, rows = word_ngram_table(["ab"], SubwordSpec(3, 3, 10))
    >>> off.tolist(), rows.tolist()[0], len(rows)  # "ab": its row, then "<ab", "ab>"
    ([0, 3], 0, 3)
    """
    v = len(words)
    all_grams: list[bytes] = []
    lengths = np.empty(v, dtype=np.int64)
    for i, w in enumerate(words):
        grams = char_ngrams(w, spec.minn, spec.maxn)
        lengths[i] = len(grams) + 1
        all_grams.extend(g.encode("utf-8", "surrogatepass") for g in grams)
    offsets = np.zeros(v + 1, dtype=np.int64)
    np.cumsum(lengths, out=offsets[1:])
    rows = np.empty(int(offsets[-1]), dtype=np.int64)
    first = offsets[:-1]
    is_word = np.zeros(rows.size, dtype=bool)
    is_word[first] = True
    rows[first] = np.arange(v, dtype=np.int64)
    rows[~is_word] = hash_many(all_grams).astype(np.int64) % spec.bucket + v
    return offsets, rows


def compose(
    word_rows: np.ndarray, ngrams: np.ndarray, offsets: np.ndarray, rows: np.ndarray, block: int = 16_384
) -> np.ndarray:
    """Each vocabulary word's vector: the mean of its own row and its n-gram rows, ``float32 (V, dim)``.

    ``word_rows`` ``(V, dim)``, ``ngrams`` ``(bucket, dim)``; ``offsets``/``rows`` from
    :func:`word_ngram_table`. gensim calls this ``adjust_vectors``.
    """
    v, dim = word_rows.shape
    out = np.empty((v, dim), dtype=np.float32)
    for start in range(0, v, block):
        stop = min(start + block, v)
        a, b = int(offsets[start]), int(offsets[stop])
        r = rows[a:b]
        data = np.where((r < v)[:, None], word_rows[np.minimum(r, v - 1)], ngrams[np.maximum(r - v, 0)])
        seg = np.repeat(np.arange(stop - start), np.diff(offsets[start : stop + 1]))
        sums = np.zeros((stop - start, dim), dtype=np.float64)
        np.add.at(sums, seg, data)
        out[start:stop] = sums / np.diff(offsets[start : stop + 1])[:, None]
    return out


class Subwords:
    """The n-gram matrix of a subword model: builds vectors for words outside the vocabulary.

    ``ngrams`` is float32 ``(bucket, dim)`` (may be a read-only memory map: a query reads
    only the rows of its n-grams).
    """

    def __init__(self, spec: SubwordSpec, ngrams: np.ndarray) -> None:
        if ngrams.ndim != 2 or ngrams.shape[0] != spec.bucket or ngrams.dtype != np.float32:
            raise ConfigError(
                f"n-gram matrix {ngrams.dtype} {ngrams.shape} does not fit bucket {spec.bucket:,}"
                " (float32 (bucket, dim) expected)"
            )
        self.spec = spec
        self.ngrams = ngrams
        self._rows = np.asarray(ngrams)

    @property
    def dim(self) -> int:
        return int(self.ngrams.shape[1])

    def buckets(self, word: str) -> np.ndarray:
        """Bucket ids of ``word``'s n-grams (empty when it has none, e.g. ``""`` with ``minn`` 3)."""
        return ngram_buckets(word, self.spec)

    def covers(self, word: str) -> bool:
        """True when ``word`` has n-grams, i.e. :meth:`vector` gives it one (no hashing)."""
        return has_ngrams(word, self.spec)

    def vector(self, word: str) -> np.ndarray | None:
        """The mean of ``word``'s n-gram rows, float32 ``(dim,)``; None when it has no n-grams."""
        ids = self.buckets(word)
        if ids.size == 0:
            return None
        mean: np.ndarray = self._rows[ids].mean(axis=0, dtype=np.float64).astype(np.float32)
        return mean

    def to_dict(self) -> dict[str, int]:
        return {"minn": self.spec.minn, "maxn": self.spec.maxn, "bucket": self.spec.bucket, "dim": self.dim}

    def __repr__(self) -> str:
        s = self.spec
        return f"Subwords(minn {s.minn}, maxn {s.maxn}, bucket {s.bucket:,}, dim {self.dim})"
