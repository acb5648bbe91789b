"""Loaders: one module per source kind, registered in LOADERS (kind -> load(cfg) -> LoadedData)."""

from collections.abc import Callable

import numpy as np

from imbrun.data.base import LoadedData
from imbrun.errors import ImbrunError


def _csv(cfg, group_by: str | None, categories: dict | None) -> LoadedData:
    from imbrun.data.csv import load_csv

    return load_csv(cfg, group_by, categories)


def _mnist(cfg, group_by: str | None, categories: dict | None) -> LoadedData:
    _no_groups("mnist", group_by)
    from imbrun.data.mnist import load_mnist

    def load(per_class):
        return load_mnist(cfg.path, variant=cfg.variant, part=cfg.part, classes=cfg.classes, per_class=per_class,
                          relabel=cfg.relabel, class_names=cfg.class_names, subset_seed=cfg.subset_seed,
                          flatten=cfg.flatten, scale=cfg.scale, download=cfg.download)

    data = load(cfg.per_class)
    if cfg.test_from_rest:
        everything = load(None)
        rest = ~np.isin(everything.row_ids, data.row_ids)
        data.test = LoadedData(everything.X[rest], everything.y[rest], everything.class_names,
                               everything.row_ids[rest])
    return data


def _ecg_beats(cfg, group_by: str | None, categories: dict | None) -> LoadedData:
    from imbrun.data.ecg_beats import load_ecg_beats

    if group_by not in (None, "record"):
        raise ImbrunError(f"split.group_by: ecg_beats data can be grouped by 'record' only, got {group_by!r}")
    data = load_ecg_beats(cfg.path, cfg.records, annotations_folder=cfg.annotations_path, channel=cfg.channel,
                          drop_paced=cfg.drop_paced, download=cfg.download)
    if group_by is None:
        data.groups = None
    return data


def _mysql(cfg, group_by: str | None, categories: dict | None) -> LoadedData:
    from imbrun.data.mysql import load_mysql

    return load_mysql(cfg, group_by, categories)


def _no_groups(kind: str, group_by: str | None) -> None:
    if group_by is not None:
        raise ImbrunError(f"split.group_by: {kind} data has no group column (got {group_by!r})")


# Each loader imports its own dependencies (wfdb, SQLAlchemy, ...) only when used. One signature:
# (data section, split.group_by, a trained run's one-hot categories or None; only table kinds have categories).
LOADERS: dict[str, Callable[..., LoadedData]] = {
    "csv": _csv,
    "mnist": _mnist,
    "ecg_beats": _ecg_beats,
    "mysql": _mysql,
}


def load_data(cfg, group_by: str | None = None, categories: dict[str, list[str]] | None = None) -> LoadedData:
    """Load the data section with the loader registered for its kind; `group_by` is split.group_by.

    `categories` (model.json's, from LoadedData.categories at training) makes table loaders one-hot encode
    categorical columns into the training columns, in the training order.
    """
    return LOADERS[cfg.kind](cfg, group_by, categories)
