"""Sweeps: spec checks, trial expansion, the local backend, failures, --resume and train --folds."""

import csv
import json
import math
import os
import sys
from pathlib import Path

import numpy as np
import pytest
import torch
import yaml
from tests.conftest import tiny_config, write_blobs_csv
from typer.testing import CliRunner

from imbrun.cli import app
from imbrun.errors import ImbrunError
from imbrun.runs import RunDir
from imbrun.sweep import SweepOptions, run_sweep
from imbrun.sweep_board import overall_score
from imbrun.sweep_spec import folder_safe, load_sweep_spec, parse_sweep_spec
from imbrun.sweep_trials import expand_trials, trial_configs, yaml_flow

torch.set_num_threads(1)
runner = CliRunner()


@pytest.fixture
def base(tmp_path):
    """The tiny blobs config, 2 epochs."""
    raw = tiny_config(write_blobs_csv(tmp_path / "blobs.csv"))
    raw["train"]["epochs"] = 2
    return raw


def read_csv_rows(path):
    with open(path, newline="", encoding="utf-8") as handle:
        return list(csv.DictReader(handle))


def write_spec(tmp_path, **spec):
    path = tmp_path / "sweep.yaml"
    path.write_text(yaml.safe_dump(spec, sort_keys=False))
    return path


def scores_by_configuration(folder, metric="macro_f1"):
    """Independently of the leaderboard: {configuration: [metric of each completed run]} from trials.json."""
    out = {}
    for record in json.loads((folder / "trials.json").read_text())["trials"]:
        metrics = json.loads((folder / record["run"] / "metrics.json").read_text())
        out.setdefault(record["configuration"], []).append(metrics["test"]["overall"][metric])
    return out


# --- spec and expansion (no training) ---

def test_grid_folds_seeds_expand_in_order_with_folder_safe_names(base):
    spec = parse_sweep_spec({"base": base, "grid": {"balance.kind": ["none", "focal"]}, "folds": 2,
                             "seeds": [0, 1]}, "sweep.yaml")
    trials = expand_trials(spec)
    assert [t.name for t in trials[:4]] == ["tiny__balance.kind-none__fold-0__seed-0",
                                            "tiny__balance.kind-none__fold-0__seed-1",
                                            "tiny__balance.kind-none__fold-1__seed-0",
                                            "tiny__balance.kind-none__fold-1__seed-1"]
    assert len(trials) == 8 and trials[7].number == 8
    assert trials[7].overrides == {"balance.kind": "focal", "split.folds": 2, "split.fold": 1, "seed": 1}
    assert {t.configuration for t in trials} == {"balance.kind=none", "balance.kind=focal"}
    config = trial_configs(spec, trials)[7]
    assert (config["name"], config["split"]["fold"], config["split"]["folds"], config["seed"]) == \
        ("tiny__balance.kind-focal__fold-1__seed-1", 1, 2, 1)


def test_random_search_draws_match_numpy_with_the_sampling_seed(base):
    space = {"train.lr": {"loguniform": ["1e-4", 1.0e-2]}, "balance.kind": {"choice": ["none", "focal"]},
             "train.batch_size": {"randint": [8, 9]}}
    spec = parse_sweep_spec({"base": base, "random": {"trials": 3, "seed": 7, "space": space}}, "s.yaml")
    rng = np.random.default_rng(7)
    expected = []
    for _ in range(3):
        lr = math.exp(rng.uniform(math.log(1e-4), math.log(1e-2)))
        expected.append({"train.lr": lr, "balance.kind": ["none", "focal"][int(rng.integers(2))],
                         "train.batch_size": int(rng.integers(8, 10))})
    trials = expand_trials(spec)
    assert [t.overrides for t in trials] == expected
    assert trials[0].configuration == \
        f"train.lr={expected[0]['train.lr']!r} balance.kind={expected[0]['balance.kind']} train.batch_size=" \
        f"{expected[0]['train.batch_size']}"
    assert trials[0].name == folder_safe(f"tiny__train.lr={expected[0]['train.lr']:.4g}__balance.kind="
                                         f"{expected[0]['balance.kind']}__train.batch_size="
                                         f"{expected[0]['train.batch_size']}")
    assert [c["train"]["lr"] for c in trial_configs(spec, trials)] == [e["train.lr"] for e in expected]


def test_shipped_sweep_file_validates(monkeypatch):
    monkeypatch.chdir(Path(__file__).resolve().parents[1])  # its base path is relative to the repository root
    spec = load_sweep_spec("configs/sweep_quickstart.yaml")
    trials = expand_trials(spec)
    configs = trial_configs(spec, trials)
    assert (len(trials), trials[0].name, trials[-1].name) == \
        (12, "quickstart__balance.kind-none__seed-0", "quickstart__balance.kind-weighted_sampler__seed-2")
    assert {c["train"]["epochs"] for c in configs} == {15}


def test_yaml_flow_reads_back_as_the_same_value():
    for value in (1e-05, 0.5, 3, "none", "1e-4", True, None, [16, 8], {"a": 1.5e-7, "b": "x y"}):
        assert yaml.safe_load(yaml_flow(value)) == value


def test_folder_safe_names():
    assert folder_safe("tiny__model.hidden=[16, 8]") == "tiny__model.hidden-_16_8"
    assert folder_safe("../up..dir/x") == "up.dir_x"


def test_spec_problems_are_reported_together():
    raw = {"gird": {}, "metric": "f1", "seeds": [1, 1],
           "random": {"trials": 0, "space": {"train.lr": {"loguniform": [0, 1]}}}}
    with pytest.raises(ImbrunError) as info:
        parse_sweep_spec(raw, "s.yaml")
    assert str(info.value).splitlines() == [
        "s.yaml: gird: unknown key (did you mean 'grid'?); known keys: name, base, set, grid, random, folds, "
        "seeds, metric",
        "s.yaml: base: expected a config file path or an inline config mapping, got nothing",
        "s.yaml: random.trials: expected a positive integer, got 0",
        "s.yaml: random.space.train.lr: loguniform: expected low > 0, got [0, 1]",
        "s.yaml: seeds: expected distinct seeds, got [1, 1]",
        "s.yaml: metric: unknown metric 'f1'; expected one of: accuracy, balanced_accuracy, macro_f1, "
        "weighted_f1, mcc, gmean",
    ]


def test_every_invalid_trial_is_reported_before_anything_runs(tmp_path, base):
    spec = write_spec(tmp_path, base=base, grid={"train.epochs": [1, 0], "model.kind": ["dense", "cnn2d"]})
    result = runner.invoke(app, ["sweep", str(spec), "--runs-dir", str(tmp_path / "runs")])
    assert result.exit_code == 2
    kinds = "expected one of: dense, cnn1d, lstm"
    assert result.stderr.splitlines() == [
        f"error: {spec}: trial 2 (train.epochs=1, model.kind=cnn2d): model: unknown kind 'cnn2d' "
        f"(did you mean 'cnn1d'?); {kinds}",
        f"error: {spec}: trial 3 (train.epochs=0, model.kind=dense): train.epochs: Input should be greater than "
        f"or equal to 1 (got 0)",
        f"error: {spec}: trial 4 (train.epochs=0, model.kind=cnn2d): model: unknown kind 'cnn2d' "
        f"(did you mean 'cnn1d'?); {kinds}",
        f"error: {spec}: trial 4 (train.epochs=0, model.kind=cnn2d): train.epochs: Input should be greater "
        f"than or equal to 1 (got 0)",
    ]
    assert not (tmp_path / "runs").exists()


def test_ray_backend_without_ray_says_how_to_install(tmp_path, base, monkeypatch):
    monkeypatch.setitem(sys.modules, "ray", None)  # import ray -> ImportError
    spec = write_spec(tmp_path, base=base)
    result = runner.invoke(app, ["sweep", str(spec), "--backend", "ray", "--runs-dir", str(tmp_path / "runs")])
    assert (result.exit_code, result.stderr) == \
        (2, 'error: --backend ray needs Ray, which is not installed: pip install "ray>=2.9" '
            '(the ray extra of imbrun)\n')
    assert not (tmp_path / "runs").exists()


def test_sweep_needs_a_file_or_resume_not_both(tmp_path, base):
    spec = write_spec(tmp_path, base=base)
    assert runner.invoke(app, ["sweep"]).stderr == \
        "error: give a sweep file, or --resume SWEEP_DIR to rerun a sweep's unfinished trials\n"
    result = runner.invoke(app, ["sweep", str(spec), "--resume", str(tmp_path)])
    assert (result.exit_code, result.stderr) == \
        (2, f"error: {spec}: --resume uses the sweep folder's own sweep.yaml; drop the sweep file\n")
    (tmp_path / "empty").mkdir()
    result = runner.invoke(app, ["sweep", "--resume", str(tmp_path / "empty")])
    assert (result.exit_code, result.stderr) == \
        (2, f"error: {tmp_path / 'empty'}: not a sweep folder (no sweep.yaml)\n")
    result = runner.invoke(app, ["sweep", "--resume", str(tmp_path)])  # sweep.yaml, but no trials.json
    assert (result.exit_code, result.stderr) == (2, f"error: {tmp_path}: not a sweep folder (no trials.json)\n")


# --- running ---

def test_local_sweep_with_two_workers(tmp_path, base):
    spec = write_spec(tmp_path, name="blobs", base=base, grid={"balance.kind": ["none", "class_weight"]},
                      seeds=[0, 1])
    result = run_sweep(spec, tmp_path / "runs", SweepOptions("local", workers=2))
    folder = result.folder
    assert folder.parent == tmp_path / "runs" and folder.name.startswith("blobs_")
    trials = json.loads((folder / "trials.json").read_text())["trials"]
    assert [(t["name"], t["status"], t["error"]) for t in trials] == [
        ("tiny__balance.kind-none__seed-0", "completed", None), ("tiny__balance.kind-none__seed-1", "completed", None),
        ("tiny__balance.kind-class_weight__seed-0", "completed", None),
        ("tiny__balance.kind-class_weight__seed-1", "completed", None)]
    for t in trials:
        config = yaml.safe_load((folder / t["run"] / "config.yaml").read_text())
        assert t["run"].endswith("_" + t["name"]) and config["name"] == t["name"]
        assert config["train"]["threads"] == max(1, os.cpu_count() // 2)
        assert json.loads((folder / t["run"] / "status.json").read_text())["status"] == "completed"
    board = read_csv_rows(folder / "leaderboard.csv")
    expected = {c: (float(np.mean(v)), float(np.std(v, ddof=1)))
                for c, v in scores_by_configuration(folder).items()}
    assert {row["configuration"]: (float(row["macro_f1_mean"]), float(row["macro_f1_std"])) for row in board} == \
        expected  # exact: same scores, same order, repr-precise CSV
    means = [float(row["macro_f1_mean"]) for row in board]
    assert means == sorted(means, reverse=True)
    assert [(row["rank"], row["n"], row["failed"], row["trial"]) for row in board] == \
        [("1", "2", "0", ""), ("2", "2", "0", "")]
    assert yaml.safe_load((folder / "sweep.yaml").read_text())["base"] == base


def test_failing_trials_are_recorded_and_resume_reruns_only_them(tmp_path, base):
    late = tmp_path / "late.csv"  # does not exist yet: those trials fail before a run folder exists
    spec = write_spec(tmp_path, base=base, set={"train.optimizer": "sgd"},
                      grid={"data.path": [base["data"]["path"], str(late)], "train.lr": [0.01, 1.0e12]})
    runs = tmp_path / "runs"
    result = runner.invoke(app, ["sweep", str(spec), "--runs-dir", str(runs), "-q"])
    folder = next(runs.iterdir())
    assert result.exit_code == 1
    assert result.stderr.startswith(f"error: 3 of 4 trials failed; see {folder / 'leaderboard.csv'}")
    trials = json.loads((folder / "trials.json").read_text())["trials"]
    nan_error = ("train: the loss became nan at epoch 2, batch 1; usual causes: a learning rate too high "
                 "(try train.lr 10x lower) or unnormalised inputs (set preprocess.normalize.kind: standard)")
    assert [(t["status"], t["error"]) for t in trials] == [
        ("completed", None), ("failed", nan_error),
        ("failed", f"{late}: data file not found"), ("failed", f"{late}: data file not found")]
    assert [t["run"] is None for t in trials] == [False, False, True, True]
    status = json.loads((folder / trials[1]["run"] / "status.json").read_text())
    assert (status["status"], status["error"]) == ("failed", f"ImbrunError: {nan_error}")
    board = read_csv_rows(folder / "leaderboard.csv")
    assert [(r["rank"], r["configuration"], r["n"], r["failed"], r["macro_f1_mean"]) for r in board[:2]] == \
        [("1", trials[0]["configuration"], "1", "0", str(overall_score(RunDir(folder / trials[0]["run"]),
                                                                        "macro_f1"))),
         ("2", trials[1]["configuration"], "0", "1", "")]  # every trial of this configuration failed
    assert [(r["rank"], r["configuration"], r["trial"], r["error"]) for r in board[-3:]] == \
        [("", t["configuration"], t["name"], t["error"]) for t in trials[1:]]

    write_blobs_csv(late)
    first_run = trials[0]["run"]
    result = runner.invoke(app, ["sweep", "--resume", str(folder), "-q"])
    assert (result.exit_code, result.stdout) == (1, f"sweep: {folder}\n")
    assert result.stderr.startswith("error: 2 of 4 trials failed")
    trials = json.loads((folder / "trials.json").read_text())["trials"]
    assert [t["status"] for t in trials] == ["completed", "failed", "completed", "failed"]
    assert trials[0]["run"] == first_run  # not rerun
    assert sorted(p.name for p in folder.iterdir() if p.is_dir()) == sorted(
        [first_run, trials[1]["run"], trials[2]["run"], trials[3]["run"], status_failed_before(folder, trials[1])])


def status_failed_before(folder, record):
    """The first attempt's failed folder of a trial that failed twice (it is kept, not overwritten)."""
    named = sorted(p.name for p in folder.iterdir() if p.name.endswith(record["name"]) and p.name != record["run"])
    assert len(named) == 1
    return named[0]


def test_train_folds_runs_one_run_per_fold_and_prints_the_aggregate(tmp_path, base):
    config = tmp_path / "tiny.yaml"
    config.write_text(yaml.safe_dump(base))
    result = runner.invoke(app, ["train", str(config), "--folds", "3", "--runs-dir", str(tmp_path / "runs")])
    assert result.exit_code == 0, result.output
    runs = sorted((tmp_path / "runs").iterdir(), key=lambda p: p.name[-1])
    assert [p.name.split("_", 1)[1] for p in runs] == ["tiny__fold-0", "tiny__fold-1", "tiny__fold-2"]
    for k, run in enumerate(runs):
        split = yaml.safe_load((run / "config.yaml").read_text())["split"]
        assert (split["folds"], split["fold"]) == (3, k)
    f1 = [overall_score(RunDir(p), "macro_f1") for p in runs]
    line = next(x for x in result.stdout.splitlines() if "macro_f1" in x)
    assert f"{np.mean(f1):.4f} ± {np.std(f1, ddof=1):.4f}" in line
    recalls = [json.loads((p / "metrics.json").read_text())["test"]["per_class"]["c2"]["recall"] for p in runs]
    assert f"{np.mean(recalls):.4f}" in next(x for x in result.stdout.splitlines() if "recall c2" in x)
    # three test folds cover every row exactly once
    rows = [set(np.genfromtxt(p / "predictions.csv", delimiter=",", names=True, dtype=None,
                              encoding="utf-8")["row_id"]) for p in runs]
    assert sum(len(r) for r in rows) == len(set().union(*rows)) == 58
