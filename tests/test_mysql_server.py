"""One labelled table on a real MariaDB server reads identically live, from mysqldump and from TSV exports."""

from __future__ import annotations

import hashlib
import os
import subprocess
from decimal import Decimal

import numpy as np
import pandas as pd
import pytest

from imbrun.data.mysql_live import read_live, redact_url, rows_fingerprint
from imbrun.data.mysql_tsv import read_tsv_export
from imbrun.data.sqldump import list_dump_tables, read_dump
from imbrun.errors import ImbrunError
from tests.mariadb import PASSWORD, MariaDB, find_binary, free_port

NOTES = [
    "it's", 'say "hi"', "back\\slash", "two\nlines", "a\ttab", "cr\rhere", "nul\0byte", "ctrl\x1aZ",
    "x),(y;z", "", "café 日本", "\\N", "trailing\\",
]  # fmt: skip
COLUMNS = ["id", "label", "f_int", "f_big", "f_double", "f_dec", "note"]


def _rows() -> list[tuple]:
    """50 rows, labels 40/8/2; NULLs in f_int, f_double and note; f_big beyond 2**53."""
    rows = []
    for i in range(1, 51):
        label = "common" if i <= 40 else "minor" if i <= 48 else "rare"
        f_int = None if i % 9 == 0 else i * 3 - 70
        f_double = None if i % 7 == 3 else [i / 10, -2.5, 1e-7 * i, 12345.678][i % 4]
        note = None if i % 11 == 5 else NOTES[i % len(NOTES)]
        rows.append((i, label, f_int, 2**53 + i, f_double, Decimal(i * 125 - 3000) / 1000, note))
    return rows


def _expected() -> pd.DataFrame:
    rows = _rows()
    cols = list(zip(*rows))
    return pd.DataFrame(
        {
            "id": np.array(cols[0], dtype=np.int64),
            "label": pd.array(cols[1], dtype="str"),
            "f_int": np.array([np.nan if v is None else v for v in cols[2]], dtype=np.float64),
            "f_big": np.array(cols[3], dtype=np.int64),
            "f_double": np.array([np.nan if v is None else v for v in cols[4]], dtype=np.float64),
            "f_dec": np.array([float(v) for v in cols[5]], dtype=np.float64),
            "note": pd.array(cols[6], dtype="str"),
        }
    )


@pytest.fixture(scope="session")
def server(tmp_path_factory):
    if find_binary(("mariadbd", "mysqld")) is None:
        message = "no MariaDB/MySQL server binary found (install it with .ci/mariadb.sh)"
        if os.environ.get("CI") == "true":
            pytest.fail(f"CI=true but {message}")
        pytest.skip(message)
    db = MariaDB.start(tmp_path_factory.mktemp("mariadb"))
    try:
        with db.root_connection() as conn, conn.cursor() as cur:
            cur.execute(
                "CREATE TABLE imb.samples (id INT NOT NULL PRIMARY KEY, label VARCHAR(10) NOT NULL, f_int INT NULL,"
                " f_big BIGINT NOT NULL, f_double DOUBLE NULL, f_dec DECIMAL(8,3) NOT NULL, note VARCHAR(200) NULL)"
            )
            rows = _rows()
            shuffled = rows[1::2] + rows[::2]  # inserted out of order: every path must order by id
            cur.executemany("INSERT INTO imb.samples VALUES (%s, %s, %s, %s, %s, %s, %s)", shuffled)
            cur.execute("CREATE TABLE imb.`odd ``name` (`k` INT PRIMARY KEY, `v` VARCHAR(5), `f` BIT(3), `d` DATE, `t` TIME)")
            cur.execute(
                "INSERT INTO imb.`odd ``name` VALUES (2, 'b', b'010', '2024-02-29', '-838:59:59'),"
                " (1, 'a', b'101', '1999-12-31', '01:02:03')"
            )
        yield db
    finally:
        db.stop()


def _client(server: MariaDB, names: tuple[str, ...], *args: str) -> bytes:
    binary = find_binary(names)
    assert binary is not None, f"no {names[0]} next to the server"
    return subprocess.run([binary, *server.client_args(), *args], check=True, capture_output=True).stdout


def test_live_table_matches_the_rows_inserted(server):
    df = read_live(server.url(), table="samples", chunksize=7)
    pd.testing.assert_frame_equal(df, _expected())
    assert df["label"].value_counts().to_dict() == {"common": 40, "minor": 8, "rare": 2}


@pytest.mark.parametrize("extended", ["--extended-insert", "--skip-extended-insert"])
def test_mysqldump_reads_like_live(server, tmp_path, extended):
    dump = tmp_path / "dump.sql"
    dump.write_bytes(
        _client(server, ("mariadb-dump", "mysqldump"), "--skip-dump-date", extended, "--net-buffer-length=2048",
                "imb", "samples", "odd `name")
    )  # fmt: skip
    assert list_dump_tables(dump) == ["samples", "odd `name"]
    live = read_live(server.url(), table="samples")
    pd.testing.assert_frame_equal(read_dump(dump, "samples"), live)
    assert rows_fingerprint(read_dump(dump, "samples")) == rows_fingerprint(live)
    pd.testing.assert_frame_equal(read_dump(dump, "odd `name"), read_live(server.url(), table="odd `name"))


def test_into_outfile_reads_like_live(server):
    out = server.outfile_dir / "samples.tsv"
    with server.root_connection() as conn, conn.cursor() as cur:
        cur.execute(f"SELECT * FROM imb.samples ORDER BY id INTO OUTFILE '{out}'")
    df = read_tsv_export(out, columns=COLUMNS)  # no header: detected from the numeric id column
    pd.testing.assert_frame_equal(df, read_live(server.url(), table="samples"))


def test_mysql_batch_output_reads_like_live(server, tmp_path):
    out = tmp_path / "batch.tsv"
    out.write_bytes(_client(server, ("mariadb", "mysql"), "--batch", "-e", "SELECT * FROM imb.samples ORDER BY id"))
    live = read_live(server.url(), query="SELECT * FROM samples ORDER BY id")
    df = read_tsv_export(out)
    pd.testing.assert_frame_equal(df, live)
    assert rows_fingerprint(df) == rows_fingerprint(read_live(server.url(), table="samples"))


def test_password_from_environment_variable(server, monkeypatch):
    monkeypatch.setenv("IMB_TEST_PW", PASSWORD)
    df = read_live(server.url(password=None), table="odd `name", password_env="IMB_TEST_PW")
    expected = pd.DataFrame(
        {
            "k": np.array([1, 2]),
            "v": pd.array(["a", "b"], dtype="str"),
            "f": np.array([5, 2]),
            "d": pd.array(["1999-12-31", "2024-02-29"], dtype="str"),
            "t": pd.array(["01:02:03", "-838:59:59"], dtype="str"),
        }
    )
    pd.testing.assert_frame_equal(df, expected)


def test_wrong_password_is_one_line_without_the_password(server):
    with pytest.raises(ImbrunError) as err:
        read_live(server.url(password="wrong-pw"), table="samples")
    assert str(err.value) == (
        f"mysql+pymysql://imb:***@127.0.0.1:{server.port}/imb: the server refused user 'imb': wrong user name or "
        "password (Access denied for user 'imb'@'127.0.0.1' (using password: YES))"
    )


def test_refused_connection_names_host_and_port_not_the_password():
    port = free_port()  # nothing listens there
    with pytest.raises(ImbrunError) as err:
        read_live(f"mysql+pymysql://imb:hunter2@127.0.0.1:{port}/imb", table="samples")
    assert str(err.value) == (
        f"mysql+pymysql://imb:***@127.0.0.1:{port}/imb: cannot connect to the MySQL server at 127.0.0.1:{port} "
        "(Can't connect to MySQL server on '127.0.0.1' ([Errno 111] Connection refused))"
    )


def test_unknown_table_and_bad_query_are_one_line(server):
    with pytest.raises(ImbrunError) as err:
        read_live(server.url(), table="nope")
    assert str(err.value) == f"{redact_url(server.url())}: no table 'nope'; the tables are odd `name, samples"
    with pytest.raises(ImbrunError) as err:
        read_live(server.url(), query="SELECT * FROM nope")
    assert str(err.value) == f"{redact_url(server.url())}: Table 'imb.nope' doesn't exist"


def test_statement_without_rows_is_one_line(server):
    with pytest.raises(ImbrunError) as err:
        read_live(server.url(), query="DO 1")
    assert str(err.value) == (
        f"{redact_url(server.url())}: This result object does not return rows. It has been closed automatically."
    )


def test_password_variable_not_set_and_not_a_mysql_url(monkeypatch):
    monkeypatch.delenv("IMB_UNSET_PW", raising=False)
    with pytest.raises(ImbrunError) as err:
        read_live("mysql+pymysql://me@h/db", table="t", password_env="IMB_UNSET_PW")
    assert str(err.value) == "mysql+pymysql://me@h/db: environment variable IMB_UNSET_PW (the password) is not set"
    with pytest.raises(ImbrunError) as err:
        read_live("postgresql://me:pw@h/db", table="t")
    assert str(err.value) == "postgresql://me:***@h/db: not a MySQL URL, expected mysql+pymysql://user@host:3306/db"


def test_rows_fingerprint_is_pinned_and_ignores_int_versus_whole_float():
    ints = pd.DataFrame({"a": np.array([1, 2]), "b": pd.array(["x\ty", None], dtype="str")})
    floats = pd.DataFrame({"a": [1.0, 2.0], "b": ["x\ty", None]})
    assert rows_fingerprint(ints) == rows_fingerprint(floats) == rows_fingerprint(ints.copy())
    assert rows_fingerprint(ints) != rows_fingerprint(ints.iloc[::-1])
    assert rows_fingerprint(ints) == hashlib.sha256(b"a\tb\n1\tx\\ty\n2\t\\N\n").hexdigest()


def test_redact_url_never_shows_the_password():
    assert redact_url("mysql+pymysql://me:p%40ss@db.local:3306/lab") == "mysql+pymysql://me:***@db.local:3306/lab"
    assert redact_url("mysql+pymysql://me@db.local/lab") == "mysql+pymysql://me@db.local/lab"
    assert redact_url("not a url://me:secret@host") == "not a url://me:***@host"


def test_query_and_table_are_exclusive():
    with pytest.raises(ImbrunError) as err:
        read_live("mysql+pymysql://me:pw@h/db")
    assert str(err.value) == "mysql+pymysql://me:***@h/db: give either query or table, not neither"
