"""Imbalance-aware losses: each is called as loss_fn(logits, targets) -> scalar mean over the batch.

logits: (batch, n_classes) float; targets: (batch,) int64 class codes. Per-class tensors are buffers,
so `.to(device)` and `state_dict()` carry them.
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np
import torch
import torch.nn.functional as F
from torch import nn

from imbrun.balance.weights import checked_counts, class_weights, ldam_margins, log_priors
from imbrun.errors import ImbrunError


def _as_buffer(values) -> torch.Tensor:
    """Per-class values as a float32 (n_classes,) tensor."""
    return torch.as_tensor(np.asarray(values, dtype=np.float32))


class WeightedCrossEntropy(nn.Module):
    """Cross-entropy with optional per-class weights: sum_i w_{y_i} * CE_i / sum_i w_{y_i} (torch's mean)."""

    def __init__(self, weight: torch.Tensor | Sequence[float] | None = None):
        super().__init__()
        self.register_buffer("weight", None if weight is None else _as_buffer(weight))

    def forward(self, logits: torch.Tensor, targets: torch.Tensor) -> torch.Tensor:
        return F.cross_entropy(logits, targets, weight=self.weight)


class FocalLoss(nn.Module):
    """Softmax focal loss (Lin et al. 2017): mean_i of -alpha_{y_i} * (1 - p_{y_i})**gamma * log p_{y_i}.

    alpha: None -> 1 for every class; a sequence -> one weight per class; a float -> binary only,
    alpha for class 1 and 1 - alpha for class 0 (as in the paper). With more than two classes a float
    alpha has no per-class meaning, so it is refused (when built if `n_classes` is given, else at the
    first batch): give a list. Unlike WeightedCrossEntropy, the mean divides by the batch size, not by
    the sum of the weights.
    """

    def __init__(self, gamma: float = 2.0, alpha: float | Sequence[float] | None = None,
                 n_classes: int | None = None):
        super().__init__()
        if gamma < 0:
            raise ImbrunError(f"focal loss gamma must be >= 0, got {gamma}")
        self.gamma = float(gamma)
        self.scalar_alpha = float(alpha) if isinstance(alpha, (int, float)) else None
        if self.scalar_alpha is not None and not 0.0 <= self.scalar_alpha <= 1.0:
            raise ImbrunError(f"focal loss alpha as a number must be in [0, 1], got {alpha}")
        if self.scalar_alpha is not None:
            alpha = [1.0 - self.scalar_alpha, self.scalar_alpha]
        self.register_buffer("alpha", None if alpha is None else _as_buffer(alpha))
        if n_classes is not None and alpha is not None:
            self._check_alpha(n_classes)  # fail at build time rather than at the first batch

    def forward(self, logits: torch.Tensor, targets: torch.Tensor) -> torch.Tensor:
        log_pt = F.log_softmax(logits, dim=1).gather(1, targets[:, None]).squeeze(1)  # (batch,)
        # 1 - p via expm1 keeps precision near p = 1; the clamp keeps the gradient finite there for gamma < 1
        focus = (-torch.expm1(log_pt)).clamp(min=1e-12) ** self.gamma
        loss = -focus * log_pt
        if self.alpha is not None:
            self._check_alpha(logits.shape[1])
            loss = loss * self.alpha[targets]
        return loss.mean()

    def _check_alpha(self, n_classes: int) -> None:
        """Refuse an alpha whose length does not match the number of classes."""
        if self.alpha.numel() == n_classes:
            return
        if self.scalar_alpha is not None:
            raise ImbrunError(f"focal loss alpha {self.scalar_alpha} as a number is only defined for "
                              f"2 classes, got {n_classes}; give one alpha per class instead")
        raise ImbrunError(f"focal loss alpha has {self.alpha.numel()} values for {n_classes} classes")


class LDAMLoss(nn.Module):
    """Label-distribution-aware margin loss with optional deferred re-weighting (Cao et al. 2019).

    loss = CE(s * (z - m_y * onehot(y)), y, weight=w), m_k = ldam_margins(counts, max_m).
    w = 1 for every class before epoch `drw_epoch`, and class_weights(counts, "effective_number",
    beta=drw_beta) from it on; `on_epoch_start(epoch)` switches, `self.weight` holds the current w.
    """

    def __init__(self, counts: Sequence[int], max_m: float = 0.5, s: float = 30.0,
                 drw_epoch: int | None = None, drw_beta: float = 0.9999):
        super().__init__()
        if max_m <= 0 or s <= 0:
            raise ImbrunError(f"LDAM max_m and s must be > 0, got max_m={max_m}, s={s}")
        self.s = float(s)
        self.drw_epoch = drw_epoch
        self.register_buffer("margins", _as_buffer(ldam_margins(counts, max_m)))
        drw_weights = class_weights(counts, "effective_number", beta=drw_beta)
        self.register_buffer("drw_weights", _as_buffer(drw_weights))
        self.register_buffer("weight", torch.ones(len(counts)))

    def on_epoch_start(self, epoch: int) -> None:
        """Use the effective-number weights from epoch `drw_epoch` on, weight 1 before."""
        active = self.drw_epoch is not None and epoch >= self.drw_epoch
        self.weight.copy_(self.drw_weights if active else torch.ones_like(self.weight))

    def forward(self, logits: torch.Tensor, targets: torch.Tensor) -> torch.Tensor:
        margin = self.margins[targets].to(logits.dtype)  # (batch,) m_y of each row
        # only the true-class logit moves: (batch, n_classes)
        adjusted = logits - F.one_hot(targets, logits.shape[1]) * margin[:, None]
        return F.cross_entropy(self.s * adjusted, targets, weight=self.weight)


class LogitAdjustedLoss(nn.Module):
    """Logit-adjusted cross-entropy (Menon et al. 2021): CE(z + tau * log prior, y)."""

    def __init__(self, counts: Sequence[int], tau: float = 1.0):
        super().__init__()
        self.tau = float(tau)
        self.register_buffer("shift", _as_buffer(self.tau * log_priors(counts)))

    def forward(self, logits: torch.Tensor, targets: torch.Tensor) -> torch.Tensor:
        return F.cross_entropy(logits + self.shift, targets)


class BalancedSoftmaxLoss(nn.Module):
    """Balanced softmax (Ren et al. 2020): CE(z + log n_k, y); equals LogitAdjustedLoss with tau = 1."""

    def __init__(self, counts: Sequence[int]):
        super().__init__()
        self.register_buffer("log_counts", _as_buffer(np.log(checked_counts(counts))))

    def forward(self, logits: torch.Tensor, targets: torch.Tensor) -> torch.Tensor:
        return F.cross_entropy(logits + self.log_counts, targets)
