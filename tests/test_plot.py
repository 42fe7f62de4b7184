"""`embed plot` maps and the training picture: real models, real PNGs, checked pixel by pixel."""

from __future__ import annotations

import warnings
from pathlib import Path

import numpy as np
import pytest
from click.testing import CliRunner

from embed.cli import main
from embed.maps import cjk_font, has_cjk, plot_map, project, select_words
from tests.conftest import needs_system

ROOT = Path(__file__).resolve().parents[1]
WORDS = ["king", "queen", "god", "lord", "water", "wine", "bread", "egypt", "israel", "moses", "david", "jerusalem"]


def read_png(path: Path) -> np.ndarray:
    """``(height, width, channels)`` floats in [0, 1]; fails on anything that isn't a PNG."""
    import matplotlib.image as mpimg

    assert path.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
    return mpimg.imread(path)


def assert_drawn(img: np.ndarray, width: int, height: int) -> None:
    """The picture has the expected size and real content: neither blank nor a solid block."""
    assert img.shape[:2] == (height, width)
    grey = img[..., :3].mean(axis=2)
    ink = float((grey < 0.9).mean())  # share of pixels that aren't (near) white
    assert 0.005 < ink < 0.5, ink
    assert float(grey.std()) > 0.05


def run(*args: str) -> tuple[int, str]:
    res = CliRunner().invoke(main, list(args))
    return res.exit_code, res.output


def test_pca_map_of_named_words(kjv_model_dir: Path, tmp_path: Path) -> None:
    out = tmp_path / "map.png"
    code, text = run("plot", str(kjv_model_dir), *WORDS, "--out", str(out))
    assert code == 0, text
    assert f"wrote {out}: {len(WORDS)} words, pca" in text
    assert_drawn(read_png(out), 1000, 800)
    assert [p.name for p in tmp_path.iterdir()] == ["map.png"]  # no temporary file left behind


def test_tsne_map_of_top_words(kjv_model_dir: Path, tmp_path: Path) -> None:
    out = tmp_path / "tsne.png"
    code, text = run("plot", str(kjv_model_dir), "--top", "40", "--method", "tsne", "--out", str(out))
    assert code == 0, text
    assert "40 words, tsne" in text
    assert_drawn(read_png(out), 1000, 800)


def test_labels_move_with_the_words(kjv_model_dir: Path, tmp_path: Path) -> None:
    """Two different word lists give two different pictures (the labels and points are drawn)."""
    from embed.io import load

    v = load(kjv_model_dir)
    a, b = tmp_path / "a.png", tmp_path / "b.png"
    plot_map(v, WORDS[:6], a)
    plot_map(v, WORDS[6:], b)
    assert np.abs(read_png(a) - read_png(b)).mean() > 0.001


def test_select_words_top_is_most_frequent_first(kjv_model_dir: Path) -> None:
    from embed.io import load

    v = load(kjv_model_dir)
    top = select_words(v, top=5)
    assert top == v.words[:5]
    counts = [v.count(w) for w in top]
    assert counts == sorted(counts, reverse=True)
    assert select_words(v, ["god", "king", "god"]) == ["god", "king"]


def test_project_shapes_and_small_tsne(kjv_model_dir: Path) -> None:
    from embed.io import load

    v = load(kjv_model_dir)
    m = np.stack([v[w] for w in WORDS[:5]])
    assert project(m, "pca").shape == (5, 2)
    tsne = project(m, "tsne")  # perplexity lowered below n instead of failing
    assert tsne.shape == (5, 2) and np.isfinite(tsne).all()


def test_chinese_map_draws_every_glyph(tmp_path: Path) -> None:
    """A model trained on a slice of 三国演义 with jieba; no label may fall back to empty boxes."""
    needs_system(cjk_font() is not None, "a CJK font", "fonts-noto-cjk")
    from embed.config import TrainConfig
    from embed.corpus import Corpus
    from embed.train import train

    lines = (ROOT / "corpora" / "zh_novels" / "sanguo_yanyi.txt").read_text(encoding="utf-8").splitlines()[:1200]
    corpus = tmp_path / "sanguo.txt"
    corpus.write_text("\n".join(lines), encoding="utf-8")
    vectors = train(
        Corpus(corpus, tokenizer="jieba"), TrainConfig(dim=20, epochs=1, workers=1, seed=1, min_count=3)
    ).vectors
    words = [w for w in ["曹操", "刘备", "关羽", "张飞", "孔明", "玄德", "天下", "将军"] if w in vectors]
    assert len(words) >= 5 and has_cjk(words)
    out = tmp_path / "zh.png"
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        plot_map(vectors, words, out)
    missing = [str(w.message) for w in caught if "missing from font" in str(w.message)]
    assert missing == []
    assert_drawn(read_png(out), 1000, 800)


def test_without_a_cjk_font_it_warns_and_still_draws(
    monkeypatch: pytest.MonkeyPatch, caplog: pytest.LogCaptureFixture, tmp_path: Path
) -> None:
    """Machines without a CJK font (simulated: the font search finds none) get a warning, not a failure."""
    import embed.maps
    from embed.vectors import Vectors

    monkeypatch.setattr(embed.maps, "cjk_font", lambda: None)
    v = Vectors.from_arrays(["曹操", "刘备", "孙权"], np.eye(3, 4, dtype=np.float32))
    out = tmp_path / "zh.png"
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # matplotlib's own "Glyph missing" warnings
        plot_map(v, v.words, out)
    assert "no CJK font found" in caplog.text and "fonts-noto-cjk" in caplog.text
    assert_drawn(read_png(out), 1000, 800)


def test_training_picture_has_loss_and_speed(tmp_path: Path) -> None:
    from embed.plots import plot_training
    from embed.train.base import EpochStats

    epochs = [
        EpochStats(epoch=i, loss=3.0 - 0.2 * i, words=1000, seconds=0.01, words_per_sec=100_000.0 + 5_000 * i)
        for i in range(4)
    ]
    out = tmp_path / "loss.png"
    plot_training(epochs, out, "test run")
    assert_drawn(read_png(out), 640, 400)


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["king", "pharaohx", "zzyzx"], "not in the vocabulary: 'pharaohx', 'zzyzx'"),
        (["--top", "999999"], "--top 999999 is larger than the vocabulary"),
        (["king", "queen", "--top", "5"], "either WORDS or --top N, not both"),
        (["king"], "at least 2 distinct words"),
    ],
)
def test_bad_words_fail_clearly_and_write_nothing(
    kjv_model_dir: Path, tmp_path: Path, args: list[str], message: str
) -> None:
    out = tmp_path / "map.png"
    code, text = run("plot", str(kjv_model_dir), *args, "--out", str(out))
    assert code == 1
    assert message in text
    assert "Traceback" not in text
    assert list(tmp_path.iterdir()) == []


def test_bad_model_and_output_fail_clearly(kjv_model_dir: Path, tmp_path: Path) -> None:
    code, text = run("plot", str(tmp_path / "nope"), "king", "queen", "--out", str(tmp_path / "m.png"))
    assert code == 1 and "nope: no such file or directory" in text
    code, text = run("plot", str(kjv_model_dir), "king", "queen", "--out", str(tmp_path / "m.jpgx"))
    assert code == 1 and "end --out with .png, .svg or .pdf" in text
    code, text = run("plot", str(kjv_model_dir), "king", "queen", "--out", str(tmp_path / "missing" / "m.png"))
    assert code == 1 and "does not exist; create it first" in text
    assert list(tmp_path.iterdir()) == []
