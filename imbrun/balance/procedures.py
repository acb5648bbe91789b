"""Training procedures (one model; classifier re-training) and post-training offsets (thresholds, logit adjustment).

A procedure has train(job, plan) -> (predictor, FitResult), spec() for model.json and record() for balance.json.
Each calls the plain fit() loop; none adds a branch inside it.
"""

from __future__ import annotations

import numpy as np
import torch
from torch import nn

from imbrun.balance.losses import WeightedCrossEntropy
from imbrun.balance.posthoc import tune_thresholds
from imbrun.balance.predictors import OffsetModel
from imbrun.balance.sampling import WeightedSampler
from imbrun.balance.weights import sampling_weights
from imbrun.train import FitResult, fit, predict_logits, predict_proba


class SingleModel:
    """The default: the job's model trained once by fit() with the plan's loss and sampler."""

    def train(self, job, plan) -> tuple[nn.Module, FitResult]:
        loss = plan.loss if plan.loss is not None else WeightedCrossEntropy(None)
        result = fit(job.model, job.train, job.val, loss, job.cfg, seed=job.seed, device=job.device,
                     draw_epoch=plan.sampler, on_epoch=job.on_epoch, on_val_pred=job.on_val_pred,
                     stop_requested=job.stop_requested, resume=job.resume)
        return job.model, result

    def spec(self) -> dict:
        return {"kind": "single"}

    def record(self) -> dict:
        return {}


def last_linear(model: nn.Module) -> nn.Linear:
    """The last nn.Linear registered: the output layer (the classifier head) of every model in imbrun.models."""
    linears = [m for m in model.modules() if isinstance(m, nn.Linear)]
    return linears[-1]


def head_inputs(model: nn.Module, head: nn.Linear, X: np.ndarray, batch_size: int,
                device: torch.device) -> np.ndarray:
    """What `head` receives for each row of X in eval mode: (n, head.in_features) float32."""
    captured: list[torch.Tensor] = []
    hook = head.register_forward_pre_hook(lambda module, args: captured.append(args[0].detach().cpu()))
    try:
        predict_logits(model, X, batch_size, device)
    finally:
        hook.remove()
    return torch.cat(captured).numpy() if captured else np.zeros((0, head.in_features), np.float32)


class ClassifierRetraining:
    """cRT (Kang et al. 2020): phase 1 trains the whole model with plain shuffling; phase 2 re-trains only the last
    Linear (re-initialised unless reset_head is False) on the frozen features, with class-balanced sampling."""

    def __init__(self, cfg, y: np.ndarray, class_names: list[str]):
        self.cfg = cfg
        weights = sampling_weights(y, "inverse", n_classes=len(class_names), class_names=class_names)
        self.sampler = WeightedSampler(weights, y, len(class_names), class_names=class_names)

    def train(self, job, plan) -> tuple[nn.Module, FitResult]:
        model, first = SingleModel().train(job, plan)
        second = self.retrain_head(model, job, plan.loss)
        for row in first.history:
            row["phase"] = 1
        for row in second.history:
            row.update(epoch=row["epoch"] + len(first.history), phase=2)
        return model, FitResult(first.history + second.history, len(first.history) + second.best_epoch,
                                first.stopped_early or second.stopped_early)

    def retrain_head(self, model: nn.Module, job, loss: nn.Module | None) -> FitResult:
        """Phase 2: only the head's weights change (the features are computed once, with the body in eval mode)."""
        head = last_linear(model)
        batch = job.cfg.eval_batch_size
        features = head_inputs(model, head, job.train[0], batch, job.device)  # (n_train, head.in_features)
        features_val = head_inputs(model, head, job.val[0], batch, job.device)
        if self.cfg.reset_head:
            head.reset_parameters()
        cfg = job.cfg.model_copy(update={"epochs": self.cfg.epochs, "lr": self.cfg.lr or job.cfg.lr})
        return fit(head, (features, job.train[1]), (features_val, job.val[1]),
                   loss if loss is not None else WeightedCrossEntropy(None), cfg, seed=job.seed + 1,
                   device=job.device, draw_epoch=self.sampler)

    def spec(self) -> dict:
        return {"kind": "crt"}

    def record(self) -> dict:
        return {"crt": {"head_epochs": self.cfg.epochs, "head_lr": self.cfg.lr, "reset_head": self.cfg.reset_head,
                        "head_sampled_class_counts_per_epoch": self.sampler.per_epoch()}}


class OffsetAdjustment:
    """Wraps the trained predictor in an OffsetModel: fixed offsets on logits, or thresholds tuned on validation."""

    def __init__(self, offsets: np.ndarray | None, on_log_probs: bool, metric: str | None = None,
                 class_names: list[str] | None = None):
        self.offsets = None if offsets is None else np.asarray(offsets, dtype=np.float64)
        self.on_log_probs = on_log_probs
        self.metric = metric
        self.class_names = class_names

    @classmethod
    def fixed(cls, offsets: np.ndarray) -> OffsetAdjustment:
        """Add `offsets` (n_classes,) to the raw logits, e.g. -tau * log prior."""
        return cls(offsets, on_log_probs=False)

    @classmethod
    def tuned(cls, metric: str, class_names: list[str]) -> OffsetAdjustment:
        """Offsets on log-probabilities maximising `metric` on the validation split (posthoc.tune_thresholds)."""
        return cls(None, on_log_probs=True, metric=metric, class_names=class_names)

    def wrap(self, model: nn.Module, job) -> OffsetModel:
        if self.metric is not None:
            probs_val = predict_proba(model, job.val[0], job.cfg.eval_batch_size, job.device)  # (n_val, K)
            self.offsets = tune_thresholds(probs_val, np.asarray(job.val[1]), self.metric)
        wrapped = OffsetModel(model, len(self.offsets), self.on_log_probs)
        wrapped.offsets.copy_(torch.as_tensor(self.offsets, dtype=torch.float32))
        return wrapped.to(job.device)

    def spec(self) -> dict:
        return {"kind": "offsets", "on_log_probs": self.on_log_probs}

    def record(self) -> dict:
        if self.metric is None:
            return {}
        names = self.class_names or [str(k) for k in range(len(self.offsets))]
        return {"threshold": {"metric": self.metric, "tuned_on": "validation",
                              "offsets": {n: float(v) for n, v in zip(names, self.offsets)}}}
