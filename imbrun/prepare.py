"""Prepared data: the loader's arrays with gaps filled (preprocess.interpolate), served from the cache.

Interpolation works inside each series and learns nothing across rows, so doing it before the split cannot leak
validation or test information into training; train, validation, test and `evaluate` data get the same treatment.
"""

from __future__ import annotations

import os
from pathlib import Path

import numpy as np

from imbrun.config.train import InterpolateConfig
from imbrun.data import load_data
from imbrun.data.base import LoadedData
from imbrun.data.cache import cached
from imbrun.errors import ImbrunError
from imbrun.interpolate import handle_remaining, interpolate_series, mark_missing


def default_cache_dir() -> Path:
    """$IMBRUN_CACHE_DIR, else data/.cache under the working directory (beside the project's data)."""
    return Path(os.environ.get("IMBRUN_CACHE_DIR") or Path("data") / ".cache")


def experiment_data(cfg, *, use_cache: bool = True, progress: bool | None = None) -> tuple[LoadedData, str]:
    """An Experiment's data as `train` prepares it (its data section, preprocess.interpolate, split.group_by)."""
    return prepare_data(cfg.data, cfg.preprocess.interpolate, cfg.split.group_by, use_cache=use_cache,
                        progress=progress)


def prepare_data(data_cfg, interpolate: InterpolateConfig | None, group_by: str | None = None, *,
                 use_cache: bool = True, cache_dir: str | Path | None = None,
                 progress: bool | None = None) -> tuple[LoadedData, str]:
    """Load + interpolate; returns (data, cache state "hit" | "miss" | "off").

    `progress`: the interpolation's progress bar (on stderr, after about a second): True shows it, False never,
    None only when stderr is a terminal of the main process (so not in pipes, logs or sweep workers).
    """
    def build() -> LoadedData:
        return interpolated(load_data(data_cfg, group_by), interpolate, progress=progress)

    extra = {"interpolate": interpolate.model_dump() if interpolate else None, "group_by": group_by}
    return cached(data_cfg.model_dump(mode="json"), extra, cache_dir or default_cache_dir(), build, use_cache)


def interpolated(data: LoadedData, interpolate: InterpolateConfig | None, *,
                 progress: bool | None = None) -> LoadedData:
    """`data` with its gaps filled as preprocess.interpolate says (unchanged without that section)."""
    return fill_gaps(data, interpolate, progress=progress) if interpolate is not None else data


def fill_gaps(data: LoadedData, cfg: InterpolateConfig, what: str = "data", *,
              progress: bool | None = None) -> LoadedData:
    """Interpolate every series of `data` (and of its separate test set); rows may be dropped (remaining: drop)."""
    X = mark_missing(data.X, cfg.missing_values)
    missing_before = int(np.isnan(X).sum())
    X = interpolate_series(X, cfg.method, order=cfg.order, limit=cfg.limit, limit_area=cfg.limit_area,
                           limit_direction=cfg.limit_direction,
                           padding=None if cfg.padding == "none" else cfg.padding, progress=progress)
    remaining = int(np.isnan(X).sum())
    try:
        X, keep = handle_remaining(X, cfg.remaining, cfg.fill_value, data.row_ids)
    except ImbrunError as error:  # say which part of the data it was
        raise ImbrunError(f"preprocess.interpolate ({what}): {error}") from None
    dropped = data.row_ids[~keep]
    test = fill_gaps(data.test, cfg, "test data", progress=progress) if data.test is not None else None
    notes = {"interpolate": {"method": cfg.method, "missing_before": missing_before,
                             "filled": missing_before - remaining, "remaining": remaining,
                             "remaining_policy": cfg.remaining, "dropped_row_ids": dropped.tolist()}}
    if test is not None:
        notes["interpolate"]["test"] = test.notes["interpolate"]
    return LoadedData(X=X.astype(np.float32, copy=False), y=data.y[keep], class_names=data.class_names,
                      row_ids=data.row_ids[keep], groups=None if data.groups is None else data.groups[keep],
                      test=test, feature_names=data.feature_names, categories=data.categories, sources=data.sources,
                      notes={**data.notes, **notes})
