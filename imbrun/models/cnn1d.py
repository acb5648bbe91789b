"""`model.kind: cnn1d` — Conv1d blocks, max pooling and a dense head."""

import torch
from torch import nn

from imbrun.config.model import Cnn1dModel
from imbrun.errors import ImbrunError
from imbrun.models.common import ACTIVATIONS, as_series, dense_stack
from imbrun.models.conv_fast import conv_stack_channels_last


class Cnn1d(nn.Module):
    """(batch, timesteps, channels) -> (batch, n_classes); 'same' padding keeps the length until pooling."""

    def __init__(self, cfg: Cnn1dModel, input_shape: tuple[int, ...], n_classes: int):
        super().__init__()
        steps, channels = as_series(input_shape)
        pools = 0 if cfg.pool == 1 or not cfg.channels else len(cfg.channels) if cfg.pool_after == "each" else 1
        if steps < cfg.pool ** pools:  # each pooling layer divides the time axis by `pool`
            raise ImbrunError(f"model: cnn1d with {pools} pooling layer(s) of size {cfg.pool} needs inputs of at "
                              f"least {cfg.pool ** pools} time steps, the data has shape {tuple(input_shape)} "
                              f"({steps} time steps); lower model.pool")
        layers: list[nn.Module] = []
        for i, width in enumerate(cfg.channels):
            layers += [nn.Conv1d(channels, width, cfg.kernel_size, padding=cfg.kernel_size // 2),
                       ACTIVATIONS[cfg.activation]()]
            last = i == len(cfg.channels) - 1
            if cfg.pool > 1 and (cfg.pool_after == "each" or last):
                layers.append(nn.MaxPool1d(cfg.pool))
                steps //= cfg.pool
            channels = width
        self.features = nn.Sequential(*layers)
        self.head = dense_stack(channels * steps, cfg.hidden, n_classes, cfg.activation, cfg.dropout)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        if x.dim() == 2:
            x = x.unsqueeze(-1)  # (batch, features) -> (batch, features, 1)
        # == self.features(x.transpose(1, 2)).flatten(1), without oneDNN's layout reorders (see conv_fast)
        return self.head(conv_stack_channels_last(self.features, x))
