"""Divide loaded rows into train / validation / test, stratified by class, reproducibly."""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np
from sklearn.model_selection import StratifiedGroupKFold, train_test_split

from imbrun.config.train import SplitConfig
from imbrun.data.base import LoadedData
from imbrun.data.table import unseen_category_warnings
from imbrun.errors import ImbrunError


@dataclass
class Part:
    """One split: features, labels and the source row ids."""

    X: np.ndarray
    y: np.ndarray
    row_ids: np.ndarray
    groups: np.ndarray | None = None

    def take(self, index: np.ndarray) -> Part:
        groups = self.groups[index] if self.groups is not None else None
        return Part(self.X[index], self.y[index], self.row_ids[index], groups)

    def __len__(self) -> int:
        return len(self.y)


@dataclass
class Splits:
    train: Part
    val: Part
    test: Part
    class_names: list[str]
    warnings: list[str] = field(default_factory=list)


def split_data(data: LoadedData, cfg: SplitConfig, seed: int) -> Splits:
    """Stratified train/val/test split; a user-given test file replaces the test share.

    With groups (split.group_by), every group lands in exactly one split (stratified where possible).
    """
    seed = cfg.seed if cfg.seed is not None else seed
    _check_classes(data)
    whole = Part(data.X, data.y, data.row_ids, data.groups)
    index = np.arange(len(whole))
    split = _group_split if data.groups is not None else _split
    extra = (data.groups,) if data.groups is not None else ()
    if data.test is not None:
        train_idx, val_idx = split(index, data.y, *extra, cfg.val_size, cfg.stratify, seed, data.class_names,
                                   "validation")
        test = Part(data.test.X, data.test.y, data.test.row_ids, data.test.groups)
    else:
        if cfg.folds is not None:
            rest_idx, test_idx = _fold(index, data.y, data.groups, cfg, seed, data.class_names)
            test_share = 1.0 / cfg.folds
        else:
            rest_idx, test_idx = split(index, data.y, *extra, cfg.test_size, cfg.stratify, seed, data.class_names,
                                       "test")
            test_share = cfg.test_size
        val_share = cfg.val_size / (1.0 - test_share)
        rest_extra = (data.groups[rest_idx],) if extra else ()
        inner_train, inner_val = split(np.arange(len(rest_idx)), data.y[rest_idx], *rest_extra, val_share,
                                       cfg.stratify, seed + 1, data.class_names, "validation")
        train_idx, val_idx = rest_idx[inner_train], rest_idx[inner_val]
        test = whole.take(test_idx)
    splits = Splits(whole.take(np.sort(train_idx)), whole.take(np.sort(val_idx)), test, data.class_names)
    _check_training_classes(splits)
    _warn_shared_groups(splits)
    if data.test is not None:
        splits.warnings += [w["message"] for w in unseen_category_warnings(data.test.notes, "test file")]
    return splits


def _fold(index, y, groups, cfg: SplitConfig, seed: int, class_names):
    """(rest, test) for fold `cfg.fold` of a k-fold split: stratified, and grouped when groups are given."""
    from sklearn.model_selection import GroupKFold, KFold, StratifiedKFold

    if groups is not None:
        splitter = (StratifiedGroupKFold if cfg.stratify else GroupKFold)(cfg.folds, shuffle=True, random_state=seed)
    else:
        splitter = (StratifiedKFold if cfg.stratify else KFold)(cfg.folds, shuffle=True, random_state=seed)
    if cfg.stratify:
        counts = np.bincount(y, minlength=len(class_names))
        small = np.flatnonzero((counts > 0) & (counts < cfg.folds))
        if small.size and groups is None:
            raise ImbrunError(f"split: class {class_names[small[0]]!r} has {counts[small[0]]} row(s); "
                              f"{cfg.folds}-fold stratified splitting needs at least {cfg.folds}")
    if groups is not None and len(np.unique(groups)) < cfg.folds:
        raise ImbrunError(f"split.group_by: {len(np.unique(groups))} groups cannot make {cfg.folds} folds")
    rest, test = list(splitter.split(index, y, groups))[cfg.fold]
    return index[rest], index[test]


def splits_record(splits: Splits) -> dict:
    """splits.json: rows and class counts per split, which groups went where, and any warnings."""
    record = {}
    for name in ("train", "val", "test"):
        part = getattr(splits, name)
        counts = np.bincount(part.y, minlength=len(splits.class_names)).tolist()
        record[name] = {"rows": len(part), "class_counts": dict(zip(splits.class_names, counts))}
        if part.groups is not None:
            record[name]["groups"] = sorted(map(str, np.unique(part.groups)))
    return {**record, "warnings": splits.warnings}


def _group_split(index, y, groups, share, stratify, seed, class_names, what):
    """Whole groups to each side: the first fold of a (stratified) group k-fold with k = round(1 / share)."""
    n_groups = len(np.unique(groups))
    folds = max(2, int(round(1.0 / share)))
    if n_groups < folds:
        raise ImbrunError(f"split.group_by: {n_groups} groups cannot give a {what} share of {share:.3g} "
                          f"(needs at least {folds} groups)")
    if stratify:
        splitter = StratifiedGroupKFold(n_splits=folds, shuffle=True, random_state=seed)
    else:
        from sklearn.model_selection import GroupKFold
        splitter = GroupKFold(n_splits=folds, shuffle=True, random_state=seed)
    keep, held = next(splitter.split(index, y, groups))
    return index[keep], index[held]


def split_warnings(splits: Splits) -> list[dict]:
    """The split's warnings as warnings.json entries (code "split"), so `imbrun train` prints them too."""
    return [{"code": "split", "message": message} for message in splits.warnings]


def _warn_shared_groups(splits: Splits) -> None:
    """A group (e.g. a patient) in the training or validation split and in the user's test file leaks into it."""
    if splits.test.groups is None:
        return
    tested = set(map(str, splits.test.groups))
    for name in ("train", "val"):
        groups = getattr(splits, name).groups
        shared = sorted(set(map(str, groups)) & tested) if groups is not None else []
        if shared:
            splits.warnings.append(f"groups {shared[:10]}{' ...' if len(shared) > 10 else ''} appear in both the "
                                   f"{name} split and the test file")


def _split(index, y, share, stratify, seed, class_names, what):
    n_share = int(np.ceil(share * len(y)))  # as train_test_split counts a float share
    if n_share < 1 or len(y) - n_share < 1:
        raise ImbrunError(f"split: {len(y)} row(s) cannot give a {what} share of {share:.3g} and rows besides it "
                          f"(needs at least one row on each side); add rows")
    counts = np.bincount(y, minlength=len(class_names))
    if stratify:
        present = counts[counts > 0]
        too_few = np.flatnonzero((counts > 0) & (counts < 2))
        if too_few.size:
            code = too_few[0]
            raise ImbrunError(f"split: class {class_names[code]!r} has {counts[code]} row to share between the "
                              f"{what} split and the rest; a stratified split needs at least 2 per class (add rows, "
                              f"drop the class, or set split.stratify: false)")
        if n_share < len(present) or len(y) - n_share < len(present):
            raise ImbrunError(f"split: {len(y)} rows cannot be stratified into a {what} share of {share:.3g} with "
                              f"{len(present)} classes (needs at least one row per class on each side)")
    return train_test_split(index, test_size=share, random_state=seed, shuffle=True,
                            stratify=y if stratify else None)


def _check_classes(data: LoadedData) -> None:
    present = np.flatnonzero(np.bincount(data.y, minlength=len(data.class_names)))
    if present.size == 0:
        raise ImbrunError("split: the data has no rows")
    if present.size == 1:
        raise ImbrunError(f"split: the data holds a single class ({data.class_names[present[0]]!r}, {len(data.y)} "
                          f"rows); a classifier needs at least two")


def _check_training_classes(splits: Splits) -> None:
    counts = np.bincount(splits.train.y, minlength=len(splits.class_names))
    if (counts > 0).sum() < 2:
        raise ImbrunError(f"split: the training split holds a single class ({splits.class_names[int(counts.argmax())]!r}); "
                          f"a classifier needs at least two")
