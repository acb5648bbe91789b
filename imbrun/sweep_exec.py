"""Running one trial inside a worker (a local process or a Ray task), and moving a run folder between machines.

`run_trial` never raises for a failing trial: the sweep goes on and records the error.
"""

from __future__ import annotations

import re
from pathlib import Path
from typing import Any

from imbrun.errors import ImbrunError
from imbrun.runs import RunDir


def run_trial(raw: dict[str, Any], runs_dir: str, name: str) -> dict[str, Any]:
    """Validate and run one trial config under `runs_dir`.

    Returns {"status": "completed" | "failed", "run": folder name or None, "error": one line or None};
    "run" is set for a failed trial whose folder was created (status.json there says failed, with the error).
    """
    before = run_folders_named(runs_dir, name)
    try:
        from imbrun.config import validate_config
        from imbrun.pipeline import run_experiment

        run = run_experiment(validate_config(raw, source=f"trial {name}"), runs_dir)
        return {"status": "completed", "run": run.path.name, "error": None}
    except Exception as exc:  # noqa: BLE001 - any failure is this trial's, not the sweep's
        created = sorted(run_folders_named(runs_dir, name) - before)
        return {"status": "failed", "run": created[-1] if created else None, "error": describe_error(exc)}


def describe_error(exc: BaseException) -> str:
    """One line: an ImbrunError's own message, otherwise `Type: message`."""
    text = str(exc) if isinstance(exc, ImbrunError) else f"{type(exc).__name__}: {exc}"
    return "; ".join(line.strip() for line in text.splitlines() if line.strip()) or type(exc).__name__


def run_folders_named(runs_dir: str | Path, name: str) -> set[str]:
    """Folders RunDir.create made for run `name`: `<YYYYmmdd-HHMMSS>_<name>` or with a `-N` suffix."""
    pattern = re.compile(rf"\d{{8}}-\d{{6}}_{re.escape(name)}(-\d+)?")
    folder = Path(runs_dir)
    if not folder.is_dir():
        return set()
    return {p.name for p in folder.iterdir() if p.is_dir() and pattern.fullmatch(p.name)}


def pack_folder(folder: str | Path) -> dict[str, bytes]:
    """Every file under `folder` by relative POSIX path: what a remote task returns to the driver."""
    root = Path(folder)
    return {p.relative_to(root).as_posix(): p.read_bytes() for p in sorted(root.rglob("*")) if p.is_file()}


def unpack_folder(runs_dir: str | Path, name: str, files: dict[str, bytes]) -> str:
    """Write a packed run folder under `runs_dir` as a new run folder of run `name`; returns its folder name."""
    run = RunDir.create(runs_dir, name)
    for relative, data in files.items():
        target = run.file(relative)
        if run.path.resolve() not in target.resolve().parents:
            raise ImbrunError(f"{relative}: a returned run file must stay inside its run folder")
        target.parent.mkdir(parents=True, exist_ok=True)
        run.write_bytes(relative, lambda handle, data=data: handle.write(data))
    return run.path.name
