"""imbrun sanity / train --overfit-check: PASS on separable blobs, FAIL with the right hint when lr is off."""

import numpy as np
import torch
import yaml
from typer.testing import CliRunner

from imbrun.cli import app
from imbrun.sanity import stratified_subset
from tests.conftest import tiny_config, write_blobs_csv

torch.set_num_threads(1)
runner = CliRunner()


def _config(tmp_path, scale=1.0, **sections):
    csv_path = write_blobs_csv(tmp_path / "blobs.csv")
    if scale != 1.0:  # the same table in other units (e.g. raw 0..255 pixels)
        lines = csv_path.read_text().splitlines()
        lines = [lines[0]] + [",".join([f"{float(v) * scale:.3f}" for v in line.split(",")[:-1]]
                                       + [line.split(",")[-1]]) for line in lines[1:]]
        csv_path.write_text("\n".join(lines) + "\n")
    path = tmp_path / "tiny.yaml"
    path.write_text(yaml.safe_dump(tiny_config(csv_path, **sections)))
    return path


def test_subset_keeps_every_class():
    y = np.array([0] * 95 + [1] * 5)
    index = stratified_subset(y, 10, seed=0)
    assert len(index) == 10 and np.bincount(y[index]).tolist() == [5, 5]
    y = np.array([0] * 300 + [1] * 3 + [2] * 40)
    index = stratified_subset(y, 100, seed=0)
    counts = np.bincount(y[index])
    assert len(index) == 100 and counts[1] == 3 and counts[2] >= 5
    assert np.array_equal(index, np.sort(index)) and len(np.unique(index)) == 100
    assert np.array_equal(stratified_subset(y[:50], 100, seed=0), np.arange(50))  # fewer rows than asked: all


def test_sanity_passes_on_separable_blobs(tmp_path):
    result = runner.invoke(app, ["sanity", str(_config(tmp_path))])
    assert result.exit_code == 0, result.output
    lines = result.output.strip().splitlines()
    assert lines[0] == ("note: plain cross-entropy (balance.kind none), no early stopping, optimizer adam lr 0.01, "
                        "batch size 16")
    # the 31 training rows (fewer than 100: all of them), stopped as soon as they were all right
    assert lines[-1] == "PASS: the model fits 31 rows (train macro-F1 1.000, accuracy 1.000 after 10 epochs)"


def test_sanity_fails_when_lr_is_far_too_low(tmp_path):
    result = runner.invoke(app, ["sanity", str(_config(tmp_path)), "--set", "train.lr=0.00001", "--epochs", "20"])
    assert result.exit_code == 1, result.output
    verdict = result.output.strip().splitlines()[-1]
    assert verdict.startswith("FAIL: the model does not fit 31 rows: only train macro-F1 ")
    assert "after 20 epochs; the training loss barely moved (" in verdict
    assert "try a higher lr (train.lr 1e-05 -> 0.0001) or more epochs" in verdict


def test_overfit_check_flag_fails_when_sgd_lr_10_diverges(tmp_path):
    config = _config(tmp_path)
    result = runner.invoke(app, ["train", str(config), "--overfit-check", "--runs-dir", str(tmp_path / "runs"),
                                 "--set", "train.lr=10", "--set", "train.optimizer=sgd"])
    assert result.exit_code == 1, result.output
    assert "note: plain cross-entropy (balance.kind none), no early stopping, optimizer sgd lr 10" in result.output
    assert "the training loss rose or became NaN: try a lower lr (train.lr 10 -> 1)" in result.output
    assert not (tmp_path / "runs").exists()  # a check, not a run


def test_unnormalised_inputs_and_dropout_are_named(tmp_path):
    config = _config(tmp_path, scale=100.0, preprocess={"normalize": {"kind": "none"}},
                     model={"kind": "dense", "hidden": [16], "dropout": 0.5})
    result = runner.invoke(app, ["sanity", str(config), "--set", "train.lr=0.00001", "--epochs", "3"])
    assert result.exit_code == 1, result.output
    assert ("note: the config's model is kept as is (dropout 0.5): they are off when the subset is scored "
            "(eval mode) but slow the fitting down") in result.output
    assert "the inputs are not normalised (max |x| = " in result.output
    assert "set preprocess.normalize.kind: standard" in result.output


def test_missing_config_is_one_line_error(tmp_path):
    result = runner.invoke(app, ["sanity", str(tmp_path / "absent.yaml")])
    assert result.exit_code == 2 and result.output.startswith("error: ") and "Traceback" not in result.output


def test_sanity_fills_gaps_as_train_does_and_shares_the_cache(tmp_path):
    """Series with blank cells, preprocess.interpolate: the prepared (gap-filled) data lands in the cache `train`
    and `inspect` read; without interpolate it is another entry."""
    rng = np.random.default_rng(1)
    lines = []
    for i in range(40):
        cells = [f"{v:.3f}" for v in rng.uniform(1.0, 2.0, size=8) + (2.0 if i >= 30 else 0.0)]
        if i % 4 == 0:
            cells[3] = ""
        lines.append(",".join(cells) + f",{'b' if i >= 30 else 'a'}")
    csv_path = tmp_path / "gaps.csv"
    csv_path.write_text("\n".join(lines) + "\n")
    data = {"kind": "csv", "path": str(csv_path), "header": False, "sequence": {"channels": 1}}
    raw = tiny_config(csv_path, data=data, preprocess={"normalize": {"kind": "standard"},
                                                       "interpolate": {"method": "linear"}})
    config = tmp_path / "gaps.yaml"
    config.write_text(yaml.safe_dump(raw))
    cache = tmp_path / "cache"
    env = {"IMBRUN_CACHE_DIR": str(cache)}
    result = runner.invoke(app, ["sanity", str(config), "--epochs", "50"], env=env)
    assert result.exit_code == 0, result.output
    assert result.output.strip().splitlines()[-1] == (
        "PASS: the model fits 22 rows (train macro-F1 1.000, accuracy 1.000 after 2 epochs)")
    assert len(list(cache.glob("*.npz"))) == 1
    inspected = runner.invoke(app, ["inspect", str(config), "-f", "json"], env=env)
    assert inspected.exit_code == 0 and '"data_cache": "hit"' in inspected.output
    no_cache = runner.invoke(app, ["sanity", str(config), "--epochs", "50", "--no-cache"],
                             env={"IMBRUN_CACHE_DIR": str(tmp_path / "unused")})
    assert no_cache.exit_code == 0, no_cache.output
    assert not (tmp_path / "unused").exists()
    raw["preprocess"].pop("interpolate")
    config.write_text(yaml.safe_dump(raw))
    plain = runner.invoke(app, ["sanity", str(config), "--epochs", "5"], env=env)
    assert plain.exit_code == 0, plain.output
    assert len(list(cache.glob("*.npz"))) == 2
