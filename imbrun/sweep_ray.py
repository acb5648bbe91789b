"""The Ray backend: each trial a Ray task on a cluster (or on a local Ray instance started for the sweep).

Run folders: a task writes straight into the sweep folder when it can see it (the same machine, or shared
storage mounted at the same absolute path: the task checks for the sweep's sweep.yaml there). Otherwise it
trains into a temporary folder and returns the run folder's files, which the driver writes into the sweep
folder (`copy_back=True` forces this). Ray starts tasks in their own working directory, so a task first
changes to the driver's working directory when that exists on its node: relative data paths keep working.
"""

from __future__ import annotations

import math
import os
import tempfile
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from imbrun.errors import ImbrunError
from imbrun.sweep_exec import describe_error, pack_folder, run_trial, unpack_folder
from imbrun.sweep_local import OnDone, OnStart, with_threads
from imbrun.sweep_trials import Trial


@dataclass
class RayOptions:
    """Where and with what resources trials run; address None -> RAY_ADDRESS, else a new local instance."""

    address: str | None = None
    cpus_per_trial: float = 1.0
    gpus_per_trial: float = 0.0
    copy_back: bool = False


def import_ray():
    """The ray module, or a one-line ImbrunError saying how to install it."""
    try:
        import ray
    except ImportError:
        # No "imbrun[ray]" here: the CLI prints errors as rich markup, which drops a "[ray]" tag.
        raise ImbrunError('--backend ray needs Ray, which is not installed: pip install "ray>=2.9" '
                          '(the ray extra of imbrun)') from None
    return ray


def ray_trial(raw: dict[str, Any], sweep_dir: str, name: str, cwd: str, copy_back: bool) -> dict[str, Any]:
    """The task body: run one trial where the driver can see it, else in a temp folder returned as files."""
    if os.path.isdir(cwd):
        os.chdir(cwd)
    if not copy_back and (Path(sweep_dir) / "sweep.yaml").is_file():
        return run_trial(raw, sweep_dir, name)
    with tempfile.TemporaryDirectory(prefix="imbrun-trial-") as tmp:
        result = run_trial(raw, tmp, name)
        if result["run"]:
            result["files"] = pack_folder(Path(tmp) / result["run"])
        return result


@contextmanager
def ray_session(options: RayOptions):
    """Connected to Ray inside: joins an instance already initialised in this process, else connects (and
    disconnects on exit, shutting down a local instance it started)."""
    ray = import_ray()
    if ray.is_initialized():
        yield
        return
    _connect(ray, options.address)
    try:
        yield
    finally:
        ray.shutdown()


def run_ray(jobs: list[tuple[Trial, dict[str, Any]]], sweep_dir: Path, options: RayOptions,
            on_start: OnStart, on_done: OnDone) -> None:
    """Run every (trial, raw config) as a Ray task; as many in flight as the cluster has room for."""
    ray = import_ray()
    with ray_session(options):
        remote = ray.remote(ray_trial).options(num_cpus=options.cpus_per_trial, num_gpus=options.gpus_per_trial)
        threads = max(1, math.floor(options.cpus_per_trial))  # torch uses the CPUs Ray reserved, no more
        queue = [(trial, with_threads(raw, threads)) for trial, raw in reversed(jobs)]
        room, running = _capacity(ray, options), {}
        cwd, folder = os.getcwd(), str(Path(sweep_dir).resolve())
        while queue or running:
            while queue and len(running) < room:
                trial, raw = queue.pop()
                running[remote.remote(raw, folder, trial.name, cwd, options.copy_back)] = trial
                on_start(trial)
            ready, _ = ray.wait(list(running), num_returns=1)
            for ref in ready:
                trial = running.pop(ref)
                on_done(trial, _collect(ray, ref, sweep_dir, trial))


def _connect(ray, address: str | None) -> None:
    """Join the cluster at `address` / RAY_ADDRESS, or start a local instance without the dashboard."""
    try:
        if address or os.environ.get("RAY_ADDRESS"):
            ray.init(address=address, log_to_driver=False)
        else:
            ray.init(include_dashboard=False, log_to_driver=False)
    except (ConnectionError, RuntimeError, ValueError) as exc:
        where = address or os.environ.get("RAY_ADDRESS") or "a new local instance"
        raise ImbrunError(f"ray: could not connect to {where}: {describe_error(exc)}", exit_code=1) from None


def _capacity(ray, options: RayOptions) -> int:
    """How many trials fit on the cluster at once (at least 1, so an autoscaler still sees demand)."""
    resources = ray.cluster_resources()
    fits = [resources.get("CPU", 1.0) / options.cpus_per_trial] if options.cpus_per_trial else []
    if options.gpus_per_trial:
        fits.append(resources.get("GPU", 0.0) / options.gpus_per_trial)
    return max(1, math.floor(min(fits))) if fits else 1


def _collect(ray, ref, sweep_dir: Path, trial: Trial) -> dict[str, Any]:
    """A task's result; returned files become a run folder here; a crashed task becomes a failed trial."""
    try:
        result = ray.get(ref)
    except Exception as exc:  # noqa: BLE001 - RayTaskError, WorkerCrashedError, ...
        return {"status": "failed", "run": None, "error": describe_error(exc)}
    files = result.pop("files", None)
    if files is not None:
        result["run"] = unpack_folder(sweep_dir, trial.name, files)
    return result
