"""`kind: csv` — a delimited text table, optionally with a separate test file."""

from __future__ import annotations

import csv as _csv
import io
import re
from pathlib import Path

import numpy as np
import pandas as pd

from imbrun.config.data import CsvData
from imbrun.data.base import LoadedData
from imbrun.data.files import existing_file, source_record
from imbrun.data.table import TableSpec, frame_to_data
from imbrun.errors import ImbrunError


def load_csv(cfg: CsvData, group_by: str | None = None,
             categories: dict[str, list[str]] | None = None) -> LoadedData:
    """Read `cfg.path` (and `cfg.test_path`) into arrays; the test file reuses the training classes/categories.

    `group_by` names a column of group ids (e.g. a patient) kept out of the features, for group-aware splits.
    `categories` (a trained run's LoadedData.categories) encodes the categorical columns as that run did.
    """
    spec = TableSpec(label=cfg.label, features=cfg.features, drop=tuple(cfg.drop), categorical=cfg.categorical,
                     group_column=group_by, channels=cfg.sequence.channels if cfg.sequence else None,
                     layout=cfg.sequence.layout if cfg.sequence else "channel_major")
    frame = read_table(cfg.path, cfg)
    data, categories = frame_to_data(frame, spec, cfg.path, categories=categories)
    data.sources = [source_record(cfg.path)]
    if cfg.test_path:
        test_frame = read_table(cfg.test_path, cfg, columns=list(frame.columns))
        data.test, _ = frame_to_data(test_frame, spec, cfg.test_path, class_names=data.class_names,
                                     categories=categories)
        data.sources.append(source_record(cfg.test_path))
    return data


def read_table(path: str, cfg: CsvData, columns: list | None = None) -> pd.DataFrame:
    """Parse the file as strings (types are decided per column later); check header, emptiness and raggedness."""
    existing_file(path)
    header = _has_header(path, cfg) if cfg.header == "auto" else cfg.header
    check_field_counts(path, cfg.sep, cfg.quote)
    try:
        frame = pd.read_csv(path, sep=cfg.sep, header=0 if header else None, dtype=str, keep_default_na=False,
                            na_values=cfg.missing, skipinitialspace=True, quotechar=cfg.quote,
                            engine="python" if len(cfg.sep) > 1 else "c")
    except pd.errors.EmptyDataError:
        raise ImbrunError(f"{path}: the file is empty") from None
    except pd.errors.ParserError as exc:
        raise ImbrunError(f"{path}: {_ragged_message(str(exc))}") from None
    except UnicodeDecodeError as exc:
        raise ImbrunError(f"{path}: not UTF-8 text (byte {exc.start})") from None
    if not header:
        frame.columns = list(columns) if columns is not None and len(columns) == frame.shape[1] else \
            list(range(frame.shape[1]))
    if frame.empty:
        raise ImbrunError(f"{path}: no data rows (only a header)")
    if columns is not None and list(frame.columns) != list(columns):
        raise ImbrunError(f"{path}: columns differ from the training file ({len(frame.columns)} vs {len(columns)} "
                          f"columns)")
    return frame


def _has_header(path: str, cfg: CsvData) -> bool:
    """A first row of non-numbers above rows that do hold numbers is a header."""
    with open(path, newline="", encoding="utf-8", errors="replace") as handle:
        if len(cfg.sep) == 1:
            rows = [row for _, row in zip(range(20), _csv.reader(handle, delimiter=cfg.sep, quotechar=cfg.quote)) if row]
        else:  # a regular expression such as "\\s+"
            rows = [re.split(cfg.sep, line.strip()) for _, line in zip(range(20), handle) if line.strip()]
    if len(rows) < 2:
        return bool(rows) and not any(_is_number(c) for c in rows[0])
    first_numeric = sum(_is_number(c) for c in rows[0])
    rest_numeric = max(sum(_is_number(c) for c in row) for row in rows[1:])
    return first_numeric == 0 and rest_numeric > 0


def _is_number(text: str) -> bool:
    try:
        float(text)
        return True
    except ValueError:
        return False


def _ragged_message(parser_error: str) -> str:
    # pandas: "Error tokenizing data. C error: Expected 5 fields in line 4, saw 6"
    detail = parser_error.split("C error: ")[-1].strip().split(". ")[0]
    return f"ragged rows: {detail}"


def check_field_counts(path: str, sep: str, quote: str) -> None:
    """Every non-blank line must hold as many fields as the first; pandas would pad short rows with NaN."""
    raw = Path(path).read_bytes()
    if not raw.strip():
        return  # reported as an empty file by the reader
    if len(sep) == 1 and quote.encode() not in raw and len(sep.encode()) == 1:
        counts, line_numbers = _count_fields_fast(raw, sep.encode())
    else:
        counts, line_numbers = _count_fields_slow(raw, sep, quote)
    if len(counts) == 0:
        return
    bad = np.flatnonzero(counts != counts[0])
    if bad.size:
        raise ImbrunError(f"{path}: ragged rows: Expected {counts[0]} fields in line {line_numbers[bad[0]]}, "
                          f"saw {counts[bad[0]]}")


def _count_fields_fast(raw: bytes, sep: bytes) -> tuple[np.ndarray, np.ndarray]:
    """Fields per non-blank line, counted with numpy over the bytes (for files without quotes)."""
    data = np.frombuffer(raw, dtype=np.uint8)
    ends = np.flatnonzero(data == ord("\n"))
    if len(data) and data[-1] != ord("\n"):
        ends = np.append(ends, len(data))
    starts = np.concatenate(([0], ends[:-1] + 1)).astype(np.int64)
    separators = np.flatnonzero(data == sep[0])
    counts = np.searchsorted(separators, ends) - np.searchsorted(separators, starts) + 1
    # blank (whitespace-only) lines are skipped, as pandas does; only short lines can be blank in practice
    short = np.flatnonzero(ends - starts < 16)
    blank = np.zeros(len(starts), dtype=bool)
    blank[short] = [not raw[starts[i]:ends[i]].strip() for i in short]
    keep = ~blank
    return counts[keep], (np.arange(len(starts)) + 1)[keep]


def _count_fields_slow(raw: bytes, sep: str, quote: str) -> tuple[np.ndarray, np.ndarray]:
    text = raw.decode("utf-8", errors="replace")
    counts, numbers = [], []
    if len(sep) == 1:
        reader = _csv.reader(io.StringIO(text, newline=""), delimiter=sep, quotechar=quote)
        for row in reader:
            if row:
                counts.append(len(row))
                numbers.append(reader.line_num)
    else:
        for number, line in enumerate(text.splitlines(), start=1):
            if line.strip():
                counts.append(len(re.split(sep, line.strip())))
                numbers.append(number)
    return np.asarray(counts), np.asarray(numbers)
