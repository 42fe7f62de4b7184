"""``embed classify train/eval/predict`` through click's CliRunner."""

from __future__ import annotations

import json
import re
from pathlib import Path

import pytest
from click.testing import CliRunner, Result

from embed.cli import main
from embed.io import save_vectors
from tests.classify.classify_helpers import planted, planted_vectors

SMALL = ["--num-filters", "8", "--epochs", "5", "--threads", "1", "--batch-size", "25", "--quiet"]


def _train(data: Path, *options: str, **paths: Path) -> Result:
    """``embed classify train DATA OPTIONS``, then ``--NAME PATH`` for each keyword (``out=``, ``test=``...)."""
    args = ["classify", "train", str(data), *options]
    for name, path in paths.items():
        args += [f"--{name}", str(path)]
    return CliRunner().invoke(main, args)


def _fasttext(path: Path, n: int, seed: int) -> Path:
    texts, labels = planted(n, seed)
    path.write_text("".join(f"__label__{lab} {t}\n" for t, lab in zip(texts, labels, strict=False)), encoding="utf-8")
    return path


@pytest.fixture(scope="module")
def files(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Path]:
    d = tmp_path_factory.mktemp("cli")
    save_vectors(planted_vectors(), d / "vecs.txt", binary=False)
    return {
        "dir": d,
        "train": _fasttext(d / "train.txt", 300, 1),
        "test": _fasttext(d / "test.txt", 60, 2),
        "vectors": d / "vecs.txt",
    }


@pytest.fixture(scope="module")
def model_dir(files: dict[str, Path]) -> Path:
    out = files["dir"] / "clf"
    r = _train(files["train"], "--mode", "non-static", *SMALL, vectors=files["vectors"], test=files["test"], out=out)
    assert r.exit_code == 0, r.output
    assert "cnn non-static" in r.output and "accuracy" in r.output
    return out


def test_train_eval_predict(model_dir: Path, files: dict[str, Path]) -> None:
    runner = CliRunner()
    r = runner.invoke(main, ["classify", "eval", str(model_dir), str(files["test"]), "--json", "--threads", "1"])
    assert r.exit_code == 0, r.output
    scores = json.loads(r.output)
    assert scores["accuracy"] >= 0.9 and scores["n"] == 60 and set(scores["per_class"]) == {"mid", "neg", "pos"}
    r = runner.invoke(
        main, ["classify", "predict", str(model_dir), "-", "-k", "2"], input="w1 splendid w2\n\ndreadful w5\n"
    )
    assert r.exit_code == 0, r.output
    lines = [line.split("\t") for line in r.output.splitlines()]
    assert [ln[0] for ln in lines] == ["pos", "neg"] and all(len(ln) == 4 for ln in lines)
    assert all(float(ln[1]) >= float(ln[3]) for ln in lines)
    r = runner.invoke(main, ["classify", "predict", str(model_dir), "--json"], input="average\n")
    row = json.loads(r.output)
    assert row["text"] == "average" and row["labels"] == ["mid"] and 1 / 3 < row["probabilities"][0] <= 1


def test_cross_validation(files: dict[str, Path]) -> None:
    r = _train(files["train"], "--cv", "3", "--dim", "16", *SMALL[:-1], "--epochs", "2")
    assert r.exit_code == 0, r.output
    assert "3-fold CV: accuracy" in r.output and all(f"fold {i}/3: accuracy" in r.output for i in (1, 2, 3))


def _bad(tmp_path: Path, content: str, *extra: str) -> tuple[int, str, Path]:
    data = tmp_path / "bad.txt"
    data.write_bytes(content.encode("utf-8"))
    out = tmp_path / "out"
    r = _train(data, "--dim", "16", *SMALL, *extra, out=out)
    return r.exit_code, r.output, out


@pytest.mark.parametrize(
    ("content", "message"),
    [
        ("", "holds no examples"),
        ("__label__a x y\n__label__a z\n__label__a w\n", "every example has the label 'a'"),
        ("a\tx y\nb\tz\nno label here\n", "bad.txt:3: no TAB"),
        (
            "__label__a " + "w " * 50 + "\n__label__b x\n" * 5,
            "has 50 tokens, more than the limit of 40; shorten it, pass --truncate",
        ),
        (
            "__label__a x\n__label__b y\n__label__a __label__b z\n",
            "bad.txt:3: 2 labels (__label__a __label__b); keep one __label__ per line: multi-label training is not "
            "supported",
        ),
    ],
)
def test_bad_training_data(tmp_path: Path, content: str, message: str) -> None:
    code, output, out = _bad(tmp_path, content, "--max-tokens", "40")
    assert code == 1 and "Error:" in output and message in output and "Traceback" not in output
    assert not out.exists() and [p.name for p in tmp_path.iterdir()] == ["bad.txt"]


def test_vectors_of_the_wrong_dimension(tmp_path: Path, files: dict[str, Path]) -> None:
    out = tmp_path / "out"
    r = _train(files["train"], "--dim", "32", *SMALL, vectors=files["vectors"], out=out)
    assert r.exit_code == 1 and "vectors have 16 dimensions but the classifier is configured for 32" in r.output
    assert not out.exists() and list(tmp_path.iterdir()) == []


def test_existing_out_and_missing_out(model_dir: Path, files: dict[str, Path]) -> None:
    r = _train(files["train"], *SMALL, out=model_dir)
    assert r.exit_code == 1 and "already exists" in r.output
    r = _train(files["train"], *SMALL)
    assert r.exit_code == 2 and "--out is required" in r.output


def test_predict_refuses_a_text_over_the_limit(model_dir: Path) -> None:
    r = CliRunner().invoke(main, ["classify", "predict", str(model_dir)], input="splendid\n" + "w1 " * 1001 + "\n")
    assert r.exit_code == 1 and "text 2 has 1001 tokens, more than the limit of 1000" in r.output
    assert "pass --truncate (keeps the first 1000 tokens)" in r.output
    assert "pos" not in r.output  # nothing printed for the good line either


def test_predict_and_eval_truncate_when_asked(model_dir: Path, tmp_path: Path) -> None:
    runner = CliRunner()
    words = [f"w{i % 50}" for i in range(1000)] + ["dreadful"] * 200  # a cut at the end would keep "dreadful"
    long, first, last = " ".join(words), " ".join(words[:1000]), " ".join(words[200:])
    r = runner.invoke(
        main,
        ["classify", "predict", str(model_dir), "--truncate", "--json", "--threads", "1"],
        input=f"{long}\n{first}\n{last}\n",
    )
    assert r.exit_code == 0, r.output
    rows = [json.loads(line) for line in r.stdout.splitlines()]
    assert (
        rows[0]["text"] == long and rows[0]["probabilities"] == rows[1]["probabilities"] != rows[2]["probabilities"]
    )  # the first 1000 tokens kept
    assert r.stderr == "truncated 1 of 3 texts to the classifier's --max-tokens 1000\n"
    data = tmp_path / "long.txt"
    data.write_text(f"__label__pos splendid w2\n__label__neg {long}\n__label__mid average\n", encoding="utf-8")
    r = runner.invoke(main, ["classify", "eval", str(model_dir), str(data), "--threads", "1"])
    assert r.exit_code == 1 and "long.txt: text 2 has 1200 tokens" in r.output and "--truncate" in r.output
    r = runner.invoke(main, ["classify", "eval", str(model_dir), str(data), "--truncate", "--json", "--threads", "1"])
    assert r.exit_code == 0, r.output
    assert (
        json.loads(r.stdout)["n"] == 3 and r.stderr == "truncated 1 of 3 texts to the classifier's --max-tokens 1000\n"
    )
    assert sorted(p.name for p in tmp_path.iterdir()) == ["long.txt"]


def test_train_truncates_when_asked_and_records_it(tmp_path: Path) -> None:
    data = tmp_path / "long.txt"
    texts, labels = planted(200, 5)
    texts[3] = texts[3] + " w1" * 60
    texts[7] = texts[7] + " w2" * 45
    data.write_text("".join(f"__label__{lab} {t}\n" for t, lab in zip(texts, labels, strict=False)), encoding="utf-8")
    test = tmp_path / "test.txt"
    test.write_text(
        "__label__pos splendid\n__label__neg dreadful" + " w3" * 41 + "\n__label__mid average\n", encoding="utf-8"
    )
    out = tmp_path / "clf"
    r = _train(data, "--dim", "16", "--max-tokens", "40", "--truncate", *SMALL, out=out)
    assert r.exit_code == 0, r.output
    meta = json.loads((out / "config.json").read_text(encoding="utf-8"))
    assert meta["config"]["truncate"] is True and meta["config"]["max_tokens"] == 40
    cut = meta["info"]["truncated"]
    assert set(cut) == {"train", "dev"} and cut["train"] + cut["dev"] == 2
    assert (
        r.stderr
        == f"truncated {cut['train']} of 180 training texts and {cut['dev']} of 20 dev texts to --max-tokens 40\n"
    )
    r = _train(data, "--dim", "16", "--max-tokens", "40", "--truncate", *SMALL, test=test, out=tmp_path / "clf2")
    assert r.exit_code == 0, r.output
    assert (
        r.stderr
        == f"truncated {cut['train']} of 180 training texts, {cut['dev']} of 20 dev texts and 1 of 3 test texts "
        "to --max-tokens 40\n"
    )
    assert "(3 examples)" in r.stdout
    r = _train(data, "--dim", "16", "--max-tokens", "40", *SMALL, out=tmp_path / "clf3")
    m = re.search(
        r"long.txt: text \d+ has (\d+) tokens, more than the limit of 40; shorten it, pass --truncate", r.output
    )
    assert r.exit_code == 1 and m is not None and int(m.group(1)) in (len(texts[3].split()), len(texts[7].split()))
    assert sorted(p.name for p in tmp_path.iterdir()) == ["clf", "clf2", "long.txt", "test.txt"]


def test_eval_on_a_non_classifier_directory(tmp_path: Path, files: dict[str, Path]) -> None:
    r = CliRunner().invoke(main, ["classify", "eval", str(tmp_path), str(files["test"])])
    assert r.exit_code == 1 and "not a classifier directory" in r.output
