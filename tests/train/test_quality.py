"""Seeded quality checks on the bundled corpora (tolerant thresholds, like gensim's model_sanity)."""

import numpy as np

import embed
from embed.config import TrainConfig
from embed.evaluate import evaluate
from tests.kjv_checks import assert_kjv_neighbours_make_sense


def test_kjv_neighbours_make_sense(kjv_model_dir):
    assert_kjv_neighbours_make_sense(embed.load(kjv_model_dir))


def test_chinese_model_and_chinese_evaluation_files(tmp_path, kjv_path):
    from tests.conftest import ZH_NOVELS

    src = tmp_path / "hlm.txt"
    with open(ZH_NOVELS / "hongloumeng.txt", encoding="utf-8") as fin:
        src.write_text("".join(line for _, line in zip(range(1500), fin, strict=False)), encoding="utf-8")
    result = embed.train(src, TrainConfig(tokenizer="jieba", dim=30, epochs=3, workers=1, min_count=3))
    v = result.vectors
    assert "宝玉" in v and "黛玉" in v
    analogy = tmp_path / "zh_analogy.txt"
    analogy.write_text(": people\r\n宝玉 黛玉 宝玉 黛玉\r\n宝玉 不存在的词 宝玉 黛玉\r\n", encoding="utf-8")
    pairs = tmp_path / "zh_pairs.txt"
    pairs.write_text("宝玉\t黛玉\t8.0\r\n宝玉\t姑娘\t5.0\r\n黛玉\t老太太\t3.0\r\n宝钗\t黛玉\t7.5", encoding="utf-8")
    report = evaluate(v, analogies=[analogy], pairs=[pairs])
    assert report.analogies[0].name == "zh_analogy" and report.analogies[0].total == 1
    assert report.pairs[0].name == "zh_pairs" and -1.0 <= report.pairs[0].spearman <= 1.0
    assert np.isfinite(report.pairs[0].pearson)
