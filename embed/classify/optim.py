"""Optimizers for embedding tables whose gradients are sparse (rows of the batch's words).

A dense Adadelta step over a 20,000 x 300 embedding table costs more than the whole
CNN forward pass on CPU. :class:`RowAdadelta` updates only the rows a batch touched and
is *exactly* dense Adadelta: a row with zero gradient only decays its two accumulators
by ``rho`` per step (its update is ``0``), so those missed steps are applied as
``rho ** gap`` when the row is next touched.
"""

from __future__ import annotations

import torch


class RowAdadelta:
    """Adadelta (Zeiler 2012, as ``torch.optim.Adadelta`` without weight decay) for one
    parameter ``(rows, dim)`` receiving sparse row gradients.

    Call :meth:`step` after ``backward()``; :meth:`zero_grad` before the next.
    """

    def __init__(self, param: torch.Tensor, lr: float = 1.0, rho: float = 0.95, eps: float = 1e-6) -> None:
        self.param, self.lr, self.rho, self.eps = param, lr, rho, eps
        self.square_avg = torch.zeros_like(param, memory_format=torch.contiguous_format)
        self.acc_delta = torch.zeros_like(param, memory_format=torch.contiguous_format)
        self.last = torch.zeros(param.shape[0], dtype=torch.long)
        self.t = 0

    def zero_grad(self) -> None:
        self.param.grad = None

    @torch.no_grad()
    def step(self) -> None:
        self.t += 1
        grad = self.param.grad
        if grad is None:
            return
        if grad.is_sparse:
            grad = grad.coalesce()
            idx, g = grad.indices()[0], grad.values()
        else:  # a dense gradient: treat the rows it touches as the batch's rows
            idx = grad.abs().sum(dim=1).nonzero().squeeze(1)
            g = grad[idx]
        rho, eps = self.rho, self.eps
        decay = torch.pow(
            torch.full((len(idx),), rho, dtype=g.dtype), (self.t - 1 - self.last[idx]).to(g.dtype)
        ).unsqueeze(1)
        sq = self.square_avg[idx].mul_(decay).mul_(rho).addcmul_(g, g, value=1 - rho)
        acc = self.acc_delta[idx].mul_(decay)
        delta = acc.add(eps).sqrt_().div_(sq.add(eps).sqrt_()).mul_(g)
        acc.mul_(rho).addcmul_(delta, delta, value=1 - rho)
        self.square_avg[idx] = sq
        self.acc_delta[idx] = acc
        self.param.index_add_(0, idx, delta, alpha=-self.lr)
        self.last[idx] = self.t
