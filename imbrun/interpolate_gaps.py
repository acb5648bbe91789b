"""Where the gaps are: neighbouring known samples of every gap, and which gap positions pandas fills.

Everything here works on a chunk of rows at once, (rows, timesteps), with boolean masks:
`known` marks samples used as interpolation nodes, `target` the missing samples we may fill
(padding is in neither). The rules mirror pandas 3.x `core/missing.py` (`_interpolate_1d`,
`_interp_limit`, `_pad_2d`/`_backfill_2d` with `_fill_limit_area_2d`).
"""

from dataclasses import dataclass

import numpy as np


@dataclass
class Gaps:
    """The missing positions of a chunk and their nearest known neighbours, all (k,).

    rows, cols: position of each missing sample in the chunk (row-major order).
    prev: column of the last known sample before it, -1 when the gap is leading.
    next: column of the first known sample after it, `timesteps` when the gap is trailing.
    """

    rows: np.ndarray
    cols: np.ndarray
    prev: np.ndarray
    next: np.ndarray
    timesteps: int

    @property
    def leading(self) -> np.ndarray:
        return self.prev < 0

    @property
    def trailing(self) -> np.ndarray:
        return self.next >= self.timesteps


def find_gaps(known: np.ndarray, target: np.ndarray) -> Gaps:
    """Locate each target's previous and next known column from the runs of consecutive targets.

    Only padding is neither known nor target, and it only follows a gap, so the column before a
    run is known (or -1) and the column after it is known unless it is padding or past the end.
    """
    timesteps = known.shape[1]
    rows, cols = np.nonzero(target)
    if len(rows) == 0:
        return Gaps(rows, cols, cols, cols, timesteps)
    starts = np.empty(len(rows), dtype=bool)
    starts[0] = True
    starts[1:] = (cols[1:] != cols[:-1] + 1) | (rows[1:] != rows[:-1])
    ends = np.empty_like(starts)
    ends[:-1] = starts[1:]
    ends[-1] = True
    run = np.cumsum(starts) - 1  # run number of each target
    prev = cols[starts][run] - 1
    after = cols[ends] + 1
    run_rows = rows[ends]
    after_known = after < timesteps
    after_known[after_known] = known[run_rows[after_known], after[after_known]]
    nxt = np.where(after_known, after, timesteps)[run]
    return Gaps(rows, cols, prev, nxt, timesteps)


def interpolate_fill_mask(gaps: Gaps, limit: int | None, direction: str, area: str | None) -> np.ndarray:
    """(k,) True where pandas' `interpolate` keeps the interpolated value (not in `preserve_nans`)."""
    leading, trailing = gaps.leading, gaps.trailing
    # a gap sample is out of the forward limit when no known sample lies within `limit` before it
    beyond_forward = leading if limit is None else leading | (gaps.cols - gaps.prev > limit)
    beyond_backward = trailing if limit is None else trailing | (gaps.next - gaps.cols > limit)
    if direction == "forward":
        preserve = beyond_forward
    elif direction == "backward":
        preserve = beyond_backward
    elif limit is None:
        preserve = np.zeros_like(leading)
    else:
        preserve = beyond_forward & beyond_backward
    if area == "inside":
        preserve = preserve | leading | trailing
    elif area == "outside":
        preserve = preserve | ~(leading | trailing)
    return ~preserve


def pad_fill_mask(gaps: Gaps, method: str, limit: int | None, area: str | None) -> np.ndarray:
    """(k,) True where pandas' `ffill`/`bfill` fills the gap sample."""
    leading, trailing = gaps.leading, gaps.trailing
    if method == "ffill":
        fill = ~leading if limit is None else ~leading & (gaps.cols - gaps.prev <= limit)
        outer = trailing
    else:
        fill = ~trailing if limit is None else ~trailing & (gaps.next - gaps.cols <= limit)
        outer = leading
    if area == "inside":
        fill = fill & ~(leading | trailing)
    elif area == "outside":
        fill = fill & outer
    return fill
