"""Strategies that act through the loader: each epoch's rows drawn with replacement by per-sample weights."""

from __future__ import annotations

import numpy as np
import torch


class WeightedSampler:
    """Draws `epoch_size` row indices per epoch with probability proportional to `weights`.

    Records the class counts it actually drew, per epoch, for balance.json.
    """

    def __init__(self, weights: np.ndarray, labels: np.ndarray, n_classes: int, epoch_size: int | None = None):
        self.weights = torch.as_tensor(weights, dtype=torch.float64)
        self.labels = torch.as_tensor(labels)
        self.n_classes = n_classes
        self.epoch_size = epoch_size or len(labels)
        self.drawn: list[list[int]] = []

    def __call__(self, generator: torch.Generator) -> torch.Tensor:
        order = torch.multinomial(self.weights, self.epoch_size, replacement=True, generator=generator)
        self.drawn.append(torch.bincount(self.labels[order], minlength=self.n_classes).tolist())
        return order

    def state_dict(self) -> dict:
        return {"drawn": [list(counts) for counts in self.drawn]}

    def load_state_dict(self, state: dict) -> None:
        self.drawn = [list(counts) for counts in state["drawn"]]
