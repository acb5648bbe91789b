"""interpolate_series must equal pandas exactly; padding, missing markers, remaining policies, the progress bar."""

import io
import itertools
import warnings

import numpy as np
import pandas as pd
import pytest

import imbrun.interpolate as interpolate_module
from imbrun.errors import ImbrunError
from imbrun.interpolate import _CHUNK_ROWS, handle_remaining, interpolate_series, mark_missing
from imbrun.interpolate_methods import _least_squares_polynomials

nan = np.nan

# every (method, order) pandas offers that imbrun supports, and how many known values pandas' scipy call needs
CASES = [("linear", None, 1), ("nearest", None, 1), ("ffill", None, 0), ("bfill", None, 0), ("pchip", None, 2),
         ("akima", None, 2)] + [(kind, order, order + 1) for kind in ("spline", "polynomial") for order in range(1, 6)]
LIMITS = [(None, None), (1, None), (2, "inside"), (None, "outside"), (3, "outside")]
DIRECTIONS = [None, "backward", "both"]  # None is "forward" for every interpolate method


def _gappy_rows(seed: int, min_known: int, n: int = 24, timesteps: int = 20) -> np.ndarray:
    """Seeded random walks with bursts of NaN, plus edge cases: (n + 7, timesteps)."""
    rng = np.random.default_rng(seed)
    # half the rows have small amplitude (FITPACK returns a polynomial), half large (real smoothing spline)
    scale = np.where(np.arange(n) % 2 == 0, 0.2, 40.0)[:, None]
    X = np.cumsum(rng.normal(size=(n, timesteps)), axis=1) * scale
    for row in range(n):
        for _ in range(rng.integers(1, 4)):
            start, length = rng.integers(0, timesteps), rng.integers(1, 6)
            X[row, start:start + length] = nan
    X[0, :3] = nan            # gaps at both edges
    X[0, -4:] = nan
    X[1, :] = np.arange(timesteps, dtype=float)  # no gap
    X[2, :] = nan             # all missing
    edge = np.full((7, timesteps), nan)
    edge[0, [4, 9]] = [1.0, -2.0]                  # two known values
    edge[1, [0, 5, 6, timesteps - 1]] = [3.0, 1.0, 4.0, 1.5]
    edge[2, [2, 3, 7, 11, 12]] = [0.5, -0.5, 2.0, 2.5, 0.0]
    edge[3, 7] = 5.0                                 # a single known value
    edge[4, :] = rng.normal(size=timesteps)
    edge[4, [5, 6, 14]] = nan
    edge[5, [1, 8, 15]] = [2.0, -1.0, 0.5]          # three known values
    edge[6, :] = np.arange(timesteps) * 0.5         # a straight line with gaps (akima's flat case)
    edge[6, [0, 3, 4, 10, timesteps - 1]] = nan
    X = np.vstack([X, edge])
    known = (~np.isnan(X)).sum(axis=1)
    return X[(known == 0) | (known >= min_known) | (known == timesteps)]


def _pandas(X, method, order, limit, limit_area, limit_direction):
    df = pd.DataFrame(X)
    if method in ("ffill", "bfill"):
        return getattr(df, method)(axis=1, limit=limit, limit_area=limit_area).to_numpy()
    extra = {} if order is None else {"order": order}
    return df.interpolate(axis=1, method=method, limit=limit, limit_area=limit_area,
                          limit_direction=limit_direction, **extra).to_numpy()


@pytest.mark.parametrize("method,order,min_known", CASES)
def test_equals_pandas_for_every_limit_combination(method, order, min_known):
    X = _gappy_rows(seed=len(method) + (order or 0), min_known=min_known)
    directions = [None] if method in ("ffill", "bfill") else DIRECTIONS
    for (limit, limit_area), direction in itertools.product(LIMITS, directions):
        expected = _pandas(X, method, order, limit, limit_area, direction)
        got = interpolate_series(X, method, order=order, limit=limit, limit_area=limit_area,
                                 limit_direction=direction, progress=False)
        where = f"{method} order={order} limit={limit} area={limit_area} direction={direction}"
        np.testing.assert_array_equal(np.isnan(got), np.isnan(expected), err_msg=where)
        np.testing.assert_allclose(got, expected, atol=1e-9, rtol=0, err_msg=where)


def test_spline_uses_both_the_polynomial_shortcut_and_fitpack():
    # pandas' spline is UnivariateSpline(k=order) with s = number of known values: small-amplitude
    # rows give the least-squares cubic, large-amplitude rows a genuine smoothing spline
    x = np.arange(12, dtype=float)
    small = np.sin(x) * 0.1
    large = np.sin(x) * 30
    X = np.vstack([small, large])
    X[:, [3, 4, 8]] = nan
    got = interpolate_series(X, "spline", order=3, progress=False)
    expected = pd.DataFrame(X).interpolate(axis=1, method="spline", order=3).to_numpy()
    np.testing.assert_allclose(got, expected, atol=1e-9, rtol=0)
    cubic = np.polyval(np.polyfit(np.delete(x, [3, 4, 8]), np.delete(small, [3, 4, 8]), 3), x)
    np.testing.assert_allclose(got[0, [3, 4, 8]], cubic[[3, 4, 8]], atol=1e-9)


def test_linear_hand_written():
    X = np.array([[nan, 1.0, nan, nan, 4.0, nan],
                  [2.0, 2.0, 2.0, 2.0, 2.0, 2.0],
                  [nan, nan, nan, nan, nan, nan]])
    got = interpolate_series(X, "linear", limit_direction="both", progress=False)
    np.testing.assert_array_equal(got, [[1.0, 1.0, 2.0, 3.0, 4.0, 4.0], [2.0] * 6, [nan] * 6])


@pytest.mark.parametrize("method,order,need", [("spline", 3, 4), ("pchip", None, 2), ("polynomial", 2, 3)])
def test_too_few_known_values_raise_like_pandas(method, order, need):
    X = np.array([[0.0, 1.0, 2.0, 3.0], [nan, 5.0, nan, nan]])
    with pytest.raises(Exception):
        pd.DataFrame(X).interpolate(axis=1, method=method, order=order)
    with pytest.raises(ImbrunError) as error:
        interpolate_series(X, method, order=order, progress=False)
    assert str(error.value) == (
        f"interpolation method '{method}' needs at least {need} known values in a series with gaps, "
        "but 1 series have fewer (first: row 1, 1 known); choose a method that needs fewer points or drop "
        "those rows first")


def test_trailing_zero_padding_is_neither_used_nor_filled():
    X = np.array([[1.0, nan, 3.0, nan, nan, 0.0, 0.0],
                  [nan, 2.0, 4.0, 0.0, 0.0, 0.0, 0.0],
                  [1.0, 0.0, nan, 2.0, 0.0, 0.0, 0.0],
                  [0.0, 0.0, 0.0, 0.0, 0.0, 0.0, 0.0],
                  [5.0, nan, 7.0, 8.0, 9.0, 1.0, 2.0]])
    got = interpolate_series(X, "linear", limit_direction="both", padding="trailing_zeros", progress=False)
    np.testing.assert_array_equal(got, [[1.0, 2.0, 3.0, 3.0, 3.0, 0.0, 0.0],
                                        [2.0, 2.0, 4.0, 0.0, 0.0, 0.0, 0.0],
                                        [1.0, 0.0, 1.0, 2.0, 0.0, 0.0, 0.0],
                                        [0.0] * 7,
                                        [5.0, 6.0, 7.0, 8.0, 9.0, 1.0, 2.0]])
    inside = interpolate_series(X, "linear", limit_area="inside", padding="trailing_zeros", progress=False)
    np.testing.assert_array_equal(inside[:2], [[1.0, 2.0, 3.0, nan, nan, 0.0, 0.0],
                                               [nan, 2.0, 4.0, 0.0, 0.0, 0.0, 0.0]])
    bfill = interpolate_series(X[:1], "bfill", padding="trailing_zeros", progress=False)
    np.testing.assert_array_equal(bfill, [[1.0, 3.0, 3.0, nan, nan, 0.0, 0.0]])


def test_multichannel_padding_needs_all_channels_zero():
    # (n=1, timesteps=5, channels=2): step 3 is zero only in channel 0, so it is signal there
    X = np.array([[[1.0, 10.0], [nan, nan], [3.0, 30.0], [0.0, nan], [0.0, 0.0]]])
    got = interpolate_series(X, "ffill", padding="trailing_zeros", progress=False)
    np.testing.assert_array_equal(got, [[[1.0, 10.0], [1.0, 10.0], [3.0, 30.0], [0.0, 30.0], [0.0, 0.0]]])
    linear = interpolate_series(X, "linear", progress=False)
    np.testing.assert_array_equal(linear[0, :, 1], [10.0, 20.0, 30.0, 15.0, 0.0])


def test_bad_arguments_are_one_line_errors():
    X = np.zeros((2, 3))
    with pytest.raises(ImbrunError, match="unknown interpolation method 'cubic'; expected one of linear,"):
        interpolate_series(X, "cubic")
    with pytest.raises(ImbrunError, match="needs an integer order from 1 to 5, got None"):
        interpolate_series(X, "spline")
    with pytest.raises(ImbrunError, match="limit must be a positive integer or None, got 0"):
        interpolate_series(X, "linear", limit=0)
    with pytest.raises(ImbrunError, match="'ffill' only fills forward, got limit_direction 'both'"):
        interpolate_series(X, "ffill", limit_direction="both")


def test_mark_missing_turns_sentinels_into_nan():
    got = mark_missing(np.array([[1, -999, 3], [-1, 0, -999]]), [-999, -1])
    np.testing.assert_array_equal(got, [[1.0, nan, 3.0], [nan, 0.0, nan]])
    assert got.dtype == np.float64


def test_handle_remaining_policies():
    X = np.array([[1.0, 2.0], [nan, nan], [3.0, nan]])
    filled, keep = handle_remaining(X, "fill", fill_value=-1.0)
    np.testing.assert_array_equal(filled, [[1.0, 2.0], [-1.0, -1.0], [3.0, -1.0]])
    np.testing.assert_array_equal(keep, [True, True, True])
    kept, keep = handle_remaining(X, "drop")
    np.testing.assert_array_equal(kept, [[1.0, 2.0]])
    np.testing.assert_array_equal(keep, [True, False, False])
    with pytest.raises(ImbrunError) as error:
        handle_remaining(X, "fail")
    assert str(error.value) == ("3 values in 2 rows are still missing after interpolation (first: row 1); "
                                "use policy 'fill' or 'drop' for remaining values, or another interpolation")
    same, keep = handle_remaining(X[:1], "fail")
    np.testing.assert_array_equal(same, [[1.0, 2.0]])


@pytest.mark.parametrize("method,order,min_known", CASES)
def test_padding_equals_pandas_on_the_shortened_series(method, order, min_known):
    X = _gappy_rows(seed=7, min_known=min_known + 1, n=12, timesteps=16)
    X[X == 0] = 0.5  # a real zero right before the padding would count as padding
    lengths = np.random.default_rng(8).integers(min_known + 4, 17, size=len(X))
    padded = X.copy()
    for row, length in enumerate(lengths):
        padded[row, length:] = 0.0
    direction = None if method in ("ffill", "bfill") else "both"
    got = interpolate_series(padded, method, order=order, limit=2, limit_direction=direction,
                             padding="trailing_zeros", progress=False)
    compared = 0
    for row, length in enumerate(lengths):
        if (~np.isnan(X[row, :length])).sum() < max(min_known, 1):
            continue  # nothing to interpolate from, and pandas would refuse
        expected = _pandas(padded[row:row + 1, :length], method, order, 2, None, direction)
        np.testing.assert_allclose(got[row, :length], expected[0], atol=1e-9, rtol=0)
        np.testing.assert_array_equal(got[row, length:], 0.0)
        compared += 1
    assert compared >= 10


def test_channels_are_interpolated_separately_and_float32_is_kept():
    rng = np.random.default_rng(3)
    X = rng.normal(size=(6, 15, 3))
    X[rng.random(X.shape) < 0.3] = nan
    X[:, 0, :] = rng.normal(size=(6, 3))  # at least one known value per channel
    X[:, 1, :] = rng.normal(size=(6, 3))
    got = interpolate_series(X, "pchip", limit_direction="both", progress=False)
    for channel in range(3):
        expected = pd.DataFrame(X[:, :, channel]).interpolate(axis=1, method="pchip", limit_direction="both")
        np.testing.assert_allclose(got[:, :, channel], expected.to_numpy(), atol=1e-9, rtol=0)
    assert interpolate_series(X.astype(np.float32), "linear", progress=False).dtype == np.float32


def test_progress_bar_appears_only_after_the_delay(monkeypatch):
    import imbrun.interpolate as module

    quick = module._LazyProgress(total=10, description="x", enabled=True)
    quick.advance(5)
    assert quick.bar is None
    monkeypatch.setattr(module, "_PROGRESS_AFTER_SECONDS", -1.0)
    with module._LazyProgress(total=10, description="x", enabled=True) as slow:
        slow.advance(5)
        assert slow.bar is not None
    disabled = module._LazyProgress(total=10, description="x", enabled=False)
    disabled.advance(5)
    assert disabled.bar is None


def _chunky_rows(seed: int, n: int = 1300, timesteps: int = 187) -> np.ndarray:
    """More series with gaps than one chunk holds, non-contiguous: every 10th row has none, one is all missing."""
    rng = np.random.default_rng(seed)
    # even rows small (the spline's polynomial shortcut), odd rows large (FITPACK's smoothing spline)
    scale = np.where(np.arange(n) % 2 == 0, 0.02, 3.0)[:, None]
    X = np.cumsum(rng.normal(size=(n, timesteps)), axis=1) * scale
    for row in range(n):
        if row % 10 == 3:
            continue
        for _ in range(rng.integers(1, 5)):
            start, length = rng.integers(0, timesteps), rng.integers(1, 11)
            X[row, start:start + length] = nan
    X[7, :] = nan
    X[11, :] = nan
    X[11, 90] = 2.0  # a single known value
    return X


@pytest.mark.parametrize("method,order,limit,limit_area,direction", [
    ("linear", None, None, None, "both"), ("bfill", None, 3, "inside", None), ("pchip", None, 4, None, "both"),
    ("spline", 3, 2, None, "both")])
def test_equals_pandas_across_chunks_at_187_steps(method, order, limit, limit_area, direction):
    X = _chunky_rows(seed=11)
    if method in ("pchip", "spline"):  # pandas refuses a series with too few points, so does imbrun
        X = np.delete(X, 11, axis=0)
    gappy = np.isnan(X).any(axis=1) & ~np.isnan(X).all(axis=1)
    assert gappy.sum() > _CHUNK_ROWS and not gappy.all()  # several chunks, gathered rows written back
    if method == "spline":
        _, shortcut = _least_squares_polynomials(X[gappy], ~np.isnan(X[gappy]), order)
        assert 0.3 < shortcut.mean() < 0.7  # both the vectorised polynomial and FITPACK
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", UserWarning)  # FITPACK's convergence notes, per row
        expected = _pandas(X, method, order, limit, limit_area, direction)
    got = interpolate_series(X, method, order=order, limit=limit, limit_area=limit_area, limit_direction=direction,
                             progress=False)
    np.testing.assert_array_equal(np.isnan(got), np.isnan(expected))
    np.testing.assert_allclose(got, expected, atol=1e-9, rtol=0)
    assert np.isnan(X).sum() > np.isnan(got).sum()


def _large_amplitude_rows(seed: int = 0, n: int = 32, timesteps: int = 187) -> np.ndarray:
    """Offsets of +-1e2..1e4 on a degree-5 trend; every 8th row known over only half its length."""
    rng = np.random.default_rng(seed)
    t = np.linspace(-1.0, 1.0, timesteps)
    offset = 10 ** rng.uniform(2, 4, size=(n, 1)) * rng.choice([-1.0, 1.0], size=(n, 1))
    trend = np.polynomial.polynomial.polyval(t, rng.normal(size=(n, 6)).T * 50)
    noise = np.where(np.arange(n) % 2 == 0, 0.3, 3.0)[:, None] * rng.normal(size=(n, timesteps))
    X = offset + trend + noise
    for row in range(n):
        lead, trail = rng.integers(0, 9, size=2)
        if row % 8 == 0:  # the shortcut's least-squares problem is worst conditioned here
            lead = rng.integers(30, 50)
            trail = 93 - lead - rng.integers(0, 4)
        X[row, :lead] = nan
        X[row, timesteps - trail:] = nan
        for _ in range(rng.integers(1, 5)):
            start, length = rng.integers(0, timesteps), rng.integers(1, 11)
            X[row, start:start + length] = nan
    return X


@pytest.mark.parametrize("method,order", [("spline", order) for order in range(1, 6)]
                         + [("polynomial", 5), ("pchip", None), ("akima", None), ("linear", None)])
def test_large_amplitudes_equal_pandas(method, order):
    # the spline's polynomial shortcut solves normal equations: with offsets of 1e4 and known samples over half
    # the row it was off by 3.6e-9 at order 5 before its refinement step; FITPACK itself is within ~2e-10 here
    X = _large_amplitude_rows()
    if method == "spline":
        _, shortcut = _least_squares_polynomials(X, ~np.isnan(X), order)
        assert not shortcut.all() and (shortcut.any() or order < 3)  # FITPACK, and from order 3 the shortcut
    for direction in (None, "both"):
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", UserWarning)
            expected = _pandas(X, method, order, None, None, direction)
        got = interpolate_series(X, method, order=order, limit_direction=direction, progress=False)
        np.testing.assert_array_equal(np.isnan(got), np.isnan(expected))
        np.testing.assert_allclose(got, expected, atol=1e-9, rtol=0, err_msg=f"direction={direction}")


class FakeTerminal(io.StringIO):
    def isatty(self) -> bool:
        return True


def _recording_console(monkeypatch) -> io.StringIO:
    """Make the bar appear at once and render it, as plain text, into the returned buffer."""
    from rich.console import Console

    screen = io.StringIO()
    monkeypatch.setattr(interpolate_module, "_PROGRESS_AFTER_SECONDS", -1.0)
    monkeypatch.setattr(interpolate_module, "_progress_console",
                        lambda: Console(file=screen, force_terminal=True, color_system=None, width=100))
    return screen


def test_a_slow_interpolation_shows_its_progress_bar(monkeypatch):
    screen = _recording_console(monkeypatch)
    X = np.tile([1.0, nan, 3.0], (2 * _CHUNK_ROWS + 1, 1))
    got = interpolate_series(X, "linear", progress=True)
    np.testing.assert_array_equal(got[:, 1], 2.0)
    shown = screen.getvalue()
    assert "interpolating (linear)" in shown and "100%" in shown
    screen.truncate(0)
    interpolate_series(X, "linear", progress=False)
    assert screen.getvalue() == ""


def test_the_default_shows_the_bar_only_on_a_terminal_of_the_main_process(monkeypatch):
    screen = _recording_console(monkeypatch)
    X = np.array([[1.0, nan, 3.0]])
    interpolate_series(X, "pchip")  # pytest's captured stderr is not a terminal
    assert screen.getvalue() == ""
    monkeypatch.setattr(interpolate_module.sys, "stderr", FakeTerminal())
    interpolate_series(X, "pchip")
    assert "interpolating (pchip)" in screen.getvalue()
    screen.truncate(0)
    screen.seek(0)
    monkeypatch.setattr(interpolate_module.multiprocessing, "parent_process", lambda: object())  # a sweep worker
    interpolate_series(X, "pchip")
    assert screen.getvalue() == ""
