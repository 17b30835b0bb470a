"""Without a parcel layer: grow contiguous regions of the required area on the surface.

From the best cells (seeds at least a region's width apart) a region grows by repeatedly
adding the best neighbouring cell (4- or 8-connected) until it reaches the required area;
regions are ranked by mean suitability and reported with their compactness (Polsby–Popper
4πA/P², 1 for a circle). A priority queue per seed is written here because no library
offers area-bounded best-first region growing.
"""

from __future__ import annotations

__all__ = ["grow_regions"]

import heapq

import geopandas as gpd
import numpy as np
import shapely
from rasterio import features

from gis.errors import InputError
from gis.suitability.grid import Grid
from gis.units import M2_PER_MU


def grow_regions(surface: np.ndarray, grid: Grid, required_m2: float, *, top: int = 5,
                 connectivity: int = 8, seeds: int = 60) -> gpd.GeoDataFrame:
    """The ``top`` non-overlapping regions of ``required_m2`` with the highest mean score."""
    if connectivity not in (4, 8):
        raise InputError("connectivity must be 4 or 8")
    if required_m2 <= 0:
        raise InputError("required area must be positive")
    n_cells = int(np.ceil(required_m2 / grid.cell_area))
    score = np.where(np.isnan(surface), -np.inf, surface).astype(np.float64)
    if np.isfinite(score).sum() < n_cells:
        raise InputError("not enough suitable cells for the required area")
    steps = [(-1, 0), (1, 0), (0, -1), (0, 1)]
    if connectivity == 8:
        steps += [(-1, -1), (-1, 1), (1, -1), (1, 1)]
    taken = np.zeros(score.shape, bool)
    spacing = max(1, int(np.sqrt(n_cells)))
    order = np.argsort(score, axis=None)[::-1]
    chosen_seeds = []
    for flat in order:
        if len(chosen_seeds) >= seeds or not np.isfinite(score.flat[flat]):
            break
        r, c = divmod(int(flat), score.shape[1])
        if all(abs(r - r2) >= spacing or abs(c - c2) >= spacing for r2, c2 in chosen_seeds):
            chosen_seeds.append((r, c))
    candidates = []
    for r0, c0 in chosen_seeds:
        cells = _grow(score, taken, (r0, c0), n_cells, steps)
        if cells is not None:
            candidates.append((float(np.mean([score[c] for c in cells])), cells))
    candidates.sort(key=lambda x: -x[0])
    rows = []
    for mean, cells in candidates:
        if len(rows) >= top:
            break
        if any(taken[c] for c in cells):
            continue
        mask = np.zeros(score.shape, np.uint8)
        for c in cells:
            mask[c] = 1
            taken[c] = True
        geom = shapely.union_all([shapely.geometry.shape(g) for g, v in features.shapes(
            mask, mask=mask.astype(bool), transform=grid.transform) if v == 1])
        area = geom.area
        rows.append({"rank": len(rows) + 1, "score": round(mean, 4), "area_m2": round(area, 1),
                     "area_mu": round(area / M2_PER_MU, 3), "cells": len(cells),
                     "compactness": round(4 * np.pi * area / geom.length ** 2, 3), "geometry": geom})
    return gpd.GeoDataFrame(rows, geometry="geometry", crs=grid.crs).to_crs(4490) if rows else \
        gpd.GeoDataFrame(columns=["rank", "score", "area_m2", "area_mu", "cells", "compactness", "geometry"],
                         geometry="geometry", crs=4490)


def _grow(score, taken, seed, n_cells, steps):
    h, w = score.shape
    region = []
    seen = {seed}
    heap = [(-score[seed], seed)]
    while heap and len(region) < n_cells:
        neg, (r, c) = heapq.heappop(heap)
        if not np.isfinite(-neg) or taken[r, c]:
            continue
        region.append((r, c))
        for dr, dc in steps:
            nr, nc = r + dr, c + dc
            if 0 <= nr < h and 0 <= nc < w and (nr, nc) not in seen:
                seen.add((nr, nc))
                heapq.heappush(heap, (-score[nr, nc], (nr, nc)))
    return region if len(region) >= n_cells else None
