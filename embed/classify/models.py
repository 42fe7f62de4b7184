"""TextCNN (Kim 2014) and TextRNN (LSTM/GRU, max-pooled over time) in torch.

Both take a batch of token ids ``(batch, time)`` (0 = padding) with the true lengths
``(batch,)`` and return logits ``(batch, num_classes)``.
"""

from __future__ import annotations

from typing import Any

import torch
from torch import nn
from torch.nn.utils.rnn import pack_padded_sequence, pad_packed_sequence

from embed.classify.config import ClassifierConfig

PAD = 0
UNK = 1


def padding(config: ClassifierConfig) -> tuple[int, int, int]:
    """``(min_length, extra, left)`` for :func:`embed.classify.classifier.pad_batch`: the CNN
    needs ``widest - 1`` zeros after each sentence (and before it with ``pad_left``); RNNs
    need none."""
    if config.arch != "cnn":
        return 1, 0, 0
    widest = max(config.filter_sizes)
    return widest, widest - 1, widest - 1 if config.pad_left else 0


class Embedder(nn.Module):
    """Token ids -> vectors for the four modes of Kim (2014).

    ``multichannel`` adds a frozen copy of the pre-trained vectors to a tuned one: a
    convolution is linear, so shared filters over the sum equal Kim's two channels
    with shared filters whose outputs are added.
    """

    def __init__(self, vocab_size: int, config: ClassifierConfig, init: torch.Tensor | None = None) -> None:
        super().__init__()
        self.mode = config.mode
        # Sparse row gradients: the optimizers (embed.classify.optim) update only the batch's words.
        self.embed = nn.Embedding(vocab_size, config.dim, padding_idx=PAD, sparse=True)
        if init is not None:
            with torch.no_grad():
                self.embed.weight.copy_(init)
        if config.mode == "static":
            self.embed.weight.requires_grad_(False)
        if config.mode == "multichannel":
            frozen = init.clone() if init is not None else torch.zeros(vocab_size, config.dim)
            self.register_buffer("static_embed", frozen)
        else:
            self.static_embed: torch.Tensor | None = None

    def forward(self, ids: torch.Tensor) -> torch.Tensor:
        """``(batch, time)`` ids -> ``(batch, time, dim)`` vectors."""
        x: torch.Tensor = self.embed(ids)
        if self.static_embed is not None:
            x = x + nn.functional.embedding(ids, self.static_embed)
        return x


class _WindowSums(torch.autograd.Function):
    """Every filter's pre-activation at every window, from projected rows.

    A width-``k`` convolution at window ``t`` is ``sum_j W_j x[t + j]`` (``W_j`` the
    ``(filters, dim)`` slice of offset ``j``). With ``y = x @ [W_0; W_1; ...].T`` computed
    per *distinct* word of the batch (a batch of 50 MR sentences has ~1,500 padded
    positions but ~530 distinct ids), the window is a sum of ``k`` column blocks of
    gathered rows of ``y``: the same values as ``Conv1d`` (up to float rounding), with the
    three matrix products (forward, weight and input gradients) 2.9x smaller.

    ``forward(y, ids, widths, filters)``: ``y`` ``(rows, sum(widths) * filters)``, ``ids``
    ``(batch, time)`` rows of ``y``; returns one ``(batch, time - k + 1, filters)`` tensor
    per width. The backward pass scatters each window's gradient back to its rows once
    (autograd through 12 slices would allocate and zero-fill 12 full-size gradients).
    """

    @staticmethod
    def forward(
        ctx: Any, y: torch.Tensor, ids: torch.Tensor, widths: tuple[int, ...], filters: int
    ) -> tuple[torch.Tensor, ...]:
        batch, time_steps = ids.shape
        cols = y.shape[1]
        rows = y.index_select(0, ids.reshape(-1)).view(batch, time_steps, cols)
        outs, p = [], 0
        for k in widths:
            steps = time_steps - k + 1
            h = rows[:, 0:steps, p * filters : (p + 1) * filters].clone()
            for j in range(1, k):
                h += rows[:, j : j + steps, (p + j) * filters : (p + j + 1) * filters]
            outs.append(h)
            p += k
        ctx.save_for_backward(ids)
        ctx.shape = (widths, filters, y.shape[0], cols)
        return tuple(outs)

    @staticmethod
    def backward(ctx: Any, *grads: torch.Tensor) -> tuple[torch.Tensor | None, ...]:
        (ids,) = ctx.saved_tensors
        widths, filters, n_rows, cols = ctx.shape
        batch, time_steps = ids.shape
        d_rows = torch.empty((batch, time_steps, cols), dtype=grads[0].dtype, device=grads[0].device)
        p = 0
        for k, g in zip(widths, grads, strict=False):
            steps = time_steps - k + 1
            for j in range(k):  # each (position, column) belongs to one window offset: copy, no sum
                block = slice((p + j) * filters, (p + j + 1) * filters)
                d_rows[:, j : j + steps, block] = g
                d_rows[:, :j, block] = 0.0
                d_rows[:, j + steps :, block] = 0.0
            p += k
        d_y = torch.zeros((n_rows, cols), dtype=d_rows.dtype, device=d_rows.device).index_add_(
            0, ids.reshape(-1), d_rows.view(-1, cols)
        )
        return d_y, None, None, None


class TextCNN(nn.Module):
    """Convolutions of widths ``filter_sizes`` (``num_filters`` maps each), ReLU,
    max-over-time pooling, dropout, a linear layer.

    The convolutions are ``nn.Conv1d`` modules (their weights are what is saved), but
    :meth:`features` computes them as sums of projected word rows (:class:`_WindowSums`):
    the same function, 1.7x (static) to 2.3x (non-static) faster to train on CPU. :meth:`conv_features` is the
    ``Conv1d`` form, kept as the reference the tests compare against.
    """

    def __init__(
        self, vocab_size: int, num_classes: int, config: ClassifierConfig, init: torch.Tensor | None = None
    ) -> None:
        super().__init__()
        self.embedder = Embedder(vocab_size, config, init)
        convs = [nn.Conv1d(config.dim, config.num_filters, k) for k in config.filter_sizes]
        self.convs = nn.ModuleList(convs)  # registered here: their weights are what is saved
        self.layers: tuple[nn.Conv1d, ...] = tuple(convs)  # the same modules, typed (a ModuleList yields Modules)
        self.dropout = nn.Dropout(config.dropout)
        self.out = nn.Linear(config.num_filters * len(config.filter_sizes), num_classes)
        self.min_length = max(config.filter_sizes)
        self.left = padding(config)[2]
        """Zeros before each sentence (Kim's padding); windows starting there are pooled too."""

    def _past_end(self, time_steps: int, lengths: torch.Tensor) -> torch.Tensor:
        """``(batch, time_steps)``: True for windows starting after a sentence's real tokens.
        ReLU output is >= 0, so zeroing those windows keeps the max over time exact."""
        starts = torch.arange(time_steps, device=lengths.device)
        return starts[None, :] >= lengths.clamp(min=1)[:, None] + self.left

    def project(self, vectors: torch.Tensor) -> torch.Tensor:
        """``(n, dim)`` vectors -> ``(n, sum(filter_sizes) * num_filters)``: each vector times
        every filter's slice at every offset (block ``(width k, offset j)`` is ``x @ W_j.T``)."""
        weight = torch.cat([conv.weight[:, :, j] for conv in self.layers for j in range(conv.kernel_size[0])])
        return vectors @ weight.t()

    def _pool(self, table: torch.Tensor, ids: torch.Tensor, lengths: torch.Tensor | None) -> torch.Tensor:
        """Max-over-time of ReLU(window sums + bias), windows past a sentence's end masked."""
        widths = tuple(conv.kernel_size[0] for conv in self.layers)
        # torch's Function.apply carries no annotations
        sums = _WindowSums.apply(table, ids, widths, self.layers[0].out_channels)  # type: ignore[no-untyped-call]
        past = None if lengths is None else self._past_end(ids.shape[1], lengths)[:, :, None]
        pooled = []
        for conv, h in zip(self.layers, sums, strict=False):
            h = torch.relu(h + _bias(conv))
            if past is not None:
                h = h.masked_fill(past[:, : h.shape[1]], 0.0)
            pooled.append(h.amax(dim=1))
        return torch.cat(pooled, dim=1)

    def features(self, ids: torch.Tensor, lengths: torch.Tensor | None = None) -> torch.Tensor:
        """``(batch, time)`` ids -> pooled features ``(batch, num_filters * len(filter_sizes))``.

        ``time`` must be at least the widest filter: :func:`embed.classify.classifier.pad_batch`
        pads with zeros (``self.left`` before each sentence, ``widest - 1`` after), so
        sentences shorter than a filter still work. With ``lengths`` ``(batch,)``, only
        windows starting before the end of the real tokens are pooled, so a sentence's
        features do not depend on how long its batch-mates are.
        """
        distinct, rows = torch.unique(ids, return_inverse=True)
        return self._pool(self.project(self.embedder(distinct)), rows, lengths)

    def conv_features(self, ids: torch.Tensor, lengths: torch.Tensor | None = None) -> torch.Tensor:
        """:meth:`features` computed with ``Conv1d`` over the embedded batch (the textbook form)."""
        x = self.embedder(ids).transpose(1, 2)  # conv1d wants (batch, dim, time)
        pooled = []
        for conv in self.layers:
            h = torch.relu(conv(x))
            if lengths is not None:
                h = h.masked_fill(self._past_end(h.shape[2], lengths)[:, None, :], 0.0)
            pooled.append(h.amax(dim=2))
        return torch.cat(pooled, dim=1)

    def forward(self, ids: torch.Tensor, lengths: torch.Tensor | None = None) -> torch.Tensor:
        """``ids`` ``(batch, time)``, ``lengths`` ``(batch,)`` -> logits ``(batch, classes)``."""
        logits: torch.Tensor = self.out(self.dropout(self.features(ids, lengths)))
        return logits

    @torch.no_grad()
    def projection_table(self) -> list[torch.Tensor]:
        """Every word's embedding times every filter column: one ``(vocab, num_filters)``
        table per (window width k, offset j), ``E @ W_k[:, :, j].T``.

        With frozen weights (inference), a window's convolution is a sum of ``k`` rows of
        these tables, so prediction costs lookups and additions instead of a convolution:
        ~100x fewer FLOPs per sentence. Separate tables keep each gather cache-sized.
        """
        emb = self.embedder.embed.weight
        if self.embedder.static_embed is not None:
            emb = emb + self.embedder.static_embed
        return [block.contiguous() for block in torch.split(self.project(emb), self.layers[0].out_channels, dim=1)]

    def logits_from_table(self, tables: list[torch.Tensor], ids: torch.Tensor, lengths: torch.Tensor) -> torch.Tensor:
        """Eval-mode logits ``(batch, classes)`` from :meth:`projection_table` (same values
        as ``forward`` up to float rounding)."""
        pooled, p, time_steps = [], 0, ids.shape[1]
        for conv in self.layers:
            k = conv.kernel_size[0]
            steps = time_steps - k + 1
            h = nn.functional.embedding(ids[:, 0:steps], tables[p]) + _bias(conv)  # (batch, steps, filters)
            for j in range(1, k):
                h += nn.functional.embedding(ids[:, j : j + steps], tables[p + j])
            p += k
            h = torch.relu_(h)
            h = h.masked_fill_(self._past_end(steps, lengths)[:, :, None], 0.0)
            pooled.append(h.amax(dim=1))
        logits: torch.Tensor = self.out(torch.cat(pooled, dim=1))
        return logits


class TextRNN(nn.Module):
    """A one-layer LSTM or GRU (optionally bidirectional) over packed sequences, its
    outputs max-pooled over the true time steps, dropout, a linear layer."""

    def __init__(
        self, vocab_size: int, num_classes: int, config: ClassifierConfig, init: torch.Tensor | None = None
    ) -> None:
        super().__init__()
        self.embedder = Embedder(vocab_size, config, init)
        cell = nn.LSTM if config.arch == "lstm" else nn.GRU
        self.rnn = cell(config.dim, config.hidden, batch_first=True, bidirectional=config.bidirectional)
        self.dropout = nn.Dropout(config.dropout)
        self.out = nn.Linear(config.hidden * (2 if config.bidirectional else 1), num_classes)
        self.min_length = 1

    def forward(self, ids: torch.Tensor, lengths: torch.Tensor | None = None) -> torch.Tensor:
        """``ids`` ``(batch, time)``, ``lengths`` ``(batch,)`` (>= 1) -> logits."""
        if lengths is None:
            lengths = (ids != PAD).sum(dim=1).clamp(min=1)
        x = self.dropout(self.embedder(ids))
        packed = pack_padded_sequence(x, lengths.cpu(), batch_first=True, enforce_sorted=False)
        out, _ = self.rnn(packed)
        out, _ = pad_packed_sequence(out, batch_first=True, padding_value=float("-inf"), total_length=ids.shape[1])
        logits: torch.Tensor = self.out(self.dropout(out.amax(dim=1)))
        return logits


Model = TextCNN | TextRNN


def _bias(conv: nn.Conv1d) -> torch.Tensor:
    """A convolution's bias (TextCNN's layers are built with one)."""
    assert conv.bias is not None
    return conv.bias


def build_model(vocab_size: int, num_classes: int, config: ClassifierConfig, init: torch.Tensor | None = None) -> Model:
    """The model ``config.arch`` names; ``init`` ``(vocab_size, dim)`` seeds the embeddings."""
    if config.arch == "cnn":
        return TextCNN(vocab_size, num_classes, config, init)
    return TextRNN(vocab_size, num_classes, config, init)
