"""Post-hoc evaluation of a saved checkpoint (logit adjustment, tuned thresholds) and probability quality."""

import json

import numpy as np
import pandas as pd
import pytest
from typer.testing import CliRunner

from imbrun.calibration import class_ece, probability_quality, reliability
from imbrun.cli import app
from imbrun.config import validate_config
from imbrun.errors import ImbrunError
from imbrun.evaluate import evaluate_posthoc
from imbrun.pipeline import run_experiment
from tests.conftest import tiny_config, write_blobs_csv


def test_reliability_bins_and_ece_by_hand():
    # 0.9 (right) and 0.6 (wrong) fall in different bins: ECE = (|1 - 0.9| + |0 - 0.6|) / 2.
    table = reliability([0, 1], [[0.9, 0.1], [0.6, 0.4]])
    assert table["ece"] == pytest.approx(0.35, abs=1e-12)
    assert sum(table["count"]) == 2 and table["count"][13] == 1 and table["count"][8] == 1
    assert table["accuracy"][13] == 1.0 and table["accuracy"][8] == 0.0 and table["accuracy"][0] is None
    # Confidence exactly on an edge (2/15 -> bin 1, the bin (1/15, 2/15]); two rows in one bin average.
    assert reliability([0, 0], [[2 / 15, 13 / 15], [0.9, 0.1]])["count"][12] == 1


def test_probability_quality_one_vs_rest():
    probs = [[0.9, 0.1], [0.6, 0.4], [0.2, 0.8], [0.3, 0.7]]
    quality = probability_quality([0, 1, 1, 0], probs, ["a", "b"])
    # Class b: positives score 0.4, 0.8, negatives 0.1, 0.7; 3 of the 4 (positive, negative) pairs are ordered.
    assert quality["per_class"]["b"]["roc_auc"] == pytest.approx(0.75)
    # Ranked 0.8 (+), 0.7 (-), 0.4 (+): AP = 0.5 * 1 + 0.5 * 2/3.
    assert quality["per_class"]["b"]["pr_auc"] == pytest.approx(0.5 + 1 / 3)
    assert quality["per_class"]["a"]["roc_auc"] == pytest.approx(0.75)
    assert quality["ece"] == pytest.approx((0.1 + 0.6 + 0.2 + 0.7) / 4)  # right, wrong, right, wrong
    absent = probability_quality([0, 0], [[0.7, 0.3], [0.6, 0.4]], ["a", "b"])
    # AUCs are undefined without both classes; the one-vs-rest ECE is not, each row alone in its bin:
    # a: (|1 - 0.7| + |1 - 0.6|) / 2, b: (|0 - 0.3| + |0 - 0.4|) / 2.
    assert absent["per_class"] == {"a": {"roc_auc": None, "pr_auc": None, "ece": pytest.approx(0.35, abs=1e-12)},
                                   "b": {"roc_auc": None, "pr_auc": None, "ece": pytest.approx(0.35, abs=1e-12)}}
    assert absent["macro_roc_auc"] is None


def test_one_vs_rest_ece_per_class_by_hand():
    # Three classes, four rows. Class a: p_a 0.7 and 0.72 share bin (2/3, 11/15], holding one row of a:
    # |1 - 1.42|; 0.5 and 0.1 are alone and not a. ECE_a = (0.42 + 0.5 + 0.1) / 4.
    # Class b: 0.2 and 0.18 (not b) -> 0.38, 0.3 (b) -> 0.7, 0.1 -> 0.1: ECE_b = 1.18 / 4.
    # Class c: the two 0.1 share a bin holding one row of c -> |1 - 0.2|, 0.2 -> 0.2, 0.8 (c) -> 0.2: 1.2 / 4.
    probs = [[0.7, 0.2, 0.1], [0.5, 0.3, 0.2], [0.1, 0.1, 0.8], [0.72, 0.18, 0.1]]
    quality = probability_quality([0, 1, 2, 2], probs, ["a", "b", "c"])
    assert [quality["per_class"][c]["ece"] for c in "abc"] == pytest.approx([0.255, 0.295, 0.3], abs=1e-12)
    assert quality["macro_ece"] == pytest.approx(0.85 / 3, abs=1e-12)
    # The top-label ECE is kept beside it: 0.7 (right) and 0.72 (wrong) share a bin, |0.5 - 0.71| for two rows;
    # 0.5 (wrong) and 0.8 (right) are alone.
    assert quality["ece"] == pytest.approx((2 * 0.21 + 0.5 + 0.2) / 4, abs=1e-12)
    assert class_ece([0, 1, 0], [[0.9, 0.1], [0.6, 0.4], [0.2, 0.8]], 0) == pytest.approx(0.5, abs=1e-12)


@pytest.fixture(scope="module")
def trained_run(tmp_path_factory):
    import torch

    torch.set_num_threads(1)
    root = tmp_path_factory.mktemp("posthoc")
    csv_path = write_blobs_csv(root / "blobs.csv", counts=(60, 15, 8))
    cfg = validate_config(tiny_config(csv_path, train={"epochs": 3, "batch_size": 16, "lr": 0.01}), source="test")
    return run_experiment(cfg, root / "runs")


def read_predictions(folder):
    return pd.read_csv(folder / "predictions.csv").sort_values("row_id").reset_index(drop=True)


def test_logit_adjust_subtracts_the_training_log_prior(trained_run):
    out, metrics, matches = evaluate_posthoc(trained_run.path, "logit_adjust", tau=1.0)
    assert matches is None and out.path.parent == trained_run.path / "eval"
    assert out.path.name.endswith("_posthoc_logit_adjust_tau1") and out.status() == "completed"
    train = json.loads((trained_run.path / "balance.json").read_text())["class_counts"]["train"]
    prior = np.array(list(train.values())) / sum(train.values())  # no sampler or resampler: the split's counts
    assert metrics["posthoc"] == {"kind": "logit_adjust", "tau": 1.0, "prior": dict(zip(train, prior.tolist())),
                                  "prior_source": "balance.json class_counts.train"}
    before, after = read_predictions(trained_run.path), read_predictions(out.path)
    p = before[["prob_c0", "prob_c1", "prob_c2"]].to_numpy() / prior  # p_k / prior_k, renormalised below
    np.testing.assert_allclose(after[["prob_c0", "prob_c1", "prob_c2"]], p / p.sum(1, keepdims=True), atol=2e-5)
    assert (before["true"] == after["true"]).all()
    for name in ("metrics.json", "predictions.csv", "reliability.png", "pr_curves.png", "confusion_matrix.png"):
        assert (out.path / name).is_file()
    assert set(metrics["test"]["probability"]) == {"per_class", "macro_roc_auc", "macro_pr_auc", "ece", "macro_ece"}
    assert set(metrics) >= {"val", "test", "test_fingerprint"}


def test_logit_adjust_with_tau_zero_reproduces_the_run(trained_run):
    out, metrics, _ = evaluate_posthoc(trained_run.path, "logit_adjust", tau=0.0)
    stored = json.loads((trained_run.path / "metrics.json").read_text())
    assert metrics["test"]["confusion_matrix"] == stored["test"]["confusion_matrix"]
    assert metrics["test_fingerprint"] == stored["test_fingerprint"]


def test_threshold_tunes_offsets_on_validation(trained_run):
    from imbrun.balance.posthoc import apply_thresholds

    out, metrics, _ = evaluate_posthoc(trained_run.path, "threshold", metric="balanced_accuracy")
    setting = metrics["posthoc"]
    assert setting["kind"] == "threshold" and setting["metric"] == "balanced_accuracy"
    assert len(setting["offsets"]) == 3 and out.path.name.endswith("_posthoc_threshold_balanced_accuracy")
    before = read_predictions(trained_run.path)
    probs = before[["prob_c0", "prob_c1", "prob_c2"]].to_numpy()
    expected = np.array(["c0", "c1", "c2"])[apply_thresholds(np.maximum(probs, 1e-12), setting["offsets"])]
    assert (read_predictions(out.path)["pred"].to_numpy() == expected).all()


def test_posthoc_errors(trained_run, tmp_path):
    with pytest.raises(ImbrunError) as err:
        evaluate_posthoc(trained_run.path, "smote")
    assert str(err.value) == "--posthoc smote: unknown correction; known: logit_adjust, threshold"
    result = CliRunner().invoke(app, ["evaluate", str(trained_run.path), "--posthoc", "threshold", "--data", "x.csv"])
    assert result.exit_code == 2
    assert result.output.strip() == "error: --posthoc scores the run's own test split; drop --data"


def test_cli_posthoc_writes_its_own_eval_folder(trained_run):
    result = CliRunner().invoke(app, ["evaluate", str(trained_run.path), "--posthoc", "logit_adjust", "--tau", "0.5",
                                      "-q"])
    assert result.exit_code == 0, result.output
    folder = result.stdout.strip().removeprefix("eval: ")
    assert folder.endswith("_posthoc_logit_adjust_tau0.5")
    assert json.loads(open(f"{folder}/metrics.json").read())["posthoc"]["tau"] == 0.5


def test_eval_folders_compare_against_their_run(trained_run):
    from imbrun.compare import CompareOptions, compare_runs, load_summary

    out, _, _ = evaluate_posthoc(trained_run.path, "logit_adjust", tau=2.0)
    result = compare_runs([load_summary(trained_run.path), load_summary(out.path)], CompareOptions(resamples=50))
    assert result["config_differences"]["posthoc.kind"] == [None, "logit_adjust"]
    assert result["config_differences"]["posthoc.tau"] == [None, 2.0]
    assert result["paired"]["mcnemar"][0]["rows"] == 21  # the same test rows: 25% of 83
    assert result["buckets"] is not None  # the training counts come from the run's balance.json


def test_logit_adjust_of_an_oversampled_run_uses_the_resampled_prior(tmp_path):
    import torch

    torch.set_num_threads(1)
    csv_path = write_blobs_csv(tmp_path / "blobs.csv", counts=(60, 15, 8))
    raw = tiny_config(csv_path, train={"epochs": 2, "batch_size": 16, "lr": 0.01},
                      balance={"kind": "oversample", "ratio": 0.5})
    run = run_experiment(validate_config(raw, source="test"), tmp_path / "runs")
    record = json.loads((run.path / "balance.json").read_text())
    original, after = record["class_counts"]["train"], record["resampling"]["train_after"]
    assert list(original.values()) == [33, 8, 4] and list(after.values()) == [33, 17, 17]  # 0.5 * 33, rounded up
    result = CliRunner().invoke(app, ["evaluate", str(run.path), "--posthoc", "logit_adjust", "-q"])
    assert result.exit_code == 0, result.output
    assert result.stderr.strip() == ("note: logit adjustment uses the prior the model was trained on (balance.json "
                                     "resampling.train_after), not the original training counts")
    folder = result.stdout.strip().removeprefix("eval: ")
    setting = json.loads(open(f"{folder}/metrics.json").read())["posthoc"]
    assert setting["prior_source"] == "balance.json resampling.train_after"
    prior = np.array([33, 17, 17]) / 67  # not the original [33, 8, 4] / 45
    assert setting["prior"] == pytest.approx(dict(zip(["c0", "c1", "c2"], prior)), abs=1e-12)
    before, adjusted = read_predictions(run.path), read_predictions(tmp_path / folder)
    p = before[["prob_c0", "prob_c1", "prob_c2"]].to_numpy() / prior
    np.testing.assert_allclose(adjusted[["prob_c0", "prob_c1", "prob_c2"]], p / p.sum(1, keepdims=True), atol=2e-5)


def test_sampler_prior_is_the_expected_class_distribution(tmp_path):
    from imbrun.evaluate import training_prior
    from imbrun.runs import RunDir

    run = RunDir(tmp_path / "run")
    run.path.mkdir()
    run.write_json("balance.json", {"strategy": "weighted_sampler+focal", "parts": [
        {"strategy": "weighted_sampler", "expected_class_distribution": {"a": 0.5, "b": 0.5}},
        {"strategy": "focal"}], "class_counts": {"train": {"a": 90, "b": 10}}})
    prior, source = training_prior(run, ["a", "b"])
    assert prior.tolist() == [0.5, 0.5] and source == "balance.json expected_class_distribution"
    run.write_json("balance.json", {"strategy": "none", "class_counts": {"train": {"a": 90, "b": 0}}})
    with pytest.raises(ImbrunError) as err:
        training_prior(run, ["a", "b"])
    assert str(err.value) == (f"{run.file('balance.json')}: class_counts.train is 0 for class 'b'; logit adjustment "
                              "needs every class in the training prior")


def test_unknown_tune_metric_is_refused_before_loading_anything(tmp_path):
    # The run folder does not even exist: the option is checked first.
    result = CliRunner().invoke(app, ["evaluate", str(tmp_path / "nowhere"), "--posthoc", "threshold",
                                      "--tune-metric", "bogus"])
    assert result.exit_code == 2
    assert result.output.strip() == ("error: --tune-metric bogus: unknown metric; known: macro_f1, balanced_accuracy, "
                                     "gmean")


def test_posthoc_on_a_run_with_its_own_offsets_says_it_stacks(tmp_path, no_figures):
    csv_path = write_blobs_csv(tmp_path / "blobs.csv", counts=(60, 15, 8))
    raw = tiny_config(csv_path, train={"epochs": 2, "batch_size": 16, "lr": 0.01}, balance={"kind": "threshold"})
    run = run_experiment(validate_config(raw, source="test"), tmp_path / "runs")
    result = CliRunner().invoke(app, ["evaluate", str(run.path), "--posthoc", "logit_adjust", "-q"])
    assert result.exit_code == 0, result.output
    assert result.stderr.strip() == ("note: --posthoc logit_adjust is applied on top of the run's own post-hoc offsets "
                                     "(threshold or logit_adjust posthoc), which the run already applies")
    folder = result.stdout.strip().removeprefix("eval: ")
    assert json.loads(open(f"{folder}/metrics.json").read())["posthoc"]["on_top_of"].startswith("the run's own")
    plain = CliRunner().invoke(app, ["evaluate", str(run.path), "--posthoc", "threshold", "-q"])
    assert plain.exit_code == 0 and "on top of" in plain.stderr
