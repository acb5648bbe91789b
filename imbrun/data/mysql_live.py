"""Read a table or query from a live MySQL/MariaDB server (SQLAlchemy + PyMySQL) into a DataFrame.

Rows are streamed (server-side cursor) and typed by the same rule as the dump and TSV readers
(`imbrun.data.mysql_tsv`), so one table gives an identical DataFrame on all three paths.
"""

from __future__ import annotations

import datetime as dt
import hashlib
import math
import os
from decimal import Decimal

import numpy as np
import pandas as pd
import sqlalchemy as sa

from imbrun.data.mysql_tsv import frame_from_columns
from imbrun.errors import ImbrunError
from imbrun.redact import MASK, redact_text, redact_url

# PyMySQL FIELD_TYPE codes of numeric columns: DECIMAL, TINY, SHORT, LONG, FLOAT, DOUBLE,
# LONGLONG, INT24, YEAR, BIT (bytes, read as their big-endian number), NEWDECIMAL.
_NUMERIC_CODES = {0, 1, 2, 3, 4, 5, 8, 9, 13, 16, 246}
_CONNECT_TIMEOUT_S = 10


def _shown(url: sa.engine.URL) -> str:
    """A parsed URL as error lines show it (imbrun.redact: password and secret query values as ***)."""
    return redact_url(url.render_as_string(hide_password=False))


def _engine_url(url: str, password_env: str | None) -> sa.engine.URL:
    """The URL to connect to, with the password from `password_env` if given."""
    try:
        parsed = sa.engine.make_url(url)
    except sa.exc.ArgumentError:
        parsed = None
    if parsed is None or not parsed.drivername.startswith(("mysql", "mariadb")):
        raise ImbrunError(f"{redact_url(url)}: not a MySQL URL, expected mysql+pymysql://user@host:3306/db")
    if parsed.host and "@" in parsed.host:  # an unencoded '@' in the password: the host follows the LAST '@'
        rest, host = parsed.host.rsplit("@", 1)
        parsed = parsed.set(password=f"{parsed.password or ''}@{rest}", host=host)
    if password_env is not None:
        password = os.environ.get(password_env)
        if password is None:
            raise ImbrunError(f"{redact_url(url)}: environment variable {password_env} (the password) is not set")
        parsed = parsed.set(password=password)
    elif parsed.password == MASK:  # a run's config.yaml: the password written into the URL was not saved
        raise ImbrunError(f"{redact_url(url)}: the password in this URL was redacted when the run was saved; "
                          f"put it in an environment variable and name it in data.password_env")
    return parsed


def _explain(error: sa.exc.SQLAlchemyError, url: sa.engine.URL) -> ImbrunError:
    """One line for a driver error; the password never appears in it."""
    args = getattr(getattr(error, "orig", None), "args", ())
    code, text = (args[0], args[1]) if len(args) >= 2 and isinstance(args[0], int) else (None, str(error).split("\n")[0])
    where = _shown(url)
    if code == 2003:
        line = f"{where}: cannot connect to the MySQL server at {url.host}:{url.port or 3306} ({text})"
    elif code == 1045:
        line = f"{where}: the server refused user {url.username!r}: wrong user name or password ({text})"
    else:
        line = f"{where}: {text}"
    return ImbrunError(redact_text(line, url.render_as_string(hide_password=False)).replace("\n", " "))


def _text(value) -> str | None:
    """A non-numeric value as the text a dump or export writes for it."""
    if value is None or isinstance(value, str):
        return value
    if isinstance(value, (bytes, bytearray)):
        return bytes(value).decode("utf-8", errors="replace")  # binary columns: not meant as features
    if isinstance(value, dt.timedelta):  # TIME: [-]HH:MM:SS[.ffffff]
        micro = abs(value) // dt.timedelta(microseconds=1)
        seconds, fraction = divmod(micro, 10**6)
        minutes, seconds = divmod(seconds, 60)
        hours, minutes = divmod(minutes, 60)
        sign = "-" if value < dt.timedelta(0) else ""
        return f"{sign}{hours:02d}:{minutes:02d}:{seconds:02d}" + (f".{fraction:06d}" if fraction else "")
    return str(value)  # date "2024-01-31", datetime "2024-01-31 12:00:00"


def _number_chunk(values: list) -> np.ndarray:
    """Numbers from the driver (int, float, Decimal, BIT bytes, None) -> int64 if all are ints, else float64."""
    values = [int.from_bytes(v, "big") if isinstance(v, bytes) else v for v in values]
    if all(type(v) is int for v in values):
        try:
            return np.array(values, dtype=np.int64)
        except OverflowError:
            pass  # an unsigned BIGINT beyond int64
    return np.array([math.nan if v is None else float(v) for v in values], dtype=np.float64)


def _select(engine: sa.Engine, table: str) -> sa.Select:
    """SELECT * FROM `table` ORDER BY its primary key; the name is quoted by the dialect."""
    try:
        primary = sa.inspect(engine).get_pk_constraint(table)["constrained_columns"]
    except sa.exc.NoSuchTableError:
        names = sa.inspect(engine).get_table_names()
        raise ImbrunError(
            f"{_shown(engine.url)}: no table {table!r}; the tables are {', '.join(names)}"
        ) from None
    target = sa.table(table, *(sa.column(c) for c in primary))
    return sa.select(sa.text("*")).select_from(target).order_by(*(target.c[c] for c in primary))


def read_live(
    url: str, *, query: str | None = None, table: str | None = None, password_env: str | None = None,
    chunksize: int = 10_000,
) -> pd.DataFrame:  # fmt: skip
    """Read a table (ordered by primary key) or a query's result from a live server.

    Args:
        url: SQLAlchemy URL, e.g. mysql+pymysql://reader@db.local:3306/labels.
        query: a SELECT to run as is (give query or table, not both).
        table: a table name; quoted as an identifier, never pasted into SQL.
        password_env: name of an environment variable holding the password (keeps it out of configs).
        chunksize: rows fetched per round trip from the server-side cursor.
    Returns:
        A DataFrame typed like read_dump / read_tsv_export give for the same table.
    Example:
        >>> read_live("mysql+pymysql://me@localhost/lab", table="samples", password_env="LAB_PW")
    """
    if (query is None) == (table is None):
        raise ImbrunError(f"{redact_url(url)}: give either query or table, not {'both' if query else 'neither'}")
    target = _engine_url(url, password_env)
    engine = sa.create_engine(target, connect_args={"connect_timeout": _CONNECT_TIMEOUT_S}, poolclass=sa.pool.NullPool)
    try:
        statement = sa.text(query) if query is not None else _select(engine, table)
        with engine.connect() as conn:
            result = conn.execution_options(stream_results=True, max_row_buffer=chunksize).execute(statement)
            names = list(result.keys())
            numeric = [d[1] in _NUMERIC_CODES for d in result.cursor.description]
            columns: list[list] = [[] for _ in names]
            for rows in result.partitions(chunksize):
                for column, values, is_numeric in zip(columns, zip(*rows), numeric):
                    if is_numeric:
                        column.append(_number_chunk(list(values)))
                    else:
                        column.extend(map(_text, values))
    except sa.exc.SQLAlchemyError as e:  # connection, credentials, SQL, or a statement without rows
        raise _explain(e, target) from None
    finally:
        engine.dispose()
    return frame_from_columns(names, columns, numeric)


def _canonical(value) -> str:
    """One cell as text: NULL/NaN -> \\N, whole floats like ints, text with tab/newline/backslash escaped."""
    if value is None or (isinstance(value, float) and math.isnan(value)):
        return "\\N"
    if isinstance(value, (float, np.floating)):
        return str(int(value)) if float(value).is_integer() else repr(float(value))
    if isinstance(value, (int, np.integer, Decimal)):
        return str(value)
    return str(value).replace("\\", "\\\\").replace("\t", "\\t").replace("\n", "\\n")


def rows_fingerprint(df: pd.DataFrame) -> str:
    """sha256 of the column names and rows in order; equal frames from the three readers give equal hashes."""
    digest = hashlib.sha256("\t".join(map(_canonical, df.columns)).encode("utf-8") + b"\n")
    for row in df.itertuples(index=False, name=None):
        digest.update("\t".join(map(_canonical, row)).encode("utf-8") + b"\n")
    return digest.hexdigest()
