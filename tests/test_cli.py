"""The CLI end to end through click's CliRunner: outputs, exit codes, and bad inputs."""

import json
from pathlib import Path

import pytest
from click.testing import CliRunner
from gensim.models import KeyedVectors

import embed
from embed.cli import main
from tests.cli_helpers import MODEL_DIR_FILES, train_cli


@pytest.fixture
def runner():
    return CliRunner()


@pytest.fixture
def small_corpus(tmp_path, kjv_path):
    path = tmp_path / "kjv_head.txt"
    with open(kjv_path) as fin:
        path.write_text("".join(line for _, line in zip(range(3000), fin, strict=False)))
    return path


def _leftovers(parent: Path) -> list[str]:
    return sorted(p.name for p in parent.iterdir() if ".tmp-" in p.name)


def test_train_writes_a_complete_model_dir(small_corpus, tmp_path):
    out = tmp_path / "model"
    res = train_cli(small_corpus, out, "--dim 20 --epochs 2 --workers 1 --quiet --show god")
    assert res.exit_code == 0, res.output
    assert sorted(p.name for p in out.iterdir()) == sorted([*MODEL_DIR_FILES, "loss.png"])
    meta = json.loads((out / "meta.json").read_text())
    assert meta["params"]["dim"] == 20 and meta["params"]["arch"] == "skipgram" and meta["params"]["alpha"] == 0.025
    assert meta["corpus"]["sentences"] == 3000 and meta["corpus"]["vocab_size"] > 500
    assert len(meta["epochs"]) == 2 and all(e["loss"] > 0 for e in meta["epochs"])
    assert {a["name"] for a in meta["evaluation"]["analogies"]} == {"google"}
    assert "versions" in meta and "timings" in meta
    kv = KeyedVectors.load_word2vec_format(str(out / "vectors.bin"), binary=True)
    assert len(kv) == meta["corpus"]["vocab_size"]
    assert (
        "wrote" in res.output and "god:" in res.output and "pairs ws353: " in res.output
    )  # scored, or skipped with its coverage
    assert _leftovers(tmp_path) == []


def test_train_text_format_and_cbow(small_corpus, tmp_path):
    out = tmp_path / "m"
    res = train_cli(small_corpus, out, "--arch cbow --dim 10 --epochs 1 --text --no-eval --quiet")
    assert res.exit_code == 0, res.output
    meta = json.loads((out / "meta.json").read_text())
    assert meta["vectors_file"] == "vectors.txt" and meta["params"]["alpha"] == 0.05 and meta["evaluation"] == {}
    assert KeyedVectors.load_word2vec_format(str(out / "vectors.txt")).vector_size == 10


@pytest.mark.parametrize(
    "make, message",
    [
        (lambda d: d / "missing.txt", "missing.txt: no such file or directory"),
        (lambda d: _write(d / "empty.txt", b""), "empty.txt: the corpus holds no tokens"),
        (lambda d: _write(d / "blank.txt", b"\n \n\t\n"), "blank.txt: the corpus holds no tokens"),
        (lambda d: _write(d / "rare.txt", b"a b c d e f\n"), "no word occurs at least min_count=5 times"),
        (lambda d: _write(d / "garbage.bin", bytes(range(256)) * 64), "garbage.bin: looks like a binary file"),
        (lambda d: _mkdir(d / "nodocs"), "nodocs: directory holds no text files"),
    ],
)
def test_bad_corpus_inputs(tmp_path, make, message):
    src = make(tmp_path)
    out = tmp_path / "out"
    res = train_cli(src, out, "--quiet")
    assert res.exit_code == 1
    assert message in res.output
    assert res.output.count("\n") == 1 and "Traceback" not in res.output
    assert not out.exists() and _leftovers(tmp_path) == []


def test_existing_or_unwritable_output(small_corpus, tmp_path):
    (tmp_path / "taken").mkdir()
    (tmp_path / "taken" / "keep.txt").write_text("precious")
    res = train_cli(small_corpus, tmp_path / "taken", "--quiet")
    assert res.exit_code == 1 and "taken: already exists; choose another --out or pass --overwrite" in res.output
    assert (tmp_path / "taken" / "keep.txt").read_text() == "precious"
    (tmp_path / "afile").write_text("x")
    res = train_cli(small_corpus, tmp_path / "afile" / "m", "--quiet")
    assert res.exit_code == 1 and "cannot write in" in res.output
    assert _leftovers(tmp_path) == []


def test_option_validation_is_a_usage_error(runner, small_corpus):
    res = runner.invoke(main, ["train", str(small_corpus), "--arch", "glove"])
    assert res.exit_code == 2 and "'glove' is not one of" in res.output
    res = runner.invoke(main, ["train", str(small_corpus), "--dim", "0"])
    assert res.exit_code == 2


def test_pairs_prints_the_dynamic_window(runner, tmp_path):
    path = _write(tmp_path / "s.txt", b"the quick brown fox jumps\n")
    res = runner.invoke(main, ["pairs", str(path), "--window", "2", "--limit", "50", "--seed", "3"])
    assert res.exit_code == 0, res.output
    header, *rows = res.output.strip().splitlines()
    windows = {tok.split("(w=")[0]: int(tok.split("(w=")[1][:-1]) for tok in header[2:].split()}
    words = ["the", "quick", "brown", "fox", "jumps"]
    expected = [
        f"{w}\t->\t{c}" for i, w in enumerate(words) for j, c in enumerate(words) if i != j and abs(i - j) <= windows[w]
    ]
    assert rows == expected
    res = runner.invoke(main, ["pairs", str(path), "--arch", "cbow", "--limit", "2"])
    assert res.exit_code == 0 and len(res.output.strip().splitlines()) == 3


def test_query_commands(runner, kjv_model_dir):
    vectors = embed.load(kjv_model_dir)
    res = runner.invoke(main, ["similar", str(kjv_model_dir), "jesus", "-k", "3"])
    assert res.exit_code == 0, res.output
    lines = res.output.strip().splitlines()
    assert lines[0] == "rank\tword\tcosine"
    assert [ln.split("\t")[1] for ln in lines[1:]] == [w for w, _ in vectors.most_similar("jesus", topn=3)]
    res = runner.invoke(main, ["similar", str(kjv_model_dir), "jesus", "-k", "2", "--metric", "euclidean"])
    assert res.exit_code == 0 and "distance" in res.output
    res = runner.invoke(main, ["analogy", str(kjv_model_dir), "man", "king", "woman", "-k", "1"])
    assert res.exit_code == 0 and res.output.split("\t")[1] == vectors.analogy("man", "king", "woman")[0][0]
    res = runner.invoke(main, ["similar", str(kjv_model_dir), "iphone"])
    assert res.exit_code == 1 and "'iphone' is not in the vocabulary" in res.output
    res = runner.invoke(main, ["evaluate", str(kjv_model_dir), "--json"])
    assert res.exit_code == 0
    report = json.loads(res.output)
    assert [a["name"] for a in report["analogies"]] == ["google"]
    assert [p["name"] for p in report["pairs"]] == ["ws353", "simlex999"]


def _write(path: Path, data: bytes) -> Path:
    path.write_bytes(data)
    return path


def _mkdir(path: Path) -> Path:
    path.mkdir()
    return path
