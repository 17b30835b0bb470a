"""Mapbox Vector Tiles (MVT) of a layer in the WebMercatorQuad tile matrix set (OGC API –
Tiles), encoded with the protobuf schema of mapbox-vector-tile (``layers.mvt_pbf``), for stores that do not
encode tiles themselves (the GeoPackage); PostGIS encodes with ST_AsMVT.

Geometries are clipped to the tile plus a buffer (so strokes join across tile edges) and
simplified to a quarter of a tile pixel before encoding. CGCS2000 degrees are taken as WGS84
degrees for Web Mercator: the datums differ by well under a metre, far below a pixel at
the zooms a web map shows.
"""

from __future__ import annotations

__all__ = ["EXTENT", "BUFFER", "TMS", "ENCODING", "tile_bounds_lonlat", "encode_tile", "encode_features", "min_zoom",
           "check_tile", "mercator"]

import math
import threading

import geopandas as gpd
import morecantile
import numpy as np
import shapely
from pyproj import Transformer

from gis.errors import InputError, NotFoundError
from layers.mvt_pbf import encode_layer

TMS = morecantile.tms.get("WebMercatorQuad")
EXTENT = 4096  # tile units a side (MVT's usual)
BUFFER = 64  # tile units of geometry kept beyond each edge
MAX_ZOOM = 22
_FROM_MERCATOR = Transformer.from_crs(3857, 4326, always_xy=True)
#: Web Mercator (EPSG:3857) projects onto a sphere of WGS84's semi-major axis.
_MERCATOR_RADIUS = 6378137.0
#: Held while a tile is read and encoded in Python. A map asks for six tiles at once and the
#: server's threads share one GIL: interleaved, each tile is answered when all of them are
#: (every tile waits ~6 encodings); one at a time, the first is answered after one encoding,
#: the second after two — the same throughput, half the median wait.
ENCODING = threading.Lock()


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
    (lon0, lon1), (lat0, lat1) = _FROM_MERCATOR.transform([x0 - pad, x1 + pad], [y0 - pad, y1 + pad])
    return max(lon0, -180.0), max(lat0, -85.06), min(lon1, 180.0), min(lat1, 85.06)


def mercator(lon: np.ndarray, lat: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """EPSG:3857 metres of longitudes and latitudes (degrees), in the projection's closed form:
    pyproj took 0.28 ms for the 2,160 vertices of a zoom-14 tile of parcels, numpy 0.02, the
    same to 1e-8 m (``tests/test_vector_tiles.py`` checks it against pyproj)."""
    return (_MERCATOR_RADIUS * np.radians(lon),
            _MERCATOR_RADIUS * np.log(np.tan(np.pi / 4 + np.radians(lat) / 2)))


def _on_grid(geoms: np.ndarray) -> np.ndarray:
    """Geometries rounded to the unit grid, valid: each vertex rounded, and GEOS's overlay-based
    precision reducer only for those that rounding made invalid (a ring touching itself). The
    reducer on every feature was half of a tile's encoding (13.5 of ~28 ms for 423 parcels).
    Vertices are rounded by numpy (0.17 ms for 432 parcels, GEOS's pointwise mode 0.52 ms); a
    vertex exactly halfway may go the other way than GEOS would put it (numpy rounds half to
    even): one tile unit, 1/4096 of the tile's width."""
    out = shapely.transform(geoms, np.rint)
    bad = ~shapely.is_valid(out) & ~shapely.is_missing(out)
    if bad.any():
        out[bad] = shapely.set_precision(geoms[bad], 1.0)
    return out


def encode_tile(frame: gpd.GeoDataFrame, layer: str, z: int, x: int, y: int) -> bytes:
    """One MVT tile with ``layer`` holding the features of ``frame`` (EPSG:4490, with an ``id``
    column) that fall in the tile; feature ids and every non-empty property are kept."""
    columns = {c: frame[c].to_numpy() for c in frame.columns if c not in ("id", frame.geometry.name)}
    ids = frame["id"].to_numpy() if "id" in frame.columns else np.arange(1, len(frame) + 1)
    return encode_features(np.asarray(frame.geometry.values, dtype=object), ids, columns, layer, z, x, y)


def encode_features(geoms: np.ndarray, ids: np.ndarray, columns: dict[str, np.ndarray], layer: str,
                    z: int, x: int, y: int) -> bytes:
    """:func:`encode_tile` from arrays: geometries (EPSG:4490), their ids and property columns."""
    x0, y0, x1, y1 = _xy_bounds(z, x, y)
    scale = EXTENT / (x1 - x0)
    # Straight to tile units (y up) for all features at once, rounded to the unit grid, ring
    # orientation set: mapbox-vector-tile's per-feature Python quantizer and winding check
    # were two thirds of a tile's time (90 ms for ~900 parcels).
    geoms = shapely.transform(geoms, lambda c: np.column_stack(
        [(v - o) * scale for v, o in zip(mercator(c[:, 0], c[:, 1]), (x0, y0), strict=True)]))
    geoms = shapely.clip_by_rect(geoms, -BUFFER, -BUFFER, EXTENT + BUFFER, EXTENT + BUFFER)
    geoms = _on_grid(_simplified(geoms))
    # MVT wants exterior rings clockwise in its y-down tile space: counter-clockwise here, before the flip.
    geoms = shapely.orient_polygons(geoms, exterior_cw=False)
    try:
        return encode_layer(layer, geoms, ids, columns, EXTENT)
    except (ValueError, OverflowError) as ex:  # a value the protobuf cannot hold (an integer beyond 64 bits)
        raise InputError(f"tile {z}/{y}/{x} of {layer!r} cannot be encoded: {ex}") from None


def _simplified(geoms: np.ndarray) -> np.ndarray:
    """Geometries simplified to a quarter of a tile unit, except those of up to 5 vertices (a
    point, a short line, a box): simplifying them can only drop a vertex lying within a quarter
    unit of its neighbours' line — a sixteenth of a screen pixel — and most parcels are such."""
    many = shapely.get_num_coordinates(geoms) > 5
    if many.all():
        return shapely.simplify(geoms, 0.25)
    out = geoms.copy()
    out[many] = shapely.simplify(geoms[many], 0.25)
    return out
