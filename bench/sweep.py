"""Time one sweep of 8 small CPU-bound trials: sequential in this process vs the local backend vs Ray.

Run from the repository root: python bench/sweep.py  (about 2.5 min on 2 cores). Goal: the local backend with
2 workers >= 1.7x the sequential run. Trials: configs/quickstart.yaml (200 rows of 8x8 digits, dense 64-32)
with class weights, a fixed number of epochs (no early stopping) and seeds 0..7.
The baseline runs in this process after one untimed warm-up trial (no import or first-use costs) with 1 torch
thread: on 2 shared cores these small models trained far slower with 2 threads than with 1 (40 epochs: 12.4 s
vs 0.8 s a trial, measured at different moments), so a 2-thread baseline would flatter the parallel backends.
The backends pay their real start-up (worker imports), shown as per-trial overhead
= (wall - sequential wall / workers) / trials. Ray's instance start is timed separately.
Measured (2 shared cores, 1000 epochs): sequential 63.9 s, local 2 workers 34.1 s (1.87x), Ray 35.7 s (1.79x).
"""

import argparse
import os
import tempfile
import time
from pathlib import Path

import yaml

from imbrun.config.loading import read_yaml_mapping
from imbrun.sweep import SweepOptions, run_sweep
from imbrun.sweep_ray import RayOptions


def write_spec(path: Path, trials: int, epochs: int, threads: int | None = None) -> Path:
    base = read_yaml_mapping("configs/quickstart.yaml")
    fixed = {"train.epochs": epochs, "train.early_stopping": None}
    spec = {"name": "bench", "base": base, "set": fixed if threads is None else {**fixed, "train.threads": threads},
            "seeds": list(range(trials))}
    path.write_text(yaml.safe_dump(spec, sort_keys=False))
    return path


def timed_sweep(spec: Path, runs: Path, options: SweepOptions) -> float:
    start = time.perf_counter()
    result = run_sweep(spec, runs, options)
    seconds = time.perf_counter() - start
    if result.failed:
        raise SystemExit(f"{result.failed} trials failed in {result.folder}")
    return seconds


def report(label: str, seconds: float, sequential: float, trials: int, workers: int) -> None:
    overhead = (seconds - sequential / workers) / trials
    print(f"{label:<26} {seconds:7.1f} s   {seconds / trials:5.2f} s/trial   speed-up {sequential / seconds:4.2f}x"
          f"   overhead {overhead:+5.2f} s/trial vs ideal")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--trials", type=int, default=8)
    parser.add_argument("--epochs", type=int, default=1000)
    parser.add_argument("--workers", type=int, default=2)
    parser.add_argument("--seq-threads", type=int, default=1,
                        help="torch threads of the sequential baseline (1: fastest for these small models)")
    parser.add_argument("--no-ray", action="store_true")
    args = parser.parse_args()
    with tempfile.TemporaryDirectory(prefix="imbrun-bench-") as tmp:
        tmp = Path(tmp)
        spec = write_spec(tmp / "parallel.yaml", args.trials, args.epochs)
        seq_spec = write_spec(tmp / "sequential.yaml", args.trials, args.epochs, threads=args.seq_threads)
        warm = write_spec(tmp / "warm.yaml", 1, args.epochs, threads=args.seq_threads)
        run_sweep(warm, tmp / "warm", SweepOptions())  # imports and first-use costs, not timed
        print(f"{args.trials} trials of {args.epochs} epochs, {os.cpu_count()} cores")
        sequential = timed_sweep(seq_spec, tmp / "seq", SweepOptions("local", workers=1))
        report(f"sequential, {args.seq_threads} thread(s)", sequential, sequential, args.trials, 1)
        local = timed_sweep(spec, tmp / "local", SweepOptions("local", workers=args.workers))
        report(f"local, {args.workers} workers", local, sequential, args.trials, args.workers)
        if not args.no_ray:
            bench_ray(spec, tmp / "ray", sequential, args)


def bench_ray(spec: Path, runs: Path, sequential: float, args) -> None:
    try:
        import ray
    except ImportError:
        print("ray: not installed, skipped")
        return
    start = time.perf_counter()
    ray.init(num_cpus=args.workers, include_dashboard=False, log_to_driver=False)
    print(f"ray {ray.__version__}: local instance started in {time.perf_counter() - start:.1f} s (not counted)")
    try:
        seconds = timed_sweep(spec, runs, SweepOptions("ray", ray=RayOptions(cpus_per_trial=1)))
        report(f"ray, {args.workers} CPUs", seconds, sequential, args.trials, args.workers)
    finally:
        ray.shutdown()


if __name__ == "__main__":  # the local backend's workers re-import this file's module: keep work under main
    main()
