"""Side-by-side comparison of run folders: overall metrics, per-class F1/recall deltas, config differences."""

from __future__ import annotations

import glob
from dataclasses import dataclass
from pathlib import Path

import yaml

from imbrun.errors import ImbrunError
from imbrun.runs import RunDir

OVERALL_KEYS = ("accuracy", "balanced_accuracy", "macro_f1", "weighted_f1", "mcc", "gmean")


@dataclass
class RunSummary:
    name: str
    path: Path
    config: dict
    metrics: dict

    @property
    def strategy(self) -> str:
        return str(self.config.get("balance", {}).get("kind", "?"))


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
    run = RunDir.open(path, require=("config.yaml", "metrics.json", "status.json"))
    status = run.status()
    if status != "completed":
        raise ImbrunError(f"{run.path}: run is {status}, not completed; its metrics cannot be compared")
    config = yaml.safe_load(run.file("config.yaml").read_text(encoding="utf-8")) or {}
    return RunSummary(run.path.name, run.path, config, run.read_json("metrics.json"))


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


def compare_runs(runs: list[RunSummary]) -> dict:
    """The comparison as plain data: overall, per-class (with deltas to the first run) and differing keys."""
    if len(runs) < 2:
        raise ImbrunError("compare: give at least two run folders")
    base = runs[0]
    classes = base.metrics["class_names"]
    for run in runs[1:]:
        if run.metrics["class_names"] != classes:
            raise ImbrunError(f"compare: {run.path} has classes {run.metrics['class_names']}, "
                              f"{base.path} has {classes}")
    overall = [{"run": r.name, "strategy": r.strategy,
                **{k: r.metrics["test"]["overall"][k] for k in OVERALL_KEYS}} for r in runs]
    per_class = []
    for name in classes:
        ref = base.metrics["test"]["per_class"][name]
        for run in runs:
            values = run.metrics["test"]["per_class"][name]
            per_class.append({"class": name, "run": run.name, "support": values["support"],
                              "recall": values["recall"], "f1": values["f1"],
                              "d_recall": values["recall"] - ref["recall"], "d_f1": values["f1"] - ref["f1"]})
    flat = [flatten(r.config) for r in runs]
    keys = sorted(set().union(*flat))
    differing = {k: [f.get(k) for f in flat] for k in keys if len({repr(f.get(k)) for f in flat}) > 1}
    same_test = len({r.metrics.get("test_fingerprint") for r in runs}) == 1
    return {"runs": [str(r.path) for r in runs], "baseline": str(base.path), "overall": overall,
            "per_class": per_class, "config_differences": differing, "same_test_rows": same_test}
