"""Statistics over groups of runs (one score per seed), class buckets and test-set fingerprints."""

from __future__ import annotations

import hashlib
import math
import warnings
from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np
from scipy import stats as sps

from imbrun.errors import ImbrunError


@dataclass(frozen=True)
class GroupSummary:
    """Mean, sample std (ddof=1) and Student t interval of one score over n seeds."""

    mean: float
    std: float  # NaN when n == 1
    n: int
    ci_low: float  # NaN when n == 1
    ci_high: float


def seed_group_summary(values: Sequence[float], level: float = 0.95) -> GroupSummary:
    """Mean +- t_{(1+level)/2, n-1} * std / sqrt(n) over the seeds' scores.

    n == 1 gives std and interval NaN; n >= 2 with all values equal gives the interval [mean, mean].

    Example:
        >>> s = seed_group_summary([0.70, 0.72, 0.68, 0.71])
        >>> round(s.mean, 4), round(s.std, 5), round(s.ci_low, 4), round(s.ci_high, 4)
        (0.7025, 0.01708, 0.6753, 0.7297)
    """
    arr = _finite_values("values", values)
    if isinstance(level, bool) or not isinstance(level, (int, float)) or not 0 < level < 1:
        raise ImbrunError(f"level: expected a confidence level strictly between 0 and 1, got {level!r}")
    mean, n = float(arr.mean()), len(arr)
    if n == 1:
        return GroupSummary(mean=mean, std=float("nan"), n=1, ci_low=float("nan"), ci_high=float("nan"))
    std = float(arr.std(ddof=1))
    half = float(sps.t.ppf((1 + level) / 2, n - 1)) * std / math.sqrt(n)
    return GroupSummary(mean=mean, std=std, n=n, ci_low=mean - half, ci_high=mean + half)


def welch_groups(a_values: Sequence[float], b_values: Sequence[float]) -> float:
    """Two-sided p-value of Welch's t-test (unequal variances) between two seed groups.

    Each group needs at least 2 values. When both groups have zero spread the t statistic is
    infinite or 0/0: identical constant groups give 1.0, different constants give 0.0.
    """
    a = _finite_values("a_values", a_values)
    b = _finite_values("b_values", b_values)
    for name, arr in (("a_values", a), ("b_values", b)):
        if len(arr) < 2:
            raise ImbrunError(f"{name}: Welch's t-test needs at least 2 seeds per group, got {len(arr)}")
    if np.ptp(a) == 0 and np.ptp(b) == 0:
        return 1.0 if a[0] == b[0] else 0.0
    with warnings.catch_warnings():
        # scipy warns about precision when one group is (nearly) constant; the p-value is still right.
        warnings.simplefilter("ignore", RuntimeWarning)
        return float(sps.ttest_ind(a, b, equal_var=False).pvalue)


def bucket_classes(train_counts: Sequence[int], many: int = 100, few: int = 20) -> list[str]:
    """Long-tail bucket of each class from its training count: > many -> "many", < few -> "few", else "medium".

    Example:
        >>> bucket_classes([500, 100, 20, 19])
        ['many', 'medium', 'medium', 'few']
    """
    if few > many:
        raise ImbrunError(f"bucket thresholds: expected few <= many, got few={few}, many={many}")
    buckets = []
    for k, count in enumerate(train_counts):
        if isinstance(count, bool) or not isinstance(count, (int, np.integer)) or count < 0:
            raise ImbrunError(f"train_counts[{k}]: expected a non-negative integer count, got {count!r}")
        buckets.append("many" if count > many else "few" if count < few else "medium")
    return buckets


def test_fingerprint(row_ids, y_true) -> str:
    """sha256 hex of the test set as a set of (row id, label) pairs; equal fingerprints <=> same test rows.

    Rows are sorted by row id first, so the order predictions were written in does not matter.
    Hashed bytes: b"imbrun-test-v1", the row count, then row ids and labels as little-endian int64.
    """
    ids = _int_array("row_ids", row_ids)
    labels = _int_array("y_true", y_true)
    if len(ids) != len(labels):
        raise ImbrunError(f"row_ids and y_true must have the same rows, got {len(ids)} and {len(labels)}")
    order = np.argsort(ids, kind="stable")
    ids, labels = ids[order], labels[order]
    duplicate = np.flatnonzero(ids[1:] == ids[:-1])
    if len(duplicate):
        raise ImbrunError(f"row_ids: expected unique ids, got {ids[duplicate[0]]} more than once")
    digest = hashlib.sha256(b"imbrun-test-v1")
    digest.update(np.int64(len(ids)).astype("<i8").tobytes())
    digest.update(ids.astype("<i8").tobytes())
    digest.update(labels.astype("<i8").tobytes())
    return digest.hexdigest()


test_fingerprint.__test__ = False  # its name starts with "test_": stop pytest collecting it where imported


def _finite_values(name: str, values) -> np.ndarray:
    try:
        arr = np.asarray(values, dtype=np.float64)
    except (TypeError, ValueError):
        raise ImbrunError(f"{name}: expected a list of numbers, got {values!r}") from None
    if arr.ndim != 1 or len(arr) == 0:
        raise ImbrunError(f"{name}: expected a non-empty list of numbers, got shape {arr.shape}")
    bad = np.flatnonzero(~np.isfinite(arr))
    if len(bad):
        raise ImbrunError(f"{name}: expected finite numbers, got {arr[bad[0]]} at position {bad[0]}")
    return arr


def _int_array(name: str, values) -> np.ndarray:
    arr = np.asarray(values)
    if arr.ndim != 1 or arr.dtype.kind not in "iu":
        raise ImbrunError(f"{name}: expected a 1-D array of integers, got dtype {arr.dtype} shape {arr.shape}")
    return arr.astype(np.int64)
