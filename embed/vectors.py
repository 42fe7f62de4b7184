"""Word vectors in memory: words + a float32 matrix, with the queries gensim users know.

The heavy lifting (cosine neighbours, analogies, evaluation) is delegated to
:class:`gensim.models.KeyedVectors`, available as :attr:`Vectors.kv`. No file I/O here.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import TYPE_CHECKING, Any, Literal

import numpy as np

from embed.errors import ConfigError, NotInVocabError

if TYPE_CHECKING:
    from gensim.models import KeyedVectors

    from embed.evaluate import EvalReport

Metric = Literal["cosine", "euclidean"]


def _as_list(words: str | Sequence[str] | None) -> list[str]:
    if words is None:
        return []
    if isinstance(words, str):
        return [words]
    return list(words)


class Vectors:
    """A vocabulary of words, each with a dense float32 vector.

    ``vectors["king"]`` returns a vector (shape ``(dim,)``); ``most_similar``,
    ``similarity``, ``analogy`` and ``evaluate`` answer queries.
    """

    def __init__(self, kv: "KeyedVectors", meta: dict[str, Any] | None = None) -> None:
        self.kv = kv
        self.meta: dict[str, Any] = dict(meta or {})

    @classmethod
    def from_arrays(
        cls,
        words: Sequence[str],
        matrix: np.ndarray,
        counts: Sequence[int] | None = None,
        meta: dict[str, Any] | None = None,
    ) -> "Vectors":
        """Build from a word list and a ``(len(words), dim)`` matrix."""
        from gensim.models import KeyedVectors

        matrix = np.ascontiguousarray(matrix, dtype=np.float32)
        if matrix.ndim != 2 or matrix.shape[0] != len(words):
            raise ConfigError(f"matrix shape {matrix.shape} does not match {len(words)} words")
        kv = KeyedVectors(matrix.shape[1], dtype=np.float32)
        kv.add_vectors(list(words), matrix)
        if counts is not None:
            for w, c in zip(words, counts):
                kv.set_vecattr(w, "count", int(c))
        return cls(kv, meta)

    # --- basic access -----------------------------------------------------------------
    @property
    def words(self) -> list[str]:
        return list(self.kv.index_to_key)

    @property
    def matrix(self) -> np.ndarray:
        """The ``(vocab, dim)`` float32 matrix, rows in vocabulary order."""
        return self.kv.vectors

    @property
    def dim(self) -> int:
        return int(self.kv.vector_size)

    def __len__(self) -> int:
        return len(self.kv.index_to_key)

    def __contains__(self, word: object) -> bool:
        return isinstance(word, str) and word in self.kv.key_to_index

    def __getitem__(self, word: str) -> np.ndarray:
        self._check(word)
        return self.kv.vectors[self.kv.key_to_index[word]]

    def index(self, word: str) -> int:
        self._check(word)
        return int(self.kv.key_to_index[word])

    def count(self, word: str) -> int | None:
        """Corpus count of ``word`` where the file recorded counts, else ``None``."""
        self._check(word)
        if "count" not in self.kv.expandos:
            return None
        return int(self.kv.get_vecattr(word, "count"))

    def _check(self, *words: str) -> None:
        for w in words:
            if w not in self.kv.key_to_index:
                raise NotInVocabError(w)

    def __repr__(self) -> str:
        return f"Vectors({len(self)} words, dim {self.dim})"

    # --- queries ----------------------------------------------------------------------
    def most_similar(
        self,
        positive: str | Sequence[str] | None = None,
        negative: str | Sequence[str] | None = None,
        topn: int = 10,
        metric: Metric = "cosine",
        restrict_vocab: int | None = None,
    ) -> list[tuple[str, float]]:
        """Nearest words to ``sum(positive) - sum(negative)``, query words excluded.

        ``metric="cosine"`` returns cosine similarities, highest first (gensim's
        ``most_similar``, on unit vectors). ``metric="euclidean"`` returns Euclidean
        distances between raw vectors, smallest first.

        Raises:
            NotInVocabError: a query word is unknown.
            ConfigError: no query word, or an unknown metric.
        """
        pos, neg = _as_list(positive), _as_list(negative)
        if not pos and not neg:
            raise ConfigError("most_similar needs at least one positive or negative word")
        self._check(*pos, *neg)
        if metric == "cosine":
            return [(w, float(s)) for w, s in self.kv.most_similar(positive=pos, negative=neg, topn=topn, restrict_vocab=restrict_vocab)]
        if metric == "euclidean":
            query = self.matrix[[self.index(w) for w in pos]].sum(0) if pos else np.zeros(self.dim, np.float32)
            if neg:
                query = query - self.matrix[[self.index(w) for w in neg]].sum(0)
            exclude = {self.index(w) for w in pos + neg}
            return self.nearest_to_vector(query, topn=topn, metric="euclidean", exclude=exclude, restrict_vocab=restrict_vocab)
        raise ConfigError(f"metric must be 'cosine' or 'euclidean', got {metric!r}")

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
        n = len(self) if restrict_vocab is None else min(restrict_vocab, len(self))
        if metric == "cosine":
            norm = float(np.linalg.norm(vector)) or 1.0
            scores = self.kv.get_normed_vectors()[:n] @ (vector / norm)
            order = np.argsort(-scores, kind="stable")
        elif metric == "euclidean":
            m = self.matrix[:n]
            sq = np.einsum("ij,ij->i", m, m) - 2.0 * (m @ vector) + float(vector @ vector)
            scores = np.sqrt(np.maximum(sq, 0.0))
            order = np.argsort(scores, kind="stable")
        else:
            raise ConfigError(f"metric must be 'cosine' or 'euclidean', got {metric!r}")
        exclude = exclude or set()
        out: list[tuple[str, float]] = []
        keys = self.kv.index_to_key
        for i in order:
            if int(i) in exclude:
                continue
            out.append((keys[int(i)], float(scores[i])))
            if len(out) == topn:
                break
        return out

    def similarity(self, a: str, b: str) -> float:
        """Cosine similarity of two words."""
        self._check(a, b)
        return float(self.kv.similarity(a, b))

    def analogy(self, a: str, b: str, c: str, topn: int = 1, method: Literal["3cosadd", "3cosmul"] = "3cosadd") -> list[tuple[str, float]]:
        """``a : b :: c : ?`` by 3CosAdd (``b - a + c``) or 3CosMul (Levy & Goldberg 2014)."""
        self._check(a, b, c)
        if method == "3cosadd":
            res = self.kv.most_similar(positive=[b, c], negative=[a], topn=topn)
        elif method == "3cosmul":
            res = self.kv.most_similar_cosmul(positive=[b, c], negative=[a], topn=topn)
        else:
            raise ConfigError(f"method must be '3cosadd' or '3cosmul', got {method!r}")
        return [(w, float(s)) for w, s in res]

    def evaluate(self, analogies: Sequence[str] = ("google",), pairs: Sequence[str] = ("ws353", "simlex999"), restrict_vocab: int = 30_000) -> "EvalReport":
        """Analogy accuracy and word-pair Spearman; see :func:`embed.evaluate.evaluate`."""
        from embed.evaluate import evaluate

        return evaluate(self, analogies=analogies, pairs=pairs, restrict_vocab=restrict_vocab)
