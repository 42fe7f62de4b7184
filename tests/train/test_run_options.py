"""One trainer interface (``fit(corpus, vocab, config, callbacks, run)``), one check of run options,
library messages in library terms and the CLI's in flags, and one ``meta.json`` for both."""

from __future__ import annotations

import doctest
import json
from pathlib import Path
from typing import Any

import numpy as np
import pytest
from click.testing import CliRunner

import embed.config
from embed.cli import FLAGS, main
from embed.config import OptionError, TrainConfig
from embed.corpus import Corpus
from embed.errors import ConfigError, FormatError
from embed.io import model_meta, save_trained
from embed.train import Callbacks, DivergedError, RunOptions, TrainResult, check_finite, check_run, get_trainer, train
from embed.train.checkpoint import EVERY, Checkpointer, read_snapshot
from embed.train.distributed import RowSync
from embed.vectors import Vectors
from embed.vocab import Vocab

BACKENDS = {
    "gensim": {"backend": "gensim"},
    "gensim subwords": {"backend": "gensim", "subwords": True, "bucket": 500},
    "torch": {"backend": "torch"},
    "torch subwords": {"backend": "torch", "subwords": True, "bucket": 500},
}


def _sentences() -> list[list[str]]:
    rng = np.random.default_rng(0)
    words = [f"w{i}" for i in range(30)]
    return [list(rng.choice(words, 10)) for _ in range(300)]


@pytest.mark.parametrize("name", sorted(BACKENDS))
def test_every_backend_fits_through_the_one_interface(name: str) -> None:
    corpus = _sentences()
    config = TrainConfig(dim=8, epochs=1, workers=1, min_count=1, **BACKENDS[name])
    vocab = Vocab.build(corpus, min_count=1)
    result = get_trainer(config.backend).fit(corpus, vocab, config, Callbacks(), RunOptions())
    assert result.vectors.matrix.shape == (30, 8) and result.config is config and len(result.epochs) == 1
    assert (result.vectors.subwords is not None) == config.subwords
    plain = get_trainer(config.backend).fit(corpus, vocab, config, Callbacks())  # run defaults to a plain one
    assert plain.vectors.words == result.vectors.words


CHECKPOINTER = Checkpointer(Path("/nonexistent/ckpt"), 1.0)
# (config, run options, source) -> the library's message and the CLI's.
REFUSED: list[tuple[dict[str, Any], dict[str, Any], str, str, str]] = [
    (
        {},
        {"checkpointer": CHECKPOINTER},
        "c.txt",
        "checkpoints and resuming need the torch backend"
        " (gensim's own save format is pickle, which embed does not write)",
        "--checkpoint-every and --resume need --backend torch (gensim's own save format is pickle,"
        " which embed does not write)",
    ),
    (
        {"backend": "torch"},
        {"checkpointer": CHECKPOINTER},
        "-",
        "checkpoints/resuming need a corpus file or directory, not stdin (it cannot be read again on resume)",
        "--checkpoint-every/--resume need a corpus file or directory, not stdin (it cannot be read again on resume)",
    ),
    (
        {},
        {"sync": RowSync()},
        "c.txt",
        "distributed training needs the torch backend",
        "--distributed needs --backend torch",
    ),
    (
        {"backend": "torch", "subwords": True},
        {"sync": RowSync()},
        "c.txt",
        "distributed training does not train subword models yet (its row sync covers word rows only);"
        " drop subwords or distributed training",
        "--distributed does not train subword models yet (its row sync covers word rows only);"
        " drop --subwords or --distributed",
    ),
    (
        {"backend": "torch"},
        {"sync": RowSync()},
        "-",
        "distributed training needs a corpus file or directory, not stdin (each rank reads its own share of it)",
        "--distributed needs a corpus file or directory, not stdin (each rank reads its own share of it)",
    ),
]


@pytest.mark.parametrize(("config", "run", "source", "library", "cli"), REFUSED)
def test_check_run_speaks_library_terms_and_the_cli_renders_flags(
    config: dict[str, Any], run: dict[str, Any], source: str, library: str, cli: str
) -> None:
    with pytest.raises(OptionError) as info:
        check_run(TrainConfig(**config), RunOptions(**run), source)
    assert str(info.value) == library and "--" not in library
    assert info.value.render(FLAGS) == cli


def test_train_refuses_before_reading_the_corpus(tmp_path: Path) -> None:
    with pytest.raises(OptionError, match="^distributed training needs the torch backend$"):
        train(tmp_path / "missing.txt", TrainConfig(), run=RunOptions(sync=RowSync()))
    check_run(TrainConfig(backend="torch"), RunOptions(checkpointer=CHECKPOINTER), "c.txt")  # accepted


def test_divergence_names_alpha_in_library_terms() -> None:
    m = np.ones((2, 3), dtype=np.float32)
    m[1, 0] = np.nan
    result = TrainResult(vectors=Vectors.from_arrays(["a", "b"], m), vocab=Vocab.build([["a", "b"]], min_count=1))
    with pytest.raises(DivergedError) as info:
        check_finite(result, 0.025)
    assert str(info.value) == "training diverged: the vector of 'b' is not finite; lower alpha (now 0.025)"
    assert info.value.render(FLAGS).endswith("; lower --alpha (now 0.025)")
    assert isinstance(info.value, ConfigError)


def test_option_error_doctest() -> None:
    assert doctest.testmod(embed.config).failed == 0


def test_row_sync_options_are_named_as_the_library_knows_them() -> None:
    with pytest.raises(OptionError, match=r"^RowSync.every must be >= 1 chunk round, got 0$"):
        RowSync(every=0)
    with pytest.raises(OptionError) as info:
        RowSync(mode="max")
    assert info.value.render(FLAGS) == "--sync-mode must be one of average, sum, capped, momentum; got 'max'"


def test_checkpointer_for_model_follows_the_cli_policy(tmp_path: Path) -> None:
    out = tmp_path / "model"
    assert Checkpointer.for_model(out) is None
    ckpt = Checkpointer.for_model(out, every=5.0)
    assert ckpt is not None and ckpt.directory == tmp_path / "model.checkpoint" and ckpt.every == 5.0
    assert ckpt.out == str(out.absolute())
    other = Checkpointer.for_model(out, every=5.0, directory=tmp_path / "elsewhere")
    assert other is not None and other.directory == tmp_path / "elsewhere"
    vocab = Vocab.build([["a", "b", "a"]], min_count=1)
    w = np.zeros((2, 4), dtype=np.float32)
    ckpt.save(TrainConfig(dim=4, backend="torch"), vocab, 0, 0, 0, np.random.default_rng(0), [], w, w)
    resumed = Checkpointer.for_model(out, resume=read_snapshot(ckpt.directory))
    assert resumed is not None and resumed.directory == ckpt.directory and resumed.every == EVERY


def test_a_checkpoint_of_a_newer_embed_asks_for_an_upgrade(tmp_path: Path) -> None:
    vocab = Vocab.build([["a", "b", "a"]], min_count=1)
    w = np.zeros((2, 4), dtype=np.float32)
    snap = Checkpointer(tmp_path / "ckpt", 1.0).save(
        TrainConfig(dim=4, backend="torch"), vocab, 0, 0, 0, np.random.default_rng(0), [], w, w
    )
    state = json.loads((snap / "state.json").read_text())
    (snap / "state.json").write_text(json.dumps(state | {"version": 7}))
    with pytest.raises(FormatError, match=r"checkpoint format version 7 is newer than this embed \(1\); upgrade embed"):
        read_snapshot(tmp_path / "ckpt")
    assert sorted(p.name for p in (tmp_path / "ckpt").iterdir()) == ["latest.json", snap.name]


def _comparable(meta: dict[str, Any]) -> dict[str, Any]:
    """meta.json less what differs between two runs: the date and the timings."""
    epochs = [{k: v for k, v in e.items() if k not in ("seconds", "words_per_sec")} for e in meta["epochs"]]
    return {k: v for k, v in meta.items() if k not in ("created", "timings")} | {"epochs": epochs}


def test_a_python_caller_writes_the_meta_json_of_the_cli(tmp_path: Path) -> None:
    corpus = tmp_path / "c.txt"
    corpus.write_text("\n".join(" ".join(s) for s in _sentences()) + "\n")
    args = ["--backend", "torch", "--dim", "8", "--epochs", "2", "--workers", "1", "--min-count", "1"]
    res = CliRunner().invoke(main, ["train", str(corpus), *args, "--out", str(tmp_path / "cli"), "-q", "--no-eval"])
    assert res.exit_code == 0, res.output
    config = TrainConfig(backend="torch", dim=8, epochs=2, workers=1, min_count=1)
    result = train(Corpus(corpus), config)
    save_trained(tmp_path / "py", result)
    cli, py = (json.loads((tmp_path / d / "meta.json").read_text()) for d in ("cli", "py"))
    assert _comparable(py) == _comparable(cli) and set(py["timings"]) == set(cli["timings"])
    assert model_meta(result)["corpus"]["lines"] == 300 and model_meta(result, {"x": 1})["evaluation"] == {"x": 1}
