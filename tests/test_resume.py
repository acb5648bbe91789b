"""Ctrl-C in a real `imbrun train` subprocess, then `--resume`: the same metrics as an uninterrupted run."""

import io
import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest
import torch
import yaml
from typer.testing import CliRunner

from imbrun.cli import app
from imbrun.config import validate_config
from imbrun.pipeline import run_experiment
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


def signal_after_epochs(proc: subprocess.Popen, runs: Path, epochs: int, sig: int, delay: float = 0.0) -> Path:
    """Send `sig` once the run under `runs` has `epochs` rows in history.jsonl (then `delay` s); its folder."""
    deadline = time.monotonic() + 120
    while time.monotonic() < deadline and proc.poll() is None:
        found = list(runs.glob("*/history.jsonl"))
        if found and found[0].read_text().count("\n") >= epochs:
            time.sleep(delay)
            proc.send_signal(sig)
            return found[0].parent
        time.sleep(0.02)
    proc.kill()
    out, err = proc.communicate()
    raise AssertionError(f"epoch {epochs} never finished while training (exit {proc.returncode}): {err}")


def history(run: Path) -> list[dict]:
    """history.jsonl without the wall-clock seconds."""
    rows = [json.loads(line) for line in (run / "history.jsonl").read_text().splitlines()]
    return [{k: v for k, v in row.items() if k != "seconds"} for row in rows]


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
    cut = signal_after_epochs(proc, runs / "cut", 1, signal.SIGINT, delay=0.3)  # during the second epoch
    out, err = proc.communicate(timeout=120)
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


def test_sigint_with_early_stopping_then_resume_keeps_the_stopper_state(tmp_path):
    csv_path = write_blobs_csv(tmp_path / "blobs.csv", counts=(1200, 300, 100), features=6)
    raw = tiny_config(csv_path, model={"kind": "dense", "hidden": [32], "dropout": 0.2},
                      balance={"kind": "weighted_sampler"},
                      train={"epochs": 30, "batch_size": 2, "lr": 0.01, "threads": 1,
                             "early_stopping": {"monitor": "val_loss", "patience": 3}})
    config = tmp_path / "exp.yaml"
    config.write_text(yaml.safe_dump(raw))
    whole = run_experiment(validate_config(raw), tmp_path / "whole").path
    metrics = json.loads((whole / "metrics.json").read_text())
    assert (metrics["best_epoch"], metrics["epochs_run"], metrics["stopped_early"]) == (2, 5, True)

    # after epoch 3 the stopper holds epoch 2's weights and value and has waited one epoch; it stops after epoch 5
    proc = imbrun("train", str(config), "--runs-dir", str(tmp_path / "cut"), "-q")
    cut = signal_after_epochs(proc, tmp_path / "cut", 3, signal.SIGINT)
    out, err = proc.communicate(timeout=120)
    assert proc.returncode == 130, err
    checkpoint = torch.load(cut / "checkpoint.pt", weights_only=True)
    assert checkpoint["epoch"] in (4, 5)  # stopped in epoch 4, or at the end of it
    assert (checkpoint["stopper"]["best_epoch"], checkpoint["stopper"]["waited"]) == (2, checkpoint["epoch"] - 3)

    result = CliRunner().invoke(app, ["train", "--resume", str(cut), "-q"])
    assert result.exit_code == 0, result.output
    assert json.loads((cut / "status.json").read_text())["status"] == "completed"
    resumed = json.loads((cut / "metrics.json").read_text())
    assert resumed["test"] == metrics["test"]
    assert (resumed["best_epoch"], resumed["epochs_run"], resumed["stopped_early"]) == (2, 5, True)
    assert history(cut) == history(whole)


def interrupted_run(tmp_path: Path, checkpoint: bytes) -> Path:
    """A run folder as a SIGINT leaves it, with `checkpoint` as its checkpoint.pt."""
    run = tmp_path / "runs" / "20240101-000000_tiny"
    run.mkdir(parents=True)
    (run / "config.yaml").write_text(yaml.safe_dump(tiny_config(write_blobs_csv(tmp_path / "blobs.csv"))))
    (run / "status.json").write_text(json.dumps({"status": "interrupted", "epoch": 2}))
    (run / "checkpoint.pt").write_bytes(checkpoint)
    return run


def torch_bytes(obj) -> bytes:
    buffer = io.BytesIO()
    torch.save(obj, buffer)
    return buffer.getvalue()


CHECKPOINT_EPOCH_2 = {"epoch": 2, "model": {"w": torch.zeros(2)}, "optimizer": {}, "generator": torch.zeros(4),
                      "torch_rng": torch.zeros(4), "stopper": {}, "history": []}


@pytest.mark.parametrize("content", [
    pytest.param(b"", id="empty"),
    pytest.param(b"\x00garbage, not a torch file" * 10, id="garbage"),
    pytest.param(torch_bytes(CHECKPOINT_EPOCH_2)[:300], id="truncated"),
    pytest.param(torch_bytes({"w": torch.zeros(2)}), id="not-a-checkpoint"),
])
def test_resume_from_a_damaged_checkpoint_is_one_line(tmp_path, content):
    run = interrupted_run(tmp_path, content)
    result = CliRunner().invoke(app, ["train", "--resume", str(run), "-q"])
    assert result.exit_code == 2, result.output
    assert "Traceback" not in result.output
    assert result.stderr.splitlines() == [f"error: {run}/checkpoint.pt: the checkpoint is damaged and cannot be "
                                          f"read; train the experiment again: imbrun train {run}/config.yaml"]
    assert json.loads((run / "status.json").read_text()) == {"status": "interrupted", "epoch": 2}


def test_resume_refuses_a_completed_run(tmp_path):
    csv_path = write_blobs_csv(tmp_path / "blobs.csv")
    config = tmp_path / "exp.yaml"
    config.write_text(yaml.safe_dump(tiny_config(csv_path)))
    code, out, err = finished("train", str(config), "--runs-dir", str(tmp_path / "runs"), "-q")
    assert code == 0, err
    code, out, err = finished("train", "--resume", str(run_folder(out)))
    assert code == 2
    assert err.strip().endswith("only an interrupted run with a checkpoint.pt can be resumed (status: completed)")
