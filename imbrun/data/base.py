"""The contract every loader returns: arrays plus what is needed to name and trace them."""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np


@dataclass
class LoadedData:
    """What a loader hands to the pipeline.

    X: float32 features, (n, features) for tables or (n, timesteps, channels) for series.
    y: int64 class codes indexing `class_names`.
    row_ids: int64 id of each row in its source (stable across runs, used in predictions.csv).
    groups: optional (n,) group ids (e.g. ECG record) for group-aware splits.
    test: optional separate test set given by the user (same class_names).
    categories: tables only: the one-hot categories fitted per categorical column ({column: [values]}); saved
        with a run so other data is encoded into the same columns in the same order.
    sources: one dict per source read, e.g. {"path": ..., "sha256": ...}.
    notes: what preparation did to the rows (e.g. interpolation counts), recorded in the run folder.
    """

    X: np.ndarray
    y: np.ndarray
    class_names: list[str]
    row_ids: np.ndarray
    groups: np.ndarray | None = None
    test: LoadedData | None = None
    feature_names: list[str] | None = None
    categories: dict[str, list[str]] | None = None
    sources: list[dict] = field(default_factory=list)
    notes: dict = field(default_factory=dict)

    def __post_init__(self) -> None:
        n = len(self.y)
        if self.X.shape[0] != n or self.row_ids.shape[0] != n:
            raise ValueError(f"X, y and row_ids disagree on rows: {self.X.shape[0]}, {n}, {self.row_ids.shape[0]}")
        if self.groups is not None and len(self.groups) != n:
            raise ValueError(f"groups has {len(self.groups)} rows, y has {n}")
