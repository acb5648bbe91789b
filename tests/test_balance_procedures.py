"""Procedures: cascade (decomposition, prediction walk, exact on separable data), cRT, thresholds; evaluate re-scores."""

import numpy as np
import pytest
import torch
from torch import nn

from imbrun.balance import TrainJob, build_plan
from imbrun.balance.cascade import CascadeModel, decompose, stage_data
from imbrun.balance.procedures import ClassifierRetraining, last_linear
from imbrun.balance.weights import log_priors
from imbrun.config import validate_config
from imbrun.evaluate import evaluate_run, load_trained
from imbrun.models import build_model
from imbrun.pipeline import run_experiment
from imbrun.runs import RunDir
from imbrun.train import fit
from tests.conftest import tiny_config

torch.set_num_threads(1)
CPU = torch.device("cpu")

pytestmark = pytest.mark.usefixtures("no_figures")  # PNG figures are slow and not what is tested here


@pytest.mark.parametrize("counts, kwargs, groups", [
    ([100, 30, 10, 8], {}, [[0], [1], [2, 3]]),
    ([100, 30, 10, 8], {"ratio": 4.0}, [[0], [1, 2, 3]]),
    ([10, 100, 30, 12], {}, [[1], [0, 2, 3]]),  # 30 / 10 = 3 is within the ratio
    ([100, 90, 10, 8, 7], {"share": 0.3}, [[0, 1], [2, 3, 4]]),
    ([100, 30, 10, 8], {"max_stages": 1}, [[0], [1, 2, 3]]),
    ([100, 5], {}, [[0, 1]]),  # two classes: one ordinary model
    ([100, 90, 80], {"share": 0.1, "ratio": 1.0}, [[0], [1, 2]]),  # the final stage keeps two
])
def test_decompose_splits_off_big_classes_until_balanced(counts, kwargs, groups):
    assert decompose(counts, **kwargs) == groups


def test_stage_data_keeps_later_classes_and_relabels_them():
    X = np.arange(6, dtype=np.float32).reshape(6, 1)
    y = np.array([0, 1, 2, 3, 1, 0])
    X1, y1 = stage_data([[0], [1], [2, 3]], 1, X, y)
    assert X1[:, 0].tolist() == [1, 2, 3, 4] and y1.tolist() == [0, 1, 1, 0]  # class 1 -> 0, classes 2, 3 -> rest
    X2, y2 = stage_data([[0], [1], [2, 3]], 2, X, y)
    assert X2[:, 0].tolist() == [2, 3] and y2.tolist() == [0, 1]


class _Fixed(nn.Module):
    """Returns the same logits for every row: (batch, len(logits))."""

    def __init__(self, logits):
        super().__init__()
        self.logits = torch.tensor(logits)

    def forward(self, x):
        return self.logits.expand(x.shape[0], -1)


def test_cascade_prediction_walks_the_stages_and_sums_to_one():
    # stage 1 splits off class 2 (P = 0.5, rest 0.5); stage 2: class 0 (0.25) vs rest (0.75); final: 1 vs 3 (0.5 each)
    stages = [_Fixed(np.log([0.5, 0.5])), _Fixed(np.log([0.25, 0.75])), _Fixed(np.log([0.5, 0.5]))]
    model = CascadeModel(stages, [[2], [0], [1, 3]], 4)
    probs = torch.softmax(model(torch.zeros(2, 1)), dim=1)
    np.testing.assert_allclose(probs.numpy(), [[0.125, 0.1875, 0.5, 0.1875]] * 2, rtol=1e-6)


def _separable_csv(path, counts=(80, 30, 10, 8), seed=0):
    """Four classes far apart (centres 10 apart, sd 0.5): a perfect classifier exists."""
    rng = np.random.default_rng(seed)
    rows = [f"{a:.4f},{b:.4f},c{k}" for k, n in enumerate(counts)
            for a, b in rng.normal([10.0 * (k % 2), 10.0 * (k // 2)], 0.5, size=(n, 2))]
    path.write_text("x,y,label\n" + "\n".join(rows[i] for i in rng.permutation(len(rows))) + "\n")
    return path


def _run(tmp_path, balance, csv=None, **train):
    csv = csv or _separable_csv(tmp_path / "sep.csv")
    cfg = validate_config(tiny_config(csv, balance=balance, train={"epochs": 30, "batch_size": 16, "lr": 0.02,
                                                                   **train}))
    return RunDir(run_experiment(cfg, runs_dir=tmp_path / "runs").path)


def test_cascade_is_exact_on_separable_data_and_evaluate_rescores_it_identically(tmp_path):
    run = _run(tmp_path, {"kind": "cascade"})
    metrics, record = run.read_json("metrics.json"), run.read_json("balance.json")
    assert record["cascade"]["groups"] == [["c0"], ["c1"], ["c2", "c3"]]
    assert [s["train_counts"] for s in record["cascade"]["stages"]] == [
        {"c0": 44, "(rest)": 26}, {"c1": 16, "(rest)": 10}, {"c2": 6, "c3": 4}]
    cm = np.array(metrics["test"]["confusion_matrix"])
    assert np.array_equal(cm, np.diag([20, 8, 2, 2]))  # every test row right
    assert [s["test"]["overall"]["accuracy"] for s in record["cascade_stage_metrics"]] == [1.0, 1.0, 1.0]
    assert run.read_json("model.json")["predictor"]["procedure"] == {"kind": "cascade",
                                                                     "groups": [[0], [1], [2, 3]]}
    state = torch.load(run.file("model.pt"), weights_only=True)
    assert sorted({key.split(".")[1] for key in state}) == ["0", "1", "2"]  # stages.<j>.…
    _, rescored, matches = evaluate_run(run.path)
    assert matches is True and rescored["test"]["confusion_matrix"] == metrics["test"]["confusion_matrix"]


def test_threshold_offsets_are_stored_and_evaluate_applies_them(tmp_path):
    run = _run(tmp_path, {"kind": "threshold", "metric": "balanced_accuracy"}, epochs=2)
    offsets = run.read_json("balance.json")["threshold"]["offsets"]
    assert run.read_json("model.json")["predictor"]["adjust"] == {"kind": "offsets", "on_log_probs": True}
    _, model, _, _ = load_trained(run, CPU)
    assert model.offsets.tolist() == list(offsets.values())
    assert any(v != 0 for v in offsets.values())  # two epochs leave the small classes under-predicted
    _, rescored, matches = evaluate_run(run.path)
    assert matches is True
    assert rescored["test"]["overall"] == run.read_json("metrics.json")["test"]["overall"]


def test_posthoc_logit_adjustment_subtracts_tau_log_prior_at_prediction(tmp_path):
    run = _run(tmp_path, {"kind": "logit_adjust", "tau": 0.5, "posthoc": True}, epochs=2)
    train_counts = list(run.read_json("balance.json")["class_counts"]["train"].values())
    _, model, _, _ = load_trained(run, CPU)
    np.testing.assert_allclose(model.offsets.numpy(), -0.5 * log_priors(train_counts), rtol=1e-6)
    assert evaluate_run(run.path)[2] is True


def test_crt_second_phase_changes_only_the_head_weights():
    rng = np.random.default_rng(0)
    y = np.repeat([0, 1, 2], [30, 8, 5])
    X = (rng.normal(size=(len(y), 4)) + y[:, None]).astype(np.float32)
    cfg = validate_config({"data": {"kind": "csv", "path": "x.csv"}, "model": {"kind": "dense", "hidden": [8]},
                           "balance": {"kind": "crt", "epochs": 3}, "train": {"epochs": 2, "batch_size": 8}})
    torch.manual_seed(0)
    plan = build_plan(cfg.balance, y, ["a", "b", "c"], X)
    model = build_model(cfg.model, (4,), 3)
    job = TrainJob(model, None, (X, y), (X[:9], y[:9]), cfg.train, 0, CPU)
    fit(model, job.train, job.val, plan.loss, cfg.train, seed=0, device=CPU)  # phase 1
    before = {k: v.clone() for k, v in model.state_dict().items()}
    result = plan.procedure.retrain_head(model, job, plan.loss)  # phase 2
    after = model.state_dict()
    head = {f"net.{len(model.net) - 1}.weight", f"net.{len(model.net) - 1}.bias"}
    assert last_linear(model) is model.net[-1]
    assert {k for k in before if not torch.equal(before[k], after[k])} == head
    assert len(result.history) == 3
    assert isinstance(plan.procedure, ClassifierRetraining)
    assert [sum(epoch) for epoch in plan.procedure.sampler.drawn] == [43, 43, 43]  # class-balanced draws


def test_crt_history_runs_on_across_both_phases(tmp_path):
    run = _run(tmp_path, {"kind": "crt", "epochs": 2}, epochs=3)
    history = __import__("pandas").read_csv(run.file("history.csv"))
    assert history["epoch"].tolist() == [1, 2, 3, 4, 5] and history["phase"].tolist() == [1, 1, 1, 2, 2]
    assert evaluate_run(run.path)[2] is True
