"""The analysis grid: cells on the Gauss–Krüger plane of the data."""

from __future__ import annotations

__all__ = ["Grid", "windows"]

import math
from dataclasses import dataclass

import numpy as np
from affine import Affine
from rasterio.windows import Window

from gis.errors import InputError

MAX_CELLS = 400_000_000  # 20k × 20k: beyond that, ask for a coarser resolution
ALIGN = 16


def windows(width: int, height: int, tile: int):
    """Windows of at most ``tile`` × ``tile`` cells covering a ``width`` × ``height`` raster, row by row."""
    for row in range(0, height, tile):
        for col in range(0, width, tile):
            yield Window(col, row, min(tile, width - col), min(tile, height - row))


def _round_up(n: int, step: int) -> int:
    return -(-n // step) * step


@dataclass(frozen=True)
class Grid:
    """A north-up grid: ``transform`` maps (col, row) to the cell's upper-left corner."""

    crs: object
    transform: Affine
    width: int
    height: int

    @classmethod
    def from_bounds(cls, bounds, resolution: float, crs) -> Grid:
        """The grid covering ``bounds`` (minx, miny, maxx, maxy, metres) at ``resolution``."""
        if not resolution > 0:
            raise InputError(f"resolution must be positive metres, got {resolution}")
        minx, miny, maxx, maxy = bounds
        minx = math.floor(minx / resolution) * resolution
        maxy = math.ceil(maxy / resolution) * resolution
        # Sides are rounded up to multiples of 16 cells so the surface's 2–16x overviews are
        # averaged while it is written (:mod:`gis.suitability.pyramid`).
        width = _round_up(max(1, math.ceil((maxx - minx) / resolution)), ALIGN)
        height = _round_up(max(1, math.ceil((maxy - miny) / resolution)), ALIGN)
        if width * height > MAX_CELLS:
            raise InputError(f"a {width} × {height} grid at {resolution:g} m is too large; "
                             "use a coarser resolution or a smaller max distance")
        return cls(crs, Affine(resolution, 0, minx, 0, -resolution, maxy), width, height)

    @property
    def resolution(self) -> float:
        return self.transform.a

    @property
    def cell_area(self) -> float:
        return self.transform.a * -self.transform.e

    @property
    def bounds(self) -> tuple[float, float, float, float]:
        t = self.transform
        return t.c, t.f + t.e * self.height, t.c + t.a * self.width, t.f

    def centers(self, window: Window | None = None) -> np.ndarray:
        """(rows × cols, 2) cell-centre coordinates, row-major, of the grid or a window."""
        w = window or Window(0, 0, self.width, self.height)
        cols = np.arange(w.col_off, w.col_off + w.width) + 0.5
        rows = np.arange(w.row_off, w.row_off + w.height) + 0.5
        x = self.transform.c + cols * self.transform.a
        y = self.transform.f + rows * self.transform.e
        xx, yy = np.meshgrid(x, y)
        return np.column_stack([xx.ravel(), yy.ravel()])

    def window_grid(self, window: Window) -> Grid:
        """The sub-grid a window of this grid covers."""
        t = self.transform @ Affine.translation(window.col_off, window.row_off)
        return Grid(self.crs, t, int(window.width), int(window.height))

    def windows(self, tile: int = 1024):
        """Windows of at most ``tile`` × ``tile`` cells covering the grid."""
        return windows(self.width, self.height, tile)

    def profile(self, **extra) -> dict:
        """A GeoTIFF profile for float32 rasters on this grid (tiled, NaN as NoData)."""
        profile = {"driver": "GTiff", "width": self.width, "height": self.height, "count": 1, "dtype": "float32",
                   "crs": self.crs, "transform": self.transform, "nodata": float("nan"), "tiled": True,
                   "blockxsize": 512, "blockysize": 512, "BIGTIFF": "IF_SAFER"}
        profile.update(extra)
        return profile
