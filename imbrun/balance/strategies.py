"""Builders for each `balance.kind`: (cfg, train labels, class names) -> BalancePlan."""

from __future__ import annotations

import numpy as np
import torch

from imbrun.balance.losses import BalancedSoftmaxLoss, FocalLoss, LDAMLoss, LogitAdjustedLoss, WeightedCrossEntropy
from imbrun.balance.plan import BalancePlan
from imbrun.balance.procedures import OffsetAdjustment
from imbrun.balance.sampling import WeightedSampler
from imbrun.balance.weights import class_weights, ldam_margins, log_priors, sampling_weights
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
    sampler = WeightedSampler(weights, y, len(class_names), cfg.epoch_size, class_names=class_names)
    expected = np.bincount(y, weights=weights, minlength=len(class_names)) / weights.sum()
    return BalancePlan(WeightedCrossEntropy(None), sampler,
                       record={"strategy": "weighted_sampler", "scheme": cfg.scheme,
                               "epoch_size": sampler.epoch_size,
                               "expected_class_distribution": _by_name(expected, class_names)})


def build_focal(cfg, y: np.ndarray, class_names: list[str]) -> BalancePlan:
    alpha = cfg.alpha
    if alpha == "class_weight":  # class-balanced focal loss
        alpha = class_weights(_counts(y, class_names), cfg.alpha_scheme, beta=cfg.beta).tolist()
    elif isinstance(alpha, dict):
        alpha = class_weights(_counts(y, class_names), "manual", manual=alpha, class_names=class_names).tolist()
    if isinstance(alpha, list) and len(alpha) != len(class_names):
        raise ImbrunError(f"balance.alpha: expected {len(class_names)} values (one per class {class_names}), "
                          f"got {len(alpha)}")
    return BalancePlan(FocalLoss(gamma=cfg.gamma, alpha=alpha, n_classes=len(class_names)),
                       record={"strategy": "focal", "gamma": cfg.gamma,
                               "alpha": _by_name(alpha, class_names) if isinstance(alpha, list) else alpha})


def build_ldam_drw(cfg, y: np.ndarray, class_names: list[str]) -> BalancePlan:
    counts = _counts(y, class_names)
    loss = LDAMLoss(counts, max_m=cfg.max_m, s=cfg.s, drw_epoch=cfg.drw_epoch, drw_beta=cfg.beta)
    return BalancePlan(loss, record={"strategy": "ldam_drw", "s": cfg.s, "drw_epoch": cfg.drw_epoch,
                                     "margins": _by_name(ldam_margins(counts, cfg.max_m), class_names),
                                     "drw_class_weights": _by_name(loss.drw_weights.tolist(), class_names)})


def build_logit_adjust(cfg, y: np.ndarray, class_names: list[str]) -> BalancePlan:
    counts = _counts(y, class_names)
    shift = cfg.tau * log_priors(counts)  # (n_classes,) tau * log(n_k / n)
    record = {"strategy": "logit_adjust", "tau": cfg.tau, "posthoc": cfg.posthoc,
              "logit_shift": _by_name(shift if not cfg.posthoc else -shift, class_names)}
    if cfg.posthoc:  # plain CE in training; z - tau * log prior at prediction
        return BalancePlan(None, record=record, adjust=OffsetAdjustment.fixed(-shift))
    return BalancePlan(LogitAdjustedLoss(counts, cfg.tau), record=record)


def build_balanced_softmax(cfg, y: np.ndarray, class_names: list[str]) -> BalancePlan:
    counts = _counts(y, class_names)
    return BalancePlan(BalancedSoftmaxLoss(counts),
                       record={"strategy": "balanced_softmax", "logit_shift": _by_name(np.log(counts), class_names)})


def _by_name(values, class_names: list[str]) -> dict[str, float]:
    return {name: float(v) for name, v in zip(class_names, values)}
