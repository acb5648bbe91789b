"""SIGTERM (and SIGINT) anywhere in a run: a checkpoint where fit() can pause, else `interrupted` + train again."""

import json
import signal

import pytest
import yaml
from typer.testing import CliRunner

from imbrun.cli import app
from imbrun.config import validate_config
from imbrun.interrupt import RunInterrupted, abort_on_signals, stop_on_signals
from imbrun.pipeline import run_experiment
from tests.conftest import tiny_config, write_blobs_csv
from tests.test_resume import history, imbrun, signal_after_epochs

NO_CHECKPOINT = ("stopped by SIGTERM without a checkpoint (this balance procedure cannot pause to save one); "
                 "train again to get a complete run")


def test_the_guard_aborts_once_then_ignores_signals_and_restores_the_handlers():
    before = signal.getsignal(signal.SIGTERM)
    with abort_on_signals() as guard:
        with pytest.raises(KeyboardInterrupt):
            signal.raise_signal(signal.SIGTERM)
        signal.raise_signal(signal.SIGINT)  # marking the run: ignored
        assert guard.describe() == "stopped by SIGTERM"
    assert signal.getsignal(signal.SIGTERM) is before


def test_while_pausing_the_first_signal_sets_the_flag_and_a_second_goes_to_the_guard():
    with abort_on_signals() as guard:
        with stop_on_signals() as stop:
            signal.raise_signal(signal.SIGINT)
            assert stop() is True and guard.signal is None
            with pytest.raises(KeyboardInterrupt):
                signal.raise_signal(signal.SIGTERM)
        assert guard.describe() == "stopped by SIGTERM"
        guard.shield()
        signal.raise_signal(signal.SIGTERM)  # ignored


def test_a_signal_outside_training_marks_a_resumable_run_interrupted_without_a_checkpoint(tmp_path):
    cfg = validate_config(tiny_config(write_blobs_csv(tmp_path / "blobs.csv")))

    def second_signal(row):  # the first asks fit() to stop at the next batch, the second aborts at once
        signal.raise_signal(signal.SIGTERM)
        signal.raise_signal(signal.SIGTERM)
    with pytest.raises(RunInterrupted) as stopped:
        run_experiment(cfg, tmp_path / "runs", on_epoch=second_signal)
    (run,) = (tmp_path / "runs").iterdir()
    error = ("stopped by SIGTERM without a checkpoint (a second signal, or one outside training); "
             "train again to get a complete run")
    assert str(stopped.value) == f"{run}: interrupted, {error}"
    status = json.loads((run / "status.json").read_text())
    assert (status["status"], status["error"]) == ("interrupted", error)
    assert not (run / "checkpoint.pt").exists() and not (run / "metrics.json").exists()


def test_sigterm_mid_training_then_resume_gives_the_uninterrupted_metrics(tmp_path):
    csv_path = write_blobs_csv(tmp_path / "blobs.csv", counts=(600, 150, 50), features=6)
    raw = tiny_config(csv_path, model={"kind": "dense", "hidden": [32], "dropout": 0.2}, balance={"kind": "focal"},
                      train={"epochs": 5, "batch_size": 2, "lr": 0.003, "threads": 1})
    config = tmp_path / "exp.yaml"
    config.write_text(yaml.safe_dump(raw))
    whole = run_experiment(validate_config(raw), tmp_path / "whole").path

    proc = imbrun("train", str(config), "--runs-dir", str(tmp_path / "cut"), "-q")
    cut = signal_after_epochs(proc, tmp_path / "cut", 1, signal.SIGTERM)
    out, err = proc.communicate(timeout=120)
    assert proc.returncode == 130, err
    status = json.loads((cut / "status.json").read_text())
    assert status["status"] == "interrupted" and status["epoch"] in (2, 3)
    assert err.splitlines() == [f"error: interrupted during epoch {status['epoch']}; checkpoint saved. "
                                f"Resume with: imbrun train --resume {cut}"]
    assert (cut / "checkpoint.pt").is_file() and not (cut / "metrics.json").exists()

    result = CliRunner().invoke(app, ["train", "--resume", str(cut), "-q"])
    assert result.exit_code == 0, result.output
    assert json.loads((cut / "status.json").read_text())["status"] == "completed"
    assert not (cut / "checkpoint.pt").exists()
    assert json.loads((cut / "metrics.json").read_text()) == json.loads((whole / "metrics.json").read_text())
    assert history(cut) == history(whole)


def test_sigterm_on_a_cascade_run_marks_it_interrupted_to_train_again(tmp_path):
    csv_path = write_blobs_csv(tmp_path / "blobs.csv", counts=(600, 150, 50), features=6)
    config = tmp_path / "exp.yaml"
    config.write_text(yaml.safe_dump(tiny_config(csv_path, balance={"kind": "cascade"},
                                                 train={"epochs": 8, "batch_size": 2, "lr": 0.003, "threads": 1})))
    proc = imbrun("train", str(config), "--runs-dir", str(tmp_path / "runs"), "-q")
    cut = signal_after_epochs(proc, tmp_path / "runs", 1, signal.SIGTERM)
    out, err = proc.communicate(timeout=120)
    assert proc.returncode == 130, err
    assert err.splitlines() == [f"error: {cut}: interrupted, {NO_CHECKPOINT}"]  # one line, no traceback
    status = json.loads((cut / "status.json").read_text())
    assert (status["status"], status["error"]) == ("interrupted", NO_CHECKPOINT)
    assert not (cut / "checkpoint.pt").exists() and not (cut / "metrics.json").exists()

    result = CliRunner().invoke(app, ["evaluate", str(cut)])
    assert result.exit_code == 2
    assert result.stderr.splitlines() == [f"error: {cut}: run is interrupted, not completed, and has no "
                                          f"checkpoint; train it again"]
    result = CliRunner().invoke(app, ["train", "--resume", str(cut)])
    assert result.exit_code == 2
    assert result.stderr.splitlines() == [f"error: {cut}: only an interrupted run with a checkpoint.pt can be "
                                          f"resumed (status: interrupted)"]
