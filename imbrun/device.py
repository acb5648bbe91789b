"""Device choice, thread count and seeding: the knobs that decide speed and reproducibility."""

from __future__ import annotations

import random

import numpy as np
import torch

from imbrun.errors import ImbrunError


def resolve_device(name: str, threads: int | None = None) -> torch.device:
    """`auto` picks CUDA when available; asking for CUDA without it is a clear error."""
    if threads:
        torch.set_num_threads(threads)
    if name == "auto":
        return torch.device("cuda" if torch.cuda.is_available() else "cpu")
    if name == "cuda" and not torch.cuda.is_available():
        raise ImbrunError("train.device: 'cuda' was asked for but no CUDA device is available (use auto or cpu)")
    return torch.device(name)


def seed_everything(seed: int) -> None:
    """Seed Python, numpy and torch; on CPU the same seed and thread count give identical runs."""
    random.seed(seed)
    np.random.seed(seed % (2**32))
    torch.manual_seed(seed)
