"""`model.kind: lstm` — an LSTM or GRU encoder whose last hidden state feeds a dense head."""

import torch
from torch import nn

from imbrun.config.model import LstmModel
from imbrun.models.common import as_series, dense_stack


class Lstm(nn.Module):
    """(batch, timesteps, channels) -> (batch, n_classes)."""

    def __init__(self, cfg: LstmModel, input_shape: tuple[int, ...], n_classes: int):
        super().__init__()
        _, channels = as_series(input_shape)
        rnn = nn.LSTM if cfg.cell == "lstm" else nn.GRU
        self.rnn = rnn(channels, cfg.hidden_size, num_layers=cfg.num_layers, batch_first=True,
                       bidirectional=cfg.bidirectional, dropout=cfg.dropout if cfg.num_layers > 1 else 0.0)
        directions = 2 if cfg.bidirectional else 1
        self.head = dense_stack(cfg.hidden_size * directions, cfg.hidden, n_classes, cfg.activation, cfg.dropout)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        if x.dim() == 2:
            x = x.unsqueeze(-1)  # (batch, features) -> (batch, features, 1)
        _, state = self.rnn(x)
        hidden = state[0] if isinstance(state, tuple) else state  # (layers * directions, batch, hidden)
        if self.rnn.bidirectional:
            last = torch.cat([hidden[-2], hidden[-1]], dim=1)
        else:
            last = hidden[-1]
        return self.head(last)
