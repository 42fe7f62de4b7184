"""Word vectors: a vocabulary and a float32 matrix (in memory or memory-mapped), with the queries gensim users know.

``Vectors`` owns plain numpy arrays; no gensim object lives inside. Queries are exact
(blocked matrix products, :func:`embed.neighbours.exact_search`); approximate ones go
through :mod:`embed.search` and a FAISS index. gensim is used only on request:
:meth:`Vectors.to_gensim` (a copy) for evaluation. No file I/O here (see :mod:`embed.io`).
"""

from __future__ import annotations

from collections.abc import Iterator, Mapping, Sequence
from typing import TYPE_CHECKING, Any, Literal, Union

import numpy as np

from embed.errors import ConfigError, NotInVocabError
from embed.neighbours import Metric, check_metric, exact_search, inverse_norms, normalise
from embed.store import ListWords, MappedWords, fingerprint

if TYPE_CHECKING:
    from gensim.models import KeyedVectors

    from embed.evaluate import EvalReport

Term = Union[str, np.ndarray, Sequence[float]]


def _as_list(words: Term | Sequence[Term] | None) -> list[Term]:
    if words is None:
        return []
    if isinstance(words, (str, np.ndarray)):
        return [words]
    items = list(words)
    if items and all(isinstance(x, (int, float, np.floating)) for x in items):
        return [np.asarray(items, dtype=np.float32)]  # one raw vector given as a list of numbers
    return items


class KeyToIndex(Mapping[str, int]):
    """``word -> row`` over the vocabulary without building a dict (gensim's ``key_to_index``)."""

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

    ``vectors["king"]`` returns a vector (shape ``(dim,)``); ``most_similar``,
    ``similarity``, ``analogy`` and ``evaluate`` answer queries. ``matrix`` may be a read-only
    ``np.memmap`` (a model directory's store): nothing is read until a query needs it.
    """

    def __init__(
        self,
        vocab: ListWords | MappedWords,
        matrix: np.ndarray,
        norms: np.ndarray | None = None,
        counts: np.ndarray | None = None,
        meta: dict[str, Any] | None = None,
    ) -> None:
        if matrix.ndim != 2 or matrix.shape[0] != len(vocab) or matrix.dtype != np.float32:
            raise ConfigError(f"matrix {matrix.dtype} {matrix.shape} does not match {len(vocab)} words (float32 (n, dim) expected)")
        self.vocab = vocab
        self._matrix = matrix
        self._rows = np.asarray(matrix)  # a plain view for indexing (np.memmap's __getitem__ is slow)
        self._norms = norms
        self.counts = counts
        self.meta: dict[str, Any] = dict(meta or {})
        self._fingerprint: str | None = None

    @classmethod
    def from_arrays(
        cls,
        words: Sequence[str],
        matrix: np.ndarray,
        counts: Sequence[int] | None = None,
        meta: dict[str, Any] | None = None,
    ) -> "Vectors":
        """Build in memory from a word list and a ``(len(words), dim)`` matrix.

        Raises:
            ConfigError: shapes disagree, or a word repeats.
        """
        matrix = np.ascontiguousarray(matrix, dtype=np.float32)
        if matrix.ndim != 2 or matrix.shape[0] != len(words):
            raise ConfigError(f"matrix shape {matrix.shape} does not match {len(words)} words")
        c = None if counts is None else np.asarray(counts, dtype=np.int64)
        return cls(ListWords(words), matrix, counts=c, meta=meta)

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
        """``(vocab,)`` float32 row norms (stored with a model directory, else computed once)."""
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

    def __len__(self) -> int:
        return len(self.vocab)

    def __contains__(self, word: object) -> bool:
        return isinstance(word, str) and self.vocab.get(word) >= 0

    def __iter__(self) -> Iterator[str]:
        """The words in row order (as ``iter(kv)`` over gensim's ``index_to_key``)."""
        return iter(self.vocab)

    def __getitem__(self, word: str) -> np.ndarray:
        return self._rows[self.index(word)]

    def index(self, word: str) -> int:
        """Row of ``word``. Raises NotInVocabError."""
        row = self.vocab.get(word) if isinstance(word, str) else -1
        if row < 0:
            raise NotInVocabError(str(word))
        return row

    def word(self, row: int) -> str:
        return self.vocab[row]

    def count(self, word: str) -> int | None:
        """Corpus count of ``word`` where the file recorded counts, else ``None``."""
        row = self.index(word)
        return None if self.counts is None else int(self.counts[row])

    def unit(self, rows: Sequence[int] | np.ndarray) -> np.ndarray:
        """Unit-length float32 copies of ``rows`` ``(len(rows), dim)``."""
        return normalise(self._rows[np.asarray(rows, dtype=np.int64)])

    def _check(self, *words: str) -> None:
        for w in words:
            self.index(w)

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

    def get_vector(self, word: str, norm: bool = False) -> np.ndarray:
        vec = self[word]
        return normalise(vec[None, :])[0] if norm else vec

    def to_gensim(self, limit: int | None = None) -> "KeyedVectors":
        """A ``gensim.models.KeyedVectors`` copy of the first ``limit`` rows (all by default)."""
        from gensim.models import KeyedVectors

        n = len(self) if limit is None else min(limit, len(self))
        kv = KeyedVectors(self.dim, count=0, dtype=np.float32)
        kv.add_vectors([self.vocab[i] for i in range(n)], np.asarray(self._matrix[:n], dtype=np.float32))
        if self.counts is not None:
            kv.expandos["count"] = np.asarray(self.counts[:n], dtype=np.int64).copy()
        return kv

    # --- queries ----------------------------------------------------------------------
    def query_vector(self, positive: Sequence[Term], negative: Sequence[Term], metric: Metric) -> tuple[np.ndarray, set[int]]:
        """The query for ``positive - negative`` (gensim's rule) and the rows of the words in it.

        Cosine: the mean of unit vectors (+1 positive, -1 negative), scaled to unit length.
        Euclidean: ``sum(positive) - sum(negative)`` of raw vectors. Terms are words or vectors.

        Raises:
            NotInVocabError: a word is unknown. ConfigError: no terms, or a vector of another length.
        """
        check_metric(metric)
        if not positive and not negative:
            raise ConfigError("a query needs at least one positive or negative word")
        rows: set[int] = set()
        parts = []
        for sign, terms in ((1.0, positive), (-1.0, negative)):
            for t in terms:
                if isinstance(t, str):
                    row = self.index(t)
                    rows.add(row)
                    v = self._rows[row]
                else:
                    v = np.asarray(t, dtype=np.float32).reshape(-1)
                    if v.shape[0] != self.dim:
                        raise ConfigError(f"vector has {v.shape[0]} values, the model has {self.dim} dimensions")
                parts.append(sign * (normalise(v[None, :])[0] if metric == "cosine" else v))
        q = np.sum(parts, axis=0, dtype=np.float32)
        if metric == "cosine":
            q = normalise((q / len(parts))[None, :])[0]
        return q.astype(np.float32), rows

    def most_similar(
        self,
        positive: Term | Sequence[Term] | None = None,
        negative: Term | Sequence[Term] | None = None,
        topn: int | None = 10,
        metric: Metric = "cosine",
        restrict_vocab: int | None = None,
    ) -> Any:
        """Nearest words to ``positive - negative`` (words or vectors), query words excluded.

        ``metric="cosine"`` returns cosine similarities, highest first (gensim's ``most_similar``);
        ``"euclidean"`` returns Euclidean distances between raw vectors, smallest first.
        ``topn=None`` returns the score of every row (float32 ``(n,)``), as gensim does.

        Raises:
            NotInVocabError: a query word is unknown. ConfigError: no query, or an unknown metric.
        """
        query, exclude = self.query_vector(_as_list(positive), _as_list(negative), metric)
        if topn is None:
            return self._all_scores(query, metric, restrict_vocab)
        return self._nearest(query, topn, metric, exclude, restrict_vocab)

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
        return self._nearest(q, topn, metric, exclude or set(), restrict_vocab)

    def similar_by_word(self, word: str, topn: int = 10, restrict_vocab: int | None = None) -> list[tuple[str, float]]:
        return self.most_similar(word, topn=topn, restrict_vocab=restrict_vocab)  # type: ignore[no-any-return]

    def similar_by_vector(self, vector: np.ndarray, topn: int = 10, restrict_vocab: int | None = None) -> list[tuple[str, float]]:
        return self.nearest_to_vector(vector, topn=topn, restrict_vocab=restrict_vocab)

    def _nearest(self, query: np.ndarray, topn: int, metric: Metric, exclude: set[int], restrict_vocab: int | None) -> list[tuple[str, float]]:
        ids, scores = exact_search(self._matrix, self.norms, query[None, :], topn + len(exclude), metric, limit=restrict_vocab)
        out = [(self.vocab[i], s) for i, s in zip(ids[0].tolist(), scores[0].tolist()) if i not in exclude]
        return out[:topn]

    def _all_scores(self, query: np.ndarray, metric: Metric, restrict_vocab: int | None) -> np.ndarray:
        n = len(self) if restrict_vocab is None else min(restrict_vocab, len(self))
        m = np.asarray(self._matrix[:n], dtype=np.float32)
        if metric == "cosine":
            return (m @ query) * inverse_norms(self.norms[:n])
        return np.linalg.norm(m - query[None, :], axis=1).astype(np.float32)

    def similarity(self, a: str, b: str) -> float:
        """Cosine similarity of two words."""
        ua, ub = self.unit([self.index(a), self.index(b)])
        return float(np.dot(ua, ub))

    def n_similarity(self, a: Sequence[str], b: Sequence[str]) -> float:
        """Cosine similarity of the means of two word lists (gensim's ``n_similarity``)."""
        if not len(a) or not len(b):
            raise ConfigError("n_similarity needs at least one word on each side")
        # gensim averages the raw vectors, not unit ones
        ma = np.asarray(self._matrix[[self.index(w) for w in a]], dtype=np.float64).mean(0)
        mb = np.asarray(self._matrix[[self.index(w) for w in b]], dtype=np.float64).mean(0)
        return float(normalise(ma[None, :])[0].astype(np.float64) @ normalise(mb[None, :])[0])

    def analogy(self, a: str, b: str, c: str, topn: int = 1, method: Literal["3cosadd", "3cosmul"] = "3cosadd") -> list[tuple[str, float]]:
        """``a : b :: c : ?`` by 3CosAdd (``b - a + c``) or 3CosMul (Levy & Goldberg 2014)."""
        if method == "3cosadd":
            return self.most_similar(positive=[b, c], negative=[a], topn=topn)  # type: ignore[no-any-return]
        if method != "3cosmul":
            raise ConfigError(f"method must be '3cosadd' or '3cosmul', got {method!r}")
        rows = [self.index(w) for w in (a, b, c)]
        ua, ub, uc = self.unit(rows)
        parts = []
        for start in range(0, len(self), 65_536):  # gensim's most_similar_cosmul, block by block
            m = np.asarray(self._matrix[start : start + 65_536], dtype=np.float32)
            cos = (m @ np.stack([ua, ub, uc]).T) * inverse_norms(self.norms[start : start + 65_536])[:, None]
            cos = (1.0 + cos) / 2.0
            parts.append(cos[:, 1] * cos[:, 2] / (cos[:, 0] + 1e-6))
        score = np.concatenate(parts)
        score[rows] = -np.inf
        top = np.argsort(-score, kind="stable")[:topn]
        return [(self.vocab[int(i)], float(score[i])) for i in top]

    def evaluate(self, analogies: Sequence[str] = ("google",), pairs: Sequence[str] = ("ws353", "simlex999"), restrict_vocab: int = 30_000) -> "EvalReport":
        """Analogy accuracy and word-pair Spearman; see :func:`embed.evaluate.evaluate`."""
        from embed.evaluate import evaluate

        return evaluate(self, analogies=analogies, pairs=pairs, restrict_vocab=restrict_vocab)
