"""Raw criterion rasters on a grid: walking distances, slope, distance to main roads, and
the constraint masks (NoData reason codes for exclusions, a penalty for the rest)."""

from __future__ import annotations

__all__ = ["CONSTRAINT_CODES", "distance_to_points", "distance_to_area", "distance_to_lines", "slope_degrees",
           "constraint_masks", "resample_to_grid"]

import geopandas as gpd
import numpy as np
import rasterio
import shapely
from rasterio import features
from rasterio.warp import Resampling, reproject
from rasterio.windows import from_bounds
from scipy import ndimage

from gis.network import Snapped, WalkNetwork, nearest_within_network
from gis.services import access_points
from gis.suitability.grid import Grid

#: NoData reason codes of excluded cells (0 = not excluded).
CONSTRAINT_CODES = {"subsidence": 1, "flood": 2, "farmland": 3, "ecological_redline": 4, "geohazard": 5, "heritage": 6}


def distance_to_points(grid: Grid, points: gpd.GeoDataFrame, network: WalkNetwork | None,
                       cells: Snapped | None = None) -> np.ndarray:
    """Metres from each cell centre to the nearest point: walking when a network is given
    (cells join the network at their nearest street, as residents would), else straight.
    ``cells`` are the grid's centres already snapped (shared by every criterion)."""
    out = np.full(grid.width * grid.height, np.nan, dtype=np.float32)
    if len(points) == 0:
        return out.reshape(grid.height, grid.width)
    xy = shapely.get_coordinates(points.to_crs(grid.crs).geometry.values)
    centers = grid.centers()
    if network is not None:
        _, dist = nearest_within_network(network, cells if cells is not None else centers, xy)
    else:
        from scipy.spatial import cKDTree

        dist, _ = cKDTree(xy).query(centers, workers=-1)
    out[:] = np.where(np.isfinite(dist), dist, np.nan)
    return out.reshape(grid.height, grid.width)


def distance_to_area(grid: Grid, area: gpd.GeoDataFrame, network: WalkNetwork | None,
                     spacing: float = 25.0, cells: Snapped | None = None) -> np.ndarray:
    """Metres from each cell to the area (0 inside): walking from its boundary, else straight."""
    geom = area.to_crs(grid.crs).geometry.union_all()
    inside = features.rasterize([(geom, 1)], out_shape=(grid.height, grid.width), transform=grid.transform,
                                fill=0, dtype="uint8").astype(bool)
    if network is not None:
        xy, _ = access_points(np.array([geom]), spacing)
        _, dist = nearest_within_network(network, cells if cells is not None else grid.centers(), xy)
        out = np.where(np.isfinite(dist), dist, np.nan).astype(np.float32).reshape(grid.height, grid.width)
    else:
        out = (ndimage.distance_transform_edt(~inside) * grid.resolution).astype(np.float32)
    out[inside] = 0.0
    return out


def distance_to_lines(grid: Grid, lines: gpd.GeoDataFrame) -> np.ndarray:
    """Straight-line metres from each cell to the nearest line (e.g. main roads)."""
    if len(lines) == 0:
        return np.full((grid.height, grid.width), np.nan, dtype=np.float32)
    burned = features.rasterize(((g, 1) for g in lines.to_crs(grid.crs).geometry.values),
                                out_shape=(grid.height, grid.width), transform=grid.transform, fill=0,
                                dtype="uint8", all_touched=True)
    return (ndimage.distance_transform_edt(burned == 0) * grid.resolution).astype(np.float32)


def resample_to_grid(src: rasterio.io.DatasetReader, grid: Grid, resampling=Resampling.bilinear) -> np.ndarray:
    """Read only the window of ``src`` covering the grid and resample it onto the grid."""
    from rasterio.warp import transform_bounds

    bounds = transform_bounds(grid.crs, src.crs, *grid.bounds)
    window = from_bounds(*bounds, transform=src.transform).round_offsets().round_lengths()
    window = window.intersection(rasterio.windows.Window(0, 0, src.width, src.height))
    data = src.read(1, window=window, out_dtype="float32", masked=True).filled(np.nan)
    out = np.full((grid.height, grid.width), np.nan, dtype=np.float32)
    with rasterio.Env():
        reproject(data, out, src_transform=src.window_transform(window), src_crs=src.crs,
                  src_nodata=np.nan, dst_transform=grid.transform, dst_crs=grid.crs, dst_nodata=np.nan,
                  resampling=resampling)
    return out


def slope_degrees(dem: np.ndarray, resolution: float) -> np.ndarray:
    """Slope in degrees from an elevation array on the grid (central differences)."""
    dy, dx = np.gradient(dem.astype(np.float64), resolution)
    return np.degrees(np.arctan(np.hypot(dx, dy))).astype(np.float32)


def constraint_masks(grid: Grid, constraints: gpd.GeoDataFrame, penalty: float = 0.5
                     ) -> tuple[np.ndarray, np.ndarray]:
    """(reason, factor): ``reason`` is the NoData reason code of excluded cells (0 elsewhere,
    :data:`CONSTRAINT_CODES`); ``factor`` multiplies the score (1 − penalty on cells under
    ``penalize`` constraints, 1 elsewhere). Buffers (``buffer_m``) are applied first."""
    reason = np.zeros((grid.height, grid.width), dtype=np.uint8)
    factor = np.ones((grid.height, grid.width), dtype=np.float32)
    if constraints is None or len(constraints) == 0:
        return reason, factor
    c = constraints.to_crs(grid.crs)
    geoms = c.geometry.values
    buffers = c["buffer_m"].fillna(0).to_numpy(dtype=float) if "buffer_m" in c else np.zeros(len(c))
    geoms = np.where(buffers > 0, shapely.buffer(geoms, buffers), geoms)
    severity = c["severity"].fillna("exclude").to_numpy() if "severity" in c else np.full(len(c), "exclude")
    for geom, kind, sev in zip(geoms, c["kind"], severity, strict=True):
        if sev == "exclude":
            mask = features.rasterize([(geom, 1)], out_shape=reason.shape, transform=grid.transform, fill=0,
                                      dtype="uint8").astype(bool)
            reason[mask & (reason == 0)] = CONSTRAINT_CODES.get(kind, 255)
    pen = [g for g, s in zip(geoms, severity, strict=True) if s == "penalize"]
    if pen:
        mask = features.rasterize(((g, 1) for g in pen), out_shape=reason.shape, transform=grid.transform,
                                  fill=0, dtype="uint8").astype(bool)
        factor[mask] = 1.0 - penalty
    return reason, factor
