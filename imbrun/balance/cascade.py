"""`balance.kind: cascade` — big class(es) vs rest, recursively, one model per stage.

Stage j sees only the rows of the classes not split off before it. A splitting stage has one output per class it
splits off plus a last "(rest)" output; the final stage has one output per remaining class. Prediction walks the
stages: P(c) = P_1(rest) * ... * P_{j-1}(rest) * P_j(c), so the probabilities over the original classes sum to 1.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Callable

import numpy as np
import torch
import torch.nn.functional as F
from torch import nn

from imbrun.errors import ImbrunError
from imbrun.metrics import report
from imbrun.train import FitResult, predict_logits

REST = "(rest)"


def decompose(counts, share: float | None = None, ratio: float = 3.0, max_stages: int | None = None) -> list[list[int]]:
    """Class codes per stage, the final stage's last: split off the largest class (or every class above `share`
    of the remaining rows) until the remaining classes are within `ratio` (max/min) or only two are left.

    Example: decompose([100, 30, 10, 8]) -> [[0], [1], [2, 3]].
    """
    counts = np.asarray(counts)
    remaining = list(range(len(counts)))
    groups: list[list[int]] = []
    while len(remaining) > 2 and (max_stages is None or len(groups) < max_stages):
        present = counts[remaining][counts[remaining] > 0]
        if present.max() <= ratio * present.min():
            break
        total = counts[remaining].sum()
        by_size = sorted(remaining, key=lambda c: (-counts[c], c))
        big = [c for c in by_size if share is not None and counts[c] > share * total] or by_size[:1]
        big = big[:len(remaining) - 2]  # the final stage keeps at least two classes
        groups.append(sorted(big))
        remaining = [c for c in remaining if c not in big]
    return groups + [remaining]


class CascadeModel(nn.Module):
    """(batch, ...) -> log-probabilities (batch, n_classes) over the original classes, walking the stages."""

    def __init__(self, stages: list[nn.Module], groups: list[list[int]], n_classes: int):
        super().__init__()
        self.stages = nn.ModuleList(stages)
        self.groups = [list(g) for g in groups]
        order = [c for g in groups for c in g]
        self.inverse = np.argsort(order).tolist()  # column of each original class in the concatenated pieces
        assert sorted(order) == list(range(n_classes)), "cascade groups must partition the classes"

    @classmethod
    def from_spec(cls, spec: dict, new_model: Callable[[int], nn.Module], n_classes: int) -> CascadeModel:
        """Untrained stages shaped as in model.json (weights then come from model.pt)."""
        groups = spec["groups"]
        return cls([new_model(stage_outputs(groups, j)) for j in range(len(groups))], groups, n_classes)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        pieces, log_rest = [], torch.zeros(x.shape[0], 1, device=x.device)  # (batch, 1) log P(reached stage j)
        for j, stage in enumerate(self.stages):
            log_p = F.log_softmax(stage(x), dim=1)  # (batch, stage outputs)
            if j == len(self.stages) - 1:
                pieces.append(log_rest + log_p)
            else:
                pieces.append(log_rest + log_p[:, :-1])
                log_rest = log_rest + log_p[:, -1:]
        return torch.cat(pieces, dim=1)[:, self.inverse]


def stage_outputs(groups: list[list[int]], j: int) -> int:
    """Outputs of stage j: its split-off classes plus "(rest)", or the final stage's classes."""
    return len(groups[j]) + (0 if j == len(groups) - 1 else 1)


def stage_data(groups: list[list[int]], j: int, X: np.ndarray, y: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Rows stage j sees (classes not split off earlier) and their stage labels (position in the group, or rest)."""
    seen = [c for g in groups[j:] for c in g]
    label = np.full(max(seen) + 1, len(groups[j]), dtype=np.int64)  # every later class -> "(rest)"
    label[groups[j]] = np.arange(len(groups[j]))
    keep = np.isin(y, seen)
    return X[keep], label[y[keep]]


def stage_names(groups: list[list[int]], j: int, class_names: list[str]) -> list[str]:
    names = [class_names[c] for c in groups[j]]
    return names if j == len(groups) - 1 else names + [REST]


class Cascade:
    """The procedure: trains one model per stage with the plan that `stage_plan(y_stage, names)` builds for it
    (the loss and sampler strategies combined with the cascade, fitted to the stage's own labels)."""

    def __init__(self, cfg, y: np.ndarray, class_names: list[str], stage_plan: Callable):
        self.groups = decompose(np.bincount(y, minlength=len(class_names)), cfg.share, cfg.ratio, cfg.max_stages)
        self.class_names = class_names
        self.stage_plan = stage_plan
        self.stages: list[dict] = []

    def train(self, job, plan) -> tuple[CascadeModel, FitResult]:
        from imbrun.balance.procedures import SingleModel

        models, history, best, stopped = [], [], 0, False
        for j in range(len(self.groups)):
            train, val = stage_data(self.groups, j, *job.train), stage_data(self.groups, j, *job.val)
            names = stage_names(self.groups, j, self.class_names)
            if len(val[1]) == 0:
                raise ImbrunError(f"balance cascade: stage {j + 1} ({', '.join(names)}) has no validation rows; "
                                  f"raise split.val_size")
            sub = self.stage_plan(train[1], names)
            stage_job = dataclasses.replace(job, model=job.new_model(len(names)), train=train, val=val,
                                            seed=job.seed + j, on_epoch=_renumbered(job.on_epoch, len(history)),
                                            on_val_pred=None, stop_requested=None, resume=None)
            model, result = SingleModel().train(stage_job, sub)
            history += [{**row, "epoch": row["epoch"] + len(history), "stage": j + 1} for row in result.history]
            best, stopped = len(history) - len(result.history) + result.best_epoch, stopped or result.stopped_early
            models.append(model)
            self.stages.append({"stage": j + 1, "outputs": names, "best_epoch": result.best_epoch,
                                "train_counts": dict(zip(names, np.bincount(train[1], minlength=len(names)).tolist())),
                                **{k: v for k, v in sub.final_record().items() if k != "strategy"}})
        self.batch_size = job.cfg.eval_batch_size
        return CascadeModel(models, self.groups, len(self.class_names)), FitResult(history, best, stopped)

    def describe(self, predictor: CascadeModel, splits: dict, class_names: list[str]) -> dict:
        """Each stage's own metrics on each named split (rows it sees, its own labels)."""
        device = next(predictor.parameters()).device
        per_stage = []
        for j, stage in enumerate(predictor.stages):
            names = stage_names(self.groups, j, class_names)
            scores = {}
            for split, (X, y) in splits.items():
                X_j, y_j = stage_data(self.groups, j, X, y)
                if len(y_j) == 0:
                    continue
                pred = predict_logits(stage, X_j, getattr(self, "batch_size", 4096), device).argmax(1).cpu().numpy()
                scores[split] = report(y_j, pred, names)
            per_stage.append({"stage": j + 1, **scores})
        return {"cascade_stage_metrics": per_stage}

    def spec(self) -> dict:
        return {"kind": "cascade", "groups": self.groups}

    def record(self) -> dict:
        return {"cascade": {"groups": [[self.class_names[c] for c in g] for g in self.groups],
                            "stages": self.stages}}


def _renumbered(on_epoch, offset: int):
    """Forward epoch rows to `on_epoch` with epochs counted across stages."""
    if on_epoch is None:
        return None
    return lambda row: on_epoch({**row, "epoch": row["epoch"] + offset})
