"""`imbrun compare` on hand-written run folders: alignment by row_id, refusals, seed groups, buckets, CLI formats."""

import json

import numpy as np
import pytest
import yaml
from typer.testing import CliRunner

from imbrun.artifacts import predictions_frame
from imbrun.cli import app
from imbrun.compare import CompareOptions, compare_runs, expand_runs, load_summary
from imbrun.errors import ImbrunError
from imbrun.metrics import report
from imbrun.runs import RunDir
from imbrun.stats import test_fingerprint

CLASSES = ["a", "b", "c"]
# 12 test rows. Against Y, run A misses rows 8-11 (b -> a twice, c -> a twice); run B misses rows 5 and 9.
Y = [0, 0, 0, 0, 0, 0, 1, 1, 1, 1, 2, 2]
PRED_A = [0, 0, 0, 0, 0, 0, 1, 1, 0, 0, 0, 0]
PRED_B = [0, 0, 0, 0, 0, 1, 1, 1, 1, 0, 2, 2]
IDS = list(range(100, 112))


def base_config(**changes) -> dict:
    config = {"name": "t", "seed": 0, "data": {"kind": "csv", "path": "x.csv"}, "split": {"seed": None},
              "balance": {"kind": "none"}}
    for key, value in changes.items():
        section, _, leaf = key.partition("__")
        if leaf:
            config[section] = {**config[section], leaf: value}
        else:
            config[section] = value
    return config


def write_run(root, name, y=Y, pred=PRED_A, config=None, ids=IDS, train_counts=(150, 50, 5),
              status="completed", reverse_rows=False):
    """A run folder as `imbrun train` writes it (without model files): config, metrics, predictions, balance."""
    run = RunDir(root / name)
    run.path.mkdir(parents=True)
    y, pred, ids = np.asarray(y), np.asarray(pred), np.asarray(ids)
    run.write_text("config.yaml", yaml.safe_dump(config or base_config()))
    run.write_json("metrics.json", {"class_names": CLASSES, "test": report(y, pred, CLASSES),
                                    "test_fingerprint": test_fingerprint(ids, y)})
    order = np.arange(len(y))[::-1] if reverse_rows else np.arange(len(y))
    probs = np.eye(len(CLASSES))[pred]
    run.write_frame("predictions.csv", predictions_frame(ids[order], y[order], pred[order], probs[order], CLASSES))
    run.write_json("balance.json", {"class_counts": {"train": dict(zip(CLASSES, train_counts))}})
    run.set_status(status)
    return run.path


def compare(paths, **options):
    return compare_runs([load_summary(p) for p in paths], CompareOptions(resamples=200, **options))


def test_paired_statistics_align_rows_by_row_id(tmp_path):
    # B's predictions.csv lists the rows in reverse order: alignment by row_id must undo it.
    result = compare([write_run(tmp_path, "A"), write_run(tmp_path, "B", pred=PRED_B, reverse_rows=True)])
    # b = rows A got right and B wrong = {5}; c = {8, 10, 11}; p = 2 * (1 + 4) / 2**4.
    assert result["paired"]["mcnemar"] == [{"run": "B", "baseline": "A", "rows": 12, "base_right_run_wrong": 1,
                                            "base_wrong_run_right": 3, "pvalue": 0.625, "significant": False}]
    deltas = {row["metric"]: row["delta"] for row in result["paired"]["intervals"]}
    assert deltas["recall[a]"] == pytest.approx(5 / 6 - 1, abs=1e-12)
    assert deltas["recall[b]"] == pytest.approx(0.25, abs=1e-12)
    assert deltas["recall[c]"] == pytest.approx(1.0, abs=1e-12)
    assert deltas["balanced_accuracy"] == pytest.approx((-1 / 6 + 0.25 + 1.0) / 3, abs=1e-12)
    recall_c = [r for r in result["per_class"] if r["class"] == "c" and r["run"] == "B"][0]
    # Every resample holding a row of class c has recall 0 for A and 1 for B: the interval is [1, 1].
    assert recall_c["d_recall"] == 1.0 and recall_c["recall_significant"] is True
    recall_a = [r for r in result["per_class"] if r["class"] == "a" and r["run"] == "B"][0]
    assert recall_a["recall_significant"] is False  # one row of six changed: the interval reaches 0


def test_different_test_rows_are_refused_or_skipped(tmp_path):
    a = write_run(tmp_path, "A")
    b = write_run(tmp_path, "B", pred=PRED_B, ids=list(range(200, 212)))
    with pytest.raises(ImbrunError) as err:
        compare([a, b], paired=True)
    fa, fb = test_fingerprint(np.array(IDS), np.array(Y))[:12], test_fingerprint(np.arange(200, 212), np.array(Y))[:12]
    assert str(err.value) == (f"compare: {a} and {b} were scored on different test rows (test_fingerprint {fa} vs "
                              f"{fb}); pass --no-paired to compare the stored metrics only")
    result = compare([a, b])  # default: the overall tables still compare, the paired test is skipped
    assert result["paired"]["mcnemar"] == []
    assert result["paired"]["skipped"] == [f"{a} and {b} were scored on different test rows "
                                           f"(test_fingerprint {fa} vs {fb})"]
    assert compare([a, b], paired=False)["paired"] is None


def test_refuses_incomplete_runs_and_other_classes(tmp_path):
    running = write_run(tmp_path, "R", status="running")
    with pytest.raises(ImbrunError) as err:
        load_summary(running)
    assert str(err.value) == (f"{running}: run is running, not completed (still training, or its process was "
                              "killed); wait for it, or train it again")
    with pytest.raises(ImbrunError) as err:
        compare([write_run(tmp_path, "A")])
    assert str(err.value) == "compare: give at least two run folders"


def test_seed_groups_use_per_seed_values(tmp_path):
    from scipy import stats as sps

    recall_c = {}
    paths = []
    for kind, seeds, preds in (("none", (1, 2), (PRED_A, PRED_B)), ("focal", (1, 2, 3), (PRED_B, PRED_B, PRED_A))):
        for seed, pred in zip(seeds, preds):
            config = base_config(seed=seed, split__seed=seed + 10, balance={"kind": kind})
            paths.append(write_run(tmp_path, f"{kind}{seed}", pred=pred, config=config))
            recall_c.setdefault(kind, []).append(1.0 if pred is PRED_B else 0.0)
    groups = compare(paths)["seed_groups"]
    assert groups["members"] == {"G1 none": ["none1", "none2"], "G2 focal": ["focal1", "focal2", "focal3"]}
    row = [r for r in groups["summary"] if r["group"] == "G2 focal" and r["metric"] == "recall[c]"][0]
    assert row["n"] == 3 and row["mean"] == pytest.approx(2 / 3) and row["std"] == pytest.approx(np.sqrt(1 / 3))
    welch = [r for r in groups["welch"] if r["metric"] == "recall[c]"][0]
    expected = sps.ttest_ind(recall_c["none"], recall_c["focal"], equal_var=False).pvalue
    assert welch["pvalue"] == pytest.approx(expected, abs=1e-12)
    assert welch["delta_mean"] == pytest.approx(2 / 3 - 1 / 2)


def test_no_seed_groups_when_every_config_differs(tmp_path):
    paths = [write_run(tmp_path, "A"), write_run(tmp_path, "B", config=base_config(balance={"kind": "focal"}))]
    assert compare(paths)["seed_groups"] is None


def test_buckets_follow_training_counts(tmp_path):
    result = compare([write_run(tmp_path, "A"), write_run(tmp_path, "B", pred=PRED_B)], many=100, few=20)
    buckets = result["buckets"]
    assert buckets["classes"] == {"a": {"bucket": "many", "train_count": 150},
                                  "b": {"bucket": "medium", "train_count": 50},
                                  "c": {"bucket": "few", "train_count": 5}}
    assert buckets["rows"] == [
        {"run": "A", "bucket": "many", "classes": 1, "mean_recall": 1.0},
        {"run": "A", "bucket": "medium", "classes": 1, "mean_recall": 0.5},
        {"run": "A", "bucket": "few", "classes": 1, "mean_recall": 0.0},
        {"run": "B", "bucket": "many", "classes": 1, "mean_recall": 5 / 6},
        {"run": "B", "bucket": "medium", "classes": 1, "mean_recall": 0.75},
        {"run": "B", "bucket": "few", "classes": 1, "mean_recall": 1.0}]
    moved = compare([write_run(tmp_path, "C"), write_run(tmp_path, "D")], many=40, few=6)["buckets"]["classes"]
    assert [v["bucket"] for v in moved.values()] == ["many", "many", "few"]


def test_globs_expand_in_order(tmp_path):
    for name in ("x_b", "x_a", "y"):
        write_run(tmp_path, name)
    assert expand_runs([str(tmp_path / "x_*")]) == [tmp_path / "x_a", tmp_path / "x_b"]
    with pytest.raises(ImbrunError) as err:
        expand_runs([str(tmp_path / "z*")])
    assert str(err.value) == f"{tmp_path / 'z*'}: no run folder matches"


@pytest.fixture
def two_runs(tmp_path):
    focal = base_config(balance={"kind": "focal"})
    return write_run(tmp_path, "A"), write_run(tmp_path, "B", pred=PRED_B, config=focal)


def invoke(*args):
    return CliRunner().invoke(app, ["compare", *map(str, args), "--resamples", "100"])


def test_cli_json_and_baseline(two_runs):
    a, b = two_runs
    out = invoke(b, a, "--baseline", a, "--format", "json")
    assert out.exit_code == 0, out.output
    result = json.loads(out.stdout)
    assert result["baseline"] == str(a) and result["runs"] == [str(a), str(b)]
    assert result["paired"]["settings"] == {"resamples": 100, "seed": 0, "level": 0.95}
    assert result["strategies"] == {"A": "none", "B": "focal"}
    assert result["config_differences"] == {"balance.kind": ["none", "focal"]}


def test_cli_markdown_table_and_csv(two_runs):
    a, b = two_runs
    markdown = invoke(a, b, "-f", "markdown")
    assert markdown.exit_code == 0
    assert "| c | B | 2 | 1.0000 | +1.0000 | 1.0000 | +1.0000* | 1.0000 | +1.0000 |" in markdown.stdout
    assert "| B | 12 | 1 | 3 | 0.6250 |  |" in markdown.stdout
    table = invoke(a, b)
    assert table.exit_code == 0 and "McNemar exact test" in table.stdout and "Mean recall by training" in table.stdout
    csv_out = invoke(a, b, "-f", "csv").stdout.splitlines()
    # Values checked against sklearn (accuracy, balanced accuracy, macro/weighted F1, MCC) and imblearn (G-mean).
    assert csv_out[:4] == ["# Overall (test split)", "run,strategy,accuracy,balanced_accuracy,macro_f1,weighted_f1,"
                           "mcc,gmean", "A,none,0.6667,0.5000,0.4722,0.5972,0.4719,0.0000",
                           "B,focal,0.8333,0.8611,0.8611,0.8333,0.7273,0.8550"]
    assert csv_out[4:6] == ["", "# Per class (deltas against the baseline, * = bootstrap interval excludes 0)"]


def test_cli_out_writes_tables_and_figures(two_runs, tmp_path):
    a, b = two_runs
    out = invoke(a, b, "--out", tmp_path / "cmp", "-f", "json")
    assert out.exit_code == 0, out.output
    files = sorted(p.name for p in (tmp_path / "cmp").iterdir())
    assert files == ["bootstrap.csv", "buckets.csv", "comparison.json", "comparison.md", "config_differences.csv",
                     "confusion_diff_01.png", "mcnemar.csv", "overall.csv", "per_class.csv", "per_class_f1.png"]
    assert (tmp_path / "cmp" / "per_class_f1.png").read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
    assert (tmp_path / "cmp" / "mcnemar.csv").read_text().splitlines()[1] == "B,A,12,1,3,0.625,False"


def test_cli_errors_are_one_line(two_runs, tmp_path):
    a, _ = two_runs
    out = invoke(a, tmp_path / "missing")
    assert out.exit_code == 2
    assert out.output.strip() == f"error: {tmp_path / 'missing'}: run folder not found"


def test_predictions_that_contradict_the_fingerprint_are_refused(tmp_path):
    a, b = write_run(tmp_path, "A"), write_run(tmp_path, "B", pred=PRED_B)
    lines = (b / "predictions.csv").read_text().splitlines()
    assert lines[1].startswith("100,a,a,")
    (b / "predictions.csv").write_text("\n".join([lines[0], "100,b" + lines[1][5:], *lines[2:]]) + "\n")
    with pytest.raises(ImbrunError) as err:
        compare([a, b])
    assert str(err.value) == f"compare: {a} and {b} disagree on the true class of row_id 100"
    (b / "predictions.csv").write_text("\n".join([lines[0], "100,a,z" + lines[1][7:], *lines[2:]]) + "\n")
    with pytest.raises(ImbrunError) as err:
        compare([a, b])
    assert str(err.value) == f"{b / 'predictions.csv'}: pred class 'z' is not one of ['a', 'b', 'c']"


def test_cli_refuses_a_metrics_json_without_test_scores(two_runs):
    a, b = two_runs
    metrics = json.loads((b / "metrics.json").read_text())
    (b / "metrics.json").write_text(json.dumps({"class_names": metrics["class_names"]}))
    out = invoke(a, b)
    assert out.exit_code == 2
    assert out.output.strip() == (f"error: {b / 'metrics.json'}: has no 'test' (the scores of the test split); it is "
                                  "not the metrics.json `imbrun train` or `imbrun evaluate` writes, so the run "
                                  "cannot be compared")
    (b / "metrics.json").write_text(json.dumps({**metrics, "test": {"overall": metrics["test"]["overall"]}}))
    assert f"{b / 'metrics.json'}: has no 'test.per_class'" in invoke(a, b).output


def test_seed_group_title_follows_the_level(tmp_path):
    paths = [write_run(tmp_path, f"none{seed}", pred=pred, config=base_config(seed=seed))
             for seed, pred in ((1, PRED_A), (2, PRED_B))]
    out = invoke(*paths, "--level", "0.9", "-f", "markdown")
    assert out.exit_code == 0, out.output
    assert "### Seed groups: mean ± std and 90% t interval" in out.stdout
    assert "### Paired bootstrap, run - baseline (100 resamples, 90% interval)" in out.stdout
    assert "95%" not in out.stdout
    assert json.loads(invoke(*paths, "--level", "0.9", "-f", "json").stdout)["seed_groups"]["level"] == 0.9
    assert "97.5% t interval" in invoke(*paths, "--level", "0.975", "-f", "markdown").stdout
