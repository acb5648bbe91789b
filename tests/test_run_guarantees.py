"""What a run folder promises: never overwritten, never outside the runs folder, data hashes re-checkable."""

import hashlib
import json
import threading
from pathlib import Path

import numpy as np
import pytest
import torch
import yaml
from typer.testing import CliRunner

from imbrun.cli import app
from imbrun.config.train import TrainConfig
from imbrun.environment import check_data_sources
from imbrun.errors import ImbrunError
from imbrun.runs import RunDir
from imbrun.train import fit
from tests.conftest import tiny_config, write_blobs_csv

runner = CliRunner()


# ---- run folders are never reused and never leave the runs folder ------------------------------------------

def test_two_runs_created_in_the_same_second_get_two_folders(tmp_path):
    first = RunDir.create(tmp_path, "exp", now=1_700_000_000.0)
    second = RunDir.create(tmp_path, "exp", now=1_700_000_000.0)
    stamp = first.path.name.removesuffix("_exp")
    assert (first.path.name, second.path.name) == (f"{stamp}_exp", f"{stamp}_exp-2")


def test_runs_created_at_once_from_threads_never_share_a_folder(tmp_path):
    made = []
    threads = [threading.Thread(target=lambda: made.append(RunDir.create(tmp_path, "exp", now=1_700_000_000.0).path))
               for _ in range(8)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert len(set(made)) == 8 and sorted(p.name for p in tmp_path.iterdir()) == sorted(p.name for p in made)


@pytest.mark.parametrize("name", ["../up", "a/b", "/abs", "a\\b"])
def test_a_run_name_with_a_separator_never_becomes_a_folder(tmp_path, name):
    with pytest.raises(ImbrunError) as info:
        RunDir.create(tmp_path / "runs", name)
    assert str(info.value) == f"run name {name!r}: expected a plain folder name (no '/' or '\\')"
    assert not (tmp_path / "runs").exists()


@pytest.mark.parametrize("args", [["--name", ".hidden"], ["--set", "name=../../etc"], ["--set", "name=/abs"],
                                  ["--set", "name=a/b"]])
def test_cli_run_names_that_could_escape_are_config_errors(tmp_path, args):
    config = tmp_path / "exp.yaml"
    config.write_text(yaml.safe_dump(tiny_config(write_blobs_csv(tmp_path / "blobs.csv"))))
    result = runner.invoke(app, ["train", str(config), "--runs-dir", str(tmp_path / "runs"), *args])
    assert result.exit_code == 2
    assert result.stderr.startswith(f"error: {config}: name: must be letters, digits, '.', '_' or '-'")
    assert not (tmp_path / "runs").exists()


# ---- training refuses empty splits with a reason -------------------------------------------------------------

@pytest.mark.parametrize("train_rows, val_rows, message", [
    (4, 0, "train: the validation split is empty; raise split.val_size or add rows"),
    (0, 4, "train: the training split is empty (after balancing); add rows or change the strategy"),
])
def test_fit_refuses_an_empty_split(train_rows, val_rows, message):
    def part(n):
        return np.zeros((n, 3), np.float32), np.arange(n) % 2
    with pytest.raises(ImbrunError) as info:
        fit(torch.nn.Linear(3, 2), part(train_rows), part(val_rows), torch.nn.CrossEntropyLoss(),
            TrainConfig(epochs=1), seed=0, device=torch.device("cpu"))
    assert str(info.value) == message


# ---- evaluate --check ------------------------------------------------------------------------------------------

@pytest.fixture
def trained(tmp_path):
    csv = write_blobs_csv(tmp_path / "blobs.csv")
    config = tmp_path / "exp.yaml"
    config.write_text(yaml.safe_dump(tiny_config(csv)))
    result = runner.invoke(app, ["train", str(config), "--runs-dir", str(tmp_path / "runs"), "-q"])
    assert result.exit_code == 0, result.output
    return Path(result.stdout.strip().removeprefix("run: ")), csv


def test_check_says_data_unchanged(trained):
    run, csv = trained
    (source,) = json.loads((run / "env.json").read_text())["data_sources"]
    assert source == {"path": str(csv), "bytes": csv.stat().st_size,
                      "sha256": hashlib.sha256(csv.read_bytes()).hexdigest()}
    result = runner.invoke(app, ["evaluate", str(run), "--check"])
    assert result.exit_code == 0, result.output
    assert result.stdout == "data unchanged: 1 source file(s) have the sha256 recorded at training\n"
    assert result.stderr == "" and not (run / "eval").exists()  # a check scores nothing


def test_check_warns_about_a_changed_file_and_a_missing_one(trained):
    run, csv = trained
    was = hashlib.sha256(csv.read_bytes()).hexdigest()
    csv.write_text(csv.read_text().replace("c2", "c1", 1))
    now = hashlib.sha256(csv.read_bytes()).hexdigest()
    result = runner.invoke(app, ["evaluate", str(run), "--check"])
    assert result.exit_code == 0  # a warning, not an error
    assert result.stderr == f"warning: data changed since training: {csv} (sha256 was {was[:12]}.., now {now[:12]}..)\n"
    assert result.stdout == ""
    csv.unlink()
    result = runner.invoke(app, ["evaluate", str(run), "--check"])
    assert result.exit_code == 0
    assert result.stderr == f"warning: data changed since training: {csv} is missing (sha256 was {was[:12]}..)\n"


def test_check_does_not_query_a_live_server():
    live = {"url": "mysql+pymysql://me:***@db:3306/lab", "query": None, "table": "beats", "rows": 60,
            "rows_sha256": "ab" * 32}
    assert check_data_sources([live]) == ([], [
        "not re-checked: mysql+pymysql://me:***@db:3306/lab (table beats) is a live MySQL source; its rows had "
        "sha256 abababababab.. at training"])


def test_check_refuses_other_options_and_unfinished_runs(trained):
    run, csv = trained
    result = runner.invoke(app, ["evaluate", str(run), "--check", "--data", str(csv)])
    assert result.exit_code == 2
    assert result.stderr == "error: --check only checks the run's data sources; drop --data/--posthoc\n"
    (run / "status.json").write_text(json.dumps({"status": "failed", "error": "MemoryError: "}))
    result = runner.invoke(app, ["evaluate", str(run), "--check"])
    assert result.exit_code == 2
    assert result.stderr == f"error: {run}: run failed, not completed: MemoryError:\n"


# ---- loading a run folder never executes code from it ----------------------------------------------------------

class RunsCode:
    """Unpickling this calls os.system: a model file that would run code when loaded with plain pickle."""

    def __init__(self, marker: Path):
        self.marker = marker

    def __reduce__(self):
        import os
        return os.system, (f"touch {self.marker}",)


def test_a_model_file_that_would_run_code_is_refused(trained, tmp_path):
    import pickle
    run, _ = trained
    marker = tmp_path / "code-ran"
    (run / "model.pt").write_bytes(pickle.dumps({"weight": RunsCode(marker)}))
    result = runner.invoke(app, ["evaluate", str(run)])
    assert result.exit_code == 2 and not marker.exists()
    (line,) = result.stderr.splitlines()
    assert line.startswith(f"error: {run}: cannot load the saved model safely (UnpicklingError: Weights only load "
                           "failed.")
    assert line.endswith("model.pt must hold tensors only and preprocess.npz plain arrays")


def test_preprocessing_state_with_pickled_objects_is_refused(trained):
    run, _ = trained
    np.savez(run / "preprocess.npz", mean=np.array([{"a": 1}], dtype=object))
    result = runner.invoke(app, ["evaluate", str(run)])
    assert result.exit_code == 2
    assert result.stderr == (f"error: {run}: cannot load the saved model safely (ValueError: Object arrays cannot be "
                             "loaded when allow_pickle=False); model.pt must hold tensors only and preprocess.npz "
                             "plain arrays\n")


@pytest.mark.parametrize("command", ["evaluate", "compare", "train"])
def test_a_yaml_tag_that_would_run_code_is_refused(trained, tmp_path, command):
    run, _ = trained
    marker = tmp_path / "code-ran"
    config = run / "config.yaml"
    config.write_text(f"name: x\ndata: !!python/object/apply:os.system ['touch {marker}']\n")
    args = {"evaluate": [run], "compare": [run, run], "train": [config, "--runs-dir", tmp_path / "r"]}[command]
    result = runner.invoke(app, [command, *map(str, args)])
    assert result.exit_code == 2 and not marker.exists()
    assert result.stderr == (f"error: {config}:2:7: invalid YAML: could not determine a constructor for the tag "
                             "'tag:yaml.org,2002:python/object/apply:os.system'\n")
