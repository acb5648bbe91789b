"""Per-class and per-sample weights derived from class counts (numpy only, no torch).

Every function takes `counts`: the number of training samples of each class, indexed by class code.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence

import numpy as np

from imbrun.errors import ImbrunError

CLASS_WEIGHT_SCHEMES = ("inverse", "sqrt_inverse", "effective_number", "manual")
SAMPLING_SCHEMES = ("inverse", "sqrt_inverse", "target")


def _class_label(k: int, class_names: Sequence[str] | None) -> str:
    """How a class is named in messages: "'cat' (index 2)" or "index 2"."""
    return f"{class_names[k]!r} (index {k})" if class_names is not None else f"index {k}"


def checked_counts(counts: Sequence[int], class_names: Sequence[str] | None = None) -> np.ndarray:
    """Counts as a float64 (n_classes,) array; ImbrunError unless all are whole numbers > 0."""
    c = np.asarray(counts)
    if c.ndim != 1 or c.size == 0 or not np.issubdtype(c.dtype, np.number):
        raise ImbrunError(f"class counts must be a non-empty list of numbers, got {counts!r}")
    if np.any(c < 0) or np.any(c != np.round(c)):
        raise ImbrunError(f"class counts must be whole numbers >= 0, got {c.tolist()}")
    if class_names is not None and len(class_names) != c.size:
        raise ImbrunError(f"{len(class_names)} class names given for {c.size} class counts")
    empty = np.flatnonzero(c == 0)
    if empty.size:
        raise ImbrunError(f"class {_class_label(int(empty[0]), class_names)} has 0 training samples; "
                          "every class needs at least one to be weighted")
    return c.astype(np.float64)


def _resolve_class_mapping(mapping: Mapping, n_classes: int, class_names: Sequence[str] | None,
                           what: str) -> dict[int, float]:
    """{class index or name: value} -> {class index: value}; unknown keys list the known ones."""
    out: dict[int, float] = {}
    for key, value in mapping.items():
        if isinstance(key, str):
            if class_names is None or key not in class_names:
                known = ", ".join(repr(n) for n in class_names) if class_names else "none (use indices)"
                raise ImbrunError(f"{what}: unknown class name {key!r}; known class names: {known}")
            k = list(class_names).index(key)
        elif isinstance(key, (int, np.integer)) and not isinstance(key, bool):
            if not 0 <= key < n_classes:
                raise ImbrunError(f"{what}: unknown class index {key}; known indices: 0..{n_classes - 1}"
                                  + _name_hint(key, value, class_names))
            k = int(key)
            if class_names is not None and str(key) in class_names and class_names[k] != str(key):
                # classes '1' and '2': does key 1 mean index 1 (class '2') or the class named '1'? Refuse to guess.
                raise ImbrunError(f"{what}: key {key} is ambiguous: class {class_names[k]!r} has index {key}, and "
                                  f"{str(key)!r} is another class's name; quote it ('{key}') for the name, or give "
                                  f"every key as a quoted class name")
        else:
            raise ImbrunError(f"{what}: class keys must be names or indices, got {key!r}")
        if isinstance(value, bool) or not isinstance(value, (int, float, np.number)) \
                or not np.isfinite(value) or value < 0:
            raise ImbrunError(f"{what}: value for class {key!r} must be a number >= 0, got {value!r}")
        if k in out:
            raise ImbrunError(f"{what}: class {_class_label(k, class_names)} is given twice")
        out[k] = float(value)
    return out


def _name_hint(key: int, value, class_names: Sequence[str] | None) -> str:
    """When an out-of-range index is written like a class name (classes '4' and '9', key 4): how to quote it."""
    if class_names is None or str(key) not in class_names:
        return ""
    shown = f"{value:g}" if isinstance(value, (int, float, np.number)) and not isinstance(value, bool) else repr(value)
    return f"; '{key}' is a class name: quote it ('{key}': {shown}) to refer to the class by name"


def class_weights(counts: Sequence[int], scheme: str = "inverse", *, beta: float = 0.999,
                  manual: Mapping[int | str, float] | None = None,
                  class_names: list[str] | None = None) -> np.ndarray:
    """Per-class loss weights (n_classes,) float64.

    "inverse":          w_k = n / (K * n_k)                       (sklearn compute_class_weight("balanced"))
    "sqrt_inverse":     w_k = n / (sqrt(n_k) * sum_j sqrt(n_j))   so that sum_k w_k * n_k = n, as for "inverse"
    "effective_number": w_k = (1 - beta) / (1 - beta**n_k), rescaled so sum_k w_k = K   (Cui et al. 2019)
    "manual":           w_k = manual[k or class_names[k]], classes not listed get 1
    Example: class_weights([90, 10]) -> [0.5556, 5.0].
    """
    c = checked_counts(counts, class_names)
    n, k = c.sum(), c.size
    if scheme == "inverse":
        return n / (k * c)
    if scheme == "sqrt_inverse":
        return n / (np.sqrt(c) * np.sqrt(c).sum())
    if scheme == "effective_number":
        if not 0.0 <= beta < 1.0:
            raise ImbrunError(f"effective_number beta must be in [0, 1), got {beta}")
        w = (1.0 - beta) / (1.0 - np.power(beta, c))
        return w * k / w.sum()
    if scheme == "manual":
        if manual is None:
            raise ImbrunError("class weight scheme 'manual' needs a mapping of class -> weight, got none")
        w = np.ones(k)
        for idx, value in _resolve_class_mapping(manual, k, class_names, "manual class weights").items():
            w[idx] = value
        return w
    raise ImbrunError(f"unknown class weight scheme {scheme!r}; known: {', '.join(CLASS_WEIGHT_SCHEMES)}")


def sampling_weights(labels: np.ndarray, scheme: str = "inverse", target: Mapping | None = None, *,
                     n_classes: int | None = None, class_names: list[str] | None = None) -> np.ndarray:
    """Per-sample weights (n,) summing to 1: w_i = t_{y_i} / n_{y_i}, so P(draw is class k) = t_k.

    t is uniform over the classes present ("inverse"), t_k proportional to sqrt(n_k) ("sqrt_inverse"),
    or the `target` mapping {class index or name: share} normalised to sum 1 ("target"; it must list
    every class present in `labels`). Feed to torch.multinomial / WeightedRandomSampler with replacement.
    """
    y = np.asarray(labels)
    if y.ndim != 1 or y.size == 0 or not np.issubdtype(y.dtype, np.integer) or y.min() < 0:
        raise ImbrunError(f"labels must be a non-empty 1-D array of class codes >= 0, got shape {y.shape}")
    k = n_classes if n_classes is not None else (len(class_names) if class_names else int(y.max()) + 1)
    if y.max() >= k:
        raise ImbrunError(f"label {int(y.max())} is out of range for {k} classes")
    counts = np.bincount(y, minlength=k).astype(np.float64)
    if scheme == "inverse":
        t = (counts > 0).astype(np.float64)
    elif scheme == "sqrt_inverse":
        t = np.sqrt(counts)
    elif scheme == "target":
        t = _target_shares(target, counts, class_names)
    else:
        raise ImbrunError(f"unknown sampling scheme {scheme!r}; known: {', '.join(SAMPLING_SCHEMES)}")
    t = t / t.sum()
    per_class = np.divide(t, counts, out=np.zeros(k), where=counts > 0)
    return per_class[y]


def _target_shares(target: Mapping | None, counts: np.ndarray, class_names: list[str] | None) -> np.ndarray:
    """Unnormalised target shares (n_classes,); every present class listed, no share on an absent class."""
    if target is None:
        raise ImbrunError("sampling scheme 'target' needs a mapping of class -> share, got none")
    given = _resolve_class_mapping(target, counts.size, class_names, "sampling target")
    missing = [_class_label(k, class_names) for k in np.flatnonzero(counts > 0) if k not in given]
    if missing:
        raise ImbrunError(f"sampling target: no share given for class {', '.join(missing)}")
    t = np.zeros(counts.size)
    for k, share in given.items():
        if share > 0 and counts[k] == 0:
            raise ImbrunError(f"sampling target: class {_class_label(k, class_names)} has share {share} "
                              "but no samples to draw")
        t[k] = share
    if t.sum() <= 0:
        raise ImbrunError("sampling target: shares sum to 0; at least one must be > 0")
    return t


def ldam_margins(counts: Sequence[int], max_m: float = 0.5) -> np.ndarray:
    """LDAM margins (n_classes,): m_k = C / n_k**(1/4) with C chosen so max_k m_k = max_m (Cao et al. 2019)."""
    c = checked_counts(counts)
    m = np.power(c, -0.25)
    return m * (max_m / m.max())


def log_priors(counts: Sequence[int]) -> np.ndarray:
    """Log class priors (n_classes,): log(n_k / n)."""
    c = checked_counts(counts)
    return np.log(c / c.sum())
