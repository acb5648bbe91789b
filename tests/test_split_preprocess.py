"""Stratified splitting on a seeded 30-row table; imputation and normalisation fitted on hand-written arrays."""

import io

import numpy as np
import pytest

from imbrun.config.train import PreprocessConfig, SplitConfig
from imbrun.data.base import LoadedData
from imbrun.data.split import split_data
from imbrun.errors import ImbrunError
from imbrun.preprocess import Preprocessor

NAN = np.nan
CLASSES = ["a", "b", "c"]


def table(y, test: LoadedData | None = None, n_groups: int | None = None) -> LoadedData:
    """Row i has features (2i, 2i+1) and row id 100 + i, so every part can be traced back to its source row.

    With `n_groups`, row i belongs to group f"g{i % n_groups}" (what `split.group_by` produces), which makes
    the split keep whole groups together.
    """
    y = np.asarray(y, dtype=np.int64)
    X = np.arange(2 * len(y), dtype=np.float32).reshape(len(y), 2)
    groups = None if n_groups is None else np.array([f"g{i % n_groups}" for i in range(len(y))])
    return LoadedData(X=X, y=y, class_names=CLASSES, row_ids=np.arange(len(y), dtype=np.int64) + 100,
                      groups=groups, test=test)


Y30 = [0] * 15 + [1] * 10 + [2] * 5


def counts(part) -> list[int]:
    return np.bincount(part.y, minlength=3).tolist()


# ---- split --------------------------------------------------------------------------------------------

def test_stratified_sizes_and_class_counts():
    splits = split_data(table(Y30), SplitConfig(), seed=0)
    # test: ceil(0.2 * 30) = 6 rows in class proportion 15:10:5; val: 0.1 / 0.8 of the remaining 24 = 3 rows
    assert (len(splits.train), len(splits.val), len(splits.test)) == (21, 3, 6)
    assert (counts(splits.train), counts(splits.val), counts(splits.test)) == ([11, 7, 3], [1, 1, 1], [3, 2, 1])
    assert splits.class_names == CLASSES


def test_parts_cover_every_row_once_and_carry_their_features_and_groups():
    data = table(Y30, n_groups=15)
    splits = split_data(data, SplitConfig(), seed=0)
    ids = np.concatenate([splits.train.row_ids, splits.val.row_ids, splits.test.row_ids])
    assert sorted(ids.tolist()) == list(range(100, 130))
    for part in (splits.train, splits.val, splits.test):
        source = part.row_ids - 100
        np.testing.assert_array_equal(part.X, data.X[source])
        np.testing.assert_array_equal(part.y, data.y[source])
        np.testing.assert_array_equal(part.groups, data.groups[source])
    assert splits.train.row_ids.tolist() == sorted(splits.train.row_ids.tolist())


def test_same_seed_same_rows_other_seed_other_rows():
    first = split_data(table(Y30), SplitConfig(), seed=0)
    again = split_data(table(Y30), SplitConfig(), seed=0)
    other = split_data(table(Y30), SplitConfig(), seed=1)
    for name in ("train", "val", "test"):
        np.testing.assert_array_equal(getattr(first, name).row_ids, getattr(again, name).row_ids)
    assert sorted(first.test.row_ids.tolist()) != sorted(other.test.row_ids.tolist())
    assert first.train.row_ids.tolist() != other.train.row_ids.tolist()


def test_split_seed_overrides_the_experiment_seed():
    pinned = split_data(table(Y30), SplitConfig(seed=1), seed=0)
    plain = split_data(table(Y30), SplitConfig(), seed=1)
    np.testing.assert_array_equal(pinned.test.row_ids, plain.test.row_ids)
    np.testing.assert_array_equal(pinned.train.row_ids, plain.train.row_ids)


def test_class_with_a_single_row_cannot_be_stratified():
    with pytest.raises(ImbrunError) as info:
        split_data(table([0] * 15 + [1] * 14 + [2]), SplitConfig(), seed=0)
    assert str(info.value) == ("split: class 'c' has 1 row to share between the test split and the rest; a "
                               "stratified split needs at least 2 per class (add rows, drop the class, or set "
                               "split.stratify: false)")


def test_single_row_class_is_allowed_without_stratification():
    splits = split_data(table([0] * 15 + [1] * 14 + [2]), SplitConfig(stratify=False), seed=0)
    assert (len(splits.train), len(splits.val), len(splits.test)) == (21, 3, 6)


def test_too_few_rows_for_one_per_class_on_each_side():
    with pytest.raises(ImbrunError) as info:
        split_data(table([0, 0, 1, 1]), SplitConfig(), seed=0)
    assert str(info.value) == ("split: 4 rows cannot be stratified into a test share of 0.2 with 2 classes "
                               "(needs at least one row per class on each side)")


def test_data_with_a_single_class_is_an_error():
    with pytest.raises(ImbrunError) as info:
        split_data(table([1] * 10), SplitConfig(), seed=0)
    assert str(info.value) == "split: the data holds a single class ('b', 10 rows); a classifier needs at least two"


def test_training_split_with_a_single_class_is_an_error():
    with pytest.raises(ImbrunError) as info:  # the only 'a' row lands in the test split
        split_data(table([1] * 10 + [0]), SplitConfig(stratify=False, seed=4), seed=0)
    assert str(info.value) == "split: the training split holds a single class ('b'); a classifier needs at least two"


def test_a_test_file_is_the_test_split_and_the_rest_is_train_and_val():
    test = LoadedData(X=np.full((4, 2), 7, dtype=np.float32), y=np.array([0, 1, 2, 2]), class_names=CLASSES,
                      row_ids=np.arange(4, dtype=np.int64))
    splits = split_data(table(Y30, test=test), SplitConfig(), seed=0)
    # only val_size (0.1) is taken from the 30 training rows: ceil(3.0) = 3
    assert (len(splits.train), len(splits.val), len(splits.test)) == (27, 3, 4)
    assert (counts(splits.train), counts(splits.val)) == ([13, 9, 5], [2, 1, 0])
    assert sorted(np.concatenate([splits.train.row_ids, splits.val.row_ids]).tolist()) == list(range(100, 130))
    np.testing.assert_array_equal(splits.test.X, test.X)
    assert splits.test.y.tolist() == [0, 1, 2, 2] and splits.test.row_ids.tolist() == [0, 1, 2, 3]


def test_groups_of_a_test_file_shared_with_train_or_val_are_warned_about():
    groups = np.array(["g1", "g5", "g9", "g9"])  # g9 is only in the test file
    test = LoadedData(X=np.zeros((4, 2), dtype=np.float32), y=np.array([0, 1, 2, 2]), class_names=CLASSES,
                      row_ids=np.arange(4, dtype=np.int64), groups=groups)
    splits = split_data(table(Y30, test=test, n_groups=6), SplitConfig(val_size=0.34), seed=0)
    assert sorted(set(splits.train.groups)) == ["g1", "g2", "g3", "g4"]
    assert sorted(set(splits.val.groups)) == ["g0", "g5"]
    assert splits.warnings == ["groups ['g1'] appear in both the train split and the test file",
                               "groups ['g5'] appear in both the val split and the test file"]


def test_disjoint_groups_of_a_test_file_give_no_warning():
    test = LoadedData(X=np.zeros((2, 2), dtype=np.float32), y=np.array([0, 1]), class_names=CLASSES,
                      row_ids=np.arange(2, dtype=np.int64), groups=np.array(["t0", "t1"]))
    splits = split_data(table(Y30, test=test, n_groups=6), SplitConfig(val_size=0.34), seed=0)
    assert splits.warnings == []


# ---- normalisation -----------------------------------------------------------------------------------

# column 0: mean 2, std 2, min 0, max 4; column 1: mean 20, std 10, min 10, max 30
TRAIN = np.array([[0, 10], [0, 30], [4, 10], [4, 30]], dtype=np.float32)
OTHER = np.array([[6, 0], [1, 20]], dtype=np.float32)


def fitted(impute="mean", kind="none", **normalize) -> Preprocessor:
    cfg = PreprocessConfig(impute=impute, normalize={"kind": kind, **normalize})
    return Preprocessor(cfg).fit(TRAIN)


def test_standard_uses_training_mean_and_population_std():
    pre = fitted(kind="standard")
    np.testing.assert_array_equal(pre.transform(TRAIN), [[-1, -1], [-1, 1], [1, -1], [1, 1]])
    np.testing.assert_array_equal(pre.transform(OTHER), [[2, -2], [-0.5, 0]])
    assert pre.transform(OTHER).dtype == np.float32


def test_minmax_uses_training_range():
    pre = fitted(kind="minmax")
    np.testing.assert_array_equal(pre.transform(TRAIN), [[0, 0], [0, 1], [1, 0], [1, 1]])
    np.testing.assert_array_equal(pre.transform(OTHER), [[1.5, -0.5], [0.25, 0.5]])


def test_standard_global_uses_one_mean_and_std_for_all_features():
    # all eight values: mean 11, population std sqrt((121 + 49 + 1 + 361) * 2 / 8) = sqrt(133)
    pre = fitted(kind="standard", per="global")
    expected = (OTHER - 11.0) / np.sqrt(133.0)
    np.testing.assert_allclose(pre.transform(OTHER), expected, rtol=1e-6)


def test_none_leaves_values_unchanged():
    np.testing.assert_array_equal(fitted(kind="none").transform(OTHER), OTHER)


def test_scale_multiplies_by_the_factor():
    pre = Preprocessor(PreprocessConfig(normalize={"kind": "scale", "factor": 0.0625})).fit(np.array([[0, 16]], "f4"))
    np.testing.assert_array_equal(pre.transform(np.array([[0, 16], [8, 4]], "f4")), [[0, 1], [0.5, 0.25]])


def test_scale_with_factor_one_is_the_identity():
    np.testing.assert_array_equal(fitted(kind="scale").transform(OTHER), OTHER)


@pytest.mark.parametrize("kind, shift, scale, expected", [("standard", [5, 2], [1, 2], [2, 0]),
                                                      ("minmax", [5, 0], [1, 4], [2, 0.5])])
def test_constant_column_gets_scale_one(kind, shift, scale, expected):
    X = np.array([[5, 0], [5, 4]], dtype=np.float32)
    pre = Preprocessor(PreprocessConfig(normalize={"kind": kind})).fit(X)
    assert pre.state["shift"].tolist() == shift and pre.state["scale"].tolist() == scale
    np.testing.assert_array_equal(pre.transform(np.array([[7, 2]], "f4")), [expected])


# ---- imputation ------------------------------------------------------------------------------------------

# column 0: values 1, 3, 8 (mean 4, median 3); column 1: values 2, 4, 9 (mean 5, median 4)
HOLES = np.array([[1, NAN], [3, 2], [NAN, 4], [8, 9]], dtype=np.float32)


@pytest.mark.parametrize("impute, fill", [("mean", [4, 5]), ("median", [3, 4]), ("zero", [0, 0])])
def test_impute_fills_from_training_values(impute, fill):
    pre = Preprocessor(PreprocessConfig(impute=impute)).fit(HOLES)
    np.testing.assert_array_equal(pre.transform(np.array([[NAN, NAN], [NAN, 7]], "f4")), [fill, [fill[0], 7]])
    np.testing.assert_array_equal(pre.transform(HOLES), [[1, fill[1]], [3, 2], [fill[0], 4], [8, 9]])


def test_impute_then_standardise_uses_the_filled_training_data():
    # filled column 0: 1, 3, 4, 8 -> mean 4, std sqrt((9 + 1 + 0 + 16) / 4) = sqrt(6.5)
    pre = Preprocessor(PreprocessConfig(impute="mean", normalize={"kind": "standard"})).fit(HOLES)
    np.testing.assert_allclose(pre.state["shift"], [4, 5])
    np.testing.assert_allclose(pre.state["scale"], [np.sqrt(6.5), np.sqrt(6.5)])


@pytest.mark.filterwarnings("ignore:Mean of empty slice:RuntimeWarning")
def test_all_missing_column_falls_back_to_zero():
    pre = Preprocessor(PreprocessConfig(impute="mean")).fit(np.array([[NAN, 1], [NAN, 3]], "f4"))
    np.testing.assert_array_equal(pre.transform(np.array([[NAN, NAN]], "f4")), [[0, 2]])


def test_impute_none_leaves_missing_values_an_error():
    pre = Preprocessor(PreprocessConfig(impute="none")).fit(HOLES)
    with pytest.raises(ImbrunError) as info:
        pre.transform(HOLES, what="train")
    assert str(info.value) == ("preprocess: 2 missing values in the train features (first in row 0); "
                               "set preprocess.impute to mean, median or zero")


def test_missing_values_only_outside_train_are_imputed():
    pre = Preprocessor(PreprocessConfig(impute="mean")).fit(TRAIN)
    np.testing.assert_array_equal(pre.transform(np.array([[NAN, 0]], "f4"), what="test"), [[2, 0]])


# ---- state -------------------------------------------------------------------------------------------

def test_state_round_trips_through_npz():
    cfg = PreprocessConfig(impute="median", normalize={"kind": "minmax"})
    pre = Preprocessor(cfg).fit(HOLES)
    buffer = io.BytesIO()
    np.savez(buffer, **pre.save())
    buffer.seek(0)
    with np.load(buffer, allow_pickle=False) as saved:
        restored = Preprocessor.from_state(cfg, dict(saved))
    assert sorted(restored.state) == ["fill", "scale", "shift"]
    probe = np.array([[NAN, 5], [2, NAN]], dtype=np.float32)
    np.testing.assert_array_equal(restored.transform(probe), pre.transform(probe))
    # median fill (3, 4); min (1, 2); range (7, 7)
    np.testing.assert_allclose(restored.transform(probe), [[2 / 7, 3 / 7], [1 / 7, 2 / 7]], rtol=1e-6)
