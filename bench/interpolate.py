"""Time imbrun's gap interpolation against pandas on ECG-sized data and check they agree.

Run from the repo root: python bench/interpolate.py --rows 90000 --timesteps 187 --missing 0.05
(about 3-6 minutes, most of it pandas)
Builds seeded heartbeat-like series in [0, 1] (like the MIT-BIH beats) with `missing` of the values
removed in bursts of 1-10 samples, then times imbrun, pandas on the whole frame and pandas row by row
(on a sample of rows, scaled linearly to all rows).
"""

import argparse
import time

import numpy as np
import pandas as pd

from imbrun.interpolate import interpolate_series

# methods timed by default ("spline3" = spline of order 3); --methods picks others
DEFAULT_METHODS = "linear,spline3,nearest,ffill,bfill,pchip,akima,polynomial3"


def make_series(rows: int, timesteps: int, missing: float, seed: int) -> np.ndarray:
    """(rows, timesteps) smooth beats in [0, 1] with bursts of NaN covering `missing` of the values."""
    rng = np.random.default_rng(seed)
    t = np.linspace(0.0, 1.0, timesteps)
    centre = rng.uniform(0.2, 0.5, size=(rows, 1))
    width = rng.uniform(0.01, 0.04, size=(rows, 1))
    wave = np.exp(-((t - centre) / width) ** 2) + 0.3 * np.exp(-((t - centre - 0.3) / (3 * width)) ** 2)
    wave += 0.02 * np.cumsum(rng.normal(size=(rows, timesteps)), axis=1) / np.sqrt(timesteps)
    wave = (wave - wave.min(axis=1, keepdims=True)) / np.ptp(wave, axis=1, keepdims=True)
    target = int(missing * rows * timesteps)
    n_bursts = int(target / 5.5)  # mean burst length of 1..10
    starts = rng.integers(0, rows * timesteps, size=n_bursts)
    lengths = rng.integers(1, 11, size=n_bursts)
    flat = wave.reshape(-1)
    for offset in range(10):
        hit = starts[lengths > offset] + offset
        hit = hit[(hit < flat.size) & (hit // timesteps == starts[lengths > offset] // timesteps)]
        flat[hit] = np.nan
    return wave


def pandas_call(X: np.ndarray, method: str, order: int | None) -> np.ndarray:
    df = pd.DataFrame(X)
    if method in ("ffill", "bfill"):
        return getattr(df, method)(axis=1).to_numpy()
    return df.interpolate(axis=1, method=method, **({} if order is None else {"order": order})).to_numpy()


def timed(call, repeat: int = 1):
    """Best wall time of `repeat` runs (the machine may be shared) and the last result."""
    best = float("inf")
    for _ in range(repeat):
        start = time.perf_counter()
        result = call()
        best = min(best, time.perf_counter() - start)
        if best > 5.0:  # slow calls vary little relative to their length: once is enough
            break
    return best, result


def bench_method(X: np.ndarray, name: str, sample_rows: int, repeat: int) -> tuple:
    method, order = (name[:-1], int(name[-1])) if name[-1].isdigit() else (name, None)
    t_imbrun, ours = timed(lambda: interpolate_series(X, method, order=order, progress=False), repeat)
    t_frame, theirs = timed(lambda: pandas_call(X, method, order), repeat)
    sample = X[:sample_rows]
    t_rows, _ = timed(lambda: [pandas_call(row[None, :], method, order) for row in sample])
    t_rows *= len(X) / len(sample)
    same_nan = bool((np.isnan(ours) == np.isnan(theirs)).all())
    diff = float(np.nanmax(np.abs(ours - theirs))) if same_nan else float("nan")
    return name, t_imbrun, t_frame, t_rows, diff, same_nan


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--rows", type=int, default=90000)
    parser.add_argument("--timesteps", type=int, default=187)
    parser.add_argument("--missing", type=float, default=0.05)
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--sample-rows", type=int, default=2000, help="rows timed for pandas row by row")
    parser.add_argument("--methods", default=DEFAULT_METHODS, help="comma list; spline3 = spline order 3")
    parser.add_argument("--repeat", type=int, default=3, help="best of this many runs (calls over 5 s run once)")
    args = parser.parse_args()
    X = make_series(args.rows, args.timesteps, args.missing, args.seed)
    gappy = np.isnan(X).any(axis=1).mean()
    print(f"{args.rows} x {args.timesteps}, {np.isnan(X).mean():.2%} missing in bursts of 1-10, "
          f"{gappy:.1%} of rows have gaps")
    print(f"pandas row by row: timed on the first {min(args.sample_rows, args.rows)} rows, scaled linearly; "
          f"other times: best of {args.repeat} runs (one run if over 5 s)")
    header = f"{'method':<12} {'imbrun s':>9} {'pandas frame s':>15} {'pandas rows s':>14} " \
             f"{'frame/imbrun':>13} {'rows/imbrun':>12} {'max abs diff':>13}"
    print(header)
    for name in args.methods.split(","):
        name, ours, frame, rows, diff, same_nan = bench_method(X, name, args.sample_rows, args.repeat)
        print(f"{name:<12} {ours:9.3f} {frame:15.3f} {rows:14.1f} {frame / ours:13.1f} {rows / ours:12.1f} "
              f"{diff:13.2e}" + ("" if same_nan else "  NaN positions differ!"))


if __name__ == "__main__":
    main()
