"""Balancing strategies, registered by `balance.kind`; each builds a BalancePlan from the training labels."""

from collections.abc import Callable

import numpy as np

from imbrun.balance.plan import BalancePlan
from imbrun.balance.strategies import build_class_weight, build_focal, build_none, build_weighted_sampler

STRATEGIES: dict[str, Callable[..., BalancePlan]] = {
    "none": build_none,
    "class_weight": build_class_weight,
    "weighted_sampler": build_weighted_sampler,
    "focal": build_focal,
}


def build_plan(cfg, y_train: np.ndarray, class_names: list[str]) -> BalancePlan:
    """The plan of the strategy named by `cfg.kind`, fitted to the training labels only."""
    return STRATEGIES[cfg.kind](cfg, y_train, class_names)
