"""RunDir: the only code that reads or writes a run folder. Every file is written atomically."""

from __future__ import annotations

import json
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

from imbrun.atomic import atomic_write
from imbrun.errors import ImbrunError

REQUIRED_FILES = ("config.yaml", "metrics.json", "model.pt", "model.json", "preprocess.npz", "status.json")


class RunDir:
    """A run folder: runs/<YYYYmmdd-HHMMSS>_<name>/ with config, metrics, model and history."""

    def __init__(self, path: str | Path):
        self.path = Path(path)

    @classmethod
    def create(cls, runs_dir: str | Path, name: str, now: float | None = None) -> RunDir:
        """A new, empty folder; never reuses an existing one (a suffix -2, -3, ... is added instead)."""
        if "/" in name or "\\" in name:  # the folder stays inside runs_dir whatever the caller passes
            raise ImbrunError(f"run name {name!r}: expected a plain folder name (no '/' or '\\')")
        runs_dir = Path(runs_dir)
        try:
            runs_dir.mkdir(parents=True, exist_ok=True)
        except (FileExistsError, NotADirectoryError):  # runs_dir (or a parent) is a regular file
            what = "not a directory" if runs_dir.exists() else "cannot be created inside a file"
            raise ImbrunError(f"{runs_dir}: {what}; run folders go into a folder (--runs-dir)") from None
        except OSError as exc:  # e.g. permission denied, read-only file system
            raise ImbrunError(f"{runs_dir}: cannot create the runs folder ({exc.strerror})") from None
        stamp = time.strftime("%Y%m%d-%H%M%S", time.localtime(now))
        base = f"{stamp}_{name}"
        for attempt in range(1, 1000):
            path = runs_dir / (base if attempt == 1 else f"{base}-{attempt}")
            try:
                path.mkdir()  # atomic: fails if another process took this name first
                return cls(path)
            except FileExistsError:
                continue
            except OSError as exc:  # e.g. a runs folder the user may not write to
                raise ImbrunError(f"{runs_dir}: cannot create a run folder in it ({exc.strerror})") from None
        raise ImbrunError(f"{runs_dir}: could not find a free run folder name for {base!r}")

    @classmethod
    def open(cls, path: str | Path, require: tuple[str, ...] = REQUIRED_FILES, *,
             completed: bool = False) -> RunDir:
        """An existing run folder with the files `evaluate`/`compare` need; one line naming what is missing.

        completed=True also refuses a run whose status.json is not `completed`, saying what to do instead.
        """
        run = cls(path)
        if not run.path.is_dir():
            raise ImbrunError(f"{run.path}: run folder not found")
        if completed and run.file("status.json").is_file():
            run.require_completed()
        missing = [name for name in require if not (run.path / name).is_file()]
        if missing:
            raise ImbrunError(f"{run.path}: not a complete run folder, missing {', '.join(missing)}")
        return run

    def require_completed(self) -> None:
        """Nothing, or one line naming the run, its status and what to do (resume, retrain, look at the error)."""
        state = self.read_json("status.json")
        status = state.get("status", "unknown") if isinstance(state, dict) else "unknown"
        if status == "completed":
            return
        if status == "failed":
            error = str(state.get("error") or "no error recorded").strip().splitlines() or ["no error recorded"]
            raise ImbrunError(f"{self.path}: run failed, not completed: {error[0]}")
        if status == "interrupted" and self.file("checkpoint.pt").is_file():
            raise ImbrunError(f"{self.path}: run is interrupted, not completed; resume it with "
                              f"imbrun train --resume {self.path}")
        if status == "interrupted":
            raise ImbrunError(f"{self.path}: run is interrupted, not completed, and has no checkpoint; train it again")
        if status == "running":
            raise ImbrunError(f"{self.path}: run is running, not completed (still training, or its process was "
                              f"killed); wait for it, or train it again")
        raise ImbrunError(f"{self.path}: run is {status}, not completed")

    def file(self, name: str) -> Path:
        return self.path / name

    # writing
    def write_text(self, name: str, text: str) -> None:
        atomic_write(self.file(name), lambda h: h.write(text))

    def write_json(self, name: str, obj: Any) -> None:
        self.write_text(name, json.dumps(obj, indent=2, sort_keys=False, default=_json_default) + "\n")

    def write_frame(self, name: str, frame) -> None:
        atomic_write(self.file(name), lambda h: frame.to_csv(h, index=False, lineterminator="\n"))

    def write_bytes(self, name: str, save: Callable[[Any], None]) -> None:
        atomic_write(self.file(name), save, binary=True)

    def set_status(self, state: str, **extra: Any) -> None:
        self.write_json("status.json", {"status": state, "time": time.strftime("%Y-%m-%dT%H:%M:%S%z"), **extra})

    # reading
    def read_json(self, name: str) -> Any:
        try:
            return json.loads(self.file(name).read_text(encoding="utf-8"))
        except (OSError, json.JSONDecodeError) as exc:
            raise ImbrunError(f"{self.file(name)}: unreadable ({exc.__class__.__name__}: {exc})") from None

    def status(self) -> str:
        return self.read_json("status.json").get("status", "unknown") if self.file("status.json").is_file() \
            else "unknown"


def _json_default(value: Any) -> Any:
    if hasattr(value, "tolist"):
        return value.tolist()
    if isinstance(value, Path):
        return str(value)
    raise TypeError(f"not JSON serialisable: {type(value).__name__}")
