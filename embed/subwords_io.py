"""Subword files: the n-gram matrix in a model directory, and fastText ``.bin`` files out and in.

A subword model directory is a word-vector model directory (:mod:`embed.io`; everything
that reads word vectors reads it unchanged) plus:

* ``ngrams.npy``    float32 ``(bucket, dim)``, C order, memory-mapped read-only at load
  (``allow_pickle=False``): an OOV query reads only its n-grams' rows;
* ``subwords.json`` ``{"format": "embed-subwords", "version": 1, "minn", "maxn", "bucket",
  "dim", "hash": "fnv1a32-fasttext", "file": "ngrams.npy", "bytes": ...}``.

The header is checked against the matrix at load (shape, dtype, file size), so a truncated
or swapped file is refused with one line naming it. fastText's own ``.bin`` (what ``fasttext``
and gensim's ``load_facebook_vectors`` read) is written on request by ``embed export
--format fasttext-bin`` (:func:`write_fasttext_bin`) and read by ``embed import``.
"""

from __future__ import annotations

import json
import os
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np

from embed.errors import ConfigError, FormatError
from embed.subwords import Subwords, SubwordSpec, compose, word_ngram_table

if TYPE_CHECKING:
    from embed.vectors import Vectors

SUBWORDS_FORMAT = "embed-subwords"
SUBWORDS_VERSION = 1
SUBWORDS_FILE = "subwords.json"
NGRAMS_FILE = "ngrams.npy"
HASH_NAME = "fnv1a32-fasttext"
FASTTEXT_MAGIC = 793712314  # the first int32 of a fastText .bin (FASTTEXT_FILEFORMAT_MAGIC_INT32)


def write_subwords(folder: Path, subwords: Subwords, block: int = 262_144) -> dict[str, Any]:
    """Write ``ngrams.npy`` and ``subwords.json`` into ``folder`` (a directory being written atomically).

    Returns the ``meta.json`` entry. The matrix is copied block by block (it may be a memory map).
    """
    path = folder / NGRAMS_FILE
    m = subwords.ngrams
    header = {"descr": "<f4", "fortran_order": False, "shape": tuple(int(x) for x in m.shape)}
    with open(path, "wb") as fh:
        np.lib.format.write_array_header_1_0(fh, header)
        for start in range(0, m.shape[0], block):
            fh.write(np.ascontiguousarray(m[start : start + block], dtype="<f4").tobytes())
    entry = {**subwords.to_dict(), "hash": HASH_NAME, "file": NGRAMS_FILE, "bytes": path.stat().st_size}
    text = json.dumps({"format": SUBWORDS_FORMAT, "version": SUBWORDS_VERSION, **entry}, indent=2) + "\n"
    (folder / SUBWORDS_FILE).write_text(text, encoding="utf-8")
    return entry


def read_subwords(folder: Path, dim: int) -> Subwords:
    """Open a model directory's n-gram matrix, memory-mapped, after checking it against its header.

    Raises:
        FormatError: a missing, damaged or mismatched ``subwords.json`` or ``ngrams.npy`` (one line naming the file).
    """
    from embed.io import read_versioned_json

    head_path = folder / SUBWORDS_FILE
    if not head_path.is_file():
        raise FormatError(f"{head_path}: missing; meta.json says this is a subword model; retrain or re-import it")
    head = read_versioned_json(head_path, SUBWORDS_FORMAT, SUBWORDS_VERSION, "subword header")
    try:
        spec = SubwordSpec(int(head["minn"]), int(head["maxn"]), int(head["bucket"]))
        want_dim = int(head["dim"])
    except (KeyError, TypeError, ValueError, ConfigError) as exc:
        raise FormatError(f"{head_path}: bad subword header ({exc}); retrain or re-import the model") from None
    if head.get("hash") != HASH_NAME:
        raise FormatError(
            f"{head_path}: n-gram hash {head.get('hash')!r}, this embed computes {HASH_NAME!r}; re-import the model"
        )
    if want_dim != dim:
        raise FormatError(
            f"{head_path}: n-grams of dim {want_dim}, the word vectors have {dim}; the model directory is damaged"
        )
    path = folder / NGRAMS_FILE
    try:
        size = os.stat(path).st_size
        matrix = np.load(path, mmap_mode="r", allow_pickle=False)
    except FileNotFoundError:
        raise FormatError(f"{path}: missing from the subword model; retrain or restore it") from None
    except (ValueError, OSError) as exc:
        raise FormatError(f"{path}: damaged n-gram matrix ({exc}); retrain or restore it") from None
    if matrix.dtype != np.float32 or matrix.shape != (spec.bucket, dim) or size != head.get("bytes", size):
        raise FormatError(
            f"{path}: damaged n-gram matrix ({matrix.dtype} {matrix.shape}, {size:,} bytes; header says float32 "
            f"({spec.bucket}, {dim}), {head.get('bytes')} bytes); retrain or restore it"
        )
    return Subwords(spec, matrix)


def word_rows(vectors: Vectors) -> np.ndarray:
    """Recover each vocabulary word's own input row from its stored (composed) vector.

    The store holds ``(row + sum(ngram rows)) / (1 + n)``; fastText's ``.bin`` wants ``row``.
    """
    sub = vectors.subwords
    assert sub is not None
    offsets, rows = word_ngram_table(vectors.words, sub.spec)
    v = len(vectors)
    composed = np.asarray(vectors.matrix, dtype=np.float32)
    zero_words = np.zeros((v, vectors.dim), dtype=np.float32)
    # compose() of zero word rows is sum(ngram rows) / (1 + n); scale back and subtract.
    ngram_mean = compose(zero_words, np.asarray(sub.ngrams), offsets, rows)
    n1 = np.diff(offsets).astype(np.float32)[:, None]
    own_rows: np.ndarray = (composed - ngram_mean) * n1
    return own_rows


def write_fasttext_bin(vectors: Vectors, path: str | os.PathLike[str], arch: str = "skipgram") -> None:
    """Write a fastText ``.bin`` (gensim's ``save_facebook_model``) that ``fasttext`` and gensim load.

    The output matrix is not kept in a model directory, so the file's is zero: ``nn``,
    ``print-word-vectors`` and OOV vectors work; continued training or ``predict`` do not.

    Raises:
        ConfigError: the vectors have no subwords (export word2vec instead).
    """
    from gensim.models.fasttext import FastText, save_facebook_model

    from embed.io import atomic_file

    sub = vectors.subwords
    if sub is None:
        raise ConfigError(
            "these vectors have no subwords (trained without --subwords): export --format word2vec-bin instead"
        )
    words = vectors.words
    counts = vectors.counts.tolist() if vectors.counts is not None else list(range(len(words) + 1, 1, -1))
    model = FastText(
        vector_size=vectors.dim,
        min_n=sub.spec.minn,
        max_n=sub.spec.maxn,
        bucket=1,
        min_count=1,
        sg=1 if arch == "skipgram" else 0,
        negative=5,
        hs=0,
        workers=1,
    )
    model.build_vocab_from_freq(dict(zip(words, counts, strict=False)))
    perm = np.array([vectors.vocab.get(w) for w in model.wv.index_to_key], dtype=np.int64)
    model.wv.bucket = sub.spec.bucket
    model.wv.vectors_vocab = word_rows(vectors)[perm]
    model.wv.vectors_ngrams = np.asarray(sub.ngrams, dtype=np.float32)
    model.wv.recalc_char_ngram_buckets()
    model.wv.vectors = np.asarray(vectors.matrix, dtype=np.float32)[perm]
    model.syn1neg = np.zeros((len(words), vectors.dim), dtype=np.float32)
    model.bucket = sub.spec.bucket
    with atomic_file(path) as tmp:
        save_facebook_model(model, str(tmp))


def is_fasttext_bin(path: Path) -> bool:
    """True when ``path`` starts with fastText's magic number (a ``.bin`` model, not word2vec binary)."""
    try:
        with open(path, "rb") as fh:
            head = fh.read(4)
    except OSError:
        return False
    return len(head) == 4 and int.from_bytes(head, "little", signed=True) == FASTTEXT_MAGIC


def read_fasttext_bin(path: Path) -> tuple[list[str], np.ndarray, np.ndarray | None, Subwords]:
    """Words, composed vectors, counts and n-grams of a fastText ``.bin`` (gensim's loader; held in memory).

    Raises:
        FormatError: gensim cannot read it, or it has no n-grams (``maxn`` 0).
    """
    from gensim.models.fasttext import load_facebook_vectors

    try:
        kv = load_facebook_vectors(str(path))
    except (ValueError, EOFError, AssertionError, NotImplementedError, OSError) as exc:
        raise FormatError(
            f"{path}: not a readable fastText .bin ({exc}); pass a file written by fasttext or gensim"
        ) from None
    if kv.bucket == 0 or kv.max_n < kv.min_n:
        raise FormatError(f"{path}: a fastText model without subwords (maxn 0); import its .vec file instead")
    counts = np.asarray(kv.expandos["count"], dtype=np.int64) if "count" in kv.expandos else None
    spec = SubwordSpec(int(kv.min_n), int(kv.max_n), int(kv.bucket))
    ngrams = np.ascontiguousarray(kv.vectors_ngrams, dtype=np.float32)
    return list(kv.index_to_key), np.ascontiguousarray(kv.vectors, dtype=np.float32), counts, Subwords(spec, ngrams)
