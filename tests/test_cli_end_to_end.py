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


def test_evaluate_split_val_gives_the_stored_validation_block(config_file, tmp_path):
    run = _train(config_file, tmp_path / "runs", "--set", "balance.kind=oversample")
    result = runner.invoke(app, ["evaluate", str(run), "--split", "val"])
    assert result.exit_code == 0, result.output
    assert "matches the stored metrics.json" in result.output
    (eval_dir,) = (run / "eval").iterdir()
    assert eval_dir.name.endswith("_val")
    scored = json.loads((eval_dir / "metrics.json").read_text())
    stored = json.loads((run / "metrics.json").read_text())
    assert scored["split"] == "val" and scored["data"] == "run val split"
    assert {k: v for k, v in scored["test"].items() if k != "probability"} == stored["val"]
    assert scored["test_fingerprint"] != stored["test_fingerprint"]  # other rows than the test split


def test_evaluate_split_train_scores_the_training_rows_before_resampling(config_file, tmp_path):
    run = _train(config_file, tmp_path / "runs", "--set", "balance.kind=oversample")
    result = runner.invoke(app, ["evaluate", str(run), "--split", "train"])
    assert result.exit_code == 0, result.output
    assert "stored metrics.json" not in result.output  # nothing stored to match for the training split
    (eval_dir,) = (run / "eval").iterdir()
    assert eval_dir.name.endswith("_train")
    balance = json.loads((run / "balance.json").read_text())
    supports = {k: v["support"] for k, v in json.loads((eval_dir / "metrics.json").read_text())["test"]
                ["per_class"].items()}
    assert supports == balance["class_counts"]["train"] == {"c0": 22, "c1": 6, "c2": 3}
    assert balance["resampling"]["train_after"] == {"c0": 22, "c1": 22, "c2": 22}
    both = runner.invoke(app, ["evaluate", str(run), "--split", "val", "--data", "x.csv"])
    assert both.exit_code == 2
    assert both.output.strip() == "error: --split picks a split of the run's own data; drop --data or --split"
    bad = runner.invoke(app, ["evaluate", str(run), "--split", "dev"])
    assert bad.exit_code == 2 and "Invalid value for '--split'" in bad.output  # Typer's own message


def test_evaluate_data_from_another_config(config_file, tmp_path):
    run = _train(config_file, tmp_path / "runs")
    rows = write_blobs_csv(tmp_path / "other.csv", counts=(3, 4, 5), seed=5)
    held_out = write_blobs_csv(tmp_path / "other_test.csv", counts=(0, 2, 6), seed=7)
    with_test = tmp_path / "with_test.yaml"
    with_test.write_text(yaml.safe_dump({"data": {"kind": "csv", "path": str(rows), "test_path": str(held_out),
                                                  "label": "label"}}))
    plain = tmp_path / "plain.yaml"
    plain.write_text(yaml.safe_dump({"data": {"kind": "csv", "path": str(rows), "label": "label"}}))
    supports = []
    for config in (with_test, plain):
        result = runner.invoke(app, ["evaluate", str(run), "--data", str(config), "-q"])
        assert result.exit_code == 0, result.output
        folder = result.stdout.strip().removeprefix("eval: ")
        assert folder.endswith(f"_{config.stem}")
        metrics = json.loads(open(f"{folder}/metrics.json").read())
        assert metrics["data"] == str(config) and "split" not in metrics
        supports.append([v["support"] for v in metrics["test"]["per_class"].values()])
    assert supports == [[0, 2, 6], [3, 4, 5]]  # the config's test file when it has one, else all its rows


def test_evaluate_refuses_classes_not_in_the_training_data(config_file, tmp_path):
    run = _train(config_file, tmp_path / "runs")
    extra = write_blobs_csv(tmp_path / "extra.csv", counts=(2, 2, 2, 3), seed=4)  # c3 was never trained on
    result = runner.invoke(app, ["evaluate", str(run), "--data", str(extra)])
    assert result.exit_code == 2
    assert result.output.strip() == (f"error: {extra}: classes ['c3'] were not in the training data "
                                     "(classes: ['c0', 'c1', 'c2'])")
    config = tmp_path / "extra.yaml"
    config.write_text(yaml.safe_dump({"data": {"kind": "csv", "path": str(extra), "label": "label"}}))
    result = runner.invoke(app, ["evaluate", str(run), "--data", str(config)])
    assert result.exit_code == 2
    assert result.output.strip() == (f"error: {config}: classes ['c3'] were not in the training data "
                                     "(classes: ['c0', 'c1', 'c2'])")
    assert not (run / "eval").exists()  # nothing half-written
