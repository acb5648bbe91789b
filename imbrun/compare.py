"""Side-by-side comparison of run folders: overall metrics, per-class deltas, config differences, statistics.

`compare_runs` returns plain data (JSON-ready dicts and lists); `compare_render` prints or writes it.
The statistics (paired tests, seed groups, class buckets) are assembled in `compare_stats`.
"""

from __future__ import annotations

import glob
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from imbrun.config.loading import read_yaml_mapping
from imbrun.errors import ImbrunError
from imbrun.runs import RunDir

OVERALL_KEYS = ("accuracy", "balanced_accuracy", "macro_f1", "weighted_f1", "mcc", "gmean")
PER_CLASS_KEYS = ("precision", "recall", "f1")


@dataclass
class CompareOptions:
    """Settings of the statistics: bootstrap (resamples, seed, level) and bucket thresholds (many, few)."""

    resamples: int = 1000
    seed: int = 0
    level: float = 0.95
    many: int = 100
    few: int = 20
    paired: bool | None = None  # None: pair the runs that share the baseline's test rows


@dataclass
class RunSummary:
    name: str
    path: Path
    config: dict
    metrics: dict
    source: Path | None = None  # the folder holding config.yaml and balance.json (an eval folder's run)
    _predictions: tuple | None = field(default=None, repr=False, compare=False)  # read once, see predictions()

    @property
    def strategy(self) -> str:
        balance = self.config.get("balance", {})  # one strategy, or a list shown as 'weighted_sampler+focal'
        items = balance if isinstance(balance, list) else [balance]
        return "+".join(str(item.get("kind", "?")) for item in items if isinstance(item, dict)) or "?"

    def train_counts(self) -> dict[str, int] | None:
        """Training class counts by class name from balance.json, or None when the run has none."""
        run = RunDir(self.source or self.path)
        if not run.file("balance.json").is_file():
            return None
        return run.read_json("balance.json").get("class_counts", {}).get("train")

    def predictions(self) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        """(row_ids, true codes, predicted codes) from predictions.csv, codes in the order of class_names."""
        if self._predictions is None:
            self._predictions = self._read_predictions()
        return self._predictions

    def _read_predictions(self) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        import pandas as pd

        path = RunDir(self.path).file("predictions.csv")
        if not path.is_file():
            raise ImbrunError(f"{self.path}: predictions.csv is missing; paired statistics need it "
                              "(pass --no-paired to compare the stored metrics only)")
        try:
            frame = pd.read_csv(path, usecols=["row_id", "true", "pred"], dtype={"true": str, "pred": str})
        except ValueError as exc:
            raise ImbrunError(f"{path}: expected columns row_id, true, pred ({exc})") from None
        names = self.metrics["class_names"]
        index = pd.Index(names, dtype=object)
        true, pred = (index.get_indexer(frame[c].astype(object)).astype(np.int64) for c in ("true", "pred"))
        for column, codes in (("true", true), ("pred", pred)):
            if (codes < 0).any():  # -1: a name that is not one of the run's classes
                raise ImbrunError(f"{path}: {column} class {frame[column].iloc[np.argmax(codes < 0)]!r} "
                                  f"is not one of {names}")
        return frame["row_id"].to_numpy(np.int64), true, pred


def expand_runs(patterns: list[str]) -> list[Path]:
    """Run folders from paths or globs (e.g. 'runs/*ecg*'), in the order given, without duplicates."""
    paths: list[Path] = []
    for pattern in patterns:
        matches = sorted(glob.glob(pattern)) if any(c in pattern for c in "*?[") else [pattern]
        if not matches:
            raise ImbrunError(f"{pattern}: no run folder matches")
        paths += [Path(m) for m in matches if Path(m) not in paths]
    return paths


def load_summary(path: Path) -> RunSummary:
    """A completed run folder, or an eval folder of one (its run's config plus the post-hoc setting)."""
    run = RunDir.open(path, require=("metrics.json", "status.json"), completed=True)
    metrics = run.read_json("metrics.json")
    check_metrics(run.file("metrics.json"), metrics)
    source = run if run.file("config.yaml").is_file() else RunDir(metrics.get("run", run.path))
    if not source.file("config.yaml").is_file():
        raise ImbrunError(f"{run.path}: not a complete run folder, missing config.yaml")
    config = read_yaml_mapping(source.file("config.yaml"))  # a safe loader: no tags that build objects
    if "posthoc" in metrics:  # an eval folder: the post-hoc correction is part of what is compared
        config = {**config, "posthoc": metrics["posthoc"]}
    return RunSummary(run.path.name, run.path, config, metrics, source.path)


def check_metrics(path: Path, metrics) -> None:
    """One line naming metrics.json and the first key compare needs that it lacks (e.g. a run never scored)."""
    test = metrics.get("test") if isinstance(metrics, dict) else None
    needed = [("class_names", isinstance(metrics, dict) and "class_names" in metrics),
              ("test", isinstance(test, dict)),
              *((f"test.{key}", isinstance(test, dict) and key in test) for key in ("overall", "per_class"))]
    missing = next((key for key, present in needed if not present), None)
    if missing is not None:
        raise ImbrunError(f"{path}: has no {missing!r} (the scores of the test split); it is not the metrics.json "
                          "`imbrun train` or `imbrun evaluate` writes, so the run cannot be compared")


def order_with_baseline(paths: list[Path], baseline: Path | None) -> list[Path]:
    """The baseline first (added when it was not among the runs), then the others in the order given."""
    if baseline is None:
        return paths
    rest = [p for p in paths if p.resolve() != baseline.resolve()]
    return [baseline, *rest]


def flatten(mapping: dict, prefix: str = "") -> dict[str, object]:
    """{'a': {'b': 1}} -> {'a.b': 1}."""
    out: dict[str, object] = {}
    for key, value in mapping.items():
        dotted = f"{prefix}{key}"
        if isinstance(value, dict) and value:
            out.update(flatten(value, dotted + "."))
        else:
            out[dotted] = value
    return out


def unique_names(runs: list[RunSummary]) -> None:
    """Runs from different folders may share a folder name; prefix the parent folder to tell them apart."""
    names = [r.name for r in runs]
    for run in runs:
        if names.count(run.name) > 1:
            run.name = f"{run.path.parent.name}/{run.path.name}"


def compare_runs(runs: list[RunSummary], options: CompareOptions | None = None) -> dict:
    """The comparison as plain data; the first run is the baseline of every delta and test.

    Keys: runs, baseline, strategies, overall, per_class, config_differences, same_test_rows,
    paired (None or {settings, mcnemar, intervals}), seed_groups, buckets, warnings.
    """
    from imbrun.compare_stats import bucket_recalls, paired_statistics, seed_groups

    options = options or CompareOptions()
    if len(runs) < 2:
        raise ImbrunError("compare: give at least two run folders")
    unique_names(runs)
    base = runs[0]
    classes = base.metrics["class_names"]
    for run in runs[1:]:
        if run.metrics["class_names"] != classes:
            raise ImbrunError(f"compare: {run.path} has classes {run.metrics['class_names']}, "
                              f"{base.path} has {classes}")
    same_test = len({r.metrics.get("test_fingerprint") for r in runs}) == 1
    paired = paired_statistics(runs, options) if options.paired is not False else None
    return {"runs": [str(r.path) for r in runs], "baseline": str(base.path),
            "strategies": {r.name: r.strategy for r in runs},
            "overall": [{"run": r.name, "strategy": r.strategy,
                         **{k: r.metrics["test"]["overall"][k] for k in OVERALL_KEYS}} for r in runs],
            "per_class": per_class_rows(runs, paired), "config_differences": config_differences(runs),
            "same_test_rows": same_test, "paired": paired, "seed_groups": seed_groups(runs, options),
            "buckets": bucket_recalls(runs, options), "warnings": run_warnings(runs)}


def run_warnings(runs: list[RunSummary]) -> list[dict]:
    """Each run's warnings.json entries (majority collapse, divergence, ...) as {run, code, epoch, message}."""
    from imbrun.diagnose import read_warnings

    return [{"run": r.name, "code": w["code"], "epoch": w.get("epoch"), "message": w["message"]}
            for r in runs for w in read_warnings(RunDir(r.source or r.path))]


def per_class_rows(runs: list[RunSummary], paired: dict | None) -> list[dict]:
    """One row per (class, run): precision, recall, F1, their deltas to the baseline, recall significance."""
    base = runs[0]
    significant = {(row["run"], row["metric"]): row["significant"] for row in (paired or {}).get("intervals", [])}
    rows = []
    for name in base.metrics["class_names"]:
        ref = base.metrics["test"]["per_class"][name]
        for run in runs:
            values = run.metrics["test"]["per_class"][name]
            row = {"class": name, "run": run.name, "support": values["support"]}
            for key in PER_CLASS_KEYS:
                row[key] = values[key]
                row[f"d_{key}"] = values[key] - ref[key]
            row["recall_significant"] = significant.get((run.name, f"recall[{name}]"))
            rows.append(row)
    return rows


def config_differences(runs: list[RunSummary]) -> dict[str, list]:
    """{dotted key: value in each run} for every config key whose value is not the same in all runs."""
    flat = [flatten(r.config) for r in runs]
    keys = sorted(set().union(*flat))
    return {k: [f.get(k) for f in flat] for k in keys if len({repr(f.get(k)) for f in flat}) > 1}
