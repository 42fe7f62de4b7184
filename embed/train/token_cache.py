"""The corpus encoded once to a temporary uint32 file, streamed back in chunks every epoch.

Tokenising and looking up every token in Python on every epoch would cost more than the
training itself, so the first pass writes in-vocabulary ids to disk (4 bytes per token, a
``SENTINEL`` between sentences) and each epoch reads fixed-size chunks through a memmap.
Memory stays bounded by the chunk size, whatever the corpus size; disk use is
``4 x (retained tokens + sentences)`` bytes, deleted when the trainer finishes.
"""

from __future__ import annotations

import os
from collections.abc import Iterable, Iterator
from pathlib import Path

import numpy as np

from embed.vocab import Vocab

SENTINEL = np.uint32(0xFFFFFFFF)
_FLUSH_TOKENS = 1 << 20


def encode_fast(tokens: list[str], index: dict[str, int]) -> np.ndarray:
    """In-vocabulary ids (int64) of ``tokens``; one dict lookup per token, no generator.

    >>> encode_fast(["a", "x", "b"], {"a": 0, "b": 1}).tolist()
    [0, 1]
    """
    get = index.get
    ids = np.array([get(t, -1) for t in tokens], dtype=np.int64)
    return ids[ids >= 0]


class TokenCache:
    """Encoded corpus at ``path``; ``len()`` is the number of retained (in-vocabulary) tokens."""

    def __init__(self, corpus: Iterable[list[str]], vocab: Vocab, path: Path) -> None:
        self.path = Path(path)
        self.tokens = 0
        self.size = 0
        buf: list[np.ndarray] = []
        pending = 0
        sep = np.array([SENTINEL], dtype=np.uint32)
        with open(self.path, "wb") as f:
            for tokens in corpus:
                ids = encode_fast(tokens, vocab.index)
                if ids.size < 2:  # no pair can come from a sentence of < 2 words
                    continue
                buf.append(ids.astype(np.uint32))
                buf.append(sep)
                pending += ids.size + 1
                self.tokens += ids.size
                if pending >= _FLUSH_TOKENS:
                    f.write(np.concatenate(buf).tobytes())
                    buf, pending = [], 0
            if buf:
                f.write(np.concatenate(buf).tobytes())
        self.size = os.path.getsize(self.path) // 4  # tokens + sentinels

    def __len__(self) -> int:
        return self.tokens

    def chunks(self, chunk_tokens: int) -> Iterator[tuple[np.ndarray, np.ndarray]]:
        """Yield ``(ids, sentence_number)`` int64 arrays of about ``chunk_tokens`` tokens.

        A chunk boundary ends a sentence (a window never crosses it): with chunks of
        ~10^5-10^6 tokens this drops a negligible number of pairs, like gensim's
        splitting of sentences longer than 10,000 tokens.
        """
        if self.size == 0:
            return
        # Plain reads, not a memory map: mapped pages that were read stay in the process's
        # resident set, so RSS would grow with the corpus (4 bytes a token).
        with open(self.path, "rb") as fh:
            while (raw := np.fromfile(fh, dtype=np.uint32, count=chunk_tokens)).size:
                is_sep = raw == SENTINEL
                sent = np.cumsum(is_sep)
                keep = ~is_sep
                yield raw[keep].astype(np.int64), sent[keep]

    def chunk_sizes(self, chunk_tokens: int) -> list[int]:
        """The token count (sentence ends left out) of each chunk :meth:`chunks` yields, in order."""
        sizes: list[int] = []
        if self.size == 0:
            return sizes
        with open(self.path, "rb") as fh:
            while (raw := np.fromfile(fh, dtype=np.uint32, count=chunk_tokens)).size:
                sizes.append(int(raw.size - np.count_nonzero(raw == SENTINEL)))
        return sizes
