"""A password or token written into a URL never reaches a file of the run, the data cache, a report or an error line.

tests/test_mysql_pipeline.py covers a live server (password from password_env, config.yaml redacted) and
tests/test_mysql_server.py the driver's error lines; here the server is replaced by a stub returning a table, so
the URL travels through every other path: config.yaml, env.json, status.json, report.html, inspect, a failed
run, and the error of an unreachable server. The one redactor (imbrun.redact) is checked on exact strings, and an
MLflow tracking URI with a token goes through a real `imbrun train` against a local stand-in server.
"""

import base64
import json
import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

import pandas as pd
import pytest
import yaml
from typer.testing import CliRunner

import imbrun.data.mysql_live
from imbrun.cli import app
from imbrun.config.experiment import Experiment
from imbrun.data.mysql_live import _engine_url
from imbrun.redact import redact_text, redact_url, url_secrets

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


def files_holding_the_secret(folder: Path, secret: str = SECRET) -> list[str]:
    return [str(p) for p in folder.rglob("*") if p.is_file() and secret.encode() in p.read_bytes()]


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


@pytest.mark.parametrize("url, shown", [
    ("mysql+pymysql://me:p%40ss@db.local:3306/lab", "mysql+pymysql://me:***@db.local:3306/lab"),
    ("mysql+pymysql://me@db.local/lab", "mysql+pymysql://me@db.local/lab"),
    # an unencoded '@' in the password: the host follows the LAST '@'
    ("mysql+pymysql://user:p@ss@host:3306/db", "mysql+pymysql://user:***@host:3306/db"),
    ("https://user:to@k@en@mlflow.example.org/", "https://user:***@mlflow.example.org/"),
    # an unencoded '/' or '?' in the password (SQLAlchemy reads it so): masked up to the '@'
    ("mysql+pymysql://user:pa/ss@host/db", "mysql+pymysql://user:***@host/db"),
    ("mysql+pymysql://user:pa?ss@host/db", "mysql+pymysql://user:***@host/db"),
    # secrets in the query string
    ("mysql+pymysql://u@h/db?charset=utf8mb4&password=s3cret", "mysql+pymysql://u@h/db?charset=utf8mb4&password=***"),
    ("https://mlflow.example.org/?token=t0k&x=1", "https://mlflow.example.org/?token=***&x=1"),
    ("https://h/p?access_token=a;client_secret=b&api_key=c&sig=d&sort=key",
     "https://h/p?access_token=***;client_secret=***&api_key=***&sig=***&sort=key"),
    ("https://u:pw@h/p?passwd=x#frag", "https://u:***@h/p?passwd=***#frag"),
    # nothing to hide
    ("sqlite:///mlruns.db", "sqlite:///mlruns.db"),
    ("http://127.0.0.1:5000", "http://127.0.0.1:5000"),
    ("file:./mlruns", "file:./mlruns"),
    ("not a url://me:secret@host", "not a url://me:***@host"),
])
def test_redact_url_exact(url, shown):
    assert redact_url(url) == shown
    assert redact_url(shown) == shown  # redacting twice changes nothing


def test_redact_text_masks_each_url_and_each_secret_of_the_given_urls():
    uri = "https://user:t0k%40en@h:5000/?key=k3y"
    assert url_secrets(uri) == ["t0k%40en", "t0k@en", "k3y"]
    line = "API request to https://user:t0k%40en@h:5000/api failed (auth t0k@en, key k3y); see mysql://a:b@c/d"
    assert redact_text(line, uri) == (
        "API request to https://user:***@h:5000/api failed (auth ***, key ***); see mysql://a:***@c/d")
    assert redact_text("nothing here", None) == "nothing here"


def test_saved_configs_are_redacted_but_the_connection_keeps_the_real_secret():
    data_url = f"mysql+pymysql://user:p@{SECRET}@127.0.0.1:1/db?password={SECRET}"
    uri = f"https://user:{SECRET}@mlflow.example.org/?token={SECRET}"
    cfg = Experiment.model_validate({"data": {"kind": "mysql", "url": data_url, "table": "t"},
                                     "tracking": {"mlflow": {"uri": uri}}})
    dumped = cfg.model_dump(mode="json")
    assert dumped["data"]["url"] == "mysql+pymysql://user:***@127.0.0.1:1/db?password=***"
    assert dumped["tracking"]["mlflow"]["uri"] == "https://user:***@mlflow.example.org/?token=***"
    assert SECRET not in yaml.safe_dump(dumped)
    assert (cfg.data.url, cfg.tracking.mlflow.uri) == (data_url, uri)  # what the loaders and sinks connect with
    target = _engine_url(data_url, None)
    assert (target.username, target.password, target.host, target.query["password"]) == (
        "user", f"p@{SECRET}", "127.0.0.1", SECRET)


def test_an_unencoded_at_and_a_query_password_stay_out_of_a_run(stub_server, tmp_path):
    url = f"mysql+pymysql://user:x@{SECRET}@127.0.0.1:1/db?charset=utf8&password={SECRET}"
    path = config(tmp_path)
    raw = yaml.safe_load(path.read_text())
    raw["data"]["url"] = url
    path.write_text(yaml.safe_dump(raw))
    result = runner.invoke(app, ["train", str(path), "--runs-dir", str(tmp_path / "runs")])
    assert result.exit_code == 0, result.output
    run = Path(result.stdout.strip().splitlines()[-1].removeprefix("run: "))
    shown = "mysql+pymysql://user:***@127.0.0.1:1/db?charset=utf8&password=***"
    assert yaml.safe_load((run / "config.yaml").read_text())["data"]["url"] == shown
    assert json.loads((run / "env.json").read_text())["data_sources"][0]["url"] == shown
    assert files_holding_the_secret(tmp_path / "runs") == [] and SECRET not in result.output


TOKEN = "t0ken-abc123"


@pytest.fixture
def refusing_mlflow_server(monkeypatch):
    """A local stand-in for an MLflow server: records each request's Authorization header and answers 401 with a
    message that repeats the token (as some servers do). Returns (port, headers seen)."""
    seen: list[str | None] = []

    class Refuse(BaseHTTPRequestHandler):
        def do_GET(self):
            seen.append(self.headers.get("Authorization"))
            body = json.dumps({"error_code": "UNAUTHENTICATED", "message": f"token {TOKEN} is not valid"}).encode()
            self.send_response(401)
            self.send_header("Content-Type", "application/json")
            self.send_header("Content-Length", str(len(body)))
            self.end_headers()
            self.wfile.write(body)

        do_POST = do_GET

        def log_message(self, *args):
            pass

    server = ThreadingHTTPServer(("127.0.0.1", 0), Refuse)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    monkeypatch.setenv("MLFLOW_HTTP_REQUEST_MAX_RETRIES", "0")
    yield server.server_address[1], seen
    server.shutdown()
    server.server_close()


def test_an_mlflow_token_in_the_uri_stays_out_of_the_run_and_the_error_line(refusing_mlflow_server, tmp_path):
    pytest.importorskip("mlflow")
    port, seen = refusing_mlflow_server
    csv = tmp_path / "t.csv"
    table().to_csv(csv, index=False)
    raw = {"name": "tok", "data": {"kind": "csv", "path": str(csv), "label": "label"},
           "model": {"kind": "dense", "hidden": [4]}, "train": {"epochs": 1, "batch_size": 8},
           "tracking": {"mlflow": {"uri": f"http://user:{TOKEN}@127.0.0.1:{port}", "experiment": "x"}}}
    path = tmp_path / "tok.yaml"
    path.write_text(yaml.safe_dump(raw))
    result = runner.invoke(app, ["train", str(path), "--runs-dir", str(tmp_path / "runs")])
    assert result.exit_code == 2
    line = (f"tracking.mlflow.uri: MLflow cannot use http://user:***@127.0.0.1:{port}: "
            "UNAUTHENTICATED: token *** is not valid")
    assert result.stderr.splitlines()[-1] == f"error: {line}"
    (run,) = (tmp_path / "runs").iterdir()
    assert json.loads((run / "status.json").read_text())["error"] == f"ImbrunError: {line}"
    saved = yaml.safe_load((run / "config.yaml").read_text())["tracking"]["mlflow"]["uri"]
    assert saved == f"http://user:***@127.0.0.1:{port}"
    assert files_holding_the_secret(tmp_path / "runs", TOKEN) == [] and TOKEN not in result.output
    # the request itself carried the real credentials
    assert seen == ["Basic " + base64.b64encode(f"user:{TOKEN}".encode()).decode()]


def test_a_sweep_folder_never_holds_the_password(stub_server, tmp_path):
    base = yaml.safe_load(config(tmp_path).read_text())
    spec = tmp_path / "sweep.yaml"
    spec.write_text(yaml.safe_dump({"name": "sql_sweep", "base": base, "grid": {"train.lr": [0.01, 0.001]}}))
    result = runner.invoke(app, ["sweep", str(spec), "--runs-dir", str(tmp_path / "runs"), "-q"])
    assert result.exit_code == 0, result.output
    (folder,) = (tmp_path / "runs").iterdir()
    saved = yaml.safe_load((folder / "sweep.yaml").read_text())
    assert saved["base"]["data"]["url"] == "mysql+pymysql://user:***@127.0.0.1:1/db"
    assert files_holding_the_secret(tmp_path / "runs") == [] and SECRET not in result.output


def test_evaluating_a_run_whose_url_password_was_redacted_asks_for_password_env(monkeypatch, tmp_path):
    """config.yaml keeps no password, so re-reading a live source needs password_env: one line says so."""
    def read_live(url, **kwargs):
        _engine_url(url, kwargs.get("password_env"))  # what a real connection builds first
        return table()

    monkeypatch.setattr(imbrun.data.mysql_live, "read_live", read_live)
    result = runner.invoke(app, ["train", str(config(tmp_path)), "--runs-dir", str(tmp_path / "runs")])
    assert result.exit_code == 0, result.output
    run = Path(result.stdout.strip().splitlines()[-1].removeprefix("run: "))
    result = runner.invoke(app, ["evaluate", str(run)])
    assert result.exit_code == 2, result.output
    assert [line for line in result.stderr.splitlines() if line.startswith("error:")] == [
        "error: mysql+pymysql://user:***@127.0.0.1:1/db: the password in this URL was redacted when the run was "
        "saved; put it in an environment variable and name it in data.password_env"]
