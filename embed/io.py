"""Reading and writing vectors and model directories. No pickle anywhere.

A model directory holds:

* ``vectors.bin`` - word2vec binary format (or ``vectors.txt``, word2vec text), readable
  by gensim's ``KeyedVectors.load_word2vec_format`` and word2vec.c;
* ``vocab.txt`` - ``word count`` per line (gensim's ``fvocab`` format);
* ``meta.json`` - ``{"format": "embed-model", "version": 1, ...}``: parameters, corpus
  statistics, timings, versions and evaluation scores;
* ``loss.png`` - the loss (and words/s) per epoch, when training wrote it.

Directories are written under a temporary name beside the target and renamed when
complete, so an interrupted write leaves nothing at the target path.
"""

from __future__ import annotations

import contextlib
import json
import logging
import os
import shutil
import tempfile
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

from embed.errors import FormatError, OutputError
from embed.vectors import Vectors

logger = logging.getLogger(__name__)

MODEL_FORMAT = "embed-model"
MODEL_VERSION = 1
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
    """Yield a temporary directory that becomes ``out`` only if the block succeeds."""
    out = check_output_dir(out, overwrite)
    parent = out.absolute().parent
    parent.mkdir(parents=True, exist_ok=True)
    tmp = Path(tempfile.mkdtemp(prefix=f".{out.name}.tmp-", dir=parent))
    try:
        yield tmp
        if out.exists():
            old = Path(tempfile.mkdtemp(prefix=f".{out.name}.old-", dir=parent))
            os.rename(out, old / out.name)
            os.rename(tmp, out)
            shutil.rmtree(old, ignore_errors=True)
        else:
            os.rename(tmp, out)
    except BaseException:
        shutil.rmtree(tmp, ignore_errors=True)
        raise


def atomic_write_text(path: str | os.PathLike[str], text: str) -> None:
    """Write a text file under a temporary name in the same directory, then rename."""
    path = Path(path)
    fd, tmp = tempfile.mkstemp(prefix=f".{path.name}.tmp-", dir=path.parent)
    try:
        with os.fdopen(fd, "w", encoding="utf-8") as fh:
            fh.write(text)
        os.replace(tmp, path)
    except BaseException:
        with contextlib.suppress(FileNotFoundError):
            os.unlink(tmp)
        raise


def save_vectors(vectors: Vectors, path: str | os.PathLike[str], binary: bool = True, vocab_path: str | os.PathLike[str] | None = None) -> None:
    """Write word2vec binary (``binary=True``) or text format with gensim's writer."""
    vectors.kv.save_word2vec_format(str(path), fvocab=None if vocab_path is None else str(vocab_path), binary=binary)


def save_model_dir(
    out: str | os.PathLike[str],
    vectors: Vectors,
    meta: dict[str, Any],
    binary: bool = True,
    overwrite: bool = False,
    extra: Callable[[Path], None] | None = None,
) -> Path:
    """Write a complete model directory atomically; ``extra(tmpdir)`` may add files (plots)."""
    vectors_file = "vectors.bin" if binary else "vectors.txt"
    with atomic_dir(out, overwrite) as tmp:
        has_counts = "count" in vectors.kv.expandos
        save_vectors(vectors, tmp / vectors_file, binary=binary, vocab_path=tmp / VOCAB_FILE if has_counts else None)
        full = {"format": MODEL_FORMAT, "version": MODEL_VERSION, "vectors_file": vectors_file, **meta}
        (tmp / META_FILE).write_text(json.dumps(full, indent=2, ensure_ascii=False, default=_jsonable) + "\n", encoding="utf-8")
        if extra is not None:
            extra(tmp)
    return Path(out)


def _jsonable(obj: Any) -> Any:
    import numpy as np

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
    try:
        meta = json.loads(path.read_text(encoding="utf-8"))
    except (json.JSONDecodeError, UnicodeDecodeError) as exc:
        raise FormatError(f"{path}: not valid JSON ({exc}); the {what} is damaged, retrain or restore it") from None
    if not isinstance(meta, dict) or meta.get("format") != fmt:
        found = meta.get("format") if isinstance(meta, dict) else None
        raise FormatError(f"{path}: not an embed {what} (format {found!r}, expected {fmt!r})")
    if meta.get("version", 0) > version:
        raise FormatError(f"{path}: {what} format version {meta['version']} is newer than this embed ({version}); upgrade embed")
    return meta


def read_meta(model_dir: str | os.PathLike[str]) -> dict[str, Any]:
    """Read and check ``meta.json`` of a model directory."""
    path = Path(model_dir) / META_FILE
    if not path.is_file():
        raise FormatError(f"{model_dir}: not a model directory (no {META_FILE}); pass a directory written by 'embed train' or a vectors file")
    return read_versioned_json(path, MODEL_FORMAT, MODEL_VERSION, "model")


def _sniff_text_header(path: Path) -> bool:
    """True if the first line is a word2vec text header ``<count> <dim>``."""
    import gzip

    opener = gzip.open if path.name.endswith(".gz") else open
    with opener(path, "rb") as fh:
        first = fh.readline(1024).split()
    return len(first) == 2 and all(tok.isdigit() for tok in first)


def _is_binary_word2vec(path: Path) -> bool:
    """word2vec binary files start with an ASCII header and then hold raw float bytes."""
    import gzip

    opener = gzip.open if path.name.endswith(".gz") else open
    with opener(path, "rb") as fh:
        head = fh.read(4096)
    first, _, rest = head.partition(b"\n")
    parts = first.split()
    if len(parts) != 2 or not all(p.isdigit() for p in parts):
        return False
    try:
        rest.decode("utf-8")
    except UnicodeDecodeError:
        return True
    return False


def load_vectors_file(path: str | os.PathLike[str], binary: bool | None = None) -> Vectors:
    """Load a word2vec binary/text file or a header-less GloVe text file.

    ``binary=None`` detects the format from the content.

    Raises:
        FormatError: the file is missing or not a vectors file.
    """
    from gensim.models import KeyedVectors

    path = Path(path)
    if not path.is_file():
        raise FormatError(f"{path}: no such file; pass a model directory or a .bin/.txt vectors file")
    try:
        if binary is None:
            binary = _is_binary_word2vec(path)
        no_header = not binary and not _sniff_text_header(path)
        kv = KeyedVectors.load_word2vec_format(str(path), binary=binary, no_header=no_header)
    except (ValueError, UnicodeDecodeError, EOFError, IndexError, OSError) as exc:
        raise FormatError(f"{path}: not a word2vec (binary or text) or GloVe vectors file ({type(exc).__name__}: {exc})") from None
    if len(kv) == 0:
        raise FormatError(f"{path}: holds no vectors")
    return Vectors(kv, meta={"source": str(path)})


def load(path: str | os.PathLike[str]) -> Vectors:
    """Load a model directory (from ``embed train``) or any word2vec/GloVe vectors file.

    Returns:
        :class:`~embed.vectors.Vectors`, with ``meta`` from ``meta.json`` for a model directory.

    Raises:
        FormatError: the path is not a model directory or a vectors file.
    """
    path = Path(path)
    if path.is_dir():
        meta = read_meta(path)
        vfile = path / meta.get("vectors_file", "vectors.bin")
        vocab = path / VOCAB_FILE
        from gensim.models import KeyedVectors

        try:
            kv = KeyedVectors.load_word2vec_format(str(vfile), binary=vfile.suffix == ".bin", fvocab=str(vocab) if vocab.exists() else None)
        except FileNotFoundError:
            raise FormatError(f"{vfile}: missing from the model directory; retrain or restore it") from None
        except (ValueError, UnicodeDecodeError, EOFError) as exc:
            raise FormatError(f"{vfile}: damaged vectors file ({exc}); retrain or restore it") from None
        return Vectors(kv, meta={**meta, "path": str(path)})
    if not path.exists():
        raise FormatError(f"{path}: no such file or directory; pass a model directory or a vectors file")
    return load_vectors_file(path)
