"""Nearest-word queries over a :class:`Vectors` and its :class:`WordIndex`.

Exact results match :meth:`Vectors.most_similar` for the same query: the same query vector
(:meth:`Vectors.query_vector`), query words excluded, cosine similarity highest first or
Euclidean distance lowest first. ``exact`` chooses the method: ``True`` always exact (a
table look-up or a scan of the matrix), ``False`` the ANN index where one exists for the
metric, ``None`` (the default) exact where that is cheap - a table covers the query, or the
vocabulary has at most :data:`embed.index.EXACT_MAX_WORDS` words - and the ANN index otherwise.

A subword model answers words outside its vocabulary from their n-gram vectors
(:meth:`Vectors.is_oov`); :attr:`Hits.oov` names the query words that were answered so.
A word-only model raises :class:`NotInVocabError` (with suggestions) as before.
"""

from __future__ import annotations

import math
from collections import defaultdict
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import cast

import numpy as np

from embed.errors import ConfigError, NotInVocabError
from embed.index import EXACT_MAX_WORDS, IndexConfig, WordIndex, load_index
from embed.neighbours import Metric, check_metric
from embed.vectors import Vectors

# An exact scan of at most this many multiply-adds (rows x dim) counts as cheap: ~0.1 ms on one core,
# e.g. a 10k-word x 100-dim model's OOV query (bench/subwords_http.py).
CHEAP_SCAN = 2_000_000
# An HNSW search at most this wide counts as cheap: ~2.5 ms at 2M x 300 words (BENCHMARKS.md, issue 15).
CHEAP_EF = 256


@dataclass(frozen=True)
class Hits:
    """Ranked results: ``words[i]`` has ``scores[i]``; ``method`` is table, flat, hnsw, ivf or 3cosmul.

    ``oov``: the query words that are not in the vocabulary and were built from their n-grams
    (a subword model); empty otherwise.
    """

    words: list[str]
    scores: list[float]
    method: str
    oov: tuple[str, ...] = ()

    @property
    def exact(self) -> bool:
        return self.method in ("table", "flat", "3cosmul")


@dataclass(frozen=True)
class Query:
    """One nearest-word query: by ``word``, by ``positive``/``negative`` words, or by ``vector``."""

    word: str | None = None
    positive: Sequence[str] = field(default_factory=tuple)
    negative: Sequence[str] = field(default_factory=tuple)
    vector: Sequence[float] | np.ndarray | None = None
    k: int = 10
    metric: Metric = "cosine"
    exact: bool | None = None
    ef_search: int | None = None  # HNSW search breadth for this query; None: the index's stored value


class Searcher:
    """Answers similar-word queries from exact tables, exact scans and FAISS indexes."""

    def __init__(self, vectors: Vectors, index: WordIndex | None = None, exact_max_words: int | None = None) -> None:
        self.vectors = vectors
        self.exact_max_words = EXACT_MAX_WORDS if exact_max_words is None else exact_max_words
        # Without a built index: no tables, exact search only.
        self.index = index if index is not None else WordIndex(IndexConfig(kind="flat"), {}, None).attach(vectors)
        # Rows holding NaN/inf (an import with allow_nonfinite) have no score: never answered, never a query.
        self._nonfinite = int(np.count_nonzero(~np.isfinite(vectors.norms)))

    @classmethod
    def open(cls, model_dir: str | Path, exact_max_words: int | None = None) -> Searcher:
        """Open a model directory and its ``index/`` (if any), memory-mapped. Raises FormatError."""
        from embed.io import load

        vectors = load(model_dir)
        return cls(vectors, load_index(model_dir, vectors), exact_max_words)

    def row(self, word: str) -> int:
        """Row of ``word``. Raises NotInVocabError."""
        return self.vectors.index(word)

    def is_lookup(self, word: str | None, k: int, metric: str) -> bool:
        """True when a table answers this by-word query (microseconds: no thread needed)."""
        return word is not None and metric in self.index.tables and k <= self.index.k_max and not self.is_oov(word)

    def is_oov(self, word: str) -> bool:
        """True when ``word`` is answered from its n-grams (a subword model, a word outside the vocabulary)."""
        return self.vectors.is_oov(word)

    def oov_words(self, q: Query) -> tuple[str, ...]:
        """The words of ``q`` that a subword model builds from n-grams."""
        if not self.vectors.has_subwords:
            return ()
        words = [q.word] if q.word is not None else [*q.positive, *q.negative]
        return tuple(w for w in words if isinstance(w, str) and self.is_oov(w))

    def is_cheap(self, word: str | None, k: int, metric: str, exact: bool | None, ef_search: int | None = None) -> bool:
        """A by-word query answered by a table, the ANN index (at most :data:`CHEAP_EF` wide) or a small exact
        scan (a few milliseconds at most)."""
        if word is None:
            return False
        small = len(self.vectors) * self.vectors.dim <= CHEAP_SCAN
        narrow = ef_search is None or ef_search <= CHEAP_EF
        return small or self.is_lookup(word, k, metric) or (narrow and not self.use_exact(exact, metric))

    def use_exact(self, exact: bool | None, metric: str) -> bool:
        if not self.index.has_ann(metric):
            return True
        return exact if exact is not None else len(self.vectors) <= self.exact_max_words

    def by_word(
        self,
        word: str,
        k: int = 10,
        metric: Metric = "cosine",
        exact: bool | None = None,
        ef_search: int | None = None,
    ) -> Hits:
        """Top-``k`` neighbours of one word: a table look-up when one covers ``k``. ``ef_search``: the HNSW
        search breadth, when the HNSW index answers (None: the index's stored value)."""
        return self.batch([Query(word=word, k=k, metric=metric, exact=exact, ef_search=ef_search)])[0]

    def by_words(
        self,
        positive: Sequence[str],
        negative: Sequence[str],
        k: int = 10,
        metric: Metric = "cosine",
        exact: bool | None = None,
    ) -> Hits:
        """Neighbours of ``positive - negative`` (gensim's rule), query words excluded.

        Raises:
            NotInVocabError: a word is unknown. ConfigError: no words.
        """
        if len(positive) == 1 and not negative:
            return self.by_word(positive[0], k, metric, exact)
        return self.batch([Query(positive=positive, negative=negative, k=k, metric=metric, exact=exact)])[0]

    def by_vector(
        self, vector: Sequence[float] | np.ndarray, k: int = 10, metric: Metric = "cosine", exact: bool | None = None
    ) -> Hits:
        """Neighbours of a raw ``(dim,)`` vector (normalised for cosine); nothing excluded.

        Raises:
            ConfigError: wrong length, non-finite values, or a zero vector for cosine.
        """
        return self.batch([Query(vector=vector, k=k, metric=metric, exact=exact)])[0]

    def analogy(self, a: str, b: str, c: str, k: int = 10, method: str = "3cosadd", exact: bool | None = None) -> Hits:
        """``a : b :: c : ?`` - 3CosAdd (``b - a + c``, via the index) or 3CosMul (exact scan)."""
        if method == "3cosadd":
            return self.by_words([b, c], [a], k, "cosine", exact)
        if method == "3cosmul":
            res = [
                (w, s)
                for w, s in self.vectors.analogy(a, b, c, topn=k + self._nonfinite, method="3cosmul")
                if math.isfinite(s)
            ]
            oov = self.oov_words(Query(positive=(b, c), negative=(a,)))
            return Hits([w for w, _ in res[:k]], [s for _, s in res[:k]], "3cosmul", oov)
        raise ConfigError(f"method must be '3cosadd' or '3cosmul', got {method!r}")

    def batch(self, queries: Sequence[Query]) -> list[Hits]:
        """Answer every query; those sharing a metric and method are one matrix product or one FAISS call.

        Raises:
            NotInVocabError, ConfigError: as the single-query methods (the first bad query).
        """
        return cast("list[Hits]", self._answer(queries, keep_errors=False))  # errors raised instead: all Hits

    def batch_or_errors(self, queries: Sequence[Query]) -> list[Hits | NotInVocabError | ConfigError]:
        """As :meth:`batch`, but a bad query's place holds its error and the other queries are answered."""
        return self._answer(queries, keep_errors=True)

    def _answer(self, queries: Sequence[Query], keep_errors: bool) -> list[Hits | NotInVocabError | ConfigError]:
        """``keep_errors=False``: the first bad query raises, before any search is run."""
        out: list[Hits | NotInVocabError | ConfigError | None] = [None] * len(queries)
        groups: dict[tuple[Metric, bool, int | None], list[tuple[int, np.ndarray, set[int], int]]] = defaultdict(list)
        for i, q in enumerate(queries):
            exact = self.use_exact(q.exact, q.metric)
            try:
                prepared = self._prepare(q)
                if not exact and not isinstance(prepared, Hits):
                    self.index.check_ef_search(q.ef_search)
            except (NotInVocabError, ConfigError) as e:
                if not keep_errors:
                    raise
                out[i] = e
                continue
            if isinstance(prepared, Hits):
                out[i] = prepared
            else:
                groups[(q.metric, exact, None if exact else q.ef_search)].append((i, *prepared, q.k))
        for (metric, exact, ef_search), items in groups.items():
            k_all = max(k + len(ex) for _, _, ex, k in items) + self._nonfinite
            ids, scores, method = self.index.search(
                np.stack([v for _, v, _, _ in items]), k_all, metric, exact, ef_search
            )
            for (i, _, exclude, k), row_ids, row_scores in zip(items, ids.tolist(), scores.tolist(), strict=False):
                words, kept = [], []
                for j, s in zip(row_ids, row_scores, strict=False):
                    if j < 0 or j in exclude or not math.isfinite(s):
                        continue
                    words.append(self.vectors.word(j))
                    kept.append(s)
                    if len(words) == k:
                        break
                out[i] = Hits(words, kept, method, self.oov_words(queries[i]))
        return [h for h in out if h is not None]

    def _prepare(self, q: Query) -> Hits | tuple[np.ndarray, set[int]]:
        """A table's answer, or the query vector and the rows to leave out of its results."""
        check_metric(q.metric)
        if q.word is not None and self.vectors.has_subwords and self.is_oov(q.word):
            vec, rows = self.vectors.query_vector([q.word], [], q.metric)  # its n-gram vector; nothing excluded
        elif q.word is not None:
            row = self.row(q.word)
            hit = self.index.lookup(row, q.k, q.metric)
            if hit is not None and (
                not self._nonfinite or np.isfinite(hit[1]).all()
            ):  # else: the scan below skips NaN rows
                return Hits([self.vectors.word(j) for j in hit[0].tolist()], hit[1].tolist(), "table")
            vec, rows = self.vectors.query_vector([q.word], [], q.metric)
        elif q.vector is not None:
            return self._vector(q.vector, q.metric), set()
        else:
            vec, rows = self.vectors.query_vector(list(q.positive), list(q.negative), q.metric)
        if self._nonfinite and not np.isfinite(vec).all():
            bad = [self.vectors.word(r) for r in sorted(rows) if not math.isfinite(float(self.vectors.norms[r]))]
            raise ConfigError(
                f"the vector of {', '.join(map(repr, bad))} holds NaN or inf (imported with allow_nonfinite);"
                " it has no neighbours"
            )
        return vec, rows

    def _vector(self, vector: Sequence[float] | np.ndarray, metric: str) -> np.ndarray:
        q = np.asarray(vector, dtype=np.float32).reshape(-1)
        if q.shape[0] != self.vectors.dim:
            raise ConfigError(f"vector has {q.shape[0]} values, the model has {self.vectors.dim} dimensions")
        norm = float(np.linalg.norm(q.astype(np.float64)))
        if not np.isfinite(q).all() or not np.isfinite(norm):
            raise ConfigError("vector holds values too large for float32 or not finite")
        if metric == "cosine":
            if norm == 0.0:
                raise ConfigError("vector is all zeros; cosine similarity is undefined for it")
            q = (q.astype(np.float64) / norm).astype(np.float32)
        return q
