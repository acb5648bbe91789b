"""`imbrun sweep`: run every trial of a sweep file as an ordinary run folder, then rank the configurations.

    runs/<sweep-name>_<YYYYmmdd-HHMMSS>/
      sweep.yaml        the resolved spec (base config inline): enough to resume without the original files
      trials.json       trial -> overrides, run folder, status, error (rewritten after every trial)
      leaderboard.csv   mean ± std of the metric per configuration over seeds/folds, failed trials last
      <YYYYmmdd-HHMMSS>_<trial name>/   one run folder per trial (`evaluate`, `compare` work on them)

Example: imbrun sweep configs/sweep_quickstart.yaml --workers 2
"""

from __future__ import annotations

import json
import time
from contextlib import nullcontext
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pandas as pd
import yaml

from imbrun.atomic import atomic_write
from imbrun.errors import ImbrunError
from imbrun.redact import redact_urls_in
from imbrun.runs import RunDir
from imbrun.sweep_board import build_leaderboard
from imbrun.sweep_ray import RayOptions, import_ray, ray_session, run_ray
from imbrun.sweep_local import run_local
from imbrun.sweep_spec import SweepSpec, load_sweep_spec, parse_sweep_spec
from imbrun.sweep_trials import Trial, expand_trials, trial_configs

BACKENDS = ("local", "ray")


@dataclass
class SweepOptions:
    """How trials run: `backend` local (`workers` processes) or ray (`ray` options)."""

    backend: str = "local"
    workers: int = 1
    ray: RayOptions = field(default_factory=RayOptions)


class SweepEvents:
    """What run_sweep reports while it runs; the CLI's progress display overrides these no-ops."""

    def planned(self, todo: int, total: int) -> None:
        """`todo` of the sweep's `total` trials are about to run (the rest completed before a --resume)."""

    def started(self, trial: Trial) -> None:
        """A trial was handed to a worker."""

    def finished(self, trial: Trial, result: dict) -> None:
        """A trial ended; result: {"status", "run", "error"}."""


@dataclass
class SweepResult:
    folder: Path
    spec: SweepSpec
    records: list[dict[str, Any]]
    board: pd.DataFrame

    @property
    def failed(self) -> int:
        return sum(r["status"] != "completed" for r in self.records)


def run_sweep(spec_path: str | Path | None, runs_dir: str | Path, options: SweepOptions,
              resume: str | Path | None = None, events: SweepEvents | None = None) -> SweepResult:
    """Validate every trial, then run the ones not yet completed; returns the records and the leaderboard.

    With `resume` (a sweep folder) the stored sweep.yaml is used and completed trials are skipped.
    A failing trial never stops the sweep: it is recorded with its error (see SweepResult.failed).
    """
    if options.backend not in BACKENDS:
        raise ImbrunError(f"--backend: expected one of {', '.join(BACKENDS)}, got {options.backend!r}")
    if options.backend == "ray":
        import_ray()  # a missing extra is reported before any folder is made
    if resume is not None:
        folder, spec, jobs, records = _reopen(Path(resume))
    else:
        spec = load_sweep_spec(spec_path)
        trials = expand_trials(spec)
        jobs, folder = list(zip(trials, trial_configs(spec, trials))), None
        records = [new_record(trial) for trial in trials]
    with ray_session(options.ray) if options.backend == "ray" else nullcontext():  # connected before any folder
        if folder is None:
            folder = create_sweep_folder(runs_dir, spec.name)
            resolved = redact_urls_in(spec.resolved())  # no password or token from a URL is saved
            atomic_write(folder / "sweep.yaml", lambda h: h.write(yaml.safe_dump(resolved, sort_keys=False)))
        _run_jobs(folder, spec, jobs, records, options, events or SweepEvents())
    board = build_leaderboard(records, folder, spec.metric)
    atomic_write(folder / "leaderboard.csv", lambda h: board.to_csv(h, index=False, lineterminator="\n"))
    return SweepResult(folder, spec, records, board)


def _run_jobs(folder: Path, spec: SweepSpec, jobs: list, records: list[dict], options: SweepOptions,
              events: SweepEvents) -> None:
    """Run the jobs whose record is not done; trials.json is rewritten after each trial."""
    by_name = {r["name"]: r for r in records}
    todo = [(trial, raw) for trial, raw in jobs if not _is_done(folder, by_name[trial.name])]
    write_trials(folder, spec, records)
    events.planned(len(todo), len(jobs))

    def finished(trial: Trial, result: dict) -> None:
        by_name[trial.name].update(status=result["status"], run=result["run"], error=result["error"])
        write_trials(folder, spec, records)
        events.finished(trial, result)

    if options.backend == "ray":
        run_ray(todo, folder, options.ray, events.started, finished)
    else:
        run_local(todo, folder, options.workers, events.started, finished)


def create_sweep_folder(runs_dir: str | Path, name: str) -> Path:
    """runs/<name>_<YYYYmmdd-HHMMSS>/, new (a suffix -2, -3, ... when taken)."""
    runs_dir = Path(runs_dir)
    runs_dir.mkdir(parents=True, exist_ok=True)
    base = f"{name}_{time.strftime('%Y%m%d-%H%M%S')}"
    for attempt in range(1, 1000):
        path = runs_dir / (base if attempt == 1 else f"{base}-{attempt}")
        try:
            path.mkdir()
            return path
        except FileExistsError:
            continue
    raise ImbrunError(f"{runs_dir}: could not find a free sweep folder name for {base!r}")


def new_record(trial: Trial) -> dict[str, Any]:
    return {"trial": trial.number, "name": trial.name, "configuration": trial.configuration,
            "overrides": trial.overrides, "run": None, "status": "pending", "error": None}


def write_trials(folder: Path, spec: SweepSpec, records: list[dict]) -> None:
    payload = {"sweep": spec.name, "metric": spec.metric, "trials": records}
    atomic_write(folder / "trials.json", lambda h: h.write(json.dumps(payload, indent=2) + "\n"))


def read_trials(folder: Path) -> list[dict[str, Any]]:
    path = folder / "trials.json"
    if not path.is_file():
        raise ImbrunError(f"{folder}: not a sweep folder (no trials.json)")
    try:
        return json.loads(path.read_text(encoding="utf-8"))["trials"]
    except (OSError, ValueError, KeyError, TypeError) as exc:
        raise ImbrunError(f"{path}: unreadable trials file ({type(exc).__name__}: {exc})") from None


def _reopen(folder: Path) -> tuple[Path, SweepSpec, list, list[dict]]:
    """A sweep folder's spec, validated trial configs and records (new records for trials it lacks)."""
    from imbrun.config.loading import read_yaml_mapping

    if not (folder / "sweep.yaml").is_file():
        raise ImbrunError(f"{folder}: not a sweep folder (no sweep.yaml)")
    source = str(folder / "sweep.yaml")
    spec = parse_sweep_spec(read_yaml_mapping(source), source=source)
    trials = expand_trials(spec)
    jobs = list(zip(trials, trial_configs(spec, trials)))
    stored = {r.get("name"): r for r in read_trials(folder)}
    return folder, spec, jobs, [stored.get(t.name) or new_record(t) for t in trials]


def _is_done(folder: Path, record: dict) -> bool:
    """Completed in trials.json and its run folder agrees (a deleted or broken folder is rerun)."""
    return (record["status"] == "completed" and bool(record.get("run"))
            and RunDir(folder / record["run"]).status() == "completed")
