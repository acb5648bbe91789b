"""Tracking sinks: the config section, the flattening helpers, MLflow / TensorBoard read back after logging, and a
real `imbrun train` through the CLI filling both."""

import builtins
import json
import subprocess
import sys
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
import yaml
from pydantic import ValidationError
from typer.testing import CliRunner

from imbrun.cli import app
from imbrun.config.experiment import Experiment
from imbrun.errors import ImbrunError
from imbrun.runs import RunDir
from imbrun.tracking import Tracker, epoch_scalars, final_scalars, flat_config, metric_name, open_trackers
from imbrun.tracking_tensorboard import scalar_tag
from tests.conftest import tiny_config, write_blobs_csv

ROWS = [{"epoch": 1, "train_loss": 0.9, "val_loss": 0.8, "val_macro_f1": 0.5, "lr": 0.01, "seconds": 0.25},
        {"epoch": 2, "train_loss": 0.6, "val_loss": 0.7, "val_macro_f1": 0.75, "lr": 0.01, "seconds": 0.5}]
METRICS = {"class_names": ["N", "S:x"], "best_epoch": 2, "epochs_run": 2,
           "test": {"overall": {"macro_f1": 0.625, "accuracy": 0.9},
                    "per_class": {"N": {"precision": 1.0, "recall": 0.75, "f1": 0.875, "support": 4},
                                  "S:x": {"precision": 0.25, "recall": 0.5, "f1": 0.375, "support": 2}}}}


def _experiment(tracking):
    return Experiment.model_validate({"data": {"kind": "csv", "path": "x.csv"}, "tracking": tracking})


def test_tracking_section_true_means_defaults_and_typos_fail():
    cfg = _experiment({"tensorboard": True, "mlflow": {"uri": "file:///tmp/m", "experiment": "ecg"}}).tracking
    assert cfg.tensorboard.log_dir is None and (cfg.mlflow.uri, cfg.mlflow.experiment) == ("file:///tmp/m", "ecg")
    assert _experiment({"tensorboard": False}).tracking.tensorboard is None
    assert Experiment.model_validate({"data": {"kind": "csv", "path": "x.csv"}}).tracking.mlflow is None
    with pytest.raises(ValidationError, match="tracking.mlflow.experimnt"):
        _experiment({"mlflow": {"experimnt": "x"}})


def test_flatteners():
    assert flat_config({"train": {"lr": 0.01, "early_stopping": None}, "model": {"hidden": [16, 8]}}) == {
        "train.lr": "0.01", "train.early_stopping": "null", "model.hidden": "[16, 8]"}
    assert epoch_scalars({**ROWS[0], "val_gmean": float("nan")}) == {
        "train_loss": 0.9, "val_loss": 0.8, "val_macro_f1": 0.5, "lr": 0.01, "seconds": 0.25}
    assert final_scalars(METRICS) == {
        "test_macro_f1": 0.625, "test_accuracy": 0.9, "test_precision_N": 1.0, "test_recall_N": 0.75,
        "test_f1_N": 0.875, "test_precision_S_x": 0.25, "test_recall_S_x": 0.5, "test_f1_S_x": 0.375,
        "best_epoch": 2.0, "epochs_run": 2.0}
    assert metric_name("a b/c:d?") == "a b/c_d_"
    assert [scalar_tag(k) for k in ("train_loss", "val_loss", "val_macro_f1", "lr")] == [
        "loss/train", "loss/val", "val/macro_f1", "lr"]


def test_no_tracking_configured_is_a_tracker_that_does_nothing(tmp_path):
    tracker = open_trackers(_experiment({}).tracking, tmp_path)
    assert tracker.sinks == []
    tracker.log_epoch(ROWS[0])
    tracker.close()


def _log_everything(tracker: Tracker, run: RunDir) -> None:
    tracker.log_params({"train.lr": "0.01", "balance.kind": "focal"})
    for row in ROWS:
        tracker.log_epoch(row)
    tracker.log_final(METRICS)
    tracker.log_artifacts(run)
    tracker.close("completed")


def test_tensorboard_scalars_read_back(tmp_path):
    pytest.importorskip("tensorboard")
    from tensorboard.backend.event_processing.event_accumulator import EventAccumulator

    run = RunDir.create(tmp_path / "runs", "tb", now=0)
    tracker = open_trackers(_experiment({"tensorboard": True}).tracking, run)
    _log_everything(tracker, run)
    events = EventAccumulator(str(run.file("tensorboard"))).Reload()
    assert [(e.step, round(e.value, 6)) for e in events.Scalars("loss/train")] == [(1, 0.9), (2, 0.6)]
    assert [(e.step, e.value) for e in events.Scalars("val/macro_f1")] == [(1, 0.5), (2, 0.75)]
    assert [(e.step, e.value) for e in events.Scalars("final/test_recall_S_x")] == [(2, 0.5)]


def test_tensorboard_log_dir_holds_one_folder_per_run(tmp_path):
    pytest.importorskip("tensorboard")
    run = RunDir.create(tmp_path / "runs", "tb", now=0)
    tracker = open_trackers(_experiment({"tensorboard": {"log_dir": str(tmp_path / "tb")}}).tracking, run)
    tracker.log_epoch(ROWS[0])
    tracker.close()
    assert [p.name for p in (tmp_path / "tb").iterdir()] == [run.path.name]


def test_mlflow_run_read_back(tmp_path, monkeypatch):
    pytest.importorskip("mlflow")
    from mlflow.tracking import MlflowClient

    monkeypatch.setenv("MLFLOW_ALLOW_FILE_STORE", "true")  # MLflow 3 keeps the file store behind this opt-in
    uri = f"file://{tmp_path / 'mlruns'}"
    run = RunDir.create(tmp_path / "runs", "ml", now=0)
    run.write_json("metrics.json", METRICS)
    tracker = open_trackers(_experiment({"mlflow": {"uri": uri, "experiment": "tiny"}}).tracking, run)
    _log_everything(tracker, run)
    client = MlflowClient(tracking_uri=uri)
    [logged] = client.search_runs([client.get_experiment_by_name("tiny").experiment_id])
    assert logged.info.run_name == run.path.name and logged.info.status == "FINISHED"
    assert logged.data.params == {"train.lr": "0.01", "balance.kind": "focal"}
    history = client.get_metric_history(logged.info.run_id, "val_macro_f1")
    assert [(m.step, m.value) for m in history] == [(1, 0.5), (2, 0.75)]
    assert logged.data.metrics["test_f1_S_x"] == 0.375 and logged.data.metrics["test_macro_f1"] == 0.625
    assert [a.path for a in client.list_artifacts(logged.info.run_id)] == ["metrics.json"]


def test_mlflow_file_store_refusal_is_one_line(tmp_path, monkeypatch):
    pytest.importorskip("mlflow")
    monkeypatch.delenv("MLFLOW_ALLOW_FILE_STORE", raising=False)
    uri = f"file://{tmp_path / 'mlruns'}"
    with pytest.raises(ImbrunError) as error:
        open_trackers(_experiment({"mlflow": {"uri": uri}}).tracking, tmp_path)
    message = str(error.value)
    assert message == (f"tracking.mlflow.uri: MLflow cannot use {uri}: MLflow 3 refuses the file store unless "
                       "MLFLOW_ALLOW_FILE_STORE=true is set; use a database store instead, e.g. sqlite:///mlruns.db")


@pytest.mark.parametrize("extra, module", [("mlflow", "mlflow"), ("tensorboard", "tensorboard")])
def test_missing_package_names_the_extra(tmp_path, monkeypatch, extra, module):
    real_import = builtins.__import__

    def no_such_package(name, *args, **kwargs):
        if name == module or name.startswith(f"{module}."):
            raise ImportError(f"No module named {module!r}")
        return real_import(name, *args, **kwargs)

    monkeypatch.setattr(builtins, "__import__", no_such_package)
    monkeypatch.delitem(sys.modules, f"imbrun.tracking_{extra}", raising=False)
    with pytest.raises(ImbrunError) as error:
        open_trackers(_experiment({extra: True}).tracking, tmp_path)
    assert str(error.value) == (f"tracking.{extra}: the {module} package is not installed; "
                                f'pip install "imbrun[{extra}]"')


_WITHOUT_ALEMBIC = """
import sys
from importlib.abc import MetaPathFinder

class NoAlembic(MetaPathFinder):  # mlflow-skinny alone: the sqlite store's `from alembic... import` fails
    def find_spec(self, name, path=None, target=None):
        if name.split(".")[0] == "alembic":
            raise ModuleNotFoundError(f"No module named {name!r}", name=name)

sys.meta_path.insert(0, NoAlembic())
from imbrun.config.experiment import Experiment
from imbrun.errors import ImbrunError
from imbrun.tracking import open_trackers

raw = {"data": {"kind": "csv", "path": "x.csv"}, "tracking": {"mlflow": {"uri": sys.argv[1]}}}
cfg = Experiment.model_validate(raw)
try:
    open_trackers(cfg.tracking, sys.argv[2])
except ImbrunError as error:
    print(error.exit_code, error)
"""


def test_a_store_module_that_is_not_installed_is_one_line_naming_what_to_install(tmp_path):
    pytest.importorskip("mlflow")
    uri = f"sqlite:///{tmp_path / 'mlflow.db'}"
    # a fresh interpreter: alembic must be missing before MLflow's store modules are first imported
    done = subprocess.run([sys.executable, "-c", _WITHOUT_ALEMBIC, uri, str(tmp_path)], capture_output=True,
                          text=True, check=True)
    assert done.stdout == (f"2 tracking.mlflow.uri: MLflow cannot use {uri}: its store needs the alembic module, "
                           'which is not installed; pip install "imbrun[mlflow]"\n')


def _tracked_config(tmp_path) -> Path:
    csv_path = write_blobs_csv(tmp_path / "blobs.csv")
    tracking = {"mlflow": {"uri": f"sqlite:///{tmp_path / 'mlflow.db'}", "experiment": "x"},
                "tensorboard": {"log_dir": str(tmp_path / "tb")}}
    path = tmp_path / "tracked.yaml"
    path.write_text(yaml.safe_dump(tiny_config(csv_path, balance={"kind": "class_weight"}, tracking=tracking)))
    return path


def test_train_through_the_cli_fills_mlflow_and_tensorboard(tmp_path, monkeypatch):
    """A real `imbrun train`: flat params, per-epoch curves, final per-class scores and the run's files arrive."""
    pytest.importorskip("mlflow")
    pytest.importorskip("tensorboard")
    from mlflow.tracking import MlflowClient
    from tensorboard.backend.event_processing.event_accumulator import EventAccumulator

    monkeypatch.chdir(tmp_path)  # the sqlite store puts artifacts in ./mlruns
    result = CliRunner().invoke(app, ["train", str(_tracked_config(tmp_path)), "--runs-dir", "runs", "-q"])
    assert result.exit_code == 0, result.output
    run = tmp_path / result.stdout.strip().splitlines()[-1].removeprefix("run: ")
    history = pd.read_csv(run / "history.csv")
    metrics = json.loads((run / "metrics.json").read_text())
    recall_c2 = metrics["test"]["per_class"]["c2"]["recall"]

    client = MlflowClient(tracking_uri=f"sqlite:///{tmp_path / 'mlflow.db'}")
    [logged] = client.search_runs([client.get_experiment_by_name("x").experiment_id])
    assert (logged.info.run_name, logged.info.status) == (run.name, "FINISHED")
    params = logged.data.params
    assert (params["balance.kind"], params["train.lr"], params["model.hidden"], params["train.epochs"]) == (
        "class_weight", "0.01", "[16]", "3")
    assert params["tracking.mlflow.uri"] == f"sqlite:///{tmp_path / 'mlflow.db'}"
    for key in ("train_loss", "val_loss", "val_macro_f1"):
        steps = client.get_metric_history(logged.info.run_id, key)
        assert [(m.step, m.value) for m in steps] == list(zip([1, 2, 3], history[key].tolist())), key
    final = logged.data.metrics
    assert final["test_recall_c2"] == recall_c2 and final["test_f1_c0"] == metrics["test"]["per_class"]["c0"]["f1"]
    assert final["test_macro_f1"] == metrics["test"]["overall"]["macro_f1"]
    assert final["final_val_macro_f1"] == metrics["val"]["overall"]["macro_f1"]
    assert (final["best_epoch"], final["epochs_run"]) == (float(metrics["best_epoch"]), 3.0)
    assert {f"test_{m}_{c}" for m in ("precision", "recall", "f1") for c in ("c0", "c1", "c2")} <= set(final)
    artifacts = {a.path for a in client.list_artifacts(logged.info.run_id)}
    assert {"metrics.json", "config.yaml", "history.csv", "status.json", "model.pt", "env.json"} <= artifacts
    copied = client.download_artifacts(logged.info.run_id, "metrics.json", str(tmp_path / "download"))
    assert Path(copied).read_bytes() == (run / "metrics.json").read_bytes()

    events = EventAccumulator(str(tmp_path / "tb" / run.name)).Reload()
    as_float32 = [float(np.float32(v)) for v in history["val_macro_f1"]]
    assert [(e.step, e.value) for e in events.Scalars("val/macro_f1")] == list(zip([1, 2, 3], as_float32))
    assert [e.step for e in events.Scalars("loss/train")] == [1, 2, 3]
    assert [(e.step, e.value) for e in events.Scalars("final/test_recall_c2")] == [
        (3, float(np.float32(recall_c2)))]
    assert [(e.step, e.value) for e in events.Scalars("final/test_macro_f1")] == [
        (3, float(np.float32(metrics["test"]["overall"]["macro_f1"])))]
    [config_text] = events.Tensors("config/text_summary")
    assert "| balance.kind | class_weight |" in config_text.tensor_proto.string_val[0].decode()


def test_a_sink_that_cannot_open_ends_the_ones_opened_before_it(tmp_path, monkeypatch):
    pytest.importorskip("mlflow")
    from mlflow.tracking import MlflowClient

    real_import = builtins.__import__

    def no_tensorboard(name, *args, **kwargs):
        if name == "tensorboard" or name.startswith("tensorboard."):
            raise ImportError("No module named 'tensorboard'")
        return real_import(name, *args, **kwargs)

    monkeypatch.chdir(tmp_path)
    monkeypatch.setattr(builtins, "__import__", no_tensorboard)
    monkeypatch.delitem(sys.modules, "imbrun.tracking_tensorboard", raising=False)
    uri = f"sqlite:///{tmp_path / 'mlflow.db'}"
    with pytest.raises(ImbrunError, match=r"^tracking.tensorboard: the tensorboard package is not installed"):
        open_trackers(_experiment({"mlflow": {"uri": uri, "experiment": "x"}, "tensorboard": True}).tracking,
                      tmp_path / "20260101-000000_run")
    client = MlflowClient(tracking_uri=uri)
    [logged] = client.search_runs([client.get_experiment_by_name("x").experiment_id])
    assert (logged.info.run_name, logged.info.status) == ("20260101-000000_run", "FAILED")
