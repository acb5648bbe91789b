"""Metrics against a hand-computed 3-class example and against scikit-learn / imbalanced-learn on seeded labels."""

import math
import warnings

import numpy as np
import pytest
from imblearn.metrics import geometric_mean_score
from sklearn.metrics import (balanced_accuracy_score, confusion_matrix, f1_score, matthews_corrcoef,
                             precision_recall_fscore_support)

from imbrun.metrics import confusion, report, summary

# ---- a hand-computed example -------------------------------------------------------------------------

#                 true a (4)   true b (2)  true c (4)
Y_TRUE = np.array([0, 0, 0, 0, 1, 1, 2, 2, 2, 2])
Y_PRED = np.array([0, 0, 1, 1, 1, 2, 2, 2, 2, 0])
# confusion [[2, 2, 0], [0, 1, 1], [1, 0, 3]]: columns sum to 3, 3, 4
# a: precision 2/3, recall 1/2, F1 4/7;  b: 1/3, 1/2, F1 2/5;  c: 3/4, 3/4, F1 3/4


def test_hand_written_report_has_exact_numbers():
    result = report(Y_TRUE, Y_PRED, ["a", "b", "c"])
    assert result["confusion_matrix"] == [[2, 2, 0], [0, 1, 1], [1, 0, 3]]
    assert result["per_class"] == {
        "a": {"precision": 2 / 3, "recall": 0.5, "f1": pytest.approx(4 / 7, abs=1e-15), "support": 4},
        "b": {"precision": 1 / 3, "recall": 0.5, "f1": pytest.approx(2 / 5, abs=1e-15), "support": 2},
        "c": {"precision": 0.75, "recall": 0.75, "f1": 0.75, "support": 4},
    }
    # MCC (Gorodkin): c=6 correct of s=10; t=(4,2,4) true, p=(3,3,4) predicted;
    # (c*s - t.p) / sqrt((s^2 - t.t)(s^2 - p.p)) = (60 - 34) / sqrt(64 * 66)
    assert result["overall"] == pytest.approx({
        "accuracy": 0.6,
        "balanced_accuracy": (0.5 + 0.5 + 0.75) / 3,
        "macro_f1": (4 / 7 + 2 / 5 + 3 / 4) / 3,
        "weighted_f1": (4 * 4 / 7 + 2 * 2 / 5 + 4 * 3 / 4) / 10,
        "mcc": 26 / math.sqrt(64 * 66),
        "gmean": (0.5 * 0.5 * 0.75) ** (1 / 3),
    }, abs=1e-15)


def test_report_values_are_plain_python_numbers():
    result = report(Y_TRUE, Y_PRED, ["a", "b", "c"])
    assert all(type(v) is float for v in result["overall"].values())
    assert all(type(v) is int for row in result["confusion_matrix"] for v in row)
    assert type(result["per_class"]["a"]["support"]) is int and type(result["per_class"]["a"]["f1"]) is float


def test_perfect_predictions():
    assert summary(confusion(Y_TRUE, Y_TRUE, 3)) == {"accuracy": 1.0, "balanced_accuracy": 1.0, "macro_f1": 1.0,
                                                     "weighted_f1": 1.0, "mcc": 1.0, "gmean": 1.0}


def test_constant_prediction_has_zero_mcc_and_zero_gmean():
    overall = summary(confusion(Y_TRUE, np.zeros(10, dtype=int), 3))
    assert overall == pytest.approx({"accuracy": 0.4, "balanced_accuracy": 1 / 3, "macro_f1": (2 * 0.4 / 1.4) / 3,
                                     "weighted_f1": 4 * (0.8 / 1.4) / 10, "mcc": 0.0, "gmean": 0.0}, abs=1e-15)


def test_empty_confusion_gives_zeros():
    assert summary(np.zeros((2, 2), dtype=np.int64)) == {"accuracy": 0.0, "balanced_accuracy": 0.0, "macro_f1": 0.0,
                                                        "weighted_f1": 0.0, "mcc": 0.0, "gmean": 0.0}


# ---- against scikit-learn / imbalanced-learn on seeded labels ------------------------------------------

K = 5


def seeded_labels(seed: int):
    """40 labels over 5 classes where class 3 never occurs in y_true and class 4 is never predicted."""
    rng = np.random.default_rng(seed)
    y_true = rng.choice([0, 1, 2, 4], size=40, p=[0.5, 0.25, 0.15, 0.1])
    y_pred = np.where(rng.random(40) < 0.6, y_true, rng.choice([0, 1, 2, 3], size=40))
    y_pred[y_pred == 4] = 0
    return y_true, y_pred


@pytest.mark.parametrize("seed", range(5))
def test_per_class_and_summary_equal_sklearn(seed):
    y_true, y_pred = seeded_labels(seed)
    assert 3 not in y_true and 3 in y_pred and 4 in y_true and 4 not in y_pred
    result = report(y_true, y_pred, [f"c{k}" for k in range(K)])
    labels = list(range(K))
    np.testing.assert_array_equal(result["confusion_matrix"], confusion_matrix(y_true, y_pred, labels=labels))

    precision, recall, f1, support = precision_recall_fscore_support(y_true, y_pred, labels=labels, zero_division=0)
    for k in range(K):
        row = result["per_class"][f"c{k}"]
        assert row["precision"] == pytest.approx(precision[k], abs=1e-12)
        assert row["recall"] == pytest.approx(recall[k], abs=1e-12)
        assert row["f1"] == pytest.approx(f1[k], abs=1e-12)
        assert row["support"] == support[k]

    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # sklearn warns that y_pred holds a class absent from y_true
        expected = {
            "accuracy": float(np.mean(y_true == y_pred)),
            "balanced_accuracy": balanced_accuracy_score(y_true, y_pred),
            "macro_f1": f1_score(y_true, y_pred, average="macro", labels=labels, zero_division=0),
            "weighted_f1": f1_score(y_true, y_pred, average="weighted", labels=labels, zero_division=0),
            "mcc": matthews_corrcoef(y_true, y_pred),
            "gmean": geometric_mean_score(y_true, y_pred, average="multiclass"),
        }
    assert result["overall"] == pytest.approx(expected, abs=1e-12)
    assert result["overall"]["gmean"] == 0.0  # class 4 is never predicted: its recall is 0


def test_gmean_ignores_a_predicted_class_absent_from_y_true_unlike_imblearn():
    # Every true class has recall > 0; class 3 is predicted once but never true.
    y_true = np.array([0, 0, 0, 1, 1, 2, 2, 2])
    y_pred = np.array([0, 0, 3, 1, 0, 2, 2, 1])
    ours = summary(confusion(y_true, y_pred, 4))["gmean"]
    assert ours == pytest.approx((2 / 3 * 1 / 2 * 2 / 3) ** (1 / 3), abs=1e-15)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        # imbalanced-learn takes classes from y_true AND y_pred, so class 3's 0/0 recall counts as 0 ...
        assert geometric_mean_score(y_true, y_pred, average="multiclass") == 0.0
        # ... and agrees once told the classes are those of y_true
        assert geometric_mean_score(y_true, y_pred, average="multiclass", labels=[0, 1, 2]) == pytest.approx(ours)
        assert summary(confusion(y_true, y_pred, 4))["balanced_accuracy"] == pytest.approx(
            balanced_accuracy_score(y_true, y_pred), abs=1e-15)


def test_confusion_rows_are_true_columns_predicted():
    cm = confusion(np.array([0, 0, 1]), np.array([1, 1, 0]), 3)
    assert cm.tolist() == [[0, 2, 0], [1, 0, 0], [0, 0, 0]]
