"""Training warnings: each provoked on hand-written epoch rows, then by real tiny trainings (collapse, divergence)."""

import json

import numpy as np
import torch
import yaml
from typer.testing import CliRunner

from imbrun.balance.losses import WeightedCrossEntropy
from imbrun.cli import app
from imbrun.config import validate_config
from imbrun.data import load_data
from imbrun.data.split import split_data
from imbrun.diagnose import TrainingMonitor, empty_class_warnings, format_warnings, read_warnings, write_warnings
from imbrun.models import build_model
from imbrun.preprocess import Preprocessor
from imbrun.runs import RunDir
from imbrun.train import fit, predict_logits
from tests.conftest import tiny_config, write_blobs_csv

torch.set_num_threads(1)
NAMES = ["a", "b", "c"]


def _row(epoch, train_loss=1.0, val_loss=1.0, lr=0.01):
    return {"epoch": epoch, "train_loss": train_loss, "val_loss": val_loss, "lr": lr}


def _metrics(accuracy, support, cm=None):
    per_class = {name: {"precision": 0.0, "recall": 0.0, "f1": 0.0, "support": s} for name, s in zip(NAMES, support)}
    cm = cm if cm is not None else np.diag(support).tolist()
    return {"class_names": NAMES, "test": {"overall": {"accuracy": accuracy, "macro_f1": 0.33,
                                                       "balanced_accuracy": 0.5}, "per_class": per_class,
                                           "confusion_matrix": cm}}


def test_all_predictions_from_one_class_for_three_epochs_is_a_collapse():
    monitor = TrainingMonitor(NAMES, np.array([0, 0, 0, 1, 2]))
    monitor.on_epoch(_row(1, 1.0), np.array([0, 1, 0, 1, 2]))
    for epoch in (2, 3, 4):
        monitor.on_epoch(_row(epoch, 1.0 - 0.1 * epoch), np.zeros(5, dtype=int))
    assert monitor.finish() == [{"code": "majority_collapse", "epoch": 2, "message": (
        "every validation prediction was 'a' from epoch 2 to the last epoch 4: the model ignores the other "
        "classes; try a balancing strategy (class_weight, focal, weighted_sampler) or check the learning rate")}]


def test_live_note_names_a_collapse_or_the_classes_not_found_in_the_latest_epoch():
    monitor = TrainingMonitor(NAMES, np.array([0, 0, 1, 2, 2]))
    assert monitor.live_note() is None
    monitor.on_epoch(_row(1), np.array([0, 0, 1, 2, 0]))
    assert monitor.live_note() is None
    monitor.on_epoch(_row(2), np.array([0, 0, 1, 1, 0]))
    assert monitor.live_note() == "val recall 0: 'c'"
    monitor.on_epoch(_row(3), np.array([1, 1, 1, 1, 1]))
    assert monitor.live_note() == "all val predictions 'b'"


def test_a_class_never_found_in_the_last_epochs_has_zero_recall():
    monitor = TrainingMonitor(NAMES, np.array([0, 0, 1, 2, 2]))
    monitor.on_epoch(_row(1, 1.0), np.array([0, 0, 1, 2, 0]))  # c found once: recall 0.5
    for epoch in (2, 3, 4):
        monitor.on_epoch(_row(epoch, 1.0 - 0.1 * epoch), np.array([0, 0, 1, 1, 0]))
    assert format_warnings(monitor.finish()) == [
        "warning [zero_recall] epoch 2: class 'c' had validation recall 0 from epoch 2 to the last epoch 4 "
        "(2 rows, none found); weight it (class_weight, focal) or sample it more (weighted_sampler)"]


def test_recovered_classes_and_short_streaks_are_not_warned():
    monitor = TrainingMonitor(NAMES, np.array([0, 1, 2]))
    for epoch in (1, 2, 3):
        monitor.on_epoch(_row(epoch, 1.0 - 0.1 * epoch), np.zeros(3, dtype=int))
    monitor.on_epoch(_row(4, 0.5), np.array([0, 1, 2]))
    monitor.on_epoch(_row(5, 0.4), np.array([0, 1, 1]))  # c missed for 2 epochs only
    monitor.on_epoch(_row(6, 0.3), np.array([0, 1, 1]))
    assert monitor.finish() == []


def test_a_restart_at_epoch_one_starts_a_new_record():
    monitor = TrainingMonitor(NAMES, np.array([0, 1, 2]))
    for epoch in (1, 2, 3):  # a first phase that collapsed, then a second fit (e.g. cRT's head) that did not
        monitor.on_epoch(_row(epoch, 1.0 - 0.1 * epoch), np.zeros(3, dtype=int))
    monitor.on_epoch(_row(1, 0.5), np.array([0, 1, 2]))
    assert monitor.finish() == []


def test_predictions_of_another_length_are_ignored():
    monitor = TrainingMonitor(NAMES, np.array([0, 1, 2]))
    for epoch in (1, 2, 3):
        monitor.on_epoch(_row(epoch, 1.0 - 0.1 * epoch), np.zeros(7, dtype=int))  # a cascade stage's own split
    assert monitor.finish() == []


def test_rising_training_loss_is_divergence_with_the_numbers_seen():
    monitor = TrainingMonitor(NAMES)
    for epoch, loss in ((1, 1.0), (2, 1.5), (3, 2.25)):
        monitor.on_epoch(_row(epoch, loss, lr=0.01))
    assert monitor.finish() == [{"code": "divergence", "epoch": 3, "message": (
        "training loss rose from 1 (epoch 1) to 2.25 (epoch 3); lower the learning rate, e.g. lr 0.01 -> 0.001")}]


def test_training_loss_ending_above_its_start_is_divergence():
    monitor = TrainingMonitor(NAMES)
    for epoch, loss in ((1, 1.0), (2, 0.8), (3, 0.9), (4, 1.2)):
        monitor.on_epoch(_row(epoch, loss, lr=0.1))
    assert format_warnings(monitor.finish()) == [
        "warning [divergence] epoch 4: training loss rose from 1 (epoch 1) to 1.2 (epoch 4); lower the learning "
        "rate, e.g. lr 0.1 -> 0.01"]


def test_validation_loss_rising_from_the_start_while_training_loss_falls():
    monitor = TrainingMonitor(NAMES)
    for epoch, train, val in ((1, 0.9, 0.5), (2, 0.7, 0.6), (3, 0.5, 0.8), (4, 0.4, 0.7)):
        monitor.on_epoch(_row(epoch, train, val, lr=0.03))
    assert monitor.finish() == [{"code": "divergence", "epoch": 3, "message": (
        "validation loss rose from 0.5 to 0.8 over epochs 1-3 while training loss fell from 0.9 to 0.5; lower the "
        "learning rate, e.g. lr 0.03 -> 0.003")}]


def test_validation_loss_rising_later_is_not_divergence():
    monitor = TrainingMonitor(NAMES)
    for epoch, train, val in ((1, 0.9, 0.5), (2, 0.7, 0.4), (3, 0.5, 0.6), (4, 0.4, 0.7)):
        monitor.on_epoch(_row(epoch, train, val))
    assert monitor.finish() == []


def test_accuracy_near_the_majority_share_is_uninformative():
    monitor = TrainingMonitor(NAMES)
    warnings = monitor.finish(_metrics(0.905, [90, 6, 4]))  # majority share 0.90, accuracy 0.905
    assert format_warnings(warnings) == [
        "warning [accuracy_uninformative]: test accuracy 0.905 is within 1 point of the majority share 0.900 "
        "(class 'a'): accuracy is uninformative here; look at macro-F1 (0.330) / balanced accuracy (0.500)"]
    assert monitor.finish(_metrics(0.92, [90, 6, 4])) == []


def test_one_predicted_class_on_test_is_a_collapse():
    cm = [[90, 0, 0], [6, 0, 0], [4, 0, 0]]
    codes = [w["code"] for w in TrainingMonitor(NAMES).finish(_metrics(0.9, [90, 6, 4], cm))]
    assert codes == ["majority_collapse", "accuracy_uninformative"]


def test_a_split_without_some_class_is_warned():
    counts = {"train": {"a": 5, "b": 3, "c": 2}, "val": {"a": 2, "b": 1, "c": 0}, "test": {"a": 2, "b": 0, "c": 0}}
    assert format_warnings(empty_class_warnings(counts)) == [
        "warning [empty_class]: the val split has no rows of 'c': its scores there are undefined (counted as 0 in "
        "macro-F1); add rows or change split.test_size / split.val_size",
        "warning [empty_class]: the test split has no rows of 'b', 'c': its scores there are undefined (counted as "
        "0 in macro-F1); add rows or change split.test_size / split.val_size"]


def test_write_warnings_puts_them_in_the_run_folder(tmp_path):
    run = RunDir.create(tmp_path, "x", now=0)
    write_warnings(run, [{"code": "divergence", "message": "m", "epoch": 2}])
    assert json.loads(run.file("warnings.json").read_text()) == {
        "warnings": [{"code": "divergence", "message": "m", "epoch": 2}]}
    assert read_warnings(run) == [{"code": "divergence", "message": "m", "epoch": 2}]
    assert read_warnings(RunDir.create(tmp_path, "empty", now=0)) == []


def _train_monitored(tmp_path, counts, features, train):
    """Really train on the blobs table, feeding the monitor each epoch's validation predictions."""
    csv_path = write_blobs_csv(tmp_path / "blobs.csv", counts=counts, features=features)
    cfg = validate_config(tiny_config(csv_path, train={"batch_size": 16, **train}))
    splits = split_data(load_data(cfg.data), cfg.split, cfg.seed)
    pre = Preprocessor(cfg.preprocess).fit(splits.train.X)
    X_train, X_val = pre.transform(splits.train.X), pre.transform(splits.val.X)
    torch.manual_seed(0)
    model = build_model(cfg.model, X_train.shape[1:], len(splits.class_names))
    monitor = TrainingMonitor(splits.class_names, splits.val.y)
    cpu = torch.device("cpu")

    def on_epoch(row):
        monitor.on_epoch(row, predict_logits(model, X_val, 512, cpu).argmax(1).numpy())

    fit(model, (X_train, splits.train.y), (X_val, splits.val.y), WeightedCrossEntropy(None), cfg.train, seed=0,
        device=cpu, on_epoch=on_epoch)
    return monitor.finish()


def test_training_on_indistinguishable_95_5_classes_collapses(tmp_path):
    # one feature, both classes centred on 4.0: nothing to learn but the prior, so every prediction is c0
    warnings = _train_monitored(tmp_path, (95, 5), 1, {"epochs": 1, "lr": 0.01})
    assert [(w["code"], w["epoch"]) for w in warnings] == [("majority_collapse", 1)]
    assert warnings[0]["message"].startswith("every validation prediction was 'c0' in the only epoch (1)")


def test_sgd_with_lr_10_diverges(tmp_path):
    warnings = _train_monitored(tmp_path, (40, 12, 6), 4, {"epochs": 6, "lr": 10.0, "optimizer": "sgd"})
    divergence = [w for w in warnings if w["code"] == "divergence"]
    assert len(divergence) == 1 and divergence[0]["epoch"] == 6
    assert divergence[0]["message"].startswith("training loss rose from 5.439 (epoch 1) to ")
    assert divergence[0]["message"].endswith("lower the learning rate, e.g. lr 10 -> 1")


def test_train_writes_warnings_json_for_a_collapsing_model(tmp_path):
    csv_path = write_blobs_csv(tmp_path / "blobs.csv", counts=(95, 5), features=1)
    config = tmp_path / "collapse.yaml"
    config.write_text(yaml.safe_dump(tiny_config(csv_path, train={"epochs": 8, "batch_size": 16, "lr": 0.01})))
    result = CliRunner().invoke(app, ["train", str(config), "--runs-dir", str(tmp_path / "runs"), "-q"])
    assert result.exit_code == 0, result.output
    run = tmp_path / "runs" / result.output.strip().splitlines()[-1].removeprefix("run: ").split("/")[-1]
    codes = [w["code"] for w in json.loads((run / "warnings.json").read_text())["warnings"]]
    assert "majority_collapse" in codes and "accuracy_uninformative" in codes


def test_collapse_is_shown_while_training_and_by_compare_and_report(tmp_path):
    csv_path = write_blobs_csv(tmp_path / "blobs.csv", counts=(95, 5), features=1)
    config = tmp_path / "collapse.yaml"
    config.write_text(yaml.safe_dump(tiny_config(csv_path, train={"epochs": 8, "batch_size": 16, "lr": 0.01})))
    runs = tmp_path / "runs"
    shown = CliRunner().invoke(app, ["train", str(config), "--runs-dir", str(runs)], env={"COLUMNS": "200"})
    assert shown.exit_code == 0, shown.output
    assert "! all val predictions 'c0'" in shown.output  # the progress line of the last epoch
    assert "warning [majority_collapse] epoch 1: every validation prediction was 'c0'" in shown.output
    other = CliRunner().invoke(app, ["train", str(config), "--runs-dir", str(runs), "-q",
                                     "--set", "balance.kind=class_weight", "--name", "weighted"])
    assert other.exit_code == 0, other.output
    first, second = sorted(runs.iterdir())
    compared = CliRunner().invoke(app, ["compare", str(first), str(second), "--format", "markdown"])
    assert compared.exit_code == 0, compared.output
    assert "### Warnings (warnings.json of each run)" in compared.output
    assert f"| {first.name} | majority_collapse | 1 | every validation prediction was 'c0'" in compared.output
    reported = CliRunner().invoke(app, ["report", str(first)])
    assert reported.exit_code == 0, reported.output
    page = (first / "report.html").read_text()
    assert "<h2>Warnings</h2>" in page and "<td>majority_collapse</td><td>1</td>" in page


def test_train_on_empty_class_splits_is_warned(tmp_path):
    csv_path = write_blobs_csv(tmp_path / "blobs.csv", counts=(40, 12, 1))
    config = tmp_path / "empty.yaml"  # unstratified: the single 'c2' row lands in train, none in val or test
    config.write_text(yaml.safe_dump(tiny_config(csv_path, split={"test_size": 0.25, "val_size": 0.2,
                                                                  "stratify": False})))
    result = CliRunner().invoke(app, ["train", str(config), "--runs-dir", str(tmp_path / "runs"), "-q"])
    assert result.exit_code == 0, result.output
    advice = "add rows or change split.test_size / split.val_size"
    expected = [f"the val split has no rows of 'c2': its scores there are undefined (counted as 0 in macro-F1); "
                f"{advice}",
                f"the test split has no rows of 'c2': its scores there are undefined (counted as 0 in macro-F1); "
                f"{advice}"]
    for message in expected:
        assert f"warning [empty_class]: {message}" in result.output
    [run] = (tmp_path / "runs").iterdir()
    warnings = json.loads((run / "warnings.json").read_text())["warnings"]
    assert [w["message"] for w in warnings if w["code"] == "empty_class"] == expected
    assert json.loads((run / "balance.json").read_text())["class_counts"]["test"] == {"c0": 11, "c1": 3, "c2": 0}


def test_empty_training_class_says_the_model_cannot_learn_it():
    counts = {"train": {"a": 5, "b": 0}, "val": {"a": 2, "b": 1}, "test": {"a": 2, "b": 1}}
    assert format_warnings(empty_class_warnings(counts)) == [
        "warning [empty_class]: the train split has no rows of 'b': the model cannot learn to predict them; add "
        "rows or change split.test_size / split.val_size"]


def test_divergence_is_shown_after_training_and_by_compare_and_report(tmp_path):
    csv_path = write_blobs_csv(tmp_path / "blobs.csv")
    config = tmp_path / "diverge.yaml"  # plain SGD at lr 10: the training loss grows every epoch
    config.write_text(yaml.safe_dump(tiny_config(csv_path, train={"epochs": 6, "batch_size": 16, "lr": 10.0,
                                                                  "optimizer": "sgd"})))
    runs = tmp_path / "runs"
    shown = CliRunner().invoke(app, ["train", str(config), "--runs-dir", str(runs)], env={"COLUMNS": "200"})
    assert shown.exit_code == 0, shown.output
    message = ("training loss rose from 5.439 (epoch 1) to 1.626e+05 (epoch 6); lower the learning rate, e.g. "
               "lr 10 -> 1")
    assert f"warning [divergence] epoch 6: {message}" in shown.output
    diverged = runs / shown.output.strip().splitlines()[-1].removeprefix("run: ").split("/")[-1]
    assert {"code": "divergence", "message": message, "epoch": 6} in \
        json.loads((diverged / "warnings.json").read_text())["warnings"]
    calm = CliRunner().invoke(app, ["train", str(config), "--runs-dir", str(runs), "-q", "--set", "train.lr=0.1",
                                    "--name", "calm"])
    assert calm.exit_code == 0, calm.output
    calm_run = runs / calm.output.strip().splitlines()[-1].removeprefix("run: ").split("/")[-1]
    assert "divergence" not in (calm_run / "warnings.json").read_text()
    compared = CliRunner().invoke(app, ["compare", str(calm_run), str(diverged), "--format", "markdown"])
    assert compared.exit_code == 0, compared.output
    assert f"| {diverged.name} | divergence | 6 | {message} |" in compared.output
    reported = CliRunner().invoke(app, ["report", str(diverged)])
    assert reported.exit_code == 0, reported.output
    page = (diverged / "report.html").read_text()
    assert "<td>divergence</td><td>6</td><td>training loss rose from 5.439 (epoch 1) to 1.626e+05 (epoch 6); " \
           "lower the learning rate, e.g. lr 10 -&gt; 1</td>" in page
