"""Read a MySQL tab-separated export (`SELECT ... INTO OUTFILE`, `mysql --batch`) into a DataFrame.

Also home of the typing rule shared by the three MySQL readers (dump, TSV, live server), so that
one table comes out of all three with the same dtypes:

- a numeric column becomes int64 when it has no NULL and every value is a whole number that fits,
  else float64 with NaN for NULL (a DOUBLE holding 1, 2, 3 is int64 everywhere, because a dump
  and an export both write it as "1", "2", "3");
- a text column becomes pandas' `str` dtype, NULL -> NaN;
- a column with no value at all (every row NULL, or no rows) becomes float64.
"""

from __future__ import annotations

import itertools
import math
import re
from collections.abc import Iterator, Sequence
from pathlib import Path

import numpy as np
import pandas as pd

from imbrun.errors import ImbrunError

# A number as MySQL writes it (used to guess a header line).
_NUMBER = re.compile(r"[-+]?(?:\d+(?:\.\d*)?|\.\d+)(?:[eE][-+]?\d+)?")
_INT64_LIMIT = 2.0**63
_TSV_ESCAPES = {"0": "\0", "b": "\b", "n": "\n", "r": "\r", "t": "\t", "Z": "\x1a"}
_TSV_ESCAPE = re.compile(r"\\(.)", re.S)
_TSV_FIELD = re.compile(r"((?:[^\t\\]|\\.)*)(\t|$)", re.S)
_IDENTIFIER = re.compile(r"[A-Za-z_$][\w$]*")


def _plain(joined: str) -> bool:
    """No character that Python's int()/float() accept but MySQL never writes in a number."""
    return joined.isascii() and not any(c in joined for c in " _\t\n\r\x0b\x0c")


def try_number_chunk(texts: list[str | None]) -> np.ndarray | None:
    """Number texts (None = NULL) -> int64 array if all are integers, else float64 with NaN; None if one is not a number."""
    nulls = texts.count(None)
    filled = [t if t is not None else "nan" for t in texts] if nulls else texts
    if _plain("".join(filled)):
        if not nulls:
            try:
                return np.fromiter(map(int, texts), np.int64, len(texts))
            except (ValueError, OverflowError):
                pass  # a decimal point, an exponent, or beyond int64: read as float
        try:
            numbers = np.fromiter(map(float, filled), np.float64, len(filled))
        except ValueError:
            return None
        if np.isnan(numbers).sum() == nulls and not np.isinf(numbers).any():
            return numbers
    return None


def number_chunk(texts: list[str | None], column: str, where: str) -> np.ndarray:
    """Like try_number_chunk, but a value that is not a number is an error naming it."""
    numbers = try_number_chunk(texts)
    if numbers is None:
        bad = next((t for t in texts if t is not None and try_number_chunk([t]) is None), texts[0])
        raise ImbrunError(f"{where}: column {column!r} is numeric but holds {bad!r}, expected a number")
    return numbers


def numeric_column(chunks: list[np.ndarray]) -> np.ndarray:
    """Join chunks; whole numbers without NULL become int64 (a DOUBLE 1 is written "1" by every export)."""
    if chunks and all(c.dtype == np.int64 for c in chunks):
        return np.concatenate(chunks)
    joined = np.concatenate([c.astype(np.float64) for c in chunks]) if chunks else np.empty(0)
    whole = len(joined) and np.isfinite(joined).all() and (joined == np.round(joined)).all()
    if whole and np.abs(joined).max() < _INT64_LIMIT:
        return joined.astype(np.int64)
    return joined


def frame_from_columns(names: list[str], columns: list[list], numeric: list[bool]) -> pd.DataFrame:
    """Columns -> typed DataFrame: a numeric column is a list of number chunks, a text column a list of str/None."""
    data = {}
    for name, values, is_numeric in zip(names, columns, numeric):
        if is_numeric:
            data[name] = numeric_column(values)
        elif all(v is None for v in values):
            data[name] = np.full(len(values), math.nan)
        else:
            data[name] = pd.array(values, dtype="str")
    return pd.DataFrame(data, columns=names)


def _decode_field(field: str, nulls: frozenset[str]) -> str | None:
    """One raw field -> its text; NULL markers -> None; `\\x` escapes decoded as LOAD DATA does."""
    if field in nulls:
        return None
    if "\\" not in field:
        return field
    return _TSV_ESCAPE.sub(lambda m: _TSV_ESCAPES.get(m.group(1), m.group(1)), field)


def _records(path: Path, encoding: str) -> Iterator[tuple[int, str]]:
    """Yield (line number, record) joining lines whose newline is escaped by a backslash (INTO OUTFILE)."""
    with open(path, "rb") as f:
        pending, start = "", 0
        for line_no, raw in enumerate(f, 1):
            try:
                line = raw.decode(encoding)
            except UnicodeDecodeError as e:
                raise ImbrunError(f"{path}: line {line_no} is not valid {encoding} ({e.reason})") from None
            if not pending:
                start = line_no
            pending += line
            body = pending[:-1] if pending.endswith("\n") else pending
            trailing = len(body) - len(body.rstrip("\\"))
            if pending.endswith("\n") and trailing % 2 == 1:
                continue  # "\<newline>" is a newline inside a value, the record goes on
            yield start, body  # a "\r" before the newline is data: mysql --batch does not escape it
            pending = ""
        if pending:
            yield start, pending


def _split(record: str) -> list[str]:
    """Split one record on tabs that are not escaped."""
    if "\\" not in record:
        return record.split("\t")
    fields = [m.group(1) for m in _TSV_FIELD.finditer(record)]
    return fields[:-1] if len(fields) > 1 and fields[-1] == "" and not record.endswith("\t") else fields


def _is_number(text: str | None) -> bool:
    return text is not None and _NUMBER.fullmatch(text) is not None


def _looks_like_header(first: list[str], rest: list[list[str | None]], columns: list[str] | None) -> bool:
    """Guess whether the first record names the columns (mysql --batch) or is data (INTO OUTFILE)."""
    if columns is not None and first == list(columns):
        return True
    if any(f == "\\N" for f in first) or len(set(first)) != len(first):
        return False
    for j, name in enumerate(first):
        body = [row[j] for row in rest if row[j] is not None]
        if body and all(_is_number(v) for v in body):
            return not _is_number(name)  # a numeric column decides: is its first field a number?
    return all(_IDENTIFIER.fullmatch(f) for f in first)


def read_tsv_export(
    path,
    header: bool | None = None,
    columns: list[str] | None = None,
    *,
    nulls: Sequence[str] = ("\\N", "NULL"),
    encoding: str = "utf-8",
) -> pd.DataFrame:
    """Read a MySQL tab-separated export into a typed DataFrame.

    Args:
        path: the file written by `SELECT ... INTO OUTFILE` or `mysql --batch`.
        header: True/False, or None to guess: the first line is a header when it equals `columns`, or when
            a numeric column's first field is not a number; with no numeric column, when all its fields are
            distinct identifiers.
        columns: names for a file without header (else c0, c1, ...); with a header, the columns to keep.
        nulls: fields read as NULL; `mysql --batch` writes NULL as the bare word NULL, INTO OUTFILE as \\N
            (so a text value "NULL" reads as NULL unless nulls=("\\N",)).
        encoding: of the file; an undecodable line is an error naming it.
    Returns:
        One column per field, typed by the rule in this module's docstring.
    Example:
        >>> read_tsv_export("labels.tsv", columns=["id", "label", "x"])
    """
    path = Path(path)
    if not path.is_file():
        raise ImbrunError(f"{path}: no such file")
    marks = frozenset(nulls)
    records = ((line_no, _split(rec)) for line_no, rec in _records(path, encoding))
    head = list(itertools.islice(records, 4000))  # enough rows to guess the header and the width
    if not head:
        raise ImbrunError(f"{path}: the file is empty, expected tab-separated rows")
    first_line, first = head[0]
    width = len(first)
    if header is None:
        rest = [[_decode_field(f, marks) for f in fields] for _, fields in head[1:] if len(fields) == width]
        header = _looks_like_header(first, rest, columns)
    if header:
        names = [_decode_field(f, frozenset()) for f in first]
        head = head[1:]
    else:
        names = list(columns) if columns is not None else [f"c{j}" for j in range(width)]
        if len(names) != width:
            raise ImbrunError(f"{path}: line {first_line} has {width} fields but {len(names)} column names were given")
    cells: list[list] = [[] for _ in range(width)]
    for line_no, fields in itertools.chain(head, records):
        if len(fields) != width:
            raise ImbrunError(f"{path}: line {line_no} has {len(fields)} fields, expected {width}")
        for j, f in enumerate(fields):
            cells[j].append(_decode_field(f, marks))
    chunks = [try_number_chunk(col) for col in cells]
    numeric = [c is not None and len(c) > 0 for c in chunks]
    parsed = [[c] if is_num else col for c, col, is_num in zip(chunks, cells, numeric)]
    frame = frame_from_columns(names, parsed, numeric)
    return _select(frame, columns if header else None, path)


def _select(frame: pd.DataFrame, columns: list[str] | None, path: Path) -> pd.DataFrame:
    """Keep the named columns, in the order given; an unknown name lists the ones there are."""
    if columns is None:
        return frame
    missing = [c for c in columns if c not in frame.columns]
    if missing:
        raise ImbrunError(f"{path}: no column {missing[0]!r}; the columns are {', '.join(frame.columns)}")
    return frame[list(columns)]
