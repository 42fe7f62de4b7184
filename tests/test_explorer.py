"""The explorer's projections: the library (embed.project), `embed project`, and the API over real HTTP.

Expected coordinates come from scikit-learn / numpy directly, never from the code under test.
"""

from __future__ import annotations

import json
import shutil
from collections.abc import Iterator
from pathlib import Path

import httpx
import numpy as np
import pytest
from click.testing import CliRunner

from embed import project
from embed.cli import main
from embed.errors import ConfigError, EmbedError, FormatError
from embed.vectors import Vectors
from tests.service.serving import run_server

KEY = "explorer-key"


def small_vectors(n: int = 60, dim: int = 8, seed: int = 0) -> Vectors:
    rng = np.random.default_rng(seed)
    return Vectors.from_arrays(
        [f"w{i}" for i in range(n)],
        rng.normal(size=(n, dim)).astype(np.float32),
        counts=list(range(1000, 1000 - n, -1)),
    )


def unit(m: np.ndarray) -> np.ndarray:
    return m / np.linalg.norm(m, axis=1, keepdims=True)


# --- the library -------------------------------------------------------------------------------
def test_pca_equals_sklearn_on_unit_rows() -> None:
    from sklearn.decomposition import PCA

    v = small_vectors()
    got = project.compute(v, "pca", dims=3, n=40)
    want = PCA(n_components=3, random_state=0).fit_transform(unit(np.asarray(v.matrix[:40], dtype=np.float64)))
    assert got.coords.shape == (40, 3) and got.coords.dtype == np.float32
    np.testing.assert_allclose(np.abs(got.coords), np.abs(want), atol=1e-4)  # up to the sign of each component


@pytest.mark.parametrize(
    ("method", "dims", "n", "message"),
    [
        ("lda", 2, 10, "projection method 'lda' is not known; choose one of pca, tsne, umap"),
        ("pca", 4, 10, "dims must be 2 or 3, got 4"),
        ("pca", 2, 0, "n=0: a projection needs at least 3 words"),
        ("pca", 2, 61, "n=61 points but the model has only 60 words; ask for n <= 60"),
        ("tsne", 2, 20_001, "n=20,001 points is over the limit of 20,000"),
    ],
)
def test_bad_requests_say_what_to_do(method: str, dims: int, n: int, message: str) -> None:
    with pytest.raises(ConfigError, match="^" + message.replace("(", r"\(").replace(")", r"\)")):
        project.compute(small_vectors(), method, dims, n)


def test_tsne_and_umap_separate_two_clusters() -> None:
    """Two tight, far-apart groups of directions stay apart in both layouts (openTSNE, umap-learn)."""
    rng = np.random.default_rng(1)
    centres = np.eye(16, dtype=np.float32)[:2] * 5
    m = np.concatenate([centres[i] + rng.normal(0, 0.3, (60, 16)) for i in (0, 1)]).astype(np.float32)
    v = Vectors.from_arrays([f"w{i}" for i in range(120)], m)
    for method in ("tsne", "umap"):
        p = project.compute(v, method, dims=2, n=120, threads=2)
        a, b = p.coords[:60], p.coords[60:]
        gap = np.linalg.norm(a.mean(0) - b.mean(0))
        spread = max(a.std(0).max(), b.std(0).max())
        assert p.coords.shape == (120, 2) and gap > 3 * spread, method
        assert p.params["library"] in ("openTSNE", "umap-learn") and p.params["metric"] == "cosine"


def test_tsne_and_umap_refuse_zero_vectors_and_name_the_word() -> None:
    """An imported model may hold zero vectors (padding); cosine distances to them are undefined."""
    matrix = np.random.default_rng(3).normal(size=(60, 8)).astype(np.float32)
    matrix[4] = 0.0
    v = Vectors.from_arrays([f"w{i}" for i in range(60)], matrix)
    for method in ("tsne", "umap"):
        with pytest.raises(EmbedError, match=rf"^{method} measures cosine distances, but 1 of the 60 words have zero"):
            project.compute(v, method, 2, 60)
    with pytest.raises(EmbedError, match=r"\(first: 'w4', rank 5\); project them with pca, or drop those words"):
        project.compute(v, "tsne", 2, 60)
    assert project.compute(v, "pca", 2, 60).coords.shape == (60, 2)  # no cosine: the zero vector is a point


def test_cache_round_trip_and_staleness(tmp_path: Path) -> None:
    v = small_vectors()
    p = project.compute(v, "pca", 2, 50)
    header = project.save(p, tmp_path, v)
    meta = json.loads(header.read_text())
    assert (
        meta["format"] == "embed-projection"
        and meta["version"] == 1
        and meta["n"] == 50
        and meta["fingerprint"] == v.fingerprint
    )
    assert np.load(header.with_suffix(".npy"), allow_pickle=False).shape == (50, 2)
    back = project.load_cached(tmp_path, v, "pca", 2, 50)
    assert back is not None and np.array_equal(back.coords, p.coords)
    assert project.load_cached(tmp_path, v, "pca", 3, 50) is None  # another shape: not there
    assert project.load_cached(tmp_path, small_vectors(seed=2), "pca", 2, 50) is None  # other vectors: stale
    got, cached = project.get_or_compute(v, tmp_path, "pca", 2, 50)
    assert cached and np.array_equal(got.coords, p.coords)


def test_damaged_or_newer_cache_is_refused(tmp_path: Path) -> None:
    v = small_vectors()
    header = project.save(project.compute(v, "pca", 2, 50), tmp_path, v)
    header.with_suffix(".npy").write_bytes(b"not numpy")
    with pytest.raises(FormatError, match="damaged projection"):
        project.load_cached(tmp_path, v, "pca", 2, 50)
    header.write_text(json.dumps({"format": "embed-projection", "version": 99}))
    with pytest.raises(FormatError, match="newer than this embed"):
        project.load_cached(tmp_path, v, "pca", 2, 50)


def test_an_interrupted_save_leaves_nothing(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    v = small_vectors()
    p = project.compute(v, "pca", 2, 50)

    def boom(*args: object, **kw: object) -> None:
        raise KeyboardInterrupt

    monkeypatch.setattr(project, "atomic_write_text", boom)  # dies after the .npy, before the header
    with pytest.raises(KeyboardInterrupt):
        project.save(p, tmp_path, v)
    assert project.load_cached(tmp_path, v, "pca", 2, 50) is None  # no header: never read
    assert [f.name for f in (tmp_path / "projections").iterdir()] == [
        "pca-2d-50.npy"
    ]  # complete (renamed) or absent, never partial


# --- embed project ---------------------------------------------------------------------------------
@pytest.fixture(scope="module")
def model_copy(kjv_model_dir: Path, tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A private copy of the KJV model: these tests write projections into it."""
    out = tmp_path_factory.mktemp("explorer") / "kjv"
    shutil.copytree(kjv_model_dir, out, ignore=shutil.ignore_patterns("projections"))
    return out


def test_cli_writes_then_reuses(model_copy: Path) -> None:
    runner = CliRunner()
    r = runner.invoke(main, ["project", str(model_copy), "--method", "pca", "--dims", "3", "--n", "500"])
    assert r.exit_code == 0, r.output
    assert "pca 3-d, 500 words:" in r.output and (model_copy / "projections" / "pca-3d-500.npy").is_file()
    again = runner.invoke(main, ["project", str(model_copy), "--method", "pca", "--dims", "3", "--n", "500"])
    assert again.exit_code == 0 and "cached" in again.output


@pytest.mark.parametrize(
    ("args", "code", "message"),
    [
        (["--method", "lda"], 2, "Invalid value for '--method'"),
        (["--n", "50000"], 2, "Invalid value for '--n'"),
        (["--n", "19000", "--method", "pca"], 1, "but the model has only"),
    ],
)
def test_cli_bad_input(model_copy: Path, args: list[str], code: int, message: str) -> None:
    r = CliRunner().invoke(main, ["project", str(model_copy), *args])
    assert r.exit_code == code and message in r.output, r.output


# --- the API ---------------------------------------------------------------------------------------
@pytest.fixture(scope="module")
def server(model_copy: Path) -> Iterator[str]:
    assert (
        CliRunner().invoke(main, ["project", str(model_copy), "--method", "pca", "--dims", "3"]).exit_code == 0
    )  # the default n
    with run_server({"kjv": model_copy}, env={"EMBED_API_KEY": KEY}) as url:
        yield url


def get(server: str, path: str, **kw: object) -> httpx.Response:
    headers = kw.pop("headers", {"X-API-Key": KEY})
    return httpx.get(f"{server}/v1/{path}", headers=headers, timeout=60, **kw)  # type: ignore[arg-type]


def test_projection_endpoint_computes_caches_and_matches_the_model(server: str, model_copy: Path) -> None:
    from embed.io import load

    v = load(model_copy)
    n = min(project.DEFAULT_POINTS, len(v))
    first = get(server, "models/kjv/projection", params={"method": "pca", "dims": 2})
    assert first.status_code == 200 and first.headers["x-embed-cache"] == "computed"
    body = first.json()
    assert body["n"] == n and body["dims"] == 2 and body["vocab_size"] == len(v) and body["words"] == v.words[:n]
    assert body["counts"] == v.counts[:n].tolist() and len(body["coords"]) == 2 * n
    stored = np.load(model_copy / "projections" / f"pca-2d-{n}.npy", allow_pickle=False)
    np.testing.assert_allclose(np.reshape(body["coords"], (n, 2)), stored, atol=1e-4)
    second = get(server, "models/kjv/projection", params={"method": "pca"})
    assert second.headers["x-embed-cache"] == "memory" and second.content == first.content
    assert second.headers["content-encoding"] == "gzip"  # compressed once, when cached
    plain = get(
        server,
        "models/kjv/projection",
        params={"method": "pca"},
        headers={"X-API-Key": KEY, "Accept-Encoding": "identity"},
    )
    assert "content-encoding" not in plain.headers and plain.content == first.content
    from_disk = get(server, "models/kjv/projection", params={"method": "pca", "dims": 3})  # written by `embed project`
    assert from_disk.headers["x-embed-cache"] == "disk" and from_disk.json()["dims"] == 3
    other = get(
        server, "models/kjv/projection", params={"method": "pca", "n": 300}
    )  # not the default size: memory only
    assert (
        other.status_code == 200
        and other.json()["n"] == 300
        and not (model_copy / "projections" / "pca-2d-300.npy").exists()
    )


def test_memory_cache_is_bounded(monkeypatch: pytest.MonkeyPatch) -> None:
    from service.routes.explore import _Cache

    monkeypatch.setattr(_Cache, "MAX_ENTRIES", 2)
    cache = _Cache()
    for n in (10, 20, 30):
        cache.put(("kjv", "pca", 2, n), (b"{}", b""))
    assert list(cache.bodies) == [("kjv", "pca", 2, 20), ("kjv", "pca", 2, 30)]  # the oldest went


@pytest.mark.parametrize(
    ("params", "status", "message"),
    [
        # the schema's limits (pydantic's messages, naming the field), then the library's for the vocabulary size
        ({"method": "lda"}, 422, "method: Input should be 'pca', 'tsne' or 'umap'"),
        ({"n": 100_000}, 422, "n: Input should be less than or equal to 20000"),
        ({"n": 9_999}, 422, "but the model has only"),
        ({"n": 0}, 422, "n: Input should be greater than or equal to 3"),
        ({"dims": 4}, 422, "dims: Input should be less than or equal to 3"),
    ],
)
def test_projection_bad_input(server: str, params: dict[str, object], status: int, message: str) -> None:
    r = get(server, "models/kjv/projection", params=params)
    assert r.status_code == status and r.json()["error"]["code"] == "invalid_request"
    assert message in r.json()["error"]["message"]


def test_projection_needs_the_key_and_a_served_model(server: str) -> None:
    assert httpx.get(f"{server}/v1/models/kjv/projection").status_code == 401
    assert get(server, "models/nope/projection").json()["error"]["code"] == "model_not_found"


def test_custom_projection_is_cosine_with_the_axes(server: str, model_copy: Path) -> None:
    from embed.io import load

    v = load(model_copy)
    r = httpx.post(
        f"{server}/v1/models/kjv/projection/custom",
        headers={"X-API-Key": KEY},
        json={"x": {"start": "man", "end": "woman"}, "y": {"start": "king", "end": "queen"}, "n": 300},
    )
    assert r.status_code == 200, r.text
    body = r.json()
    u = unit(np.asarray(v.matrix, dtype=np.float64))
    axis = lambda a, b: (u[v.index(b)] - u[v.index(a)]) / np.linalg.norm(u[v.index(b)] - u[v.index(a)])  # noqa: E731
    want = u[:300] @ np.stack([axis("man", "woman"), axis("king", "queen")], axis=1)
    np.testing.assert_allclose(np.reshape(body["coords"], (300, 2)), want, atol=1e-4)
    assert body["method"] == "custom" and body["params"] == {"x": ["man", "woman"], "y": ["king", "queen"]}
    bad = httpx.post(
        f"{server}/v1/models/kjv/projection/custom",
        headers={"X-API-Key": KEY},
        json={"x": {"start": "man", "end": "womna"}, "y": {"start": "king", "end": "queen"}},
    )
    assert (
        bad.status_code == 404
        and bad.json()["error"]["code"] == "word_not_found"
        and "woman" in bad.json()["error"]["suggestions"]
    )


def test_model_meta(server: str, model_copy: Path) -> None:
    r = get(server, "models/kjv/meta")
    assert r.status_code == 200
    body = r.json()
    meta = json.loads((model_copy / "meta.json").read_text())
    assert body["language"] == "en" and body["dim"] == 50 and body["params"] == meta["params"]
    assert [e["loss"] for e in body["epochs"]] == [e["loss"] for e in meta["epochs"]] and len(body["epochs"]) == 3
