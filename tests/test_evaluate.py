"""Evaluation: defaults by language, shipped Chinese sets, skipped sets with their coverage."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest
from click.testing import CliRunner

from embed.cli import main
from embed.evaluate import DATA_DIR, MIN_COVERED, evaluate, language
from embed.io import load, save_model_dir
from embed.vectors import Vectors

ZH = Path(__file__).resolve().parents[1] / "corpora" / "zh_novels" / "hongloumeng.txt"


@pytest.fixture(scope="module")
def zh_model(tmp_path_factory) -> Path:
    """A small jieba model trained by the CLI on the first 4,000 lines of 红楼梦."""
    corpus = tmp_path_factory.mktemp("zh") / "hlm.txt"
    with open(ZH, encoding="utf-8") as fin:
        corpus.write_text("".join(line for _, line in zip(range(4000), fin, strict=False)), encoding="utf-8")
    out = corpus.parent / "model"
    res = CliRunner().invoke(
        main,
        [
            "train",
            str(corpus),
            "--tokenizer",
            "jieba",
            "--out",
            str(out),
            "--dim",
            "20",
            "--epochs",
            "1",
            "--min-count",
            "2",
            "--workers",
            "1",  # in process: no forked jieba pool inside a pytest-xdist worker (see test_corpus's jieba test)
            "--quiet",
            "--show",
            "宝玉",
        ],
    )
    assert res.exit_code == 0, res.output
    return out


def test_shipped_chinese_sets_exist_with_their_source() -> None:
    names = sorted(p.name for p in DATA_DIR.iterdir())
    assert names == ["SOURCE.md", "ca8_morphological.txt", "ca8_semantic.txt", "wordsim240.txt"]
    source = (DATA_DIR / "SOURCE.md").read_text(encoding="utf-8")
    assert "Apache-2.0" in source and "MIT" in source


def test_chinese_training_evaluates_on_chinese_sets_and_keeps_the_model(zh_model: Path) -> None:
    meta = json.loads((zh_model / "meta.json").read_text(encoding="utf-8"))
    ev = meta["evaluation"]
    assert [a["name"] for a in ev["analogies"]] == ["ca8-morphological", "ca8-semantic"]
    assert [p["name"] for p in ev["pairs"]] == ["wordsim240"]
    for a in ev["analogies"]:  # each set is either scored on enough questions or skipped with its count
        assert a["questions"] > 7000
        assert (a["skipped"] is None) == (a["total"] >= MIN_COVERED)
        if a["skipped"]:
            assert f"of {a['questions']} questions in the vocabulary" in a["skipped"]
    assert (zh_model / "vectors.npy").is_file() and load(zh_model).meta["tokenizer"] == "jieba"


def test_evaluate_cli_uses_language_defaults_and_replaces_one_kind_only(zh_model: Path) -> None:
    runner = CliRunner()
    res = runner.invoke(main, ["evaluate", str(zh_model), "--json"])
    assert res.exit_code == 0, res.output
    report = json.loads(res.output)
    assert {a["name"] for a in report["analogies"]} == {"ca8-morphological", "ca8-semantic"}
    # --pairs replaces the default pair sets, not the analogies
    res = runner.invoke(main, ["evaluate", str(zh_model), "--pairs", "ws353", "--json"])
    report = json.loads(res.output)
    assert [p["name"] for p in report["pairs"]] == ["ws353"] and len(report["analogies"]) == 2
    assert report["pairs"][0]["skipped"].startswith(
        "0 of 353 pairs in the vocabulary"
    )  # English pairs on a Chinese model
    res = runner.invoke(main, ["evaluate", str(zh_model), "--analogies", "none", "--pairs", "wordsim240"])
    assert res.exit_code == 0 and "analogy" not in res.output and "wordsim240" in res.output


def _random_vectors(words: list[str], meta: dict | None = None) -> Vectors:
    rng = np.random.default_rng(0)
    return Vectors.from_arrays(words, rng.normal(size=(len(words), 8)).astype(np.float32), meta=meta)


def test_language_from_tokenizer_or_script() -> None:
    assert language(_random_vectors(["the", "king"], {"tokenizer": "simple"})) == "en"
    assert language(_random_vectors(["宝玉", "黛玉", "the"])) == "zh"  # an imported file: no tokenizer
    assert language(_random_vectors(["a", "b"], {"tokenizer": "jieba"})) == "zh"


def test_english_model_with_a_chinese_set_is_skipped_not_an_error(kjv_model_dir: Path) -> None:
    report = evaluate(load(kjv_model_dir), analogies=["ca8-semantic"], pairs=["wordsim240"])
    assert report.analogies[0].skipped and report.pairs[0].skipped
    assert report.summary() == {}


def test_malformed_sets_name_the_file_and_line(tmp_path: Path, kjv_model_dir: Path) -> None:
    bad = tmp_path / "bad.txt"
    bad.write_text(": section\nking queen man\n", encoding="utf-8")
    res = CliRunner().invoke(main, ["evaluate", str(kjv_model_dir), "--analogies", str(bad)])
    assert res.exit_code == 1 and f"{bad}:2: expected ': section' or 'a b c d'" in res.output
    pairs = tmp_path / "pairs.tsv"
    pairs.write_text("king\tqueen\n", encoding="utf-8")
    res = CliRunner().invoke(main, ["evaluate", str(kjv_model_dir), "--pairs", str(pairs)])
    assert res.exit_code == 1 and f"{pairs}:1: expected 'word1<TAB>word2<TAB>score'" in res.output


def test_scores_equal_gensim_on_a_covered_set(kjv_model_dir: Path) -> None:
    vectors = load(kjv_model_dir)
    kv = vectors.to_gensim()
    from gensim.test.utils import datapath

    pearson, spearman, oov = kv.evaluate_word_pairs(
        datapath("wordsim353.tsv"), restrict_vocab=len(vectors), case_insensitive=True
    )
    result = evaluate(vectors, analogies=[], pairs=["ws353"]).pairs[0]
    assert (
        result.skipped is None
        and result.spearman == pytest.approx(spearman[0])
        and result.oov_percent == pytest.approx(oov)
    )


def test_saving_then_scoring_records_evaluation_in_meta(tmp_path: Path) -> None:
    from embed.io import update_meta

    out = save_model_dir(tmp_path / "m", _random_vectors(["a", "b", "c"]), {"tokenizer": "simple"})
    update_meta(out, evaluation={"analogies": [], "pairs": []})
    assert json.loads((out / "meta.json").read_text())["evaluation"] == {"analogies": [], "pairs": []}
    assert [p.name for p in tmp_path.iterdir()] == ["m"]
