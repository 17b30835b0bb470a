"""Average overviews built while a raster is written, window by window.

GDAL's ``BuildOverviews`` reads the finished full-resolution raster back (and decompresses
it) to average it: on a 10k × 10k float32 surface that pass cost as much as computing the
surface. Each window is already in memory when it is computed, so its 2×, 4×, 8× … block
averages are taken there and kept (a 2–16 pyramid is 1/3 of the full raster), then written
into overview levels that were created empty. NoData (NaN) is skipped as GDAL's ``average``
does: an overview cell is the mean of its valid source cells, NaN when it has none.
"""

from __future__ import annotations

__all__ = ["overview_factors", "OverviewPyramid"]

import numpy as np
from rasterio.windows import Window


def overview_factors(width: int, height: int, smallest: int = 64, largest: int = 16) -> list[int]:
    """Powers of two (2 … ``largest``) whose overview is still at least ``smallest`` cells a side.

    >>> overview_factors(10_000, 10_000), overview_factors(700, 650), overview_factors(100, 100)
    ([2, 4, 8, 16], [2, 4, 8], [])
    """
    out, f = [], 2
    while f <= largest and min(width, height) // f >= smallest:
        out.append(f)
        f *= 2
    return out


def _pair_sums(a: np.ndarray, dtype) -> np.ndarray:
    # Row pairs first (contiguous), then column pairs: 5x faster than a 4-d reshape sum.
    rows = np.add(a[0::2], a[1::2], dtype=dtype)
    return np.add(rows[:, 0::2], rows[:, 1::2], dtype=dtype)


def _half_mean(values: np.ndarray) -> np.ndarray:
    """Mean of each 2 × 2 block's valid cells (NaN when it has none); odd edges average the
    cells they have."""
    h, w = values.shape
    if not (h % 2 or w % 2):
        out = _pair_sums(values, np.float32)
        # NaN survives the sums, so one check of the 4x smaller result finds any NoData.
        if not np.isnan(out).any():  # the usual window
            out *= np.float32(0.25)
            return out
    invalid = np.isnan(values)
    total = np.where(invalid, np.float32(0), values)
    count = np.logical_not(invalid).view(np.uint8)
    if h % 2 or w % 2:
        total = np.pad(total, ((0, h % 2), (0, w % 2)))
        count = np.pad(count, ((0, h % 2), (0, w % 2)))
    total = _pair_sums(total, np.float32)
    with np.errstate(invalid="ignore", divide="ignore"):
        total /= _pair_sums(count, np.uint8)
    return total  # 0/0 gives NaN where no cell was valid


class OverviewPyramid:
    """In-memory average overviews (levels 2, 4 … ``factors[-1]``) of a raster being written.

    As in GDAL, each level averages 2 × 2 cells of the one before. Windows must start on
    multiples of the largest factor (any tile size that is a multiple of it does), so every
    overview cell comes from one window; the levels are only complete once windows covering
    the whole raster have been added. Overview sizes follow GDAL: ceil(size / factor).
    """

    def __init__(self, width: int, height: int, factors: list[int]):
        if any(f != 2 ** (i + 1) for i, f in enumerate(factors)):
            raise ValueError(f"overview factors must be 2, 4, 8 …, got {factors}")
        self.factors = list(factors)
        # Not filled: windows that cover the grid set every cell, and filling 133 MB (a 10k ×
        # 10k grid's levels) up front was a serial 0.15 s before any window could start.
        # The pages are touched by the workers as they add their windows.
        self.levels = [np.empty((-(-height // f), -(-width // f)), np.float32) for f in self.factors]

    @property
    def step(self) -> int:
        """Window offsets must be multiples of this."""
        return self.factors[-1] if self.factors else 1

    def add(self, window: Window, values: np.ndarray) -> None:
        """Average a computed window (float32, NaN = NoData) into every level."""
        if not self.factors:
            return
        if window.col_off % self.step or window.row_off % self.step:
            raise ValueError(f"window {window} does not start on a multiple of {self.step}")
        for f, level in zip(self.factors, self.levels, strict=True):
            values = _half_mean(values)
            r0, c0 = window.row_off // f, window.col_off // f
            level[r0:r0 + values.shape[0], c0:c0 + values.shape[1]] = values
