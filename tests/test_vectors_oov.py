"""Unknown words: case-folded look-up where the tokenizer lower-cased, and "did you mean" suggestions."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
from click.testing import CliRunner

import embed
from embed.cli import main
from embed.errors import EmbedError, NotInVocabError
from embed.importer import import_vectors
from embed.suggest import HEAD, suggest
from embed.vectors import Vectors

WORDS = ["the", "king", "kings", "queen", "ring", "kingdom", "photosynthesis", "曹操", "刘备"]


def _vectors(meta: dict | None = None, words: list[str] = WORDS) -> Vectors:
    matrix = np.random.default_rng(3).normal(size=(len(words), 6)).astype(np.float32)
    return Vectors.from_arrays(words, matrix, meta=meta)


@pytest.mark.parametrize("meta", [{"tokenizer": "simple"}, {"params": {"tokenizer": "simple"}}, {"tokenizer": "jieba"}])
def test_lookups_fold_case_when_the_tokenizer_lower_cased(meta: dict) -> None:
    v = _vectors(meta)
    assert v.folds_case
    assert np.array_equal(v["King"], v["king"]) and np.array_equal(v["KINGDOM"], v["kingdom"])
    assert "King" in v and v.index("KING") == 1 and v.get_index("King") == 1 and v.has_index_for("Queen")
    assert [w for w, _ in v.most_similar("King", topn=3)] == [w for w, _ in v.most_similar("king", topn=3)]
    assert v.index_to_key == WORDS and "King" not in v.key_to_index  # only the look-up falls back


@pytest.mark.parametrize(
    "meta",
    [
        None,
        {"tokenizer": "whitespace"},
        {"params": {"tokenizer": "whitespace"}},
        {"source": {"format": "word2vec-txt"}},
    ],
)
def test_no_folding_for_case_keeping_or_unknown_tokenizers(meta: dict | None) -> None:
    v = _vectors(meta)
    assert not v.folds_case and "King" not in v and v.get_index("King", -1) == -1
    with pytest.raises(NotInVocabError) as err:
        v["King"]
    assert err.value.suggestions[0] == "king"


def test_an_exact_match_wins_over_the_folded_one() -> None:
    v = _vectors({"tokenizer": "simple"}, ["king", "King"])
    assert v.index("King") == 1 and v.index("KING") == 0


def test_folding_survives_save_and_load(tmp_path: Path) -> None:
    out = _vectors({"tokenizer": "simple"}).save(tmp_path / "model")
    back = embed.load(out)
    assert isinstance(back.matrix, np.memmap) and back.folds_case
    assert np.array_equal(back["Queen"], back["queen"])
    plain = embed.load(_vectors({"tokenizer": "whitespace"}).save(tmp_path / "cased"))
    assert not plain.folds_case and "Queen" not in plain


def test_a_trained_model_folds_and_an_imported_file_does_not(kjv_model_dir: Path, tmp_path: Path) -> None:
    trained = embed.load(kjv_model_dir)  # trained with the default simple tokenizer
    assert trained.folds_case and np.array_equal(trained["Jesus"], trained["jesus"])
    src = tmp_path / "cased.txt"
    src.write_text("3 2\nParis 1 0\nparis 0 1\nthe 1 1\n", encoding="utf-8")
    imported = embed.load(import_vectors(src, tmp_path / "imported")[0])
    assert not imported.folds_case and imported.index("Paris") == 0 and imported.index("paris") == 1
    with pytest.raises(NotInVocabError) as err:
        imported["PARIS"]
    assert err.value.suggestions[:2] == ["paris", "Paris"]


def test_suggestions_for_misspellings_capitals_and_chinese() -> None:
    v = _vectors({"tokenizer": "simple"})
    assert suggest(v, "kingz")[:2] == ["king", "kings"]  # one edit, the more frequent first
    assert suggest(v, "Kingz")[:2] == ["king", "kings"]  # folded before the search
    assert suggest(v, "photosynth") == ["photosynthesis"]  # a prefix, five edits away
    assert suggest(v, "teh") == ["the"]  # a transposition is one edit
    assert suggest(v, "kingdon", k=1) == ["kingdom"]
    assert suggest(v, "曹躁") == ["曹操"]
    assert suggest(v, "zzzzzzzz") == [] and suggest(v, "") == []
    assert suggest(_vectors(), "King")[0] == "king"  # a cased vocabulary: the case variant first
    assert suggest(["ring", "king", "queen"], "xing") == ["ring", "king"]  # same distance: row (frequency) order
    assert suggest(["rings", "kingz"], "kingy") == ["kingz", "rings"]  # closer first, though less frequent


def test_suggestions_search_the_most_frequent_rows_only() -> None:
    words = [f"w{i}" for i in range(HEAD)] + ["kingdom"]
    assert suggest(words, "kingdon") == []  # past the searched rows
    assert suggest(words, "Kingdom") == ["kingdom"]  # case variants are looked up everywhere


def test_not_in_vocab_message_and_lazy_suggestions() -> None:
    assert (
        str(NotInVocabError("kingz", ["king", "kings"]))
        == "word 'kingz' is not in the vocabulary; did you mean 'king', 'kings'?"
    )
    plain = NotInVocabError("xq")
    assert str(plain) == "word 'xq' is not in the vocabulary" and plain.suggestions == [] and plain.word == "xq"
    assert isinstance(plain, KeyError) and isinstance(plain, EmbedError)
    calls = []
    lazy = NotInVocabError("kingz", lambda: calls.append(1) or ["king"])
    assert calls == []  # nothing computed until read
    assert lazy.suggestions == ["king"] and "did you mean 'king'?" in str(lazy) and calls == [1]


def test_index_raises_with_suggestions() -> None:
    v = _vectors({"tokenizer": "simple"})
    with pytest.raises(
        NotInVocabError, match=r"^word 'kingz' is not in the vocabulary; did you mean 'king', 'kings', 'ring'"
    ) as err:
        v.index("kingz")
    assert err.value.word == "kingz"
    with pytest.raises(NotInVocabError) as quiet:
        v.index("kingz", suggest=False)
    assert quiet.value.suggestions == [] and str(quiet.value) == "word 'kingz' is not in the vocabulary"
    assert v.suggest("quen") == ["queen"]


def test_cli_similar_prints_the_suggestion(tmp_path: Path) -> None:
    out = _vectors({"tokenizer": "simple"}).save(tmp_path / "model")
    res = CliRunner().invoke(main, ["similar", str(out), "Kingz"])
    assert res.exit_code == 1
    assert "word 'Kingz' is not in the vocabulary; did you mean 'king', 'kings'" in res.output
    res = CliRunner().invoke(main, ["similar", str(out), "King", "-k", "2"])
    assert (
        res.exit_code == 0
        and res.output.splitlines()[1].split("\t")[1]
        == _vectors({"tokenizer": "simple"}).most_similar("king", topn=1)[0][0]
    )
