"""`imbrun inspect`: what the data looks like before any training — counts, gaps, padding, duplicates, leakage.

inspect_splits(data, splits, group_by) -> a plain dict (the `--format json` output); inspect_render.py prints it.
"""

from __future__ import annotations

import hashlib

import numpy as np

from imbrun.data.base import LoadedData
from imbrun.data.split import Splits
from imbrun.inspect_advice import suggest_strategies

SPLITS = ("train", "val", "test")
PAIRS = (("train", "val"), ("train", "test"), ("val", "test"))


def inspect_splits(data: LoadedData, splits: Splits, group_by: str | None = None) -> dict:
    """The whole inspection report of loaded and split data (JSON-serialisable)."""
    names = splits.class_names
    parts = {name: getattr(splits, name) for name in SPLITS}
    all_y = np.concatenate([parts[s].y for s in SPLITS])
    report = {
        "rows": int(sum(len(p) for p in parts.values())),
        "feature_shape": list(data.X.shape[1:]),
        "class_names": list(names),
        "all": class_table(all_y, names),
        "splits": {s: class_table(parts[s].y, names) for s in SPLITS},
        "missing": {s: missing_values(parts[s].X) for s in SPLITS},
        "duplicates": cross_split_duplicates({s: parts[s].X for s in SPLITS}),
        "split_warnings": list(splits.warnings),
    }
    if data.X.ndim == 3:  # (n, timesteps, channels) series
        report["padding"] = {s: trailing_padding(parts[s].X) for s in SPLITS}
    if group_by is not None:
        report["group_leakage"] = group_leakage({s: parts[s].groups for s in SPLITS}, group_by)
    report["empty_classes"] = {s: [n for n, c in report["splits"][s]["counts"].items() if c == 0] for s in SPLITS}
    report["suggestions"] = suggest_strategies(report["splits"]["train"]["counts"])
    return report


def class_table(y: np.ndarray, class_names: list[str]) -> dict:
    """Rows, count and share per class, and the imbalance ratio largest / smallest (inf when a class is absent)."""
    counts = np.bincount(np.asarray(y, dtype=np.int64), minlength=len(class_names))
    total = int(counts.sum())
    smallest = int(counts.min()) if counts.size else 0
    ratio = float(counts.max() / smallest) if smallest > 0 else float("inf")
    return {"rows": total,
            "counts": {name: int(c) for name, c in zip(class_names, counts)},
            "shares": {name: (float(c / total) if total else 0.0) for name, c in zip(class_names, counts)},
            "imbalance_ratio": ratio}


def missing_values(X: np.ndarray) -> dict:
    """NaN cells, rows holding at least one, and their share of the rows."""
    nan = np.isnan(X.reshape(len(X), -1)) if len(X) else np.zeros((0, 0), bool)
    rows = int(nan.any(axis=1).sum()) if nan.size else 0
    return {"cells": int(nan.sum()), "rows": rows, "row_share": float(rows / len(X)) if len(X) else 0.0}


def trailing_padding(X: np.ndarray) -> dict:
    """Trailing all-zero timesteps of (n, timesteps, channels) series: share padded, mean padded length."""
    zero_steps = np.all(X == 0, axis=2)  # (n, timesteps): True where every channel is exactly 0
    # length of the trailing run of zero steps: reverse, then count until the first non-zero step
    reversed_nonzero = ~zero_steps[:, ::-1]
    run = np.where(reversed_nonzero.any(axis=1), reversed_nonzero.argmax(axis=1), X.shape[1])
    padded = run > 0
    return {"series": int(len(X)), "padded": int(padded.sum()),
            "padded_share": float(padded.mean()) if len(X) else 0.0,
            "mean_padded_length": float(run[padded].mean()) if padded.any() else 0.0,
            "timesteps": int(X.shape[1])}


def row_hashes(X: np.ndarray) -> np.ndarray:
    """One digest per row of X (its float32 bytes; every NaN made the same NaN so equal rows hash equal)."""
    flat = X.reshape(len(X), -1).astype(np.float32)
    flat = np.ascontiguousarray(np.where(np.isnan(flat), np.float32(np.nan), flat + np.float32(0.0)))  # -0.0 -> 0.0
    return np.array([hashlib.blake2b(row.tobytes(), digest_size=16).hexdigest() for row in flat], dtype=object)


def cross_split_duplicates(features: dict[str, np.ndarray]) -> dict:
    """For each pair of splits, the rows of the second whose features exactly equal a row of the first."""
    hashes = {name: row_hashes(X) for name, X in features.items()}
    out = {}
    for first, second in PAIRS:
        seen = set(hashes[first])
        out[f"{first}-{second}"] = int(sum(h in seen for h in hashes[second]))
    out["within_train"] = int(len(hashes["train"]) - len(set(hashes["train"])))
    return out


def group_leakage(groups: dict[str, np.ndarray | None], group_by: str) -> dict:
    """Groups (split.group_by values) found in more than one split; a grouped split should have none."""
    if any(g is None for g in groups.values()):
        return {"group_by": group_by, "groups": {}, "shared": {}}
    sets = {name: set(map(str, g)) for name, g in groups.items()}
    shared = {f"{a}-{b}": sorted(sets[a] & sets[b]) for a, b in PAIRS}
    return {"group_by": group_by, "groups": {name: len(s) for name, s in sets.items()},
            "shared": {pair: names for pair, names in shared.items() if names}}


def inspect_experiment(cfg, use_cache: bool = True) -> dict:
    """Prepare (gap filling, prepared-data cache) and split the data of an Experiment exactly as `train` would,
    and inspect it (no training). The report also says the cache state and what interpolation did."""
    from imbrun.data.split import split_data
    from imbrun.prepare import experiment_data

    data, cache = experiment_data(cfg, use_cache=use_cache)
    splits = split_data(data, cfg.split, cfg.seed)
    report = inspect_splits(data, splits, cfg.split.group_by)
    report["data_cache"] = cache
    if "interpolate" in data.notes:
        report["interpolate"] = data.notes["interpolate"]
    return report


def prepare_lines(report: dict) -> list[str]:
    """What data preparation did, for the table output: gap filling (preprocess.interpolate) and the cache state."""
    lines = []
    filled = report.get("interpolate")
    if filled is not None:
        dropped = len(filled["dropped_row_ids"])
        lines.append(f"interpolation ({filled['method']}): {filled['filled']} of {filled['missing_before']} missing "
                     f"value(s) filled, {filled['remaining']} left ({filled['remaining_policy']}"
                     + (f", {dropped} row(s) dropped" if dropped else "") + "); the counts above are after it")
    lines.append(f"prepared-data cache: {report['data_cache']}")
    return lines


def data_label(data_cfg) -> str:
    """`kind file` of a data section, e.g. `csv blobs.csv` (the table name for a live MySQL source)."""
    from pathlib import Path

    where = getattr(data_cfg, "path", None) or getattr(data_cfg, "table", None) or ""
    return f"{data_cfg.kind} {Path(str(where)).name}".strip()
