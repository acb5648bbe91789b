"""The Ray backend on a real local Ray instance (2 CPUs, no dashboard): same folders and leaderboard as local."""

import csv
import json
import os

import numpy as np
import pytest
import torch
import yaml

from imbrun.runs import RunDir
from imbrun.sweep import SweepOptions, run_sweep
from imbrun.sweep_ray import RayOptions
from tests.conftest import tiny_config, write_blobs_csv

try:
    import ray
except ImportError:  # CI installs the ray extra: there a missing Ray is a failure, not a skip
    if os.environ.get("CI") == "true":
        pytest.fail("ray is not importable under CI (install the project with its ray extra)", pytrace=False)
    pytest.skip("ray is not installed (pip install 'ray>=2.9')", allow_module_level=True)

torch.set_num_threads(1)


@pytest.fixture(scope="session")
def ray_instance():
    """One local instance for the whole session (~10 s to start); local_mode no longer exists in Ray 2.x."""
    ray.init(num_cpus=2, include_dashboard=False, log_to_driver=False)
    yield
    ray.shutdown()


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
