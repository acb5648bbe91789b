"""balance.json through real tiny runs: what each strategy computed, by class name, checked against hand values.

The blobs table (40, 12, 6 rows) splits to 22, 6 and 3 training rows of c0, c1, c2 (n = 31) with seed 0.
"""

import math

import pytest

from imbrun.config import validate_config
from imbrun.pipeline import run_experiment
from imbrun.runs import RunDir
from tests.conftest import tiny_config, write_blobs_csv

TRAIN = {"c0": 22, "c1": 6, "c2": 3}
N = sum(TRAIN.values())
K = len(TRAIN)
pytestmark = pytest.mark.usefixtures("no_figures")  # PNG figures are slow and not what is tested here


def _record(tmp_path, balance, epochs: int = 1, **train) -> dict:
    """balance.json of one run of the dense model on the blobs table."""
    csv = write_blobs_csv(tmp_path / "blobs.csv")
    cfg = validate_config(tiny_config(csv, balance=balance,
                                      train={"epochs": epochs, "batch_size": 32, "lr": 0.01, **train}))
    record = RunDir(run_experiment(cfg, runs_dir=tmp_path / "runs").path).read_json("balance.json")
    assert record["class_counts"]["train"] == TRAIN
    return record


def _effective_number(beta: float) -> dict[str, float]:
    """(1 - beta) / (1 - beta**n_k), rescaled to sum K (Cui et al. 2019)."""
    raw = {name: (1 - beta) / (1 - beta ** n) for name, n in TRAIN.items()}
    return {name: w * K / sum(raw.values()) for name, w in raw.items()}


SQRT_SUM = math.sqrt(22) + math.sqrt(6) + math.sqrt(3)
CLASS_WEIGHTS = {
    "inverse": {"c0": 31 / 66, "c1": 31 / 18, "c2": 31 / 9},  # n / (K n_k)
    "sqrt_inverse": {name: N / (math.sqrt(n) * SQRT_SUM) for name, n in TRAIN.items()},
    "effective_number": _effective_number(0.9),
}


@pytest.mark.parametrize("scheme", sorted(CLASS_WEIGHTS))
def test_class_weight_records_its_weights(scheme, tmp_path):
    record = _record(tmp_path, {"kind": "class_weight", "scheme": scheme, "beta": 0.9})
    assert record["strategy"] == "class_weight" and record["scheme"] == scheme
    assert record["class_weights"] == pytest.approx(CLASS_WEIGHTS[scheme], rel=1e-12)


def test_focal_records_alpha_from_class_weights(tmp_path):
    record = _record(tmp_path, {"kind": "focal", "gamma": 1.5, "alpha": "class_weight", "alpha_scheme": "sqrt_inverse"})
    assert record["gamma"] == 1.5
    assert record["alpha"] == pytest.approx(CLASS_WEIGHTS["sqrt_inverse"], rel=1e-12)


def test_focal_records_a_per_class_alpha_by_name(tmp_path):
    record = _record(tmp_path, {"kind": "focal", "alpha": {"c2": 3.0, 0: 0.5}})
    assert record["alpha"] == {"c0": 0.5, "c1": 1.0, "c2": 3.0}


def test_ldam_drw_records_margins_and_deferred_weights(tmp_path):
    record = _record(tmp_path, {"kind": "ldam_drw", "max_m": 0.4, "drw_epoch": 2, "beta": 0.9}, epochs=2)
    # m_k proportional to n_k^(-1/4), the smallest class (3 rows) at max_m
    assert record["margins"] == pytest.approx({name: 0.4 * (3 / n) ** 0.25 for name, n in TRAIN.items()}, rel=1e-12)
    assert record["margins"]["c2"] == pytest.approx(0.4, rel=1e-12)
    assert record["drw_epoch"] == 2
    assert record["drw_class_weights"] == pytest.approx(_effective_number(0.9), rel=1e-6)  # float32 buffer


@pytest.mark.parametrize("posthoc, sign", [(False, 1.0), (True, -1.0)])
def test_logit_adjust_records_its_logit_shift(posthoc, sign, tmp_path):
    record = _record(tmp_path, {"kind": "logit_adjust", "tau": 0.5, "posthoc": posthoc})
    assert record["posthoc"] is posthoc
    assert record["logit_shift"] == pytest.approx({name: sign * 0.5 * math.log(n / N) for name, n in TRAIN.items()},
                                                  rel=1e-12)


def test_balanced_softmax_records_log_counts(tmp_path):
    record = _record(tmp_path, {"kind": "balanced_softmax"})
    assert record["logit_shift"] == pytest.approx({name: math.log(n) for name, n in TRAIN.items()}, rel=1e-12)


def test_weighted_sampler_records_each_epochs_draws_by_class_name(tmp_path):
    record = _record(tmp_path, {"kind": "weighted_sampler", "epoch_size": 90}, epochs=3)
    assert record["expected_class_distribution"] == pytest.approx({"c0": 1 / 3, "c1": 1 / 3, "c2": 1 / 3}, rel=1e-12)
    assert record["sampled_class_counts_per_epoch"] == [  # seed 0's draws
        {"c0": 35, "c1": 30, "c2": 25}, {"c0": 29, "c1": 35, "c2": 26}, {"c0": 29, "c1": 28, "c2": 33}]
    assert [sum(epoch.values()) for epoch in record["sampled_class_counts_per_epoch"]] == [90, 90, 90]


def test_crt_records_the_heads_draws_by_class_name(tmp_path):
    record = _record(tmp_path, {"kind": "crt", "epochs": 2})
    drawn = record["crt"]["head_sampled_class_counts_per_epoch"]
    assert [list(epoch) for epoch in drawn] == [["c0", "c1", "c2"]] * 2
    assert [sum(epoch.values()) for epoch in drawn] == [N, N]


@pytest.mark.parametrize("balance, target", [
    ({"kind": "weighted_sampler"}, {"c0": 1 / 3, "c1": 1 / 3, "c2": 1 / 3}),
    ({"kind": "weighted_sampler", "scheme": "target", "target": {"c0": 5, "c1": 3, "c2": 2}},
     {"c0": 0.5, "c1": 0.3, "c2": 0.2}),
])
def test_realised_class_frequencies_over_epochs_match_the_target(balance, target, tmp_path):
    epochs, epoch_size = 3, 1000
    record = _record(tmp_path, {**balance, "epoch_size": epoch_size}, epochs=epochs, batch_size=100)
    per_epoch = record["sampled_class_counts_per_epoch"]
    assert len(per_epoch) == epochs and all(sum(epoch.values()) == epoch_size for epoch in per_epoch)
    draws = epochs * epoch_size
    for name, share in target.items():
        total = sum(epoch[name] for epoch in per_epoch)
        std = math.sqrt(draws * share * (1 - share))  # binomial standard deviation of the class's total
        # 4 std is ~100 draws here; unweighted shuffling would give c0 22/31 of 3000 = 2129 draws
        assert abs(total - draws * share) <= 4 * std, (name, total, draws * share, std)
