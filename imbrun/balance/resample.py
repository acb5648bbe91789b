"""Strategies that change the training arrays (never validation or test) with imbalanced-learn.

Sequence inputs (n, timesteps, channels) are flattened to (n, timesteps * channels) for the sampler and reshaped
back, so SMOTE interpolates whole series.
"""

from __future__ import annotations

import math

import numpy as np

from imbrun.balance.plan import BalancePlan
from imbrun.balance.weights import _resolve_class_mapping
from imbrun.errors import ImbrunError

OVERSAMPLERS = ("oversample", "smote", "borderline_smote", "adasyn", "smote_tomek", "smote_enn")
NEIGHBOUR_OVERSAMPLERS = ("smote", "borderline_smote", "adasyn", "smote_tomek", "smote_enn")
CLEANERS = ("tomek", "enn")


def _sampler(cfg, targets, seed: int):
    """The imbalanced-learn object for `cfg.kind` (imported here: imblearn is slow to import)."""
    from imblearn.combine import SMOTEENN, SMOTETomek
    from imblearn.over_sampling import ADASYN, SMOTE, BorderlineSMOTE, RandomOverSampler
    from imblearn.under_sampling import EditedNearestNeighbours, RandomUnderSampler, TomekLinks

    kind = cfg.kind
    if kind == "oversample":
        return RandomOverSampler(sampling_strategy=targets, random_state=seed)
    if kind == "undersample":
        return RandomUnderSampler(sampling_strategy=targets, random_state=seed)
    if kind == "tomek":
        return TomekLinks(sampling_strategy=cfg.classes)
    if kind == "enn":
        return EditedNearestNeighbours(sampling_strategy=cfg.classes, n_neighbors=cfg.n_neighbors)
    smote = SMOTE(sampling_strategy=targets, k_neighbors=cfg.k_neighbors, random_state=seed)
    if kind == "smote":
        return smote
    if kind == "borderline_smote":
        return BorderlineSMOTE(sampling_strategy=targets, k_neighbors=cfg.k_neighbors, m_neighbors=cfg.m_neighbors,
                               kind=cfg.variant, random_state=seed)
    if kind == "adasyn":
        return ADASYN(sampling_strategy=targets, n_neighbors=cfg.k_neighbors, random_state=seed)
    if kind == "smote_tomek":
        return SMOTETomek(sampling_strategy=targets, smote=smote, tomek=TomekLinks(sampling_strategy="all"),
                          random_state=seed)
    return SMOTEENN(sampling_strategy=targets, smote=smote, random_state=seed,
                    enn=EditedNearestNeighbours(sampling_strategy="all", n_neighbors=cfg.n_neighbors))


def target_counts(cfg, counts: np.ndarray, class_names: list[str]) -> dict[int, int]:
    """{class code: rows wanted} for the classes that change; the others are left as they are.

    Over-sampling raises every class below ceil(ratio * n_max) to it; under-sampling lowers every class above
    floor(n_min / ratio) to it (n_min over the classes present); `counts` gives the targets explicitly.
    Example: counts [40, 12, 6], ratio 0.5 -> oversample {1: 20, 2: 20}, undersample {0: 12}.
    """
    over = cfg.kind in OVERSAMPLERS
    if cfg.counts is not None:
        targets = _resolve_class_mapping(cfg.counts, len(counts), class_names, "balance.counts")
        for k, wanted in targets.items():
            if wanted != int(wanted) or (over and wanted < counts[k]) or (not over and wanted > counts[k]):
                raise ImbrunError(f"balance.counts: class {class_names[k]!r} has {counts[k]} training rows and "
                                  f"{wanted:g} are asked; {cfg.kind} can only {'add' if over else 'remove'} rows")
        return {k: int(v) for k, v in targets.items() if v != counts[k]}
    present = counts[counts > 0]
    if over:
        goal = math.ceil(cfg.ratio * present.max())
        return {k: goal for k in range(len(counts)) if 0 < counts[k] < goal}
    goal = max(1, math.floor(present.min() / cfg.ratio))
    return {k: goal for k in range(len(counts)) if counts[k] > goal}


def check_neighbours(cfg, counts: np.ndarray, targets: dict[int, int], class_names: list[str]) -> None:
    """SMOTE-like methods need k + 1 rows in each class they add to; one line naming the class if not."""
    if cfg.kind not in NEIGHBOUR_OVERSAMPLERS:
        return
    k = cfg.k_neighbors
    for code in targets:
        n = int(counts[code])
        if n < k + 1:
            fix = (f"set balance.k_neighbors to {n - 1} or less" if n >= 2
                   else "a single row can only be repeated: use kind oversample")
            raise ImbrunError(f"balance.k_neighbors: class {class_names[code]!r} has {n} training rows, too few for "
                              f"{cfg.kind} with k_neighbors={k} (needs at least {k + 1}); {fix}")


def check_adasyn_neighbourhoods(cfg, X: np.ndarray, y: np.ndarray, targets: dict[int, int],
                                class_names: list[str]) -> None:
    """ADASYN weights rows by the other classes among their neighbours; a class with none cannot be weighted."""
    if cfg.kind != "adasyn" or not targets:
        return
    from sklearn.neighbors import NearestNeighbors

    neighbours = NearestNeighbors(n_neighbors=cfg.k_neighbors + 1).fit(X)
    for code in targets:
        rows = X[y == code]
        near = neighbours.kneighbors(rows, return_distance=False)[:, 1:]  # (rows, k) without the row itself
        if np.all(y[near] == code):
            raise ImbrunError(f"balance adasyn: no row of class {class_names[code]!r} ({len(rows)} training rows) "
                              f"has another class among its k_neighbors={cfg.k_neighbors} nearest, so ADASYN "
                              f"cannot weight them; use smote or borderline_smote")


def resample_arrays(cfg, X: np.ndarray, y: np.ndarray, class_names: list[str],
                    seed: int) -> tuple[np.ndarray, np.ndarray, dict]:
    """(X, y) resampled by `cfg.kind`, plus a record of the class counts before and after."""
    counts = np.bincount(y, minlength=len(class_names))
    targets = {} if cfg.kind in CLEANERS else target_counts(cfg, counts, class_names)
    check_neighbours(cfg, counts, targets, class_names)
    seed = cfg.seed if getattr(cfg, "seed", None) is not None else seed
    if targets or cfg.kind in CLEANERS:
        flat = X.reshape(len(X), -1)  # (n, timesteps * channels) for sequences
        check_adasyn_neighbourhoods(cfg, flat, y, targets, class_names)
        try:
            flat_new, y_new = _sampler(cfg, targets, seed).fit_resample(flat, y)
        except (ValueError, RuntimeError) as exc:
            raise ImbrunError(f"balance {cfg.kind}: {str(exc).strip().splitlines()[0]}") from None
        X_new = np.asarray(flat_new, dtype=X.dtype).reshape(-1, *X.shape[1:])
        y_new = np.asarray(y_new, dtype=y.dtype)
    else:
        X_new, y_new = X, y  # already at the targets
    after = np.bincount(y_new, minlength=len(class_names))
    record = {"method": cfg.kind, "seed": seed, "targets": {class_names[k]: v for k, v in targets.items()},
              "train_before": dict(zip(class_names, counts.tolist())),
              "train_after": dict(zip(class_names, after.tolist()))}
    return X_new, y_new, record


def build_resample(cfg, y: np.ndarray, class_names: list[str]) -> BalancePlan:
    """The plan of an array strategy: plain CE; build_plan applies `resampler` to the training arrays."""
    def resampler(X: np.ndarray, y_train: np.ndarray, seed: int):
        return resample_arrays(cfg, X, y_train, class_names, seed)
    return BalancePlan(None, record={"strategy": cfg.kind}, resampler=resampler)
