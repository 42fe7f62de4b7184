"""word2vec with gensim, fed by the project's own corpus stream and vocabulary."""

from __future__ import annotations

import logging
import time
from typing import TYPE_CHECKING, Any

import numpy as np

from embed.config import TrainConfig
from embed.train.base import SINGLE_RUN, Callbacks, EpochStats, ProgressCorpus, RunOptions, Sentences, TrainResult
from embed.train.loss import LossProbe
from embed.vectors import Vectors
from embed.vocab import Vocab

if TYPE_CHECKING:
    from embed.subwords import Subwords

logger = logging.getLogger(__name__)


class GensimTrainer:
    """Skip-gram or CBOW with negative sampling in gensim's optimised C code.

    The vocabulary comes from :class:`embed.vocab.Vocab` (passed with
    ``build_vocab_from_freq``), so both backends train on the same words. gensim applies
    the same subsampling rule and noise distribution (unigram^0.75) as :mod:`embed.vocab`.
    """

    name = "gensim"

    def fit(
        self, corpus: Sentences, vocab: Vocab, config: TrainConfig, callbacks: Callbacks, run: RunOptions = SINGLE_RUN
    ) -> TrainResult:
        """Train in one ``model.train`` call; ``run`` is always a plain one here (:func:`embed.train.check_run`
        refuses snapshots, resuming and distributed training for this backend)."""
        probe = LossProbe(corpus, vocab, config.arch, config.window, config.negative, config.seed, sample=config.sample)
        model, perm = build_model(config, vocab)
        epochs: list[EpochStats] = []
        callbacks.on_train_begin(vocab.total_tokens, config.epochs)
        t0 = time.perf_counter()
        model.train(
            ProgressCorpus(corpus, callbacks),
            total_examples=vocab.sentences,
            epochs=config.epochs,
            callbacks=[_epoch_hook(probe, perm, vocab, config, callbacks, epochs)],
        )
        seconds = time.perf_counter() - t0
        import gensim

        subwords = _ngrams(model, config)  # first: it composes the word vectors
        return TrainResult(
            vectors=Vectors.from_arrays(
                vocab.words, model.wv.vectors[perm], counts=vocab.counts.tolist(), subwords=subwords
            ),
            vocab=vocab,
            epochs=epochs,
            train_seconds=seconds,
            backend_info={"backend": "gensim", "gensim": gensim.__version__, "workers": config.workers},
            config=config,
        )


def _epoch_hook(
    probe: LossProbe,
    perm: np.ndarray,
    vocab: Vocab,
    config: TrainConfig,
    callbacks: Callbacks,
    epochs: list[EpochStats],
) -> Any:
    """gensim's callback that measures each epoch: its time and probe loss, appended to ``epochs`` and passed on."""
    from gensim.models import Word2Vec
    from gensim.models.callbacks import CallbackAny2Vec

    class _EpochHook(CallbackAny2Vec):  # type: ignore[misc]
        def on_epoch_begin(self, m: Word2Vec) -> None:
            self.t0 = time.perf_counter()

        def on_epoch_end(self, m: Word2Vec) -> None:
            seconds = time.perf_counter() - self.t0
            if config.subwords:
                m.wv.adjust_vectors()  # the probe scores the composed input vectors
            stats = EpochStats(
                epoch=len(epochs),
                loss=probe.loss(m.wv.vectors, m.syn1neg, order=perm),
                words=vocab.total_tokens,
                seconds=seconds,
                words_per_sec=vocab.total_tokens / max(seconds, 1e-9),
            )
            epochs.append(stats)
            callbacks.on_epoch_end(stats)

    return _EpochHook()


def build_model(config: TrainConfig, vocab: Vocab) -> tuple[Any, np.ndarray]:
    """gensim's model for ``config`` with ``vocab``'s words, and the row of each word in it (in ``vocab``'s order)."""
    from gensim.models import FastText, Word2Vec

    # subwords: gensim's FastText (same options plus min_n/max_n/bucket); its wv.vectors are
    # the composed word vectors once adjust_vectors() has run.
    extra = {"min_n": config.minn, "max_n": config.maxn, "bucket": config.bucket} if config.subwords else {}
    model = (FastText if config.subwords else Word2Vec)(
        **extra,
        vector_size=config.dim,
        window=config.window,
        min_count=config.min_count,
        sample=config.sample,
        seed=config.seed,
        workers=config.workers,
        sg=1 if config.arch == "skipgram" else 0,
        hs=0,
        negative=config.negative,
        alpha=config.start_alpha,
        min_alpha=config.min_alpha,
        epochs=config.epochs,
    )
    model.build_vocab_from_freq(
        dict(zip(vocab.words, vocab.counts.tolist(), strict=False)), corpus_count=vocab.sentences
    )
    # gensim's count sort is not stable for ties; index its rows in our vocabulary order.
    perm = np.array([model.wv.key_to_index[w] for w in vocab.words], dtype=np.int64)
    return model, perm


def _ngrams(model: Any, config: TrainConfig) -> Subwords | None:
    """A FastText model's n-gram rows (after composing its word vectors); None for word2vec."""
    if not config.subwords:
        return None
    from embed.subwords import Subwords, SubwordSpec

    model.wv.adjust_vectors()
    return Subwords(
        SubwordSpec(config.minn, config.maxn, config.bucket),
        np.ascontiguousarray(model.wv.vectors_ngrams, dtype=np.float32),
    )
