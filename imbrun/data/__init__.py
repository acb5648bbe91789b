"""Loaders: one module per source kind, registered in LOADERS (kind -> load(cfg) -> LoadedData)."""

from collections.abc import Callable

from imbrun.data.base import LoadedData
from imbrun.data.csv import load_csv

LOADERS: dict[str, Callable[..., LoadedData]] = {
    "csv": load_csv,
}


def load_data(cfg) -> LoadedData:
    """Load the data section with the loader registered for its kind."""
    return LOADERS[cfg.kind](cfg)
