"""imbrun runs / runs rm on hand-made run folders (exact cells), plus one real run from `train`."""

import json

import pandas as pd
import pytest
import yaml
from typer.testing import CliRunner

from imbrun.cli import app
from imbrun.runs import RunDir
from imbrun.runs_list import format_duration, list_runs
from tests.conftest import tiny_config, write_blobs_csv

runner = CliRunner()


def _make_run(root, stamp, name, status, strategy="none", macro_f1=None, recalls=None, seconds=None, time=None,
              **overall):
    run = RunDir(root / f"{stamp}_{name}")
    run.path.mkdir(parents=True)
    config = {"name": name, "data": {"kind": "csv", "path": "/data/ecg/beats.csv"}, "model": {"kind": "cnn1d"},
              "balance": {"kind": strategy}}
    run.write_text("config.yaml", yaml.safe_dump(config))
    run.write_json("status.json", {"status": status, "time": time or "2024-01-01T12:00:00+0000"})
    if macro_f1 is not None:
        per_class = {c: {"precision": 0.5, "recall": r, "f1": 0.5, "support": 3} for c, r in recalls.items()}
        run.write_json("metrics.json", {"class_names": list(recalls), "test": {
            "overall": {"macro_f1": macro_f1, **overall}, "per_class": per_class}})
        run.write_json("balance.json", {"strategy": strategy, "class_counts": {
            "train": {"N": 500, "S": 12, "V": 40}, "val": {}, "test": {}}})
    if seconds is not None:
        run.write_frame("history.csv", pd.DataFrame({"epoch": range(1, len(seconds) + 1), "seconds": seconds}))
    return run


@pytest.fixture
def runs_dir(tmp_path):
    root = tmp_path / "runs"
    _make_run(root, "20240101-120000", "none", "completed", "none", 0.61, {"N": 0.99, "S": 0.20, "V": 0.8},
              seconds=[1.5, 2.0, 2.5], balanced_accuracy=0.83, mcc=0.7)
    _make_run(root, "20240102-090000", "focal", "completed", "focal", 0.74, {"N": 0.97, "S": 0.55, "V": 0.9},
              seconds=[30.0, 45.0], balanced_accuracy=0.79, mcc=float("nan"))
    _make_run(root, "20240103-080000", "broken", "failed", time="2024-01-03T08:02:05+0000")
    _make_run(root, "20240104-080000", "stopped", "interrupted")
    (root / "notes").mkdir()  # not a run: no status.json, no config.yaml
    return root


def test_listing_reads_every_column(runs_dir):
    rows = {r.name: r for r in list_runs(runs_dir)}
    assert list(rows) == ["20240101-120000_none", "20240102-090000_focal", "20240103-080000_broken",
                          "20240104-080000_stopped"]
    focal = rows["20240102-090000_focal"]
    assert (focal.time, focal.status, focal.data, focal.model, focal.strategy) == (
        "2024-01-02 09:00", "completed", "csv beats.csv", "cnn1d", "focal")
    # the minority class is S (12 training rows): its test recall
    assert (focal.macro_f1, focal.minority_class, focal.minority_recall, focal.duration) == (0.74, "S", 0.55, 75.0)
    broken = rows["20240103-080000_broken"]
    assert (broken.macro_f1, broken.minority_recall) == (None, None)
    assert broken.duration == 125.0  # no history.csv: status time minus the folder's time stamp


def test_filters_and_sort(runs_dir):
    assert [r.name for r in list_runs(runs_dir, sort="macro_f1")][:2] == ["20240102-090000_focal",
                                                                         "20240101-120000_none"]
    assert [r.name for r in list_runs(runs_dir, status="failed")] == ["20240103-080000_broken"]
    assert [r.name for r in list_runs(runs_dir, grep="FOCAL")] == ["20240102-090000_focal"]


def test_cli_json_and_table(runs_dir):
    result = runner.invoke(app, ["runs", str(runs_dir), "--status", "completed", "--sort", "minority_recall",
                                 "--format", "json"])
    assert result.exit_code == 0, result.output
    rows = json.loads(result.output)
    assert [(r["name"], r["minority_recall"]) for r in rows] == [("20240102-090000_focal", 0.55),
                                                                 ("20240101-120000_none", 0.2)]
    table = runner.invoke(app, ["runs", str(runs_dir)], env={"COLUMNS": "200"})
    assert table.exit_code == 0, table.output
    assert "4 run(s)" in table.output
    line = next(line for line in table.output.splitlines() if "_focal" in line)
    assert [cell.strip() for cell in line.strip("│ ").split("│")] == [
        "20240102-090000_focal", "01-02 09:00", "completed", "csv beats.csv", "cnn1d", "focal", "0.740",
        "0.550 (S)", "1m15s"]


def test_sort_by_any_test_metric_best_first_unknown_last(runs_dir):
    rows = list_runs(runs_dir, sort="balanced_accuracy")
    assert [(r.name, r.overall.get("balanced_accuracy")) for r in rows] == [
        ("20240101-120000_none", 0.83), ("20240102-090000_focal", 0.79), ("20240103-080000_broken", None),
        ("20240104-080000_stopped", None)]
    # a NaN score counts as unknown: the run with mcc 0.7 first, then the rest in folder order
    assert [r.name for r in list_runs(runs_dir, sort="mcc")][:2] == ["20240101-120000_none", "20240102-090000_focal"]
    assert rows[1].overall == {"macro_f1": 0.74, "balanced_accuracy": 0.79}
    assert [r.name for r in list_runs(runs_dir, sort="strategy", status="completed")] == [
        "20240102-090000_focal", "20240101-120000_none"]


def test_cli_sort_by_a_metric_adds_its_column(runs_dir):
    result = runner.invoke(app, ["runs", str(runs_dir), "--sort", "balanced_accuracy", "--status", "completed"],
                           env={"COLUMNS": "220"})
    assert result.exit_code == 0, result.output
    header = next(line for line in result.output.splitlines() if "name" in line and "strategy" in line)
    assert [cell.strip() for cell in header.strip("┃ ").split("┃")][6:] == [
        "macro-F1", "balanced_accuracy", "minority recall", "duration"]
    lines = [line for line in result.output.splitlines() if "_none" in line or "_focal" in line]
    assert [[cell.strip() for cell in line.strip("│ ").split("│")][6:8] for line in lines] == [
        ["0.610", "0.830"], ["0.740", "0.790"]]
    extra = runner.invoke(app, ["runs", str(runs_dir), "--sort", "roc_auc"])
    assert extra.exit_code == 2 and extra.output.startswith("error: --sort: expected one of time, ")


def _make_sweep(runs_dir):
    """A sweep folder as `imbrun sweep` leaves it: sweep.yaml, trials.json and one run folder per trial."""
    sweep = runs_dir / "lr-grid_20240105-100000"
    sweep.mkdir()
    (sweep / "sweep.yaml").write_text("name: lr-grid\n")
    (sweep / "trials.json").write_text('{"trials": []}\n')
    _make_run(sweep, "20240105-100001", "lr-grid-t0", "completed", "none", 0.9, {"N": 0.99, "S": 0.8, "V": 0.9},
              seconds=[1.0], balanced_accuracy=0.95)
    _make_run(sweep, "20240105-100002", "lr-grid-t1", "failed")
    return sweep


def test_sweep_trials_are_listed_under_their_sweep(runs_dir):
    sweep = _make_sweep(runs_dir)
    rows = {r.name: r for r in list_runs(runs_dir)}
    assert list(rows)[-2:] == ["lr-grid_20240105-100000/20240105-100001_lr-grid-t0",
                               "lr-grid_20240105-100000/20240105-100002_lr-grid-t1"]
    trial = rows["lr-grid_20240105-100000/20240105-100001_lr-grid-t0"]
    assert (trial.sweep, trial.status, trial.macro_f1, trial.time, trial.path) == (
        "lr-grid_20240105-100000", "completed", 0.9, "2024-01-05 10:00", str(sweep / "20240105-100001_lr-grid-t0"))
    assert rows["20240101-120000_none"].sweep is None
    assert [r.name for r in list_runs(runs_dir, sort="macro_f1")][0] == trial.name
    assert [r.name for r in list_runs(runs_dir, grep="lr-grid", status="failed")] == [
        "lr-grid_20240105-100000/20240105-100002_lr-grid-t1"]
    result = runner.invoke(app, ["runs", str(runs_dir), "--format", "json"])
    assert [r["sweep"] for r in json.loads(result.output)] == [None] * 4 + ["lr-grid_20240105-100000"] * 2


def test_rm_deletes_failed_sweep_trials_too(runs_dir):
    sweep = _make_sweep(runs_dir)
    result = runner.invoke(app, ["runs", "rm", str(runs_dir), "--status", "failed", "--yes"])
    assert result.exit_code == 0, result.output
    assert f"failed       {sweep / '20240105-100002_lr-grid-t1'}" in result.output
    assert "deleted 2 run folder(s)" in result.output
    assert sorted(p.name for p in sweep.iterdir()) == ["20240105-100001_lr-grid-t0", "sweep.yaml", "trials.json"]
    assert not (runs_dir / "20240103-080000_broken").exists()


def test_bad_sort_key_and_missing_folder_are_one_line_errors(runs_dir, tmp_path):
    result = runner.invoke(app, ["runs", str(runs_dir), "--sort", "speed"])
    assert result.exit_code == 2
    assert result.output == ("error: --sort: expected one of time, name, status, data, model, strategy, "
                             "minority_recall, duration, accuracy, balanced_accuracy, macro_f1, weighted_f1, mcc, "
                             "gmean, got 'speed'\n")
    result = runner.invoke(app, ["runs", str(tmp_path / "nowhere")])
    assert result.exit_code == 2 and result.output == f"error: {tmp_path / 'nowhere'}: runs folder not found\n"


def test_rm_asks_then_deletes_failed_and_interrupted_only(runs_dir):
    result = runner.invoke(app, ["runs", "rm", str(runs_dir)], input="n\n")
    assert result.exit_code == 0, result.output
    assert "delete these 2 run folder(s)? [y/N]" in result.output and "nothing deleted" in result.output
    assert len([p for p in runs_dir.iterdir()]) == 5
    result = runner.invoke(app, ["runs", "rm", str(runs_dir)], input="y\n")
    assert result.exit_code == 0 and "deleted 2 run folder(s)" in result.output
    assert sorted(p.name for p in runs_dir.iterdir()) == ["20240101-120000_none", "20240102-090000_focal", "notes"]


def test_rm_with_status_and_yes(runs_dir):
    result = runner.invoke(app, ["runs", "rm", str(runs_dir), "--status", "interrupted", "--yes"])
    assert result.exit_code == 0 and "deleted 1 run folder(s)" in result.output
    assert not (runs_dir / "20240104-080000_stopped").exists() and (runs_dir / "20240103-080000_broken").exists()
    result = runner.invoke(app, ["runs", "rm", str(runs_dir), "--status", "completed", "--yes"])
    assert result.exit_code == 2
    assert "runs rm deletes only failed or interrupted runs, got 'completed'" in result.output
    assert (runs_dir / "20240101-120000_none").exists()


def test_a_real_training_run_is_listed(tmp_path):
    csv_path = write_blobs_csv(tmp_path / "blobs.csv")
    config = tmp_path / "tiny.yaml"
    config.write_text(yaml.safe_dump(tiny_config(csv_path, train={"epochs": 2, "batch_size": 16, "lr": 0.01})))
    trained = runner.invoke(app, ["train", str(config), "--runs-dir", str(tmp_path / "runs"), "-q"])
    assert trained.exit_code == 0, trained.output
    [row] = list_runs(tmp_path / "runs")
    metrics = json.loads((tmp_path / "runs" / row.name / "metrics.json").read_text())
    assert (row.status, row.data, row.model, row.strategy, row.minority_class) == (
        "completed", "csv blobs.csv", "dense", "none", "c2")
    assert row.macro_f1 == metrics["test"]["overall"]["macro_f1"]
    assert row.minority_recall == metrics["test"]["per_class"]["c2"]["recall"]
    assert row.duration > 0


def test_format_duration():
    assert [format_duration(s) for s in (None, 0.376, 4.24, 75.0, 3725.0)] == ["", "0.38s", "4.2s", "1m15s", "1h02m"]
