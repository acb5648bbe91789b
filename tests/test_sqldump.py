"""read_dump / list_dump_tables on tiny hand-written dumps: every syntax case, typing rule and error."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from imbrun.data.sqldump import list_dump_tables, read_dump
from imbrun.errors import ImbrunError

DUMP = r"""-- MySQL dump 10.13  Distrib 8.0.36
/*!40101 SET @OLD_CHARACTER_SET_CLIENT=@@CHARACTER_SET_CLIENT */;
/*!40101 SET NAMES utf8mb4 */;
DROP TABLE IF EXISTS `samples`;
CREATE TABLE `samples` (
  `id` bigint NOT NULL AUTO_INCREMENT,
  `label` varchar(20) NOT NULL COMMENT 'class (a, b or c)',
  `x` decimal(6,2) DEFAULT NULL,
  `y` double DEFAULT NULL,
  `note` text,
  PRIMARY KEY (`id`),
  KEY `label_x` (`label`,`x`)
) ENGINE=InnoDB DEFAULT CHARSET=utf8mb4;
LOCK TABLES `samples` WRITE;
/*!40000 ALTER TABLE `samples` DISABLE KEYS */;
INSERT INTO `samples` VALUES (1,'a',1.50,0.1,'it\'s'),(2,'b',NULL,-2.5e-3,'x),(y;z'),(3,'a','-2',NULL,'tab\there\nnl'),(4,'c',0.00,1e3,'back\\slash \0 \r \Z \" ''q''');
INSERT INTO `samples` VALUES (5,'a',7.25,'3',NULL);
/*!40000 ALTER TABLE `samples` ENABLE KEYS */;
UNLOCK TABLES;
# rows added by hand below
INSERT INTO samples (note, id, label) VALUES
  ('raw
newline', 6, "b") , -- a comment after a row
  (_utf8mb4'café', 9007199254740993, 'c');
DROP TABLE IF EXISTS `other`;
CREATE TABLE IF NOT EXISTS `db`.`other` (`k` int, `v` varchar(3));
INSERT INTO `other` VALUES (1,'z'); /* two statements on one line */ INSERT INTO `db`.`other` VALUES (2,0x616263);
"""


def _write(tmp_path, text: str):
    path = tmp_path / "dump.sql"
    path.write_text(text, encoding="utf-8")
    return path


def _samples() -> pd.DataFrame:
    return pd.DataFrame(
        {
            "id": np.array([1, 2, 3, 4, 5, 6, 2**53 + 1], dtype=np.int64),
            "label": pd.array(["a", "b", "a", "c", "a", "b", "c"], dtype="str"),
            "x": [1.5, np.nan, -2.0, 0.0, 7.25, np.nan, np.nan],
            "y": [0.1, -0.0025, np.nan, 1000.0, 3.0, np.nan, np.nan],
            "note": pd.array(
                ["it's", "x),(y;z", "tab\there\nnl", "back\\slash \0 \r \x1a \" 'q'", None, "raw\nnewline", "café"],
                dtype="str",
            ),
        }
    )


def test_reads_every_syntax_case_with_exact_values(tmp_path):
    path = _write(tmp_path, DUMP)
    pd.testing.assert_frame_equal(read_dump(path, "samples"), _samples())


def test_second_table_in_the_same_file(tmp_path):
    expected = pd.DataFrame({"k": np.array([1, 2]), "v": pd.array(["z", "abc"], dtype="str")})
    pd.testing.assert_frame_equal(read_dump(_write(tmp_path, DUMP), "other"), expected)


def test_lists_tables_in_order_of_appearance(tmp_path):
    assert list_dump_tables(_write(tmp_path, DUMP)) == ["samples", "other"]


def test_columns_selects_and_orders(tmp_path):
    df = read_dump(_write(tmp_path, DUMP), "samples", columns=["label", "id"])
    pd.testing.assert_frame_equal(df, _samples()[["label", "id"]])


def test_one_row_inserts_give_the_same_frame_as_extended(tmp_path):
    extended = "CREATE TABLE t (a int, b varchar(4));\nINSERT INTO t VALUES (1,'p'),(2,'q'),(3,NULL);\n"
    one_row = "CREATE TABLE t (a int, b varchar(4));\n" + "".join(
        f"INSERT INTO `t` VALUES ({a},{b});\n" for a, b in [(1, "'p'"), (2, "'q'"), (3, "NULL")]
    )
    expected = pd.DataFrame({"a": np.array([1, 2, 3]), "b": pd.array(["p", "q", None], dtype="str")})
    pd.testing.assert_frame_equal(read_dump(_write(tmp_path, extended), "t"), expected)
    pd.testing.assert_frame_equal(read_dump(_write(tmp_path, one_row), "t"), expected)


def test_mariadb_dump_style_one_row_per_line(tmp_path):
    text = "CREATE TABLE t (a int, b text);\nINSERT INTO `t` VALUES\n(1,'x'),\n(2,'y\nz'),\n(3,NULL);\n"
    expected = pd.DataFrame({"a": np.array([1, 2, 3]), "b": pd.array(["x", "y\nz", None], dtype="str")})
    pd.testing.assert_frame_equal(read_dump(_write(tmp_path, text), "t"), expected)


def test_whole_doubles_are_int64_and_all_null_columns_float64(tmp_path):
    path = _write(tmp_path, "CREATE TABLE w (d double, n int, s varchar(5));\nINSERT INTO w VALUES (1,NULL,NULL),(2.0,NULL,NULL);\n")
    expected = pd.DataFrame({"d": np.array([1, 2]), "n": [np.nan, np.nan], "s": [np.nan, np.nan]})
    pd.testing.assert_frame_equal(read_dump(path, "w"), expected)


def test_table_without_rows_has_its_columns(tmp_path):
    df = read_dump(_write(tmp_path, "CREATE TABLE e (a int, b text);\n"), "e")
    pd.testing.assert_frame_equal(df, pd.DataFrame({"a": np.empty(0), "b": np.empty(0)}))


def test_a_long_extended_insert_matches_seeded_rows(tmp_path):
    rng = np.random.default_rng(0)
    a, b = rng.integers(-1000, 1000, 500), rng.normal(size=500)
    rows = ",".join(f"({i},{x},{y!r},'r{i}')" for i, (x, y) in enumerate(zip(a.tolist(), b.tolist())))
    path = _write(tmp_path, f"CREATE TABLE s (i int, a int, b double, c char(9));\nINSERT INTO s VALUES {rows};\n")
    expected = pd.DataFrame({"i": np.arange(500), "a": a, "b": b, "c": pd.array([f"r{i}" for i in range(500)], dtype="str")})
    pd.testing.assert_frame_equal(read_dump(path, "s"), expected)


def test_literals_bit_hex_charset_and_booleans(tmp_path):
    path = _write(
        tmp_path,
        "CREATE TABLE l (b bit(3), h varbinary(9), t text, ok tinyint(1));\n"
        "INSERT INTO l VALUES (b'101',0x616263,_binary 'x\\ty',TRUE),(b'',X'4142',_utf8mb4'z',FALSE),"
        "('\x02',NULL,'',0),(0x07,'',\"\",1);\n",  # MariaDB's dump writes BIT as the raw byte '\x02'
    )
    expected = pd.DataFrame(
        {
            "b": np.array([5, 0, 2, 7]),
            "h": pd.array(["abc", "AB", None, ""], dtype="str"),
            "t": pd.array(["x\ty", "z", "", ""], dtype="str"),
            "ok": np.array([1, 0, 0, 1]),
        }
    )
    pd.testing.assert_frame_equal(read_dump(path, "l"), expected)


@pytest.mark.parametrize(
    ("text", "table", "columns", "message"),
    [
        (DUMP, "nope", None, "no table 'nope' in the dump; its tables are: samples, other"),
        (DUMP, "samples", ["id", "lable"], "table 'samples' has no column 'lable'; its columns are id, label, x, y, note"),
        ("CREATE TABLE t (a int);\nINSERT INTO t VALUES (1),(2),('ab\n", "t", None,
         "truncated dump: unterminated string starting at line 2 (byte 54) at end of file (INSERT INTO t ...)"),
        ("CREATE TABLE t (a int);\nINSERT INTO t VALUES (1),(2)", "t", None,
         "truncated dump: statement starting at line 2 (byte 24) has no closing ';' at end of file (INSERT INTO t ...)"),
        ("INSERT INTO t VALUES (1);\n", "t", None,
         "line 1: INSERT INTO 't' but the dump has no CREATE TABLE for it before"),
        ("CREATE TABLE t (a int, b int);\nINSERT INTO t VALUES (1,2),(3,'(4,5)'),(6);\n", "t", None,
         "line 2: row 3 of INSERT INTO 't' has 1 values, expected 2"),
        ("CREATE TABLE t (a int);\nINSERT INTO t VALUES (1),('x');\n", "t", None,
         "line 2: column 'a' is numeric but holds 'x', expected a number"),
        ("CREATE TABLE t (a int);\nINSERT INTO t VALUES (1) junk;\n", "t", None,
         "line 2: cannot parse this INSERT statement"),
        ("CREATE TABLE t (a int);\nINSERT INTO t (a, z) VALUES (1, 2);\n", "t", None,
         "line 2: INSERT names column 'z', not in table 't'"),
        ("CREATE TABLE t (a text);\nINSERT INTO t VALUES (0xff);\n", "t", None,
         "line 2: '0xff' is not hex-encoded UTF-8 text"),
        ("CREATE TABLE t (a int);\nINSERT INTO t VALUES ('1');\nINSERT INTO t VALUES ('2'),('two');\n", "t", None,
         "line 3: column 'a' is numeric but holds 'two', expected a number"),
    ],
)  # fmt: skip
def test_errors_are_one_line_naming_the_file(tmp_path, text, table, columns, message):
    path = _write(tmp_path, text)
    with pytest.raises(ImbrunError) as err:
        read_dump(path, table, columns)
    assert str(err.value) == f"{path}: {message}"


def test_missing_file_and_bad_encoding(tmp_path):
    with pytest.raises(ImbrunError) as err:
        read_dump(tmp_path / "absent.sql", "t")
    assert str(err.value) == f"{tmp_path / 'absent.sql'}: no such file"
    path = tmp_path / "latin1.sql"
    path.write_bytes(b"CREATE TABLE t (a text);\nINSERT INTO t VALUES ('caf\xe9');\n")
    with pytest.raises(ImbrunError) as err:
        read_dump(path, "t")
    assert str(err.value) == f"{path}: line 2 is not valid utf-8 (invalid continuation byte)"
    pd.testing.assert_frame_equal(read_dump(path, "t", encoding="latin-1"), pd.DataFrame({"a": pd.array(["café"], dtype="str")}))
