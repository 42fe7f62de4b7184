"""Request and response bodies, split by direction. Requests forbid unknown fields."""

from __future__ import annotations

from typing import Annotated, Any, Literal

from pydantic import BaseModel, ConfigDict, Discriminator, Field, StringConstraints, Tag, model_validator

Word = Annotated[str, StringConstraints(min_length=1, max_length=256)]
FiniteFloat = Annotated[float, Field(allow_inf_nan=False)]
MetricName = Literal["cosine", "euclidean"]
ScoreName = Literal["cosine_similarity", "euclidean_distance"]
K = Annotated[int, Field(ge=1, le=1000, description="How many neighbours (1-1000).")]


class _Request(BaseModel):
    model_config = ConfigDict(extra="forbid")


# --- requests -----------------------------------------------------------------------------
class SimilarQuery(_Request):
    """Exactly one of: ``word``; ``positive``/``negative`` word lists; a raw ``vector``."""

    word: Word | None = Field(None, description="Neighbours of this word (itself excluded).")
    positive: list[Word] = Field(default_factory=list, max_length=100, description="Words added (gensim's most_similar rule).")
    negative: list[Word] = Field(default_factory=list, max_length=100, description="Words subtracted.")
    vector: list[FiniteFloat] | None = Field(None, min_length=1, max_length=4096, description="A raw vector of the model's dimension.")
    k: K = 10
    metric: MetricName = "cosine"
    exact: bool | None = Field(None, description="true: exact results (a table or a scan of every vector); false: the approximate index answers where there is one; null (default): exact where cheap (a table covers the query, or at most 200,000 words), else approximate. The response's 'exact' says which.")

    @model_validator(mode="after")
    def _one_kind(self) -> "SimilarQuery":
        kinds = [self.word is not None, bool(self.positive or self.negative), self.vector is not None]
        if sum(kinds) != 1:
            raise ValueError("give exactly one of 'word', 'positive'/'negative', or 'vector'")
        return self


class SimilarBatch(_Request):
    """Several queries answered in one request, results in the same order."""

    queries: list[SimilarQuery] = Field(min_length=1, max_length=1000)


def _query_or_batch(value: Any) -> str:
    if isinstance(value, dict):
        return "batch" if "queries" in value else "query"
    return "batch" if isinstance(value, SimilarBatch) else "query"


# A body with "queries" is a batch, anything else one query: errors then name the right fields.
SimilarRequest = Annotated[
    Annotated[SimilarQuery, Tag("query")] | Annotated[SimilarBatch, Tag("batch")],
    Discriminator(_query_or_batch),
]


class VectorsRequest(_Request):
    words: list[Word] = Field(min_length=1, max_length=1000)


class SimilarityRequest(_Request):
    """Two words, or two word lists (cosine of their mean vectors, gensim's n_similarity)."""

    a: Word | list[Word]
    b: Word | list[Word]

    @model_validator(mode="after")
    def _same_shape(self) -> "SimilarityRequest":
        if isinstance(self.a, str) != isinstance(self.b, str):
            raise ValueError("'a' and 'b' must both be words or both be lists of words")
        if isinstance(self.a, list) and (not self.a or not self.b or len(self.a) > 1000 or len(self.b) > 1000):
            raise ValueError("word lists must hold 1 to 1000 words")
        return self


class AnalogyRequest(_Request):
    """``a : b :: c : ?`` (e.g. man : king :: woman : queen)."""

    a: Word
    b: Word
    c: Word
    k: K = 10
    method: Literal["3cosadd", "3cosmul"] = Field("3cosadd", description="3cosadd: b - a + c; 3cosmul: Levy & Goldberg (2014).")
    exact: bool | None = Field(None, description="As for /similar (3cosmul is always exact).")


# --- responses ----------------------------------------------------------------------------
class Neighbour(BaseModel):
    word: str
    score: float = Field(description="Cosine similarity (higher is closer) or Euclidean distance (lower is closer); see score_name.")
    rank: int


class SimilarResponse(BaseModel):
    model: str
    metric: MetricName
    score_name: ScoreName
    exact: bool = Field(description="Whether the results are exact (table, flat or 3cosmul) or approximate.")
    method: str = Field(description="table (precomputed exact top-k), flat (exact scan of every vector), hnsw / ivf (approximate), 3cosmul.")
    results: list[Neighbour]


class SimilarBatchResponse(BaseModel):
    model: str
    results: list[SimilarResponse]


class WordVector(BaseModel):
    word: str
    vector: list[float]


class VectorsResponse(BaseModel):
    model: str
    dim: int
    vectors: list[WordVector]


class SimilarityResponse(BaseModel):
    model: str
    score_name: Literal["cosine_similarity"] = "cosine_similarity"
    similarity: float


class AnalogyResponse(BaseModel):
    model: str
    method: str
    score_name: str
    exact: bool
    results: list[Neighbour]


class IndexInfo(BaseModel):
    kind: str | None = Field(description="The approximate index (hnsw, ivf), or null: exact search only.")
    metric: str
    k_max: int = Field(description="By-word queries up to this k are exact table look-ups (0: no table).")
    tables: list[str] = Field(default_factory=list, description="Metrics with exact neighbour tables.")


class ModelInfo(BaseModel):
    name: str
    vocab_size: int
    dim: int
    index: IndexInfo
    params: dict[str, Any]
    created: str | None = None


class ModelsResponse(BaseModel):
    models: list[ModelInfo]
    failed: list[str] = Field(default_factory=list, description="Configured models that failed to load (see /readyz).")


class PredictRequest(_Request):
    """Texts to classify, answered in the same order."""

    texts: list[Annotated[str, StringConstraints(max_length=100_000)]] = Field(min_length=1, max_length=1000, description="Raw texts; tokenized like the training data.")
    k: int = Field(1, ge=1, le=1000, description="How many labels per text, most probable first (capped at the number of labels).")
    truncate: bool = Field(False, description="Keep the first max_tokens tokens of a longer text instead of answering 422.")


class LabelScore(BaseModel):
    label: str
    probability: float
    rank: int


class Prediction(BaseModel):
    label: str = Field(description="The most probable label.")
    probability: float
    labels: list[LabelScore] = Field(description="The top-k labels with their probabilities.")


class PredictResponse(BaseModel):
    classifier: str
    predictions: list[Prediction]


class ClassifierInfo(BaseModel):
    name: str
    arch: str
    bidirectional: bool
    mode: str
    labels: list[str]
    vocab_size: int
    tokenizer: str
    max_tokens: int


class ClassifiersResponse(BaseModel):
    classifiers: list[ClassifierInfo]


class ErrorBody(BaseModel):
    code: str
    message: str


class ErrorResponse(BaseModel):
    error: ErrorBody


class Health(BaseModel):
    status: str = Field(description="ok, ready, loading, degraded (some failed, others served) or failed.")
    detail: str | None = None
    failed: dict[str, list[str]] | None = Field(None, description="Names of the models and classifiers that failed to load.")


ERRORS: dict[int | str, dict[str, Any]] = {
    status: {"model": ErrorResponse, "description": text}
    for status, text in ((401, "API key missing or wrong"), (404, "Unknown model, classifier or word"), (413, "Body over the limit"), (422, "Invalid request"), (503, "Models or classifiers still loading"))
}
