"""Subword vectors (issue 17): n-grams and hashes as fastText's, OOV vectors, files, bad options."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

import embed
from embed.config import TrainConfig
from embed.errors import ConfigError, FormatError, NotInVocabError
from embed.search import Searcher
from embed.subwords import (
    Subwords,
    SubwordSpec,
    char_ngrams,
    compose,
    ft_hash,
    has_ngrams,
    hash_many,
    ngram_buckets,
    word_ngram_table,
)
from embed.subwords_io import NGRAMS_FILE, SUBWORDS_FILE, word_rows, write_fasttext_bin
from embed.vectors import Vectors

WORDS = ["king", "kings", "queen", "where", "曹操", "刘备"]


def toy(bucket: int = 64, dim: int = 8, seed: int = 0, spec: tuple[int, int] = (3, 6)) -> Vectors:
    """A subword model built by hand: random word rows and n-gram rows, composed as training does."""
    rng = np.random.default_rng(seed)
    s = SubwordSpec(*spec, bucket)
    ngrams = rng.standard_normal((bucket, dim)).astype(np.float32)
    own = rng.standard_normal((len(WORDS), dim)).astype(np.float32)
    off, rows = word_ngram_table(WORDS, s)
    return Vectors.from_arrays(
        WORDS, compose(own, ngrams, off, rows), counts=[60, 50, 40, 30, 20, 10], subwords=Subwords(s, ngrams)
    )


# --- n-grams and hashes ------------------------------------------------------------------
def test_where_trigrams_are_the_papers_worked_example() -> None:
    """Bojanowski et al. (2017), section 3.2: "where", n = 3 -> <wh, whe, her, ere, re>."""
    assert char_ngrams("where", 3, 3) == ["<wh", "whe", "her", "ere", "re>"]
    assert "<where>" in char_ngrams("where", 3, 7)  # the whole word is an n-gram when short enough
    assert "<" not in char_ngrams("a", 1, 2) and ">" not in char_ngrams("a", 1, 2)


@pytest.mark.parametrize("word", ["where", "kingz", "a", "", "naïve", "曹操", "孙悟空", "x" * 40])
@pytest.mark.parametrize("minn,maxn", [(3, 6), (1, 2), (3, 3), (2, 5)])
def test_ngrams_and_buckets_equal_gensims(word: str, minn: int, maxn: int) -> None:
    from gensim.models.fasttext import ft_ngram_hashes
    from gensim.models.fasttext_inner import compute_ngrams_bytes

    assert [g.encode() for g in char_ngrams(word, minn, maxn)] == compute_ngrams_bytes(word, minn, maxn)
    assert ngram_buckets(word, SubwordSpec(minn, maxn, 2_000_000)).tolist() == ft_ngram_hashes(
        word, minn, maxn, 2_000_000
    )


@settings(max_examples=300, deadline=None)
@given(st.text(max_size=12), st.integers(1, 4), st.integers(0, 4))
def test_one_words_buckets_equal_the_vectorised_hash(word: str, minn: int, extra: int) -> None:
    """ngram_buckets (plain Python, one word: the OOV path) = hash_many of char_ngrams (numpy: vocabularies)."""
    spec = SubwordSpec(minn, minn + extra, 2_000_000)
    grams = char_ngrams(word, spec.minn, spec.maxn)
    want = hash_many([g.encode("utf-8", "surrogatepass") for g in grams]).astype(np.int64) % spec.bucket
    assert ngram_buckets(word, spec).tolist() == want.tolist()
    assert has_ngrams(word, spec) == bool(grams)


def test_hash_is_fnv1a_with_fasttexts_sign_extension() -> None:
    from gensim.models.fasttext_inner import ft_hash_bytes

    grams = [b"", b"a", b"<wh", "曹".encode(), "é>".encode(), bytes(range(256))]
    assert [ft_hash(g) for g in grams] == [ft_hash_bytes(g) for g in grams]
    assert hash_many(grams).tolist() == [ft_hash_bytes(g) for g in grams]
    assert ft_hash(b"") == 2166136261  # the FNV offset basis
    # sign extension: 0xE6 hashes as 0xFFFFFFE6, not 0xE6 (plain FNV-1a would differ)
    assert ft_hash(b"\xe6") == ((2166136261 ^ 0xFFFFFFE6) * 16777619) & 0xFFFFFFFF


def test_word_table_is_own_row_then_ngram_rows() -> None:
    spec = SubwordSpec(3, 3, 100)
    off, rows = word_ngram_table(["where", "ab"], spec)
    assert off.tolist() == [0, 6, 9]
    assert rows[0] == 0 and rows[6] == 1
    assert (rows[1:6] - 2).tolist() == ngram_buckets("where", spec).tolist()


# --- OOV vectors ------------------------------------------------------------------------
def test_oov_vector_is_the_mean_of_its_ngram_rows() -> None:
    v = toy()
    ids = ngram_buckets("kingz", v.subwords.spec)  # type: ignore[union-attr]
    assert np.allclose(v["kingz"], v.subwords.ngrams[ids].mean(0), atol=1e-6)  # type: ignore[union-attr]
    assert "kingz" not in v and v.is_oov("kingz") and not v.is_oov("king")


def test_vocab_vector_is_the_mean_of_its_row_and_ngrams_and_gensim_agrees(tmp_path: Path) -> None:
    from gensim.models.fasttext import load_facebook_vectors

    v = toy()
    write_fasttext_bin(v, tmp_path / "toy.bin")
    kv = load_facebook_vectors(str(tmp_path / "toy.bin"))
    for w in ["king", "曹操", "kingz", "queenly", "曹孟德"]:
        assert np.allclose(kv[w], v[w], atol=1e-5), w
    ids = ngram_buckets("king", v.subwords.spec)  # type: ignore[union-attr]
    assert len(ids) == 10  # <king>: 4 + 3 + 2 + 1 n-grams of 3..6 characters
    assert np.allclose((word_rows(v)[0] + v.subwords.ngrams[ids].sum(0)) / 11, v["king"], atol=1e-5)  # type: ignore[union-attr]


def test_oov_queries_answer_and_word_only_model_still_refuses() -> None:
    v = toy()
    near = v.most_similar("kingz", topn=3)
    assert len(near) == 3 and all(w in WORDS for w, _ in near)
    assert v.similarity("kingz", "king") == pytest.approx(
        float(np.dot(v["kingz"], v["king"]) / np.linalg.norm(v["kingz"]) / np.linalg.norm(v["king"])), abs=1e-5
    )
    assert v[["king", "kingz"]].shape == (2, v.dim)
    hits = Searcher(v).by_word("kingz", 3)
    assert hits.oov == ("kingz",) and hits.words == [w for w, _ in near]
    assert Searcher(v).by_word("king", 3).oov == ()
    plain = Vectors.from_arrays(WORDS, np.asarray(v.matrix))
    with pytest.raises(NotInVocabError) as err:
        plain["kingz"]
    assert "king" in err.value.suggestions
    assert not plain.has_subwords and not plain.is_oov("kingz")
    with pytest.raises(NotInVocabError):
        Searcher(plain).by_word("kingz")


def test_a_word_without_ngrams_is_not_in_the_vocabulary() -> None:
    v = toy(spec=(5, 6))
    assert not v.is_oov("a")  # "<a>" has 3 characters: no 5-gram
    with pytest.raises(NotInVocabError):
        v["a"]


# --- files ------------------------------------------------------------------------------
def test_subword_model_round_trips_and_maps_the_ngrams(tmp_path: Path) -> None:
    v = toy()
    v.save(tmp_path / "m")
    meta = json.loads((tmp_path / "m" / "meta.json").read_text())
    assert meta["subwords"]["minn"] == 3 and (tmp_path / "m" / NGRAMS_FILE).is_file()
    back = embed.load(tmp_path / "m")
    assert isinstance(back.subwords.ngrams, np.memmap)  # type: ignore[union-attr]
    assert np.allclose(back["kingz"], v["kingz"]) and np.allclose(back["king"], v["king"])
    with open(tmp_path / "m" / NGRAMS_FILE, "rb") as fh:
        assert b"pickle" not in fh.read(128)
    assert np.load(tmp_path / "m" / NGRAMS_FILE, allow_pickle=False).shape == (64, 8)


@pytest.mark.parametrize("damage", ["truncate", "header", "dim", "hash", "missing"])
def test_damaged_ngram_files_are_refused_in_one_line(tmp_path: Path, damage: str) -> None:
    toy().save(tmp_path / "m")
    ngrams, head = tmp_path / "m" / NGRAMS_FILE, tmp_path / "m" / SUBWORDS_FILE
    if damage == "truncate":
        ngrams.write_bytes(ngrams.read_bytes()[:-100])
    elif damage == "header":
        head.write_text("{not json")
    elif damage in ("dim", "hash"):
        h = json.loads(head.read_text())
        h.update({"dim": 9} if damage == "dim" else {"hash": "murmur"})
        head.write_text(json.dumps(h))
    else:
        ngrams.unlink()
    with pytest.raises(FormatError) as err:
        embed.load(tmp_path / "m")
    assert "\n" not in str(err.value) and ("ngrams.npy" in str(err.value) or "subwords.json" in str(err.value))


# --- bad options ------------------------------------------------------------------------
@pytest.mark.parametrize(
    "opts,name",
    [
        ({"minn": 5, "maxn": 3}, "maxn"),
        ({"bucket": 0}, "bucket"),
        ({"minn": 0}, "minn"),
        ({"bucket": 2**31}, "bucket"),
    ],
)
def test_bad_subword_options_are_refused_naming_the_option(opts: dict, name: str) -> None:
    with pytest.raises(ConfigError, match=name):
        TrainConfig(subwords=True, **opts)


def test_subword_options_without_subwords_are_refused() -> None:
    with pytest.raises(ConfigError, match="minn applies to subword training only"):
        TrainConfig(minn=2)
    assert "minn" not in TrainConfig().to_dict()  # word-only models record what they always did
    assert TrainConfig(subwords=True).to_dict()["bucket"] == 2_000_000
