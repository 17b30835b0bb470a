"""Raster tiles (PNG, Web Mercator) and TileJSON for suitability surfaces and the DEM, via rio-tiler."""

from __future__ import annotations

__all__ = ["RasterSource", "render_tile", "tilejson", "web_mercator_copy"]

import os
import threading
from dataclasses import dataclass

import morecantile
import numpy as np
import rasterio
from rasterio.enums import Resampling
from rasterio.warp import calculate_default_transform, reproject
from rio_tiler.colormap import cmap
from rio_tiler.errors import TileOutsideBounds
from rio_tiler.io import Reader

from gis.errors import InputError, NotFoundError
from gis.suitability.pyramid import overview_factors

TMS = morecantile.tms.get("WebMercatorQuad")
_EMPTY_PNG = None


@dataclass(frozen=True)
class RasterSource:
    """A raster to tile: ``path`` (GeoTIFF or ``GPKG:file:table``), the value range mapped to
    colours, and a rio-tiler colormap name."""

    path: str
    vmin: float
    vmax: float
    colormap: str


def _empty_png() -> bytes:
    global _EMPTY_PNG
    if _EMPTY_PNG is None:
        from rio_tiler.models import ImageData

        _EMPTY_PNG = ImageData(np.zeros((1, 256, 256), np.uint8), np.zeros((256, 256), np.uint8)).render(img_format="PNG")
    return _EMPTY_PNG


def render_tile(source: RasterSource, z: int, x: int, y: int) -> bytes:
    """One 256 px PNG tile; transparent where NoData or outside the raster."""
    if not 0 <= z <= 22 or not (0 <= x < 2 ** z and 0 <= y < 2 ** z):
        raise InputError(f"tile {z}/{x}/{y} does not exist (0 <= x, y < 2^z, z <= 22)")
    with Reader(source.path) as reader:
        try:
            img = reader.tile(x, y, z, resampling_method="bilinear", reproject_method="bilinear")
        except TileOutsideBounds:
            return _empty_png()
    # The mask keeps NoData; a NaN fill value would be cast to the 8-bit image (numpy warns).
    img.array.fill_value = 0
    img.rescale(in_range=((source.vmin, source.vmax),))
    return img.render(img_format="PNG", colormap=cmap.get(source.colormap))


_COPY_LOCK = threading.Lock()
_COPY_LOCKS: dict[str, threading.Lock] = {}


def web_mercator_copy(path: str, out: str | None = None) -> str:
    """A Web-Mercator copy of a raster (band 1, float32, NaN NoData), made once: at ``out``,
    by default beside it (``<name>.3857.tif``; give ``out`` for ``GPKG:file:table`` rasters).

    Tiles of a raster in its Gauss–Krüger zone are warped one by one: ~0.1 s to set up the
    transformation and ~0.2 s to warp at the zooms a map opens with. One reprojection of a
    10 m surface around an area takes ~0.2 s, after which a tile is a window read (~20 ms).
    Concurrent callers (a map's first tiles) wait for the one copy.
    """
    out = out or f"{os.path.splitext(path)[0]}.3857.tif"
    if os.path.exists(out):
        return out
    with _COPY_LOCK:
        lock = _COPY_LOCKS.setdefault(out, threading.Lock())
    with lock:
        if not os.path.exists(out):
            tmp = f"{out}.part"
            with rasterio.open(path) as src:
                transform, width, height = calculate_default_transform(src.crs, "EPSG:3857",
                                                                       src.width, src.height, *src.bounds)
                profile = {"driver": "GTiff", "width": width, "height": height, "count": 1, "dtype": "float32",
                           "crs": "EPSG:3857", "transform": transform, "nodata": float("nan"), "tiled": True,
                           "blockxsize": 256, "blockysize": 256, "compress": "ZSTD", "zstd_level": 1,
                           "predictor": 3}
                floating = np.dtype(src.dtypes[0]).kind == "f"
                src_nodata = src.nodata if src.nodata is not None else (np.nan if floating else None)
                with rasterio.open(tmp, "w", **profile) as dst:
                    reproject(rasterio.band(src, 1), rasterio.band(dst, 1), src_nodata=src_nodata, dst_nodata=np.nan,
                              resampling=Resampling.bilinear)
                    levels = overview_factors(width, height, smallest=32)
                    if levels:
                        dst.build_overviews(levels, Resampling.average)
            os.replace(tmp, out)
    return out


def tilejson(source: RasterSource, tiles_url: str, name: str) -> dict:
    with Reader(source.path) as reader:
        bounds = reader.get_geographic_bounds(reader.tms.rasterio_geographic_crs)
        minzoom, maxzoom = max(0, reader.minzoom - 2), min(22, reader.maxzoom + 2)
    if not all(np.isfinite(bounds)):
        raise NotFoundError(f"raster {name!r} has no usable extent")
    return {"tilejson": "2.2.0", "name": name, "tiles": [tiles_url], "minzoom": minzoom, "maxzoom": maxzoom,
            "bounds": [round(b, 6) for b in bounds], "scheme": "xyz",
            "center": [round((bounds[0] + bounds[2]) / 2, 6), round((bounds[1] + bounds[3]) / 2, 6), minzoom + 2]}
