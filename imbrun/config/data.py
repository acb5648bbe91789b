"""The `data` section: one schema per loader kind, chosen by `kind`."""

from typing import Literal

from pydantic import Field, field_serializer, model_validator

from imbrun.config.base import Section
from imbrun.redact import redact_url


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
    quote: str = Field('"', min_length=1, max_length=1)
    label: str | int = -1
    features: list[str | int] | None = None
    drop: list[str | int] = []
    categorical: list[str | int] | Literal["auto"] = "auto"
    missing: list[str] = ["", "?", "NaN", "nan", "NA"]
    sequence: SequenceLayout | None = None


class MnistData(Section):
    """MNIST or Fashion-MNIST IDX files: keep chosen classes, cap or thin them, relabel."""

    kind: Literal["mnist"] = "mnist"
    path: str = "data/mnist"
    variant: Literal["mnist", "fashion"] = "mnist"
    part: Literal["train", "test", "both"] = "test"
    classes: list[int] | None = None
    per_class: dict[int, int | float] | None = None  # a cap (int) or a fraction (float <= 1) per class
    relabel: dict[int, int] | None = None
    class_names: list[str] | None = None
    subset_seed: int = 0
    test_from_rest: bool = False  # the rows of the kept classes that per_class left out become the test set
    flatten: bool = True
    scale: float = 1 / 255
    download: bool = False


class EcgBeatsData(Section):
    """MIT-BIH Arrhythmia heartbeats cut from WFDB records into 187-sample windows, AAMI classes N/S/V/F/Q."""

    kind: Literal["ecg_beats"] = "ecg_beats"
    path: str = "data/mitdb"
    records: list[str] | None = None
    annotations_path: str | None = None
    channel: int = Field(0, ge=0)
    drop_paced: bool = False
    download: bool = False


class MysqlData(Section):
    """MySQL/MariaDB data: a mysqldump .sql file, a tab-separated export, or a live server (url + query/table)."""

    kind: Literal["mysql"] = "mysql"
    path: str | None = None  # a .sql dump or a TSV export (SELECT ... INTO OUTFILE, mysql --batch)
    format: Literal["auto", "dump", "tsv"] = "auto"  # auto: .sql -> dump, anything else -> tsv
    url: str | None = None  # mysql+pymysql://user@host:3306/db; the password belongs in password_env
    password_env: str | None = None
    table: str | None = None
    query: str | None = None
    header: bool | None = None  # TSV exports: None detects a header line
    columns: list[str] | None = None  # TSV exports without a header: the column names
    label: str | int = -1
    features: list[str | int] | None = None
    drop: list[str | int] = []
    categorical: list[str | int] | Literal["auto"] = "auto"
    sequence: SequenceLayout | None = None

    @model_validator(mode="after")
    def _one_source(self):
        if (self.path is None) == (self.url is None):
            raise ValueError("give either path (a dump or export file) or url (a live server), not "
                             + ("both" if self.path else "neither"))
        if self.url is not None and (self.query is None) == (self.table is None):
            raise ValueError("a live server needs either table or query")
        if self.path is not None and self.query is not None:
            raise ValueError("query applies to a live server (url), not to a file")
        if self.path is not None and self._is_dump() and self.table is None:
            raise ValueError("a mysqldump file needs table: the table to read")
        return self

    def _is_dump(self) -> bool:
        return self.format == "dump" or (self.format == "auto" and str(self.path).lower().endswith(".sql"))

    @field_serializer("url")
    def _redacted(self, url: str | None) -> str | None:
        # config.yaml, logs and reports never see a password (or a secret query value) written into the URL
        return redact_url(url) if url else url
