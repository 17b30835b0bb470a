"""Raw criterion rasters on a grid: walking distances, slope, distance to main roads, user
rasters, and the constraint masks (NoData reason codes for exclusions, a penalty factor).

Each criterion is *prepared* once (a Dijkstra from the facilities, a k-d tree, a DEM handle)
and then evaluated on any window of the grid (``.values(window_grid, snapped_cells)``; the
whole grid is one window), so a 10k × 10k grid is built window by window in bounded memory.
"""

from __future__ import annotations

__all__ = ["CONSTRAINT_CODES", "PointDistance", "AreaDistance", "LineDistance", "RasterValues", "Slope",
           "ConstraintMasks", "resample_to_grid"]

import geopandas as gpd
import numpy as np
import rasterio
import shapely
from affine import Affine
from rasterio import features
from rasterio.warp import Resampling, reproject, transform_bounds
from rasterio.windows import Window, from_bounds
from scipy.spatial import cKDTree

from gis.access import access_points
from gis.network import NearestField, Snapped, WalkNetwork
from gis.suitability.grid import Grid

#: NoData reason codes of excluded cells (0 = not excluded).
CONSTRAINT_CODES = {"subsidence": 1, "flood": 2, "farmland": 3, "ecological_redline": 4, "geohazard": 5, "heritage": 6}


def _as_grid(values: np.ndarray, grid: Grid) -> np.ndarray:
    return np.where(np.isfinite(values), values, np.nan).astype(np.float32).reshape(grid.height, grid.width)


class PointDistance:
    """Metres from each cell centre to the nearest point: walking when a network is given
    (cells join the network at their nearest street, as residents would), else straight."""

    def __init__(self, points: gpd.GeoDataFrame, crs, network: WalkNetwork | None):
        xy = shapely.get_coordinates(points.to_crs(crs).geometry.values)
        self.empty = len(xy) == 0
        self.field = NearestField(network, xy) if network is not None and not self.empty else None
        self.tree = cKDTree(xy) if network is None and not self.empty else None

    def values(self, grid: Grid, cells: Snapped | None = None) -> np.ndarray:
        if self.empty:
            return np.full((grid.height, grid.width), np.nan, dtype=np.float32)
        if self.field is not None:
            _, dist = self.field.at(cells if cells is not None else grid.centers())
        else:
            dist, _ = self.tree.query(grid.centers(), workers=-1)
        return _as_grid(dist, grid)


class AreaDistance:
    """Metres from each cell to the area, 0 inside: walking from access points every
    ``spacing`` metres along its boundary and where streets cross it, else straight to the
    boundary (exact)."""

    def __init__(self, area: gpd.GeoDataFrame, crs, network: WalkNetwork | None, spacing: float = 25.0):
        self.geom = area.to_crs(crs).geometry.union_all()
        self.field = NearestField(network, access_points(np.array([self.geom]), spacing, network)[0]) \
            if network is not None else None
        self.boundary = shapely.boundary(self.geom)

    def values(self, grid: Grid, cells: Snapped | None = None) -> np.ndarray:
        inside = features.rasterize([(self.geom, 1)], out_shape=(grid.height, grid.width), transform=grid.transform,
                                    fill=0, dtype="uint8").astype(bool)
        if self.field is not None:
            _, dist = self.field.at(cells if cells is not None else grid.centers())
        else:
            dist = shapely.distance(self.boundary, shapely.points(grid.centers()))
        out = _as_grid(dist, grid)
        out[inside] = 0.0
        return out


class LineDistance:
    """Straight-line metres from each cell centre to the nearest line (e.g. main roads).

    The lines are densified to vertices at most ``resolution / 2`` apart and searched with a
    k-d tree: the distance to the nearest vertex exceeds the true distance by at most a
    quarter of a cell — a rasterized distance transform is off by up to half a cell and needs
    the whole grid in memory.
    """

    def __init__(self, lines: gpd.GeoDataFrame, crs, resolution: float):
        geoms = shapely.segmentize(lines.to_crs(crs).geometry.values, resolution / 2)
        xy = shapely.get_coordinates(geoms)
        self.tree = cKDTree(xy) if len(xy) else None

    def values(self, grid: Grid, cells: Snapped | None = None) -> np.ndarray:
        if self.tree is None:
            return np.full((grid.height, grid.width), np.nan, dtype=np.float32)
        dist, _ = self.tree.query(grid.centers(), workers=-1)
        return _as_grid(dist, grid)


class RasterValues:
    """A raster (any CRS and resolution) resampled onto the grid, reading only what a window covers."""

    def __init__(self, src: rasterio.io.DatasetReader, resampling=Resampling.bilinear):
        self.src, self.resampling = src, resampling

    def values(self, grid: Grid, cells: Snapped | None = None) -> np.ndarray:
        return resample_to_grid(self.src, grid, self.resampling)


class Slope:
    """Slope in degrees from a DEM, by central differences on the grid.

    A window is resampled with a one-cell margin so its edge cells get true central
    differences; where the margin has no DEM (the grid's own edge beyond the DEM) it is
    extrapolated linearly, which makes the central difference there the one-sided one.
    """

    def __init__(self, dem: rasterio.io.DatasetReader):
        self.dem = dem

    def values(self, grid: Grid, cells: Snapped | None = None) -> np.ndarray:
        r, t = grid.resolution, grid.transform
        padded = Grid(grid.crs, t @ Affine.translation(-1, -1), grid.width + 2, grid.height + 2)
        z = resample_to_grid(self.dem, padded).astype(np.float64)
        for axis in (0, 1):
            z = np.moveaxis(z, axis, 0)
            for edge, inner, next_ in ((0, 1, 2), (-1, -2, -3)):
                if z.shape[0] > 2:
                    gap = np.isnan(z[edge])
                    z[edge][gap] = 2 * z[inner][gap] - z[next_][gap]
            z = np.moveaxis(z, 0, axis)
        dy = (z[2:, 1:-1] - z[:-2, 1:-1]) / (2 * r)
        dx = (z[1:-1, 2:] - z[1:-1, :-2]) / (2 * r)
        return np.degrees(np.arctan(np.hypot(dx, dy))).astype(np.float32)


class ConstraintMasks:
    """(reason, factor) on any window: ``reason`` is the NoData reason code of excluded cells
    (0 elsewhere, :data:`CONSTRAINT_CODES`); ``factor`` multiplies the score (1 − penalty
    under ``penalize`` constraints, 1 elsewhere). Buffers (``buffer_m``) are applied once."""

    def __init__(self, constraints: gpd.GeoDataFrame | None, crs, penalty: float = 0.5):
        self.penalty = penalty
        self.exclude: list[tuple[object, int]] = []
        self.penalize: list = []
        if constraints is None or len(constraints) == 0:
            return
        c = constraints.to_crs(crs)
        geoms = c.geometry.values
        buffers = c["buffer_m"].fillna(0).to_numpy(dtype=float) if "buffer_m" in c else np.zeros(len(c))
        geoms = np.where(buffers > 0, shapely.buffer(geoms, buffers), geoms)
        severity = c["severity"].fillna("exclude").to_numpy() if "severity" in c else np.full(len(c), "exclude")
        for geom, kind, sev in zip(geoms, c["kind"], severity, strict=True):
            if sev == "exclude":
                self.exclude.append((geom, CONSTRAINT_CODES.get(kind, 255)))
            elif sev == "penalize":
                self.penalize.append(geom)
        self.tree = shapely.STRtree([g for g, _ in self.exclude])

    def at(self, grid: Grid) -> tuple[np.ndarray, np.ndarray]:
        shape = (grid.height, grid.width)
        reason = np.zeros(shape, dtype=np.uint8)
        factor = np.ones(shape, dtype=np.float32)
        if self.exclude:
            # Only constraints touching the window, in layer order: the first one claims a cell.
            for i in sorted(self.tree.query(shapely.box(*grid.bounds))):
                geom, code = self.exclude[i]
                mask = features.rasterize([(geom, 1)], out_shape=shape, transform=grid.transform, fill=0,
                                          dtype="uint8").astype(bool)
                reason[mask & (reason == 0)] = code
        if self.penalize:
            mask = features.rasterize(((g, 1) for g in self.penalize), out_shape=shape, transform=grid.transform,
                                      fill=0, dtype="uint8").astype(bool)
            factor[mask] = 1.0 - self.penalty
        return reason, factor


def resample_to_grid(src: rasterio.io.DatasetReader, grid: Grid, resampling=Resampling.bilinear) -> np.ndarray:
    """Read only the window of ``src`` covering the grid (plus two source cells for the
    resampling kernel) and resample it onto the grid."""
    bounds = transform_bounds(grid.crs, src.crs, *grid.bounds)
    window = from_bounds(*bounds, transform=src.transform).round_offsets().round_lengths()
    window = Window(window.col_off - 2, window.row_off - 2, window.width + 4, window.height + 4)
    out = np.full((grid.height, grid.width), np.nan, dtype=np.float32)
    try:
        window = window.intersection(Window(0, 0, src.width, src.height))
    except rasterio.errors.WindowError:  # the grid lies outside the raster
        return out
    data = src.read(1, window=window, out_dtype="float32", masked=True).filled(np.nan)
    with rasterio.Env():
        reproject(data, out, src_transform=src.window_transform(window), src_crs=src.crs,
                  src_nodata=np.nan, dst_transform=grid.transform, dst_crs=grid.crs, dst_nodata=np.nan,
                  resampling=resampling)
    return out
