"""The catalogue of bad input: each case drives the real CLI and must end in one exact `error:` line.

Every case checks the exit code (2 for bad input, 1 for a failure while running), that stderr holds exactly one
`error:` line with the expected text, that no traceback leaks, and — for `train` — that no run folder is left
claiming `completed` (a run folder, if any was created, says `failed`).
"""

from __future__ import annotations

import gzip
import json
import shutil
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pytest
import yaml
from typer.testing import CliRunner

from imbrun.cli import app
from imbrun.data.idx import write_idx
from tests.conftest import tiny_config, write_blobs_csv

runner = CliRunner()


@dataclass
class Case:
    args: list
    message: str  # the error line without its "error: " prefix
    code: int = 2
    runs: Path | None = None  # train: the runs directory, checked for folders claiming `completed`
    failed_run: bool = False  # train: the error came after the run folder was made; it must say `failed`


CASES: dict[str, Callable[[Path, dict], Case]] = {}


def case(name: str):
    def register(build):
        CASES[name] = build
        return build
    return register


def write_config(tmp: Path, raw: dict, name: str = "exp") -> Path:
    path = tmp / f"{name}.yaml"
    path.write_text(yaml.safe_dump(raw))
    return path


def train_case(tmp: Path, raw: dict, message: str, code: int = 2, *extra, failed_run: bool = False) -> Case:
    runs = tmp / "runs"
    return Case(["train", write_config(tmp, raw), "--runs-dir", runs, *extra], message, code, runs, failed_run)


def csv_case(tmp: Path, text: str, message: Callable[[Path], str], **data) -> Case:
    csv = tmp / "bad.csv"
    csv.write_text(text)
    raw = tiny_config(csv, data={"kind": "csv", "path": str(csv), "label": "label", **data})
    return train_case(tmp, raw, message(csv))


def rows(labels: str) -> str:
    """A two-feature table with one row per character of `labels` (the label column)."""
    return "a,b,label\n" + "".join(f"{i},{i % 3},{label}\n" for i, label in enumerate(labels))


# ---- tables ----------------------------------------------------------------------------------------------

@case("empty file")
def _(tmp, _):
    return csv_case(tmp, "", lambda p: f"{p}: the file is empty")


@case("header only")
def _(tmp, _):
    return csv_case(tmp, "a,b,label\n", lambda p: f"{p}: no data rows (only a header)")


@case("ragged rows")
def _(tmp, _):
    return csv_case(tmp, "a,b,label\n1,2,x\n1,2,3,y\n",
                    lambda p: f"{p}: ragged rows: Expected 3 fields in line 3, saw 4")


@case("non-numeric feature value")
def _(tmp, _):
    return csv_case(tmp, "a,b,label\n1,2,x\n3,oops,y\n", lambda p: f"{p}: row 2, column 'b': expected a number, "
                    "got 'oops' (list the column under data.categorical if it is a category)")


@case("infinite feature value")
def _(tmp, _):
    return csv_case(tmp, "a,b,label\n1,2,x\n3,1e39,y\n", lambda p: f"{p}: row 2, column 'b': expected a finite number "
                    "within float32 range (|x| < 3.4e38), got '1e39'")


@case("label column missing")
def _(tmp, _):
    return csv_case(tmp, "a,b,c\n1,2,3\n4,5,6\n",
                    lambda p: f"{p}: label column 'label' not found; columns are: a, b, c")


@case("a single class")
def _(tmp, _):
    return csv_case(tmp, rows("x" * 20), lambda p: "split: the data holds a single class ('x', 20 rows); a classifier "
                    "needs at least two")


@case("a class too small to stratify")
def _(tmp, _):
    return csv_case(tmp, rows("x" * 10 + "y" + "z" * 10), lambda p: "split: class 'y' has 1 row to share between the "
                    "test split and the rest; a stratified split needs at least 2 per class (add rows, drop the "
                    "class, or set split.stratify: false)")


@case("test labels never seen in training")
def _(tmp, _):
    (tmp / "test.csv").write_text(rows("xz"))
    return csv_case(tmp, rows("xy" * 10), lambda p: f"{tmp / 'test.csv'}: labels ['z'] never appear in the training "
                    "data (classes: ['x', 'y'])", test_path=str(tmp / "test.csv"))


@case("NaN left after interpolation")
def _(tmp, _):
    lines = ["s0,s1,s2,s3,s4,label"] + [",".join(f"{i + j}" for j in range(5)) + f",{'xy'[i % 2]}" for i in range(20)]
    lines[8] = "7,,,,11,y"  # a gap of three values; limit 1 fills only one of them
    raw = tiny_config(tmp / "seq.csv", data={"kind": "csv", "path": str(tmp / "seq.csv"), "label": "label",
                                             "sequence": {"channels": 1}},
                      preprocess={"interpolate": {"method": "linear", "limit": 1, "remaining": "fail"}})
    (tmp / "seq.csv").write_text("\n".join(lines) + "\n")
    return train_case(tmp, raw, "preprocess.interpolate (data): 2 values in 1 rows are still missing after "
                      "interpolation (first: row id 7); use policy 'fill' or 'drop' for remaining values, or another "
                      "interpolation", 2, "--no-cache")


# ---- other data kinds --------------------------------------------------------------------------------------

def mnist_folder(tmp: Path) -> Path:
    folder = tmp / "mnist"
    folder.mkdir()
    write_idx(folder / "t10k-images-idx3-ubyte.gz", np.zeros((10, 28, 28), np.uint8))
    write_idx(folder / "t10k-labels-idx1-ubyte.gz", np.arange(10, dtype=np.uint8))
    return folder


@case("wrong IDX magic")
def _(tmp, _):
    labels = mnist_folder(tmp) / "t10k-labels-idx1-ubyte.gz"
    labels.write_bytes(gzip.compress(b"\x00\x00\x09\x01" + (10).to_bytes(4, "big") + bytes(range(10))))
    return train_case(tmp, tiny_config(tmp, data={"kind": "mnist", "path": str(tmp / "mnist")}),
                      f"{labels}: expected IDX magic 0x00000801 (labels) or 0x00000803 (images), got 0x00000901")


@case("truncated .gz")
def _(tmp, _):
    images = mnist_folder(tmp) / "t10k-images-idx3-ubyte.gz"
    images.write_bytes(images.read_bytes()[:40])
    return train_case(tmp, tiny_config(tmp, data={"kind": "mnist", "path": str(tmp / "mnist")}),
                      f"{images}: expected a complete gzip file, got a truncated or corrupt one (Compressed file "
                      "ended before the end-of-stream marker was reached)")


@case("dump without the named table")
def _(tmp, _):
    dump = tmp / "export.sql"
    dump.write_text("CREATE TABLE `beats` (\n  `a` int,\n  `label` varchar(3)\n);\n"
                    "INSERT INTO `beats` VALUES (1,'x'),(2,'y');\n")
    raw = tiny_config(tmp, data={"kind": "mysql", "path": str(dump), "table": "heart", "label": "label"})
    return train_case(tmp, raw, f"{dump}: no table 'heart' in the dump; its tables are: beats")


# ---- configs -----------------------------------------------------------------------------------------------

@case("YAML that is not a mapping")
def _(tmp, _):
    (tmp / "list.yaml").write_text("- data\n- model\n")
    return Case(["train", tmp / "list.yaml", "--runs-dir", tmp / "runs"], f"{tmp / 'list.yaml'}: expected a mapping "
                "of sections (data:, model:, ...) at the top level, got list", runs=tmp / "runs")


@case("a key of the wrong type")
def _(tmp, _):
    config = write_config(tmp, tiny_config(tmp / "blobs.csv", train={"epochs": "many"}))
    return Case(["train", config], f"{config}: train.epochs: Input should be a valid integer, unable to parse string "
                "as an integer (got 'many')")


@case("a wrong type inside a list of strategies")
def _(tmp, _):
    config = write_config(tmp, tiny_config(tmp / "blobs.csv", balance=[{"kind": "weighted_sampler"},
                                                                       {"kind": "focal", "gamma": "big"}]))
    return Case(["train", config], f"{config}: balance.1.gamma: Input should be a valid number, unable to parse "
                "string as a number (got 'big')")


@case("a strategy written as a word")
def _(tmp, _):
    config = write_config(tmp, tiny_config(tmp / "blobs.csv", model="lstm"))
    return Case(["train", config], f"{config}: model: expected a mapping with a kind, e.g. {{kind: lstm}}, got "
                "'lstm'; kinds: dense, cnn1d, lstm")


@case("a config path that does not exist")
def _(tmp, _):
    return Case(["train", tmp / "nope.yaml"], f"{tmp / 'nope.yaml'}: config file not found")


@case("a data path that does not exist")
def _(tmp, _):
    return train_case(tmp, tiny_config(tmp / "nope.csv"), f"{tmp / 'nope.csv'}: data file not found")


@case("a run name that climbs out of the runs folder")
def _(tmp, _):
    write_blobs_csv(tmp / "blobs.csv")
    case = train_case(tmp, tiny_config(tmp / "blobs.csv"), "", 2, "--name", "../escape")
    case.message = f"{case.args[1]}: name: must be letters, digits, '.', '_' or '-' (no '/', no '..') (got '../escape')"
    return case


@case("an absolute run name")
def _(tmp, _):
    write_blobs_csv(tmp / "blobs.csv")
    case = train_case(tmp, tiny_config(tmp / "blobs.csv"), "", 2, "--set", "name=/tmp/x")
    case.message = f"{case.args[1]}: name: must be letters, digits, '.', '_' or '-' (no '/', no '..') (got '/tmp/x')"
    return case


# ---- models and training -----------------------------------------------------------------------------------

@case("a model whose input shape does not fit the data")
def _(tmp, _):
    write_blobs_csv(tmp / "blobs.csv")
    raw = tiny_config(tmp / "blobs.csv", model={"kind": "cnn1d", "channels": [4], "pool": 3, "pool_after": "each"})
    raw["model"]["channels"] = [4, 4]
    return train_case(tmp, raw, "model: cnn1d with 2 pooling layer(s) of size 3 needs inputs of at least 9 time "
                      "steps, the data has shape (4,) (4 time steps); lower model.pool", failed_run=True)


@case("a NaN loss")
def _(tmp, _):
    write_blobs_csv(tmp / "blobs.csv")
    raw = tiny_config(tmp / "blobs.csv", preprocess={"normalize": {"kind": "none"}},
                      train={"epochs": 2, "batch_size": 16, "lr": 1e30})
    return train_case(tmp, raw, "train: the loss became nan at epoch 1, batch 2; usual causes: a learning rate too "
                      "high (try train.lr 10x lower) or unnormalised inputs (set preprocess.normalize.kind: "
                      "standard)", 1, failed_run=True)


# ---- run folders -------------------------------------------------------------------------------------------

@case("evaluate: data whose rows do not fit the model")
def _(tmp, trained):
    wide = write_blobs_csv(tmp / "wide.csv", features=6)
    return Case(["evaluate", trained["a"], "--data", wide], f"{wide}: the model expects rows of shape (4,), the data "
                "has (6,)")


@case("evaluate: a run folder with files missing")
def _(tmp, trained):
    run = shutil.copytree(trained["a"], tmp / "copy")
    (run / "model.pt").unlink()
    (run / "preprocess.npz").unlink()
    return Case(["evaluate", run], f"{run}: not a complete run folder, missing model.pt, preprocess.npz")


@case("evaluate: a folder that does not exist")
def _(tmp, _):
    return Case(["evaluate", tmp / "nope"], f"{tmp / 'nope'}: run folder not found")


@case("compare: runs with different test sets")
def _(tmp, trained):
    a, b = trained["a"], trained["b"]
    fa, fb = (json.loads((r / "metrics.json").read_text())["test_fingerprint"][:12] for r in (a, b))
    return Case(["compare", a, b, "--paired"], f"compare: {a} and {b} were scored on different test rows "
                f"(test_fingerprint {fa} vs {fb}); pass --no-paired to compare the stored metrics only")


def with_status(tmp: Path, trained: dict, status: dict, checkpoint: bool = False) -> Path:
    run = shutil.copytree(trained["a"], tmp / status["status"])
    (run / "status.json").write_text(json.dumps(status))
    if checkpoint:
        (run / "checkpoint.pt").write_bytes(b"")
    return run


NOT_COMPLETED = {
    "failed": ({"status": "failed", "error": "RuntimeError: out of memory"}, False,
               "run failed, not completed: RuntimeError: out of memory"),
    "interrupted": ({"status": "interrupted", "epoch": 2}, True,
                    "run is interrupted, not completed; resume it with imbrun train --resume {run}"),
    "running": ({"status": "running"}, False, "run is running, not completed (still training, or its process was "
                                              "killed); wait for it, or train it again"),
}
for _command in ("evaluate", "compare", "report"):
    for _state, (_status, _checkpoint, _text) in NOT_COMPLETED.items():
        def _build(tmp, trained, command=_command, status=_status, checkpoint=_checkpoint, text=_text):
            run = with_status(tmp, trained, status, checkpoint)
            args = [command, trained["a"], run] if command == "compare" else [command, run]
            return Case(args, f"{run}: " + text.format(run=run))
        CASES[f"{_command}: a {_state} run"] = _build


@case("report: a failed run that wrote no metrics")
def _(tmp, trained):
    run = with_status(tmp, trained, {"status": "failed", "error": "ImbrunError: model: too short"})
    (run / "metrics.json").unlink()
    return Case(["report", run], f"{run}: run failed, not completed: ImbrunError: model: too short")


# ---- the test ----------------------------------------------------------------------------------------------

@pytest.fixture(scope="module")
def trained(tmp_path_factory) -> dict:
    """Two completed runs of the blobs table with different seeds (so different test rows)."""
    root = tmp_path_factory.mktemp("trained")
    csv = write_blobs_csv(root / "blobs.csv")
    runs = {}
    for key, seed in (("a", 0), ("b", 1)):
        config = write_config(root, tiny_config(csv, seed=seed), key)
        result = runner.invoke(app, ["train", str(config), "--runs-dir", str(root / "runs"), "-q"])
        assert result.exit_code == 0, result.output
        runs[key] = Path(result.stdout.strip().removeprefix("run: "))
    return runs


@pytest.mark.parametrize("name", list(CASES))
def test_bad_input_gives_one_clear_line(name, tmp_path, trained):
    case = CASES[name](tmp_path, trained)
    result = runner.invoke(app, [str(a) for a in case.args])
    assert isinstance(result.exception, SystemExit), repr(result.exception)
    assert "Traceback" not in result.output
    assert [line for line in result.stderr.splitlines() if line.startswith("error:")] == [f"error: {case.message}"]
    assert result.exit_code == case.code, result.output
    if case.runs is not None:
        statuses = [json.loads(p.read_text()) for p in case.runs.glob("*/status.json")]
        assert {s["status"] for s in statuses} <= {"failed"}, statuses  # nothing half-written passed off as complete
        if case.failed_run:  # the run keeps what it wrote and says why it failed
            (status,) = statuses
            assert status["error"] == f"ImbrunError: {case.message}"
            assert {"config.yaml", "env.json", "splits.json"} <= {p.name for p in next(case.runs.iterdir()).iterdir()}
        else:
            assert statuses == []  # bad input is found before a run folder is made
