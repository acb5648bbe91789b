"""Paired tests for two runs scored on the same test rows: exact McNemar and a paired bootstrap.

Both functions take three aligned 1-D label arrays: `y_true`, `pred_a`, `pred_b`, row i of each
describing the same test row. Aligning rows (e.g. by row id) is the caller's job.
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass
from itertools import chain

import numpy as np
from scipy import stats as sps

from imbrun.errors import ImbrunError

# Above this many (resample, joint code) cells per block the weight matrix is built in smaller blocks.
_BLOCK_CELLS = 1 << 22


@dataclass(frozen=True)
class McNemarResult:
    """Discordant pair counts and the two-sided exact p-value."""

    b: int  # rows A got right and B got wrong
    c: int  # rows A got wrong and B got right
    pvalue: float


@dataclass(frozen=True)
class BootstrapCI:
    """B - A on the full data plus a percentile interval of the resampled B - A."""

    delta: float
    low: float
    high: float
    significant: bool  # the interval excludes 0
    n_valid: int  # resamples where the metric was defined (fewer than n_resamples only for recall[k])


def mcnemar_exact(y_true, pred_a, pred_b) -> McNemarResult:
    """Exact McNemar test: two-sided binomial test of b against b + c at p = 1/2.

    p = min(1, 2 * BinomCDF(min(b, c); b + c, 1/2)); p = 1.0 when b + c == 0.
    Example: b=1, c=6 gives 2 * (1 + 7) / 2**7 = 0.125.
    """
    y, a, b = _aligned_labels(y_true, pred_a, pred_b, n_classes=None)
    a_right, b_right = a == y, b == y
    n_b = int(np.count_nonzero(a_right & ~b_right))
    n_c = int(np.count_nonzero(~a_right & b_right))
    if n_b + n_c == 0:
        return McNemarResult(b=0, c=0, pvalue=1.0)
    pvalue = min(1.0, 2.0 * float(sps.binom.cdf(min(n_b, n_c), n_b + n_c, 0.5)))
    return McNemarResult(b=n_b, c=n_c, pvalue=pvalue)


def paired_bootstrap(
    y_true, pred_a, pred_b, n_classes: int, *, n_resamples: int = 1000, seed: int = 0, level: float = 0.95
) -> dict[str, BootstrapCI]:
    """Paired percentile bootstrap of B - A for macro-F1, balanced accuracy and each class's recall.

    Each resample draws n rows with replacement, the same rows for A and B. Metrics on a resample
    (and on the full data, for `delta`) follow scikit-learn exactly:
      - "macro_f1": f1_score(average="macro", labels=range(K), zero_division=0), i.e. the mean over
        all K classes of 2TP / (2TP + FP + FN), a class that is neither true nor predicted in the
        resample counting as 0.
      - "balanced_accuracy": balanced_accuracy_score, i.e. the mean recall over the classes present
        in the resample's y_true (absent classes are left out of the mean, not counted as 0).
      - "recall[k]": TP_k / support_k. When class k is absent from a resample's y_true its recall is
        undefined and that resample is dropped from this key's interval only (`n_valid` says how
        many were kept); if class k is absent from the full data, delta/low/high are NaN.
    The interval is [q((1 - level) / 2), q((1 + level) / 2)] of the resampled deltas (numpy's
    linear quantile). Reproducible: the same inputs and seed give the same result.

    Args:
        y_true, pred_a, pred_b: aligned 1-D integer labels in [0, n_classes).
        n_classes: K, the number of classes.
        n_resamples: bootstrap resamples.
        seed: seed for np.random.default_rng.
        level: confidence level in (0, 1).
    Returns:
        {"macro_f1": BootstrapCI, "balanced_accuracy": ..., "recall[0]": ..., ..., "recall[K-1]": ...}

    Example:
        >>> cis = paired_bootstrap([0, 0, 1, 1], [0, 1, 1, 1], [0, 0, 1, 1], 2, n_resamples=200)
        >>> round(cis["macro_f1"].delta, 4)  # 1.0 - (2/3 + 4/5) / 2
        0.2667
    """
    n_classes = _check_settings(n_classes, n_resamples, level)
    y, a, b = _aligned_labels(y_true, pred_a, pred_b, n_classes)
    codes, counts = np.unique((y * n_classes + a) * n_classes + b, return_counts=True)
    code_true, code_a, code_b = codes // (n_classes * n_classes), codes // n_classes % n_classes, codes % n_classes
    # Weight row 0 is the full data (weights = counts), so delta and resamples share one formula.
    blocks = chain([counts[None, :].astype(np.float64)], _weight_blocks(counts, len(y), n_resamples, seed))
    parts = [_deltas(weights, code_true, code_a, code_b, n_classes) for weights in blocks]
    macro_f1, balanced, recall = (np.concatenate(part) for part in zip(*parts))  # (1 + R,), (1 + R,), (1 + R, K)
    result = {"macro_f1": _interval(macro_f1, level), "balanced_accuracy": _interval(balanced, level)}
    for k in range(n_classes):
        result[f"recall[{k}]"] = _interval(recall[:, k], level)
    return result


def _weight_blocks(counts: np.ndarray, n_rows: int, n_resamples: int, seed: int) -> Iterator[np.ndarray]:
    """How often each joint (true, pred_a, pred_b) code is drawn per resample, in (block, n_codes) blocks.

    Drawing n rows uniformly with replacement makes the code counts Multinomial(n, counts / n), and
    every metric here depends only on those counts. With few distinct codes (the usual case) the
    counts are drawn directly, resample r being rng.multinomial(n, counts / n); with many codes,
    resample r draws row indices rng.integers(0, n, n) and counts them, which is then cheaper.
    Blocks bound memory to about _BLOCK_CELLS numbers whatever n and n_resamples are.
    """
    rng = np.random.default_rng(seed)
    n_codes = len(counts)
    by_multinomial = 4 * n_codes <= n_rows
    block = max(1, _BLOCK_CELLS // (n_codes if by_multinomial else n_rows))
    row_code = np.repeat(np.arange(n_codes), counts)  # (n_rows,) code of each row, rows grouped by code
    for start in range(0, n_resamples, block):
        size = min(block, n_resamples - start)
        if by_multinomial:
            yield rng.multinomial(n_rows, counts / n_rows, size=size).astype(np.float64)
            continue
        drawn = np.stack([row_code[rng.integers(0, n_rows, n_rows)] for _ in range(size)])  # (size, n_rows)
        offsets = np.arange(size)[:, None] * n_codes  # (size, 1): one bincount for the whole block
        flat = np.bincount((drawn + offsets).ravel(), minlength=size * n_codes)
        yield flat.reshape(size, n_codes).astype(np.float64)


def _deltas(weights, code_true, code_a, code_b, n_classes: int) -> list[np.ndarray]:
    """B - A for each weight row: macro-F1 (R,), balanced accuracy (R,), recall (R, K)."""
    support = _sum_by_class(weights, code_true, n_classes)  # (R, K) true count per class, shared by A and B
    metrics_a = _metrics(weights, support, code_true, code_a, n_classes)
    metrics_b = _metrics(weights, support, code_true, code_b, n_classes)
    return [metric_b - metric_a for metric_a, metric_b in zip(metrics_a, metrics_b)]


def _metrics(weights: np.ndarray, support: np.ndarray, code_true: np.ndarray, code_pred: np.ndarray, n_classes: int):
    """Macro-F1 (R,), balanced accuracy (R,) and recall (R, K) from code weights (R, n_codes)."""
    predicted = _sum_by_class(weights, code_pred, n_classes)  # (R, K) predicted count per class
    hit = code_true == code_pred
    tp = _sum_by_class(weights[:, hit], code_true[hit], n_classes)  # (R, K)
    with np.errstate(divide="ignore", invalid="ignore"):
        recall = np.where(support > 0, tp / support, np.nan)
        denom = support + predicted
        f1 = np.where(denom > 0, 2 * tp / denom, 0.0)
    macro_f1 = f1.mean(axis=1)
    balanced = np.nanmean(recall, axis=1)  # every resample has n >= 1 rows, so some class is present
    return macro_f1, balanced, recall


def _sum_by_class(weights: np.ndarray, keys: np.ndarray, n_classes: int) -> np.ndarray:
    """out[r, k] = sum of weights[r, j] over codes j with keys[j] == k: (R, n_codes) -> (R, K)."""
    n_rows = weights.shape[0]
    flat_keys = np.arange(n_rows)[:, None] * n_classes + keys[None, :]  # (R, n_codes) cell in the (R, K) output
    return np.bincount(flat_keys.ravel(), weights=weights.ravel(), minlength=n_rows * n_classes).reshape(
        n_rows, n_classes
    )


def _interval(deltas: np.ndarray, level: float) -> BootstrapCI:
    """deltas[0] is the full-data delta, deltas[1:] the resampled ones (NaN where undefined)."""
    resampled = deltas[1:][~np.isnan(deltas[1:])]
    if np.isnan(deltas[0]) or len(resampled) == 0:
        return BootstrapCI(float(deltas[0]), float("nan"), float("nan"), False, len(resampled))
    low, high = np.quantile(resampled, [(1 - level) / 2, (1 + level) / 2])
    return BootstrapCI(float(deltas[0]), float(low), float(high), bool(low > 0 or high < 0), len(resampled))


def _check_settings(n_classes, n_resamples, level) -> int:
    if isinstance(n_classes, bool) or not isinstance(n_classes, (int, np.integer)) or n_classes < 1:
        raise ImbrunError(f"n_classes: expected an integer >= 1, got {n_classes!r}")
    if isinstance(n_resamples, bool) or not isinstance(n_resamples, (int, np.integer)) or n_resamples < 1:
        raise ImbrunError(f"n_resamples: expected an integer >= 1, got {n_resamples!r}")
    if isinstance(level, bool) or not isinstance(level, (int, float)) or not 0 < level < 1:
        raise ImbrunError(f"level: expected a confidence level strictly between 0 and 1, got {level!r}")
    return int(n_classes)


def _aligned_labels(y_true, pred_a, pred_b, n_classes: int | None):
    """Three int64 arrays of equal length n >= 1, values in [0, n_classes) when n_classes is given."""
    arrays = [_as_labels(name, values) for name, values in
              (("y_true", y_true), ("pred_a", pred_a), ("pred_b", pred_b))]
    lengths = [len(arr) for arr in arrays]
    if len(set(lengths)) != 1:
        raise ImbrunError(f"y_true, pred_a and pred_b must have the same rows, got lengths {lengths}")
    if lengths[0] == 0:
        raise ImbrunError("y_true, pred_a and pred_b: expected at least one test row, got 0")
    if n_classes is not None:
        for name, arr in zip(("y_true", "pred_a", "pred_b"), arrays):
            bad = np.flatnonzero((arr < 0) | (arr >= n_classes))
            if len(bad):
                raise ImbrunError(
                    f"{name}: expected class codes in [0, {n_classes}), got {arr[bad[0]]} at row {bad[0]}"
                )
    return arrays


def _as_labels(name: str, values) -> np.ndarray:
    arr = np.asarray(values)
    if arr.ndim != 1:
        raise ImbrunError(f"{name}: expected a 1-D array of class codes, got shape {arr.shape}")
    if arr.dtype.kind in "iu":
        return arr.astype(np.int64)
    # Whole-valued floats (e.g. labels read back from a CSV as 0.0, 1.0) are accepted; [] is float64 too.
    if arr.dtype.kind == "f" and np.all(np.isfinite(arr)) and np.all(arr == np.round(arr)):
        return arr.astype(np.int64)
    raise ImbrunError(f"{name}: expected integer class codes, got dtype {arr.dtype}")
