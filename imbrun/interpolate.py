"""Fill gaps in time series exactly as pandas would, but vectorised across rows.

`interpolate_series(X, "linear")` equals `pd.DataFrame(X).interpolate(axis=1, method="linear")`
(to 1e-9, NaNs in the same places) for every method in METHODS and every limit / limit_area /
limit_direction, and `"ffill"`/`"bfill"` equal `DataFrame.ffill(axis=1)`/`bfill`. Rows are processed
in chunks; rows without gaps are never touched.
"""

import multiprocessing
import sys
import time
from collections.abc import Sequence

import numpy as np
from threadpoolctl import threadpool_limits

from imbrun.errors import ImbrunError
from imbrun.interpolate_gaps import find_gaps, interpolate_fill_mask, pad_fill_mask
from imbrun.interpolate_hermite import fill_hermite
from imbrun.interpolate_methods import fill_linear, fill_nearest, fill_pad, fill_polynomial, fill_spline

METHODS: tuple[str, ...] = ("linear", "nearest", "spline", "pchip", "akima", "polynomial", "ffill", "bfill")
POLICIES: tuple[str, ...] = ("fail", "fill", "drop")

# known samples a row needs before pandas' scipy call accepts it (spline/polynomial: order + 1)
_MIN_KNOWN = {"linear": 1, "nearest": 1, "pchip": 2, "akima": 2, "ffill": 0, "bfill": 0}
_LOCAL_METHODS = ("linear", "nearest", "ffill", "bfill")
_CHUNK_ROWS = 1024  # keeps temporaries (~1.5 MB) in reused memory instead of fresh pages
_PROGRESS_AFTER_SECONDS = 1.0


def interpolate_series(X: np.ndarray, method: str, *, order: int | None = None, limit: int | None = None,
                       limit_area: str | None = None, limit_direction: str | None = None,
                       padding: str | None = None, progress: bool | None = None) -> np.ndarray:
    """Fill NaNs along the time axis (axis 1) of X: (n, timesteps) or (n, timesteps, channels).

    Args:
        X: float array; each channel is interpolated separately.
        method: one of METHODS; "spline" and "polynomial" need `order` (1..5).
        limit, limit_area, limit_direction: as in pandas; limit_direction None means pandas' default.
        padding: "trailing_zeros" treats the zero run at the end of each series (all channels zero)
            as padding: never a known point, never filled, still zero afterwards.
        progress: show a progress bar (on stderr) once the call has taken longer than about a second;
            None: only when stderr is a terminal of the main process (not in pipes, logs or sweep workers).

    Returns:
        A new array of X's shape (float64 unless X is float32).

    Example:
        >>> interpolate_series(np.array([[1.0, np.nan, 3.0]]), "linear")
        array([[1., 2., 3.]])
    """
    direction = _validate(X, method, order, limit, limit_area, limit_direction, padding)
    values = np.array(X, dtype=np.float32 if X.dtype == np.float32 else np.float64)
    series = values if values.ndim == 2 else np.moveaxis(values, 2, 1).reshape(-1, values.shape[1])
    work = np.asarray(series, dtype=np.float64)  # (series, timesteps): one row per (sample, channel)
    known = ~np.isnan(work)
    target = ~known
    if padding == "trailing_zeros":
        is_padding = _trailing_padding(values)  # (n, timesteps)
        if values.ndim == 3:
            is_padding = np.repeat(is_padding, values.shape[2], axis=0)
        known &= ~is_padding
        target &= ~is_padding
    # only series with a gap and a known value are touched (pandas leaves all-missing ones alone)
    has_known = known.any(axis=1)
    if not has_known.all():
        target &= has_known[:, None]
    todo = np.flatnonzero(target.any(axis=1))
    _check_enough_known(known, todo, method, order, values)
    # the per-chunk matrix products are tiny: BLAS threads only add contention
    shown = _progress_wanted() if progress is None else progress
    with _LazyProgress(len(work), f"interpolating ({method})", shown) as bar, threadpool_limits(1, "blas"):
        for rows in _chunks(todo, len(work), local=method in _LOCAL_METHODS):
            chunk = work[rows]  # (rows, timesteps): a view for slices, else a copy written back below
            _fill_chunk(chunk, known[rows], target[rows], method, order, limit, limit_area, direction)
            if not isinstance(rows, slice):
                work[rows] = chunk
            bar.advance(len(chunk))
    if work is not series:
        series[...] = work
    return values if values.ndim == 2 else np.moveaxis(series.reshape(values.shape[0], values.shape[2], -1), 1, 2)


def _chunks(todo: np.ndarray, n_series: int, local: bool):
    """Row selections of about _CHUNK_ROWS series.

    Methods that only look at a gap's two neighbours run on plain slices of all series (views,
    no copies; a series without gaps costs one scan); the others gather the series in `todo`.
    """
    if local:
        for start in range(0, n_series, _CHUNK_ROWS):
            yield slice(start, start + _CHUNK_ROWS)
    else:
        for start in range(0, len(todo), _CHUNK_ROWS):
            yield todo[start:start + _CHUNK_ROWS]


def _fill_chunk(values, known, target, method, order, limit, area, direction) -> None:
    """Fill the gaps of one chunk `values` (rows, timesteps) in place."""
    gaps = find_gaps(known, target)
    if method in ("ffill", "bfill"):
        chosen = pad_fill_mask(gaps, method, limit, area)
    else:
        chosen = interpolate_fill_mask(gaps, limit, direction, area)
    if method == "linear":
        filled = fill_linear(values, gaps, chosen)
    elif method == "nearest":
        filled = fill_nearest(values, gaps, chosen)
    elif method in ("ffill", "bfill"):
        filled = fill_pad(values, gaps, chosen, method)
    elif method == "spline":
        filled = fill_spline(values, known, gaps, chosen, order)
    elif method == "polynomial":
        filled = fill_polynomial(values, known, gaps, chosen, order)
    else:
        filled = fill_hermite(values, known, gaps, chosen, method)
    values[gaps.rows[chosen], gaps.cols[chosen]] = filled


def _trailing_padding(values: np.ndarray) -> np.ndarray:
    """(n, timesteps) True on the run of all-zero time steps at the end of each series."""
    zero = values == 0 if values.ndim == 2 else (values == 0).all(axis=2)
    # a step is padding when it and every later step are zero
    return np.logical_and.accumulate(zero[:, ::-1], axis=1)[:, ::-1]


def _check_enough_known(known: np.ndarray, rows: np.ndarray, method, order, values) -> None:
    """pandas raises for a series whose scipy call lacks known points; say which series instead.

    known: (series, timesteps) mask of known samples, rows: the series that have a gap to fill.
    """
    need = order + 1 if method in ("spline", "polynomial") else _MIN_KNOWN[method]
    if need <= 1:  # series with a gap to fill have a known value by construction
        return
    known = known[rows]
    counts = known.sum(axis=1)
    short = np.flatnonzero(counts < need)
    if len(short) == 0:
        return
    where = _describe_row(int(rows[short[0]]), values)
    raise ImbrunError(
        f"interpolation method '{method}' needs at least {need} known values in a series with gaps, "
        f"but {len(short)} series have fewer (first: {where}, {int(counts[short[0]])} known); "
        f"choose a method that needs fewer points or drop those rows first"
    )


def _describe_row(series_index: int, values: np.ndarray) -> str:
    if values.ndim == 2:
        return f"row {series_index}"
    channels = values.shape[2]
    return f"row {series_index // channels} channel {series_index % channels}"


def _validate(X, method, order, limit, limit_area, limit_direction, padding) -> str:
    """Check the arguments like pandas does, with one-line messages; return the limit direction."""
    if not isinstance(X, np.ndarray) or X.ndim not in (2, 3):
        shape = getattr(X, "shape", type(X).__name__)
        raise ImbrunError(f"interpolation expects an array (n, timesteps) or (n, timesteps, channels), got {shape}")
    if method not in METHODS:
        raise ImbrunError(f"unknown interpolation method '{method}'; expected one of {', '.join(METHODS)}")
    if method in ("spline", "polynomial") and (order is None or not 1 <= order <= 5):
        raise ImbrunError(f"interpolation method '{method}' needs an integer order from 1 to 5, got {order}")
    if limit is not None and (not isinstance(limit, int | np.integer) or limit < 1):
        raise ImbrunError(f"interpolation limit must be a positive integer or None, got {limit!r}")
    if limit_area not in (None, "inside", "outside"):
        raise ImbrunError(f"interpolation limit_area must be 'inside', 'outside' or None, got {limit_area!r}")
    if padding not in (None, "trailing_zeros"):
        raise ImbrunError(f"interpolation padding must be 'trailing_zeros' or None, got {padding!r}")
    default = {"ffill": "forward", "bfill": "backward"}.get(method, "forward")
    direction = default if limit_direction is None else limit_direction
    if direction not in ("forward", "backward", "both"):
        raise ImbrunError(f"interpolation limit_direction must be 'forward', 'backward' or 'both', got {direction!r}")
    if method in ("ffill", "bfill") and direction != default:
        raise ImbrunError(f"interpolation method '{method}' only fills {default}, got limit_direction {direction!r}")
    return direction


def mark_missing(X: np.ndarray, sentinels: Sequence[float]) -> np.ndarray:
    """Return a float copy with the sentinel values (e.g. -999) turned into NaN."""
    marked = np.array(X, dtype=np.float32 if np.asarray(X).dtype == np.float32 else np.float64)
    for sentinel in sentinels:
        if not np.isnan(sentinel):
            marked[marked == sentinel] = np.nan
    return marked


def handle_remaining(X: np.ndarray, policy: str, fill_value: float = 0.0,
                     row_ids: np.ndarray | None = None) -> tuple[np.ndarray, np.ndarray]:
    """Deal with values still missing after interpolation; returns (X, keep_row_mask).

    "fail" raises if anything is missing (naming the first row by its id in `row_ids` when given),
    "fill" puts `fill_value` there, "drop" removes the rows (the returned X has only the kept rows;
    use the mask on the labels too).
    """
    if policy not in POLICIES:
        known = ", ".join(POLICIES)
        raise ImbrunError(f"unknown policy for remaining missing values '{policy}'; expected one of {known}")
    missing = np.isnan(X)
    row_missing = missing.reshape(len(X), -1).any(axis=1)
    keep = np.ones(len(X), dtype=bool)
    if not row_missing.any():
        return X, keep
    if policy == "fail":
        first = int(np.flatnonzero(row_missing)[0])
        where = f"row {first}" if row_ids is None else f"row id {int(row_ids[first])}"
        raise ImbrunError(
            f"{int(missing.sum())} values in {int(row_missing.sum())} rows are still missing after interpolation "
            f"(first: {where}); use policy 'fill' or 'drop' for remaining values, or another interpolation"
        )
    if policy == "fill":
        return np.where(missing, np.asarray(fill_value, dtype=X.dtype), X), keep
    return X[~row_missing], ~row_missing


def _progress_wanted() -> bool:
    """The default: a bar only for a person watching, i.e. on a terminal's stderr, and not from a worker process."""
    isatty = getattr(sys.stderr, "isatty", None)  # sys.stderr may be None, or a stand-in without isatty
    return bool(isatty and isatty()) and multiprocessing.parent_process() is None


def _progress_console():
    from rich.console import Console

    return Console(stderr=True)  # stdout stays for results (`imbrun train -q` prints only the run path there)


class _LazyProgress:
    """A rich progress bar that appears only once the work has taken more than about a second."""

    def __init__(self, total: int, description: str, enabled: bool):
        self.total, self.description, self.enabled = total, description, enabled
        self.done = 0
        self.started = time.perf_counter()
        self.bar = None

    def __enter__(self) -> "_LazyProgress":
        return self

    def advance(self, steps: int) -> None:
        self.done += steps
        if self.bar is None and self.enabled and time.perf_counter() - self.started > _PROGRESS_AFTER_SECONDS:
            from rich.progress import Progress

            self.bar = Progress(console=_progress_console(), transient=True)
            self.bar.start()
            self.task = self.bar.add_task(self.description, total=self.total)
        if self.bar is not None:
            self.bar.update(self.task, completed=min(self.done, self.total))

    def __exit__(self, *exc_info) -> None:
        if self.bar is not None:
            self.bar.stop()

