"""`imbrun runs`: one row per run folder (status, data, model, strategy, scores, duration); `runs rm` cleans up.

Run folders are found in DIR and one level down in sweep folders (`<sweep>/<trial run>/`, listed as
`<sweep>/<trial run>`). Every file of a run is read through RunDir; a damaged file shows as a blank cell rather
than stopping the listing.
"""

from __future__ import annotations

import math
import shutil
import time
from dataclasses import asdict, dataclass, field
from pathlib import Path

import yaml

from imbrun.errors import ImbrunError
from imbrun.runs import RunDir

REMOVABLE = ("failed", "interrupted")  # completed (and running) runs are never deleted
COLUMN_KEYS = ("time", "name", "status", "data", "model", "strategy", "minority_recall", "duration")
METRIC_KEYS = ("accuracy", "balanced_accuracy", "macro_f1", "weighted_f1", "mcc", "gmean")  # metrics.summary


@dataclass
class RunRow:
    name: str
    time: str
    status: str
    data: str
    model: str
    strategy: str
    macro_f1: float | None
    minority_recall: float | None
    minority_class: str | None
    duration: float | None  # seconds
    path: str
    sweep: str | None = None  # the sweep folder a trial run is in
    overall: dict[str, float] = field(default_factory=dict)  # metrics.json test.overall (numbers only)


def run_folders(runs_dir: str | Path) -> list[RunDir]:
    """Sub-folders of `runs_dir` that look like runs, then the runs inside each other sub-folder (a sweep), by name."""
    root = Path(runs_dir)
    if not root.is_dir():
        raise ImbrunError(f"{root}: runs folder not found")
    found = []
    for path in sorted(p for p in root.iterdir() if p.is_dir()):
        if _is_run(path):
            found.append(RunDir(path))
        else:  # a sweep folder (sweep.yaml, trials.json) holds one run folder per trial: one level only
            found += [RunDir(p) for p in _sub_folders(path) if _is_run(p)]
    return found


def _sub_folders(path: Path) -> list[Path]:
    try:
        return sorted(p for p in path.iterdir() if p.is_dir())
    except OSError:  # an unreadable folder is not a sweep we can list
        return []


def _is_run(path: Path) -> bool:
    return (path / "status.json").is_file() or (path / "config.yaml").is_file()


def sort_keys(rows: list[RunRow]) -> list[str]:
    """What --sort accepts: the columns, the summary metrics and any other test.overall score of the runs."""
    found = sorted({k for r in rows for k in r.overall} - set(METRIC_KEYS))
    return list(COLUMN_KEYS) + list(METRIC_KEYS) + found


def list_runs(runs_dir: str | Path, status: str | None = None, grep: str | None = None,
              sort: str = "time") -> list[RunRow]:
    """The rows of `imbrun runs`, filtered by status and a case-insensitive text, sorted (scores: best first).

    Example: list_runs("runs", status="completed", grep="focal", sort="macro_f1")
    """
    rows = [run_row(run, Path(runs_dir)) for run in run_folders(runs_dir)]
    valid = sort_keys(rows)
    if sort not in valid:
        raise ImbrunError(f"--sort: expected one of {', '.join(valid)}, got {sort!r}")
    if status:
        rows = [r for r in rows if r.status == status]
    if grep:
        needle = grep.lower()
        rows = [r for r in rows if needle in " ".join((r.name, r.data, r.model, r.strategy, r.status)).lower()]
    if sort in ("minority_recall", "duration") or sort not in COLUMN_KEYS:
        value = (lambda r: getattr(r, sort)) if sort in COLUMN_KEYS else (lambda r: r.overall.get(sort))
        present = [r for r in rows if value(r) is not None]
        return sorted(present, key=value, reverse=sort != "duration") + [r for r in rows if value(r) is None]
    return sorted(rows, key=lambda r: getattr(r, sort))


def run_row(run: RunDir, runs_dir: Path | None = None) -> RunRow:
    """What one run folder says about itself; missing or damaged pieces are None / ''.

    A run inside a sweep folder of `runs_dir` is named `<sweep folder>/<run folder>`.
    """
    config = _read(lambda: yaml.safe_load(run.file("config.yaml").read_text(encoding="utf-8"))) or {}
    metrics = _read(lambda: run.read_json("metrics.json")) or {}
    balance = _read(lambda: run.read_json("balance.json")) or {}
    state = _read(lambda: run.read_json("status.json")) or {}
    minority, recall = minority_recall(metrics, balance)
    sweep = run.path.parent.name if runs_dir is not None and run.path.parent != runs_dir else None
    overall = _overall(metrics)
    return RunRow(name=f"{sweep}/{run.path.name}" if sweep else run.path.name, time=_started(run),
                  status=state.get("status", "unknown"),
                  data=_data_label(config.get("data") or {}), model=str((config.get("model") or {}).get("kind", "")),
                  strategy=_strategy(config.get("balance"), balance), macro_f1=overall.get("macro_f1"),
                  minority_recall=recall, minority_class=minority, duration=duration(run, state),
                  path=str(run.path), sweep=sweep, overall=overall)


def minority_recall(metrics: dict, balance: dict) -> tuple[str | None, float | None]:
    """(class, test recall) of the class with the fewest training rows (balance.json class_counts.train)."""
    train = (balance.get("class_counts") or {}).get("train") or {}
    per_class = (metrics.get("test") or {}).get("per_class") or {}
    if not train or not per_class:
        return None, None
    name = min(train, key=train.get)
    return name, per_class.get(name, {}).get("recall")


def duration(run: RunDir, state: dict) -> float | None:
    """Seconds of training: the sum of history.csv's `seconds`, else status time minus the folder's time stamp."""
    history = run.file("history.csv")
    if history.is_file():
        import pandas as pd

        frame = _read(lambda: pd.read_csv(history))
        if frame is not None and "seconds" in frame and len(frame):
            return float(frame["seconds"].sum())
    started, ended = _stamp(run.path.name), _iso(state.get("time"))
    return ended - started if started is not None and ended is not None and ended >= started else None


def remove_runs(runs_dir: str | Path, status: str | None = None) -> list[RunDir]:
    """The failed/interrupted run folders `runs rm` would delete (never completed or running ones)."""
    wanted = (status,) if status else REMOVABLE
    if any(s not in REMOVABLE for s in wanted):
        raise ImbrunError(f"--status: runs rm deletes only {' or '.join(REMOVABLE)} runs, got {status!r}")
    return [run for run in run_folders(runs_dir) if run.status() in wanted]


def delete_runs(runs: list[RunDir]) -> None:
    """Delete run folders, re-checking each one's status first (a run may have finished meanwhile)."""
    for run in runs:
        if run.status() in REMOVABLE:
            shutil.rmtree(run.path)


def rows_as_dicts(rows: list[RunRow]) -> list[dict]:
    return [asdict(r) for r in rows]


def _read(load):
    try:
        return load()
    except (ImbrunError, OSError, ValueError, yaml.YAMLError):
        return None


def _overall(metrics: dict) -> dict[str, float]:
    """test.overall of metrics.json: its numeric, non-NaN scores."""
    overall = (metrics.get("test") or {}).get("overall") if isinstance(metrics.get("test"), dict) else None
    return {k: float(v) for k, v in (overall if isinstance(overall, dict) else {}).items()
            if isinstance(v, (int, float)) and not isinstance(v, bool) and not math.isnan(v)}


def _data_label(data: dict) -> str:
    where = data.get("path") or data.get("table") or ""
    return f"{data.get('kind', '')} {Path(str(where)).name}".strip()


def _strategy(config_balance, balance: dict) -> str:
    if balance.get("strategy"):
        return str(balance["strategy"])
    if isinstance(config_balance, list):
        return "+".join(str(item.get("kind", "?")) for item in config_balance)
    return str((config_balance or {}).get("kind", ""))


def _started(run: RunDir) -> str:
    """The folder's time stamp (YYYYmmdd-HHMMSS prefix) as `YYYY-mm-dd HH:MM`, else its modification time."""
    stamp = _stamp(run.path.name)
    return time.strftime("%Y-%m-%d %H:%M", time.localtime(stamp if stamp is not None else run.path.stat().st_mtime))


def _stamp(name: str) -> float | None:
    try:
        return time.mktime(time.strptime(name[:15], "%Y%m%d-%H%M%S"))
    except ValueError:
        return None


def _iso(text: str | None) -> float | None:
    if not text:
        return None
    try:
        return time.mktime(time.strptime(text[:19], "%Y-%m-%dT%H:%M:%S"))
    except ValueError:
        return None


def runs_table(rows: list[RunRow], metric: str | None = None):
    """A rich Table of the rows: the columns of `imbrun runs`, plus `metric` (a test.overall score) when given."""
    from rich.table import Table

    extra = [metric] if metric and metric not in COLUMN_KEYS and metric != "macro_f1" else []
    scores = ("macro-F1", *extra, "minority recall", "duration")
    table = Table(title=f"{len(rows)} run(s)", title_justify="left")
    for column in ("name", "time", "status", "data", "model", "strategy", *scores):
        table.add_column(column, justify="right" if column in scores else "left", no_wrap=True)
    for r in rows:
        recall = "" if r.minority_recall is None else f"{r.minority_recall:.3f} ({r.minority_class})"
        values = [_score(r.macro_f1)] + [_score(r.overall.get(m)) for m in extra]
        table.add_row(r.name, r.time[5:], r.status, r.data, r.model, r.strategy, *values, recall,
                      format_duration(r.duration))
    return table


def _score(value: float | None) -> str:
    return "" if value is None else f"{value:.3f}"


def format_duration(seconds: float | None) -> str:
    """`0.38s`, `4.2s`, `3m05s`, `1h02m`; blank when unknown."""
    if seconds is None:
        return ""
    if seconds < 60:
        return f"{seconds:.2f}s" if seconds < 1 else f"{seconds:.1f}s"
    minutes, secs = divmod(int(round(seconds)), 60)
    return f"{minutes}m{secs:02d}s" if minutes < 60 else f"{minutes // 60}h{minutes % 60:02d}m"


def list_command(console, runs_dir: Path, status: str | None, grep: str | None, sort: str, fmt: str) -> None:
    """`imbrun runs`: the table, or a JSON list of rows."""
    import json
    import sys

    rows = list_runs(runs_dir, status, grep, sort)
    if fmt == "json":
        sys.stdout.write(json.dumps(rows_as_dicts(rows), indent=2) + "\n")
    else:
        console.print(runs_table(rows, sort))


def rm_command(console, runs_dir: Path, status: str | None, confirm) -> None:
    """`imbrun runs rm`: list what would go, ask `confirm(question) -> bool` (True: --yes), then delete."""
    doomed = remove_runs(runs_dir, status)
    if not doomed:
        console.print(f"nothing to delete in {runs_dir} (no {status or ' or '.join(REMOVABLE)} runs)",
                      highlight=False, soft_wrap=True)
        return
    for run in doomed:
        console.print(f"{run.status():<12} {run.path}", highlight=False, soft_wrap=True, markup=False)
    if confirm is not True and not confirm(f"delete these {len(doomed)} run folder(s)?"):
        console.print("nothing deleted", highlight=False)
        return
    delete_runs(doomed)
    console.print(f"deleted {len(doomed)} run folder(s)", highlight=False)
