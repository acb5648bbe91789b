"""A password written into a MySQL URL never reaches a file of the run, the data cache, a report or an error line.

tests/test_mysql_pipeline.py covers a live server (password from password_env, config.yaml redacted) and
tests/test_mysql_server.py the driver's error lines; here the server is replaced by a stub returning a table, so
the URL travels through every other path: config.yaml, env.json, status.json, report.html, inspect, a failed
run, and the error of an unreachable server.
"""

import json
from pathlib import Path

import pandas as pd
import pytest
import yaml
from typer.testing import CliRunner

import imbrun.data.mysql_live
from imbrun.cli import app

runner = CliRunner()
SECRET = "s3cret"
URL = f"mysql+pymysql://user:{SECRET}@127.0.0.1:1/db"


def table() -> pd.DataFrame:
    """40 rows, labels 30/10, two features that separate them."""
    return pd.DataFrame({"a": [i * 0.01 for i in range(40)], "b": [1.0 if i >= 30 else 0.0 for i in range(40)],
                         "label": ["rare" if i >= 30 else "common" for i in range(40)]})


@pytest.fixture
def stub_server(monkeypatch, tmp_path):
    """read_live returns the table (the URL is still parsed, recorded and redacted as with a server)."""
    monkeypatch.setattr(imbrun.data.mysql_live, "read_live", lambda url, **kwargs: table())
    monkeypatch.setenv("IMBRUN_CACHE_DIR", str(tmp_path / "cache"))


def config(tmp_path: Path, **sections) -> Path:
    raw = {"name": "sql", "data": {"kind": "mysql", "url": URL, "table": "beats", "label": "label"},
           "split": {"test_size": 0.25, "val_size": 0.25}, "model": {"kind": "dense", "hidden": [4]},
           "train": {"epochs": 1, "batch_size": 8}, **sections}
    path = tmp_path / "sql.yaml"
    path.write_text(yaml.safe_dump(raw))
    return path


def files_holding_the_secret(folder: Path) -> list[str]:
    return [str(p) for p in folder.rglob("*") if p.is_file() and SECRET.encode() in p.read_bytes()]


def test_a_completed_run_its_cache_and_its_report_never_hold_the_password(stub_server, tmp_path):
    result = runner.invoke(app, ["train", str(config(tmp_path)), "--runs-dir", str(tmp_path / "runs")])
    assert result.exit_code == 0, result.output
    run = Path(result.stdout.strip().splitlines()[-1].removeprefix("run: "))
    assert json.loads((run / "status.json").read_text())["status"] == "completed"
    (source,) = json.loads((run / "env.json").read_text())["data_sources"]
    assert source["url"] == "mysql+pymysql://user:***@127.0.0.1:1/db"
    assert yaml.safe_load((run / "config.yaml").read_text())["data"]["url"] == source["url"]
    report = runner.invoke(app, ["report", str(run)])
    assert report.exit_code == 0, report.output
    inspect = runner.invoke(app, ["inspect", str(config(tmp_path)), "--format", "json"])
    assert inspect.exit_code == 0, inspect.output
    assert not (tmp_path / "cache").exists()  # a live source is never cached (it can change unseen)
    assert (run / "report.html").is_file() and files_holding_the_secret(tmp_path / "runs") == []
    assert SECRET not in result.output + report.output + inspect.output


def test_a_failed_run_records_its_error_without_the_password(stub_server, tmp_path):
    too_short = {"kind": "cnn1d", "channels": [2], "pool": 4}  # fails after the run folder exists
    result = runner.invoke(app, ["train", str(config(tmp_path, model=too_short)), "--runs-dir", str(tmp_path / "runs")])
    assert result.exit_code == 2
    (status,) = [json.loads(p.read_text()) for p in (tmp_path / "runs").glob("*/status.json")]
    assert status["status"] == "failed" and status["error"].startswith("ImbrunError: model: cnn1d")
    assert files_holding_the_secret(tmp_path / "runs") == [] and SECRET not in result.output


def test_an_unreachable_server_is_one_line_without_the_password(tmp_path):
    result = runner.invoke(app, ["train", str(config(tmp_path)), "--runs-dir", str(tmp_path / "runs")])
    assert result.exit_code == 2
    (line,) = result.stderr.splitlines()
    assert line.startswith("error: mysql+pymysql://user:***@127.0.0.1:1/db: cannot connect to the MySQL server at "
                           "127.0.0.1:1")
    assert SECRET not in result.output and not (tmp_path / "runs").exists()
