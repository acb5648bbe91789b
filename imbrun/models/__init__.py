"""Architectures: MODELS maps `model.kind` to a class built as Cls(cfg, input_shape, n_classes)."""

from torch import nn

from imbrun.models.cnn1d import Cnn1d
from imbrun.models.dense import Dense
from imbrun.models.lstm import Lstm

MODELS: dict[str, type[nn.Module]] = {"dense": Dense, "cnn1d": Cnn1d, "lstm": Lstm}


def build_model(cfg, input_shape: tuple[int, ...], n_classes: int) -> nn.Module:
    """Instantiate the architecture named by `cfg.kind` for inputs of `input_shape` (without the batch axis)."""
    return MODELS[cfg.kind](cfg, tuple(input_shape), n_classes)
