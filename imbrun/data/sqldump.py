"""Read one table of a mysqldump `.sql` file into a DataFrame, streaming the file once.

MySQL's mysqldump writes each INSERT on one line, MariaDB's one row per line: the common cases
are one compiled regex per line (validate) and one `findall` per statement (cut the rows into
values). Anything else - a raw newline inside a string, comments inside a statement - goes through
a small quote-aware state machine that reassembles the statement first. Only the values of the wanted
columns are kept, already decoded, one list per column.
"""

from __future__ import annotations

import re
from collections.abc import Iterator
from pathlib import Path

import pandas as pd

from imbrun.data.mysql_tsv import frame_from_columns, number_chunk, try_number_chunk
from imbrun.data.sql_syntax import (CREATE, CREATE_TOKEN, INSERT, IS_INSERT, NOT_COLUMNS, NUMERIC_TYPES, QUOTE_END,
                                    ROWS_LINE, SPECIAL, bad_row, bit_number, decode_all, rows_of, unquote_name)
from imbrun.errors import ImbrunError

_BATCH_ROWS = 50_000  # numeric tokens converted per batch: few numpy calls, little memory


class _Reader:
    """Splits a dump into statements: (first line, text ending in ';', INSERT match or None)."""

    def __init__(self, path: Path, encoding: str):
        self.path, self.encoding = path, encoding
        self.pieces: list[str] = []  # the unfinished statement, comments left out
        self.state: str | None = None  # None, a quote character, or "/*"
        self.start = self.opened = (0, 0)  # (line, byte) of the statement / of the open string

    def statements(self) -> Iterator[tuple[int, str, re.Match | None]]:
        offset = 0
        with open(self.path, "rb") as f:
            for line_no, raw in enumerate(f, 1):
                line = self._text(raw, line_no)
                if self.pieces and self.state is None and (r := ROWS_LINE.fullmatch(line)):
                    yield from self._rows_line(line, r)  # MariaDB's dump: one row per line
                elif self.pieces or self.state is not None:
                    yield from self._scan(line, line_no, offset)
                elif line[:1] in ("I", "i", "R", "r") and (m := INSERT.fullmatch(line)):
                    yield line_no, line, m  # the common case: a whole INSERT on one line
                elif line.strip() and not line.startswith(("-- ", "--\n", "#", "DELIMITER", "delimiter")):
                    yield from self._scan(line, line_no, offset)
                offset += len(raw)
        if self.state is not None or self.pieces:
            self._truncated()

    def _rows_line(self, line: str, r: re.Match) -> Iterator[tuple[int, str, None]]:
        """Add a line of whole rows to the statement; yield the statement if the line ends it with ';'."""
        if r.group(1) is None:
            self.pieces.append(line)
            return
        self.pieces.append(line[: r.start(1)])
        yield self.start[0], "".join(self.pieces) + ";", None
        self.pieces.clear()

    def _text(self, raw: bytes, line_no: int) -> str:
        try:
            return raw.decode(self.encoding)
        except UnicodeDecodeError as e:
            raise ImbrunError(f"{self.path}: line {line_no} is not valid {self.encoding} ({e.reason})") from None

    def _push(self, line: str, start: int, end: int, line_no: int, offset: int) -> None:
        """Add line[start:end] to the statement; note where the statement begins."""
        piece = line[start:end]
        if not self.pieces:
            if not piece.strip():
                return
            first = start + len(piece) - len(piece.lstrip())
            self.start = (line_no, offset + len(line[:first].encode(self.encoding)))
        self.pieces.append(piece)

    def _scan(self, line: str, line_no: int, offset: int) -> Iterator[tuple[int, str, None]]:
        """Advance the state machine over one line; yield each statement that ends on it."""
        pos = 0
        while pos < len(line):
            if self.state == "/*":
                end = line.find("*/", pos)
                if end < 0:
                    return
                self.state, pos = None, end + 2
            elif self.state is not None:
                m = QUOTE_END[self.state].match(line, pos)
                end = m.end() if m else len(line)
                self._push(line, pos, end, line_no, offset)
                self.state, pos = (None if m else self.state), end
            elif (m := SPECIAL.search(line, pos)) is None:
                self._push(line, pos, len(line), line_no, offset)
                return
            else:
                self._push(line, pos, m.start(), line_no, offset)
                token, pos = m.group(), m.end()
                if token in ("#", "--"):
                    self._push("\n", 0, 1, line_no, offset)
                    return
                if token == "/*":
                    self.state = "/*"
                    self._push(" ", 0, 1, line_no, offset)
                elif token == ";":
                    if self.pieces:
                        yield self.start[0], "".join(self.pieces) + ";", None
                    self.pieces.clear()
                else:
                    self.opened = (line_no, offset + len(line[: m.start()].encode(self.encoding)))
                    self._push(line, m.start(), pos, line_no, offset)
                    self.state = token

    def _truncated(self) -> None:
        what = {"'": "string", '"': "string", "`": "quoted name", "/*": "comment"}.get(self.state)
        if what:
            where = f"unterminated {what} starting at line {self.opened[0]} (byte {self.opened[1]})"
        else:
            where = f"statement starting at line {self.start[0]} (byte {self.start[1]}) has no closing ';'"
        head = " ".join("".join(self.pieces).split()[:3])
        raise ImbrunError(f"{self.path}: truncated dump: {where} at end of file ({head} ...)")


def _create_columns(text: str, start: int) -> tuple[list[str], list[str]]:
    """Column names and types (lower case, e.g. "int"), from the body of a CREATE TABLE after its '('."""
    names, types, definition, depth = [], [], [], 1
    for m in CREATE_TOKEN.finditer(text, start):
        token = m.group(1)
        if depth == 1 and token in (",", ")"):  # the end of one definition: a column, a key, ...
            if definition and definition[0].upper() not in NOT_COLUMNS:
                names.append(unquote_name(definition[0]))
                types.append(definition[1].lower() if len(definition) > 1 else "")
            if token == ")":
                break
            definition = []
        elif token in ("(", ")"):
            depth += 1 if token == "(" else -1
        elif depth == 1:
            definition.append(token)
    return names, types


class _Table:
    """The wanted table: its columns, and the values collected so far (numbers converted in batches)."""

    def __init__(self, path: Path, name: str, names: list[str], types: list[str], wanted: list[str] | None):
        missing = [c for c in wanted or [] if c not in names]
        if missing:
            raise ImbrunError(f"{path}: table {name!r} has no column {missing[0]!r}; its columns are {', '.join(names)}")
        self.path, self.name, self.names = path, name, names
        self.wanted = list(wanted) if wanted is not None else names
        self.numeric = [types[names.index(c)] in NUMERIC_TYPES for c in self.wanted]
        self.bits = [types[names.index(c)] == "bit" for c in self.wanted]
        self.values: list[list] = [[] for _ in self.wanted]  # number chunks, or decoded text
        self.pending: list[list[str]] = [[] for _ in self.wanted]  # raw tokens of numeric columns
        self.pending_lines: list[tuple[int, int]] = []  # (line, rows) of the statements in `pending`
        self.pending_rows = 0
        self.layouts: dict[str | None, tuple[list[int | None], int]] = {}

    def add(self, m: re.Match, text: str, line_no: int) -> None:
        """Append the rows of one INSERT (its match `m` on `text`)."""
        positions, width = self._layout(m.group(2), line_no)
        row, rows = rows_of(width)
        if not rows.fullmatch(text, m.start(3), m.end(3)):
            number, got = bad_row(text, m.start(3), m.end(3), width)
            raise ImbrunError(
                f"{self.path}: line {line_no}: row {number} of INSERT INTO {self.name!r} has {got} values, "
                f"expected {width}"
            )
        found = row.findall(text, m.start(3), m.end(3))
        tokens = list(zip(*found)) if width > 1 else [found]
        for values, pending, k, is_numeric, bits in zip(self.values, self.pending, positions, self.numeric, self.bits):
            raw = tokens[k] if k is not None else ("NULL",) * len(found)
            try:
                if bits:
                    raw = [bit_number(t) for t in raw]
                (pending if is_numeric else values).extend(raw if is_numeric else decode_all(raw))
            except ValueError as e:
                raise ImbrunError(f"{self.path}: line {line_no}: {e}") from None
        self.pending_lines.append((line_no, len(found)))
        self.pending_rows += len(found)
        if self.pending_rows >= _BATCH_ROWS:
            self._flush()

    def _layout(self, listed_text: str | None, line_no: int) -> tuple[list[int | None], int]:
        """(position of each wanted column in the INSERT's rows or None, row width), cached per column list."""
        if listed_text not in self.layouts:
            listed = [unquote_name(c.strip()) for c in listed_text.split(",")] if listed_text else self.names
            unknown = [c for c in listed if c not in self.names]
            if unknown:
                raise ImbrunError(
                    f"{self.path}: line {line_no}: INSERT names column {unknown[0]!r}, not in table {self.name!r}"
                )
            self.layouts[listed_text] = ([listed.index(c) if c in listed else None for c in self.wanted], len(listed))
        return self.layouts[listed_text]

    def _flush(self) -> None:
        """Convert the pending tokens of each numeric column to number chunks."""
        for values, pending, name, is_numeric in zip(self.values, self.pending, self.wanted, self.numeric):
            if is_numeric and pending:
                chunk = try_number_chunk([None if t == "NULL" else t for t in pending])
                values.extend([chunk] if chunk is not None else self._decoded_numbers(pending, name))
                pending.clear()
        self.pending_lines.clear()
        self.pending_rows = 0

    def _decoded_numbers(self, pending: list[str], name: str) -> list:
        """Chunks from tokens that need decoding first ('1.5'); a bad value is an error naming its line."""
        chunks, start = [], 0
        for line_no, n in self.pending_lines:
            where = f"{self.path}: line {line_no}"
            try:
                texts = decode_all(pending[start : start + n])
            except ValueError as e:
                raise ImbrunError(f"{where}: {e}") from None
            chunks.append(number_chunk(texts, name, where))
            start += n
        return chunks

    def frame(self) -> pd.DataFrame:
        self._flush()
        return frame_from_columns(self.wanted, self.values, self.numeric)


def _walk(path, table: str | None, columns: list[str] | None, encoding: str) -> tuple[list[str], _Table | None]:
    """Stream the dump once: (tables in order of appearance, the wanted table or None)."""
    path = Path(path)
    if not path.is_file():
        raise ImbrunError(f"{path}: no such file")
    tables: list[str] = []
    wanted = None
    for line_no, text, m in _Reader(path, encoding).statements():
        if m is None and IS_INSERT.match(text) and (m := INSERT.fullmatch(text)) is None:
            raise ImbrunError(f"{path}: line {line_no}: cannot parse this INSERT statement")
        create = CREATE.match(text) if m is None else None
        if m is None and create is None:
            continue  # SET, LOCK TABLES, DROP TABLE, ...: nothing to read
        name = unquote_name((m or create).group(1))
        if name not in tables:
            tables.append(name)
        if name != table:
            continue
        if create is not None:
            wanted = _Table(path, name, *_create_columns(text, create.end()), columns)
        elif wanted is None:
            raise ImbrunError(f"{path}: line {line_no}: INSERT INTO {name!r} but the dump has no CREATE TABLE for it before")
        else:
            wanted.add(m, text, line_no)
    return tables, wanted


def list_dump_tables(path, *, encoding: str = "utf-8") -> list[str]:
    """Names of the tables a dump creates or fills, in the order they first appear."""
    return _walk(path, None, None, encoding)[0]


def read_dump(path, table: str, columns: list[str] | None = None, *, encoding: str = "utf-8") -> pd.DataFrame:
    """Read one table of a mysqldump file into a typed DataFrame.

    Args:
        path: a `.sql` file written by mysqldump (extended or one-row INSERTs) or by hand.
        table: the table to read; its CREATE TABLE gives the column names and which are numeric.
        columns: the columns to keep, in this order (default: all, in table order).
    Returns:
        Numeric columns as int64/float64 (NULL -> NaN), text as `str`; rule in `imbrun.data.mysql_tsv`.
    Example:
        >>> read_dump("backup.sql", "samples", columns=["id", "label", "x1"])
    """
    tables, wanted = _walk(path, table, columns, encoding)
    if wanted is None:
        listed = ", ".join(tables) if tables else "none"
        raise ImbrunError(f"{path}: no table {table!r} in the dump; its tables are: {listed}")
    return wanted.frame()
