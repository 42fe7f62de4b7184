"""word2vec (skip-gram / CBOW, negative sampling) in PyTorch, on CPU or CUDA; never calls gensim.

The pipeline is the project's own: :class:`embed.vocab.Vocab` (counts, subsampling rule,
unigram^0.75 noise), :mod:`embed.pairs` (dynamic window, vectorised over chunks of many
sentences) and :mod:`embed.train.token_cache` (the corpus encoded once to a temporary
file, streamed back each epoch). The SGD step is written by hand in
:mod:`embed.train.torch_kernels`, where the deviations from word2vec.c are documented.

Faithful to word2vec.c: subsampling with ``sample`` (the same rule, applied afresh each
epoch), effective window ``window - b`` with ``b ~ U{0..window-1}`` per position, learning
rate decaying linearly from ``alpha`` to ``min_alpha`` over all epochs (updated per batch),
input vectors ~ U(-0.5, 0.5) / dim, output vectors zero, CBOW averaging its contexts.

Threads: ``config.workers`` becomes ``torch.set_num_threads`` for the duration of ``fit``
(restored afterwards); inter-op threads are limited to 1 (the step is one stream of ops).
Determinism: one seeded ``numpy.random.Generator`` draws windows, subsampling and
negatives; same seed, device and thread count give the same vectors.
"""

from __future__ import annotations

import logging
import tempfile
import time
from collections.abc import Iterable, Iterator
from dataclasses import asdict
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np

from embed.config import CHUNK_TOKENS, TrainConfig
from embed.errors import ConfigError, EmbedError, OutputError
from embed.pairs import chunk_cbow_examples, chunk_skipgram_pairs, interleave_examples
from embed.train.base import SINGLE_RUN, Callbacks, EpochStats, RunOptions, Sentences, TrainResult
from embed.train.checkpoint import Checkpointer, Snapshot
from embed.train.distributed import RoundPlan, RowSync, snapshot_state
from embed.train.loss import LossProbe
from embed.train.token_cache import TokenCache
from embed.vectors import Vectors
from embed.vocab import Vocab

if TYPE_CHECKING:
    from embed.subwords import Subwords

logger = logging.getLogger(__name__)

# OpenMP's spin between the many small ops of a step (GOMP_SPINCOUNT=10000, measured against
# PASSIVE and libgomp's default) is set by embed.runtime.configure_threads(workers, "train"),
# which `embed train` calls before torch loads; the figures are there.

# Examples that share one draw of negatives (see torch_kernels); consecutive skip-gram
# pairs mostly share their centre word, so a group of 8 is about one centre's window.
NEG_GROUP = 8
# CBOW examples per batch = batch_size // CBOW_DIVISOR (see _State._batches).
CBOW_DIVISOR = 4
# CBOW batches take every 3rd example of a block of 3 x batch (embed.pairs.interleave_examples).
# Full enwiki benchmark, 2026-12-01, analogy / relative speed: consecutive 33.7% / 1.0,
# every 2nd 33.9%, every 3rd 35.0% / 0.92, spread over the whole chunk 34.3% / 0.77-0.86.
CBOW_SPACING = 3


def resolve_device(name: str) -> str:
    """``cpu``, ``cuda`` or ``auto`` -> a torch device string.

    Raises:
        ConfigError: ``cuda`` was asked for and no CUDA device is available.
    """
    import torch

    if name == "auto":
        return "cuda" if torch.cuda.is_available() else "cpu"
    if name == "cuda" and not torch.cuda.is_available():
        raise ConfigError(
            f"--device cuda: no CUDA device is available to torch {torch.__version__}; "
            "use --device cpu or --device auto"
        )
    if name not in ("cpu", "cuda"):
        raise ConfigError(f"device must be cpu, cuda or auto, got {name!r}")
    return name


class _Sampler:
    """Seeded draws from the noise distribution (inverse CDF, vectorised)."""

    def __init__(self, vocab: Vocab, rng: np.random.Generator) -> None:
        self.cdf = np.cumsum(vocab.noise_distribution())
        self.rng = rng
        self.last = len(vocab) - 1

    def draw(self, shape: tuple[int, ...]) -> np.ndarray:
        u = self.rng.random(shape) * self.cdf[-1]
        rows: np.ndarray = np.minimum(np.searchsorted(self.cdf, u, side="right"), self.last)
        return rows


class TorchTrainer:
    """Skip-gram or CBOW with negative sampling, batched SGD in PyTorch."""

    name = "torch"

    def fit(
        self, corpus: Sentences, vocab: Vocab, config: TrainConfig, callbacks: Callbacks, run: RunOptions = SINGLE_RUN
    ) -> TrainResult:
        """Train; with ``run.checkpointer`` write resumable snapshots, with ``run.resume`` continue from
        one; with ``run.sync`` train this rank's share of a data-parallel run (:mod:`embed.train.distributed`)."""
        import torch

        device = resolve_device(config.device)
        threads = torch.get_num_threads()
        torch.set_num_threads(config.workers)
        try:
            torch.set_num_interop_threads(1)
        except RuntimeError:  # can only be set before the first parallel op; harmless then
            pass
        try:
            from embed.tmp import scratch_dir, token_prefix

            # tokens-<pid>-* in the per-user scratch directory: found and removed by the next
            # ``embed train`` if this process is SIGKILLed (embed.tmp.remove_stale).
            with tempfile.TemporaryDirectory(prefix=token_prefix(), dir=scratch_dir()) as tmp:
                return self._fit(corpus, vocab, config, callbacks, device, Path(tmp), run)
        finally:
            torch.set_num_threads(threads)

    def _fit(
        self,
        corpus: Iterable[list[str]],
        vocab: Vocab,
        config: TrainConfig,
        callbacks: Callbacks,
        device: str,
        tmp: Path,
        run: RunOptions,
    ) -> TrainResult:
        import torch

        t0 = time.perf_counter()
        probe = LossProbe(corpus, vocab, config.arch, config.window, config.negative, config.seed, sample=config.sample)
        cache = TokenCache(corpus, vocab, tmp / "tokens.u32")
        state, w_in, w_out = _start(config, vocab, cache, device, run.sync)
        epochs: list[EpochStats] = []
        first_epoch, skip = 0, 0
        if run.resume is not None:
            w_in, w_out = _restore(run.resume, state, device)
            epochs = [EpochStats(**e) for e in run.resume.epochs]
            first_epoch, skip = run.resume.epoch, run.resume.chunk
        callbacks.on_train_begin(vocab.total_tokens, config.epochs)
        for epoch in range(first_epoch, config.epochs):
            e0 = time.perf_counter()
            for done in state.run_epoch(epoch, w_in, w_out, skip if epoch == first_epoch else 0):
                callbacks.on_progress(epoch, int(vocab.total_tokens * done / max(state.epoch_tokens, 1)))
                if run.checkpointer is not None and state.snapshot_due(run.checkpointer):
                    _snapshot(run.checkpointer, state, vocab, epoch, epochs, w_in, w_out)
            if run.sync is not None:
                run.sync.sync(w_in, w_out)  # every rank ends the epoch with the same weights
                state.at_sync = True
                if run.checkpointer is not None and state.snapshot_due(run.checkpointer):
                    _snapshot(run.checkpointer, state, vocab, epoch, epochs, w_in, w_out)
            seconds = time.perf_counter() - e0
            if epoch == 0:
                seconds += state.setup_seconds(t0, e0)
            if run.sync is None or run.sync.rank == 0:
                loss = probe.loss(state.input_vectors(w_in).cpu().numpy(), w_out.cpu().numpy())
            if run.sync is not None:  # rank 0's probe (the start of the corpus) speaks for every rank
                loss = float(run.sync.broadcast(loss if run.sync.rank == 0 else None, src=0))
            stats = EpochStats(
                epoch=epoch,
                loss=loss,
                words=vocab.total_tokens,
                seconds=seconds,
                words_per_sec=vocab.total_tokens / max(seconds, 1e-9),
            )
            epochs.append(stats)
            callbacks.on_epoch_end(stats)
        v, words = len(vocab), vocab.words
        matrix, subwords = state.input_vectors(w_in).cpu().numpy(), state.subwords(w_in, v)
        vectors = Vectors.from_arrays(words, matrix, counts=vocab.counts.tolist(), subwords=subwords)
        info = self._info(config, device, torch) | (
            {"distributed": run.sync.info(v, config.dim) | {"chunk_tokens_per_rank": state.chunk_tokens}}
            if run.sync
            else {}
        )
        return TrainResult(vectors, vocab, epochs, time.perf_counter() - t0, backend_info=info, config=config)

    @staticmethod
    def _info(config: TrainConfig, device: str, torch: Any) -> dict[str, Any]:
        from embed.train.torch_kernels import ROW_CAP

        return {
            "backend": "torch",
            "torch": torch.__version__,
            "device": device,
            "threads": config.workers,
            "batch_size": config.batch_size,
            "negative_group": NEG_GROUP,
            "skipgram_row_cap": ROW_CAP,  # torch_kernels.cap_repeated_rows
            "chunk_tokens": CHUNK_TOKENS,
            "token_cache": "temporary uint32 file",
        }


def _start(
    config: TrainConfig, vocab: Vocab, cache: TokenCache, device: str, sync: RowSync | None
) -> tuple[_State, Any, Any]:
    """The epochs' shared state and the initial weights ``w_in`` and ``w_out`` (seeded; on ``device``)."""
    import torch

    rng = np.random.default_rng(config.seed + (sync.rank if sync is not None else 0))
    gen = torch.Generator().manual_seed(config.seed)
    v, d = len(vocab), config.dim
    if config.subwords:  # fastText's model: embed.train.torch_subwords
        from embed.train.torch_subwords import SubwordState, init_input

        w_in = init_input(v, config, gen).to(device)
        state: _State = SubwordState(config, vocab, cache, rng, device)
    else:
        w_in = ((torch.rand(v, d, generator=gen) - 0.5) / d).to(device)
        state = _State(config, vocab, cache, rng, device)
    w_out = torch.zeros(v, d, device=device)
    state.sync = sync
    if sync is not None:
        sync.start(w_in, w_out)
        state.chunk_tokens = sync.chunk_tokens(CHUNK_TOKENS)
        state.plan = sync.plan_rounds(cache.chunk_sizes(state.chunk_tokens))
        state.total = max(state.plan.epoch_tokens * config.epochs, 1)  # the schedule counts every rank's tokens
    return state, w_in, w_out


def _restore(resume: Snapshot, state: _State, device: str) -> tuple[Any, Any]:
    """Put ``state`` where the snapshot stood (generator, schedule, sync); returns its weights on ``device``."""
    import torch

    sync = state.sync
    state.rng.bit_generator.state = resume.rng_state if sync is None else resume.rank_rng_state(sync.rank)
    state.processed = resume.processed
    w_in, w_out = torch.from_numpy(resume.w_in).to(device), torch.from_numpy(resume.w_out).to(device)
    if sync is not None and resume.distributed is not None:
        sync.restore(resume.distributed["sync"])
        sync.start(w_in, w_out, resume.sync_steps)  # a snapshot follows a sync: every rank's weights, the base
    return w_in, w_out


def _snapshot(
    checkpointer: Checkpointer,
    state: _State,
    vocab: Vocab,
    epoch: int,
    epochs: list[EpochStats],
    w_in: Any,
    w_out: Any,
) -> None:
    """Write where training stands: the chunk of ``epoch`` reached, the generator, the weights.

    In a data-parallel run every rank calls this right after a sync: the ranks' generator states are
    gathered and rank 0 writes; the others learn whether it could (:func:`embed.train.distributed`).

    Raises:
        OutputError: rank 0 could not write the snapshot (on the other ranks; rank 0 raises its own error).
    """
    epochs_done = [asdict(e) for e in epochs]
    sync = state.sync
    ranks = None if sync is None else snapshot_state(sync, state.rng.bit_generator.state)
    error: Exception | None = None
    if sync is None or sync.rank == 0:
        w = w_in.cpu().numpy(), w_out.cpu().numpy()
        args = (state.config, vocab, epoch, state.chunk, state.processed, state.rng, epochs_done, *w)
        if sync is None:
            checkpointer.save(*args)
            return
        try:
            checkpointer.save(*args, distributed=ranks, arrays=sync.steps())
        except (OSError, EmbedError) as exc:
            error = exc
    if not sync.agree(error is None):
        if error is not None:
            raise error
        raise OutputError(
            f"{checkpointer.directory}: rank 0 could not write the checkpoint (its own message says why); fix that"
            " and resume from the last snapshot"
        )


class _State:
    """What the epochs share: sampler, schedule, progress."""

    def __init__(
        self, config: TrainConfig, vocab: Vocab, cache: TokenCache, rng: np.random.Generator, device: str
    ) -> None:
        self.config = config
        self.cache = cache
        self.rng = rng
        self.device = device
        self.keep = vocab.keep_probs(config.sample)
        self.sampler = _Sampler(vocab, rng)
        self.total = max(len(cache) * config.epochs, 1)
        self.processed = 0
        self.chunk_tokens = CHUNK_TOKENS  # a data-parallel rank's: RowSync.chunk_tokens
        self.chunk = 0
        self.sync: RowSync | None = None
        self.plan: RoundPlan | None = None  # a data-parallel run's rounds (set with ``sync``)
        self.at_sync = False  # the weights were just synced (a data-parallel snapshot may be taken)
        self.repeats: Any = None  # skip-gram: torch_kernels.cap_repeated_rows's (V,) counts, allocated once

    @property
    def epoch_tokens(self) -> int:
        """Retained tokens of an epoch: this cache's, or every rank's in a data-parallel run."""
        return len(self.cache) if self.plan is None else self.plan.epoch_tokens

    def snapshot_due(self, checkpointer: Checkpointer) -> bool:
        """Take a snapshot now? Data-parallel: only right after a sync, when rank 0's clock says so."""
        if self.sync is None:
            return checkpointer.due()
        at_sync, self.at_sync = self.at_sync, False
        return at_sync and self.sync.agree(checkpointer.due())

    def input_vectors(self, w_in: Any) -> Any:
        """Each word's input vector, ``(V, dim)``: its row (the subword state averages its n-grams in)."""
        return w_in

    def subwords(self, w_in: Any, v: int) -> Subwords | None:
        """The n-gram rows of ``w_in`` past the ``v`` word rows: none here (the subword state has them)."""
        return None

    @staticmethod
    def setup_seconds(t0: float, e0: float) -> float:
        """The probe and token-cache pass count towards the first epoch's time."""
        return e0 - t0

    def lr(self, frac_of_chunk: float, chunk_tokens: int) -> float:
        """Linear decay from alpha to min_alpha over all epochs, by retained tokens processed."""
        c = self.config
        progress = min((self.processed + frac_of_chunk * chunk_tokens) / self.total, 1.0)
        return c.start_alpha - (c.start_alpha - c.min_alpha) * progress

    def _tensor(self, a: np.ndarray) -> Any:
        import torch

        t = torch.from_numpy(np.ascontiguousarray(a))
        if self.device != "cpu":
            t = t.pin_memory().to(self.device, non_blocking=True)
        return t

    def run_epoch(self, epoch: int, w_in: Any, w_out: Any, skip: int = 0) -> Iterator[int]:
        """Train one epoch; yields tokens processed so far in this epoch after each chunk.

        ``skip`` chunks (already trained before a checkpoint) are passed over without
        drawing from the generator; ``self.chunk`` counts the chunks done in this epoch.
        """
        if self.sync is not None:
            yield from self._run_rounds(epoch, w_in, w_out, skip)
            return
        done = 0
        self.chunk = 0
        for ids, sent in self.cache.chunks(CHUNK_TOKENS):
            n = ids.size
            if self.chunk >= skip:
                self._train_chunk(ids, sent, w_in, w_out)
                self.processed += n
            done += n
            self.chunk += 1
            if self.chunk > skip:
                yield done

    def _run_rounds(self, epoch: int, w_in: Any, w_out: Any, skip: int) -> Iterator[int]:
        """A data-parallel epoch: this rank's chunk of each round (none once its chunks are done), a sync
        after every ``sync.every`` rounds; yields every rank's tokens done after each round.

        ``skip`` rounds (done before a snapshot) are passed over; ``self.chunk`` counts the rounds done.
        """
        sync, plan = self.sync, self.plan
        assert sync is not None and plan is not None
        base = epoch * plan.epoch_tokens
        self.chunk = 0
        chunks = self.cache.chunks(self.chunk_tokens)
        for k in range(plan.rounds):
            mine = next(chunks) if k < plan.chunks[sync.rank] else None
            self.chunk = k + 1
            if k < skip:
                continue
            if mine is not None:
                self.processed = base + plan.start(k, sync.rank)  # the global order of chunks (RoundPlan)
                self._train_chunk(*mine, w_in, w_out)
            self.processed = base + plan.done(k + 1)
            self.at_sync = sync.due(k)
            if self.at_sync:
                sync.sync(w_in, w_out)
            yield plan.done(k + 1)

    def _train_chunk(self, ids: np.ndarray, sent: np.ndarray, w_in: Any, w_out: Any) -> None:
        """Subsample one chunk with the generator, then train on its examples."""
        n = ids.size
        mask = self.rng.random(n) < self.keep[ids]
        ids, sent = ids[mask], sent[mask]
        if self.config.arch == "skipgram":
            self._skipgram_chunk(ids, sent, n, w_in, w_out)
        else:
            self._cbow_chunk(ids, sent, n, w_in, w_out)

    def _batch_examples(self) -> int:
        """Examples per batch: ``batch_size`` (CBOW: ``batch_size // 4``), a multiple of the negative group."""
        size = (
            self.config.batch_size if self.config.arch == "skipgram" else max(self.config.batch_size // CBOW_DIVISOR, 1)
        )
        return max(size // NEG_GROUP, 1) * NEG_GROUP

    def _batches(self, m: int) -> Iterator[tuple[int, int, int]]:
        """(start, stop, group) over ``m`` examples; a tail that is not a multiple of the group is its own group.

        ``batch_size`` counts skip-gram pairs; a CBOW example updates ~2 x window input rows
        at lr 0.05, and summed stale updates of 4096 CBOW examples diverged on enwiki (loss
        ~1e16 by epoch 2) while 1024 did not, so CBOW batches hold ``batch_size // 4`` examples.
        """
        bs = self._batch_examples()
        for start in range(0, m, bs):
            stop = min(start + bs, m)
            main = stop - (stop - start) % NEG_GROUP
            if main > start:
                yield start, main, NEG_GROUP
            if stop > main:
                yield main, stop, stop - main

    def _skipgram_chunk(self, ids: np.ndarray, sent: np.ndarray, n: int, w_in: Any, w_out: Any) -> None:
        from embed.train.torch_kernels import skipgram_step

        centres, contexts = chunk_skipgram_pairs(ids, sent, self.config.window, self.rng)
        m = centres.size
        negs = self.sampler.draw((-(-m // NEG_GROUP) + 1, self.config.negative))
        if self.sync is not None:
            self.sync.mark(ids, ids, negs)
        tc, tx, tn = self._tensor(centres), self._tensor(contexts), self._tensor(negs)
        if self.repeats is None:
            self.repeats = w_in.new_zeros(w_in.shape[0])
        for start, stop, group in self._batches(m):
            g0 = start // NEG_GROUP
            g1 = g0 + (stop - start) // group
            lr = self.lr(start / max(m, 1), n)
            skipgram_step(w_in, w_out, tx[start:stop], tc[start:stop], tn[g0:g1], lr, group, self.repeats)

    def _cbow_chunk(self, ids: np.ndarray, sent: np.ndarray, n: int, w_in: Any, w_out: Any) -> None:
        from embed.train.torch_kernels import cbow_step

        centres, contexts, example = chunk_cbow_examples(ids, sent, self.config.window, self.rng)
        # A batch of consecutive CBOW examples shares most of its context rows (each word is a
        # context of ~2 x window neighbours), and their summed stale updates cost quality; a
        # batch of examples CBOW_SPACING apart shares fewer (BENCHMARKS.md, issue 3).
        centres, contexts, example = interleave_examples(
            centres, contexts, example, self._batch_examples(), CBOW_SPACING
        )
        m = centres.size
        counts = np.bincount(example, minlength=m)
        offsets = np.concatenate([[0], np.cumsum(counts)])
        negs = self.sampler.draw((-(-m // NEG_GROUP) + 1, self.config.negative))
        if self.sync is not None:
            self.sync.mark(ids, ids, negs)
        batches = list(self._batches(m))
        # Batch-local indices, computed here once per chunk rather than by two torch ops per step.
        first = np.repeat(
            np.array([start for start, _, _ in batches], dtype=np.int64), [stop - start for start, stop, _ in batches]
        )
        local_example = example - first[example]
        local_starts = offsets[:-1] - offsets[first]
        tc, tx, te, tn, ts = (self._tensor(a) for a in (centres, contexts, local_example, negs, local_starts))
        for start, stop, group in batches:
            a, b = int(offsets[start]), int(offsets[stop])
            g0 = start // NEG_GROUP
            g1 = g0 + (stop - start) // group
            cbow_step(
                w_in,
                w_out,
                tx[a:b],
                te[a:b],
                ts[start:stop],
                tc[start:stop],
                tn[g0:g1],
                self.lr(start / max(m, 1), n),
                group,
            )
