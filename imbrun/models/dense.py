"""`model.kind: dense` — a multi-layer perceptron on flattened inputs."""

import math

import torch
from torch import nn

from imbrun.config.model import DenseModel
from imbrun.models.common import dense_stack


class Dense(nn.Module):
    """(batch, *input_shape) -> (batch, n_classes) logits."""

    def __init__(self, cfg: DenseModel, input_shape: tuple[int, ...], n_classes: int):
        super().__init__()
        self.net = dense_stack(math.prod(input_shape), cfg.hidden, n_classes, cfg.activation, cfg.dropout,
                               cfg.batch_norm)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.net(x.flatten(1))
