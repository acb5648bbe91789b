"""`data.kind: mysql` end to end: train from a dump file, and from a live MariaDB without leaking the password."""

import json
import os

import pytest
import yaml
from typer.testing import CliRunner

from imbrun.cli import app
from tests.mariadb import PASSWORD, MariaDB, find_binary

runner = CliRunner()


def _rows():
    """60 rows, labels 45/10/5, two numeric features that separate the classes, a text column to drop."""
    rows = []
    for i in range(60):
        label = "big" if i < 45 else "mid" if i < 55 else "rare"
        centre = {"big": 0.0, "mid": 3.0, "rare": 6.0}[label]
        rows.append((i + 1, label, centre + (i % 5) * 0.1, -centre + (i % 3) * 0.1, f"note {i}'s"))
    return rows


DUMP_HEADER = """-- MySQL dump 10.13
/*!40101 SET @OLD_CHARACTER_SET_CLIENT=@@CHARACTER_SET_CLIENT */;
DROP TABLE IF EXISTS `beats`;
CREATE TABLE `beats` (
  `id` int NOT NULL,
  `label` varchar(10) NOT NULL,
  `a` double DEFAULT NULL,
  `b` double DEFAULT NULL,
  `note` varchar(40) DEFAULT NULL,
  PRIMARY KEY (`id`)
) ENGINE=InnoDB;
LOCK TABLES `beats` WRITE;
"""


def _dump(path):
    values = ",".join("({},'{}',{},{},'{}')".format(i, lab, a, b, note.replace("'", "\\'"))
                      for i, lab, a, b, note in _rows())
    path.write_text(DUMP_HEADER + f"INSERT INTO `beats` VALUES {values};\nUNLOCK TABLES;\n")
    return path


def _config(tmp_path, data):
    cfg = {"name": "sql", "data": {"kind": "mysql", "label": "label", "drop": ["id", "note"], **data},
           "split": {"test_size": 0.25, "val_size": 0.2}, "preprocess": {"normalize": {"kind": "standard"}},
           "model": {"kind": "dense", "hidden": [8]}, "train": {"epochs": 2, "batch_size": 16}}
    path = tmp_path / "sql.yaml"
    path.write_text(yaml.safe_dump(cfg))
    return path


def _train(config, runs):
    result = runner.invoke(app, ["train", str(config), "--runs-dir", str(runs), "-q"])
    assert result.exit_code == 0, result.output
    return runs / result.output.strip().split("/")[-1]


def test_training_from_a_mysqldump_file_records_its_hash(tmp_path):
    dump = _dump(tmp_path / "export.sql")
    run = _train(_config(tmp_path, {"path": str(dump), "table": "beats"}), tmp_path / "runs")
    metrics = json.loads((run / "metrics.json").read_text())
    assert metrics["class_names"] == ["big", "mid", "rare"]
    assert sum(v["support"] for v in metrics["test"]["per_class"].values()) == 15
    (source,) = json.loads((run / "env.json").read_text())["data_sources"]
    import hashlib
    assert source["sha256"] == hashlib.sha256(dump.read_bytes()).hexdigest() and source["table"] == "beats"


def test_a_dump_without_the_table_lists_the_tables_it_has(tmp_path):
    dump = _dump(tmp_path / "export.sql")
    result = runner.invoke(app, ["train", str(_config(tmp_path, {"path": str(dump), "table": "nope"})),
                                 "--runs-dir", str(tmp_path / "runs")])
    assert result.exit_code == 2
    assert "nope" in result.output and "beats" in result.output and len(result.output.strip().splitlines()) == 1


@pytest.fixture(scope="module")
def server(tmp_path_factory):
    if find_binary(("mariadbd", "mysqld")) is None:
        if os.environ.get("CI") == "true":
            pytest.fail("CI=true but no MariaDB/MySQL server binary found (install it with .ci/mariadb.sh)")
        pytest.skip("no MariaDB/MySQL server binary found")
    db = MariaDB.start(tmp_path_factory.mktemp("mariadb_pipeline"))
    try:
        with db.root_connection() as conn, conn.cursor() as cur:
            cur.execute("CREATE TABLE imb.beats (id INT PRIMARY KEY, label VARCHAR(10), a DOUBLE, b DOUBLE, "
                        "note VARCHAR(40))")
            cur.executemany("INSERT INTO imb.beats VALUES (%s, %s, %s, %s, %s)", _rows())
        yield db
    finally:
        db.stop()


def test_training_from_a_live_server_never_writes_the_password(server, tmp_path, monkeypatch):
    monkeypatch.setenv("IMB_TEST_PW", PASSWORD)
    url = server.url(password=None)
    live = _train(_config(tmp_path, {"url": url, "table": "beats", "password_env": "IMB_TEST_PW"}), tmp_path / "r")
    from_dump = _train(_config(tmp_path, {"path": str(_dump(tmp_path / "e.sql")), "table": "beats"}),
                       tmp_path / "r")
    for name in os.listdir(live):
        if (live / name).is_file():
            assert PASSWORD.encode() not in (live / name).read_bytes(), name
    assert json.loads((live / "metrics.json").read_text())["test"] == \
        json.loads((from_dump / "metrics.json").read_text())["test"]
    (source,) = json.loads((live / "env.json").read_text())["data_sources"]
    assert source["table"] == "beats" and source["rows"] == 60 and len(source["rows_sha256"]) == 64


def test_a_password_in_the_url_is_redacted_in_the_saved_config(server, tmp_path):
    run = _train(_config(tmp_path, {"url": server.url(), "table": "beats"}), tmp_path / "r")
    saved = (run / "config.yaml").read_text()
    assert PASSWORD not in saved and "***" in saved
