"""Ctrl-C in a real `imbrun train` subprocess, then `--resume`: the same metrics as an uninterrupted run."""

import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import yaml

from tests.conftest import tiny_config, write_blobs_csv

ENV = {**os.environ, "OMP_NUM_THREADS": "1", "PYTHONUNBUFFERED": "1"}


def imbrun(*args: str, **kwargs) -> subprocess.Popen:
    return subprocess.Popen([sys.executable, "-m", "imbrun", *args], stdout=subprocess.PIPE,
                            stderr=subprocess.PIPE, text=True, env=ENV, **kwargs)


def finished(*args: str) -> tuple[int, str, str]:
    proc = imbrun(*args)
    out, err = proc.communicate(timeout=300)
    return proc.returncode, out, err


def run_folder(out: str) -> Path:
    return Path(out.strip().splitlines()[-1].removeprefix("run: "))


def test_sigint_mid_training_then_resume_gives_the_uninterrupted_metrics(tmp_path):
    csv_path = write_blobs_csv(tmp_path / "blobs.csv", counts=(1500, 400, 100), features=6)
    config = tmp_path / "exp.yaml"
    config.write_text(yaml.safe_dump(tiny_config(
        csv_path, model={"kind": "dense", "hidden": [32], "dropout": 0.2}, balance={"kind": "weighted_sampler"},
        train={"epochs": 6, "batch_size": 2, "lr": 0.003, "threads": 1})))
    runs = tmp_path / "runs"

    code, out, err = finished("train", str(config), "--runs-dir", str(runs / "whole"), "-q")
    assert code == 0, err
    whole = run_folder(out)

    proc = imbrun("train", str(config), "--runs-dir", str(runs / "cut"), "-q")
    deadline = time.monotonic() + 120
    history = None
    while time.monotonic() < deadline:  # interrupt during the second epoch: one epoch is on disk
        found = list((runs / "cut").glob("*/history.jsonl"))
        if found and found[0].read_text().count("\n") >= 1:
            history = found[0]
            break
        time.sleep(0.05)
    assert history is not None, "the first epoch never finished"
    time.sleep(0.3)
    proc.send_signal(signal.SIGINT)
    out, err = proc.communicate(timeout=120)
    cut = history.parent
    assert proc.returncode == 130, err
    assert "interrupted during epoch" in err and f"imbrun train --resume {cut}" in err
    assert "Traceback" not in err
    status = json.loads((cut / "status.json").read_text())
    assert status["status"] == "interrupted" and status["epoch"] >= 2
    assert (cut / "checkpoint.pt").is_file() and not (cut / "metrics.json").exists()

    code, out, err = finished("evaluate", str(cut))  # an interrupted run is not scored
    assert code == 2 and err.strip() == (f"error: {cut}: run is interrupted, not completed; resume it with "
                                         f"imbrun train --resume {cut}")

    code, out, err = finished("train", "--resume", str(cut), "-q")
    assert code == 0, err
    assert run_folder(out) == cut
    assert json.loads((cut / "status.json").read_text())["status"] == "completed"
    assert not (cut / "checkpoint.pt").exists()
    assert json.loads((cut / "metrics.json").read_text()) == json.loads((whole / "metrics.json").read_text())
    rows = [json.loads(line) for line in (cut / "history.jsonl").read_text().splitlines()]
    assert [row["epoch"] for row in rows] == [1, 2, 3, 4, 5, 6]


def test_resume_refuses_a_completed_run(tmp_path):
    csv_path = write_blobs_csv(tmp_path / "blobs.csv")
    config = tmp_path / "exp.yaml"
    config.write_text(yaml.safe_dump(tiny_config(csv_path)))
    code, out, err = finished("train", str(config), "--runs-dir", str(tmp_path / "runs"), "-q")
    assert code == 0, err
    code, out, err = finished("train", "--resume", str(run_folder(out)))
    assert code == 2
    assert err.strip().endswith("only an interrupted run with a checkpoint.pt can be resumed (status: completed)")
