"""Mapbox Vector Tiles (MVT) of a layer in the WebMercatorQuad tile matrix set (OGC API –
Tiles), encoded with mapbox-vector-tile, the maintained Python encoder, for stores that do not
encode tiles themselves (the GeoPackage); PostGIS encodes with ST_AsMVT.

Geometries are clipped to the tile plus a buffer (so strokes join across tile edges) and
simplified to a quarter of a tile pixel before encoding. CGCS2000 degrees are taken as WGS84
degrees for Web Mercator: the datums differ by well under a metre, far below a pixel at
the zooms a web map shows.
"""

from __future__ import annotations

__all__ = ["EXTENT", "BUFFER", "TMS", "tile_bounds_lonlat", "encode_tile", "min_zoom", "check_tile"]

import math

import geopandas as gpd
import mapbox_vector_tile
import morecantile
import numpy as np
import shapely
from pyproj import Transformer

from gis.errors import InputError, NotFoundError

TMS = morecantile.tms.get("WebMercatorQuad")
EXTENT = 4096  # tile units a side (MVT's usual)
BUFFER = 64  # tile units of geometry kept beyond each edge
MAX_ZOOM = 22
_TO_MERCATOR = Transformer.from_crs(4326, 3857, always_xy=True)


def check_tile(z: int, x: int, y: int) -> None:
    """NotFoundError for a tile outside the matrix set (z 0–22, x and y within 2^z)."""
    if not 0 <= z <= MAX_ZOOM:
        raise NotFoundError(f"tileMatrix {z} is not in WebMercatorQuad here (0 … {MAX_ZOOM})")
    if not (0 <= x < 2**z and 0 <= y < 2**z):
        raise NotFoundError(f"tile {z}/{y}/{x} (tileMatrix/tileRow/tileCol) is outside the matrix: "
                            f"row and column run 0 … {2**z - 1} at {z}")


def min_zoom(feature_count: int) -> int:
    """The lowest zoom a layer's tiles carry features at: a whole city of 500k parcels in one
    low-zoom tile would be tens of MB. Small layers show from zoom 0 (maps draw them as GeoJSON)."""
    if feature_count <= 5_000:
        return 0
    return int(min(14, max(10, math.ceil(10 + math.log(feature_count / 50_000, 4)))))


def _xy_bounds(z: int, x: int, y: int) -> tuple[float, float, float, float]:
    b = TMS.xy_bounds(morecantile.Tile(x, y, z))
    return b.left, b.bottom, b.right, b.top


def tile_bounds_lonlat(z: int, x: int, y: int, *, buffered: bool = True) -> tuple[float, float, float, float]:
    """The tile's lon/lat box (with the encoding buffer) — what to query the store with."""
    x0, y0, x1, y1 = _xy_bounds(z, x, y)
    pad = (x1 - x0) * BUFFER / EXTENT if buffered else 0.0
    inv = Transformer.from_crs(3857, 4326, always_xy=True)
    lon0, lat0 = inv.transform(x0 - pad, y0 - pad)
    lon1, lat1 = inv.transform(x1 + pad, y1 + pad)
    return max(lon0, -180.0), max(lat0, -85.06), min(lon1, 180.0), min(lat1, 85.06)


def _plain(v):
    if v is None or (isinstance(v, float) and not math.isfinite(v)):
        return None
    if isinstance(v, np.generic):
        v = v.item()
    if isinstance(v, bool | int | float | str):
        return v
    return str(v)


def _on_grid(geoms: np.ndarray) -> np.ndarray:
    """Geometries rounded to the unit grid, valid: each vertex rounded, and GEOS's overlay-based
    precision reducer only for those that rounding made invalid (a ring touching itself). The
    reducer on every feature was half of a tile's encoding (13.5 of ~28 ms for 423 parcels);
    rounding and checking take 0.9 ms and give the same shapes (``shapely.equals``)."""
    out = shapely.set_precision(geoms, 1.0, mode="pointwise")
    bad = ~shapely.is_valid(out) & ~shapely.is_missing(out)
    if bad.any():
        out[bad] = shapely.set_precision(geoms[bad], 1.0)
    return out


def encode_tile(frame: gpd.GeoDataFrame, layer: str, z: int, x: int, y: int) -> bytes:
    """One MVT tile with ``layer`` holding the features of ``frame`` (EPSG:4490, with an ``id``
    column) that fall in the tile; feature ids and every non-empty property are kept."""
    x0, y0, x1, y1 = _xy_bounds(z, x, y)
    scale = EXTENT / (x1 - x0)
    # Straight to tile units (y up, as the encoder's own quantizer) for all features at once,
    # rounded to the unit grid, ring orientation set: the encoder's per-feature Python quantizer
    # and winding check were two thirds of a tile's time (90 ms for ~900 parcels).
    geoms = shapely.transform(np.asarray(frame.geometry.values, dtype=object), lambda c: np.column_stack(
        [(v - o) * scale for v, o in zip(_TO_MERCATOR.transform(c[:, 0], c[:, 1]), (x0, y0), strict=True)]))
    geoms = shapely.clip_by_rect(geoms, -BUFFER, -BUFFER, EXTENT + BUFFER, EXTENT + BUFFER)
    geoms = _on_grid(shapely.simplify(geoms, 0.25))
    # MVT wants exterior rings clockwise in its y-down tile space: counter-clockwise here, before the flip.
    geoms = shapely.orient_polygons(geoms, exterior_cw=False)
    keep = ~(shapely.is_empty(geoms) | shapely.is_missing(geoms))
    columns = [c for c in frame.columns if c not in ("id", frame.geometry.name)]
    records = frame[columns].astype(object).to_numpy() if columns else np.empty((len(frame), 0), object)
    ids = frame["id"].to_numpy() if "id" in frame.columns else np.arange(1, len(frame) + 1)
    features = []
    for i in np.flatnonzero(keep):
        props = {k: v for k, v in zip(columns, (_plain(v) for v in records[i]), strict=True) if v is not None}
        features.append({"geometry": geoms[i], "properties": props, "id": int(ids[i])})
    if not features:
        return b""
    try:
        return mapbox_vector_tile.encode([{"name": layer, "features": features}], default_options={
            "quantize_bounds": None, "extents": EXTENT, "y_coord_down": False, "check_winding_order": False})
    except ValueError as ex:  # a value the encoder cannot hold
        raise InputError(f"tile {z}/{y}/{x} of {layer!r} cannot be encoded: {ex}") from None
