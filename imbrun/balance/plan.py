"""What a balancing strategy hands to training: arrays, a loss, a sampler, a procedure, and what to record."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field

import numpy as np
import torch
from torch import nn

from imbrun.balance.sampling import WeightedSampler
from imbrun.config.train import TrainConfig


@dataclass
class TrainJob:
    """What a procedure needs to train: the first model, a factory for more, the arrays and fit's settings.

    new_model(n_classes) builds a fresh model (on the device) with that many outputs, e.g. for cascade stages.
    """

    model: nn.Module
    new_model: Callable[[int], nn.Module]
    train: tuple[np.ndarray, np.ndarray]
    val: tuple[np.ndarray, np.ndarray]
    cfg: TrainConfig
    seed: int
    device: torch.device
    on_epoch: Callable[[dict], None] | None = None
    on_val_pred: Callable[[dict, np.ndarray], None] | None = None  # each epoch's validation predictions
    stop_requested: Callable[[], bool] | None = None  # polled between batches (Ctrl-C); single-model runs only
    resume: dict | None = None  # a checkpoint from TrainingInterrupted (single-model runs only)


@dataclass
class BalancePlan:
    """One strategy (or a combination) fitted to the training labels.

    loss(logits, targets) is the training criterion; sampler draws each epoch's rows (None: shuffle);
    resampler(X, y) -> (X, y) changes the training arrays (None: unchanged); procedure trains and returns the
    predictor (None: one model trained by fit); adjust wraps the trained predictor (None: unchanged).
    """

    loss: nn.Module | None = None
    sampler: WeightedSampler | None = None
    record: dict = field(default_factory=dict)
    resampler: Callable | None = None
    procedure: object | None = None
    adjust: object | None = None
    train_arrays: tuple[np.ndarray, np.ndarray] | None = None

    @property
    def resumable(self) -> bool:
        """Whether Ctrl-C can checkpoint this plan's training: one model (cRT: its first phase) trained by fit()."""
        from imbrun.balance.procedures import ClassifierRetraining

        return self.procedure is None or isinstance(self.procedure, ClassifierRetraining)

    def train(self, job: TrainJob):
        """(predictor module, FitResult): the procedure's model(s), then the prediction adjustment if any."""
        from imbrun.balance.procedures import SingleModel

        predictor, result = (self.procedure or SingleModel()).train(job, self)
        if self.adjust is not None:
            predictor = self.adjust.wrap(predictor, job)
        return predictor, result

    def predictor_spec(self) -> dict:
        """What evaluate needs (with the config) to rebuild the predictor's modules before loading weights."""
        spec = {"procedure": self.procedure.spec() if self.procedure is not None else {"kind": "single"}}
        if self.adjust is not None:
            spec["adjust"] = self.adjust.spec()
        return spec

    def final_record(self) -> dict:
        """balance.json content once training is over (adds what the samplers really drew)."""
        record = dict(self.record)
        if self.sampler is not None:
            record["sampled_class_counts_per_epoch"] = self.sampler.per_epoch()
        for part in (self.procedure, self.adjust):
            if part is not None:
                record.update(part.record())
        return record

    def describe(self, predictor: nn.Module, splits: dict[str, tuple[np.ndarray, np.ndarray]],
                 class_names: list[str]) -> dict:
        """Extra balance.json entries scored on named splits, e.g. each cascade stage's own metrics."""
        if self.procedure is not None and hasattr(self.procedure, "describe"):
            return self.procedure.describe(predictor, splits, class_names)
        return {}
