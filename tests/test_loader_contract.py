"""Every registered loader kind, on tiny files the test writes itself, returns data that keeps the shared contract.

A loader registered in imbrun.data.LOADERS without a case here fails test_every_registered_kind_has_a_case.
"""

import hashlib
from pathlib import Path

import numpy as np
import pytest

from imbrun.config import validate_config
from imbrun.data import LOADERS, load_data
from imbrun.data.base import LoadedData
from imbrun.data.cache import read_entry, write_entry
from imbrun.data.idx import write_idx


def _csv(tmp: Path) -> dict:
    rows = ["f0,color,patient,label"] + [f"{i / 4},{'red' if i % 3 else 'blue'},p{i % 3},{'ab'[i % 4 == 0]}"
                                         for i in range(9)]
    (tmp / "train.csv").write_text("\n".join(rows) + "\n")
    (tmp / "test.csv").write_text("f0,color,patient,label\n5,blue,p7,a\n6,green,p8,b\n")
    return {"section": {"kind": "csv", "path": str(tmp / "train.csv"), "test_path": str(tmp / "test.csv"),
                        "label": "label"},
            "group_by": "patient", "shape": (9, 3), "counts": [6, 3], "class_names": ["a", "b"],
            "groups": ["p0", "p1", "p2"], "files": ["train.csv", "test.csv"], "test_rows": 2}


DUMP = """-- MySQL dump 10.13
/*!40101 SET NAMES utf8mb4 */;
DROP TABLE IF EXISTS `beats`;
CREATE TABLE `beats` (
  `id` int NOT NULL,
  `x1` double DEFAULT NULL,
  `x2` double DEFAULT NULL,
  `label` varchar(8) NOT NULL,
  PRIMARY KEY (`id`)
) ENGINE=InnoDB;
LOCK TABLES `beats` WRITE;
INSERT INTO `beats` VALUES (1,0.5,1.5,'ok'),(2,NULL,2.5,'bad'),(3,1,'3','ok'),(4,2,4.5,'it\\'s');
UNLOCK TABLES;
"""


def _mysql_dump(tmp: Path) -> dict:
    (tmp / "beats.sql").write_text(DUMP)
    return {"section": {"kind": "mysql", "path": str(tmp / "beats.sql"), "table": "beats", "label": "label",
                        "drop": ["id"]},
            "group_by": None, "shape": (4, 2), "counts": [1, 1, 2], "class_names": ["bad", "it's", "ok"],
            "files": ["beats.sql"]}


def _mysql_tsv(tmp: Path) -> dict:
    (tmp / "beats.tsv").write_text("id\tx1\tx2\tlabel\n1\t0.5\t1.5\tok\n2\t\\N\t2.5\tbad\n3\t1\t3\tok\n")
    return {"section": {"kind": "mysql", "path": str(tmp / "beats.tsv"), "label": "label", "drop": ["id"]},
            "group_by": None, "shape": (3, 2), "counts": [1, 2], "class_names": ["bad", "ok"],
            "files": ["beats.tsv"]}


def _mnist(tmp: Path) -> dict:
    images = np.stack([np.full((28, 28), 40 * i, dtype=np.uint8) for i in range(5)])
    write_idx(tmp / "t10k-images-idx3-ubyte.gz", images)
    write_idx(tmp / "t10k-labels-idx1-ubyte", np.array([4, 9, 9, 1, 9], dtype=np.uint8))  # raw works too
    return {"section": {"kind": "mnist", "path": str(tmp), "classes": [4, 9], "relabel": {4: 0, 9: 1}},
            "group_by": None, "shape": (4, 784), "counts": [1, 3], "class_names": ["4", "9"],
            "files": ["t10k-images-idx3-ubyte.gz", "t10k-labels-idx1-ubyte"]}


def write_wfdb_records(folder: Path, beats: dict[str, str]) -> None:
    """10-second MIT-BIH-like records at 360 Hz: a spike every 300 samples, annotated with one symbol per beat."""
    import wfdb

    t = np.arange(3600)
    for record, symbols in beats.items():
        peaks = 100 + 300 * np.arange(len(symbols))  # at most 12 beats in 3600 samples
        signal = sum(np.exp(-0.5 * ((t - p) / 4.0) ** 2) for p in peaks) - 0.2  # (3600,) spikes at the peaks
        wfdb.wrsamp(record, fs=360, units=["mV"], sig_name=["MLII"], p_signal=signal[:, None], fmt=["212"],
                    write_dir=str(folder))
        wfdb.wrann(record, "atr", np.r_[0, peaks], symbol=["+", *symbols], write_dir=str(folder))  # '+': no beat


def _ecg_beats(tmp: Path) -> dict:
    write_wfdb_records(tmp, {"201": "NNVNANNVNNNN", "202": "NNNNFNNNNNNA"})
    return {"section": {"kind": "ecg_beats", "path": str(tmp)}, "group_by": "record", "shape": (24, 187, 1),
            "counts": [19, 2, 2, 1, 0], "class_names": ["N", "S", "V", "F", "Q"], "groups": ["201", "202"],
            "files": ["201.hea", "201.dat", "201.atr", "202.hea", "202.dat", "202.atr"]}


# kind -> {case id: builder(tmp_path) -> section, split.group_by and the exact result expected}
CASES = {
    "csv": {"csv": _csv},
    "mysql": {"mysql-dump": _mysql_dump, "mysql-tsv": _mysql_tsv},
    "mnist": {"mnist": _mnist},
    "ecg_beats": {"ecg_beats": _ecg_beats},
}
PARAMS = [pytest.param(kind, build, id=case) for kind, builders in CASES.items() for case, build in builders.items()]


def test_every_registered_kind_has_a_case():
    assert set(CASES) == set(LOADERS)


def _check_contract(data: LoadedData, n_features: tuple) -> None:
    n = len(data.y)
    assert n > 0 and data.X.dtype == np.float32 and data.X.shape == (n, *n_features)
    assert data.y.dtype == np.int64 and data.y.min() >= 0 and data.y.max() < len(data.class_names)
    assert isinstance(data.class_names, list) and all(isinstance(c, str) for c in data.class_names)
    assert len(set(data.class_names)) == len(data.class_names)
    assert data.row_ids.dtype == np.int64 and len(np.unique(data.row_ids)) == n
    if data.feature_names is not None and data.X.ndim == 2:
        assert len(data.feature_names) == data.X.shape[1]
    if data.categories is not None:
        assert all(isinstance(k, str) and all(isinstance(v, str) for v in vals) for k, vals in data.categories.items())


@pytest.mark.parametrize(("kind", "build"), PARAMS)
def test_loader_keeps_the_shared_contract(kind, build, tmp_path):
    case = build(tmp_path)
    section = validate_config({"data": case["section"]}).data
    assert section.kind == kind
    data = load_data(section, case["group_by"])
    _check_contract(data, case["shape"][1:])
    assert data.X.shape == case["shape"]
    assert data.class_names == case["class_names"]
    assert np.bincount(data.y, minlength=len(data.class_names)).tolist() == case["counts"]
    # every source file read is recorded with its size and content hash
    assert [Path(s["path"]).name for s in data.sources] == case["files"]
    for source in data.sources:
        content = Path(source["path"]).read_bytes()
        assert source["sha256"] == hashlib.sha256(content).hexdigest() and source["bytes"] == len(content)
    if case["group_by"] is None:
        assert data.groups is None
    else:
        assert len(data.groups) == len(data.y) and sorted(set(map(str, data.groups))) == case["groups"]
    if "test_rows" in case:
        assert data.test.class_names == data.class_names and len(data.test.y) == case["test_rows"]
        _check_contract(data.test, case["shape"][1:])
    else:
        assert data.test is None
    _check_cache_round_trip(data, tmp_path / "entry.npz")


def _check_cache_round_trip(data: LoadedData, path: Path) -> None:
    """The prepared-data cache gives back everything a loader returned."""
    write_entry(path, data)
    back = read_entry(path)
    for got, want in ((back, data), (back.test, data.test)) if data.test is not None else ((back, data),):
        np.testing.assert_array_equal(got.X, want.X)
        assert got.y.tolist() == want.y.tolist() and got.row_ids.tolist() == want.row_ids.tolist()
        assert (got.groups is None) == (want.groups is None)
        if want.groups is not None:
            assert list(got.groups) == list(want.groups)
        assert (got.class_names, got.feature_names, got.categories, got.notes) == \
            (want.class_names, want.feature_names, want.categories, want.notes)
    assert back.sources == data.sources
