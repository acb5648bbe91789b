"""Where auto's pilots run: inline (this process, in order), local (the sweep's worker processes) or Ray.

The pilots are in-memory (arrays already prepared), so they do not go through run_trial and run folders; this
adapter reuses the sweep backends' process start-up (sweep_local.worker_context, threads_per_worker) and Ray
session (sweep_ray.ray_session) around the picklable auto_pilot.run_pilot.
"""

from __future__ import annotations

import math
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import replace

from imbrun.balance.auto_pilot import Pilot, PilotContext, PilotData, RunRung, run_pilot

BACKENDS = ("inline", "local", "ray")


@contextmanager
def pilot_runner(backend: str, workers: int, data: PilotData, ctx: PilotContext, ray=None) -> Iterator[RunRung]:
    """Yields run_rung(pilots) -> results in the pilots' order; one pool or Ray session serves every rung.

    ray: the balance section's `ray` options (AutoRay; None: its defaults), used by the ray backend only.
    """
    if backend == "inline" or (backend == "local" and workers == 1):
        yield lambda pilots: [run_pilot(p, data, ctx) for p in pilots]
    elif backend == "local":
        with _local(workers, data, ctx) as run_rung:
            yield run_rung
    elif backend == "ray":
        with _ray(data, ctx, ray) as run_rung:
            yield run_rung
    else:
        raise ValueError(f"unknown pilot backend {backend!r}; known: {', '.join(BACKENDS)}")


@contextmanager
def _local(workers: int, data: PilotData, ctx: PilotContext) -> Iterator[RunRung]:
    from concurrent.futures import ProcessPoolExecutor

    from imbrun.sweep_local import threads_per_worker, worker_context

    ctx = replace(ctx, threads=ctx.threads or threads_per_worker(workers))
    with ProcessPoolExecutor(max_workers=workers, mp_context=worker_context()) as pool:
        def run_rung(pilots: list[Pilot]) -> list[dict]:
            futures = [pool.submit(run_pilot, p, data, ctx) for p in pilots]
            return [_collect(future.result, p) for future, p in zip(futures, pilots)]
        yield run_rung


@contextmanager
def _ray(data: PilotData, ctx: PilotContext, section) -> Iterator[RunRung]:
    from imbrun.sweep_ray import RayOptions, import_ray, ray_session

    ray = import_ray()
    options = RayOptions(section.address, section.cpus_per_trial, section.gpus_per_trial) if section else RayOptions()
    with ray_session(options):  # joins an instance already initialised here, else address / RAY_ADDRESS / local
        # torch uses the CPUs Ray reserved for the task, no more (as sweep's ray backend)
        ctx = replace(ctx, threads=ctx.threads or max(1, math.floor(options.cpus_per_trial)))
        remote = ray.remote(run_pilot).options(num_cpus=options.cpus_per_trial, num_gpus=options.gpus_per_trial)
        shared = ray.put(data)  # the arrays sent once

        def run_rung(pilots: list[Pilot]) -> list[dict]:
            refs = [remote.remote(p, shared, ctx) for p in pilots]
            return [_collect(lambda ref=ref: ray.get(ref), p) for ref, p in zip(refs, pilots)]
        yield run_rung


def _collect(get, pilot: Pilot) -> dict:
    """A pilot's result; a worker that died (or a task that crashed) makes it a failed pilot."""
    from imbrun.sweep_exec import describe_error

    try:
        return get()
    except Exception as exc:  # noqa: BLE001 - BrokenProcessPool, RayTaskError, ...
        return {"label": pilot.label, "status": "failed", "score": None, "epochs_run": 0, "seconds": 0.0,
                "error": describe_error(exc)}
