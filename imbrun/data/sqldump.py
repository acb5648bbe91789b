"""Read one table of a mysqldump `.sql` file into a DataFrame, streaming the file once.

MySQL's mysqldump writes each INSERT on one line, MariaDB's one row per line: the common cases
are one compiled regex per line (validate) and one `findall` per statement (cut the rows into
values). Anything else - a raw newline inside a string, comments inside a statement - goes through
a small quote-aware state machine that reassembles the statement first. Only the values of the wanted
columns are kept, already decoded, one list per column.
"""

from __future__ import annotations

import functools
import re
from collections.abc import Iterator
from pathlib import Path

import pandas as pd

from imbrun.data.mysql_tsv import frame_from_columns, number_chunk, try_number_chunk
from imbrun.errors import ImbrunError

_NAME = r"(?:`(?:[^`]|``)+`|[\w$]+)"
_QNAME = rf"(?:{_NAME}\s*\.\s*)?({_NAME})"
_SQ = r"'[^'\\]*+(?:(?:\\.|'')[^'\\]*+)*+'"
_DQ = r'"[^"\\]*+(?:(?:\\.|"")[^"\\]*+)*+"'
# One value: a string (maybe `_binary '...'`, X'...' or b'...'), or a bare token (number, NULL, 0x..).
_VAL = rf"(?:(?:_\w+\s*|[xXbB])?{_SQ}|{_DQ}|[^\s,()'\"]+)"
_ROW = rf"\(\s*{_VAL}(?:\s*,\s*{_VAL})*+\s*\)"
_INSERT = re.compile(
    rf"\s*(?:INSERT|REPLACE)(?:\s+(?:IGNORE|LOW_PRIORITY|DELAYED|HIGH_PRIORITY))*\s+(?:INTO\s+)?{_QNAME}"
    rf"\s*(?:\(([^)]*)\))?\s*VALUES?\s*({_ROW}(?:\s*,\s*{_ROW})*+)\s*;\s*",
    re.I | re.S,
)
_CREATE = re.compile(
    rf"\s*CREATE\s+(?:OR\s+REPLACE\s+)?(?:TEMPORARY\s+)?TABLE\s+(?:IF\s+NOT\s+EXISTS\s+)?{_QNAME}\s*\(", re.I
)
_ANY_ROW = re.compile(_ROW, re.S)
_ROWS_LINE = re.compile(rf"\s*{_ROW}(?:\s*,\s*{_ROW})*+\s*(?:,|(;))\s*", re.S)
_ANY_VALUE = re.compile(_VAL, re.S)
_BATCH_ROWS = 50_000  # numeric tokens converted per batch: few numpy calls, little memory
_IS_INSERT = re.compile(r"\s*(?:INSERT|REPLACE)\b", re.I)
_CREATE_TOKEN = re.compile(rf"\s*({_SQ}|{_DQ}|`(?:[^`]|``)*`|[(),]|[^\s(),'\"`]+)", re.S)
_NOT_COLUMNS = {"PRIMARY", "KEY", "INDEX", "UNIQUE", "CONSTRAINT", "FOREIGN", "FULLTEXT", "SPATIAL", "CHECK", "PERIOD"}
_NUMERIC_TYPES = {
    "tinyint", "smallint", "mediumint", "int", "integer", "bigint", "decimal", "dec", "numeric", "fixed",
    "float", "double", "real", "bool", "boolean", "year", "bit", "int1", "int2", "int3", "int4", "int8",
}  # fmt: skip
# Outside a string: the next thing that changes state.
_SPECIAL = re.compile(r"['\"`;#]|/\*|--(?=\s|$)")
_QUOTE_END = {q: re.compile(rf"[^{q}\\]*+(?:(?:\\.|{q}{q})[^{q}\\]*+)*+{q}", re.S) for q in "'\""}
_QUOTE_END["`"] = re.compile(r"[^`]*+(?:``[^`]*+)*+`")
_ESCAPES = {"0": "\0", "b": "\b", "n": "\n", "r": "\r", "t": "\t", "Z": "\x1a", "%": "\\%", "_": "\\_"}
_UNESCAPE = {q: re.compile(rf"\\(.)|{q}{q}", re.S) for q in "'\""}


def _unquote_name(name: str) -> str:
    return name[1:-1].replace("``", "`") if name.startswith("`") else name


def _unescape(body: str, quote: str) -> str:
    """The text of a string literal's body: backslash escapes and doubled quotes decoded."""
    if "\\" not in body and quote * 2 not in body:
        return body
    return _UNESCAPE[quote].sub(lambda m: _ESCAPES.get(m.group(1), m.group(1)) if m.group(1) else quote, body)


def _decode(token: str) -> str | None:
    """One SQL value token -> its text, None for NULL."""
    first = token[0]
    if first in "'\"":
        return _unescape(token[1:-1], first)
    upper = token.upper()
    if upper == "NULL":
        return None
    if first == "_":
        return _decode(token[token.index("'") :])
    if upper.startswith("B'"):  # a BIT value, read as its number
        return str(int(token[2:-1] or "0", 2))
    if upper.startswith("X'") or upper.startswith("0X"):
        try:
            return bytes.fromhex(token[2:-1] if first in "xX" and token[1] == "'" else token[2:]).decode("utf-8")
        except ValueError:
            raise ValueError(f"{token[:24]!r} is not hex-encoded UTF-8 text") from None
    return {"TRUE": "1", "FALSE": "0"}.get(upper, token)


def _bit_number(token: str) -> str:
    """A BIT value (b'101', 0x05, or the raw bytes as a string as MariaDB's dump writes) as a number token."""
    if token == "NULL" or token[:2] in ("b'", "B'") or token[:1].isdigit() and token[:2] not in ("0x", "0X"):
        return _decode(token) or "NULL"
    if token[:2] in ("0x", "0X"):
        return str(int(token[2:], 16))
    return str(int.from_bytes(_decode(token).encode("utf-8"), "big"))


def _decode_all(tokens) -> list:
    """Decode a column of tokens; the common plain tokens skip the function call."""
    return [
        None if t == "NULL" else t[1:-1] if t[0] == "'" and "\\" not in t and "''" not in t[1:-1] else _decode(t)
        for t in tokens
    ]


@functools.lru_cache(maxsize=64)
def _rows_of(n: int) -> tuple[re.Pattern, re.Pattern]:
    """(one row of n values with a group per value, a list of such rows) for a row width n."""
    row = rf"\(\s*({_VAL})" + rf"\s*,\s*({_VAL})" * (n - 1) + r"\s*\)"
    plain = row.replace("(" + _VAL + ")", _VAL)
    return re.compile(row, re.S), re.compile(rf"{plain}(?:\s*,\s*{plain})*+", re.S)


def _bad_row(text: str, start: int, end: int, n: int) -> tuple[int, int]:
    """(1-based number, width) of the first row of an INSERT whose width is not n."""
    for number, row in enumerate(_ANY_ROW.finditer(text, start, end), 1):
        width = len(_ANY_VALUE.findall(row.group(), 1))
        if width != n:
            return number, width
    return 0, n


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
                if self.pieces and self.state is None and (r := _ROWS_LINE.fullmatch(line)):
                    yield from self._rows_line(line, r)  # MariaDB's dump: one row per line
                elif self.pieces or self.state is not None:
                    yield from self._scan(line, line_no, offset)
                elif line[:1] in ("I", "i", "R", "r") and (m := _INSERT.fullmatch(line)):
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
                m = _QUOTE_END[self.state].match(line, pos)
                end = m.end() if m else len(line)
                self._push(line, pos, end, line_no, offset)
                self.state, pos = (None if m else self.state), end
            elif (m := _SPECIAL.search(line, pos)) is None:
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
    for m in _CREATE_TOKEN.finditer(text, start):
        token = m.group(1)
        if depth == 1 and token in (",", ")"):  # the end of one definition: a column, a key, ...
            if definition and definition[0].upper() not in _NOT_COLUMNS:
                names.append(_unquote_name(definition[0]))
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
        self.numeric = [types[names.index(c)] in _NUMERIC_TYPES for c in self.wanted]
        self.bits = [types[names.index(c)] == "bit" for c in self.wanted]
        self.values: list[list] = [[] for _ in self.wanted]  # number chunks, or decoded text
        self.pending: list[list[str]] = [[] for _ in self.wanted]  # raw tokens of numeric columns
        self.pending_lines: list[tuple[int, int]] = []  # (line, rows) of the statements in `pending`
        self.pending_rows = 0
        self.layouts: dict[str | None, tuple[list[int | None], int]] = {}

    def add(self, m: re.Match, text: str, line_no: int) -> None:
        """Append the rows of one INSERT (its match `m` on `text`)."""
        positions, width = self._layout(m.group(2), line_no)
        row, rows = _rows_of(width)
        if not rows.fullmatch(text, m.start(3), m.end(3)):
            number, got = _bad_row(text, m.start(3), m.end(3), width)
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
                    raw = [_bit_number(t) for t in raw]
                (pending if is_numeric else values).extend(raw if is_numeric else _decode_all(raw))
            except ValueError as e:
                raise ImbrunError(f"{self.path}: line {line_no}: {e}") from None
        self.pending_lines.append((line_no, len(found)))
        self.pending_rows += len(found)
        if self.pending_rows >= _BATCH_ROWS:
            self._flush()

    def _layout(self, listed_text: str | None, line_no: int) -> tuple[list[int | None], int]:
        """(position of each wanted column in the INSERT's rows or None, row width), cached per column list."""
        if listed_text not in self.layouts:
            listed = [_unquote_name(c.strip()) for c in listed_text.split(",")] if listed_text else self.names
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
                texts = _decode_all(pending[start : start + n])
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
        if m is None and _IS_INSERT.match(text) and (m := _INSERT.fullmatch(text)) is None:
            raise ImbrunError(f"{path}: line {line_no}: cannot parse this INSERT statement")
        create = _CREATE.match(text) if m is None else None
        if m is None and create is None:
            continue  # SET, LOCK TABLES, DROP TABLE, ...: nothing to read
        name = _unquote_name((m or create).group(1))
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
