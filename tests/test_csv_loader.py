"""The CSV loader on tiny hand-written files: header, label, features, missing values, one-hot, sequences, errors."""

import hashlib

import numpy as np
import pytest

from imbrun.config.data import CsvData
from imbrun.data import load_data
from imbrun.data.csv import load_csv
from imbrun.errors import ImbrunError

NAN = np.nan
XYZ = "a,b,label\n1,2,x\n3,4,y\n5,6,x\n"


def load(tmp_path, text: str, test: str | None = None, **options):
    """Write `text` (and `test`) to files and load them with the given data options."""
    path = tmp_path / "train.csv"
    path.write_text(text, encoding="utf-8")
    if test is not None:
        (tmp_path / "test.csv").write_text(test, encoding="utf-8")
        options["test_path"] = str(tmp_path / "test.csv")
    return load_csv(CsvData(path=str(path), **options))


def load_error(tmp_path, text: str, test: str | None = None, **options) -> str:
    """The one-line message, with the tmp folder replaced by <dir> so expected strings stay readable."""
    with pytest.raises(ImbrunError) as info:
        load(tmp_path, text, test, **options)
    assert info.value.exit_code == 2
    return str(info.value).replace(str(tmp_path), "<dir>")


def assert_table(data, X, y, class_names, feature_names):
    np.testing.assert_array_equal(data.X, np.array(X, dtype=np.float32))
    assert data.X.dtype == np.float32 and data.y.dtype == np.int64
    assert data.y.tolist() == y
    assert data.class_names == class_names
    assert data.feature_names == feature_names
    np.testing.assert_array_equal(data.row_ids, np.arange(len(y)))


# ---- header and label ------------------------------------------------------------------------------------

def test_header_is_detected_and_label_defaults_to_last_column(tmp_path):
    data = load(tmp_path, XYZ)
    assert_table(data, [[1, 2], [3, 4], [5, 6]], [0, 1, 0], ["x", "y"], ["a", "b"])
    assert data.test is None and data.groups is None


def test_no_header_is_detected_and_columns_are_numbered(tmp_path):
    data = load(tmp_path, "1,2,x\n3,4,y\n5,6,x\n")
    assert_table(data, [[1, 2], [3, 4], [5, 6]], [0, 1, 0], ["x", "y"], ["0", "1"])


def test_explicit_header_true_reads_a_numeric_first_line_as_names(tmp_path):
    data = load(tmp_path, "1,2,0\n3,4,1\n5,6,0\n", header=True)
    assert_table(data, [[3, 4], [5, 6]], [1, 0], ["0", "1"], ["1", "2"])


def test_explicit_header_false_reads_the_first_line_as_data(tmp_path):
    data = load(tmp_path, "7,8,p\n1,2,q\n", header=False)
    assert_table(data, [[7, 8], [1, 2]], [0, 1], ["p", "q"], ["0", "1"])
    assert load_error(tmp_path, XYZ, header=False) == (
        "<dir>/train.csv: row 1, column 0: expected a number, got 'a' "
        "(list the column under data.categorical if it is a category)")


@pytest.mark.parametrize("label", ["a", 0, -3])
def test_label_by_name_positive_index_negative_index(tmp_path, label):
    data = load(tmp_path, "a,b,c\n1,2,0.5\n3,4,1.5\n1,6,2.5\n", label=label)
    assert_table(data, [[2, 0.5], [4, 1.5], [6, 2.5]], [0, 1, 0], ["1", "3"], ["b", "c"])


def test_label_in_the_middle_by_negative_index(tmp_path):
    data = load(tmp_path, "a,b,c\n1,p,2\n3,q,4\n", label=-2)
    assert_table(data, [[1, 2], [3, 4]], [0, 1], ["p", "q"], ["a", "c"])


def test_string_labels_become_sorted_class_names(tmp_path):
    data = load(tmp_path, "f,label\n1,dog\n2,cat\n3,emu\n4,cat\n")
    assert data.class_names == ["cat", "dog", "emu"]
    assert data.y.tolist() == [1, 0, 2, 0]


def test_numeric_labels_sort_numerically_not_as_text(tmp_path):
    data = load(tmp_path, "f,label\n1,10\n2,2\n3,1\n4,2\n5,-1\n")
    assert data.class_names == ["-1", "1", "2", "10"]
    assert data.y.tolist() == [3, 2, 1, 2, 0]


def test_loader_is_registered_for_kind_csv(tmp_path):
    (tmp_path / "t.csv").write_text(XYZ)
    data = load_data(CsvData(path=str(tmp_path / "t.csv")))
    assert data.class_names == ["x", "y"]


# ---- feature selection and missing values --------------------------------------------------------------

def test_features_select_and_order_columns_by_name_or_index(tmp_path):
    data = load(tmp_path, "id,a,b,c,y\n1,1,2,3,p\n2,4,5,6,q\n", features=["c", 1])
    assert_table(data, [[3, 1], [6, 4]], [0, 1], ["p", "q"], ["c", "a"])


def test_drop_removes_columns_by_name_or_index(tmp_path):
    data = load(tmp_path, "id,a,b,c,y\n1,1,2,3,p\n2,4,5,6,q\n", drop=["id", 2])
    assert_table(data, [[1, 3], [4, 6]], [0, 1], ["p", "q"], ["a", "c"])


def test_label_listed_in_features_is_rejected(tmp_path):
    assert load_error(tmp_path, "id,a,y\n1,1,p\n2,4,q\n", features=["y", "a"]).startswith(
        "<dir>/train.csv: feature column 'y' is the label")


def test_missing_values_empty_question_mark_nan_become_nan(tmp_path):
    data = load(tmp_path, "a,b,c\n1,,0\n?,4,1\nNaN,6,0\nNA,nan,1\n")
    assert_table(data, [[1, NAN], [NAN, 4], [NAN, 6], [NAN, NAN]], [0, 1, 0, 1], ["0", "1"], ["a", "b"])


def test_custom_missing_markers_replace_the_defaults(tmp_path):
    data = load(tmp_path, "a,b,c\n-999,2,0\n3,4,1\n", missing=["-999"])
    assert_table(data, [[NAN, 2], [3, 4]], [0, 1], ["0", "1"], ["a", "b"])
    assert load_error(tmp_path, "a,b,c\n-999,2,0\n3,?,1\n", missing=["-999"]) == (
        "<dir>/train.csv: row 2, column 'b': expected a number, got '?' "
        "(list the column under data.categorical if it is a category)")


# ---- categorical columns -----------------------------------------------------------------------------

COLORS = "size,color,w,label\n1,red,0.5,a\n2,blue,1.5,b\n3,red,2.5,a\n4,green,?,b\n"


def test_auto_categorical_one_hot_in_place_with_sorted_categories(tmp_path):
    data = load(tmp_path, COLORS)
    assert_table(data, [[1, 0, 0, 1, 0.5], [2, 1, 0, 0, 1.5], [3, 0, 0, 1, 2.5], [4, 0, 1, 0, NAN]],
                 [0, 1, 0, 1], ["a", "b"], ["size", "color=blue", "color=green", "color=red", "w"])


def test_explicit_categorical_by_name_and_index_also_encodes_numbers(tmp_path):
    data = load(tmp_path, COLORS, categorical=["size", 1])
    assert data.feature_names == ["size=1", "size=2", "size=3", "size=4",
                                  "color=blue", "color=green", "color=red", "w"]
    np.testing.assert_array_equal(data.X, np.array([[1, 0, 0, 0, 0, 0, 1, 0.5], [0, 1, 0, 0, 1, 0, 0, 1.5],
                                                    [0, 0, 1, 0, 0, 0, 1, 2.5], [0, 0, 0, 1, 0, 1, 0, NAN]],
                                                   dtype=np.float32))


def test_missing_category_is_an_all_zero_one_hot_row(tmp_path):
    data = load(tmp_path, "size,color,label\n1,red,a\n2,,b\n3,blue,a\n", categorical=["color"])
    assert_table(data, [[1, 0, 1], [2, 0, 0], [3, 1, 0]], [0, 1, 0], ["a", "b"], ["size", "color=blue", "color=red"])


# ---- sequences ------------------------------------------------------------------------------------------

SIX = "x0,x1,x2,x3,x4,x5,y\n0,1,2,3,4,5,a\n10,11,12,13,14,15,b\n"


def test_sequence_channel_major_reads_each_channel_as_a_block(tmp_path):
    data = load(tmp_path, SIX, sequence={"channels": 2})
    # columns are c0t0 c0t1 c0t2 c1t0 c1t1 c1t2 -> X[n, t, c]
    np.testing.assert_array_equal(data.X, np.array([[[0, 3], [1, 4], [2, 5]], [[10, 13], [11, 14], [12, 15]]],
                                                   dtype=np.float32))
    assert data.X.shape == (2, 3, 2) and data.X.flags["C_CONTIGUOUS"]


def test_sequence_time_major_reads_channels_interleaved(tmp_path):
    data = load(tmp_path, SIX, sequence={"channels": 2, "layout": "time_major"})
    # columns are t0c0 t0c1 t1c0 t1c1 t2c0 t2c1
    np.testing.assert_array_equal(data.X, np.array([[[0, 1], [2, 3], [4, 5]], [[10, 11], [12, 13], [14, 15]]],
                                                   dtype=np.float32))


def test_sequence_with_one_channel_is_a_column_vector(tmp_path):
    data = load(tmp_path, "a,b,c,y\n1,2,3,p\n4,5,6,q\n", sequence={"channels": 1})
    np.testing.assert_array_equal(data.X, np.array([[[1], [2], [3]], [[4], [5], [6]]], dtype=np.float32))


def test_sequence_width_not_divisible_by_channels(tmp_path):
    assert load_error(tmp_path, SIX, sequence={"channels": 4}) == (
        "<dir>/train.csv: 6 feature columns cannot be split into 4 channels")


# ---- separate test file ---------------------------------------------------------------------------------

TRAIN3 = "size,color,w,label\n1,red,0.5,a\n2,blue,1.5,b\n3,red,2.5,a\n"


def test_test_file_reuses_training_classes_and_categories(tmp_path):
    data = load(tmp_path, TRAIN3, test="size,color,w,label\n7,green,1,b\n8,blue,2,a\n9,red,3,b\n")
    assert data.feature_names == ["size", "color=blue", "color=red", "w"]
    test = data.test
    # 'green' never occurs in training: an all-zero one-hot row, not a new column
    assert_table(test, [[7, 0, 0, 1], [8, 1, 0, 2], [9, 0, 1, 3]], [1, 0, 1], ["a", "b"],
                 ["size", "color=blue", "color=red", "w"])


def test_unseen_test_categories_are_noted_per_column(tmp_path):
    data = load(tmp_path, TRAIN3, test="size,color,w,label\n7,green,1,b\n8,pink,2,a\n9,,3,b\n10,green,4,a\n")
    assert data.categories == {"color": ["blue", "red"]} and data.notes == {}
    assert data.test.categories == {"color": ["blue", "red"]}
    assert data.test.notes == {"unseen_categories": {"color": ["green", "pink"]}}  # a missing value is no category


def test_saved_categories_encode_another_file_into_the_training_columns(tmp_path):
    trained = load(tmp_path, "x,color,label\n1,blue,a\n2,green,b\n3,red,a\n")
    assert trained.categories == {"color": ["blue", "green", "red"]}
    (tmp_path / "other.csv").write_text("x,color,label\n4,green,a\n5,yellow,b\n6,red,a\n")
    other = load_data(CsvData(path=str(tmp_path / "other.csv")), categories=trained.categories)
    assert_table(other, [[4, 0, 1, 0], [5, 0, 0, 0], [6, 0, 0, 1]], [0, 1, 0], ["a", "b"],
                 ["x", "color=blue", "color=green", "color=red"])
    assert other.notes == {"unseen_categories": {"color": ["yellow"]}}
    # without them the other file would get its own columns: green, red, yellow
    assert load_data(CsvData(path=str(tmp_path / "other.csv"))).feature_names == \
        ["x", "color=green", "color=red", "color=yellow"]


def test_saved_categories_without_a_column_keep_it_numeric(tmp_path):
    (tmp_path / "other.csv").write_text("x,color,label\n4,green,a\n")
    with pytest.raises(ImbrunError) as info:  # trained without categorical columns: text is not a new category
        load_data(CsvData(path=str(tmp_path / "other.csv")), categories={})
    assert str(info.value) == (f"{tmp_path / 'other.csv'}: row 1, column 'color': expected a number, got 'green' "
                               f"(list the column under data.categorical if it is a category)")


def test_test_file_with_a_subset_of_classes_keeps_training_codes(tmp_path):
    data = load(tmp_path, "f,label\n1,a\n2,b\n3,c\n", test="f,label\n4,c\n5,c\n")
    assert data.test.class_names == ["a", "b", "c"] and data.test.y.tolist() == [2, 2]


def test_headerless_test_file_takes_the_training_column_names(tmp_path):
    data = load(tmp_path, TRAIN3, test="9,green,1,b\n")
    assert_table(data.test, [[9, 0, 0, 1]], [1], ["a", "b"], ["size", "color=blue", "color=red", "w"])


@pytest.mark.filterwarnings("error::pandas.errors.Pandas4Warning")
def test_unseen_test_category_needs_no_deprecated_pandas_behaviour(tmp_path):
    data = load(tmp_path, TRAIN3, test="size,color,w,label\n7,green,1,b\n")
    np.testing.assert_array_equal(data.test.X, np.array([[7, 0, 0, 1]], dtype=np.float32))


def test_test_labels_unseen_in_training_are_an_error(tmp_path):
    assert load_error(tmp_path, TRAIN3, test="size,color,w,label\n7,red,1,c\n8,blue,2,d\n9,red,2,a\n") == (
        "<dir>/test.csv: labels ['c', 'd'] never appear in the training data (classes: ['a', 'b'])")


def test_test_file_with_different_columns_is_an_error(tmp_path):
    assert load_error(tmp_path, TRAIN3, test="size,color,label\n7,green,b\n") == (
        "<dir>/test.csv: columns differ from the training file (3 vs 4 columns)")


def test_text_in_a_numeric_column_of_the_test_file_is_an_error(tmp_path):
    assert load_error(tmp_path, TRAIN3, test="size,color,w,label\n7,red,x,b\n8,blue,z,a\n") == (
        "<dir>/test.csv: row 1, column 'w': expected a number, got 'x' "
        "(list the column under data.categorical if it is a category)")


def test_sources_record_size_and_sha256_of_each_file(tmp_path):
    data = load(tmp_path, TRAIN3, test="size,color,w,label\n7,green,1,b\n")
    expected = []
    for name in ("train.csv", "test.csv"):
        content = (tmp_path / name).read_bytes()
        expected.append({"path": str(tmp_path / name), "bytes": len(content),
                         "sha256": hashlib.sha256(content).hexdigest()})
    assert data.sources == expected


# ---- other separators -----------------------------------------------------------------------------------

def test_whitespace_separated_with_indented_header_like_uci_yeast(tmp_path):
    text = ("    Sequence_Name   mcg gvh class\n"
            "    ADT1_YEAST  0.58  0.61  MIT\n"
            "    ADT2_YEAST  0.43  0.67  MIT\n"
            "    ADT3_YEAST  0.64  0.62  NUC\n")
    data = load(tmp_path, text, sep="\\s+", drop=["Sequence_Name"])
    assert_table(data, [[0.58, 0.61], [0.43, 0.67], [0.64, 0.62]], [0, 0, 1], ["MIT", "NUC"], ["mcg", "gvh"])


def test_whitespace_separated_without_header(tmp_path):
    data = load(tmp_path, "  AA  0.5  0.25  MIT\n  BB  0.75  0.0  CYT\n", sep="\\s+", drop=[0])
    assert_table(data, [[0.5, 0.25], [0.75, 0.0]], [1, 0], ["CYT", "MIT"], ["1", "2"])


def test_semicolon_and_tab_separators(tmp_path):
    assert_table(load(tmp_path, "a;b;y\n1;2;p\n3;4;q\n", sep=";"), [[1, 2], [3, 4]], [0, 1], ["p", "q"], ["a", "b"])
    assert_table(load(tmp_path, "a\tb\ty\n1\t2\tp\n3\t4\tq\n", sep="\t"), [[1, 2], [3, 4]], [0, 1], ["p", "q"],
                 ["a", "b"])


# ---- errors ------------------------------------------------------------------------------------------

def test_missing_file(tmp_path):
    with pytest.raises(ImbrunError) as info:
        load_csv(CsvData(path=str(tmp_path / "none.csv")))
    assert str(info.value) == f"{tmp_path / 'none.csv'}: data file not found"


@pytest.mark.parametrize("text", ["", "\n\n"])
def test_empty_file(tmp_path, text):
    assert load_error(tmp_path, text) == "<dir>/train.csv: the file is empty"


def test_header_only(tmp_path):
    assert load_error(tmp_path, "a,b,label\n") == "<dir>/train.csv: no data rows (only a header)"


def test_row_with_too_many_fields_names_the_line(tmp_path):
    assert load_error(tmp_path, "a,b,c\n1,2,0\n3,4,1\n5,6,7,8\n") == (
        "<dir>/train.csv: ragged rows: Expected 3 fields in line 4, saw 4")


def test_ragged_whitespace_separated_row_names_the_line(tmp_path):
    assert load_error(tmp_path, "a b c\n1 2 0\n3 4 1\n5 6 7 8\n", sep="\\s+") == (
        "<dir>/train.csv: ragged rows: Expected 3 fields in line 4, saw 4")


def test_row_with_too_few_fields_names_the_line(tmp_path):
    assert load_error(tmp_path, "a,b,c\n1,2,0\n4,1\n5,6,1\n", label=0).startswith(
        "<dir>/train.csv: ragged rows: Expected 3 fields in line 3, saw 2")


def test_first_data_row_with_too_many_fields_names_the_line(tmp_path):
    assert load_error(tmp_path, "a,b,c\n1,2,3,0\n3,4,1\n").startswith(
        "<dir>/train.csv: ragged rows: Expected 3 fields in line 2, saw 4")


def test_text_in_a_numeric_column_names_row_and_column(tmp_path):
    assert load_error(tmp_path, "a,b,c\n1,2,0\n3,x,1\n5,6,1\n") == (
        "<dir>/train.csv: row 2, column 'b': expected a number, got 'x' "
        "(list the column under data.categorical if it is a category)")


def test_label_column_not_found_lists_the_columns(tmp_path):
    assert load_error(tmp_path, XYZ, label="lable") == (
        "<dir>/train.csv: label column 'lable' not found; columns are: a, b, label")


def test_long_column_list_is_shortened(tmp_path):
    header = ",".join(f"c{i}" for i in range(25))
    row = ",".join(["1"] * 25)
    assert load_error(tmp_path, f"{header}\n{row}\n", label="y") == (
        "<dir>/train.csv: label column 'y' not found; columns are: "
        + ", ".join(f"c{i}" for i in range(20)) + ", ...")


@pytest.mark.parametrize("label", [3, -4])
def test_label_index_out_of_range(tmp_path, label):
    assert load_error(tmp_path, XYZ, label=label) == (
        f"<dir>/train.csv: label column index {label} is out of range; the table has 3 columns (0..2)")


def test_drop_column_not_found(tmp_path):
    assert load_error(tmp_path, XYZ, drop=["zz"]) == (
        "<dir>/train.csv: drop column 'zz' not found; columns are: a, b, label")


def test_no_feature_columns_left(tmp_path):
    assert load_error(tmp_path, XYZ, drop=["a", "b"]) == (
        "<dir>/train.csv: no feature columns left (label 'label', dropped ['a', 'b'])")


@pytest.mark.parametrize("cell", ["", "?", "NaN"])
def test_missing_label_names_the_row(tmp_path, cell):
    assert load_error(tmp_path, f"a,b,c\n1,2,0\n3,4,1\n5,6,{cell}\n") == (
        "<dir>/train.csv: row 3: the label ('c') is missing")
