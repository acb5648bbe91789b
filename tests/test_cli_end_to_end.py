"""train -> evaluate -> compare through Typer's CliRunner, on a tiny CSV; plus determinism and --help speed."""

import json
import subprocess
import sys

import pandas as pd
import pytest
import yaml
from typer.testing import CliRunner

from imbrun.cli import app
from tests.conftest import tiny_config, write_blobs_csv

runner = CliRunner()


@pytest.fixture
def config_file(tmp_path):
    csv_path = write_blobs_csv(tmp_path / "blobs.csv")
    path = tmp_path / "tiny.yaml"
    path.write_text(yaml.safe_dump(tiny_config(csv_path)))
    return path


def _train(config_file, runs_dir, *extra):
    result = runner.invoke(app, ["train", str(config_file), "--runs-dir", str(runs_dir), "-q", *extra])
    assert result.exit_code == 0, result.output
    return runs_dir / result.output.strip().removeprefix("run: ").split("/")[-1]


def test_train_writes_a_complete_run_folder(config_file, tmp_path):
    run = _train(config_file, tmp_path / "runs")
    expected = {"config.yaml", "metrics.json", "per_class.csv", "confusion_matrix.csv", "confusion_matrix.png",
                "history.csv", "curves.png", "predictions.csv", "model.pt", "model.json", "preprocess.npz",
                "env.json", "status.json", "balance.json"}
    assert expected <= {p.name for p in run.iterdir()}
    assert json.loads((run / "status.json").read_text())["status"] == "completed"
    metrics = json.loads((run / "metrics.json").read_text())
    assert metrics["class_names"] == ["c0", "c1", "c2"]
    # 58 rows, test share 0.25 stratified -> 15 test rows: 10 / 3 / 2
    assert [v["support"] for v in metrics["test"]["per_class"].values()] == [10, 3, 2]
    history = pd.read_csv(run / "history.csv")
    assert list(history.columns[:4]) == ["epoch", "train_loss", "val_loss", "val_macro_f1"]
    assert len(history) == 3
    predictions = pd.read_csv(run / "predictions.csv")
    assert list(predictions.columns) == ["row_id", "true", "pred", "prob_c0", "prob_c1", "prob_c2"]
    assert len(predictions) == 15
    saved = yaml.safe_load((run / "config.yaml").read_text())
    assert saved["train"]["optimizer"] == "adam" and saved["balance"] == {"kind": "none"}


def test_same_config_and_seed_give_identical_metrics(config_file, tmp_path):
    first = _train(config_file, tmp_path / "runs")
    second = _train(config_file, tmp_path / "runs")
    assert first != second  # never the same folder
    a, b = (json.loads((r / "metrics.json").read_text()) for r in (first, second))
    assert a["test"] == b["test"] and a["val"] == b["val"]
    assert (first / "predictions.csv").read_text() == (second / "predictions.csv").read_text()


def test_evaluate_reproduces_the_stored_metrics(config_file, tmp_path):
    run = _train(config_file, tmp_path / "runs", "--set", "balance.kind=class_weight")
    result = runner.invoke(app, ["evaluate", str(run)])
    assert result.exit_code == 0, result.output
    assert "matches the stored metrics.json" in result.output
    (eval_dir,) = (run / "eval").iterdir()
    stored = json.loads((run / "metrics.json").read_text())["test"]
    assert json.loads((eval_dir / "metrics.json").read_text())["test"] == stored


def test_evaluate_on_another_csv_matches_classes_by_name(config_file, tmp_path):
    run = _train(config_file, tmp_path / "runs")
    other = write_blobs_csv(tmp_path / "other.csv", counts=(0, 5, 4), seed=3)
    result = runner.invoke(app, ["evaluate", str(run), "--data", str(other), "-q"])
    assert result.exit_code == 0, result.output
    (eval_dir,) = (run / "eval").iterdir()
    metrics = json.loads((eval_dir / "metrics.json").read_text())
    assert [v["support"] for v in metrics["test"]["per_class"].values()] == [0, 5, 4]


def test_compare_shows_strategies_and_differing_keys(config_file, tmp_path):
    a = _train(config_file, tmp_path / "runs")
    b = _train(config_file, tmp_path / "runs", "--set", "balance.kind=focal", "--name", "focal")
    result = runner.invoke(app, ["compare", str(a), str(b), "--format", "json"])
    assert result.exit_code == 0, result.output
    data = json.loads(result.output)
    assert [r["strategy"] for r in data["overall"]] == ["none", "focal"]
    assert data["config_differences"]["balance.kind"] == ["none", "focal"]
    assert data["config_differences"]["name"] == ["tiny", "focal"]
    markdown = runner.invoke(app, ["compare", str(a), str(b), "--format", "markdown"])
    assert markdown.exit_code == 0 and "| balance.kind | none | focal |" in markdown.output


def test_config_errors_are_one_line_each_with_exit_code_2(config_file, tmp_path):
    result = runner.invoke(app, ["train", str(config_file), "--set", "train.lr=fast", "--set", "model.hiddn=[3]",
                                 "--runs-dir", str(tmp_path / "runs")])
    assert result.exit_code == 2
    lines = result.output.strip().splitlines()
    assert lines == [
        f"error: {config_file}: model.hiddn: unknown key (did you mean 'hidden'?); known keys: kind, hidden, "
        "dropout, activation, batch_norm",
        f"error: {config_file}: train.lr: Input should be a valid number, unable to parse string as a number "
        "(got 'fast')",
    ]
    assert not (tmp_path / "runs").exists()  # nothing half-written


def test_bad_data_leaves_no_run_folder(tmp_path):
    bad = tmp_path / "bad.csv"
    bad.write_text("a,b,label\n1,2,x\n3,oops,y\n")
    cfg = tmp_path / "bad.yaml"
    cfg.write_text(yaml.safe_dump({"data": {"kind": "csv", "path": str(bad), "label": "label"}}))
    result = runner.invoke(app, ["train", str(cfg), "--runs-dir", str(tmp_path / "runs")])
    assert result.exit_code == 2
    assert result.output.strip() == f"error: {bad}: row 2, column 'b': expected a number, got 'oops' " \
                                    "(list the column under data.categorical if it is a category)"
    assert not (tmp_path / "runs").exists()


def test_help_does_not_import_torch():
    code = "import sys; from imbrun.cli import app; print('torch' in sys.modules, 'pandas' in sys.modules)"
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True).stdout
    assert out.split() == ["False", "False"]
