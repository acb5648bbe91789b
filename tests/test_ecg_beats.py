"""MIT-BIH beat windows: synthetic signals with hand-placed peaks, annotation readers, and the real excerpt."""

from pathlib import Path

import numpy as np
import pytest

from imbrun.data.ecg_beats import AAMI_CLASSES, aami_codes, beat_periods, build_beats, load_ecg_beats
from imbrun.data.ecg_records import (
    find_annotations,
    read_annotation_file,
    read_annotation_text,
    read_annotations,
    read_record,
)
from imbrun.errors import ImbrunError
from tests.conftest import SHARED_DATA, need_shared

MITBIH = SHARED_DATA / "mitbih_wfdb"
HEADER = "      Time   Sample #  Type  Sub Chan  Num\tAux"


def test_aami_codes_maps_beats_and_skips_non_beats():
    is_beat, codes = aami_codes(np.array(["+", "N", "A", "V", "F", "/", "~", "j", "E"]))
    assert is_beat.tolist() == [False, True, True, True, True, True, False, True, True]
    assert codes.tolist() == [0, 1, 2, 3, 4, 0, 2]
    with pytest.raises(ImbrunError, match=r"^rec.txt: expected beat symbols .* got unknown symbols \['B', 'r'\]$"):
        aami_codes(np.array(["N", "B", "r"]), source="rec.txt")


def test_beat_periods_use_the_median_rr_of_each_segment():
    # segment of 100 samples: [0, 10, 30, 60] in segment 0 (RR 10, 20, 30 -> median 20),
    # [150, 155] in segment 1 (RR 5), [290] alone in segment 2 -> median of all RR (90, 5, 135 included)
    peaks = np.array([0, 10, 30, 60, 150, 155, 290])
    rr_all = np.median([10, 20, 30, 90, 5, 135])
    assert beat_periods(peaks, 100).tolist() == [20, 20, 20, 20, 5, 5, rr_all]
    assert np.isnan(beat_periods(np.array([7]), 100)).all()


def test_build_beats_exact_window_values_and_labels():
    # 125 Hz already: no resampling. Peaks every 20 samples -> T = 20, window 1.2 * 20 = 24 samples.
    signal = np.zeros(100)
    signal[[10, 30, 50, 70]] = 2.0
    signal[[15, 35, 55, 75]] = -1.0
    samples = np.array([3, 10, 30, 50, 70])
    symbols = np.array(["+", "N", "A", "V", "N"])
    beats, codes = build_beats(signal, 125.0, samples, symbols)
    assert beats.shape == (4, 187) and beats.dtype == np.float32
    assert codes.tolist() == [0, 1, 2, 0]
    expected = np.zeros(187, dtype=np.float32)
    expected[:24] = 1 / 3  # (0 - min) / (max - min) with min -1, max 2
    expected[[0, 20]], expected[5] = 1.0, 0.0
    np.testing.assert_allclose(beats[0], expected, rtol=1e-6)
    # last beat at 70: the signal ends at 99 -> 30 samples left but only 24 taken, same shape as the others
    np.testing.assert_allclose(beats[3, :24], np.r_[1.0, [1 / 3] * 4, 0.0, [1 / 3] * 18], rtol=1e-6)


def test_build_beats_zero_pads_at_record_end_and_cuts_long_windows():
    signal = np.arange(100, dtype=float)  # rising ramp: a window normalises to 0 .. 1 linearly
    beats, _ = build_beats(signal, 125.0, np.array([0, 90, 95]), np.array(["N", "N", "N"]), window=8)
    # RR 90 and 5 -> median 47.5 -> 1.2 * 47.5 = 57 samples, cut to the window of 8
    np.testing.assert_allclose(beats[0], np.arange(8) / 7, rtol=1e-6)
    # the beat at 95 has only 5 samples before the end: 0, 1/4, .., 1 then zero padding
    np.testing.assert_allclose(beats[2], [0, 0.25, 0.5, 0.75, 1, 0, 0, 0], rtol=1e-6)


def test_build_beats_rescales_peaks_when_resampling():
    # 250 Hz -> 125 Hz: peaks every 200 samples become every 100 -> windows of 120 samples
    t = np.arange(2000)
    signal = np.sin(2 * np.pi * t / 200)
    beats, codes = build_beats(signal, 250.0, np.arange(50, 2000, 200), np.array(["N"] * 10))
    assert beats.shape == (10, 187) and codes.tolist() == [0] * 10
    assert np.all(beats[:, 120:] == 0)
    np.testing.assert_allclose(beats[:-1, :120].max(axis=1), 1.0)
    np.testing.assert_allclose(beats[:-1, :120].min(axis=1), 0.0)
    # each window starts at its peak rescaled to 125 Hz (sample 25 + 100 k), where the sine is at its top
    assert np.all(beats[:-1, 0] > 0.99)


def test_read_annotation_text_handles_crlf_aux_and_bad_rows(tmp_path):
    rows = ["    0:00.050       18     +    0    0    0\t(N", "    0:00.214       77     N    0    0    0"]
    text = "\r\n".join([HEADER, *rows, ""])
    (tmp_path / "7annotations.txt").write_bytes(text.encode())
    samples, symbols = read_annotation_text(tmp_path / "7annotations.txt")
    assert samples.tolist() == [18, 77] and symbols.tolist() == ["+", "N"]
    (tmp_path / "8annotations.txt").write_text(HEADER + "\n    0:00.050       x18     +\n")
    with pytest.raises(ImbrunError, match=r"8annotations.txt line 2: expected 'time sample symbol sub chan num'"):
        read_annotation_text(tmp_path / "8annotations.txt")


def test_find_annotations_prefers_the_explicit_folder(tmp_path):
    (tmp_path / "recs").mkdir(), (tmp_path / "mitdb_annotations_txt").mkdir(), (tmp_path / "mine").mkdir()
    (tmp_path / "mitdb_annotations_txt" / "5annotations.txt").write_text(HEADER + "\n")
    assert find_annotations(tmp_path / "recs", "5") == tmp_path / "mitdb_annotations_txt" / "5annotations.txt"
    (tmp_path / "mine" / "5annotations.txt").write_text(HEADER + "\n")
    assert find_annotations(tmp_path / "recs", "5", tmp_path / "mine") == tmp_path / "mine" / "5annotations.txt"
    with pytest.raises(ImbrunError, match=r"^record 6: no annotations found, expected one of .*6.atr"):
        find_annotations(tmp_path / "recs", "6")


def test_text_annotations_of_record_100_equal_the_binary_atr():
    folder = need_shared(MITBIH / "mitdb")
    samples_bin, symbols_bin = read_annotations(folder, "100")
    text_path = need_shared(MITBIH / "mitdb_annotations_txt" / "100annotations.txt")
    samples_txt, symbols_txt = read_annotation_file(text_path)
    assert len(samples_bin) == 2274
    np.testing.assert_array_equal(samples_txt, samples_bin)
    np.testing.assert_array_equal(symbols_txt, symbols_bin)


def test_real_excerpt_100s_beats():
    folder = need_shared(MITBIH / "mitdb_excerpt")
    signal, fs = read_record(folder, "100s")
    assert signal.shape == (21600,) and fs == 360.0
    data = load_ecg_beats(folder)
    assert data.X.shape == (74, 187, 1) and data.X.dtype == np.float32
    assert data.class_names == AAMI_CLASSES
    assert np.bincount(data.y, minlength=5).tolist() == [73, 1, 0, 0, 0]
    assert data.row_ids[0] == 10_000_000 and data.row_ids[-1] == 10_000_073
    assert set(data.groups) == {"100s"}
    assert [Path(s["path"]).name for s in data.sources] == ["100s.hea", "100s.dat", "100s.atr"]
    assert float(data.X.min()) == 0.0 and float(data.X.max()) == 1.0
    # the last beat (sample 21423 of 21600 at 360 Hz) has ~61 samples left at 125 Hz: zero-padded after them
    assert np.count_nonzero(data.X[-1, 61:, 0]) == 0 and np.count_nonzero(data.X[-1, :61, 0]) > 50


def test_missing_record_files_and_beatless_records_are_one_line_errors(tmp_path):
    with pytest.raises(ImbrunError, match=r"^record 105: missing .*105.hea; put the MIT-BIH files 105.hea"):
        load_ecg_beats(tmp_path, ["105"])
    with pytest.raises(ImbrunError, match=r"^no MIT-BIH records \(\*.hea\) in "):
        load_ecg_beats(tmp_path)
    folder = need_shared(MITBIH / "mitdb_excerpt")
    notes = tmp_path / "notes"
    notes.mkdir()
    (notes / "100sannotations.txt").write_text(HEADER + "\n    0:00.050       18     +    0    0    0\t(N\n")
    with pytest.raises(ImbrunError, match=r"100sannotations.txt: expected beat annotations for record 100s, got none"):
        load_ecg_beats(folder, ["100s"], annotations_folder=notes)
    (notes / "100sannotations.txt").write_text(HEADER + "\n    0:00.050       18     Z    0    0    0\n")
    with pytest.raises(ImbrunError, match=r"100sannotations.txt: expected beat symbols .* got unknown symbols \['Z'\]"):
        load_ecg_beats(folder, ["100s"], annotations_folder=notes)


def test_drop_paced_and_duplicate_record_numbers(tmp_path):
    (tmp_path / "104.hea").write_text("104 2 360 10\n")
    with pytest.raises(ImbrunError, match=r"^records: all of \['104'\] are paced records dropped by drop_paced$"):
        load_ecg_beats(tmp_path, drop_paced=True)
    with pytest.raises(ImbrunError, match=r"^records: expected distinct record numbers for row ids, got \['100', "):
        load_ecg_beats(tmp_path, ["100", "100s"])


def test_download_without_network_is_one_line(tmp_path, monkeypatch):
    from wfdb.io import download

    monkeypatch.setattr(download, "PN_CONTENT_URL", "http://127.0.0.1:9/")
    monkeypatch.setattr(download.config, "db_index_url", "http://127.0.0.1:9/")
    with pytest.raises(ImbrunError, match=r"^could not download MIT-BIH records 100 from .* into ") as err:
        load_ecg_beats(tmp_path / "dl", ["100"], download=True)
    assert "\n" not in str(err.value)
