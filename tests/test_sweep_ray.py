"""The Ray backend on a real local Ray instance (2 CPUs, no dashboard; conftest's session-scoped ray_instance): same
folders, leaderboard, failures and --resume as the local backend."""

import csv
import json
import os

import numpy as np
import pytest
import torch
import yaml
from typer.testing import CliRunner

from imbrun.cli import app
from imbrun.runs import RunDir
from imbrun.sweep import SweepOptions, run_sweep
from imbrun.sweep_board import overall_score
from imbrun.sweep_ray import RayOptions
from tests.conftest import tiny_config, write_blobs_csv

try:
    import ray  # noqa: F401 - only whether it imports
except ImportError:  # CI installs the ray extra: there a missing Ray is a failure, not a skip
    if os.environ.get("CI") == "true":
        pytest.fail("ray is not importable under CI (install the project with its ray extra)", pytrace=False)
    pytest.skip("ray is not installed (pip install 'ray>=2.9')", allow_module_level=True)

torch.set_num_threads(1)


@pytest.fixture(scope="module")
def spec(tmp_path_factory):
    folder = tmp_path_factory.mktemp("ray_sweep")
    base = tiny_config(write_blobs_csv(folder / "blobs.csv"))
    base["train"]["epochs"] = 2
    path = folder / "sweep.yaml"
    path.write_text(yaml.safe_dump({"name": "blobs", "base": base, "grid": {"balance.kind": ["none", "class_weight"]},
                                    "seeds": [0, 1]}))
    return path


@pytest.fixture(scope="module")
def shared_sweep(ray_instance, spec, tmp_path_factory):
    """Tasks write straight into the sweep folder (same machine: the driver's path is visible)."""
    return run_sweep(spec, tmp_path_factory.mktemp("runs"), SweepOptions("ray", ray=RayOptions(cpus_per_trial=1)))


def test_ray_sweep_writes_ordinary_run_folders_and_the_leaderboard(shared_sweep):
    folder = shared_sweep.folder
    trials = json.loads((folder / "trials.json").read_text())["trials"]
    assert [(t["name"], t["status"]) for t in trials] == [
        ("tiny__balance.kind-none__seed-0", "completed"), ("tiny__balance.kind-none__seed-1", "completed"),
        ("tiny__balance.kind-class_weight__seed-0", "completed"),
        ("tiny__balance.kind-class_weight__seed-1", "completed")]
    scores = {}
    for t in trials:
        run = RunDir.open(folder / t["run"])  # every file evaluate/compare need is there
        assert yaml.safe_load(run.file("config.yaml").read_text())["train"]["threads"] == 1  # = cpus_per_trial
        scores.setdefault(t["configuration"], []).append(run.read_json("metrics.json")["test"]["overall"]["macro_f1"])
    with open(folder / "leaderboard.csv", newline="") as handle:
        board = list(csv.DictReader(handle))
    assert {r["configuration"]: (float(r["macro_f1_mean"]), float(r["macro_f1_std"]), r["n"]) for r in board} == \
        {c: (float(np.mean(v)), float(np.std(v, ddof=1)), "2") for c, v in scores.items()}
    assert shared_sweep.failed == 0


def test_copied_back_run_folders_equal_the_shared_ones(shared_sweep, spec, tmp_path):
    """Returned files (for a driver that cannot see the worker's disk) rebuild the same run folders."""
    copied = run_sweep(spec, tmp_path, SweepOptions("ray", ray=RayOptions(cpus_per_trial=1, copy_back=True)))
    for a, b in zip(shared_sweep.records, copied.records):
        assert (a["name"], b["status"]) == (b["name"], "completed")
        files_a = sorted(p.name for p in (shared_sweep.folder / a["run"]).iterdir())
        files_b = sorted(p.name for p in (copied.folder / b["run"]).iterdir())
        assert files_a == files_b
        for name in ("config.yaml", "predictions.csv", "per_class.csv"):
            copy, original = copied.folder / b["run"] / name, shared_sweep.folder / a["run"] / name
            assert copy.read_bytes() == original.read_bytes()
        metrics_a = RunDir(shared_sweep.folder / a["run"]).read_json("metrics.json")
        assert RunDir(copied.folder / b["run"]).read_json("metrics.json") == metrics_a


def test_failing_trials_are_recorded_and_resume_on_ray_reruns_only_them(ray_instance, tmp_path):
    """One trial's loss becomes nan (its run folder exists), two miss their data file (no run folder yet)."""
    base = tiny_config(write_blobs_csv(tmp_path / "blobs.csv"))
    base["train"]["epochs"] = 2
    late = tmp_path / "late.csv"  # written before the resume
    spec = tmp_path / "sweep.yaml"
    spec.write_text(yaml.safe_dump({"base": base, "set": {"train.optimizer": "sgd"},
                                    "grid": {"data.path": [base["data"]["path"], str(late)],
                                             "train.lr": [0.01, 1.0e12]}}, sort_keys=False))
    runs, runner = tmp_path / "runs", CliRunner()
    result = runner.invoke(app, ["sweep", str(spec), "--backend", "ray", "--runs-dir", str(runs), "-q"])
    (folder,) = runs.iterdir()
    assert (result.exit_code, result.stdout) == (1, f"sweep: {folder}\n")
    assert result.stderr.startswith(f"error: 3 of 4 trials failed; see {folder / 'leaderboard.csv'}")
    trials = json.loads((folder / "trials.json").read_text())["trials"]
    nan_error = ("train: the loss became nan at epoch 2, batch 1; usual causes: a learning rate too high "
                 "(try train.lr 10x lower) or unnormalised inputs (set preprocess.normalize.kind: standard)")
    assert [(t["status"], t["error"], t["run"] is None) for t in trials] == [
        ("completed", None, False), ("failed", nan_error, False),
        ("failed", f"{late}: data file not found", True), ("failed", f"{late}: data file not found", True)]
    expected = ({"status": "completed"}, {"status": "failed", "error": f"ImbrunError: {nan_error}"})
    for t, status in zip(trials[:2], expected):
        found = json.loads((folder / t["run"] / "status.json").read_text())
        assert {k: found.get(k) for k in status} == status
    with open(folder / "leaderboard.csv", newline="") as handle:
        board = list(csv.DictReader(handle))
    assert [(r["rank"], r["configuration"], r["n"], r["failed"], r["macro_f1_mean"]) for r in board[:2]] == \
        [("1", trials[0]["configuration"], "1", "0", str(overall_score(RunDir(folder / trials[0]["run"]),
                                                                        "macro_f1"))),
         ("2", trials[1]["configuration"], "0", "1", "")]
    assert [(r["rank"], r["trial"], r["error"]) for r in board[-3:]] == \
        [("", t["name"], t["error"]) for t in trials[1:]]

    write_blobs_csv(late)
    kept = {t["name"]: t["run"] for t in trials}
    before = sorted(p.name for p in folder.iterdir() if p.is_dir())
    result = runner.invoke(app, ["sweep", "--resume", str(folder), "--backend", "ray", "-q"])
    assert (result.exit_code, result.stdout) == (1, f"sweep: {folder}\n")
    assert result.stderr.startswith("error: 2 of 4 trials failed")
    trials = json.loads((folder / "trials.json").read_text())["trials"]
    assert [(t["status"], t["error"]) for t in trials] == [
        ("completed", None), ("failed", nan_error), ("completed", None), ("failed", nan_error)]
    assert trials[0]["run"] == kept[trials[0]["name"]]  # completed before: not rerun
    new = sorted(set(p.name for p in folder.iterdir() if p.is_dir()) - set(before))
    assert new == sorted(t["run"] for t in trials[1:])  # each failed trial ran again, in a new folder
    assert RunDir.open(folder / trials[2]["run"]).status() == "completed"
