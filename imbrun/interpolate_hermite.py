"""pchip and akima for many rows at once: scipy's slope formulas on a flat list of known samples.

Both are cubic Hermite splines through the known samples; they differ only in the derivative they
give each known sample (scipy `PchipInterpolator._find_derivatives`, `Akima1DInterpolator.__init__`).
We lay the known samples of a chunk end to end, (n_known,), compute every derivative at once with
row boundaries respected, then evaluate each gap sample on its interval like scipy's `PPoly`.
"""

from dataclasses import dataclass

import numpy as np

from imbrun.interpolate_gaps import Gaps

# scipy's Akima: a derivative counts as defined where f1 + f2 > this times the row's largest f1 + f2
_AKIMA_BREAK = 1.0e-9


@dataclass
class KnownSamples:
    """The known samples of a chunk in row-major order, all (n_known,) except `first`/`count` (rows,)."""

    flat: np.ndarray   # index into the flattened chunk
    row: np.ndarray
    x: np.ndarray      # column, as float
    y: np.ndarray
    first: np.ndarray  # position in `flat` of each row's first known sample
    count: np.ndarray  # known samples per row

    @classmethod
    def of(cls, values: np.ndarray, known: np.ndarray) -> "KnownSamples":
        timesteps = values.shape[1]
        flat = np.flatnonzero(known)
        count = known.sum(axis=1)
        first = np.r_[0, np.cumsum(count)[:-1]]
        return cls(flat, flat // timesteps, (flat % timesteps).astype(np.float64), values.reshape(-1)[flat],
                   first, count)

    def slopes(self) -> tuple[np.ndarray, np.ndarray]:
        """Width h and slope of the segment from each sample to the next, (n_known - 1,) each."""
        h = np.diff(self.x)
        with np.errstate(invalid="ignore", divide="ignore"):
            return h, np.diff(self.y) / h  # segments across rows are garbage and never read


def fill_hermite(values, known, gaps: Gaps, chosen, method: str) -> np.ndarray:
    """Values of the pchip (extrapolating) or akima (NaN outside the known range) spline at the chosen gaps."""
    samples = KnownSamples.of(values, known)
    d = pchip_derivatives(samples) if method == "pchip" else akima_derivatives(samples)
    rows, cols, prev, nxt = gaps.rows[chosen], gaps.cols[chosen], gaps.prev[chosen], gaps.next[chosen]
    timesteps = values.shape[1]
    # interval start: the known sample before the gap, clamped to the first/last interval of the row
    left = np.searchsorted(samples.flat, rows * timesteps + np.maximum(prev, 0))
    left = np.clip(left, samples.first[rows], samples.first[rows] + samples.count[rows] - 2)
    out = _hermite(samples, d, left, cols.astype(np.float64))
    if method == "akima":
        out[(prev < 0) | (nxt >= timesteps)] = np.nan
    return out


def pchip_derivatives(s: KnownSamples) -> np.ndarray:
    """PchipInterpolator._find_derivatives for every known sample, (n_known,)."""
    h, m = s.slopes()
    position = np.arange(len(s.flat)) - np.repeat(s.first, s.count)
    count = np.repeat(s.count, s.count)
    d = np.zeros(len(s.flat))
    inner = np.flatnonzero((position > 0) & (position < count - 1))
    hl, hr, ml, mr = h[inner - 1], h[inner], m[inner - 1], m[inner]
    flat_or_turn = (np.sign(mr) != np.sign(ml)) | (mr == 0) | (ml == 0)
    w1, w2 = 2 * hr + hl, hr + 2 * hl
    with np.errstate(invalid="ignore", divide="ignore"):
        whmean = (w1 / ml + w2 / mr) / (w1 + w2)
        d[inner] = np.where(flat_or_turn, 0.0, 1.0 / whmean)
    two = count == 2
    d[two & (position == 0)] = m[np.flatnonzero(two & (position == 0))]
    d[two & (position == 1)] = m[np.flatnonzero(two & (position == 1)) - 1]
    head = np.flatnonzero((count > 2) & (position == 0))
    d[head] = _edge_case(h[head], h[head + 1], m[head], m[head + 1])
    tail = np.flatnonzero((count > 2) & (position == count - 1))
    d[tail] = _edge_case(h[tail - 1], h[tail - 2], m[tail - 1], m[tail - 2])
    return d


def _edge_case(h0, h1, m0, m1) -> np.ndarray:
    """PchipInterpolator._edge_case: one-sided three-point derivative, shape preserving."""
    d = ((2 * h0 + h1) * m0 - h0 * m1) / (h0 + h1)
    wrong_sign = np.sign(d) != np.sign(m0)
    overshoot = (np.sign(m0) != np.sign(m1)) & (np.abs(d) > 3.0 * np.abs(m0))
    return np.where(wrong_sign, 0.0, np.where(overshoot, 3.0 * m0, d))


def akima_derivatives(s: KnownSamples) -> np.ndarray:
    """Akima1DInterpolator(method="akima") derivative at every known sample, (n_known,)."""
    _, m = s.slopes()
    n_rows = len(s.count)
    # per row: 2 extrapolated slopes, the count-1 real ones, 2 extrapolated: count + 3 slots
    base = s.first + 3 * np.arange(n_rows)
    ext = np.zeros(len(s.flat) + 3 * n_rows)
    segment = np.flatnonzero(np.diff(s.row) == 0)  # segments inside a row
    position = segment - s.first[s.row[segment]]
    ext[base[s.row[segment]] + 2 + position] = m[segment]
    rows = np.flatnonzero(s.count >= 3)
    b, last = base[rows], base[rows] + s.count[rows]  # last real slope at b + count
    ext[b + 1] = 2.0 * ext[b + 2] - ext[b + 3]
    ext[b] = 2.0 * ext[b + 1] - ext[b + 2]
    ext[last + 1] = 2.0 * ext[last] - ext[last - 1]
    ext[last + 2] = 2.0 * ext[last + 1] - ext[last]
    # sample j of a row reads ext[base + j .. base + j + 3]
    start = base[s.row] + np.arange(len(s.flat)) - s.first[s.row]
    m0, m1, m2, m3 = (ext[start + k] for k in range(4))
    f1, f2 = np.abs(m3 - m2), np.abs(m1 - m0)
    f12 = f1 + f2
    row_max = np.full(n_rows, -np.inf)
    filled = np.flatnonzero(s.count > 0)
    row_max[filled] = np.maximum.reduceat(f12, s.first[filled])
    defined = f12 > _AKIMA_BREAK * row_max[s.row]
    with np.errstate(invalid="ignore", divide="ignore"):
        d = np.where(defined, m1 + (f2 / f12) * (m2 - m1), 0.5 * (m3 + m0))
    two = np.repeat(s.count == 2, s.count)
    first_of_two = np.flatnonzero(two)[::2]
    d[first_of_two] = m[first_of_two]
    d[first_of_two + 1] = m[first_of_two]
    return d


def _hermite(s: KnownSamples, d: np.ndarray, left: np.ndarray, x: np.ndarray) -> np.ndarray:
    """CubicHermiteSpline on interval [left, left + 1] evaluated at x, as scipy's PPoly does."""
    dx = s.x[left + 1] - s.x[left]
    slope = (s.y[left + 1] - s.y[left]) / dx
    t = (d[left] + d[left + 1] - 2 * slope) / dx
    c0, c1, c2, c3 = t / dx, (slope - d[left]) / dx - t, d[left], s.y[left]
    u = x - s.x[left]
    return ((c0 * u + c1) * u + c2) * u + c3
