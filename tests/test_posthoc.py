"""Post-hoc logit adjustment and per-class decision offsets on hand-built probabilities."""

import math

import numpy as np
import pytest
from sklearn.metrics import balanced_accuracy_score, f1_score

from imbrun.balance.posthoc import (DEFAULT_GRID, apply_thresholds, balanced_accuracy, gmean, logit_adjust,
                                    macro_f1, tune_thresholds)
from imbrun.errors import ImbrunError

# Validation set, 3 classes. Majority classes 0 and 1 each have 2 borderline rows (0.45 vs 0.40) so
# lowering either one's offset costs recall; the minority class 2 has 3 rows whose p_2 = 0.2 loses to
# p_0 = 0.45 with p_1 = 0.35 in between, so only raising class 2 by more than log(0.45 / 0.2) = 0.81 helps.
PROBS = np.array([[0.8, 0.1, 0.1]] * 6 + [[0.45, 0.40, 0.15]] * 2
                 + [[0.1, 0.8, 0.1]] * 6 + [[0.40, 0.45, 0.15]] * 2
                 + [[0.45, 0.35, 0.2]] * 3 + [[0.2, 0.2, 0.6]])
Y = np.array([0] * 8 + [1] * 8 + [2] * 4)


def test_logit_adjust_subtracts_tau_log_prior():
    logits = np.array([[1.0, 2.0], [0.0, -1.0]])
    got = logit_adjust(logits, [75, 25], tau=2.0)
    shift = 2.0 * np.array([math.log(0.75), math.log(0.25)])
    np.testing.assert_allclose(got, logits - shift, rtol=0, atol=1e-15)
    with pytest.raises(ImbrunError) as err:
        logit_adjust(logits, [1, 2, 3])
    assert str(err.value) == "logits must have shape (n, 3) to match the class counts, got (2, 2)"


def test_apply_thresholds_is_argmax_of_log_prob_plus_offset():
    probs = np.array([[0.6, 0.4], [0.9, 0.1], [0.5, 0.5]])
    np.testing.assert_array_equal(apply_thresholds(probs, [0.0, 0.0]), [0, 0, 0])  # tie -> first class
    # log(0.6 / 0.4) = 0.405 < 0.5 < log(0.9 / 0.1) = 2.197
    np.testing.assert_array_equal(apply_thresholds(probs, [0.0, 0.5]), [1, 0, 1])
    assert apply_thresholds(probs, [0.0, 0.5]).dtype == np.int64
    with pytest.raises(ImbrunError) as err:
        apply_thresholds(probs, [0.0, 0.5, 1.0])
    assert str(err.value) == "expected 2 offsets, one per class, got shape (3,)"


def test_metrics_match_hand_values_and_sklearn():
    pred = apply_thresholds(PROBS, np.zeros(3))  # minority rows 16-18 predicted as class 0
    # F1: class 0 = 16/19, class 1 = 1, class 2 = 2*1/(1+4) = 0.4; recalls 1, 1, 0.25
    assert macro_f1(Y, pred, 3) == pytest.approx((16 / 19 + 1 + 0.4) / 3, abs=1e-15)
    assert balanced_accuracy(Y, pred, 3) == pytest.approx(0.75, abs=1e-15)
    assert gmean(Y, pred, 3) == pytest.approx(0.25 ** (1 / 3), abs=1e-15)
    assert macro_f1(Y, pred, 3) == pytest.approx(f1_score(Y, pred, average="macro"), abs=1e-15)
    assert balanced_accuracy(Y, pred, 3) == pytest.approx(balanced_accuracy_score(Y, pred), abs=1e-15)


@pytest.mark.parametrize("metric", ["macro_f1", "balanced_accuracy", "gmean"])
def test_tune_thresholds_raises_the_minority_offset(metric):
    offsets = tune_thresholds(PROBS, Y, metric=metric)
    # smallest grid value above 0.81 is 1.0, the only one that works: 1.25 would flip the borderline
    # majority rows (log 0.15 + 1.25 > log 0.45)
    np.testing.assert_array_equal(offsets, [0.0, 0.0, 1.0])
    np.testing.assert_array_equal(apply_thresholds(PROBS, offsets), Y)
    np.testing.assert_array_equal(tune_thresholds(PROBS, Y, metric=metric), offsets)  # deterministic


def test_tune_thresholds_never_worse_than_zero_offsets():
    rng = np.random.default_rng(0)
    logits = rng.normal(size=(200, 4)) + np.array([1.5, 0.5, 0.0, -1.0])  # (200, 4), skewed to class 0
    probs = np.exp(logits) / np.exp(logits).sum(axis=1, keepdims=True)
    y = rng.choice(4, size=200, p=[0.6, 0.25, 0.1, 0.05])
    for metric, score in [("macro_f1", macro_f1), ("gmean", gmean)]:
        offsets = tune_thresholds(probs, y, metric=metric, sweeps=2)
        baseline = score(y, apply_thresholds(probs, np.zeros(4)), 4)
        assert score(y, apply_thresholds(probs, offsets), 4) >= baseline
        assert set(offsets) <= set(DEFAULT_GRID)


def test_tune_thresholds_prefers_the_smallest_change_among_ties():
    # row 0 is class 1: any offset_1 - offset_0 in (log 1.5, log 9) = (0.41, 2.20) fixes it
    probs = np.array([[0.6, 0.4], [0.9, 0.1]])
    grid = [-2.0, -1.5, -1.0, -0.5, 0.0, 0.5, 1.0, 1.5, 2.0]
    # class 0 is tried first, and -0.5 is its smallest change that fixes row 0 (-1.0 .. -2.0 tie with it)
    np.testing.assert_array_equal(tune_thresholds(probs, np.array([1, 0]), grid=grid), [-0.5, 0.0])


def test_tune_thresholds_keeps_zero_when_nothing_helps():
    probs = np.array([[0.9, 0.1], [0.2, 0.8]])
    np.testing.assert_array_equal(tune_thresholds(probs, np.array([0, 1])), [0.0, 0.0])


def test_tune_thresholds_errors():
    with pytest.raises(ImbrunError) as err:
        tune_thresholds(PROBS, Y, metric="f1")
    assert str(err.value) == "unknown threshold metric 'f1'; known: macro_f1, balanced_accuracy, gmean"
    with pytest.raises(ImbrunError) as err:
        tune_thresholds(PROBS, np.full(20, 3))
    assert str(err.value) == "y_val must be (20,) class codes in 0..2, got shape (20,)"
