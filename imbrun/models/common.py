"""Pieces shared by the architectures: activations and the dense head."""

from torch import nn

ACTIVATIONS = {
    "relu": nn.ReLU, "gelu": nn.GELU, "tanh": nn.Tanh, "elu": nn.ELU,
    "leaky_relu": nn.LeakyReLU, "selu": nn.SELU, "sigmoid": nn.Sigmoid,
}


def dense_stack(in_features: int, hidden: list[int], n_classes: int, activation: str, dropout: float,
                batch_norm: bool = False) -> nn.Sequential:
    """Linear -> [BatchNorm] -> activation -> [Dropout] per hidden size, then a Linear to the class logits."""
    layers: list[nn.Module] = []
    for width in hidden:
        layers.append(nn.Linear(in_features, width))
        if batch_norm:
            layers.append(nn.BatchNorm1d(width))
        layers.append(ACTIVATIONS[activation]())
        if dropout > 0:
            layers.append(nn.Dropout(dropout))
        in_features = width
    layers.append(nn.Linear(in_features, n_classes))
    return nn.Sequential(*layers)


def as_series(shape: tuple[int, ...]) -> tuple[int, int]:
    """(timesteps, channels) of an input shape; a flat row of features is read as (features, 1)."""
    return (shape[0], 1) if len(shape) == 1 else (shape[0], shape[1])
