"""Imputation and normalisation, fitted on the training split only; state saved to and loaded from the run."""

from __future__ import annotations

import warnings

import numpy as np

from imbrun.config.train import PreprocessConfig
from imbrun.errors import ImbrunError


class Preprocessor:
    """Fit on train, apply to any split. State is plain arrays (saved as .npz, never pickled)."""

    def __init__(self, cfg: PreprocessConfig):
        self.cfg = cfg
        self.state: dict[str, np.ndarray] = {}

    def fit(self, X: np.ndarray) -> Preprocessor:
        """Learn fill values and scaling from the training features X: (n, ...)."""
        axis = 0 if self.cfg.normalize.per == "feature" else None
        with np.errstate(all="ignore"):
            fill = _fill_values(X, self.cfg.impute)
            filled = np.where(np.isnan(X), fill, X) if fill is not None else X
            kind = self.cfg.normalize.kind
            if kind == "minmax":
                low, high = np.nanmin(filled, axis=axis), np.nanmax(filled, axis=axis)
                self.state.update(shift=low, scale=_safe(high - low))
            elif kind == "standard":
                self.state.update(shift=np.nanmean(filled, axis=axis), scale=_safe(np.nanstd(filled, axis=axis)))
            elif kind == "scale":
                self.state.update(shift=np.zeros(()), scale=np.asarray(1.0 / self.cfg.normalize.factor))
        if fill is not None:
            self.state["fill"] = fill
        return self

    def transform(self, X: np.ndarray, what: str = "data") -> np.ndarray:
        """Apply the fitted state; leftover NaNs are an error naming how many and where."""
        X = np.array(X, dtype=np.float32, copy=True)
        if "fill" in self.state:
            X = np.where(np.isnan(X), self.state["fill"].astype(np.float32), X)
        if "scale" in self.state:
            X = (X - self.state["shift"].astype(np.float32)) / self.state["scale"].astype(np.float32)
        missing = np.isnan(X)
        if missing.any():
            row = int(np.flatnonzero(missing.reshape(len(X), -1).any(axis=1))[0])
            raise ImbrunError(f"preprocess: {int(missing.sum())} missing values in the {what} features (first in "
                              f"row {row}); set preprocess.impute to mean, median or zero")
        return X.astype(np.float32, copy=False)

    def save(self) -> dict[str, np.ndarray]:
        return {k: np.asarray(v) for k, v in self.state.items()}

    @classmethod
    def from_state(cls, cfg: PreprocessConfig, state: dict[str, np.ndarray]) -> Preprocessor:
        pre = cls(cfg)
        pre.state = {k: np.asarray(v) for k, v in state.items()}
        return pre


def _fill_values(X: np.ndarray, impute: str) -> np.ndarray | None:
    if impute == "none":
        return None
    if impute == "zero":
        return np.zeros(X.shape[1:], dtype=np.float32)
    with np.errstate(all="ignore"), warnings.catch_warnings():
        warnings.simplefilter("ignore", RuntimeWarning)  # an all-missing column: "mean of empty slice"
        fill = np.nanmedian(X, axis=0) if impute == "median" else np.nanmean(X, axis=0)
    return np.nan_to_num(fill, nan=0.0).astype(np.float32)  # an all-missing column falls back to 0


def _safe(scale: np.ndarray) -> np.ndarray:
    """Constant features get scale 1 instead of a division by zero."""
    scale = np.asarray(scale, dtype=np.float64)
    return np.where(scale > 0, scale, 1.0)
