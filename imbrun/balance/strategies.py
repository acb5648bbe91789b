"""Builders for each `balance.kind`: (cfg, train labels, class names) -> BalancePlan."""

from __future__ import annotations

import numpy as np
import torch

from imbrun.balance.losses import FocalLoss, WeightedCrossEntropy
from imbrun.balance.plan import BalancePlan
from imbrun.balance.sampling import WeightedSampler
from imbrun.balance.weights import class_weights, sampling_weights
from imbrun.errors import ImbrunError


def _counts(y: np.ndarray, class_names: list[str]) -> np.ndarray:
    return np.bincount(y, minlength=len(class_names))


def build_none(cfg, y: np.ndarray, class_names: list[str]) -> BalancePlan:
    return BalancePlan(WeightedCrossEntropy(None), record={"strategy": "none"})


def build_class_weight(cfg, y: np.ndarray, class_names: list[str]) -> BalancePlan:
    weights = class_weights(_counts(y, class_names), cfg.scheme, beta=cfg.beta, manual=cfg.weights,
                            class_names=class_names)
    return BalancePlan(WeightedCrossEntropy(torch.as_tensor(weights, dtype=torch.float32)),
                       record={"strategy": "class_weight", "scheme": cfg.scheme,
                               "class_weights": _by_name(weights, class_names)})


def build_weighted_sampler(cfg, y: np.ndarray, class_names: list[str]) -> BalancePlan:
    weights = sampling_weights(y, cfg.scheme, cfg.target, n_classes=len(class_names), class_names=class_names)
    sampler = WeightedSampler(weights, y, len(class_names), cfg.epoch_size)
    expected = np.bincount(y, weights=weights, minlength=len(class_names)) / weights.sum()
    return BalancePlan(WeightedCrossEntropy(None), sampler,
                       record={"strategy": "weighted_sampler", "scheme": cfg.scheme,
                               "epoch_size": sampler.epoch_size,
                               "expected_class_distribution": _by_name(expected, class_names)})


def build_focal(cfg, y: np.ndarray, class_names: list[str]) -> BalancePlan:
    alpha = cfg.alpha
    if alpha == "class_weight":
        alpha = class_weights(_counts(y, class_names), "inverse").tolist()
    if isinstance(alpha, list) and len(alpha) != len(class_names):
        raise ImbrunError(f"balance.alpha: expected {len(class_names)} values (one per class {class_names}), "
                          f"got {len(alpha)}")
    return BalancePlan(FocalLoss(gamma=cfg.gamma, alpha=alpha, n_classes=len(class_names)),
                       record={"strategy": "focal", "gamma": cfg.gamma, "alpha": alpha})


def _by_name(values, class_names: list[str]) -> dict[str, float]:
    return {name: float(v) for name, v in zip(class_names, values)}
