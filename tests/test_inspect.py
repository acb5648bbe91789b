"""imbrun inspect: exact counts on the seeded blobs table, and each check on hand-written arrays."""

import json
from pathlib import Path

import numpy as np
import pytest
import yaml
from typer.testing import CliRunner

from imbrun.cli import app
from imbrun.inspect_advice import SMOTE_FAMILY, suggest_strategies
from imbrun.inspect_data import class_table, cross_split_duplicates, group_leakage, missing_values, trailing_padding
from imbrun.inspect_render import render_json
from tests.conftest import tiny_config, write_blobs_csv

runner = CliRunner()


def _config(tmp_path, csv_path, **sections):
    path = tmp_path / "tiny.yaml"
    path.write_text(yaml.safe_dump(tiny_config(csv_path, **sections)))
    return path


@pytest.fixture
def config_file(tmp_path):
    return _config(tmp_path, write_blobs_csv(tmp_path / "blobs.csv"))


def test_json_report_counts_every_split_exactly(config_file):
    result = runner.invoke(app, ["inspect", str(config_file), "--format", "json"])
    assert result.exit_code == 0, result.output
    report = json.loads(result.output)
    assert report["rows"] == 58 and report["feature_shape"] == [4] and report["class_names"] == ["c0", "c1", "c2"]
    # 58 rows (40/12/6): test share 0.25 -> 10/3/2, then validation 0.2 of 58 out of the rest -> 8/3/1
    assert {s: report["splits"][s]["counts"] for s in ("train", "val", "test")} == {
        "train": {"c0": 22, "c1": 6, "c2": 3}, "val": {"c0": 8, "c1": 3, "c2": 1},
        "test": {"c0": 10, "c1": 3, "c2": 2}}
    assert report["splits"]["train"]["imbalance_ratio"] == 22 / 3
    assert report["all"]["imbalance_ratio"] == 40 / 6
    assert report["splits"]["test"]["shares"] == {"c0": 10 / 15, "c1": 3 / 15, "c2": 2 / 15}
    assert report["missing"]["train"] == {"cells": 0, "rows": 0, "row_share": 0.0}
    assert report["duplicates"] == {"train-val": 0, "train-test": 0, "val-test": 0, "within_train": 0}
    assert "padding" not in report and "group_leakage" not in report
    assert report["empty_classes"] == {"train": [], "val": [], "test": []}
    assert [tip["use"] for tip in report["suggestions"]] == [["class_weight", "focal"], []]
    assert report["suggestions"][1]["avoid"] == SMOTE_FAMILY


def test_table_output_and_out_folder(config_file, tmp_path):
    out = tmp_path / "inspect"
    result = runner.invoke(app, ["inspect", str(config_file), "--out", str(out)])
    assert result.exit_code == 0, result.output
    assert "csv blobs.csv: 58 rows, features 4, 3 classes" in result.output
    assert "│ c2    │   3 (9.7%) │  1 (8.3%) │  2 (13.3%) │  6 (10.3%) │" in result.output
    assert "│ ratio │      7.3:1 │     8.0:1 │      5.0:1 │      6.7:1 │" in result.output
    assert "missing values: none" in result.output
    assert ("suggestion: avoid smote, borderline_smote, adasyn, smote_tomek, smote_enn - class 'c2' has 3 "
            "training row(s): SMOTE's default k_neighbors=5 needs at least 6") in result.output
    assert (out / "class_distribution.png").read_bytes()[:4] == b"\x89PNG"
    assert json.loads((out / "inspect.json").read_text())["splits"]["val"]["rows"] == 12


def test_missing_cells_are_counted_across_splits(tmp_path):
    csv_path = write_blobs_csv(tmp_path / "blobs.csv")
    lines = csv_path.read_text().splitlines()
    for i in (1, 2, 3):  # blank the first feature of three data rows, and the second feature of row 1 too
        cells = lines[i].split(",")
        cells[0] = ""
        if i == 1:
            cells[1] = "?"
        lines[i] = ",".join(cells)
    csv_path.write_text("\n".join(lines) + "\n")
    result = runner.invoke(app, ["inspect", str(_config(tmp_path, csv_path)), "-f", "json"])
    assert result.exit_code == 0, result.output
    missing = json.loads(result.output)["missing"]
    assert sum(m["cells"] for m in missing.values()) == 4
    assert sum(m["rows"] for m in missing.values()) == 3


def test_group_split_reports_no_leakage(tmp_path):
    csv_path = write_blobs_csv(tmp_path / "blobs.csv")
    lines = csv_path.read_text().splitlines()
    lines = [lines[0] + ",patient"] + [line + f",p{i % 12}" for i, line in enumerate(lines[1:])]
    csv_path.write_text("\n".join(lines) + "\n")
    config = _config(tmp_path, csv_path, split={"test_size": 0.25, "val_size": 0.2, "group_by": "patient",
                                                "stratify": False})
    result = runner.invoke(app, ["inspect", str(config), "-f", "json"])
    assert result.exit_code == 0, result.output
    leak = json.loads(result.output)["group_leakage"]
    assert leak["group_by"] == "patient" and leak["shared"] == {}
    assert sum(leak["groups"].values()) == 12


def test_bad_config_is_one_line_error(tmp_path):
    path = tmp_path / "bad.yaml"
    path.write_text(yaml.safe_dump(tiny_config(tmp_path / "absent.csv")))
    result = runner.invoke(app, ["inspect", str(path)])
    assert result.exit_code == 2
    assert result.output.startswith("error: ") and "absent.csv" in result.output
    assert "Traceback" not in result.output


def test_class_table_with_an_absent_class():
    table = class_table(np.array([0, 0, 0, 1]), ["a", "b", "c"])
    assert table == {"rows": 4, "counts": {"a": 3, "b": 1, "c": 0}, "shares": {"a": 0.75, "b": 0.25, "c": 0.0},
                     "imbalance_ratio": float("inf")}
    assert json.loads(render_json({"all": table}))["all"]["imbalance_ratio"] is None  # JSON has no inf


def test_missing_values_counts_cells_and_rows():
    X = np.array([[1.0, np.nan], [np.nan, np.nan], [0.0, 2.0], [3.0, 4.0]], dtype=np.float32)
    assert missing_values(X) == {"cells": 3, "rows": 2, "row_share": 0.5}


def test_trailing_padding_counts_zero_steps_at_the_end_only():
    X = np.ones((3, 5, 2), dtype=np.float32)  # (series, timesteps, channels)
    X[0, 3:] = 0.0  # 2 padded steps
    X[1, 4, 0] = 0.0  # one channel only: not padding
    X[2, 0] = 0.0  # a zero step at the start: not trailing
    X[2, 2:] = 0.0  # 3 padded steps
    assert trailing_padding(X) == {"series": 3, "padded": 2, "padded_share": 2 / 3, "mean_padded_length": 2.5,
                                   "timesteps": 5}


def test_duplicates_across_splits_by_exact_features():
    train = np.array([[1.0, 2.0], [3.0, 4.0], [1.0, 2.0], [-0.0, np.nan]], dtype=np.float32)
    val = np.array([[3.0, 4.0], [5.0, 6.0]], dtype=np.float32)
    test = np.array([[0.0, np.nan], [5.0, 6.0], [7.0, 8.0]], dtype=np.float32)
    assert cross_split_duplicates({"train": train, "val": val, "test": test}) == {
        "train-val": 1, "train-test": 1, "val-test": 1, "within_train": 1}


def test_group_leakage_names_shared_groups():
    groups = {"train": np.array(["r1", "r2", "r2"]), "val": np.array(["r3"]), "test": np.array(["r2", "r3", "r4"])}
    assert group_leakage(groups, "record") == {"group_by": "record", "groups": {"train": 2, "val": 1, "test": 3},
                                               "shared": {"train-test": ["r2"], "val-test": ["r3"]}}


def test_suggestions_follow_ratio_and_minority_size():
    assert suggest_strategies({"a": 50, "b": 40}) == [{"use": ["none"], "avoid": [], "reason": (
        "ratio 1.2:1 is nearly balanced; plain cross-entropy is the baseline to beat")}]
    extreme = suggest_strategies({"a": 800, "b": 20})
    assert extreme == [{"use": ["class_weight", "focal"], "avoid": ["undersample"], "reason": (
        "extreme ratio 40.0:1 with only 20 'b' training rows: undersampling would keep 40 of 820 rows, and "
        "oversampling repeats each 'b' row ~40 times; reweight the loss instead")}]
    plenty = suggest_strategies({"a": 5000, "b": 250})
    assert plenty[0]["use"] == ["weighted_sampler", "oversample"] and len(plenty) == 1
    moderate = suggest_strategies({"a": 300, "b": 60, "c": 70})
    assert moderate[0]["use"] == ["class_weight", "weighted_sampler"]
    assert "keep only 180 of 430 rows" in moderate[0]["reason"]
    tiny = suggest_strategies({"a": 100, "b": 5})
    assert tiny[1] == {"use": [], "avoid": SMOTE_FAMILY, "reason": (
        "class 'b' has 5 training row(s): SMOTE's default k_neighbors=5 needs at least 6")}
    assert suggest_strategies({"a": 10, "b": 0})[0]["reason"].startswith("class 'b' has no training rows")


def test_mammography_counts_and_duplicates(shared_data):
    """The real UCI mammography table (42:1): exact split counts and its many repeated rows."""
    config = Path(__file__).resolve().parents[1] / "configs" / "mammography.yaml"
    path = shared_data / "uci_imbalanced" / "mammography.csv"
    result = runner.invoke(app, ["inspect", str(config), "--set", f"data.path={path}", "-f", "json"])
    assert result.exit_code == 0, result.output
    report = json.loads(result.output)
    assert report["splits"]["train"]["counts"] == {"-1": 6553, "1": 156}
    assert report["all"]["counts"] == {"-1": 10923, "1": 260} and report["all"]["imbalance_ratio"] == 10923 / 260
    assert report["duplicates"] == {"train-val": 466, "train-test": 863, "val-test": 861, "within_train": 2006}
    assert report["suggestions"][0]["use"] == ["weighted_sampler", "oversample"]


def test_series_padding_from_a_sequence_csv(tmp_path):
    """40 single-channel series of 8 steps: 10 end in 3 zero steps, 10 in 1, 20 in none (values are 1..2)."""
    rng = np.random.default_rng(0)
    lines = []
    for i in range(40):
        values = rng.uniform(1.0, 2.0, size=8)
        padded = (3, 1, 0, 0)[i % 4]
        if padded:
            values[-padded:] = 0.0
        lines.append(",".join(f"{v:.3f}" for v in values) + f",{'a' if i < 30 else 'b'}")
    csv_path = tmp_path / "series.csv"
    csv_path.write_text("\n".join(lines) + "\n")
    config = _config(tmp_path, csv_path, data={"kind": "csv", "path": str(csv_path), "header": False,
                                               "sequence": {"channels": 1}})
    result = runner.invoke(app, ["inspect", str(config), "-f", "json"])
    assert result.exit_code == 0, result.output
    report = json.loads(result.output)
    assert report["feature_shape"] == [8, 1]
    padding = report["padding"]
    assert sum(p["series"] for p in padding.values()) == 40 and sum(p["padded"] for p in padding.values()) == 20
    total_steps = sum(p["mean_padded_length"] * p["padded"] for p in padding.values())
    assert round(total_steps) == 10 * 3 + 10 * 1 and padding["train"]["timesteps"] == 8


def _gappy_series_config(tmp_path, interpolate=True):
    """40 single-channel series of 8 steps ('b' rows higher than 'a'); 10 have 2 blank interior cells."""
    rng = np.random.default_rng(1)
    lines = []
    for i in range(40):
        label = "a" if i < 30 else "b"
        cells = [f"{v:.3f}" for v in rng.uniform(1.0, 2.0, size=8) + (2.0 if label == "b" else 0.0)]
        if i % 4 == 0:
            cells[3] = cells[5] = ""
        lines.append(",".join(cells) + f",{label}")
    csv_path = tmp_path / "gaps.csv"
    csv_path.write_text("\n".join(lines) + "\n")
    preprocess = {"normalize": {"kind": "standard"}, **({"interpolate": {"method": "linear"}} if interpolate else {})}
    return _config(tmp_path, csv_path, data={"kind": "csv", "path": str(csv_path), "header": False,
                                             "sequence": {"channels": 1}}, preprocess=preprocess)


def test_inspect_prepares_the_data_as_train_does_and_fills_the_cache(tmp_path):
    config, cache = _gappy_series_config(tmp_path), tmp_path / "cache"
    env = {"IMBRUN_CACHE_DIR": str(cache)}
    first = runner.invoke(app, ["inspect", str(config), "-f", "json"], env=env)
    assert first.exit_code == 0, first.output
    report = json.loads(first.output)
    assert report["data_cache"] == "miss" and len(list(cache.glob("*.npz"))) == 1
    assert report["interpolate"] == {"method": "linear", "missing_before": 20, "filled": 20, "remaining": 0,
                                     "remaining_policy": "fail", "dropped_row_ids": []}
    assert {s: m["cells"] for s, m in report["missing"].items()} == {"train": 0, "val": 0, "test": 0}
    second = runner.invoke(app, ["inspect", str(config)], env=env)
    assert second.exit_code == 0, second.output
    assert "missing values: none" in second.output
    assert ("interpolation (linear): 20 of 20 missing value(s) filled, 0 left (fail); the counts above are after "
            "it") in second.output
    assert "prepared-data cache: hit" in second.output
    off = runner.invoke(app, ["inspect", str(config), "--no-cache", "-f", "json"], env=env)
    assert json.loads(off.output)["data_cache"] == "off"
    # the entry inspect wrote is the one train reads
    trained = runner.invoke(app, ["train", str(config), "--runs-dir", str(tmp_path / "runs"), "-q"], env=env)
    assert trained.exit_code == 0, trained.output
    [run] = (tmp_path / "runs").iterdir()
    assert json.loads((run / "env.json").read_text())["data_cache"] == "hit"


def test_inspect_without_interpolate_counts_the_gaps(tmp_path):
    config = _gappy_series_config(tmp_path, interpolate=False)
    result = runner.invoke(app, ["inspect", str(config), "-f", "json"], env={"IMBRUN_CACHE_DIR": str(tmp_path / "c")})
    assert result.exit_code == 0, result.output
    report = json.loads(result.output)
    assert sum(m["cells"] for m in report["missing"].values()) == 20
    assert sum(m["rows"] for m in report["missing"].values()) == 10 and "interpolate" not in report
