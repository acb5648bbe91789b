"""Divide loaded rows into train / validation / test, stratified by class, reproducibly."""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
from sklearn.model_selection import train_test_split

from imbrun.config.train import SplitConfig
from imbrun.data.base import LoadedData
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


def split_data(data: LoadedData, cfg: SplitConfig, seed: int) -> Splits:
    """Stratified train/val/test split; a user-given test file replaces the test share."""
    seed = cfg.seed if cfg.seed is not None else seed
    whole = Part(data.X, data.y, data.row_ids, data.groups)
    index = np.arange(len(whole))
    if data.test is not None:
        train_idx, val_idx = _split(index, data.y, cfg.val_size, cfg.stratify, seed, data.class_names, "validation")
        test = Part(data.test.X, data.test.y, data.test.row_ids, data.test.groups)
    else:
        rest_idx, test_idx = _split(index, data.y, cfg.test_size, cfg.stratify, seed, data.class_names, "test")
        val_share = cfg.val_size / (1.0 - cfg.test_size)
        train_idx, val_idx = _split(rest_idx, data.y[rest_idx], val_share, cfg.stratify, seed + 1,
                                    data.class_names, "validation")
        test = whole.take(test_idx)
    splits = Splits(whole.take(np.sort(train_idx)), whole.take(np.sort(val_idx)), test, data.class_names)
    _check_training_classes(splits)
    return splits


def _split(index, y, share, stratify, seed, class_names, what):
    counts = np.bincount(y, minlength=len(class_names))
    if stratify:
        present = counts[counts > 0]
        too_few = np.flatnonzero((counts > 0) & (counts < 2))
        if too_few.size:
            code = too_few[0]
            raise ImbrunError(f"split: class {class_names[code]!r} has {counts[code]} row(s) left for the "
                              f"{what} split; a stratified split needs at least 2 (add rows, drop the "
                              f"class, or set split.stratify: false)")
        n_share = int(np.ceil(share * len(y)))
        if n_share < len(present) or len(y) - n_share < len(present):
            raise ImbrunError(f"split: {len(y)} rows cannot be stratified into a {what} share of {share:.3g} with "
                              f"{len(present)} classes (needs at least one row per class on each side)")
    return train_test_split(index, test_size=share, random_state=seed, shuffle=True,
                            stratify=y if stratify else None)


def _check_training_classes(splits: Splits) -> None:
    counts = np.bincount(splits.train.y, minlength=len(splits.class_names))
    if (counts > 0).sum() < 2:
        raise ImbrunError(f"split: the training split holds a single class ({splits.class_names[int(counts.argmax())]!r}); "
                          f"a classifier needs at least two")
