"""The prepared-data cache: hit after a miss, invalidated by a changed file, config, version or code, never reads
partial entries, and an unusable cache folder only costs the caching."""

import errno
import os

import numpy as np
import pytest

import imbrun
import imbrun.data.cache as cache_module
from imbrun.data.base import LoadedData
from imbrun.data.cache import cached, preparing_code, source_files


def _section(path):
    return {"kind": "csv", "path": str(path), "label": -1}


class Builder:
    """Counts how often the expensive build really ran."""

    def __init__(self):
        self.calls = 0

    def __call__(self):
        self.calls += 1
        test = LoadedData(np.ones((1, 2), np.float32), np.array([1]), ["a", "b"], np.array([7]))
        return LoadedData(np.arange(6, dtype=np.float32).reshape(3, 2), np.array([0, 1, 0]), ["a", "b"],
                          np.array([10, 11, 12]), groups=np.array(["g1", "g2", "g1"], dtype=object), test=test,
                          feature_names=["x", "y"], sources=[{"path": "p", "sha256": "0" * 64}])


def test_second_load_is_a_hit_with_identical_arrays(tmp_path):
    source = tmp_path / "t.csv"
    source.write_text("1,2,a\n")
    build = Builder()
    first, state1 = cached(_section(source), {}, tmp_path / "cache", build)
    second, state2 = cached(_section(source), {}, tmp_path / "cache", build)
    assert (state1, state2, build.calls) == ("miss", "hit", 1)
    for a, b in ((first, second), (first.test, second.test)):
        np.testing.assert_array_equal(a.X, b.X)
        np.testing.assert_array_equal(a.y, b.y)
        np.testing.assert_array_equal(a.row_ids, b.row_ids)
    assert list(second.groups) == ["g1", "g2", "g1"]
    assert second.class_names == ["a", "b"] and second.feature_names == ["x", "y"]
    assert second.sources == [{"path": "p", "sha256": "0" * 64}]


def test_changed_content_same_size_and_mtime_invalidates(tmp_path):
    source = tmp_path / "t.csv"
    source.write_text("1,2,a\n")
    stat = source.stat()
    build = Builder()
    cached(_section(source), {}, tmp_path / "cache", build)
    source.write_text("3,4,b\n")  # same size
    os.utime(source, ns=(stat.st_atime_ns, stat.st_mtime_ns))  # same mtime
    _, state = cached(_section(source), {}, tmp_path / "cache", build)
    assert (state, build.calls) == ("miss", 2)


def test_changed_config_invalidates_and_no_cache_bypasses(tmp_path):
    source = tmp_path / "t.csv"
    source.write_text("1,2,a\n")
    build = Builder()
    cached(_section(source), {}, tmp_path / "cache", build)
    _, state = cached({**_section(source), "label": 0}, {}, tmp_path / "cache", build)
    assert state == "miss"
    _, state = cached(_section(source), {"interpolate": {"method": "linear"}}, tmp_path / "cache", build)
    assert state == "miss"
    _, state = cached(_section(source), {}, tmp_path / "cache", build, use_cache=False)
    assert (state, build.calls) == ("off", 4)


def test_partial_or_corrupt_entries_are_never_read(tmp_path):
    source = tmp_path / "t.csv"
    source.write_text("1,2,a\n")
    build = Builder()
    cache_dir = tmp_path / "cache"
    cached(_section(source), {}, cache_dir, build)
    (entry,) = cache_dir.glob("*.npz")
    entry.write_bytes(entry.read_bytes()[:100])  # as if a killed writer had left half a file under the real name
    data, state = cached(_section(source), {}, cache_dir, build)
    assert (state, build.calls) == ("miss", 2) and data.X.shape == (3, 2)
    assert list(cache_dir.glob(".*.tmp")) == []  # no temp files left behind


def test_live_sources_and_folders(tmp_path):
    assert source_files({"url": "mysql+pymysql://u@h/db", "table": "t"}) is None
    (tmp_path / "rec").mkdir()
    for name in ("b.dat", "a.hea", ".hidden"):
        (tmp_path / "rec" / name).write_text("x")
    assert [p.name for p in source_files({"path": str(tmp_path / "rec")})] == ["a.hea", "b.dat"]


def test_another_imbrun_version_format_or_preparing_code_misses(tmp_path, monkeypatch):
    source = tmp_path / "t.csv"
    source.write_text("1,2,a\n")
    build = Builder()
    assert cached(_section(source), {}, tmp_path / "cache", build)[1] == "miss"
    assert cached(_section(source), {}, tmp_path / "cache", build)[1] == "hit"
    monkeypatch.setattr(imbrun, "__version__", imbrun.__version__ + ".post1")
    assert [cached(_section(source), {}, tmp_path / "cache", build)[1] for _ in range(2)] == ["miss", "hit"]
    monkeypatch.setattr(cache_module, "FORMAT", cache_module.FORMAT + 1)
    assert cached(_section(source), {}, tmp_path / "cache", build)[1] == "miss"
    monkeypatch.setattr(cache_module, "code_digest", lambda: "an edited interpolate.py")
    assert cached(_section(source), {}, tmp_path / "cache", build)[1] == "miss"
    assert build.calls == 4 and len(list((tmp_path / "cache").glob("*.npz"))) == 4


def test_the_code_digest_covers_the_loaders_and_the_gap_filling():
    package = os.path.dirname(imbrun.__file__)
    names = {os.path.relpath(path, package).replace(os.sep, "/") for path in preparing_code()}
    assert {"data/csv.py", "data/sqldump.py", "data/cache.py", "interpolate.py", "interpolate_methods.py",
            "interpolate_hermite.py", "interpolate_gaps.py", "prepare.py"} <= names
    assert "pipeline.py" not in names and "train.py" not in names


def test_a_cache_folder_below_a_regular_file_warns_once_and_runs_uncached(tmp_path, capsys):
    source = tmp_path / "t.csv"
    source.write_text("1,2,a\n")
    (tmp_path / "file").write_text("not a folder")
    folder = tmp_path / "file" / "cache"
    build = Builder()
    for _ in range(2):
        data, state = cached(_section(source), {}, folder, build)
        assert state == "miss" and data.X.shape == (3, 2)
        assert capsys.readouterr().err == f"warning: prepared-data cache not written: {folder}: Not a directory\n"
    assert build.calls == 2 and (tmp_path / "file").read_text() == "not a folder"


@pytest.mark.parametrize("error, reason", [(PermissionError(errno.EACCES, "Permission denied"), "Permission denied"),
                                           (OSError(errno.ENOSPC, "No space left on device"),
                                            "No space left on device")])
def test_a_read_only_or_full_cache_folder_warns_and_runs_uncached(tmp_path, capsys, monkeypatch, error, reason):
    # simulated: a chmod-ed folder is still writable for root, who runs the tests in some CI containers
    def refuse(path, write, binary=False):
        raise error

    source = tmp_path / "t.csv"
    source.write_text("1,2,a\n")
    monkeypatch.setattr(cache_module, "atomic_write", refuse)
    data, state = cached(_section(source), {}, tmp_path / "cache", Builder())
    assert state == "miss" and data.y.tolist() == [0, 1, 0]
    assert capsys.readouterr().err == f"warning: prepared-data cache not written: {tmp_path / 'cache'}: {reason}\n"
    assert list((tmp_path / "cache").iterdir()) == []
