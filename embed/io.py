"""Reading and writing vectors and model directories. No pickle anywhere.

A model directory holds:

* the memory-mapped store (:mod:`embed.store`: ``vectors.npy``, ``norms.npy``, ``words.utf8``,
  ``word_offsets.npy``, ``word_hash.npy``, ``counts.npy``) that :func:`load` opens without
  reading the matrix;
* ``vectors.bin`` - word2vec binary format (or ``vectors.txt``, word2vec text), readable
  by gensim's ``KeyedVectors.load_word2vec_format`` and word2vec.c (trained models; ``embed
  import`` skips it: ``embed export`` writes one);
* ``vocab.txt`` - ``word count`` per line (gensim's ``fvocab`` format), when counts are known;
* ``meta.json`` - ``{"format": "embed-model", "version": 2, "store": {...}, ...}``: parameters,
  corpus statistics, timings, versions and evaluation scores;
* ``loss.png`` - the loss (and words/s) per epoch, when training wrote it;
* ``ngrams.npy`` + ``subwords.json`` - a subword model's n-gram matrix and its header
  (:mod:`embed.subwords_io`), named in ``meta.json`` under ``"subwords"``.

Version-1 directories (``vectors.bin`` without a store) still load, into memory.

Directories are written under a temporary name beside the target and renamed when
complete, so an interrupted write leaves nothing at the target path.
"""

from __future__ import annotations

import contextlib
import json
import logging
import os
import platform
import secrets
import shutil
import tempfile
import time
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np

from embed.errors import FormatError, OutputError, describe_os_error
from embed.store import ListWords, open_store, write_batches
from embed.tmp import default_dir_mode
from embed.vectors import Vectors

if TYPE_CHECKING:  # embed.train imports this module
    from embed.train.base import TrainResult

logger = logging.getLogger(__name__)

MODEL_FORMAT = "embed-model"
MODEL_VERSION = 2
META_FILE = "meta.json"
VOCAB_FILE = "vocab.txt"


def check_output_dir(out: str | os.PathLike[str], overwrite: bool = False) -> Path:
    """Validate an output directory before any work is done.

    Raises:
        OutputError: it exists (and ``overwrite`` is off), or its parent can't be written.
    """
    out = Path(out)
    if out.exists() and not overwrite:
        raise OutputError(f"{out}: already exists; choose another --out or pass --overwrite")
    if out.exists() and not out.is_dir():
        raise OutputError(f"{out}: exists and is not a directory; choose another --out")
    parent = out.absolute().parent
    probe = parent
    while not probe.exists():
        probe = probe.parent
    if not probe.is_dir() or not os.access(probe, os.W_OK | os.X_OK):
        raise OutputError(f"{out}: cannot write in {probe}; choose a writable --out directory")
    return out


@contextlib.contextmanager
def atomic_dir(out: str | os.PathLike[str], overwrite: bool = False) -> Iterator[Path]:
    """Yield a temporary directory that becomes ``out`` only if the block succeeds.

    The directory gets the mode ``mkdir`` would give (``0o777 & ~umask``), not mkdtemp's 0700.
    """
    out = check_output_dir(out, overwrite)
    parent = out.absolute().parent
    parent.mkdir(parents=True, exist_ok=True)
    # The PID in the name lets the next run remove what a SIGKILLed one left (embed.tmp).
    tmp = Path(tempfile.mkdtemp(prefix=f".{out.name}.tmp-{os.getpid()}-", dir=parent))
    with _in_place_on_success(tmp, out, _replace_dir, lambda: shutil.rmtree(tmp, ignore_errors=True)):
        # mkdtemp makes 0700 whatever the umask; the model should be as readable as a mkdir'd one.
        os.chmod(tmp, default_dir_mode())
        yield tmp


def _replace_dir(tmp: Path, out: Path) -> None:
    """Rename directory ``tmp`` to ``out``, moving an existing ``out`` aside first and deleting it after."""
    if out.exists():
        old = Path(tempfile.mkdtemp(prefix=f".{out.name}.old-", dir=out.absolute().parent))
        os.rename(out, old / out.name)
        os.rename(tmp, out)
        shutil.rmtree(old, ignore_errors=True)
    else:
        os.rename(tmp, out)


@contextlib.contextmanager
def atomic_file(path: str | os.PathLike[str]) -> Iterator[Path]:
    """Yield a temporary path in the same directory that becomes ``path`` only if the block succeeds."""
    path = Path(path)
    # A fresh name, not a file: the writer creates it, so it gets the umask's mode (mkstemp's is 0600).
    tmp = path.with_name(f".{path.name}.tmp-{os.getpid()}-{secrets.token_hex(4)}")
    with _in_place_on_success(tmp, path, os.replace, lambda: tmp.unlink(missing_ok=True)):
        yield tmp


@contextlib.contextmanager
def _in_place_on_success(
    tmp: Path, target: Path, put: Callable[[Path, Path], None], discard: Callable[[], None]
) -> Iterator[None]:
    """The one commit-or-roll-back of :func:`atomic_dir` and :func:`atomic_file`.

    After the block, ``put(tmp, target)`` moves the temporary output into place; if the block or
    the move fails, ``discard()`` removes it, and an OSError becomes one :class:`OutputError` line.
    """
    try:
        yield
        put(tmp, target)
    except OSError as exc:
        discard()
        raise _output_error(target, exc) from None
    except BaseException:
        discard()
        raise


def _output_error(out: Path, exc: OSError) -> OutputError:
    """An OSError while writing ``out`` as one line naming it; the partial output is already removed."""
    return OutputError(f"{out}: could not be written ({describe_os_error(exc)}); nothing was written")


def atomic_write_text(path: str | os.PathLike[str], text: str) -> None:
    """Write a text file under a temporary name in the same directory, then rename."""
    with atomic_file(path) as tmp:
        tmp.write_text(text, encoding="utf-8")


def save_vectors(
    vectors: Vectors,
    path: str | os.PathLike[str],
    binary: bool = True,
    vocab_path: str | os.PathLike[str] | None = None,
) -> None:
    """Write word2vec binary (``binary=True``) or text format with gensim's writer (via a gensim copy)."""
    kv = vectors.to_gensim()
    kv.save_word2vec_format(str(path), fvocab=None if vocab_path is None else str(vocab_path), binary=binary)


def write_store(vectors: Vectors, folder: Path, batch: int = 65_536) -> dict[str, Any]:
    """Write ``vectors`` as a memory-mappable store into ``folder``; returns its ``meta.json`` entry."""

    def batches() -> Iterator[tuple[list[str], np.ndarray, list[int] | None]]:
        for start in range(0, len(vectors), batch):
            stop = min(start + batch, len(vectors))
            counts = None if vectors.counts is None else vectors.counts[start:stop].tolist()
            yield [vectors.word(i) for i in range(start, stop)], np.asarray(vectors.matrix[start:stop]), counts

    return write_batches(folder, vectors.dim, batches(), counts=vectors.counts is not None)


def save_model_dir(
    out: str | os.PathLike[str],
    vectors: Vectors,
    meta: dict[str, Any],
    binary: bool = True,
    overwrite: bool = False,
    extra: Callable[[Path], None] | None = None,
    word2vec: bool = True,
) -> Path:
    """Write a complete model directory atomically: the store, and (``word2vec``) ``vectors.bin``/``.txt``.

    ``extra(tmpdir)`` may add files (plots).
    """
    vectors_file = ("vectors.bin" if binary else "vectors.txt") if word2vec else None
    with atomic_dir(out, overwrite) as tmp:
        store = write_store(vectors, tmp)
        if vectors.subwords is not None:
            from embed.subwords_io import write_subwords

            meta = {**meta, "subwords": write_subwords(tmp, vectors.subwords)}
        if vectors_file is not None:
            has_counts = vectors.counts is not None
            save_vectors(
                vectors, tmp / vectors_file, binary=binary, vocab_path=tmp / VOCAB_FILE if has_counts else None
            )
        full = {"format": MODEL_FORMAT, "version": MODEL_VERSION, **meta, "vectors_file": vectors_file, "store": store}
        write_meta(tmp, full)
        if extra is not None:
            extra(tmp)
    return Path(out)


PROBE_LOSS = (
    "mean negative-sampling loss per example on a fixed probe of 20,000 training examples,"
    " after each epoch (embed.train.loss)"
)


def model_meta(result: TrainResult, evaluation: dict[str, Any] | None = None) -> dict[str, Any]:
    """What ``meta.json`` records of a training run (a :func:`embed.train.train` result).

    Parameters, the corpus read and its vocabulary, timings, the loss per epoch, the backend,
    library versions and ``evaluation`` scores; :func:`save_model_dir` adds the format and store.
    """
    import gensim

    import embed

    config, s, vocab = result.config, result.corpus_stats, result.vocab
    return {
        "created": time.strftime("%Y-%m-%dT%H:%M:%S%z", time.localtime(result.started)),
        "params": config.to_dict(),
        "tokenizer": config.tokenizer,
        "corpus": {
            "source": result.source,
            "files": s.paths,
            "lines": s.lines,
            "sentences": vocab.sentences,
            "tokens": vocab.total_tokens,
            "retained_tokens": vocab.retained_tokens,
            "vocab_size": len(vocab),
            "pruned_words": vocab.pruned,
            "count_limit_pruned_words": vocab.count_pruned_words,
            "count_limit_pruned_tokens": vocab.count_pruned_tokens,
            "decode_errors": s.decode_errors,
            "chunked_lines": s.chunked_lines,
        },
        "timings": {
            "vocab_seconds": round(result.vocab_seconds, 3),
            "train_seconds": round(result.train_seconds, 3),
            "total_seconds": round(result.total_seconds, 3),
            "words_per_sec": round(result.words_per_sec, 1),
        },
        "epochs": result.epochs_as_dicts(),
        "loss": PROBE_LOSS,
        "backend": result.backend_info,
        "versions": {
            "embed": embed.__version__,
            "gensim": gensim.__version__,
            "numpy": np.__version__,
            "python": platform.python_version(),
        },
        "evaluation": evaluation if evaluation is not None else {},
    }


def save_trained(
    out: str | os.PathLike[str],
    result: TrainResult,
    binary: bool = True,
    overwrite: bool = False,
    extra: Callable[[Path], None] | None = None,
) -> Path:
    """Write a training run's model directory with the ``meta.json`` of :func:`model_meta`, as ``embed train`` does."""
    return save_model_dir(out, result.vectors, model_meta(result), binary=binary, overwrite=overwrite, extra=extra)


def write_meta(folder: Path, meta: dict[str, Any]) -> None:
    atomic_write_text(folder / META_FILE, json.dumps(meta, indent=2, ensure_ascii=False, default=_jsonable) + "\n")


def update_meta(model_dir: str | os.PathLike[str], **fields: Any) -> dict[str, Any]:
    """Set top-level ``fields`` in a model directory's ``meta.json`` (rewritten atomically)."""
    meta = read_meta(model_dir)
    meta.update(fields)
    write_meta(Path(model_dir), meta)
    return meta


def _jsonable(obj: Any) -> Any:
    if isinstance(obj, np.generic):
        return obj.item()
    if isinstance(obj, np.ndarray):
        return obj.tolist()
    if isinstance(obj, Path):
        return str(obj)
    raise TypeError(f"{type(obj).__name__} is not JSON serialisable")


def read_versioned_json(path: Path, fmt: str, version: int, what: str) -> dict[str, Any]:
    """Read a self-describing JSON file (``{"format": fmt, "version": n, ...}``) and check both fields.

    Raises:
        FormatError: not valid JSON, another format, or a newer version than this embed reads.
    """
    if path.exists() and not path.is_file():  # a FIFO or device would block the read or never end
        raise FormatError(f"{path}: not a regular file; the {what} is damaged, retrain or restore it")
    try:
        meta = json.loads(path.read_text(encoding="utf-8"))
    except (json.JSONDecodeError, UnicodeDecodeError) as exc:
        raise FormatError(f"{path}: not valid JSON ({exc}); the {what} is damaged, retrain or restore it") from None
    except OSError as exc:
        raise FormatError(f"{path}: cannot read ({exc.strerror}); check its permissions") from None
    return check_versioned(meta, path, fmt, version, what)


def check_versioned(meta: Any, path: Path, fmt: str, version: int, what: str) -> dict[str, Any]:
    """Check the ``format`` and ``version`` fields of JSON read from ``path``; returns it as a dict.

    Raises:
        FormatError: another format, or a newer version than this embed reads.
    """
    if not isinstance(meta, dict) or meta.get("format") != fmt:
        found = meta.get("format") if isinstance(meta, dict) else None
        raise FormatError(f"{path}: not an embed {what} (format {found!r}, expected {fmt!r})")
    if not isinstance(meta.get("version", 0), int) or meta.get("version", 0) > version:
        raise FormatError(
            f"{path}: {what} format version {meta.get('version')!r} is newer than this embed ({version}); upgrade embed"
        )
    return meta


def read_meta(model_dir: str | os.PathLike[str]) -> dict[str, Any]:
    """Read and check ``meta.json`` of a model directory."""
    path = Path(model_dir) / META_FILE
    if not path.is_file():
        raise FormatError(
            f"{model_dir}: not a model directory (no {META_FILE});"
            " pass a directory written by 'embed train' or 'embed import', or a vectors file"
        )
    return read_versioned_json(path, MODEL_FORMAT, MODEL_VERSION, "model")


def _inside(model_dir: Path, name: Any, what: str) -> Path:
    """``model_dir / name`` for a plain file name in the directory; anything else is refused.

    A ``meta.json`` naming ``../../etc/passwd``, ``/dev/zero`` or a FIFO must not be followed.
    """
    import stat

    if not isinstance(name, str) or not name or name != Path(name).name or name in (".", ".."):
        raise FormatError(
            f"{model_dir / META_FILE}: {what} {name!r} must be a file name inside the model directory;"
            " retrain or re-import it"
        )
    path = model_dir / name
    try:
        mode = os.lstat(path).st_mode
    except FileNotFoundError:
        raise FormatError(f"{path}: missing from the model directory; retrain or restore it") from None
    if not stat.S_ISREG(mode):
        raise FormatError(f"{path}: not a regular file; the model directory is damaged, retrain or re-import it")
    return path


def _store_shape(model_dir: Path, store: Any) -> tuple[int, int]:
    ok = isinstance(store, dict) and all(
        isinstance(store.get(k), int) and not isinstance(store.get(k), bool) for k in ("rows", "dim")
    )
    if not ok or store["rows"] < 1 or store["dim"] < 1:
        raise FormatError(
            f"{model_dir / META_FILE}: 'store' must hold positive integers 'rows' and 'dim'; re-import or retrain it"
        )
    for name in store.get("files", []):
        _inside(model_dir, name, "store file")
    return int(store["rows"]), int(store["dim"])


def load_model_dir(path: Path) -> Vectors:
    """Open a model directory: memory-map its store (version 2) or read ``vectors.bin`` (version 1)."""
    meta = read_meta(path)
    info = {**meta, "path": str(path)}
    if "store" in meta:
        rows, dim = _store_shape(path, meta["store"])
        matrix, norms, words, counts = open_store(path, rows, dim)
        subwords = None
        if meta.get("subwords") is not None:
            from embed.subwords_io import read_subwords

            subwords = read_subwords(path, dim)
        return Vectors(words, matrix, norms=norms, counts=counts, meta=info, subwords=subwords)
    vfile = _inside(path, meta.get("vectors_file", "vectors.bin"), "vectors_file")
    vocab = path / VOCAB_FILE
    from gensim.models import KeyedVectors

    try:
        kv = KeyedVectors.load_word2vec_format(
            str(vfile), binary=vfile.suffix == ".bin", fvocab=str(vocab) if vocab.exists() else None
        )
    except (ValueError, UnicodeDecodeError, EOFError) as exc:
        raise FormatError(f"{vfile}: damaged vectors file ({exc}); retrain or restore it") from None
    counts = np.asarray(kv.expandos["count"], dtype=np.int64) if "count" in kv.expandos else None
    return Vectors(
        ListWords(kv.index_to_key), np.ascontiguousarray(kv.vectors, dtype=np.float32), counts=counts, meta=info
    )


def load_vectors_file(path: str | os.PathLike[str], limit: int | None = None, allow_nonfinite: bool = False) -> Vectors:
    """Read a word2vec binary/text, fastText ``.vec`` or GloVe file (also ``.gz``/``.bz2``) into memory.

    For large files prefer ``embed import`` and :func:`load` of the directory (memory-mapped).

    Raises:
        FormatError: the file is missing or not a vectors file (the message names the line).
    """
    from embed.formats import VectorFileReader

    path = Path(path)
    if not path.is_file():
        raise FormatError(f"{path}: no such file; pass a model directory or a .bin/.txt/.vec vectors file")
    words: list[str] = []
    parts: list[np.ndarray] = []
    with VectorFileReader(path, limit=limit, allow_nonfinite=allow_nonfinite) as reader:
        for batch_words, rows in reader:
            words.extend(batch_words)
            parts.append(rows)
        report = reader.report
    for line in report.messages():
        logger.warning("%s: %s", path, line)
    matrix = np.concatenate(parts) if len(parts) > 1 else parts[0]
    return Vectors(ListWords(words), matrix, meta={"source": str(path), "format": report.format})


def load(path: str | os.PathLike[str]) -> Vectors:
    """Load a model directory (``embed train``/``embed import``) or any word2vec/fastText/GloVe file.

    A model directory is memory-mapped: opening it reads no vectors. A file is read into memory.

    Returns:
        :class:`~embed.vectors.Vectors`, with ``meta`` from ``meta.json`` for a model directory.

    Raises:
        FormatError: the path is not a model directory or a vectors file.
    """
    path = Path(path)
    if path.is_dir():
        return load_model_dir(path)
    if not path.exists():
        raise FormatError(f"{path}: no such file or directory; pass a model directory or a vectors file")
    return load_vectors_file(path)
