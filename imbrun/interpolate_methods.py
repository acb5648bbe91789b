"""The value each method puts into a gap, computed for many rows at once.

Every filler takes a chunk `values` (rows, timesteps) with NaN gaps, its `known` mask, the
`Gaps` of the chunk and `chosen` (k,) the gap samples to fill, and returns their values (n_chosen,).
Each reproduces the scipy call pandas makes (see pandas `_interpolate_scipy_wrapper`).
"""

import warnings

import numpy as np
from scipy import interpolate as sp

from imbrun.interpolate_gaps import Gaps

# FITPACK accepts the degree-k least-squares polynomial when its residual is below s*(1 + 0.001);
# rows clearly below that (with this margin) take the vectorised polynomial path.
_POLYNOMIAL_SAFETY = 0.99


def fill_linear(values: np.ndarray, gaps: Gaps, chosen: np.ndarray) -> np.ndarray:
    """np.interp on each row's known samples: straight lines inside, the edge value outside."""
    rows, cols, prev, nxt = _chosen(gaps, chosen)
    timesteps = values.shape[1]
    y_prev = values[rows, np.maximum(prev, 0)]
    y_next = values[rows, np.minimum(nxt, timesteps - 1)]
    inside = (prev >= 0) & (nxt < timesteps)
    with np.errstate(invalid="ignore", divide="ignore"):
        slope = (y_next - y_prev) / (nxt - prev)
        line = slope * (cols - prev) + y_prev
    return np.where(inside, line, np.where(prev < 0, y_next, y_prev))


def fill_nearest(values: np.ndarray, gaps: Gaps, chosen: np.ndarray) -> np.ndarray:
    """interp1d(kind="nearest"): ties go to the earlier sample, NaN outside the known range."""
    rows, cols, prev, nxt = _chosen(gaps, chosen)
    timesteps = values.shape[1]
    inside = (prev >= 0) & (nxt < timesteps)
    take_prev = cols <= prev / 2.0 + nxt / 2.0
    source = np.where(take_prev, prev, nxt).clip(0, timesteps - 1)
    return np.where(inside, values[rows, source], np.nan)


def fill_pad(values: np.ndarray, gaps: Gaps, chosen: np.ndarray, method: str) -> np.ndarray:
    """ffill copies the previous known sample, bfill the next one."""
    rows, _, prev, nxt = _chosen(gaps, chosen)
    source = prev if method == "ffill" else nxt
    return values[rows, source]


def fill_spline(values, known, gaps: Gaps, chosen, order: int) -> np.ndarray:
    """UnivariateSpline(x, y, k=order) with pandas' default smoothing s = number of known samples.

    When the least-squares polynomial of degree `order` already has a residual sum of squares
    below s, FITPACK returns that polynomial (ier=-2); we fit it for all such rows at once and
    run FITPACK itself only on the other rows.
    """
    rows, cols = gaps.rows[chosen], gaps.cols[chosen]
    out = np.empty(len(rows))
    # every row of a chunk has a gap, so fit them all rather than gather the chosen ones
    polynomial_at, is_polynomial = _least_squares_polynomials(values, known, order)
    fast = is_polynomial[rows]
    out[fast] = polynomial_at(rows[fast], cols[fast])

    def fitpack(x, y, new_x):
        # pandas lets FITPACK warn once per poorly converging row; the result is the same without the noise
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", UserWarning)
            return sp.UnivariateSpline(x, y, k=order)(new_x)

    out[~fast] = _per_row(values, known, rows[~fast], cols[~fast], fitpack)
    return out


def fill_polynomial(values, known, gaps: Gaps, chosen, order: int) -> np.ndarray:
    """interp1d(kind=order): the not-a-knot interpolating spline, NaN outside the known range."""

    def interp1d(x, y, new_x):
        inside = (new_x >= x[0]) & (new_x <= x[-1])
        out = np.full(len(new_x), np.nan)
        out[inside] = sp.make_interp_spline(x, y, k=order, check_finite=False)(new_x[inside])
        return out

    return _per_row(values, known, gaps.rows[chosen], gaps.cols[chosen], interp1d)


def _per_row(values, known, rows, cols, call) -> np.ndarray:
    """Apply `call(x_known, y_known, x_new)` row by row; `rows` is sorted (np.nonzero order)."""
    out = np.empty(len(rows))
    if len(rows) == 0:
        return out
    starts = np.flatnonzero(np.r_[True, rows[1:] != rows[:-1]])
    ends = np.r_[starts[1:], len(rows)]
    for start, end in zip(starts, ends, strict=True):
        row = rows[start]
        x = np.flatnonzero(known[row]).astype(np.float64)
        out[start:end] = call(x, values[row, x.astype(np.intp)], cols[start:end].astype(np.float64))
    return out


def _least_squares_polynomials(values, known, order: int):
    """Fit a degree-`order` polynomial to each row's known samples (weights 1, like FITPACK).

    Returns a function giving the fitted values at (row, column) pairs, and per row whether
    FITPACK would return exactly this polynomial: residual clearly below s, and known samples
    spread over at least half the row (a narrow span would make the shared basis ill-conditioned).
    """
    timesteps = values.shape[1]
    # Chebyshev basis on the whole row, shared by all rows: (timesteps, order + 1)
    basis = _chebyshev(np.linspace(-1.0, 1.0, timesteps), order)
    outer = (basis[:, :, None] * basis[:, None, :]).reshape(timesteps, -1)
    weight = known.astype(np.float64)
    n_known = weight.sum(axis=1)
    # centre y so that a large offset does not cost precision in the normal equations
    y = np.where(known, values, 0.0)
    offset = y.sum(axis=1) / n_known
    y -= offset[:, None] * weight
    gram = (weight @ outer).reshape(-1, order + 1, order + 1)
    coef = np.linalg.solve(gram, (y @ basis)[:, :, None])[:, :, 0]
    # one step of iterative refinement: when the known samples cover only part of the row the Gram matrix is
    # ill-conditioned (order 5 on half a row: errors ~1e-8 on values ~1e3); solving for the residual's
    # correction brings the fit back to ~1e-11, as FITPACK's Givens rotations get it
    residual = coef @ basis.T  # (rows, timesteps): the fit, turned in place into y - fit, zero where unknown
    np.subtract(y, residual, out=residual)
    residual *= weight
    gradient = residual @ basis
    step = np.linalg.solve(gram, gradient[:, :, None])[:, :, 0]
    coef += step
    # residual sum of squares after the step: |r|^2 - step . gradient (as gram @ step == gradient)
    fp0 = np.einsum("rt,rt->r", residual, residual) - np.einsum("rj,rj->r", step, gradient)
    span = timesteps - 1 - np.argmax(known[:, ::-1], axis=1) - np.argmax(known, axis=1)

    def at(rows: np.ndarray, cols: np.ndarray) -> np.ndarray:
        out = offset[rows].copy()
        for j in range(order + 1):
            out += coef[rows, j] * basis[cols, j]
        return out

    return at, (fp0 < _POLYNOMIAL_SAFETY * n_known) & (2 * span >= timesteps - 1)


def _chebyshev(u: np.ndarray, order: int) -> np.ndarray:
    """Chebyshev polynomials T_0..T_order at u, stacked on a new last axis."""
    terms = [np.ones_like(u), u]
    for _ in range(order - 1):
        terms.append(2.0 * u * terms[-1] - terms[-2])
    return np.stack(terms[: order + 1], axis=-1)


def _chosen(gaps: Gaps, chosen: np.ndarray):
    return gaps.rows[chosen], gaps.cols[chosen], gaps.prev[chosen], gaps.next[chosen]
