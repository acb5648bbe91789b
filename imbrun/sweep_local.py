"""The local backend: trials in `workers` processes on this machine, torch threads split between them."""

from __future__ import annotations

import copy
import multiprocessing
import os
from collections.abc import Callable
from concurrent.futures import FIRST_COMPLETED, ProcessPoolExecutor, wait
from pathlib import Path
from typing import Any

from imbrun.sweep_exec import describe_error, run_trial
from imbrun.sweep_trials import Trial

OnStart = Callable[[Trial], None]
OnDone = Callable[[Trial, dict[str, Any]], None]


def with_threads(raw: dict[str, Any], threads: int) -> dict[str, Any]:
    """A copy of `raw` with train.threads set, unless the config already chose a thread count."""
    raw = copy.deepcopy(raw)
    train = raw.setdefault("train", {})
    if train.get("threads") is None:
        train["threads"] = threads
    return raw


def threads_per_worker(workers: int, cores: int | None = None) -> int:
    """max(1, cores // workers): two workers on 2 cores get one thread each instead of fighting over two."""
    return max(1, (cores or os.cpu_count() or 1) // workers)


def worker_context():
    """"forkserver" with imbrun.pipeline preloaded where available, else "spawn".

    Both start workers from a clean process (no copies of the parent's torch thread pools or locks); the fork
    server imports torch and the pipeline once, and forks each worker from that, instead of every worker
    spending seconds importing them again.
    """
    if "forkserver" in multiprocessing.get_all_start_methods():
        context = multiprocessing.get_context("forkserver")
        context.set_forkserver_preload(["imbrun.pipeline"])
        return context
    return multiprocessing.get_context("spawn")


def run_local(jobs: list[tuple[Trial, dict[str, Any]]], sweep_dir: Path, workers: int,
              on_start: OnStart, on_done: OnDone) -> None:
    """Run every (trial, raw config) under `sweep_dir`; `workers == 1` runs them in this process, in order.

    More workers use a ProcessPoolExecutor (see worker_context). A worker that dies marks its trial failed;
    the others go on.
    """
    threads = threads_per_worker(workers)
    jobs = [(trial, with_threads(raw, threads)) for trial, raw in jobs]
    if workers == 1:
        for trial, raw in jobs:
            on_start(trial)
            on_done(trial, run_trial(raw, str(sweep_dir), trial.name))
        return
    context = worker_context()
    with ProcessPoolExecutor(max_workers=min(workers, len(jobs)) or 1, mp_context=context) as pool:
        queue = list(reversed(jobs))
        running: dict[Any, Trial] = {}
        while queue or running:
            while queue and len(running) < workers:  # submit only what can start now, so on_start is true
                trial, raw = queue.pop()
                on_start(trial)
                try:
                    running[pool.submit(run_trial, raw, str(sweep_dir), trial.name)] = trial
                except Exception as exc:  # noqa: BLE001 - a broken pool takes no more work
                    on_done(trial, {"status": "failed", "run": None, "error": describe_error(exc)})
            if not running:
                continue
            done, _ = wait(running, return_when=FIRST_COMPLETED)
            for future in done:
                trial = running.pop(future)
                try:
                    result = future.result()
                except Exception as exc:  # noqa: BLE001 - e.g. the worker process was killed
                    result = {"status": "failed", "run": None, "error": describe_error(exc)}
                on_done(trial, result)
