"""Post-hoc corrections of a trained model's outputs: logit adjustment and per-class offsets (numpy)."""

from __future__ import annotations

from collections.abc import Callable, Sequence

import numpy as np

from imbrun.balance.weights import log_priors
from imbrun.errors import ImbrunError

# Offsets tried for each class, on the log-probability scale: -4 .. 4 in steps of 0.25 (exact in binary).
DEFAULT_GRID = np.arange(-16, 17) * 0.25


def logit_adjust(logits: np.ndarray, counts: Sequence[int], tau: float = 1.0) -> np.ndarray:
    """Logits (n, K) minus tau * log prior (Menon et al. 2021): z_k - tau * log(n_k / n)."""
    z = np.asarray(logits, dtype=np.float64)
    if z.ndim != 2 or z.shape[1] != len(counts):
        raise ImbrunError(f"logits must have shape (n, {len(counts)}) to match the class counts, got {z.shape}")
    return z - tau * log_priors(counts)


def _log_probs(probs: np.ndarray) -> np.ndarray:
    """log p (n, K), with p = 0 mapped to log(tiny) so offsets still order such classes."""
    p = np.asarray(probs, dtype=np.float64)
    if p.ndim != 2 or p.shape[0] == 0 or np.any(~np.isfinite(p)) or np.any(p < 0):
        raise ImbrunError(f"probabilities must be a non-empty (n, n_classes) array of finite values >= 0, "
                          f"got shape {p.shape}")
    return np.log(np.maximum(p, np.finfo(np.float64).tiny))


def apply_thresholds(probs: np.ndarray, offsets: Sequence[float]) -> np.ndarray:
    """Predicted class (n,) int64 = argmax_k (log p_k + offset_k)."""
    logp = _log_probs(probs)
    b = np.asarray(offsets, dtype=np.float64)
    if b.shape != (logp.shape[1],):
        raise ImbrunError(f"expected {logp.shape[1]} offsets, one per class, got shape {b.shape}")
    return np.argmax(logp + b, axis=1).astype(np.int64)


def _per_class_counts(y: np.ndarray, pred: np.ndarray, k: int) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """True positives, predicted totals and true totals per class, each (k,)."""
    tp = np.bincount(y[y == pred], minlength=k)
    return tp, np.bincount(pred, minlength=k), np.bincount(y, minlength=k)


def macro_f1(y: np.ndarray, pred: np.ndarray, k: int) -> float:
    """Mean over classes present in y of F1_k = 2 TP / (2 TP + FP + FN)."""
    tp, n_pred, n_true = _per_class_counts(y, pred, k)
    present = n_true > 0
    return float(np.mean(2 * tp[present] / (n_pred[present] + n_true[present])))


def balanced_accuracy(y: np.ndarray, pred: np.ndarray, k: int) -> float:
    """Mean over classes present in y of recall_k = TP / (TP + FN)."""
    tp, _, n_true = _per_class_counts(y, pred, k)
    present = n_true > 0
    return float(np.mean(tp[present] / n_true[present]))


def gmean(y: np.ndarray, pred: np.ndarray, k: int) -> float:
    """Geometric mean over classes present in y of recall_k (0 if any recall is 0)."""
    tp, _, n_true = _per_class_counts(y, pred, k)
    present = n_true > 0
    return float(np.prod(tp[present] / n_true[present]) ** (1.0 / present.sum()))


METRICS: dict[str, Callable[[np.ndarray, np.ndarray, int], float]] = {
    "macro_f1": macro_f1, "balanced_accuracy": balanced_accuracy, "gmean": gmean,
}


def tune_thresholds(probs_val: np.ndarray, y_val: np.ndarray, metric: str = "macro_f1",
                    grid: Sequence[float] = DEFAULT_GRID, sweeps: int = 3) -> np.ndarray:
    """Per-class offsets (K,) on log p maximising `metric` on validation, by coordinate ascent.

    Starts from zero offsets; for each class in turn tries every grid value (smallest |value| first)
    and keeps a change only if the score strictly improves. Stops after `sweeps` passes or a pass with
    no change. So the result is deterministic and never scores below zero offsets on this data.
    Example: offsets = tune_thresholds(p_val, y_val); pred = apply_thresholds(p_test, offsets).
    """
    if metric not in METRICS:
        raise ImbrunError(f"unknown threshold metric {metric!r}; known: {', '.join(METRICS)}")
    logp = _log_probs(probs_val)
    n, k = logp.shape
    y = np.asarray(y_val)
    if y.shape != (n,) or not np.issubdtype(y.dtype, np.integer) or y.min() < 0 or y.max() >= k:
        raise ImbrunError(f"y_val must be ({n},) class codes in 0..{k - 1}, got shape {y.shape}")
    score = METRICS[metric]
    order = sorted({float(g) for g in grid}, key=lambda g: (abs(g), g))
    offsets = np.zeros(k)
    best = score(y, np.argmax(logp, axis=1), k)
    for _ in range(sweeps):
        changed = False
        for c in range(k):
            for g in order:
                trial = offsets.copy()
                trial[c] = g
                s = score(y, np.argmax(logp + trial, axis=1), k)
                if s > best:
                    best, offsets, changed = s, trial, True
        if not changed:
            break
    return offsets
