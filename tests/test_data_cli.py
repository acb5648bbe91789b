"""Data handling through the CLI: saved one-hot categories in `evaluate --data`, group-aware splits and their
warnings in `train`, and a --runs-dir that is not a folder."""

import json
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
import yaml
from typer.testing import CliRunner

from imbrun.cli import app
from tests.conftest import tiny_config
from tests.test_loader_contract import write_wfdb_records

runner = CliRunner()
COLORS = ["blue", "green", "red"]


def _train(config: dict, tmp_path: Path) -> tuple[Path, str]:
    path = tmp_path / "config.yaml"
    path.write_text(yaml.safe_dump(config))
    result = runner.invoke(app, ["train", str(path), "--runs-dir", str(tmp_path / "runs"), "-q"])
    assert result.exit_code == 0, result.output
    run = result.stdout.strip().splitlines()[-1].removeprefix("run: ")
    return Path(run), result.output


def _rows(n: int, colors: list[str]) -> list[str]:
    """x rises with the row; the label follows x; colour cycles through `colors`."""
    return [f"{i / n:.4f},{colors[i % len(colors)]},{'ab'[i >= n // 2]}" for i in range(n)]


def _probs(eval_dir: str) -> np.ndarray:
    return pd.read_csv(Path(eval_dir) / "predictions.csv").filter(like="prob_").to_numpy()


def _evaluate(run: Path, csv: Path) -> tuple[np.ndarray, str]:
    result = runner.invoke(app, ["evaluate", str(run), "--data", str(csv), "-q"])
    assert result.exit_code == 0, result.output
    return _probs(result.stdout.strip().splitlines()[-1].removeprefix("eval: ")), result.stderr


@pytest.fixture(scope="module")
def color_run(tmp_path_factory):
    """A run trained on colours {blue, green, red}, its training rows, and their probabilities re-scored."""
    tmp = tmp_path_factory.mktemp("colors")
    rows = _rows(30, COLORS)
    (tmp / "train.csv").write_text("\n".join(["x,color,label", *rows]) + "\n")
    run, _ = _train(tiny_config(tmp / "train.csv"), tmp)
    assert json.loads((run / "model.json").read_text())["categories"] == {"color": COLORS}
    probs, _ = _evaluate(run, tmp / "train.csv")
    return tmp, run, rows, probs


def test_evaluate_on_a_subset_of_the_training_categories_uses_the_training_columns(color_run):
    tmp, run, rows, probs = color_run
    keep = [i for i, row in enumerate(rows) if ",blue," not in row]  # {green, red}: was a shape error
    (tmp / "gr.csv").write_text("\n".join(["x,color,label", *[rows[i] for i in keep]]) + "\n")
    got, stderr = _evaluate(run, tmp / "gr.csv")
    np.testing.assert_allclose(got, probs[keep], rtol=1e-6)
    assert stderr == ""


def test_evaluate_with_an_unseen_category_encodes_it_as_zeros_and_says_so(color_run):
    tmp, run, rows, probs = color_run
    keep = [i for i, row in enumerate(rows) if ",blue," not in row]
    # {green, red, yellow}: yellow used to become a third column in blue's place, silently scoring wrong
    lines = [rows[i] for i in keep] + ["0.9000,yellow,b", "0.9000,,b"]  # yellow and a missing colour: both zeros
    (tmp / "gry.csv").write_text("\n".join(["x,color,label", *lines]) + "\n")
    got, stderr = _evaluate(run, tmp / "gry.csv")
    np.testing.assert_allclose(got[: len(keep)], probs[keep], rtol=1e-6)
    np.testing.assert_array_equal(got[-2], got[-1])
    assert stderr == (f"warning [unseen_category]: {tmp / 'gry.csv'}: column 'color' has categories ['yellow'] "
                      f"never seen in training; their rows get an all-zero one-hot for the column\n")


def _patient_rows(patients: list[str], per_patient: int = 6) -> list[str]:
    """f0, f1, patient, label: in each patient's rows two of class 'v', the rest class 'n'."""
    rng = np.random.default_rng(0)
    rows = []
    for p in patients:
        for k in range(per_patient):
            label = "v" if k < 2 else "n"
            f0, f1 = rng.normal(2.0 if label == "v" else 0.0, 1.0, size=2)
            rows.append(f"{f0:.4f},{f1:.4f},{p},{label}")
    return rows


def test_groups_shared_by_the_test_file_with_train_and_val_are_reported(tmp_path):
    patients = [f"p{i}" for i in range(6)]
    (tmp_path / "train.csv").write_text("\n".join(["f0,f1,patient,label", *_patient_rows(patients)]) + "\n")
    test_rows = _patient_rows(patients + ["p9"], 3)
    (tmp_path / "test.csv").write_text("\n".join(["f0,f1,patient,label", *test_rows]) + "\n")
    config = tiny_config(tmp_path / "train.csv", split={"val_size": 0.34, "group_by": "patient"})
    config["data"]["test_path"] = str(tmp_path / "test.csv")
    run, output = _train(config, tmp_path)
    splits = json.loads((run / "splits.json").read_text())
    train, val = splits["train"]["groups"], splits["val"]["groups"]
    assert sorted(train + val) == patients and not set(train) & set(val) and train and val
    assert splits["test"]["groups"] == patients + ["p9"]
    expected = [f"groups {train} appear in both the train split and the test file",
                f"groups {val} appear in both the val split and the test file"]
    assert splits["warnings"] == expected
    assert [w for w in json.loads((run / "warnings.json").read_text())["warnings"] if w["code"] == "split"] == \
        [{"code": "split", "message": message} for message in expected]
    for message in expected:
        assert f"warning [split]: {message}\n" in output


def _csv_patients(tmp_path: Path) -> tuple[dict, list[str]]:
    patients = [f"p{i}" for i in range(10)]
    (tmp_path / "beats.csv").write_text("\n".join(["f0,f1,patient,label", *_patient_rows(patients)]) + "\n")
    return tiny_config(tmp_path / "beats.csv", split={"test_size": 0.25, "val_size": 0.2, "group_by": "patient"}), \
        patients


def _ecg_records(tmp_path: Path) -> tuple[dict, list[str]]:
    records = [str(201 + i) for i in range(8)]
    write_wfdb_records(tmp_path, {r: "NNVNNNNVNNN" for r in records})
    config = tiny_config(tmp_path, split={"test_size": 0.25, "val_size": 0.2, "group_by": "record"})
    config["data"] = {"kind": "ecg_beats", "path": str(tmp_path)}
    return config, records


@pytest.mark.parametrize("make", [_csv_patients, _ecg_records], ids=["csv-patient", "ecg-record"])
def test_patient_wise_split_keeps_each_group_in_one_split_and_lists_them(make, tmp_path):
    config, groups = make(tmp_path)
    run, _ = _train(config, tmp_path)
    splits = json.loads((run / "splits.json").read_text())
    parts = [set(splits[name]["groups"]) for name in ("train", "val", "test")]
    assert all(parts) and sorted(set().union(*parts)) == groups and sum(map(len, parts)) == len(groups)
    rows = json.loads((run / "metrics.json").read_text())["test"]["per_class"]
    assert sum(v["support"] for v in rows.values()) == splits["test"]["rows"]
    assert splits["warnings"] == []


def test_runs_dir_that_is_a_file_is_a_one_line_error(tmp_path):
    (tmp_path / "t.csv").write_text("\n".join(["x,color,label", *_rows(30, COLORS)]) + "\n")
    (tmp_path / "config.yaml").write_text(yaml.safe_dump(tiny_config(tmp_path / "t.csv")))
    for runs_dir, what in (("/etc/passwd", "not a directory"), (str(tmp_path / "t.csv" / "runs"),
                                                              "cannot be created inside a file")):
        result = runner.invoke(app, ["train", str(tmp_path / "config.yaml"), "--runs-dir", runs_dir, "-q"])
        assert result.exit_code == 2
        assert result.output == f"error: {runs_dir}: {what}; run folders go into a folder (--runs-dir)\n"
