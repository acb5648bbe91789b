"""Strategies that act through the loader: each epoch's rows drawn with replacement by per-sample weights."""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np
import torch


class WeightedSampler:
    """Draws `epoch_size` row indices per epoch with probability proportional to `weights`.

    Records the class counts it actually drew, per epoch: `drawn` holds them by class code (the checkpoint form),
    per_epoch() by class name (balance.json). class_names None: the codes as text ('0', '1', ...).
    """

    def __init__(self, weights: np.ndarray, labels: np.ndarray, n_classes: int, epoch_size: int | None = None,
                 class_names: Sequence[str] | None = None):
        self.weights = torch.as_tensor(weights, dtype=torch.float64)
        self.labels = torch.as_tensor(labels)
        self.n_classes = n_classes
        self.epoch_size = epoch_size or len(labels)
        self.class_names = list(class_names) if class_names is not None else [str(k) for k in range(n_classes)]
        self.drawn: list[list[int]] = []

    def __call__(self, generator: torch.Generator) -> torch.Tensor:
        order = torch.multinomial(self.weights, self.epoch_size, replacement=True, generator=generator)
        self.drawn.append(torch.bincount(self.labels[order], minlength=self.n_classes).tolist())
        return order

    def per_epoch(self) -> list[dict[str, int]]:
        """The class counts drawn in each epoch so far, by class name: [{'a': 105, 'b': 111}, ...]."""
        return [dict(zip(self.class_names, counts)) for counts in self.drawn]

    def state_dict(self) -> dict:
        return {"drawn": [list(counts) for counts in self.drawn]}

    def load_state_dict(self, state: dict) -> None:
        self.drawn = [list(counts) for counts in state["drawn"]]
