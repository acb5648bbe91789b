"""Array strategies: exact counts, the training split only, sequences reshaped back, one-line small-class errors."""

import numpy as np
import pytest

from imbrun.balance import build_plan
from imbrun.balance.resample import resample_arrays, target_counts
from imbrun.config import validate_config
from imbrun.errors import ImbrunError

NAMES = ["a", "b", "c"]


def _balance(**section):
    return validate_config({"data": {"kind": "csv", "path": "x.csv"}, "balance": section}).balance


def _arrays(shape=(4,), counts=(20, 8, 6), seed=0):
    rng = np.random.default_rng(seed)
    y = np.repeat(np.arange(len(counts)), counts)
    X = (rng.normal(size=(len(y), *shape)) + 3.0 * y.reshape(-1, *[1] * len(shape))).astype(np.float32)
    return X, y


@pytest.mark.parametrize("section, expected", [
    ({"kind": "oversample"}, [20, 20, 20]),
    ({"kind": "oversample", "ratio": 0.5}, [20, 10, 10]),
    ({"kind": "oversample", "counts": {"c": 9, 1: 8}}, [20, 8, 9]),
    ({"kind": "undersample"}, [6, 6, 6]),
    ({"kind": "undersample", "ratio": 0.5}, [12, 8, 6]),
    ({"kind": "undersample", "counts": {"a": 10}}, [10, 8, 6]),
    ({"kind": "smote", "k_neighbors": 3}, [20, 20, 20]),
    ({"kind": "borderline_smote", "k_neighbors": 3, "counts": {"b": 8, "c": 6}}, [20, 8, 6]),
])
def test_counts_after_resampling_are_exact(section, expected):
    X, y = _arrays()
    X_new, y_new, record = resample_arrays(_balance(**section), X, y, NAMES, seed=0)
    assert np.bincount(y_new).tolist() == expected
    assert record["train_before"] == {"a": 20, "b": 8, "c": 6}
    assert record["train_after"] == dict(zip(NAMES, expected))
    assert X_new.dtype == np.float32 and X_new.shape == (sum(expected), 4)


def test_target_counts_from_ratio():
    counts = np.array([40, 12, 6])
    assert target_counts(_balance(kind="oversample", ratio=0.5), counts, NAMES) == {1: 20, 2: 20}
    assert target_counts(_balance(kind="undersample", ratio=0.5), counts, NAMES) == {0: 12}


def test_oversampling_keeps_every_original_row_and_adds_only_copies():
    X, y = _arrays()
    X_new, y_new, _ = resample_arrays(_balance(kind="oversample"), X, y, NAMES, seed=0)
    np.testing.assert_array_equal(X_new[:len(X)], X)  # originals first, unchanged
    originals = {row.tobytes(): label for row, label in zip(X, y)}
    assert all(originals[row.tobytes()] == label for row, label in zip(X_new[len(X):], y_new[len(X):]))


def test_sequences_are_flattened_for_the_sampler_and_reshaped_back_exactly():
    X, y = _arrays(shape=(5, 2))
    flat_X = X.reshape(len(X), -1)
    X_seq, y_seq, _ = resample_arrays(_balance(kind="smote", k_neighbors=2), X, y, NAMES, seed=3)
    X_flat, y_flat, _ = resample_arrays(_balance(kind="smote", k_neighbors=2), flat_X, y, NAMES, seed=3)
    assert X_seq.shape == (60, 5, 2)
    np.testing.assert_array_equal(X_seq.reshape(60, -1), X_flat)  # the same rows as the flat table
    np.testing.assert_array_equal(y_seq, y_flat)
    np.testing.assert_array_equal(X_seq[:len(X)], X)


@pytest.mark.parametrize("section, message", [
    ({"kind": "smote"}, "balance.k_neighbors: class 'c' has 4 training rows, too few for smote with k_neighbors=5 "
                        "(needs at least 6); set balance.k_neighbors to 3 or less"),
    ({"kind": "adasyn", "k_neighbors": 4}, "balance.k_neighbors: class 'c' has 4 training rows, too few for adasyn "
                                           "with k_neighbors=4 (needs at least 5); set balance.k_neighbors to 3 or less"),
    ({"kind": "smote_enn", "k_neighbors": 1, "counts": {"d": 5}},
     "balance.k_neighbors: class 'd' has 1 training rows, too few for smote_enn with k_neighbors=1 (needs at "
     "least 2); a single row can only be repeated: use kind oversample"),
    ({"kind": "oversample", "counts": {"a": 3}},
     "balance.counts: class 'a' has 20 training rows and 3 are asked; oversample can only add rows"),
    ({"kind": "undersample", "counts": {"zz": 3}},
     "balance.counts: unknown class name 'zz'; known class names: 'a', 'b', 'c', 'd'"),
])
def test_small_class_and_bad_counts_give_one_clear_line(section, message):
    X, y = _arrays(counts=(20, 8, 4, 1))
    with pytest.raises(ImbrunError) as err:
        resample_arrays(_balance(**section), X, y, NAMES + ["d"], seed=0)
    assert str(err.value) == message


def test_build_plan_resamples_only_the_arrays_it_is_given_and_fits_the_loss_to_them():
    X, y = _arrays()
    X_before, y_before = X.copy(), y.copy()
    cfg = validate_config({"data": {"kind": "csv", "path": "x.csv"},
                           "balance": [{"kind": "undersample"}, {"kind": "class_weight"}]}).balance
    plan = build_plan(cfg, y, NAMES, X, seed=0)
    X_fit, y_fit = plan.train_arrays
    np.testing.assert_array_equal(X, X_before)  # the caller's arrays are never changed in place
    np.testing.assert_array_equal(y, y_before)
    assert np.bincount(y_fit).tolist() == [6, 6, 6]
    assert plan.record["parts"][1]["class_weights"] == {"a": 1.0, "b": 1.0, "c": 1.0}  # fitted after resampling
    assert plan.record["resampling"]["train_after"] == {"a": 6, "b": 6, "c": 6}


def test_tomek_removes_the_majority_row_of_a_link_and_nothing_else():
    X, y = _arrays(counts=(20, 8, 6))
    X[0] = X[30] + 1e-3  # class-a row 0 right beside class-c row 30: a Tomek link
    X_new, y_new, record = resample_arrays(_balance(kind="tomek"), X, y, NAMES, seed=0)
    assert record["train_after"] == {"a": 19, "b": 8, "c": 6}  # 'auto': the minority class c keeps its rows
    np.testing.assert_array_equal(X_new, X[1:])


def test_adasyn_names_a_class_without_other_classes_nearby():
    X, y = _arrays(counts=(20, 8, 6))
    X[y == 1] = X[:8] + 0.01  # class b sits on class a rows: fine for ADASYN
    X[y == 2] += 100.0  # class c far from everything: its neighbours are all class c
    with pytest.raises(ImbrunError) as err:
        resample_arrays(_balance(kind="adasyn", k_neighbors=3), X, y, NAMES, seed=0)
    assert str(err.value) == ("balance adasyn: no row of class 'c' (6 training rows) has another class among its "
                              "k_neighbors=3 nearest, so ADASYN cannot weight them; use smote or borderline_smote")
