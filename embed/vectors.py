"""Word vectors: a vocabulary and a float32 matrix (in memory or memory-mapped), with the queries gensim users know.

``Vectors`` owns plain numpy arrays; no gensim object lives inside. Queries are exact
(blocked matrix products, :func:`embed.neighbours.exact_search`); approximate ones go
through :mod:`embed.search` and a FAISS index. gensim's ``KeyedVectors`` methods are here
under their names, arguments and results, so gensim code runs on :func:`embed.load`'s result.
gensim is used only on request: :meth:`Vectors.to_gensim` (a copy) for evaluation and the
word2vec writer. No file I/O here (``save``/``load`` delegate to :mod:`embed.io`).
"""

from __future__ import annotations

import contextlib
import logging
import os
from collections.abc import Iterator, Mapping, Sequence
from numbers import Integral, Real
from typing import TYPE_CHECKING, Any, Literal, cast

import numpy as np

from embed.errors import ConfigError, NotInVocabError
from embed.neighbours import Metric, check_metric, exact_search, inverse_norms, normalise
from embed.store import ListWords, MappedWords, fingerprint

if TYPE_CHECKING:
    from gensim.models import KeyedVectors
    from typing_extensions import TypeIs

    from embed.evaluate import EvalReport
    from embed.subwords import Subwords

logger = logging.getLogger(__name__)

Key = str | int | np.integer
Term = Key | np.ndarray | Sequence[float] | tuple[Any, float]

FOLDING_TOKENIZERS = ("simple", "jieba")
"""Tokenizers that lower-case every token with ``str.lower`` (see :mod:`embed.corpus`)."""

_BLOCK = 65_536  # rows per matrix product in the full scans: 65,536 x 300 float32 = 75 MB


def _is_key(x: object) -> TypeIs[Key]:
    return isinstance(x, (str, Integral)) and not isinstance(x, bool)


def _as_list(words: Term | Sequence[Term] | None) -> list[Term]:
    """gensim's ``_ensure_list``: one word, row or vector becomes a list; a 2-D array its rows."""
    if words is None:
        return []
    if _is_key(words) or (isinstance(words, np.ndarray) and words.ndim == 1):
        return [words]
    if isinstance(words, np.ndarray):
        return list(words)
    items = list(words)
    if items and all(isinstance(x, Real) for x in items) and not all(isinstance(x, Integral) for x in items):
        return [
            np.asarray(items, dtype=np.float32)
        ]  # one raw vector given as a list of numbers (all ints: rows, as gensim)
    return items


class KeyToIndex(Mapping[str, int]):
    """``word -> row`` over the vocabulary without building a dict (gensim's ``key_to_index``; exact, no case
    folding)."""

    def __init__(self, words: ListWords | MappedWords) -> None:
        self._words = words

    def __getitem__(self, word: str) -> int:
        row = self._words.get(word) if isinstance(word, str) else -1
        if row < 0:
            raise KeyError(word)
        return row

    def __contains__(self, word: object) -> bool:
        return isinstance(word, str) and self._words.get(word) >= 0

    def __iter__(self) -> Iterator[str]:
        return iter(self._words)

    def __len__(self) -> int:
        return len(self._words)


class Vectors:
    """A vocabulary of words, each with a dense float32 vector.

    ``vectors["king"]`` returns a vector (shape ``(dim,)``), ``vectors[["king", "queen"]]`` a
    ``(2, dim)`` array; ``most_similar``, ``similarity``, ``analogy`` and ``evaluate`` answer
    queries. ``matrix`` may be a read-only ``np.memmap`` (a model directory's store): nothing
    is read until a query needs it, and full scans read it block by block.

    Look-ups (``[]``, ``in``, ``index``, ``get_index``) fall back to the lower-cased word when
    :attr:`folds_case`; an unknown word raises :class:`~embed.errors.NotInVocabError` with
    "did you mean" suggestions (:mod:`embed.suggest`, computed only if read).

    A subword model (:attr:`has_subwords`: trained with ``subwords=True`` or imported from a
    fastText ``.bin``) answers unknown words too: ``vectors["kingz"]``, ``most_similar``,
    ``similarity`` build their vectors from character n-grams (:mod:`embed.subwords`).
    ``word in vectors`` still means "in the vocabulary"; :meth:`is_oov` tells a word that is
    answered from its n-grams.
    """

    def __init__(
        self,
        vocab: ListWords | MappedWords,
        matrix: np.ndarray,
        norms: np.ndarray | None = None,
        counts: np.ndarray | None = None,
        meta: dict[str, Any] | None = None,
        subwords: Subwords | None = None,
    ) -> None:
        if matrix.ndim != 2 or matrix.shape[0] != len(vocab) or matrix.dtype != np.float32:
            raise ConfigError(
                f"matrix {matrix.dtype} {matrix.shape} does not match {len(vocab)} words (float32 (n, dim) expected)"
            )
        self.vocab = vocab
        self._matrix = matrix
        self._rows = np.asarray(matrix)  # a plain view for indexing (np.memmap's __getitem__ is slow)
        self._norms = norms
        self.counts = counts
        self.meta: dict[str, Any] = dict(meta or {})
        self._fingerprint: str | None = None
        if subwords is not None and subwords.dim != matrix.shape[1]:
            raise ConfigError(f"n-grams of dim {subwords.dim} for word vectors of dim {matrix.shape[1]}")
        self.subwords = subwords

    @classmethod
    def from_arrays(
        cls,
        words: Sequence[str],
        matrix: np.ndarray,
        counts: Sequence[int] | None = None,
        meta: dict[str, Any] | None = None,
        subwords: Subwords | None = None,
    ) -> Vectors:
        """Build in memory from a word list and a ``(len(words), dim)`` matrix.

        Raises:
            ConfigError: shapes disagree, or a word repeats.
        """
        matrix = np.ascontiguousarray(matrix, dtype=np.float32)
        if matrix.ndim != 2 or matrix.shape[0] != len(words):
            raise ConfigError(f"matrix shape {matrix.shape} does not match {len(words)} words")
        c = None if counts is None else np.asarray(counts, dtype=np.int64)
        return cls(ListWords(words), matrix, counts=c, meta=meta, subwords=subwords)

    @classmethod
    def from_gensim(cls, kv: KeyedVectors, meta: dict[str, Any] | None = None) -> Vectors:
        """An in-memory copy of a gensim ``KeyedVectors`` (its ``count`` attribute becomes ``counts``)."""
        counts = kv.expandos["count"] if "count" in kv.expandos else None
        return cls.from_arrays(
            list(kv.index_to_key), np.asarray(kv.vectors, dtype=np.float32), counts=counts, meta=meta
        )

    # --- basic access -----------------------------------------------------------------
    @property
    def words(self) -> list[str]:
        """Every word in row order (a list; built once for a memory-mapped store)."""
        return self.vocab.tolist()

    @property
    def matrix(self) -> np.ndarray:
        """The ``(vocab, dim)`` float32 matrix, rows in vocabulary order (read-only when mapped)."""
        return self._matrix

    @property
    def norms(self) -> np.ndarray:
        """``(vocab,)`` float32 row norms (stored with a model directory, else computed once); gensim's ``norms``."""
        if self._norms is None:
            m = self._matrix
            self._norms = np.sqrt(np.einsum("ij,ij->i", m, m, dtype=np.float64)).astype(np.float32)
        return self._norms

    @property
    def dim(self) -> int:
        return int(self._matrix.shape[1])

    @property
    def fingerprint(self) -> str:
        """Identifies these vectors cheaply (see :func:`embed.store.fingerprint`)."""
        if self._fingerprint is None:
            self._fingerprint = fingerprint(self.vocab, self._matrix)
        return self._fingerprint

    @property
    def tokenizer(self) -> str | None:
        """The tokenizer the vectors were trained with (``meta["tokenizer"]``, else ``meta["params"]["tokenizer"]``);
        None for imported vectors files, which record none."""
        params = self.meta.get("params")
        return self.meta.get("tokenizer", params.get("tokenizer") if isinstance(params, dict) else None)

    @property
    def folds_case(self) -> bool:
        """True when the model's :attr:`tokenizer` lower-cased its corpus (``simple`` or ``jieba``): a word
        not found as given is then looked up as ``word.lower()``.

        Imported vectors files record no tokenizer and keep case; so do ``whitespace`` models.
        """
        return self.tokenizer in FOLDING_TOKENIZERS

    def __len__(self) -> int:
        return len(self.vocab)

    def __contains__(self, key: object) -> bool:
        return self._row(key) >= 0

    def __iter__(self) -> Iterator[str]:
        """The words in row order (as ``iter(kv)`` over gensim's ``index_to_key``)."""
        return iter(self.vocab)

    def __getitem__(self, key_or_keys: Key | Sequence[Key]) -> np.ndarray:
        """The vector of a word (or row), ``(dim,)``; of a list of them, ``(len, dim)``. Raises NotInVocabError."""
        if _is_key(key_or_keys):
            return self._vector(key_or_keys)
        if self.subwords is not None:
            return np.stack([self._vector(k) for k in key_or_keys]) if len(key_or_keys) else self._rows[:0]
        return self._rows[np.asarray([self.index(k) for k in key_or_keys], dtype=np.int64)]

    @property
    def has_subwords(self) -> bool:
        """True when unknown words get vectors from their character n-grams (:mod:`embed.subwords`)."""
        return self.subwords is not None

    def is_oov(self, word: object) -> bool:
        """True when ``word`` is not in the vocabulary but this subword model builds it a vector from its n-grams."""
        if self.subwords is None or not isinstance(word, str) or self._row(word) >= 0:
            return False
        return self.subwords.covers(word.lower() if self.folds_case else word)

    def _oov(self, word: str) -> np.ndarray | None:
        """The n-gram vector of an unknown word (case-folded as the corpus was), or None."""
        assert self.subwords is not None
        return self.subwords.vector(word.lower() if self.folds_case else word)

    def _vector(self, key: Key) -> np.ndarray:
        """The vector of a word or row; an unknown word of a subword model gets its n-gram vector.
        Raises NotInVocabError."""
        row = self._row(key)
        if row >= 0:
            return cast(np.ndarray, self._rows[row])
        if self.subwords is not None and isinstance(key, str):
            vec = self._oov(key)
            if vec is not None:
                return vec
        return cast(np.ndarray, self._rows[self.index(key)])  # raises NotInVocabError with suggestions

    def _row(self, key: object) -> int:
        """Row of a word (case-folded as a fallback when :attr:`folds_case`) or of a row number; -1 when absent."""
        if isinstance(key, str):
            row = self.vocab.get(key)
            if row < 0 and self.folds_case:
                folded = key.lower()
                row = self.vocab.get(folded) if folded != key else -1
            return row
        if _is_key(key) and not isinstance(key, str) and 0 <= key < len(self):
            return int(key)
        return -1

    def index(self, word: Key, suggest: bool = True) -> int:
        """Row of ``word`` (an int in range is its own row, as in gensim).

        Raises:
            NotInVocabError: unknown word; its suggestions are computed when read (``suggest=False``: none).
        """
        row = self._row(word)
        if row < 0:
            raise NotInVocabError(str(word), (lambda: self.suggest(word)) if isinstance(word, str) and suggest else ())
        return row

    def suggest(self, word: str, k: int = 5) -> list[str]:
        """Up to ``k`` vocabulary words close to ``word``, best first (see :func:`embed.suggest.suggest`)."""
        from embed.suggest import suggest

        return suggest(self, word, k)

    def word(self, row: int) -> str:
        return self.vocab[row]

    def count(self, word: str) -> int | None:
        """Corpus count of ``word`` where the file recorded counts, else ``None``."""
        row = self.index(word)
        return None if self.counts is None else int(self.counts[row])

    def unit(self, rows: Sequence[int] | np.ndarray) -> np.ndarray:
        """Unit-length float32 copies of ``rows`` ``(len(rows), dim)``."""
        return normalise(self._rows[np.asarray(rows, dtype=np.int64)])

    def _check(self, *words: Key) -> None:
        for w in words:
            self.index(w)

    def _blocks(self, start: int = 0, stop: int | None = None) -> Iterator[tuple[int, np.ndarray, np.ndarray]]:
        """``(first, rows (b, dim), 1/norms (b,))`` over rows ``start:stop``, one block at a time (memmap-friendly)."""
        stop = len(self) if stop is None else min(stop, len(self))
        for first in range(start, stop, _BLOCK):
            end = min(first + _BLOCK, stop)
            yield first, np.asarray(self._matrix[first:end], dtype=np.float32), inverse_norms(self.norms[first:end])

    def __repr__(self) -> str:
        return f"Vectors({len(self)} words, dim {self.dim})"

    # --- gensim's names ---------------------------------------------------------------
    @property
    def index_to_key(self) -> list[str]:
        return self.words

    @property
    def key_to_index(self) -> KeyToIndex:
        return KeyToIndex(self.vocab)

    @property
    def vectors(self) -> np.ndarray:
        return self._matrix

    @property
    def vector_size(self) -> int:
        return self.dim

    def get_index(self, key: Key, default: int | None = None) -> int:
        """gensim's ``get_index``: the row of ``key``, else ``default``; raises NotInVocabError when that is None."""
        row = self._row(key)
        if row >= 0:
            return row
        if default is not None:
            return default
        return self.index(key)

    def has_index_for(self, key: Key) -> bool:
        return self._row(key) >= 0

    def get_vector(self, key: Key, norm: bool = False) -> np.ndarray:
        """The ``(dim,)`` vector of ``key``, unit length with ``norm`` (a zero vector stays zero)."""
        vec = self[key]
        return normalise(vec[None, :])[0] if norm else vec

    def get_vecattr(self, key: Key, attr: str) -> int:
        """gensim's ``get_vecattr``; embed records one attribute, ``count``. Raises KeyError."""
        if attr != "count" or self.counts is None:
            raise KeyError(
                f"no {attr!r} attribute in these vectors"
                " (counts are known only for trained models and files with a vocab file)"
            )
        return int(self.counts[self.index(key)])

    def get_normed_vectors(self) -> np.ndarray:
        """A unit-length copy of the whole matrix ``(n, dim)`` (zero rows stay zero; gensim divides by 0)."""
        normed: np.ndarray = np.asarray(self._matrix, dtype=np.float32) * inverse_norms(self.norms)[:, None]
        return normed

    def fill_norms(self, force: bool = False) -> None:
        """gensim's ``fill_norms``: norms are always available here; ``force`` recomputes them."""
        if force:
            self._norms = None
        self.norms  # noqa: B018 - computes and keeps them

    def get_mean_vector(
        self,
        keys: Sequence[Key | np.ndarray] | np.ndarray,
        weights: Sequence[float] | np.ndarray | None = None,
        pre_normalize: bool = True,
        post_normalize: bool = False,
        ignore_missing: bool = True,
    ) -> np.ndarray:
        """gensim's weighted mean of words (unit length first with ``pre_normalize``) and raw vectors.

        The sum is divided by the total absolute weight of the terms used; ``post_normalize``
        scales the result to unit length. Returns float32 ``(dim,)``.

        Raises:
            ConfigError: no keys, or weights of another length.
            NotInVocabError: unknown word and not ``ignore_missing``.
        """
        if len(keys) == 0:
            raise ConfigError("cannot compute a mean of no keys; pass at least one word or vector")
        w = (
            np.ones(len(keys), dtype=np.float32)
            if weights is None
            else np.asarray(weights, dtype=np.float32).reshape(-1)
        )
        if w.shape[0] != len(keys):
            raise ConfigError(f"{w.shape[0]} weights for {len(keys)} keys; pass one weight per key")
        mean = np.zeros(self.dim, dtype=np.float32)
        total = 0.0
        for key, weight in zip(keys, w, strict=False):
            if isinstance(key, np.ndarray):
                if key.shape != (self.dim,):
                    raise ConfigError(f"vector of shape {key.shape}, the model has {self.dim} dimensions")
                vec = key
            elif key in self or self.is_oov(key):
                vec = self.get_vector(key, norm=pre_normalize)
            elif not ignore_missing:
                self.index(key)
                continue  # not reached: index raised
            else:
                continue
            mean += weight * vec
            total += abs(float(weight))
        if total > 0:
            mean = mean / np.float32(total)
        return normalise(mean[None, :])[0] if post_normalize else mean

    def to_gensim(self, limit: int | None = None) -> KeyedVectors:
        """A ``gensim.models.KeyedVectors`` copy of the first ``limit`` rows (all by default)."""
        from gensim.models import KeyedVectors

        n = len(self) if limit is None else min(limit, len(self))
        kv = KeyedVectors(self.dim, count=0, dtype=np.float32)
        kv.add_vectors([self.vocab[i] for i in range(n)], np.asarray(self._matrix[:n], dtype=np.float32))
        if self.counts is not None:
            kv.expandos["count"] = np.asarray(self.counts[:n], dtype=np.int64).copy()
        return kv

    # --- queries ----------------------------------------------------------------------
    def _term(self, term: Any, rows: set[int], unit: bool = True) -> int | np.ndarray:
        """A query term as a row (a word or row number; added to ``rows``) or a float32 ``(dim,)`` vector.

        An unknown word of a subword model becomes its n-gram vector (unit length with ``unit``,
        as a word's row would be taken), excluding nothing.
        """
        if isinstance(term, str) and self.is_oov(term):
            vec = self[term]
            return normalise(vec[None, :])[0] if unit else vec
        if _is_key(term):
            row = self.index(term)
            rows.add(row)
            return row
        v = np.asarray(term, dtype=np.float32).reshape(-1)
        if v.shape[0] != self.dim:
            raise ConfigError(f"vector has {v.shape[0]} values, the model has {self.dim} dimensions")
        return v

    def query_vector(
        self, positive: Sequence[Term], negative: Sequence[Term], metric: Metric
    ) -> tuple[np.ndarray, set[int]]:
        """The query for ``positive - negative`` (gensim's rule) and the rows of the words in it.

        Terms are words, rows, raw vectors, or ``(term, weight)`` pairs (default weights +1 and -1).
        Cosine: gensim's ``get_mean_vector`` (unit word vectors, raw vectors as given), unit length.
        Euclidean: the weighted sum of raw vectors, ``sum(positive) - sum(negative)``.

        Raises:
            NotInVocabError: a word is unknown. ConfigError: no terms, or a vector of another length.
        """
        check_metric(metric)
        if not positive and not negative:
            raise ConfigError("a query needs at least one positive or negative word")
        rows: set[int] = set()
        keys: list[int | np.ndarray] = []
        weights: list[float] = []
        for sign, terms in ((1.0, positive), (-1.0, negative)):
            for t in terms:
                term, weight = t, sign
                if isinstance(t, tuple) and len(t) == 2 and isinstance(t[1], Real) and not isinstance(t[0], Real):
                    term, weight = t
                keys.append(self._term(term, rows, unit=metric == "cosine"))
                weights.append(float(weight))
        if metric == "cosine":
            return self.get_mean_vector(
                keys, weights, pre_normalize=True, post_normalize=True, ignore_missing=False
            ), rows
        q = np.zeros(self.dim, dtype=np.float32)
        for k, w in zip(keys, weights, strict=False):
            q += np.float32(w) * (self._rows[k] if not isinstance(k, np.ndarray) else k)
        return q, rows

    def most_similar(
        self,
        positive: Term | Sequence[Term] | None = None,
        negative: Term | Sequence[Term] | None = None,
        topn: int | None = 10,
        clip_start: int = 0,
        clip_end: int | None = None,
        restrict_vocab: int | None = None,
        indexer: Any = None,
        metric: Metric = "cosine",
    ) -> Any:
        """Nearest words to ``positive - negative`` (words, vectors or ``(term, weight)``), query words excluded.

        gensim's arguments: ``restrict_vocab`` searches the first rows only (else rows
        ``clip_start:clip_end``); ``topn=None`` returns the score of every searched row
        (float32); ``indexer`` is a gensim indexer (``indexer.most_similar(vector, topn)``).
        ``metric="cosine"`` returns cosine similarities, highest first; ``"euclidean"`` (embed's)
        Euclidean distances between raw vectors, smallest first.

        Raises:
            NotInVocabError: a query word is unknown. ConfigError: no query, or an unknown metric.
        """
        if isinstance(topn, Integral) and topn < 1:
            return []
        query, exclude = self.query_vector(_as_list(positive), _as_list(negative), metric)
        start, stop = (0, restrict_vocab) if restrict_vocab else (clip_start, clip_end or len(self))
        if indexer is not None and isinstance(topn, int):
            return indexer.most_similar(query, topn)
        if topn is None:
            return self._all_scores(query, metric, start, stop)
        return self._nearest(query, topn, metric, exclude, start, stop)

    def nearest_to_vector(
        self,
        vector: np.ndarray,
        topn: int = 10,
        metric: Metric = "cosine",
        exclude: set[int] | None = None,
        restrict_vocab: int | None = None,
    ) -> list[tuple[str, float]]:
        """Nearest words to a raw vector: cosine similarity (desc) or Euclidean distance (asc)."""
        vector = np.asarray(vector, dtype=np.float32).reshape(-1)
        if vector.shape[0] != self.dim:
            raise ConfigError(f"vector has {vector.shape[0]} dimensions, the model has {self.dim}")
        check_metric(metric)
        q = normalise(vector[None, :])[0] if metric == "cosine" else vector
        return self._nearest(q, topn, metric, exclude or set(), 0, restrict_vocab or len(self))

    def similar_by_key(self, key: Key, topn: int | None = 10, restrict_vocab: int | None = None) -> Any:
        return self.most_similar(positive=[key], topn=topn, restrict_vocab=restrict_vocab)

    similar_by_word = similar_by_key

    def similar_by_vector(
        self, vector: np.ndarray | Sequence[float], topn: int | None = 10, restrict_vocab: int | None = None
    ) -> Any:
        return self.most_similar(
            positive=[np.asarray(vector, dtype=np.float32)], topn=topn, restrict_vocab=restrict_vocab
        )

    def _nearest(
        self, query: np.ndarray, topn: int, metric: Metric, exclude: set[int], start: int, stop: int
    ) -> list[tuple[str, float]]:
        stop = min(stop, len(self))
        if start >= stop:
            return []
        ids, scores = exact_search(
            self._matrix[start:stop], self.norms[start:stop], query[None, :], topn + len(exclude), metric
        )
        out = [
            (self.vocab[i + start], s)
            for i, s in zip(ids[0].tolist(), scores[0].tolist(), strict=False)
            if i + start not in exclude
        ]
        return out[:topn]

    def _all_scores(self, query: np.ndarray, metric: Metric, start: int, stop: int) -> np.ndarray:
        """Scores of rows ``start:stop`` against ``query``: cosine similarities or Euclidean distances, float32."""
        parts = [np.zeros(0, np.float32)]
        for _, rows, inv in self._blocks(start, stop):
            if metric == "cosine":
                parts.append((rows @ query) * inv)
            else:
                diff = rows - query
                parts.append(np.sqrt(np.einsum("ij,ij->i", diff, diff)))
        return np.concatenate(parts).astype(np.float32, copy=False)

    @staticmethod
    def _top(scores: np.ndarray, k: int) -> np.ndarray:
        """Rows of the ``k`` highest ``scores``, highest first; ties keep the lower row first."""
        k = min(k, scores.shape[0])
        if k <= 0:
            return np.zeros(0, dtype=np.int64)
        part = np.argpartition(-scores, k - 1)[:k] if k < scores.shape[0] else np.arange(scores.shape[0])
        return part[np.lexsort((part, -scores[part]))]

    def similarity(self, w1: Key, w2: Key) -> float:
        """Cosine similarity of two words (unknown words of a subword model: their n-gram vectors)."""
        if self.subwords is not None:
            ua, ub = normalise(np.stack([self[w1], self[w2]]))
            return float(np.dot(ua, ub))
        ua, ub = self.unit([self.index(w1), self.index(w2)])
        return float(np.dot(ua, ub))

    def distance(self, w1: Key, w2: Key) -> float:
        """Cosine distance, ``1 - similarity``."""
        return 1.0 - self.similarity(w1, w2)

    def n_similarity(self, ws1: Sequence[Key], ws2: Sequence[Key]) -> float:
        """Cosine similarity of the means of the raw vectors of two word lists (gensim's ``n_similarity``).

        Raises:
            ConfigError: an empty list. NotInVocabError: an unknown word (gensim leaves it out silently).
        """
        if not len(ws1) or not len(ws2):
            raise ConfigError("n_similarity needs at least one word on each side")
        self._check(*ws1, *ws2)
        m1 = self.get_mean_vector(ws1, pre_normalize=False, post_normalize=True)
        m2 = self.get_mean_vector(ws2, pre_normalize=False, post_normalize=True)
        return float(np.dot(m1, m2))

    @staticmethod
    def cosine_similarities(vector_1: np.ndarray, vectors_all: np.ndarray) -> np.ndarray:
        """Cosine similarity of ``vector_1`` ``(dim,)`` with each row of ``vectors_all`` ``(n, dim)``
        (gensim's formula)."""
        norm = np.linalg.norm(vector_1)
        all_norms = np.linalg.norm(vectors_all, axis=1)
        sims: np.ndarray = np.dot(vectors_all, vector_1) / (norm * all_norms)
        return sims

    def distances(self, word_or_vector: Key | np.ndarray, other_words: Sequence[Key] = ()) -> np.ndarray:
        """Cosine distances ``(len(other_words),)`` from a word or vector; to every row (itself too) when
        ``other_words`` is empty.

        Raises:
            NotInVocabError: an unknown word.
        """
        v = (
            self[word_or_vector]
            if _is_key(word_or_vector)
            else np.asarray(word_or_vector, dtype=np.float32).reshape(-1)
        )
        inv_v = inverse_norms(np.array([np.linalg.norm(v)], dtype=np.float32))[0]
        others = [] if other_words is None else list(other_words)
        if others:
            rows = np.asarray([self.index(w) for w in others], dtype=np.int64)
            dist: np.ndarray = 1.0 - (self._rows[rows] @ v) * inverse_norms(self.norms[rows]) * inv_v
            return dist.astype(np.float32)
        out = np.empty(len(self), dtype=np.float32)
        for start, block, inv in self._blocks():
            out[start : start + block.shape[0]] = 1.0 - (block @ v) * inv * inv_v
        return out

    def _closer_rows(self, key1: Key, key2: Key) -> np.ndarray:
        dist = self.distances(key1)
        e1, e2 = self.get_index(key1), self.get_index(key2)
        rows = np.flatnonzero(dist < dist[e2])
        closer: np.ndarray = rows[rows != e1]
        return closer

    def closer_than(self, key1: Key, key2: Key) -> list[str]:
        """Every word closer to ``key1`` than ``key2`` is (``key1`` itself left out), in row order."""
        return [self.vocab[int(i)] for i in self._closer_rows(key1, key2)]

    words_closer_than = closer_than

    def rank(self, key1: Key, key2: Key) -> int:
        """1 + the number of words closer to ``key1`` than ``key2`` is."""
        return int(self._closer_rows(key1, key2).shape[0]) + 1

    def most_similar_to_given(self, key1: Key, keys_list: Sequence[Key]) -> Key:
        """The member of ``keys_list`` most similar to ``key1`` (the first on ties)."""
        return keys_list[int(np.argmax([self.similarity(key1, k) for k in keys_list]))]

    def relative_cosine_similarity(self, wa: Key, wb: Key, topn: int = 10) -> float:
        """``similarity(wa, wb)`` over the sum of ``wa``'s top-``topn`` similarities (Leeuwenberg et al. 2016)."""
        sims = self.similar_by_word(wa, topn)
        if not sims:
            raise ConfigError("relative_cosine_similarity needs topn >= 1")
        total: float = sum(s for _, s in sims)
        return self.similarity(wa, wb) / total

    def rank_by_centrality(self, words: Sequence[str], use_norm: bool = True) -> list[tuple[float, str]]:
        """``(similarity to the mean, word)`` for the known ``words``, most central first; unknown words are
        logged and left out.

        Raises:
            ConfigError: none of the words is known.
        """
        used = [w for w in words if w in self]
        if len(used) != len(words):
            logger.warning(
                "vectors for words %s are not present in the model, ignoring these words", set(words) - set(used)
            )
        if not used:
            raise ConfigError(f"none of {list(words)!r} is in the vocabulary; pass known words")
        vecs = np.vstack([self.get_vector(w, norm=use_norm) for w in used]).astype(np.float32)
        mean = self.get_mean_vector(vecs, post_normalize=True)
        return sorted(zip((vecs @ mean).tolist(), used, strict=False), reverse=True)

    def doesnt_match(self, words: Sequence[str]) -> str:
        """The word furthest from the mean of the others (unknown words are logged and left out)."""
        return self.rank_by_centrality(words)[-1][1]

    def most_similar_cosmul(
        self,
        positive: Term | Sequence[Term] | None = None,
        negative: Term | Sequence[Term] | None = None,
        topn: int | None = 10,
        restrict_vocab: int | None = None,
    ) -> Any:
        """3CosMul (Levy & Goldberg 2014): rank by ``prod((1 + cos(p)) / 2) / (prod((1 + cos(n)) / 2) + 1e-6)``.

        Words are taken at unit length, raw vectors as given (gensim's rule); query words are
        excluded. ``restrict_vocab`` searches the first rows only (gensim 4.4 ignores it).
        ``topn=None`` returns every searched row's score.

        Raises:
            ConfigError: no positive term. NotInVocabError: an unknown word.
        """
        if isinstance(topn, Integral) and topn < 1:
            return []
        pos, neg = _as_list(positive), _as_list(negative)
        if not pos:
            raise ConfigError("most_similar_cosmul needs at least one positive word or vector")
        exclude: set[int] = set()
        terms = [self._term(t, exclude) for t in pos + neg]
        cols = np.stack(
            [normalise(self._rows[t][None, :])[0] if not isinstance(t, np.ndarray) else t for t in terms], axis=1
        )
        parts = []
        for _, rows, inv in self._blocks(0, restrict_vocab):
            shifted = (1.0 + (rows @ cols) * inv[:, None]) / 2.0
            parts.append(np.prod(shifted[:, : len(pos)], axis=1) / (np.prod(shifted[:, len(pos) :], axis=1) + 1e-6))
        scores = np.concatenate(parts).astype(np.float32, copy=False)
        if topn is None:
            return scores
        best = [int(i) for i in self._top(scores, topn + len(exclude)) if int(i) not in exclude]
        return [(self.vocab[i], float(scores[i])) for i in best[:topn]]

    def analogy(
        self, a: str, b: str, c: str, topn: int = 1, method: Literal["3cosadd", "3cosmul"] = "3cosadd"
    ) -> list[tuple[str, float]]:
        """``a : b :: c : ?`` by 3CosAdd (``b - a + c``) or 3CosMul (Levy & Goldberg 2014)."""
        hits: list[tuple[str, float]]
        if method == "3cosadd":
            hits = self.most_similar(positive=[b, c], negative=[a], topn=topn)
            return hits
        if method != "3cosmul":
            raise ConfigError(f"method must be '3cosadd' or '3cosmul', got {method!r}")
        hits = self.most_similar_cosmul(positive=[b, c], negative=[a], topn=topn)
        return hits

    # --- evaluation and files (gensim and embed.io do the work) -------------------------
    def evaluate(
        self, analogies: Sequence[str] | None = None, pairs: Sequence[str] | None = None, restrict_vocab: int = 30_000
    ) -> EvalReport:
        """Analogy accuracy and word-pair Spearman; ``None``: the sets for the model's language
        (:func:`embed.evaluate.evaluate`)."""
        from embed.evaluate import evaluate

        return evaluate(self, analogies=analogies, pairs=pairs, restrict_vocab=restrict_vocab)

    def evaluate_word_analogies(
        self,
        analogies: str | os.PathLike[str],
        restrict_vocab: int = 300_000,
        case_insensitive: bool = True,
        dummy4unknown: bool = False,
        similarity_function: str = "most_similar",
    ) -> tuple[float, list[dict[str, Any]]]:
        """gensim's ``evaluate_word_analogies``, run by gensim on a copy of the first ``restrict_vocab`` rows."""
        kv = self.to_gensim(limit=restrict_vocab)
        result: tuple[float, list[dict[str, Any]]] = kv.evaluate_word_analogies(
            str(analogies), restrict_vocab, case_insensitive, dummy4unknown, similarity_function
        )
        return result

    def evaluate_word_pairs(
        self,
        pairs: str | os.PathLike[str],
        delimiter: str = "\t",
        encoding: str = "utf8",
        restrict_vocab: int = 300_000,
        case_insensitive: bool = True,
        dummy4unknown: bool = False,
    ) -> tuple[Any, Any, float]:
        """gensim's ``evaluate_word_pairs`` (Pearson, Spearman, OOV %), run by gensim on a copy of the first
        ``restrict_vocab`` rows."""
        kv = self.to_gensim(limit=restrict_vocab)
        result: tuple[Any, Any, float] = kv.evaluate_word_pairs(
            str(pairs), delimiter, encoding, restrict_vocab, case_insensitive, dummy4unknown
        )
        return result

    def save_word2vec_format(
        self,
        fname: str | os.PathLike[str],
        fvocab: str | os.PathLike[str] | None = None,
        binary: bool = False,
        total_vec: int | None = None,
        write_header: bool = True,
        prefix: str = "",
        append: bool = False,
        sort_attr: str = "count",
    ) -> None:
        """gensim's writer (text, or ``binary``; ``fvocab``: ``word count`` lines), each file written under a
        temporary name and renamed.

        Raises:
            ConfigError: ``fvocab`` given for vectors without counts.
        """
        import shutil

        from embed.io import atomic_file

        if fvocab is not None and self.counts is None:
            raise ConfigError(f"{fvocab}: these vectors hold no counts to write; pass fvocab=None")
        kv = self.to_gensim()
        with contextlib.ExitStack() as stack:
            tmp = stack.enter_context(atomic_file(fname))
            tmp_vocab = None if fvocab is None else stack.enter_context(atomic_file(fvocab))
            for path, dest in ((fname, tmp), (fvocab, tmp_vocab)):
                if append and path is not None and dest is not None and os.path.exists(path):
                    shutil.copyfile(path, dest)
            kv.save_word2vec_format(
                str(tmp),
                fvocab=None if tmp_vocab is None else str(tmp_vocab),
                binary=binary,
                total_vec=total_vec,
                write_header=write_header,
                prefix=prefix,
                append=append,
                sort_attr=sort_attr,
            )

    def save(self, path: str | os.PathLike[str], overwrite: bool = False, word2vec: bool = False) -> Any:
        """Write a model directory that :func:`embed.load` memory-maps (``word2vec``: also ``vectors.bin``);
        returns its path.

        ``meta`` is kept (the tokenizer too, so case folding survives). Not gensim's pickle file.

        Raises:
            OutputError: ``path`` exists (without ``overwrite``) or cannot be written.
        """
        from embed.io import save_model_dir

        meta = {
            k: v
            for k, v in self.meta.items()
            if k not in ("format", "version", "store", "vectors_file", "path", "subwords")
        }
        return save_model_dir(path, self, meta, overwrite=overwrite, word2vec=word2vec)

    @classmethod
    def load(cls, fname: str | os.PathLike[str], mmap: str | None = None) -> Vectors:
        """:func:`embed.load` under gensim's name: a model directory (always memory-mapped; ``mmap`` is ignored)
        or a vectors file."""
        from embed.io import load

        return load(fname)

    @classmethod
    def load_word2vec_format(
        cls,
        fname: str | os.PathLike[str],
        fvocab: str | os.PathLike[str] | None = None,
        binary: bool = False,
        encoding: str = "utf8",
        unicode_errors: str = "strict",
        limit: int | None = None,
        datatype: Any = np.float32,
        no_header: bool = False,
    ) -> Vectors:
        """Read a word2vec binary/text (or GloVe) file into memory with embed's reader (the format is detected,
        ``binary`` and ``no_header`` are not needed); with ``fvocab`` or another ``encoding``/``unicode_errors``,
        gensim's reader.

        For large files prefer ``embed import`` and :func:`embed.load` (memory-mapped).

        Raises:
            FormatError: not a vectors file. ConfigError: a ``datatype`` other than float32.
        """
        if np.dtype(datatype) != np.float32:
            raise ConfigError(f"datatype {np.dtype(datatype)}: embed keeps float32 vectors; leave datatype out")
        if fvocab is None and encoding == "utf8" and unicode_errors == "strict":
            from embed.io import load_vectors_file

            return load_vectors_file(fname, limit=limit)
        from gensim.models import KeyedVectors

        kv = KeyedVectors.load_word2vec_format(
            str(fname),
            fvocab=None if fvocab is None else str(fvocab),
            binary=binary,
            encoding=encoding,
            unicode_errors=unicode_errors,
            limit=limit,
            no_header=no_header,
        )
        return cls.from_gensim(kv, meta={"source": str(fname)})
