"""Time the statistics of `imbrun compare`: exact McNemar + paired bootstrap per pair of runs.

Run: python bench/stats.py  (about 2 s; prints seconds per scenario). Goal: a pair well under 1 s.
Data: 30,000 test rows, 5 imbalanced classes, runs with 75-90% accuracy; 1,000 resamples.
The last scenario (40 classes, near-random runs) has ~6,400 distinct (true, A, B) codes, close to
rows / 4 where the bootstrap switches from multinomial draws to index draws: the slowest point for
this many rows, a worst case rather than the usual one (5 classes give ~120 codes).
"""

import argparse
import time

import numpy as np

from imbrun.stats import mcnemar_exact, paired_bootstrap


def make_runs(
    n_rows: int, n_classes: int, n_runs: int, accuracies: tuple[float, float], seed: int
) -> tuple[np.ndarray, list[np.ndarray]]:
    """y_true with a geometric class distribution and n_runs noisy predictions of it."""
    rng = np.random.default_rng(seed)
    class_p = 0.5 ** np.arange(n_classes)
    y = rng.choice(n_classes, size=n_rows, p=class_p / class_p.sum())
    runs = []
    for accuracy in np.linspace(*accuracies, n_runs):
        wrong = rng.random(n_rows) > accuracy
        runs.append(np.where(wrong, rng.integers(0, n_classes, n_rows), y))
    return y, runs


def time_comparisons(y: np.ndarray, runs: list[np.ndarray], n_classes: int, n_resamples: int) -> float:
    """Seconds to compare every run against the first: len(runs) - 1 pairs."""
    start = time.perf_counter()
    for other in runs[1:]:
        mcnemar_exact(y, runs[0], other)
        paired_bootstrap(y, runs[0], other, n_classes, n_resamples=n_resamples, seed=0)
    return time.perf_counter() - start


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rows", type=int, default=30_000)
    parser.add_argument("--resamples", type=int, default=1000)
    args = parser.parse_args()
    scenarios = [
        ("2 runs, 5 classes", 5, 2, (0.75, 0.9)),
        ("20 runs, 5 classes", 5, 20, (0.75, 0.9)),
        ("2 runs, 40 classes, worst case", 40, 2, (0.2, 0.25)),
    ]
    for label, n_classes, n_runs, accuracies in scenarios:
        y, runs = make_runs(args.rows, n_classes, n_runs, accuracies, seed=0)
        seconds = time_comparisons(y, runs, n_classes, args.resamples)
        print(f"{label}: {n_runs - 1} comparison(s), {args.rows} rows, {args.resamples} resamples: {seconds:.3f} s")


if __name__ == "__main__":
    main()
