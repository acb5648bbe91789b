"""Start to first epoch of an experiment on a Kaggle-sized heartbeat CSV: empty prepared-data cache vs a cache hit.

Run from the repo root: python bench/load.py   (about 4-5 minutes; --rows 20000 --repeats 1 for a quick look)
Writes a seeded 90,000 x 187 CSV like the Kaggle MIT-BIH beats (no header, 187 values as %.18e in [0, 1], the
class 0..4 as the last column, most beats zero-padded at the end, 5% of the beat samples missing in bursts of 1-10,
half of the bursts as empty cells and half as -999) to a temp folder. Then, in this process, alternately:
cold (an empty cache folder) and warm (the folder the cold run just filled), each timing run_experiment from its
call to the end of data preparation (load + interpolate, or the cache read) and to the end of the first epoch
(model: the 1D-CNN of configs/ecg_kaggle_csv.yaml, batch 256). Prints medians, the ratio, and how long the cache
key's content hash of the CSV takes. The CSV stays in the OS page cache, so "cold" means cache-empty, not disk-cold.
"""

import argparse
import io
import statistics
import tempfile
import time
from pathlib import Path

import numpy as np

from imbrun import pipeline, prepare
from imbrun.config.loading import validate_config
from imbrun.data.cache import cache_key, source_files
from imbrun.data.files import sha256_file

CLASS_SHARES = (0.828, 0.025, 0.066, 0.007, 0.074)  # N S V F Q in the Kaggle training file


class FirstEpochDone(Exception):
    """Raised from on_epoch to stop the run once the first epoch has been timed."""


def make_beats(rows: int, timesteps: int, missing: float, seed: int) -> tuple[np.ndarray, np.ndarray]:
    """(rows, timesteps) beats in [0, 1], zero-padded after a random length, with NaN / -999 bursts; labels."""
    rng = np.random.default_rng(seed)
    t = np.arange(timesteps) / timesteps
    centre = rng.uniform(0.1, 0.3, size=(rows, 1))
    width = rng.uniform(0.01, 0.04, size=(rows, 1))
    wave = np.exp(-((t - centre) / width) ** 2) + 0.3 * np.exp(-((t - centre - 0.3) / (3 * width)) ** 2)
    wave += 0.05 * np.cumsum(rng.normal(size=(rows, timesteps)), axis=1) / np.sqrt(timesteps)
    wave = (wave - wave.min(axis=1, keepdims=True)) / np.ptp(wave, axis=1, keepdims=True)
    wave = np.maximum(wave, 1e-6)  # no zero inside a beat: only the padding is zero
    length = np.where(rng.random(rows) < 0.8, rng.integers(60, timesteps, size=rows), timesteps)
    wave[t[None, :] * timesteps >= length[:, None]] = 0.0
    n_bursts = int(missing * rows * timesteps / 5.5)  # bursts of 1..10 samples (mean 5.5), cut at the padding
    burst_rows = rng.integers(0, rows, size=n_bursts)
    starts = (rng.random(n_bursts) * length[burst_rows]).astype(np.int64)
    lengths = rng.integers(1, 11, size=n_bursts)
    marker = np.where(rng.random(n_bursts) < 0.5, np.nan, -999.0)
    for offset in range(10):
        hit = (lengths > offset) & (starts + offset < length[burst_rows])
        wave[burst_rows[hit], starts[hit] + offset] = marker[hit]
    labels = rng.choice(len(CLASS_SHARES), size=rows, p=np.array(CLASS_SHARES) / sum(CLASS_SHARES))
    return wave, labels


def write_csv(path: Path, wave: np.ndarray, labels: np.ndarray, chunk: int = 10_000) -> None:
    """Kaggle's layout: %.18e values, the label as a float; missing values as empty cells."""
    with open(path, "w") as handle:
        for start in range(0, len(wave), chunk):
            block = np.column_stack([wave[start:start + chunk], labels[start:start + chunk]])
            buffer = io.StringIO()
            np.savetxt(buffer, block, fmt="%.18e", delimiter=",")
            handle.write(buffer.getvalue().replace("nan", ""))


def experiment(csv: Path, method: str):
    interpolate = {"method": method, "missing_values": [-999], "padding": "trailing_zeros", "remaining": "drop"}
    if method == "spline":
        interpolate["order"] = 3
    return validate_config({
        "name": f"load_{method}", "seed": 0,
        "data": {"kind": "csv", "path": str(csv), "header": False, "label": -1, "sequence": {"channels": 1}},
        "split": {"val_size": 0.1},
        "preprocess": {"interpolate": interpolate},
        "model": {"kind": "cnn1d", "channels": [32, 32], "kernel_size": 5, "pool": 2, "hidden": [128, 64]},
        "train": {"epochs": 1, "batch_size": 256, "lr": 0.001},
    })


def time_run(cfg, cache_dir: Path, runs_dir: Path) -> dict:
    """Seconds from run_experiment's call to the data being ready and to the end of the first epoch."""
    marks: dict = {}
    real_prepare_data = prepare.prepare_data  # what pipeline's experiment_data calls

    def timed_prepare_data(*args, **kwargs):
        data, state = real_prepare_data(*args, cache_dir=cache_dir, **kwargs)
        marks["data"], marks["state"] = time.perf_counter(), state
        return data, state

    def on_epoch(row: dict) -> None:
        marks["epoch"] = time.perf_counter()
        raise FirstEpochDone

    prepare.prepare_data = timed_prepare_data
    started = time.perf_counter()
    try:
        pipeline.run_experiment(cfg, runs_dir, on_epoch=on_epoch)
    except FirstEpochDone:
        pass
    finally:
        prepare.prepare_data = real_prepare_data
    return {"state": marks["state"], "data": marks["data"] - started, "first_epoch": marks["epoch"] - started}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rows", type=int, default=90_000)
    parser.add_argument("--timesteps", type=int, default=187)
    parser.add_argument("--missing", type=float, default=0.05)
    parser.add_argument("--repeats", type=int, default=3, help="cold/warm pairs per method")
    parser.add_argument("--methods", default="spline,linear", help="comma-separated: spline (order 3), linear")
    parser.add_argument("--seed", type=int, default=0)
    args = parser.parse_args()

    with tempfile.TemporaryDirectory(prefix="imbrun-bench-load-") as tmp:
        tmp = Path(tmp)
        csv = tmp / "beats.csv"
        started = time.perf_counter()
        wave, labels = make_beats(args.rows, args.timesteps, args.missing, args.seed)
        write_csv(csv, wave, labels)
        gaps, padding = np.isnan(wave) | (wave == -999), np.logical_and.accumulate(wave[:, ::-1] == 0, axis=1)
        print(f"{csv.name}: {args.rows:,} x {args.timesteps} + label, {csv.stat().st_size / 1e6:.0f} MB, "
              f"{gaps.mean():.1%} of all values missing ({gaps.sum() / (~padding).sum():.1%} of the beat samples), "
              f"{padding[:, 0].mean():.0%} of rows padded (written in {time.perf_counter() - started:.0f} s)")
        warm_up = tmp / "warm_up.csv"  # one untimed run first: imports and one-time set-up are not timed
        write_csv(warm_up, wave[:500], labels[:500])
        time_run(experiment(warm_up, "linear"), tmp / "cache_warm_up", tmp / "runs")
        del wave, labels, gaps, padding

        hashes = []
        for _ in range(3):
            started = time.perf_counter()
            sha256_file(csv)
            hashes.append(time.perf_counter() - started)
        cfg = experiment(csv, "linear")
        section = cfg.data.model_dump(mode="json")
        started = time.perf_counter()
        cache_key(section, {}, source_files(section))
        key_seconds = time.perf_counter() - started
        print(f"sha256 of the CSV: median {statistics.median(hashes):.2f} s "
              f"({csv.stat().st_size / 1e6 / statistics.median(hashes):.0f} MB/s); whole cache key {key_seconds:.2f} s")

        print(f"\n{'method':<8} {'cache':<5} {'data ready s':>12} {'first epoch s':>14}   (each run)")
        results = {}
        for method in args.methods.split(","):
            cfg = experiment(csv, method)
            runs = {"cold": [], "warm": []}
            for repeat in range(args.repeats):
                cache_dir = tmp / f"cache_{method}_{repeat}"
                for kind in ("cold", "warm"):  # cold fills cache_dir, warm reads it
                    timing = time_run(cfg, cache_dir, tmp / "runs")
                    assert timing["state"] == ("miss" if kind == "cold" else "hit"), timing
                    runs[kind].append(timing)
                    print(f"{method:<8} {kind:<5} {timing['data']:>12.2f} {timing['first_epoch']:>14.2f}")
            results[method] = runs

        print(f"\nmedians of {args.repeats}: {'cold':>21} {'warm':>21} {'cold / warm':>19}")
        print(f"{'method':<8} {'data':>8} {'1st epoch':>10} {'data':>10} {'1st epoch':>10} {'data':>9} {'1st epoch':>9}")
        for method, runs in results.items():
            cold = [statistics.median(r[k] for r in runs["cold"]) for k in ("data", "first_epoch")]
            warm = [statistics.median(r[k] for r in runs["warm"]) for k in ("data", "first_epoch")]
            print(f"{method:<8} {cold[0]:>8.2f} {cold[1]:>10.2f} {warm[0]:>10.2f} {warm[1]:>10.2f} "
                  f"{cold[0] / warm[0]:>8.1f}x {cold[1] / warm[1]:>8.1f}x")


if __name__ == "__main__":
    main()
