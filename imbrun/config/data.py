"""The `data` section: one schema per loader kind, chosen by `kind`."""

from typing import Literal

from pydantic import Field

from imbrun.config.base import Section


class SequenceLayout(Section):
    """How a flat row of features becomes a (timesteps, channels) series for sequence models."""

    channels: int = Field(1, ge=1)
    layout: Literal["channel_major", "time_major"] = "channel_major"


class CsvData(Section):
    """A CSV/TSV table: one row per example, the label in one column."""

    kind: Literal["csv"] = "csv"
    path: str
    test_path: str | None = None
    header: bool | Literal["auto"] = "auto"
    sep: str = ","
    label: str | int = -1
    features: list[str | int] | None = None
    drop: list[str | int] = []
    categorical: list[str | int] | Literal["auto"] = "auto"
    missing: list[str] = ["", "?", "NaN", "nan", "NA"]
    sequence: SequenceLayout | None = None
    group_column: str | int | None = None
