"""The `model` section: one schema per architecture, chosen by `kind`."""

from typing import Literal

from pydantic import Field

from imbrun.config.base import Section

Activation = Literal["relu", "gelu", "tanh", "elu", "leaky_relu", "selu", "sigmoid"]


class DenseModel(Section):
    """A multi-layer perceptron; sequence inputs are flattened."""

    kind: Literal["dense"] = "dense"
    hidden: list[int] = [128, 64]
    dropout: float = Field(0.0, ge=0.0, lt=1.0)
    activation: Activation = "relu"
    batch_norm: bool = False


class Cnn1dModel(Section):
    """Conv1d blocks + pooling + a dense head; tabular rows are read as (features, 1) series."""

    kind: Literal["cnn1d"] = "cnn1d"
    channels: list[int] = [32, 32]
    kernel_size: int = Field(5, ge=1)
    pool: int = Field(2, ge=1)
    pool_after: Literal["each", "last"] = "last"
    hidden: list[int] = [128, 64]
    dropout: float = Field(0.0, ge=0.0, lt=1.0)
    activation: Activation = "relu"


class LstmModel(Section):
    """A recurrent encoder (LSTM or GRU) whose last state feeds a dense head."""

    kind: Literal["lstm"] = "lstm"
    cell: Literal["lstm", "gru"] = "lstm"
    hidden_size: int = Field(64, ge=1)
    num_layers: int = Field(1, ge=1)
    bidirectional: bool = False
    hidden: list[int] = []
    dropout: float = Field(0.0, ge=0.0, lt=1.0)
    activation: Activation = "relu"
