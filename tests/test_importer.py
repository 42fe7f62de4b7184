"""``embed import`` / ``export`` / ``similar -`` / ``vectors`` and plain files given to model commands."""

from __future__ import annotations

import gzip
import json
from pathlib import Path

import numpy as np
import pytest
from click.testing import CliRunner
from gensim.models import KeyedVectors

import embed
from embed.cli import main
from embed.errors import FormatError
from embed.importer import export_vectors, import_vectors, model_dir_for

N, DIM = 3_000, 20


@pytest.fixture(scope="module")
def files(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Path]:
    """The same vectors as word2vec binary, word2vec text (.gz) and GloVe, written by gensim."""
    d = tmp_path_factory.mktemp("imp")
    rng = np.random.default_rng(0)
    kv = KeyedVectors(DIM)
    kv.add_vectors(
        [f"w{i}" for i in range(N - 2)] + ["曹操", "naïve"], rng.standard_normal((N, DIM)).astype(np.float32)
    )
    kv.save_word2vec_format(str(d / "v.bin"), binary=True)
    kv.save_word2vec_format(str(d / "v.txt"), binary=False)
    with open(d / "v.txt", "rb") as src, gzip.open(d / "v.txt.gz", "wb") as dst:
        dst.write(src.read())
    kv.save_word2vec_format(str(d / "glove.txt"), binary=False, write_header=False)
    return {"dir": d, "bin": d / "v.bin", "txt.gz": d / "v.txt.gz", "glove": d / "glove.txt"}


def _gensim(path: Path, **kw: object) -> KeyedVectors:
    binary = path.suffix == ".bin"
    return KeyedVectors.load_word2vec_format(str(path), binary=binary, no_header=path.name.startswith("glove"), **kw)


@pytest.mark.parametrize("name", ["bin", "txt.gz", "glove"])
def test_import_equals_gensim_and_is_mapped(files: dict[str, Path], tmp_path: Path, name: str) -> None:
    out, source = import_vectors(files[name], tmp_path / "m")
    want = _gensim(files[name])
    v = embed.load(out)
    assert isinstance(v.matrix, np.memmap)
    assert v.words == want.index_to_key
    np.testing.assert_array_equal(np.asarray(v.matrix), want.vectors)  # bit-exact
    assert source["format"] == {"bin": "word2vec-bin", "txt.gz": "word2vec-txt", "glove": "glove"}[name]
    assert not (out / "vectors.bin").exists() and json.loads((out / "meta.json").read_text())["vectors_file"] is None


def test_import_limit_and_export_round_trip(files: dict[str, Path], tmp_path: Path) -> None:
    out, _ = import_vectors(files["bin"], tmp_path / "m", limit=500)
    want = _gensim(files["bin"], limit=500)
    assert embed.load(out).words == want.index_to_key
    for fmt, binary in (("word2vec-bin", True), ("word2vec-txt", False)):
        target = tmp_path / f"out.{fmt}"
        export_vectors(out, target, fmt)  # type: ignore[arg-type]
        again = KeyedVectors.load_word2vec_format(str(target), binary=binary)
        assert again.index_to_key == want.index_to_key
        if binary:
            np.testing.assert_array_equal(again.vectors, want.vectors)  # gensim reads what export writes, bit-exact
        else:
            np.testing.assert_allclose(again.vectors, want.vectors, rtol=1e-6, atol=1e-6)
    written = export_vectors(out, tmp_path / "proj", "projector")
    rows = (tmp_path / "proj" / "vectors.tsv").read_text().splitlines()
    meta = (tmp_path / "proj" / "metadata.tsv").read_text(encoding="utf-8").splitlines()
    assert [p.name for p in written] == ["vectors.tsv", "metadata.tsv"]
    assert len(rows) == len(meta) == 500 and meta[0] == "w0"  # no counts: one column, no header
    np.testing.assert_allclose(
        np.array([r.split("\t") for r in rows], dtype=np.float32), want.vectors, rtol=1e-5, atol=1e-6
    )


def test_projector_metadata_has_counts_when_known(tmp_path: Path) -> None:
    vecs = embed.Vectors.from_arrays(["a", "b"], np.eye(2, dtype=np.float32), counts=[7, 3])
    embed.io.save_model_dir(tmp_path / "m", vecs, {"params": {}})
    export_vectors(tmp_path / "m", tmp_path / "p", "projector")
    assert (tmp_path / "p" / "metadata.tsv").read_text().splitlines() == ["word\tcount", "a\t7", "b\t3"]


def test_import_cli_and_bad_input_writes_nothing(files: dict[str, Path], tmp_path: Path) -> None:
    runner = CliRunner()
    r = runner.invoke(main, ["import", str(files["bin"]), "--out", str(tmp_path / "m"), "--quiet"])
    assert r.exit_code == 0 and f"3,000 words x {DIM} dims from word2vec-bin" in r.output, r.output
    r = runner.invoke(main, ["import", str(files["bin"]), "--out", str(tmp_path / "m"), "--quiet"])
    assert r.exit_code == 1 and "already exists; choose another --out or pass --overwrite" in r.output
    truncated = tmp_path / "cut.bin"
    truncated.write_bytes(files["bin"].read_bytes()[:-50])  # inside the last record (86 bytes)
    r = runner.invoke(main, ["import", str(truncated), "--out", str(tmp_path / "cut"), "--quiet"])
    assert r.exit_code == 1 and "cut.bin: truncated after 2999 of 3000 rows" in r.output and "--limit 2999" in r.output
    assert "Traceback" not in r.output and len(r.output.strip().splitlines()) == 1
    assert sorted(p.name for p in tmp_path.iterdir()) == ["cut.bin", "m"]  # nothing half-written beside --out


def test_similar_from_stdin_json_and_vectors(files: dict[str, Path], tmp_path: Path) -> None:
    out, _ = import_vectors(files["bin"], tmp_path / "m")
    v = embed.load(out)
    runner = CliRunner()
    r = runner.invoke(main, ["similar", str(out), "-", "-k", "3", "--json"], input="w1\nnope\n曹操\n")
    assert r.exit_code == 1 and "1 query could not be answered" in r.output
    lines = [json.loads(x) for x in r.output.splitlines() if x.startswith("{")]
    assert [x["query"] for x in lines] == ["w1", "nope", "曹操"]
    assert [h["word"] for h in lines[0]["results"]] == [w for w, _ in v.most_similar("w1", topn=3)]
    assert "not in the vocabulary" in lines[1]["error"]
    r = runner.invoke(main, ["analogy", str(out), "-", "-k", "2"], input="w1 w2 w3\n")
    assert r.exit_code == 0 and r.output.splitlines()[1].split("\t")[1] == v.analogy("w1", "w2", "w3", topn=2)[0][0]
    r = runner.invoke(main, ["vectors", str(out), "w5", "naïve"])
    assert r.exit_code == 0
    rows = r.output.splitlines()
    assert rows[0].split(" ")[0] == "w5" and np.allclose([float(x) for x in rows[0].split(" ")[1:]], v["w5"], rtol=1e-5)
    assert rows[1].startswith("naïve ")


def test_model_commands_take_a_plain_file(
    files: dict[str, Path], tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("EMBED_CACHE", str(tmp_path / "cache"))
    runner = CliRunner()
    r = runner.invoke(main, ["similar", str(files["glove"]), "w7", "-k", "2"])
    assert r.exit_code == 0 and r.stdout.splitlines()[0] == "rank\tword\tcosine", r.output
    cached = model_dir_for(files["glove"])
    assert (
        cached.parent == tmp_path / "cache" and len(list((tmp_path / "cache").iterdir())) == 1
    )  # imported once, reused
    r = runner.invoke(main, ["index", str(files["glove"]), "--k-max", "10", "--quiet"])
    assert r.exit_code == 0 and (cached / "index" / "index.json").exists(), r.output
    with pytest.raises(FormatError, match="no such file or directory"):
        model_dir_for(tmp_path / "missing.vec")
