"""Random small CSVs and random configs never end in a traceback: a completed run, or one `error:` line.

Hypothesis draws tables with random shapes, empty cells, words among numbers, ragged rows, a single class or
classes of one row, and configs with every model kind, every balancing strategy and random split sizes; each
example runs the real `imbrun train` in-process (one epoch), then `imbrun evaluate` on a completed run, which
must reproduce its stored metrics.
"""

import hashlib
import json
import tempfile
from pathlib import Path

import numpy as np
import yaml
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from typer.testing import CliRunner

from imbrun.balance import STRATEGIES
from imbrun.cli import app

runner = CliRunner()

DAMAGE = st.sampled_from(["", "nan", "?", "x", "abc", "1e309", " 2 ", "-0", "3e38"])
LABELS = ["a", "b", "c", "7"]


@st.composite
def tables(draw) -> tuple[str, bool]:
    """(CSV text, whether it has a header); the label is the last column.

    Numbers, then a few cells damaged (empty, a word, too large), now and then a ragged row.
    """
    rows = draw(st.integers(0, 40))
    features = draw(st.integers(1, 5))
    classes = draw(st.sampled_from([3, 2, 4, 1]))  # hypothesis favours the first: most tables can train
    weights = np.array(draw(st.lists(st.integers(1, 10), min_size=classes, max_size=classes)), float)  # skewed
    header = draw(st.booleans())
    rng = np.random.default_rng(draw(st.integers(0, 2**16)))  # labels and values: hypothesis favours the first
    labels = rng.choice(len(weights), size=rows, p=weights / weights.sum())
    values = rng.normal(labels[:, None], 1.0, size=(rows, features))  # one blob per class
    table = [[f"{v:.3f}" for v in values[i]] + [LABELS[labels[i]]] for i in range(rows)]
    for _ in range(draw(st.integers(0, 2)) if rows else 0):
        table[draw(st.integers(0, rows - 1))][draw(st.integers(0, features - 1))] = draw(DAMAGE)
    lines = [",".join([f"f{i}" for i in range(features)] + ["label"])] if header else []
    lines += [",".join(r) for r in table]
    if lines and draw(st.integers(0, 9)) == 7:  # now and then a ragged row (not 0: hypothesis favours it)
        lines[-1] += ",9"
    return "\n".join(lines) + ("\n" if lines else ""), header


MODELS = [
    {"kind": "dense", "hidden": [4]},
    {"kind": "cnn1d", "channels": [2], "kernel_size": 3, "hidden": [4], "pool": 2},
    {"kind": "cnn1d", "channels": [2, 2], "kernel_size": 2, "hidden": [], "pool": 3, "pool_after": "each"},
    {"kind": "lstm", "hidden_size": 3},
]
BALANCE = [{"kind": kind} for kind in STRATEGIES] + [[{"kind": "weighted_sampler"}, {"kind": "focal"}],
                                                       [{"kind": "smote"}, {"kind": "threshold"}]]


@st.composite
def configs(draw, csv_path: Path, header: bool, salt: str) -> dict:
    # model and strategy by a hash of the table: every strategy gets its turn within a few dozen examples
    # (sampled_from mostly picks the first few entries, drawn numbers repeat)
    pick = int(hashlib.sha256(salt.encode()).hexdigest(), 16) + draw(st.integers(0, 3))
    model, balance = MODELS[pick % len(MODELS)], BALANCE[pick // len(MODELS) % len(BALANCE)]
    test_size = draw(st.sampled_from([0.2, 0.3, 0.5]))
    return {
        "name": "prop",
        "seed": draw(st.integers(0, 3)),
        "data": {"kind": "csv", "path": str(csv_path), "label": "label" if header else -1,
                 "header": header if draw(st.booleans()) else "auto",
                 "sequence": draw(st.sampled_from([None, {"channels": 1}]))},
        "split": {"test_size": test_size, "val_size": draw(st.sampled_from([0.1, 0.2, 0.3])),
                  "stratify": draw(st.booleans())},
        "preprocess": {"impute": draw(st.sampled_from(["mean", "median", "zero", "none"])),
                       "normalize": {"kind": draw(st.sampled_from(["none", "minmax", "standard"]))}},
        "model": model,
        "balance": balance,
        "train": {"epochs": 1, "batch_size": draw(st.integers(1, 16)), "lr": 0.01, "device": "cpu"},
    }


@settings(max_examples=40, deadline=None, derandomize=True, suppress_health_check=list(HealthCheck))
@given(data=st.data())
def test_random_tables_and_configs_give_a_run_or_one_error_line(data):
    table, header = data.draw(tables(), label="table")
    with tempfile.TemporaryDirectory() as folder:
        root = Path(folder)
        (root / "t.csv").write_text(table)
        config = data.draw(configs(root / "t.csv", header, table), label="config")
        (root / "exp.yaml").write_text(yaml.safe_dump(config))
        result = runner.invoke(app, ["train", str(root / "exp.yaml"), "--runs-dir", str(root / "runs"), "-q"])
        statuses = [json.loads(p.read_text())["status"] for p in (root / "runs").glob("*/status.json")]
        runs = [str(p) for p in (root / "runs").glob("*")]
        again = runner.invoke(app, ["evaluate", *runs]) if result.exit_code == 0 else None
    assert result.exception is None or isinstance(result.exception, SystemExit), repr(result.exception)
    assert "Traceback" not in result.output
    errors = [line for line in result.stderr.splitlines() if line.startswith("error:")]
    if result.exit_code == 0:
        assert statuses == ["completed"] and errors == []
        assert again.exit_code == 0 and "matches the stored metrics.json" in again.stdout, again.output
        return
    assert result.exit_code in (1, 2), result.output
    assert len(errors) == 1 and "internal error" not in errors[0], result.stderr
    assert "completed" not in statuses  # nothing half-written passed off as complete
