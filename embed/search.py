"""Nearest-word queries over a :class:`Vectors` and its :class:`WordIndex`.

Results match :meth:`Vectors.most_similar` (gensim) for the same query: the same query
vector (:func:`embed.neighbours.query_vector`), query words excluded, cosine similarity
highest first or Euclidean distance lowest first.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from embed.errors import ConfigError
from embed.index import IndexConfig, WordIndex, load_index
from embed.neighbours import Metric, check_metric, query_vector
from embed.vectors import Vectors


@dataclass(frozen=True)
class Hits:
    """Ranked results: ``words[i]`` has ``scores[i]``; ``method`` is table, flat, hnsw, ivf or gensim."""

    words: list[str]
    scores: list[float]
    method: str

    @property
    def exact(self) -> bool:
        return self.method in ("table", "flat", "gensim")


class Searcher:
    """Answers similar-word queries from exact tables and FAISS indexes."""

    def __init__(self, vectors: Vectors, index: WordIndex | None = None) -> None:
        self.vectors = vectors
        # Without a built index: no tables, exact flat search only.
        self.index = index if index is not None else WordIndex(IndexConfig(kind="flat"), {}, None).attach(vectors)
        self._keys = vectors.kv.index_to_key
        self._rows = vectors.kv.key_to_index

    @classmethod
    def open(cls, model_dir: str | Path) -> "Searcher":
        """Load a model directory and its ``index/`` (if any). Raises FormatError."""
        from embed.io import load

        vectors = load(model_dir)
        return cls(vectors, load_index(model_dir, vectors))

    def row(self, word: str) -> int:
        """Row of ``word``. Raises NotInVocabError."""
        return self.vectors.index(word)

    def by_word(self, word: str, k: int = 10, metric: Metric = "cosine", exact: bool = True) -> Hits:
        """Top-``k`` neighbours of one word: a table look-up when ``k <= k_max``."""
        row = self.row(word)
        check_metric(metric)
        if metric in self.index.tables:
            hit = self.index.lookup(row, k, metric)
            if hit is not None:
                ids, scores = hit
                keys = self._keys
                return Hits([keys[i] for i in ids.tolist()], scores.tolist(), "table")
        return self.by_words([word], [], k, metric, exact)

    def by_words(self, positive: Sequence[str], negative: Sequence[str], k: int = 10, metric: Metric = "cosine", exact: bool = True) -> Hits:
        """Neighbours of ``positive - negative`` (gensim's rule), query words excluded.

        Raises:
            NotInVocabError: a word is unknown. ConfigError: no words.
        """
        if len(positive) == 1 and not negative and metric in self.index.tables and k <= self.index.k_max:
            return self.by_word(positive[0], k, metric, exact)
        query = query_vector(self.vectors, positive, negative, metric)
        exclude = {self._rows[w] for w in (*positive, *negative)}
        return self._search(query, k, metric, exact, exclude)

    def by_vector(self, vector: Sequence[float] | np.ndarray, k: int = 10, metric: Metric = "cosine", exact: bool = True) -> Hits:
        """Neighbours of a raw ``(dim,)`` vector (normalised for cosine); nothing excluded.

        Raises:
            ConfigError: wrong length, non-finite values, or a zero vector for cosine.
        """
        check_metric(metric)
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
        return self._search(q, k, metric, exact, set())

    def analogy(self, a: str, b: str, c: str, k: int = 10, method: str = "3cosadd", exact: bool = True) -> Hits:
        """``a : b :: c : ?`` - 3CosAdd (``b - a + c``, via the index) or 3CosMul (gensim, exact)."""
        if method == "3cosadd":
            return self.by_words([b, c], [a], k, "cosine", exact)
        if method == "3cosmul":
            res = self.vectors.analogy(a, b, c, topn=k, method="3cosmul")
            return Hits([w for w, _ in res], [s for _, s in res], "gensim")
        raise ConfigError(f"method must be '3cosadd' or '3cosmul', got {method!r}")

    def _search(self, query: np.ndarray, k: int, metric: Metric, exact: bool, exclude: set[int]) -> Hits:
        ids, scores, method = self.index.search(query[None, :], k + len(exclude), metric, exact)
        words: list[str] = []
        out: list[float] = []
        for i, s in zip(ids[0].tolist(), scores[0].tolist()):
            if i < 0 or i in exclude:
                continue
            words.append(self._keys[i])
            out.append(s)
            if len(words) == k:
                break
        return Hits(words, out, method)
