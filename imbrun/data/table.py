"""Turn a pandas table (from CSV, a MySQL dump, a live query) into a LoadedData: labels, features, one-hot."""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import pandas as pd

from imbrun.data.base import LoadedData
from imbrun.errors import ImbrunError


@dataclass
class TableSpec:
    """Which columns mean what; names or 0-based indices (negative counts from the end)."""

    label: str | int = -1
    features: list[str | int] | None = None
    drop: tuple[str | int, ...] = ()
    categorical: list[str | int] | str = "auto"
    group_column: str | int | None = None
    channels: int | None = None  # reshape rows to (timesteps, channels) when set
    layout: str = "channel_major"


def resolve_column(frame: pd.DataFrame, column: str | int, source: str, what: str) -> str:
    """The frame's column name for a config entry given by name or by index."""
    names = [str(c) for c in frame.columns]
    if isinstance(column, int) and not isinstance(column, bool):
        if not -len(names) <= column < len(names):
            raise ImbrunError(f"{source}: {what} column index {column} is out of range; the table has "
                              f"{len(names)} columns (0..{len(names) - 1})")
        return frame.columns[column]
    if column not in frame.columns:
        shown = ", ".join(names[:20]) + (", ..." if len(names) > 20 else "")
        raise ImbrunError(f"{source}: {what} column {column!r} not found; columns are: {shown}")
    return column


def class_order(labels: pd.Series) -> list[str]:
    """Class names sorted numerically when every label is a number, else alphabetically."""
    values = pd.unique(labels)
    numeric = pd.to_numeric(pd.Series(values), errors="coerce")
    if numeric.notna().all():
        pairs = sorted(zip(numeric, values), key=lambda p: p[0])
        return [_label_text(v) for _, v in pairs]
    return sorted(_label_text(v) for v in values)


def _label_text(value) -> str:
    if isinstance(value, float) and value.is_integer():
        return str(int(value))
    return str(value).strip()


def frame_to_data(frame: pd.DataFrame, spec: TableSpec, source: str, *, class_names: list[str] | None = None,
                  categories: dict[str, list[str]] | None = None) -> tuple[LoadedData, dict[str, list[str]]]:
    """Split a table into X (float32), y (codes) and groups; one-hot encode categorical columns.

    `class_names` / `categories` come from the training table when encoding a separate test table (or, through
    a run's saved categories, any other table), so both use the same codes and columns. A category the training
    table never had becomes an all-zero one-hot row, listed in notes["unseen_categories"] ({column: [values]}).
    Returns the data and the categories used per one-hot column (also kept as data.categories).
    """
    if len(frame) == 0:
        raise ImbrunError(f"{source}: no data rows")
    label_col = resolve_column(frame, spec.label, source, "label")
    labels = frame[label_col]
    missing = labels.isna() | (labels.astype(str).str.strip() == "")
    if missing.any():
        row = int(np.flatnonzero(missing.to_numpy())[0])
        raise ImbrunError(f"{source}: row {row + 1}: the label ({label_col!r}) is missing")
    texts = labels.map(_label_text)
    names = class_names if class_names is not None else class_order(labels)
    unseen = sorted(set(texts) - set(names))
    if unseen:
        raise ImbrunError(f"{source}: labels {unseen} never appear in the training data (classes: {names})")
    y = texts.map({name: code for code, name in enumerate(names)}).to_numpy(dtype=np.int64)

    group_col = resolve_column(frame, spec.group_column, source, "group") if spec.group_column is not None else None
    feature_cols = _feature_columns(frame, spec, source, label_col, group_col)
    X, feature_names, categories, unseen = _encode_features(frame, feature_cols, spec, source, categories)
    if spec.channels:
        X = _to_series(X, spec.channels, spec.layout, source)
    groups = frame[group_col].astype(str).to_numpy() if group_col is not None else None
    data = LoadedData(X=X, y=y, class_names=list(names), row_ids=np.arange(len(frame), dtype=np.int64),
                      groups=groups, feature_names=feature_names, categories=categories)
    if unseen:
        data.notes["unseen_categories"] = unseen
    return data, categories


def unseen_category_warnings(notes: dict, source: str) -> list[dict]:
    """A warnings.json entry per column with categories the training data never had (notes["unseen_categories"])."""
    return [{"code": "unseen_category",
             "message": f"{source}: column {column!r} has categories {values} never seen in training; their rows "
                        f"get an all-zero one-hot for the column"}
            for column, values in notes.get("unseen_categories", {}).items()]


def _feature_columns(frame, spec: TableSpec, source, label_col, group_col) -> list:
    dropped = {resolve_column(frame, c, source, "drop") for c in spec.drop}
    if spec.features is not None:
        cols = [resolve_column(frame, c, source, "feature") for c in spec.features]
        for col, role in ((label_col, "the label"), (group_col, "the group column")):
            if col is not None and col in cols:
                raise ImbrunError(f"{source}: feature column {str(col)!r} is {role}; remove it from data.features")
    else:
        cols = [c for c in frame.columns if c != label_col and c != group_col and c not in dropped]
    if not cols:
        raise ImbrunError(f"{source}: no feature columns left (label {label_col!r}, dropped {sorted(map(str, dropped))})")
    return cols


def _encode_features(frame, cols, spec: TableSpec, source, categories):
    explicit = None if spec.categorical == "auto" else {resolve_column(frame, c, source, "categorical")
                                                        for c in spec.categorical}
    fitted = categories is not None  # encoding a test table: reuse the training table's decisions
    categories = dict(categories or {})
    blocks, names, unseen = [], [], {}
    for col in cols:
        values = frame[col]
        numeric = pd.to_numeric(values, errors="coerce")
        bad = numeric.isna() & values.notna()
        if explicit is not None:
            is_categorical = col in explicit
        else:
            is_categorical = str(col) in categories or (not fitted and bad.any() and numeric.isna().all())
        if is_categorical:
            cats = categories.setdefault(str(col), sorted(values.dropna().astype(str).unique()))
            codes = pd.Index(cats).get_indexer(values.astype(str).where(values.notna(), None))  # -1: unseen
            new = sorted(set(values[(codes < 0) & values.notna().to_numpy()].astype(str)))
            if new:  # like sklearn's OneHotEncoder(handle_unknown="ignore")
                unseen[str(col)] = new
            blocks.append(np.eye(len(cats), dtype=np.float32)[codes] * (codes >= 0)[:, None])
            names += [f"{col}={c}" for c in cats]
            continue
        if bad.any():
            row = int(np.flatnonzero(bad.to_numpy())[0])
            raise ImbrunError(f"{source}: row {row + 1}, column {col!r}: expected a number, got "
                              f"{str(values.iloc[row])!r} (list the column under data.categorical if it is a category)")
        wide = numeric.to_numpy(dtype=np.float64)
        too_big = np.abs(wide) > np.finfo(np.float32).max  # 'inf', or 1e39: infinite as float32, NaN in the model
        if too_big.any():
            row = int(np.flatnonzero(too_big)[0])
            raise ImbrunError(f"{source}: row {row + 1}, column {col!r}: expected a finite number within float32 "
                              f"range (|x| < 3.4e38), got {str(values.iloc[row])!r}")
        blocks.append(wide.astype(np.float32)[:, None])
        names.append(str(col))
    return np.concatenate(blocks, axis=1), names, categories, unseen


def _to_series(X: np.ndarray, channels: int, layout: str, source: str) -> np.ndarray:
    """(n, timesteps * channels) -> (n, timesteps, channels)."""
    n, width = X.shape
    if width % channels:
        raise ImbrunError(f"{source}: {width} feature columns cannot be split into {channels} channels")
    steps = width // channels
    if layout == "channel_major":
        return np.ascontiguousarray(X.reshape(n, channels, steps).transpose(0, 2, 1))
    return X.reshape(n, steps, channels)
