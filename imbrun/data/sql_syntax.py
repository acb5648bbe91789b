"""The SQL literal syntax of mysqldump / mariadb-dump output: token patterns and value decoding.

Patterns are possessive (`*+`) so that a long row or string never backtracks. `decode` turns one value token
(a quoted string with escapes, NULL, X'..'/0x.. hex text, b'..' bits, TRUE/FALSE, a number) into its text.
"""

from __future__ import annotations

import functools
import re

NAME = r"(?:`(?:[^`]|``)+`|[\w$]+)"
QNAME = rf"(?:{NAME}\s*\.\s*)?({NAME})"
SQ = r"'[^'\\]*+(?:(?:\\.|'')[^'\\]*+)*+'"
DQ = r'"[^"\\]*+(?:(?:\\.|"")[^"\\]*+)*+"'
# One value: a string (maybe `_binary '...'`, X'...' or b'...'), or a bare token (number, NULL, 0x..).
VAL = rf"(?:(?:_\w+\s*|[xXbB])?{SQ}|{DQ}|[^\s,()'\"]+)"
ROW = rf"\(\s*{VAL}(?:\s*,\s*{VAL})*+\s*\)"
INSERT = re.compile(
    rf"\s*(?:INSERT|REPLACE)(?:\s+(?:IGNORE|LOW_PRIORITY|DELAYED|HIGH_PRIORITY))*\s+(?:INTO\s+)?{QNAME}"
    rf"\s*(?:\(([^)]*)\))?\s*VALUES?\s*({ROW}(?:\s*,\s*{ROW})*+)\s*;\s*",
    re.I | re.S,
)
CREATE = re.compile(
    rf"\s*CREATE\s+(?:OR\s+REPLACE\s+)?(?:TEMPORARY\s+)?TABLE\s+(?:IF\s+NOT\s+EXISTS\s+)?{QNAME}\s*\(", re.I
)
ANY_ROW = re.compile(ROW, re.S)
ROWS_LINE = re.compile(rf"\s*{ROW}(?:\s*,\s*{ROW})*+\s*(?:,|(;))\s*", re.S)
ANY_VALUE = re.compile(VAL, re.S)
IS_INSERT = re.compile(r"\s*(?:INSERT|REPLACE)\b", re.I)
CREATE_TOKEN = re.compile(rf"\s*({SQ}|{DQ}|`(?:[^`]|``)*`|[(),]|[^\s(),'\"`]+)", re.S)
NOT_COLUMNS = {"PRIMARY", "KEY", "INDEX", "UNIQUE", "CONSTRAINT", "FOREIGN", "FULLTEXT", "SPATIAL", "CHECK", "PERIOD"}
NUMERIC_TYPES = {
    "tinyint", "smallint", "mediumint", "int", "integer", "bigint", "decimal", "dec", "numeric", "fixed",
    "float", "double", "real", "bool", "boolean", "year", "bit", "int1", "int2", "int3", "int4", "int8",
}  # fmt: skip
# Outside a string: the next thing that changes state.
SPECIAL = re.compile(r"['\"`;#]|/\*|--(?=\s|$)")
QUOTE_END = {q: re.compile(rf"[^{q}\\]*+(?:(?:\\.|{q}{q})[^{q}\\]*+)*+{q}", re.S) for q in "'\""}
QUOTE_END["`"] = re.compile(r"[^`]*+(?:``[^`]*+)*+`")
ESCAPES = {"0": "\0", "b": "\b", "n": "\n", "r": "\r", "t": "\t", "Z": "\x1a", "%": "\\%", "_": "\\_"}
UNESCAPE = {q: re.compile(rf"\\(.)|{q}{q}", re.S) for q in "'\""}


def unquote_name(name: str) -> str:
    return name[1:-1].replace("``", "`") if name.startswith("`") else name


def unescape(body: str, quote: str) -> str:
    """The text of a string literal's body: backslash escapes and doubled quotes decoded."""
    if "\\" not in body and quote * 2 not in body:
        return body
    return UNESCAPE[quote].sub(lambda m: ESCAPES.get(m.group(1), m.group(1)) if m.group(1) else quote, body)


def decode(token: str) -> str | None:
    """One SQL value token -> its text, None for NULL."""
    first = token[0]
    if first in "'\"":
        return unescape(token[1:-1], first)
    upper = token.upper()
    if upper == "NULL":
        return None
    if first == "_":
        return decode(token[token.index("'") :])
    if upper.startswith("B'"):  # a BIT value, read as its number
        return str(int(token[2:-1] or "0", 2))
    if upper.startswith("X'") or upper.startswith("0X"):
        try:
            return bytes.fromhex(token[2:-1] if first in "xX" and token[1] == "'" else token[2:]).decode("utf-8")
        except ValueError:
            raise ValueError(f"{token[:24]!r} is not hex-encoded UTF-8 text") from None
    return {"TRUE": "1", "FALSE": "0"}.get(upper, token)


def bit_number(token: str) -> str:
    """A BIT value (b'101', 0x05, or the raw bytes as a string as MariaDB's dump writes) as a number token."""
    if token == "NULL" or token[:2] in ("b'", "B'") or token[:1].isdigit() and token[:2] not in ("0x", "0X"):
        return decode(token) or "NULL"
    if token[:2] in ("0x", "0X"):
        return str(int(token[2:], 16))
    return str(int.from_bytes(decode(token).encode("utf-8"), "big"))


def decode_all(tokens) -> list:
    """Decode a column of tokens; the common plain tokens skip the function call."""
    return [
        None if t == "NULL" else t[1:-1] if t[0] == "'" and "\\" not in t and "''" not in t[1:-1] else decode(t)
        for t in tokens
    ]


@functools.lru_cache(maxsize=64)
def rows_of(n: int) -> tuple[re.Pattern, re.Pattern]:
    """(one row of n values with a group per value, a list of such rows) for a row width n."""
    row = rf"\(\s*({VAL})" + rf"\s*,\s*({VAL})" * (n - 1) + r"\s*\)"
    plain = row.replace("(" + VAL + ")", VAL)
    return re.compile(row, re.S), re.compile(rf"{plain}(?:\s*,\s*{plain})*+", re.S)


def bad_row(text: str, start: int, end: int, n: int) -> tuple[int, int]:
    """(1-based number, width) of the first row of an INSERT whose width is not n."""
    for number, row in enumerate(ANY_ROW.finditer(text, start, end), 1):
        width = len(ANY_VALUE.findall(row.group(), 1))
        if width != n:
            return number, width
    return 0, n
