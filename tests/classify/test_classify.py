"""Training, prediction, save/load and reproducibility of the TextCNN and TextRNN."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest
import torch

from embed.classify import ClassifierConfig, Dataset, fit, load_classifier, save_classifier
from embed.classify.classifier import pad_batch, padding
from embed.classify.optim import RowAdadelta
from embed.classify.train import cross_validate
from embed.errors import ConfigError, FormatError, OutputError
from embed.vectors import Vectors
from tests.classify.classify_helpers import FILLER, KEYS, planted, planted_vectors, small_config


@pytest.fixture(scope="module")
def data() -> tuple[Dataset, Dataset]:
    tr, te = planted(300, seed=1), planted(90, seed=2)
    return Dataset(*tr, source="train"), Dataset(*te, source="test")


@pytest.fixture(scope="module")
def vectors() -> Vectors:
    """16-dim vectors for the filler words and the keywords, seeded."""
    return planted_vectors()


@pytest.fixture(scope="module")
def cnn(data: tuple[Dataset, Dataset]):  # type: ignore[no-untyped-def]
    return fit(data[0], small_config())


def test_cnn_learns_the_planted_keyword(cnn, data) -> None:  # type: ignore[no-untyped-def]
    metrics = cnn.evaluate(data[1])
    assert metrics.accuracy >= 0.9, metrics.format()
    assert metrics.labels == ["mid", "neg", "pos"]
    assert sum(map(sum, metrics.confusion)) == 90
    top = cnn.predict(["w1 w2 splendid w3", "dreadful"], k=2)
    assert [t[0][0] for t in top] == ["pos", "neg"]
    assert all(len(t) == 2 and t[0][1] >= t[1][1] for t in top)


@pytest.mark.parametrize("arch,bidirectional", [("lstm", True), ("gru", False)])
def test_rnn_learns_the_planted_keyword(data, arch: str, bidirectional: bool) -> None:  # type: ignore[no-untyped-def]
    clf = fit(data[0], small_config(arch=arch, bidirectional=bidirectional, lr=0.02, epochs=8))
    assert clf.evaluate(data[1]).accuracy >= 0.85


@pytest.mark.parametrize("mode", ["static", "non-static", "multichannel"])
def test_pretrained_modes(data, vectors: Vectors, mode: str) -> None:  # type: ignore[no-untyped-def]
    clf = fit(data[0], small_config(mode=mode, epochs=4), vectors=vectors)
    emb = clf.model.embedder.embed.weight.detach()
    row = clf.vocab.index("splendid")
    raw = torch.from_numpy(vectors["splendid"])
    start = raw / raw.norm() * 0.25 * (16 / 3) ** 0.5  # rescaled to an unknown word's length
    if mode == "static":
        assert torch.allclose(emb[row], start, atol=1e-6)  # frozen
    else:
        assert not torch.allclose(emb[row], start, atol=1e-3)  # fine-tuned
    if mode == "multichannel":
        assert torch.allclose(clf.model.embedder.static_embed[row], start, atol=1e-6)
    assert clf.info["pretrained_rows"] == len(FILLER) + len(KEYS) - sum(w not in clf.vocab for w in FILLER)
    assert clf.evaluate(data[1]).accuracy >= 0.8


def test_raw_vectors_keep_their_scale(data, vectors: Vectors) -> None:  # type: ignore[no-untyped-def]
    clf = fit(data[0], small_config(mode="static", epochs=1, normalize_vectors=False), vectors=vectors)
    row = clf.vocab.index("dreadful")
    assert torch.equal(clf.model.embedder.embed.weight[row].detach(), torch.from_numpy(vectors["dreadful"]))


def test_unknown_words_start_uniform_quarter(data) -> None:  # type: ignore[no-untyped-def]
    clf = fit(data[0], small_config(epochs=1, mode="rand", lr=1e-9))
    emb = clf.model.embedder.embed.weight.detach()
    assert emb[2:].abs().max() <= 0.25 and emb[2:].abs().max() > 0.2
    assert torch.count_nonzero(emb[0]) == 0  # padding stays zero


def test_vectors_of_another_dimension_are_refused(data, vectors: Vectors) -> None:  # type: ignore[no-untyped-def]
    with pytest.raises(ConfigError, match="vectors have 16 dimensions but the classifier is configured for 32"):
        fit(data[0], small_config(dim=32, mode="static"), vectors=vectors)
    with pytest.raises(ConfigError, match="needs pre-trained vectors"):
        fit(data[0], small_config(mode="static"))


def test_single_class_and_empty_data_are_refused() -> None:
    with pytest.raises(FormatError, match="every example has the label 'pos'.*at least two classes"):
        fit(Dataset(["a b", "c d"], ["pos", "pos"], "one.txt"), small_config())
    with pytest.raises(FormatError, match="holds no examples"):
        fit(Dataset([], [], "empty.txt"), small_config())


def test_text_longer_than_the_limit(data) -> None:  # type: ignore[no-untyped-def]
    clf = fit(data[0], small_config(max_tokens=20, epochs=1))
    with pytest.raises(FormatError, match="text 2 has 25 tokens, more than the limit of 20"):
        clf.predict(["fine", " ".join(["w1"] * 25)])
    long_train = Dataset([*data[0].texts, " ".join(["w1"] * 30)], [*data[0].labels, "pos"], "long.txt")
    with pytest.raises(FormatError, match="long.txt: text .* has 30 tokens"):
        fit(long_train, small_config(max_tokens=20, epochs=1, dev_fraction=0.01))


def test_save_load_predicts_from_the_directory_alone(cnn, tmp_path: Path) -> None:  # type: ignore[no-untyped-def]
    out = save_classifier(tmp_path / "clf", cnn)
    assert sorted(p.name for p in out.iterdir()) == ["config.json", "labels.json", "model.safetensors", "vocab.txt"]
    meta = json.loads((out / "config.json").read_text())
    assert meta["format"] == "embed-classifier" and meta["config"]["filter_sizes"] == [3, 4, 5]
    loaded = load_classifier(out)
    texts = ["w3 splendid", "average w9 w10", "dreadful w1 w2 w3 w4 w5 w6"]
    np.testing.assert_allclose(loaded.predict_proba(texts), cnn.predict_proba(texts), atol=1e-6)
    assert loaded.labels == cnn.labels and loaded.vocab == cnn.vocab
    with pytest.raises(OutputError, match="already exists"):
        save_classifier(tmp_path / "clf", cnn)


def test_damaged_directory_is_reported(cnn, tmp_path: Path) -> None:  # type: ignore[no-untyped-def]
    out = save_classifier(tmp_path / "clf", cnn)
    (out / "vocab.txt").write_text("<pad>\n<unk>\nonly\n")
    with pytest.raises(FormatError, match="weights do not fit"):
        load_classifier(out)
    (out / "labels.json").unlink()
    with pytest.raises(FormatError, match="missing labels.json"):
        load_classifier(out)


def test_seeded_runs_repeat_on_cpu(data) -> None:  # type: ignore[no-untyped-def]
    a, b = (fit(data[0], small_config(epochs=2, seed=7)) for _ in range(2))
    c = fit(data[0], small_config(epochs=2, seed=8))
    sa, sb, sc = (m.model.state_dict() for m in (a, b, c))
    assert all(torch.equal(sa[k], sb[k]) for k in sa)
    assert not all(torch.equal(sa[k], sc[k]) for k in sa)


def test_short_sentences_are_zero_padded_and_independent_of_batch(cnn) -> None:  # type: ignore[no-untyped-def]
    ids, lengths = pad_batch([[5]], min_length=5, extra=4)
    assert ids.tolist() == [[5, 0, 0, 0, 0]] and lengths.tolist() == [1]
    alone = cnn.predict_proba(["splendid"])
    mixed = cnn.predict_proba(["splendid", " ".join(FILLER[:40])])
    np.testing.assert_allclose(alone[0], mixed[0], atol=1e-6)
    assert cnn.predict(["", "dreadful"])[1][0][0] == "neg"  # an empty text still gets a label


def test_cnn_pads_both_sides_like_kim_and_old_configs_keep_right_padding() -> None:
    assert padding(ClassifierConfig()) == (5, 4, 4)
    assert padding(ClassifierConfig(pad_left=False)) == (5, 4, 0)
    assert padding(ClassifierConfig(arch="lstm")) == (1, 0, 0)
    ids, lengths = pad_batch([[7, 8], [9]], *padding(ClassifierConfig()))
    assert ids.tolist() == [[0] * 4 + [7, 8] + [0] * 4, [0] * 4 + [9] + [0] * 5] and lengths.tolist() == [2, 1]
    saved_before = ClassifierConfig().to_dict()
    del saved_before["pad_left"]
    assert ClassifierConfig.from_dict(saved_before).pad_left is False


def test_projection_table_equals_the_convolution(cnn) -> None:  # type: ignore[no-untyped-def]
    texts = ["splendid w1", "w2 w3 w4 dreadful w5 w6 w7 w8", "average"]
    via_table = cnn.predict_proba(texts)
    cnn.frozen, cnn._table = False, None
    try:
        via_sums = cnn.predict_proba(texts)
        ids, lengths = pad_batch(cnn.encode(texts), *padding(cnn.config))
        with torch.no_grad():
            via_conv = torch.softmax(cnn.model.out(cnn.model.conv_features(ids, lengths)), dim=1).numpy()
    finally:
        cnn.frozen = True
    np.testing.assert_allclose(via_table, via_conv, atol=1e-5)
    np.testing.assert_allclose(via_sums, via_conv, atol=1e-5)


@pytest.mark.parametrize("mode", ["non-static", "multichannel"])
def test_window_sums_train_like_conv1d(mode: str) -> None:
    """Training features (window sums of per-batch projected rows) and their gradients
    for every parameter equal the Conv1d form, repeated words and padding included."""
    from embed.classify.models import build_model

    torch.manual_seed(3)
    config = ClassifierConfig(mode=mode, dim=8, num_filters=5, filter_sizes=(2, 3, 5))
    model = build_model(12, 3, config, torch.randn(12, 8))
    ids, lengths = pad_batch([[4, 5, 4, 4, 9], [7], [11, 2, 3, 2, 5, 6, 8, 10, 4]], *padding(config))
    weights = torch.randn(3, 15)
    grads = []
    for features in (model.features, model.conv_features):
        model.zero_grad()
        out = features(ids, lengths)
        (out * weights).sum().backward()
        grads.append(
            (out.detach(), *(p.grad.to_dense() for p in [model.embedder.embed.weight, *model.convs.parameters()]))
        )
    assert len(grads[0]) == 8  # features, embedding, 3 conv weights and 3 biases
    for ours, reference in zip(*grads, strict=False):
        torch.testing.assert_close(ours, reference, atol=1e-5, rtol=1e-4)


def test_window_sums_gradient_passes_gradcheck() -> None:
    from embed.classify.models import _WindowSums

    torch.manual_seed(0)
    table = torch.randn(6, (2 + 3) * 4, dtype=torch.double, requires_grad=True)
    ids = torch.tensor([[0, 1, 1, 5, 2, 0], [3, 3, 4, 0, 0, 0]])
    assert torch.autograd.gradcheck(lambda y: _WindowSums.apply(y, ids, (2, 3), 4), (table,))


def test_row_adadelta_equals_dense_adadelta() -> None:
    torch.manual_seed(0)
    start = torch.randn(30, 4)
    sparse, dense = torch.nn.Embedding(30, 4, sparse=True), torch.nn.Embedding(30, 4)
    sparse.weight.data.copy_(start)
    dense.weight.data.copy_(start)
    opt_s = RowAdadelta(sparse.weight, rho=0.95, eps=1e-6)
    opt_d = torch.optim.Adadelta(dense.parameters(), lr=1.0, rho=0.95, eps=1e-6)
    for _ in range(25):
        ids = torch.randint(0, 30, (5,))  # most rows untouched in most steps
        for emb, opt in ((sparse, opt_s), (dense, opt_d)):
            opt.zero_grad()
            (emb(ids) ** 2).sum().backward()
            opt.step()
    assert (sparse.weight - dense.weight).abs().max() < 1e-6
    assert not torch.equal(sparse.weight, start)


def test_cross_validation_scores_every_fold(data) -> None:  # type: ignore[no-untyped-def]
    results = cross_validate(data[0], small_config(epochs=2), k=3)
    assert len(results) == 3 and sum(m.n for m in results) == 300
    with pytest.raises(ConfigError, match="--cv 1000"):
        cross_validate(data[0], small_config(), k=1000)


def test_chinese_with_jieba() -> None:
    pos = ["房间很干净，服务很好", "早餐丰富，位置方便", "服务热情，房间舒适", "环境很好，交通方便"]
    neg = ["房间太脏，服务很差", "早餐难吃，位置偏僻", "服务冷漠，房间吵闹", "环境很差，交通不便"]
    texts, labels = (pos + neg) * 8, (["1"] * 4 + ["0"] * 4) * 8
    clf = fit(Dataset(texts, labels, "zh"), small_config(tokenizer="jieba", epochs=20))
    assert "房间" in clf.vocab and "干净" in clf.vocab
    assert clf.evaluate(Dataset(pos + neg, ["1"] * 4 + ["0"] * 4, "zh")).accuracy >= 0.75
