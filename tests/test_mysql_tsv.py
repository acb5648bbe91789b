"""read_tsv_export on tiny hand-written INTO OUTFILE and mysql --batch files: escapes, NULL, header, errors."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from imbrun.data.mysql_tsv import read_tsv_export
from imbrun.errors import ImbrunError

# INTO OUTFILE: no header, NULL is \N, a newline or tab inside a value is a backslash before the raw character.
OUTFILE = "1\ta\t1.5\tit's\n2\tb\t\\N\tline\\\nbreak\n3\ta\t-2\ttab\\\there \\\\ \\0 \\Z\n"
# mysql --batch: header, NULL is the bare word NULL, escapes are \t \n \\ \0.
BATCH = "id\tlabel\tx\tnote\n1\ta\t1.5\tit's\n2\tb\tNULL\tline\\nbreak\n3\ta\t-2\ttab\\there \\\\ \\0 \\b \\r\n4\tc\t0\tNULL\n"


def _write(tmp_path, text: str):
    path = tmp_path / "export.tsv"
    path.write_bytes(text.encode("utf-8"))
    return path


def test_into_outfile_without_header(tmp_path):
    expected = pd.DataFrame(
        {
            "c0": np.array([1, 2, 3]),
            "c1": pd.array(["a", "b", "a"], dtype="str"),
            "c2": [1.5, np.nan, -2.0],
            "c3": pd.array(["it's", "line\nbreak", "tab\there \\ \0 \x1a"], dtype="str"),
        }
    )
    pd.testing.assert_frame_equal(read_tsv_export(_write(tmp_path, OUTFILE)), expected)


def test_columns_name_a_file_without_header(tmp_path):
    df = read_tsv_export(_write(tmp_path, OUTFILE), columns=["id", "label", "x", "note"])
    assert list(df.columns) == ["id", "label", "x", "note"]
    assert df["note"].tolist() == ["it's", "line\nbreak", "tab\there \\ \0 \x1a"]


def test_mysql_batch_with_header(tmp_path):
    expected = pd.DataFrame(
        {
            "id": np.array([1, 2, 3, 4]),
            "label": pd.array(["a", "b", "a", "c"], dtype="str"),
            "x": [1.5, np.nan, -2.0, 0.0],
            "note": pd.array(["it's", "line\nbreak", "tab\there \\ \0 \b \r", None], dtype="str"),
        }
    )
    pd.testing.assert_frame_equal(read_tsv_export(_write(tmp_path, BATCH)), expected)
    pd.testing.assert_frame_equal(read_tsv_export(_write(tmp_path, BATCH), header=True), expected)


def test_columns_select_from_a_header(tmp_path):
    df = read_tsv_export(_write(tmp_path, BATCH), columns=["note", "id"])
    assert list(df.columns) == ["note", "id"]
    assert df["id"].tolist() == [1, 2, 3, 4]


def test_header_false_reads_the_first_line_as_data(tmp_path):
    df = read_tsv_export(_write(tmp_path, "7\t8\n9\t10\n"), header=False)
    pd.testing.assert_frame_equal(df, pd.DataFrame({"c0": np.array([7, 9]), "c1": np.array([8, 10])}))
    df = read_tsv_export(_write(tmp_path, "x\ty\n9\t10\n"), header=False)
    assert df["c0"].tolist() == ["x", "9"]


def test_text_only_file_header_detection(tmp_path):
    with_header = read_tsv_export(_write(tmp_path, "label\tnote\na\tb c\n"))
    assert list(with_header.columns) == ["label", "note"]
    without = read_tsv_export(_write(tmp_path, "a b\tc d\ne\tf\n"))
    assert list(without.columns) == ["c0", "c1"] and without["c0"].tolist() == ["a b", "e"]


def test_nulls_keyword_keeps_the_word_null_as_text(tmp_path):
    df = read_tsv_export(_write(tmp_path, "1\tNULL\n2\t\\N\n"), nulls=("\\N",))
    assert df["c1"].tolist()[0] == "NULL" and pd.isna(df["c1"].tolist()[1])


def test_whole_floats_are_int64_and_all_null_column_float64(tmp_path):
    df = read_tsv_export(_write(tmp_path, "1.0\t\\N\n2\t\\N\n"))
    pd.testing.assert_frame_equal(df, pd.DataFrame({"c0": np.array([1, 2]), "c1": [np.nan, np.nan]}))


@pytest.mark.parametrize(
    ("text", "kwargs", "message"),
    [
        ("1\ta\n2\n", {}, "line 2 has 1 fields, expected 2"),
        ("1\tx\\\ny\n2\n", {}, "line 3 has 1 fields, expected 2"),
        ("1\ta\n", {"columns": ["id"]}, "line 1 has 2 fields but 1 column names were given"),
        ("id\tlabel\n1\ta\n", {"columns": ["id", "lbl"], "header": True}, "no column 'lbl'; the columns are id, label"),
        ("", {}, "the file is empty, expected tab-separated rows"),
    ],
)
def test_errors_are_one_line_naming_the_file(tmp_path, text, kwargs, message):
    path = _write(tmp_path, text)
    with pytest.raises(ImbrunError) as err:
        read_tsv_export(path, **kwargs)
    assert str(err.value) == f"{path}: {message}"


def test_carriage_return_ending_the_last_value_is_kept(tmp_path):
    df = read_tsv_export(_write(tmp_path, "1\tab\r\n2\tc\n"))
    assert df["c1"].tolist() == ["ab\r", "c"]


def test_undecodable_line_is_named_and_encoding_reads_it(tmp_path):
    path = tmp_path / "latin1.tsv"
    path.write_bytes(b"1\tcaf\xe9\n")
    with pytest.raises(ImbrunError) as err:
        read_tsv_export(path)
    assert str(err.value) == f"{path}: line 1 is not valid utf-8 (invalid continuation byte)"
    assert read_tsv_export(path, encoding="latin-1")["c1"].tolist() == ["café"]


def test_missing_file(tmp_path):
    with pytest.raises(ImbrunError) as err:
        read_tsv_export(tmp_path / "absent.tsv")
    assert str(err.value) == f"{tmp_path / 'absent.tsv'}: no such file"
