"""Request and response bodies, split by direction. Requests forbid unknown fields."""

from __future__ import annotations

from typing import Annotated, Any, Literal

from pydantic import (
    BaseModel,
    BeforeValidator,
    ConfigDict,
    Discriminator,
    Field,
    JsonValue,
    StringConstraints,
    Tag,
    model_validator,
)

from embed import project

Word = Annotated[str, StringConstraints(min_length=1, max_length=256)]
# float32 rounding: a value at or past this double becomes inf; one at or under HALF_TINY (in size) becomes 0.
FLOAT32_OVERFLOW = 3.4028235677973366e38
FLOAT32_HALF_TINY = 7.006492321624085e-46
FiniteFloat = Annotated[float, Field(allow_inf_nan=False, gt=-FLOAT32_OVERFLOW, lt=FLOAT32_OVERFLOW)]
MetricName = Literal["cosine", "euclidean"]
ScoreName = Literal["cosine_similarity", "euclidean_distance"]
WordList = Annotated[list[Word], Field(min_length=1, max_length=1000)]


def _json_number(value: Any) -> Any:
    """A count is a JSON number: ``5`` and ``5.0`` pass; ``"5"`` and ``true`` are refused, as the schema says.

    Strict mode alone would refuse ``5.0``, which JSON Schema calls an integer; lax mode would take ``"5"``.
    """
    if isinstance(value, (str, bool)):
        raise ValueError("expected a JSON integer, not a string or boolean")
    return value


QueryOov = Annotated[
    bool,
    Field(
        description="Present and true when a subword model built some query words from their character n-grams "
        "(not in the vocabulary)."
    ),
]
K = Annotated[
    int, Field(ge=1, le=1000, strict=False, description="How many neighbours (1-1000)."), BeforeValidator(_json_number)
]

# A JSON integer as K is (256 and 256.0 pass, "256" does not); the field's description is on SimilarQuery.
EfSearch = Annotated[int, Field(ge=1, le=4096, strict=False), BeforeValidator(_json_number)]


class _Request(BaseModel):
    # strict: "5" is not a k, 0 is not false; what the schema says is what is accepted (schemathesis checks both ways)
    model_config = ConfigDict(extra="forbid", strict=True)


def _null_or_empty(*names: str) -> dict[str, Any]:
    return {n: {"type": "null"} if n in ("word", "vector") else {"maxItems": 0} for n in names}


# JSON Schema for SimilarQuery._one_kind: the three kinds exclude each other (a null or empty field is absent).
_ONE_KIND: list[JsonValue] = [
    {
        "title": "by word",
        "required": ["word"],
        "properties": {"word": {"type": "string"}, **_null_or_empty("positive", "negative", "vector")},
    },
    {
        "title": "word arithmetic",
        "properties": _null_or_empty("word", "vector"),
        "anyOf": [
            {"required": ["positive"], "properties": {"positive": {"minItems": 1}}},
            {"required": ["negative"], "properties": {"negative": {"minItems": 1}}},
        ],
    },
    {
        "title": "by vector",
        "required": ["vector"],
        "properties": {"vector": {"type": "array"}, **_null_or_empty("word", "positive", "negative")},
        # cosine (the default metric) needs a vector that is not all zeros once rounded to float32
        "if": {"required": ["metric"], "properties": {"metric": {"const": "euclidean"}}},
        "else": {
            "properties": {
                "vector": {"contains": {"not": {"minimum": -FLOAT32_HALF_TINY, "maximum": FLOAT32_HALF_TINY}}}
            }
        },
    },
]


# --- requests -----------------------------------------------------------------------------
class SimilarQuery(_Request):
    """Exactly one of: ``word``; ``positive``/``negative`` word lists; a raw ``vector``."""

    model_config = ConfigDict(json_schema_extra={"oneOf": _ONE_KIND})

    word: Word | None = Field(None, description="Neighbours of this word (itself excluded).")
    positive: list[Word] = Field(
        default_factory=list, max_length=100, description="Words added (gensim's most_similar rule)."
    )
    negative: list[Word] = Field(default_factory=list, max_length=100, description="Words subtracted.")
    vector: list[FiniteFloat] | None = Field(
        None, min_length=1, max_length=4096, description="A raw vector of the model's dimension."
    )
    k: K = 10
    metric: MetricName = "cosine"
    exact: bool | None = Field(
        None,
        description="true: exact results (a table or a scan of every vector); false: the approximate index answers "
        "where there is one; null (default): exact where cheap (a table covers the query, or at most 200,000 words), "
        "else approximate. The response's 'exact' says which.",
    )
    ef_search: EfSearch | None = Field(
        None,
        description="HNSW search breadth for this query (FAISS's efSearch, 1-4096; at least k is used): wider is "
        "slower and finds more of the true neighbours. Used only when the HNSW index answers; null (default): the "
        "value 'embed index --ef-search' stored. 422 when the model's approximate index is IVF.",
    )

    @model_validator(mode="after")
    def _one_kind(self) -> SimilarQuery:
        kinds = [self.word is not None, bool(self.positive or self.negative), self.vector is not None]
        if sum(kinds) != 1:
            raise ValueError("give exactly one of 'word', 'positive'/'negative', or 'vector'")
        return self


class SimilarBatch(_Request):
    """Several queries answered in one request, results in the same order."""

    # The enforced limit is EMBED_MAX_BATCH; service/openapi.py writes it into the served schema.
    queries: list[SimilarQuery] = Field(
        min_length=1, max_length=1000, description="At most EMBED_MAX_BATCH queries (default 256)."
    )


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
    words: list[Word] = Field(
        min_length=1, max_length=1000, description="At most EMBED_MAX_WORDS words (default 1000)."
    )


class SimilarityRequest(_Request):
    """Two words, or two word lists (cosine of their mean vectors, gensim's n_similarity)."""

    model_config = ConfigDict(
        json_schema_extra={
            "oneOf": [
                {"title": "two words", "properties": {"a": {"type": "string"}, "b": {"type": "string"}}},
                {"title": "two word lists", "properties": {"a": {"type": "array"}, "b": {"type": "array"}}},
            ]
        }
    )

    a: Word | WordList
    b: Word | WordList

    @model_validator(mode="after")
    def _same_shape(self) -> SimilarityRequest:
        if isinstance(self.a, str) != isinstance(self.b, str):
            raise ValueError("'a' and 'b' must both be words or both be lists of words")
        return self


class AnalogyRequest(_Request):
    """``a : b :: c : ?`` (e.g. man : king :: woman : queen)."""

    a: Word
    b: Word
    c: Word
    k: K = 10
    method: Literal["3cosadd", "3cosmul"] = Field(
        "3cosadd", description="3cosadd: b - a + c; 3cosmul: Levy & Goldberg (2014)."
    )
    exact: bool | None = Field(None, description="As for /similar (3cosmul is always exact).")


class Axis(BaseModel):
    start: str = Field(min_length=1, max_length=256, description="The word the axis starts at (e.g. man).")
    end: str = Field(min_length=1, max_length=256, description="The word it points to (e.g. woman).")


# service/openapi.py lowers the maximum to the smallest served vocabulary, where that is smaller.
N_DESCRIPTION = (
    f"How many of the most frequent words (default {project.DEFAULT_POINTS:,} or the vocabulary; "
    f"at most {project.MAX_POINTS:,} and the vocabulary size)."
)


class CustomProjectionRequest(BaseModel):  # BaseModel, not _Request: unknown fields are ignored here
    x: Axis
    y: Axis
    n: int | None = Field(None, ge=project.MIN_POINTS, le=project.MAX_POINTS, description=N_DESCRIPTION)


# --- responses ----------------------------------------------------------------------------
class Neighbour(BaseModel):
    word: str
    score: float = Field(
        description="Cosine similarity (higher is closer) or Euclidean distance (lower is closer); see score_name."
    )
    rank: int


class SimilarResponse(BaseModel):
    model: str
    metric: MetricName
    score_name: ScoreName
    exact: bool = Field(description="Whether the results are exact (table, flat or 3cosmul) or approximate.")
    method: str = Field(
        description="table (precomputed exact top-k), flat (exact scan of every vector), hnsw / ivf (approximate), "
        "3cosmul."
    )
    oov: QueryOov = False
    oov_words: list[str] = Field(default_factory=list, description="Those words.")
    results: list[Neighbour]


class ItemErrorBody(BaseModel):
    status: int = Field(
        description="The HTTP status this query would have had on its own (404 unknown word, 422 invalid)."
    )
    code: str
    message: str
    suggestions: list[str] | None = Field(None, description="For an unknown word: vocabulary words spelled like it.")


class ItemError(BaseModel):
    """One query of a batch that could not be answered; the others are."""

    error: ItemErrorBody


class SimilarBatchResponse(BaseModel):
    model: str
    results: list[SimilarResponse | ItemError] = Field(
        description="One entry per query, in order: its answer, or its error."
    )
    errors: int = Field(description="How many entries are errors (0: every query answered).")


class WordVector(BaseModel):
    word: str
    vector: list[float]
    oov: bool = Field(
        False, description="Present and true when a subword model built this vector from the word's n-grams."
    )


class VectorsResponse(BaseModel):
    model: str
    dim: int
    vectors: list[WordVector]


class SimilarityResponse(BaseModel):
    model: str
    score_name: Literal["cosine_similarity"] = "cosine_similarity"
    similarity: float
    oov: QueryOov = False
    oov_words: list[str] = Field(default_factory=list, description="Those words.")


class AnalogyResponse(BaseModel):
    model: str
    method: str
    score_name: str
    exact: bool
    oov: QueryOov = False
    oov_words: list[str] = Field(default_factory=list, description="Those words.")
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

    texts: list[Annotated[str, StringConstraints(max_length=100_000)]] = Field(
        min_length=1,
        max_length=1000,
        description="Raw texts; tokenized like the training data; at most EMBED_MAX_BATCH (default 256).",
    )
    k: Annotated[
        int,
        Field(
            ge=1,
            le=1000,
            strict=False,
            description="How many labels per text, most probable first (capped at the number of labels).",
        ),
        BeforeValidator(_json_number),
    ] = 1
    truncate: bool = Field(
        False, description="Keep the first max_tokens tokens of a longer text instead of answering 422."
    )


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


class WordsResponse(BaseModel):
    model: str
    prefix: str
    words: list[str]


class ProjectionResponse(BaseModel):
    model: str
    method: str = Field(description="pca, tsne, umap, or custom.")
    dims: int
    n: int = Field(description="How many words: rows 0..n-1 of the model, most frequent first.")
    vocab_size: int
    words: list[str]
    counts: list[int] | None = Field(description="Corpus counts of the words, when the model recorded them.")
    coords: list[float] = Field(description="n x dims coordinates, row-major (x0, y0[, z0], x1, ...).")
    seconds: float = Field(
        description="How long the projection took to compute (once; later answers come from the cache)."
    )
    params: dict[str, Any]


class ProjectionPending(BaseModel):
    """The 202 answer while a t-SNE or UMAP is computed in the background: ask again after ``retry_after``."""

    status: Literal["computing"]
    model: str
    method: str
    dims: int
    n: int
    elapsed: float = Field(description="Seconds since the computation started.")
    retry_after: int = Field(description="Seconds to wait before asking again (also the Retry-After header).")


class ErrorBody(BaseModel):
    code: str
    message: str


class ErrorResponse(BaseModel):
    error: ErrorBody


class Health(BaseModel):
    status: str = Field(description="ok, ready, loading, degraded (some failed, others served) or failed.")
    detail: str | None = None
    failed: dict[str, list[str]] | None = Field(
        None, description="Names of the models and classifiers that failed to load."
    )


ERRORS: dict[int | str, dict[str, Any]] = {
    status: {"model": ErrorResponse, "description": text}
    for status, text in (
        (401, "API key missing or wrong"),
        (404, "Unknown model, classifier or word"),
        (408, "Body not received within EMBED_BODY_TIMEOUT seconds"),
        (413, "Body over the limit"),
        (422, "Invalid request"),
        (503, "Models or classifiers still loading"),
    )
}

PROJECTION_RESPONSES: dict[int | str, dict[str, Any]] = {
    202: {"model": ProjectionPending, "description": "t-SNE or UMAP being computed: ask again after Retry-After"},
    500: {
        "model": ErrorResponse,
        "description": "The computation failed (projection_failed) or a stored file is damaged",
    },
    503: {"model": ErrorResponse, "description": "Models still loading, or too many projections being computed"},
}
