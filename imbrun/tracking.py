"""Experiment trackers (MLflow, TensorBoard) behind one Tracker; both optional extras, imported only when asked for.

    tracker = open_trackers(cfg.tracking, run)          # a Tracker with no sinks when nothing is configured
    tracker.log_params(flat_config(cfg.model_dump(mode="json")))
    ... tracker.log_epoch(row) from fit's on_epoch ...
    tracker.log_final(metrics); tracker.log_artifacts(run); tracker.close("completed")
"""

from __future__ import annotations

import math
import re
from pathlib import Path

from imbrun.errors import ImbrunError

_METRIC_NAME = re.compile(r"[^A-Za-z0-9_\-./ ]")  # what MLflow accepts in a metric name


class Tracker:
    """Forwards each call to every configured sink (none: every call does nothing)."""

    def __init__(self, sinks: list | None = None):
        self.sinks = list(sinks or [])

    def log_params(self, params: dict) -> None:
        for sink in self.sinks:
            sink.log_params(params)

    def log_epoch(self, row: dict) -> None:
        """One row of fit's history: epoch, train_loss, val_* scores, lr, seconds."""
        for sink in self.sinks:
            sink.log_epoch(row)

    def log_final(self, metrics: dict) -> None:
        """metrics.json: overall and per-class test (and val) scores."""
        for sink in self.sinks:
            sink.log_final(metrics)

    def log_artifacts(self, run_dir) -> None:
        """The run folder's files (a RunDir or a path)."""
        path = Path(getattr(run_dir, "path", run_dir))
        for sink in self.sinks:
            sink.log_artifacts(path)

    def close(self, status: str = "completed") -> None:
        """End every sink; `status` is the run's (completed, failed, interrupted)."""
        for sink in self.sinks:
            sink.close(status)


def open_trackers(cfg, run_dir) -> Tracker:
    """The trackers of a `tracking` section (TrackingConfig or None) for one run folder (a RunDir or a path)."""
    path = Path(getattr(run_dir, "path", run_dir))
    sinks = []
    try:
        if cfg is not None and cfg.mlflow is not None:
            from imbrun.tracking_mlflow import MlflowSink

            sinks.append(MlflowSink(cfg.mlflow.uri, cfg.mlflow.experiment, path.name))  # the real uri, unredacted
        if cfg is not None and cfg.tensorboard is not None:
            from imbrun.tracking_tensorboard import TensorboardSink

            sinks.append(TensorboardSink(Path(cfg.tensorboard.log_dir) / path.name if cfg.tensorboard.log_dir
                                         else path / "tensorboard"))
    except BaseException:
        Tracker(sinks).close("failed")  # a sink opened before the one that failed does not stay "running"
        raise
    return Tracker(sinks)


def flat_config(config: dict, prefix: str = "") -> dict[str, str]:
    """Nested config -> {"train.lr": "0.01", "balance.kind": "focal", ...}; lists as their JSON-like text."""
    flat: dict[str, str] = {}
    for key, value in config.items():
        name = f"{prefix}{key}"
        if isinstance(value, dict):
            flat.update(flat_config(value, f"{name}."))
        else:
            flat[name] = "null" if value is None else str(value)
    return flat


def epoch_scalars(row: dict) -> dict[str, float]:
    """The finite numbers of an epoch row, without the epoch itself (it is the step)."""
    return {k: float(v) for k, v in row.items()
            if k != "epoch" and isinstance(v, (int, float)) and not isinstance(v, bool) and math.isfinite(v)}


def final_scalars(metrics: dict) -> dict[str, float]:
    """metrics.json flattened: test_macro_f1, test_recall_<class>, val_macro_f1, best_epoch, ..."""
    out: dict[str, float] = {}
    for split in ("test", "val"):
        block = metrics.get(split) or {}
        for key, value in (block.get("overall") or {}).items():
            out[f"{split}_{key}"] = value
        for cls, values in (block.get("per_class") or {}).items():
            for key in ("precision", "recall", "f1"):
                out[f"{split}_{key}_{metric_name(cls)}"] = values[key]
    for key in ("best_epoch", "epochs_run"):
        if key in metrics:
            out[key] = metrics[key]
    return {k: float(v) for k, v in out.items() if isinstance(v, (int, float)) and math.isfinite(float(v))}


def metric_name(text: str) -> str:
    """A class name made safe for a metric name (MLflow rejects e.g. ':' and '?')."""
    return _METRIC_NAME.sub("_", str(text))


def missing_extra(package: str, extra: str) -> ImbrunError:
    return ImbrunError(f"tracking.{extra}: the {package} package is not installed; "
                       f'pip install "imbrun[{extra}]"')
