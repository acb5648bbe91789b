"""Where auto's pilots run: inline (this process, in order), local (the sweep's worker processes) or Ray.

The pilots are in-memory (arrays already prepared), so they do not go through run_trial and run folders; this
adapter reuses the sweep backends' process start-up (sweep_local.worker_context, threads_per_worker) and Ray
session (sweep_ray.ray_session) around the picklable auto_pilot.run_pilot.
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import replace

from imbrun.balance.auto_pilot import Pilot, PilotContext, PilotData, RunRung, run_pilot

BACKENDS = ("inline", "local", "ray")


@contextmanager
def pilot_runner(backend: str, workers: int, data: PilotData, ctx: PilotContext) -> Iterator[RunRung]:
    """Yields run_rung(pilots) -> results in the pilots' order; one pool or Ray session serves every rung."""
    if backend == "inline" or (backend == "local" and workers == 1):
        yield lambda pilots: [run_pilot(p, data, ctx) for p in pilots]
    elif backend == "local":
        with _local(workers, data, ctx) as run_rung:
            yield run_rung
    elif backend == "ray":
        with _ray(data, ctx) as run_rung:
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
def _ray(data: PilotData, ctx: PilotContext) -> Iterator[RunRung]:
    from imbrun.sweep_ray import RayOptions, import_ray, ray_session

    ray = import_ray()
    with ray_session(RayOptions()):
        ctx = replace(ctx, threads=ctx.threads or 1)  # each task reserves one CPU
        remote, shared = ray.remote(run_pilot).options(num_cpus=1), ray.put(data)  # the arrays sent once

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
