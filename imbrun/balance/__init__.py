"""Balancing strategies, registered by `balance.kind`; each builds a BalancePlan from the training labels.

Where each acts: the loss (strategies.py), the loader (sampling.py), the training arrays (resample.py), the
procedure (procedures.py, cascade.py). A list of strategies combines one per role (config/balance.py checks it).
"""

from collections.abc import Callable

import numpy as np

from imbrun.balance.cascade import Cascade
from imbrun.balance.losses import WeightedCrossEntropy
from imbrun.balance.plan import BalancePlan, TrainJob
from imbrun.balance.predictors import predictor_from_spec
from imbrun.balance.procedures import ClassifierRetraining, OffsetAdjustment
from imbrun.balance.resample import build_resample
from imbrun.balance.strategies import (build_balanced_softmax, build_class_weight, build_focal, build_ldam_drw,
                                       build_logit_adjust, build_none, build_weighted_sampler)
from imbrun.config.balance import strategy_items
from imbrun.config.balance_combine import roles


def build_crt(cfg, y: np.ndarray, class_names: list[str]) -> BalancePlan:
    return BalancePlan(None, record={"strategy": "crt"}, procedure=ClassifierRetraining(cfg, y, class_names))


def build_threshold(cfg, y: np.ndarray, class_names: list[str]) -> BalancePlan:
    return BalancePlan(None, record={"strategy": "threshold", "metric": cfg.metric},
                       adjust=OffsetAdjustment.tuned(cfg.metric, class_names))


def build_cascade(cfg, y: np.ndarray, class_names: list[str]) -> BalancePlan:
    """Stages train with plain CE unless build_plan hands them the loss/sampler strategies listed beside it."""
    procedure = Cascade(cfg, y, class_names, stage_plan=lambda y_stage, names: combine([]))
    return BalancePlan(None, record={"strategy": "cascade", "share": cfg.share, "ratio": cfg.ratio},
                       procedure=procedure)


STRATEGIES: dict[str, Callable[..., BalancePlan]] = {
    "none": build_none,
    "class_weight": build_class_weight,
    "focal": build_focal,
    "ldam_drw": build_ldam_drw,
    "logit_adjust": build_logit_adjust,
    "balanced_softmax": build_balanced_softmax,
    "weighted_sampler": build_weighted_sampler,
    **{kind: build_resample for kind in ("oversample", "undersample", "smote", "borderline_smote", "adasyn",
                                         "tomek", "enn", "smote_tomek", "smote_enn")},
    "cascade": build_cascade,
    "crt": build_crt,
    "threshold": build_threshold,
}


def build_plan(cfg, y_train: np.ndarray, class_names: list[str], X_train: np.ndarray | None = None,
               seed: int = 0) -> BalancePlan:
    """The plan of `cfg` (one strategy or a list), fitted to the training split only.

    With X_train, an array strategy resamples (X_train, y_train) first and the other strategies are fitted to the
    resampled labels; plan.train_arrays holds what the model trains on.
    Example: plan = build_plan(cfg.balance, y_train, class_names, X_train, seed=0); X, y = plan.train_arrays
    """
    items = strategy_items(cfg)
    plans: dict[int, BalancePlan] = {}
    X_fit, y_fit, resampling = X_train, y_train, None
    for i, item in enumerate(items):
        if "arrays" in roles(item):
            plans[i] = STRATEGIES[item.kind](item, y_train, class_names)
            if X_train is not None:
                X_fit, y_fit, resampling = plans[i].resampler(X_fit, y_fit, seed)
    for i, item in enumerate(items):
        if i not in plans:
            plans[i] = STRATEGIES[item.kind](item, y_fit, class_names)
    plan = combine([plans[i] for i in range(len(items))])
    if resampling is not None:
        plan.record["resampling"] = resampling
    plan.train_arrays = (X_fit, y_fit)
    if isinstance(plan.procedure, Cascade):  # each stage gets the loss/sampler strategies, fitted to its labels
        per_stage = [item for item in items if set(roles(item)) <= {"loss", "sampler"}]
        plan.procedure.stage_plan = lambda y_stage, names: combine(
            [STRATEGIES[item.kind](item, y_stage, names) for item in per_stage])
        plan.sampler = None  # the stages draw with their own samplers (recorded per stage)
    return plan


def combine(plans: list[BalancePlan]) -> BalancePlan:
    """One plan from the plans of a valid combination (at most one of each part); plain CE if none sets the loss."""
    def first(attr):
        return next((getattr(p, attr) for p in plans if getattr(p, attr) is not None), None)

    if len(plans) == 1:
        record = dict(plans[0].record)
    else:
        record = {"strategy": "+".join(p.record["strategy"] for p in plans) or "none",
                  "parts": [p.record for p in plans]}
    loss = first("loss")
    return BalancePlan(WeightedCrossEntropy(None) if loss is None else loss, first("sampler"), record,
                       first("resampler"), first("procedure"), first("adjust"))


__all__ = ["STRATEGIES", "BalancePlan", "TrainJob", "build_plan", "combine", "predictor_from_spec"]
