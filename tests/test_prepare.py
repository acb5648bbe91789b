"""preprocess.interpolate and the prepared-data cache, end to end from a sequence CSV through the config.

The CSV is headerless like the Kaggle MIT-BIH beats: values then the label, empty cells and -999 for missing
samples, a run of zeros at the end of padded beats. Expected values are written by hand (linear) or computed by
interpolate_series / pandas on the raw rows.
"""

import json
import os
import subprocess
import sys
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
import yaml
from typer.testing import CliRunner

from imbrun.cli import app
from imbrun.config import load_config
from imbrun.interpolate import interpolate_series, mark_missing
from imbrun.pipeline import prepare
from imbrun.prepare import prepare_data

runner = CliRunner()
nan = np.nan

HAND_ROWS = [
    "0,,2,-999,4,5,N",  # an empty cell and a sentinel inside the beat
    "1,2,,0,0,0,N",  # padded: the gap is filled from the left only (as at a series' end), the zeros stay
    "3,-999,,6,0,0,V",
    ",,2,3,4,5,V",  # linear fills forward: the two leading cells are still missing afterwards
    "1,2,3,4,5,6,N",
]
HAND_EXPECTED = {0: [0, 1, 2, 3, 4, 5], 1: [1, 2, 2, 0, 0, 0], 2: [3, 4, 5, 6, 0, 0], 4: [1, 2, 3, 4, 5, 6]}
LINEAR = {"method": "linear", "missing_values": [-999], "padding": "trailing_zeros", "remaining": "drop"}


def beats_csv(path: Path, seed: int = 0, hand: bool = True, n: int = 19, timesteps: int = 6) -> Path:
    """The hand rows, then `n` seeded beats (values 1..8, one missing cell, 0-2 padding zeros); 16 N / 8 V."""
    rng = np.random.default_rng(seed)
    lines = list(HAND_ROWS) if hand else []
    for i in range(n):
        cells = [str(v) for v in rng.integers(1, 9, size=timesteps)]
        padding = int(rng.integers(0, 3))
        cells[timesteps - padding:] = ["0"] * padding
        cells[int(rng.integers(1, 4))] = ["", "-999"][i % 2]
        lines.append(",".join(cells) + ("," + ("N" if i < 13 else "V")))
    path.write_text("\n".join(lines) + "\n")
    return path


def raw_rows(path: Path) -> tuple[np.ndarray, list[str]]:
    """(rows, timesteps) floats with NaN for empty cells and -999 (read without imbrun's loader), and the labels."""
    cells = [line.split(",") for line in path.read_text().splitlines()]
    X = np.array([[float(c) if c else nan for c in row[:-1]] for row in cells])
    return mark_missing(X, [-999]), [row[-1] for row in cells]


def config(tmp_path: Path, csv: Path, interpolate: dict | None = None, overrides=(), **data) -> object:
    raw = {"name": "gaps", "seed": 0,
           "data": {"kind": "csv", "path": str(csv), "header": False, "label": -1, "sequence": {"channels": 1},
                    **data},
           "split": {"test_size": 0.25, "val_size": 0.2},
           "preprocess": {"interpolate": interpolate or LINEAR, "impute": "none", "normalize": {"kind": "none"}},
           "model": {"kind": "dense", "hidden": [4]},
           "train": {"epochs": 1, "batch_size": 8}}
    path = tmp_path / "gaps.yaml"
    path.write_text(yaml.safe_dump(raw))
    return load_config(path, list(overrides))


def model_inputs(prep) -> dict[int, tuple[str, np.ndarray, int]]:
    """row id -> (split, the row the model is given, label code) over the train / val / test splits."""
    rows = {}
    for name in ("train", "val", "test"):
        part = getattr(prep.splits, name)
        for row_id, x, y in zip(part.row_ids, prep.X[name], part.y):
            rows[int(row_id)] = (name, x, int(y))
    return rows


# ---- interpolation --------------------------------------------------------------------------------------------

def test_hand_rows_reach_the_model_exactly_and_dropped_rows_are_recorded(tmp_path):
    csv = beats_csv(tmp_path / "beats.csv")
    prep = prepare(config(tmp_path, csv), use_cache=False)
    rows = model_inputs(prep)
    assert sorted(rows) == [i for i in range(24) if i != 3]  # row 3 still had missing values: dropped
    for row_id, expected in HAND_EXPECTED.items():
        assert rows[row_id][1].shape == (6, 1) and rows[row_id][1].dtype == np.float32
        np.testing.assert_array_equal(rows[row_id][1][:, 0], expected)
    assert prep.data.notes["interpolate"] == {
        "method": "linear", "missing_before": 26, "filled": 24, "remaining": 2, "remaining_policy": "drop",
        "dropped_row_ids": [3]}


def test_every_row_gets_the_same_values_whichever_split_it_lands_in(tmp_path):
    csv = beats_csv(tmp_path / "beats.csv")
    raw, labels = raw_rows(csv)
    expected = interpolate_series(raw, "linear", padding="trailing_zeros", progress=False).astype(np.float32)
    assert (raw == 0).sum() > 0 and ((expected == 0) == (raw == 0)).all()  # padding zeros kept, none added
    homes = []
    for split_seed in (0, 1, 2):
        prep = prepare(config(tmp_path, csv, overrides=[f"split.seed={split_seed}"]), use_cache=False)
        rows = model_inputs(prep)
        for row_id, (_, x, y) in rows.items():
            np.testing.assert_array_equal(x[:, 0], expected[row_id])
            assert prep.splits.class_names[y] == labels[row_id]  # labels stay aligned after the drop
        homes.append({row_id: split for row_id, (split, _, _) in rows.items()})
    moved = [row_id for row_id in homes[0] if len({home[row_id] for home in homes}) == 3]
    assert len(moved) >= 3  # some rows were in train, val and test under the three seeds


def test_spline_with_padding_equals_pandas_on_the_unpadded_part(tmp_path):
    csv = beats_csv(tmp_path / "beats.csv", hand=False, n=24, timesteps=10)
    cfg = config(tmp_path, csv, {**LINEAR, "method": "spline", "order": 3, "remaining": "fail"})
    data, _ = prepare_data(cfg.data, cfg.preprocess.interpolate, use_cache=False)
    raw, _ = raw_rows(csv)
    for row, got in zip(raw, data.X[:, :, 0]):
        length = len(row) - int(np.logical_and.accumulate(row[::-1] == 0).sum())
        want = pd.Series(row[:length]).interpolate(method="spline", order=3).to_numpy()
        np.testing.assert_allclose(got[:length], want.astype(np.float32), rtol=1e-6, atol=1e-6)
        assert (got[length:] == 0).all()


def test_remaining_fail_is_one_line_with_the_count(tmp_path):
    csv = beats_csv(tmp_path / "beats.csv")
    path = tmp_path / "fail.yaml"
    cfg = config(tmp_path, csv, {**LINEAR, "remaining": "fail"})
    path.write_text(yaml.safe_dump(cfg.model_dump(mode="json")))
    result = runner.invoke(app, ["train", str(path), "--runs-dir", str(tmp_path / "runs"), "-q", "--no-cache"])
    assert result.exit_code == 2
    assert [line for line in result.stderr.splitlines() if line.strip()] == [
        "error: preprocess.interpolate (data): 2 values in 1 rows are still missing after interpolation (first: "
        "row id 3); use policy 'fill' or 'drop' for remaining values, or another interpolation"]
    assert not (tmp_path / "runs").exists()


def test_remaining_fill_puts_the_constant_and_keeps_every_row(tmp_path):
    csv = beats_csv(tmp_path / "beats.csv")
    prep = prepare(config(tmp_path, csv, {**LINEAR, "remaining": "fill", "fill_value": -1.5}), use_cache=False)
    rows = model_inputs(prep)
    assert sorted(rows) == list(range(24))
    np.testing.assert_array_equal(rows[3][1][:, 0], [-1.5, -1.5, 2, 3, 4, 5])
    assert prep.data.notes["interpolate"]["dropped_row_ids"] == []


def test_separate_test_file_is_interpolated_too(tmp_path):
    csv = beats_csv(tmp_path / "beats.csv", hand=False, n=19)
    test_csv = tmp_path / "beats_test.csv"
    test_csv.write_text("9,,7,-999,0,0,V\n,1,2,3,4,5,N\n2,-999,4,5,6,7,N\n")
    prep = prepare(config(tmp_path, csv, test_path=str(test_csv)), use_cache=False)
    np.testing.assert_array_equal(prep.splits.test.row_ids, [0, 2])  # the test file's row 1 is dropped
    np.testing.assert_array_equal(prep.X["test"][:, :, 0], [[9, 8, 7, 7, 0, 0], [2, 3, 4, 5, 6, 7]])
    assert prep.splits.class_names[prep.splits.test.y[0]] == "V"
    assert prep.data.notes["interpolate"]["test"] == {
        "method": "linear", "missing_before": 4, "filled": 3, "remaining": 1, "remaining_policy": "drop",
        "dropped_row_ids": [1]}


def test_each_channel_is_interpolated_and_padding_needs_every_channel_zero(tmp_path):
    csv = tmp_path / "two_channels.csv"
    # channel_major: 4 samples of channel 0, then 4 of channel 1
    csv.write_text("1,,3,0,10,20,,0,N\n1,,0,0,10,-999,30,40,V\n" + "1,2,3,4,5,6,7,8,N\n" * 2)
    cfg = config(tmp_path, csv, sequence={"channels": 2})
    data, _ = prepare_data(cfg.data, cfg.preprocess.interpolate, use_cache=False)
    assert data.X.shape == (4, 4, 2)
    # row 0: the last step is zero in both channels (padding); row 1: channel 0's zeros are signal
    np.testing.assert_array_equal(data.X[0], [[1, 10], [2, 20], [3, 20], [0, 0]])
    np.testing.assert_array_equal(data.X[1], [[1, 10], [0.5, 20], [0, 30], [0, 40]])


def test_evaluate_rebuilds_the_same_interpolated_test_split(tmp_path):
    csv = beats_csv(tmp_path / "beats.csv")
    path = tmp_path / "gaps.yaml"
    path.write_text(yaml.safe_dump(config(tmp_path, csv).model_dump(mode="json")))
    run = train(path, tmp_path / "runs")
    result = runner.invoke(app, ["evaluate", str(run)])
    assert result.exit_code == 0, result.output
    assert "matches the stored metrics.json" in result.output
    (eval_dir,) = (run / "eval").iterdir()
    stored = pd.read_csv(run / "predictions.csv")
    assert pd.read_csv(eval_dir / "predictions.csv")["row_id"].tolist() == stored["row_id"].tolist()
    other = tmp_path / "other.csv"  # another file gets the run's gap filling too (impute is none: NaN would fail)
    other.write_text("9,,7,-999,0,0,V\n,1,2,3,4,5,N\n2,-999,4,5,6,7,N\n")
    result = runner.invoke(app, ["evaluate", str(run), "--data", str(other), "-q"])
    assert result.exit_code == 0, result.output
    (scored,) = [d for d in (run / "eval").iterdir() if d != eval_dir]
    assert pd.read_csv(scored / "predictions.csv")["row_id"].tolist() == [0, 2]


# ---- the prepared-data cache ----------------------------------------------------------------------------------

def train(config_path: Path, runs: Path, *extra) -> Path:
    result = runner.invoke(app, ["train", str(config_path), "--runs-dir", str(runs), "-q", *extra])
    assert result.exit_code == 0, result.output
    return runs / result.output.strip().removeprefix("run: ").split("/")[-1]


def data_cache(run: Path) -> str:
    return json.loads((run / "env.json").read_text())["data_cache"]


def test_train_misses_then_hits_and_no_cache_touches_nothing(tmp_path, monkeypatch):
    cache = tmp_path / "cache"
    monkeypatch.setenv("IMBRUN_CACHE_DIR", str(cache))
    csv = beats_csv(tmp_path / "beats.csv")
    path = tmp_path / "gaps.yaml"
    path.write_text(yaml.safe_dump(config(tmp_path, csv).model_dump(mode="json")))
    off = train(path, tmp_path / "runs", "--no-cache")
    assert data_cache(off) == "off" and not cache.exists()
    first, second = train(path, tmp_path / "runs"), train(path, tmp_path / "runs")
    assert (data_cache(first), data_cache(second)) == ("miss", "hit")
    (entry,) = cache.iterdir()
    before = entry.stat().st_mtime_ns
    assert data_cache(train(path, tmp_path / "runs", "--no-cache")) == "off"
    assert list(cache.iterdir()) == [entry] and entry.stat().st_mtime_ns == before
    for run in (off, first, second):  # a hit gives the run what a fresh preparation gives it
        assert json.loads((run / "prepare.json").read_text())["interpolate"]["dropped_row_ids"] == [3]
    assert (first / "predictions.csv").read_text() == (second / "predictions.csv").read_text()


def test_changed_file_or_data_or_interpolate_section_is_a_new_entry(tmp_path):
    csv = beats_csv(tmp_path / "beats.csv")
    cache = tmp_path / "cache"

    def state(*overrides):
        cfg = config(tmp_path, csv, overrides=overrides)
        return prepare_data(cfg.data, cfg.preprocess.interpolate, cache_dir=cache)[1]

    assert (state(), state()) == ("miss", "hit")
    stat = csv.stat()
    os.utime(csv, ns=(stat.st_atime_ns, stat.st_mtime_ns + 1_000_000_000))  # touched, same content
    assert (state(), state()) == ("miss", "hit")
    csv.write_text(csv.read_text().replace("0,,2,-999,4,5,N", "0,,2,-999,4,6,N"))  # same size
    assert (state(), state()) == ("miss", "hit")
    assert state("data.missing=['', 'NA']") == "miss"
    assert state("preprocess.interpolate.method=nearest") == "miss"
    assert state("preprocess.interpolate.remaining=fill") == "miss"
    assert state("train.lr=0.1", "split.test_size=0.3", "preprocess.normalize.kind=standard") == "hit"
    assert len(list(cache.glob("*.npz"))) == 6


def test_a_truncated_entry_is_rebuilt_not_read(tmp_path):
    csv = beats_csv(tmp_path / "beats.csv")
    cfg = config(tmp_path, csv)
    cache = tmp_path / "cache"
    fresh, _ = prepare_data(cfg.data, cfg.preprocess.interpolate, cache_dir=cache)
    (entry,) = cache.glob("*.npz")
    entry.write_bytes(entry.read_bytes()[: entry.stat().st_size // 2])
    rebuilt, state = prepare_data(cfg.data, cfg.preprocess.interpolate, cache_dir=cache)
    assert state == "miss"
    np.testing.assert_array_equal(rebuilt.X, fresh.X)
    again, state = prepare_data(cfg.data, cfg.preprocess.interpolate, cache_dir=cache)
    assert state == "hit"
    np.testing.assert_array_equal(again.X, fresh.X)
    np.testing.assert_array_equal(again.y, fresh.y)
    np.testing.assert_array_equal(again.row_ids, fresh.row_ids)


def test_entries_are_written_to_a_temp_name_in_the_cache_folder_and_renamed(tmp_path, monkeypatch):
    csv = beats_csv(tmp_path / "beats.csv")
    cfg = config(tmp_path, csv)
    cache = tmp_path / "cache"
    renames = []
    real_replace = os.replace

    def replace(src, dst):
        renames.append((Path(src), Path(dst), Path(dst).exists(), Path(src).stat().st_size))
        real_replace(src, dst)

    monkeypatch.setattr("imbrun.atomic.os.replace", replace)
    prepare_data(cfg.data, cfg.preprocess.interpolate, cache_dir=cache)
    ((src, dst, existed, size),) = renames
    assert src.parent == dst.parent == cache and not existed
    assert src.name.startswith(f".{dst.name}.") and src.name.endswith(".tmp")
    assert size == dst.stat().st_size and list(cache.iterdir()) == [dst]


KILLED_WRITER = """
import os, signal, sys
from pathlib import Path
from imbrun.atomic import atomic_write

def write(handle):
    handle.write(Path(sys.argv[2]).read_bytes())  # the whole entry, killed just before the rename
    handle.flush()
    os.kill(os.getpid(), signal.SIGKILL)

atomic_write(Path(sys.argv[1]), write, binary=True)
"""


@pytest.mark.skipif(not hasattr(os, "kill") or sys.platform == "win32", reason="needs SIGKILL")
def test_the_temp_file_of_a_killed_writer_is_never_read(tmp_path):
    csv = beats_csv(tmp_path / "beats.csv")
    cfg = config(tmp_path, csv)
    prepare_data(cfg.data, cfg.preprocess.interpolate, cache_dir=tmp_path / "first")
    (good,) = (tmp_path / "first").glob("*.npz")
    cache = tmp_path / "cache"
    cache.mkdir()
    killed = subprocess.run([sys.executable, "-c", KILLED_WRITER, str(cache / good.name), str(good)],
                            cwd=Path(__file__).resolve().parents[1])
    assert killed.returncode == -9
    (leftover,) = cache.iterdir()
    assert leftover.name.startswith(f".{good.name}.") and leftover.read_bytes() == good.read_bytes()
    _, state = prepare_data(cfg.data, cfg.preprocess.interpolate, cache_dir=cache)
    assert state == "miss"  # the complete-looking temp file was not taken as an entry
    assert (cache / good.name).is_file()
    assert prepare_data(cfg.data, cfg.preprocess.interpolate, cache_dir=cache)[1] == "hit"


def test_folder_sources_skip_hidden_folders_such_as_a_cache_inside(tmp_path):
    from imbrun.data.cache import source_files

    (tmp_path / "mnist" / ".cache").mkdir(parents=True)
    (tmp_path / "mnist" / "t10k-images-idx3-ubyte.gz").write_bytes(b"x")
    (tmp_path / "mnist" / ".cache" / "0123.npz").write_bytes(b"x")
    assert [p.name for p in source_files({"path": str(tmp_path / "mnist")})] == ["t10k-images-idx3-ubyte.gz"]


def test_an_unusable_cache_folder_is_one_warning_not_a_failed_run(tmp_path, monkeypatch):
    (tmp_path / "a_file").write_text("x")
    cache = tmp_path / "a_file" / "cache"  # IMBRUN_CACHE_DIR below a regular file: it can never be created
    monkeypatch.setenv("IMBRUN_CACHE_DIR", str(cache))
    csv = beats_csv(tmp_path / "beats.csv")
    path = tmp_path / "gaps.yaml"
    path.write_text(yaml.safe_dump(config(tmp_path, csv).model_dump(mode="json")))
    result = runner.invoke(app, ["train", str(path), "--runs-dir", str(tmp_path / "runs"), "-q"])
    assert result.exit_code == 0, result.output
    cache_lines = [line for line in result.stderr.splitlines() if "cache" in line or "error" in line]
    assert cache_lines == [f"warning: prepared-data cache not written: {cache}: Not a directory"]
    (run,) = (tmp_path / "runs").iterdir()
    assert result.stdout.strip().endswith(run.name)
    assert data_cache(run) == "miss" and json.loads((run / "status.json").read_text())["status"] == "completed"


# ---- the interpolation's progress bar ---------------------------------------------------------------------------

def test_prepare_data_shows_the_progress_bar_on_request_and_by_default_only_on_a_terminal(tmp_path, monkeypatch):
    import io

    from rich.console import Console

    import imbrun.interpolate as interpolate_module

    screen = io.StringIO()
    monkeypatch.setattr(interpolate_module, "_PROGRESS_AFTER_SECONDS", -1.0)  # as if a second had gone by
    monkeypatch.setattr(interpolate_module, "_progress_console",
                        lambda: Console(file=screen, force_terminal=True, color_system=None, width=100))
    cfg = config(tmp_path, beats_csv(tmp_path / "beats.csv"))
    shown = {}
    for progress in (None, False, True):
        screen.seek(0)
        screen.truncate(0)
        data, _ = prepare_data(cfg.data, cfg.preprocess.interpolate, use_cache=False, progress=progress)
        assert len(data.y) == 23
        shown[progress] = "interpolating (linear)" in screen.getvalue()
    assert shown == {None: False, False: False, True: True}  # None: pytest's stderr is not a terminal
