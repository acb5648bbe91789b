"""Time `imbrun compare` end to end on synthetic run folders: reading runs, aligning rows, all statistics.

Run: python bench/compare.py  (about 40 s; prints seconds per scenario). Goal: a pair under 2 s via the CLI.
The CLI time is the best of 3 processes; about 0.7 s of it is importing scipy.stats (imbrun.stats).
Data: runs of 30,000 test rows and 10 imbalanced classes (geometric counts), written with RunDir the way
`imbrun train` writes them (config.yaml, metrics.json, predictions.csv, balance.json, status.json), without
model files. 20 runs = 2 strategies x 10 seeds on the same test rows, so seed groups and Welch tests run too.
"""

import argparse
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import numpy as np
import yaml

from imbrun.artifacts import predictions_frame
from imbrun.compare import CompareOptions, compare_runs, load_summary
from imbrun.metrics import report
from imbrun.runs import RunDir
from imbrun.stats import test_fingerprint

CLASSES = [f"class{k}" for k in range(10)]


def write_runs(root: Path, n_runs: int, n_rows: int, seed: int = 0) -> list[Path]:
    """n_runs completed run folders scored on the same n_rows test rows, 80-90% accurate."""
    rng = np.random.default_rng(seed)
    k = len(CLASSES)
    class_p = 0.6 ** np.arange(k)
    y = rng.choice(k, size=n_rows, p=class_p / class_p.sum())
    row_ids = rng.permutation(10 * n_rows)[:n_rows]
    paths = []
    for i in range(n_runs):
        logits = rng.normal(size=(n_rows, k))
        logits[np.arange(n_rows), y] += 2.5 + 0.1 * (i % 2)  # (n_rows, k): the true class usually wins
        probs = np.exp(logits) / np.exp(logits).sum(axis=1, keepdims=True)
        pred = probs.argmax(axis=1)
        run = RunDir.create(root, f"bench{i:02d}")
        config = {"name": "bench", "seed": i // 2, "balance": {"kind": ["none", "class_weight"][i % 2]}}
        run.write_text("config.yaml", yaml.safe_dump(config))
        run.write_json("metrics.json", {"class_names": CLASSES, "test": report(y, pred, CLASSES),
                                        "test_fingerprint": test_fingerprint(row_ids, y)})
        run.write_frame("predictions.csv", predictions_frame(row_ids, y, pred, probs, CLASSES))
        train = np.bincount(y, minlength=k) * 3
        run.write_json("balance.json", {"class_counts": {"train": dict(zip(CLASSES, train.tolist()))}})
        run.set_status("completed")
        paths.append(run.path)
    return paths


def time_library(paths: list[Path], resamples: int) -> float:
    start = time.perf_counter()
    compare_runs([load_summary(p) for p in paths], CompareOptions(resamples=resamples))
    return time.perf_counter() - start


def time_cli(paths: list[Path], resamples: int, out: Path | None = None, repeats: int = 3) -> float:
    """Best wall time of `repeats` `imbrun compare` processes (interpreter start and imports included)."""
    command = [sys.executable, "-m", "imbrun", "compare", *map(str, paths), "--resamples", str(resamples),
               "-f", "json", *(["--out", str(out)] if out else [])]
    times = []
    for _ in range(repeats):
        start = time.perf_counter()
        subprocess.run(command, check=True, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        times.append(time.perf_counter() - start)
    return min(times)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rows", type=int, default=30_000)
    parser.add_argument("--resamples", type=int, default=1000)
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        for n_runs in (2, 20):
            paths = write_runs(Path(tmp) / f"runs{n_runs}", n_runs, args.rows)
            library = time_library(paths, args.resamples)
            cli = time_cli(paths, args.resamples)
            with_out = time_cli(paths, args.resamples, Path(tmp) / f"cmp{n_runs}", repeats=1)
            print(f"{n_runs} runs x {args.rows} rows, {args.resamples} resamples: library {library:.2f} s, "
                  f"CLI {cli:.2f} s, CLI with --out (tables + PNGs) {with_out:.2f} s")


if __name__ == "__main__":
    main()
