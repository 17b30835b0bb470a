"""Chinese coordinate conventions: CGCS2000, 3-degree Gauss–Krüger zones, GCJ-02 and BD-09.

Stored data is CGCS2000 geographic (EPSG:4490). Metric work (areas, distances, buffers)
happens on the 3-degree Gauss–Krüger plane of the data (:func:`metric_crs`).

GCJ-02 (Amap/Gaode, Tencent) and BD-09 (Baidu) are obfuscated datums with no EPSG code,
so PROJ cannot do them: the published algorithm is implemented here, vectorized over
numpy arrays (lon, lat order). The inverses iterate until the round trip is under 1 cm.
WGS84 and CGCS2000 agree to well under a metre for mapping work, so GCJ-02 is converted
to WGS84 and then labelled EPSG:4490 (as every Chinese GIS does).
"""

from __future__ import annotations

__all__ = [
    "CGCS2000",
    "CHINA_BOUNDS",
    "CRSSpec",
    "parse_crs",
    "gk_zone",
    "gk_epsg",
    "gk_central_meridian",
    "metric_crs",
    "out_of_china",
    "wgs84_to_gcj02",
    "gcj02_to_wgs84",
    "wgs84_to_bd09",
    "bd09_to_wgs84",
    "gcj02_to_bd09",
    "bd09_to_gcj02",
    "transform_geometries",
]

import math
import re
from collections.abc import Callable
from dataclasses import dataclass

import numpy as np
import shapely
from pyproj import CRS
from pyproj.exceptions import CRSError as _PyprojCRSError

from gis.errors import CRSError

CGCS2000 = 4490
#: lon/lat box of China with a margin; data outside it is almost surely a CRS mistake.
CHINA_BOUNDS = (73.0, 3.0, 136.0, 54.0)

# 3-degree zones 25..45 (CM 75°E..135°E) cover China. EPSG numbers run consecutively:
# without zone prefix in the easting 4534..4554, with prefix 4513..4533.
_GK_FIRST_ZONE, _GK_LAST_ZONE = 25, 45
_GK_PLAIN_BASE, _GK_PREFIXED_BASE = 4534, 4513


def gk_zone(lon: float) -> int:
    """3-degree Gauss–Krüger zone number of a longitude (zone n has CM 3n°E).

    Zone n covers [3n − 1.5°, 3n + 1.5°).

    Examples
    --------
    >>> gk_zone(113.2), gk_zone(116.0), gk_zone(115.5)
    (38, 39, 39)
    """
    lon = float(lon)
    if not math.isfinite(lon):
        raise CRSError(f"longitude must be a finite number, got {lon!r}")
    zone = math.floor((lon + 1.5) / 3.0)
    if not _GK_FIRST_ZONE <= zone <= _GK_LAST_ZONE:
        raise CRSError(
            f"longitude {lon}° is outside the CGCS2000 3-degree Gauss–Krüger zones of China "
            f"(73.5°E–136.5°E); are longitude and latitude swapped?"
        )
    return zone


def gk_central_meridian(lon: float) -> int:
    """Central meridian (°E) of the 3-degree zone containing ``lon``."""
    return 3 * gk_zone(lon)


def gk_epsg(lon: float, prefixed: bool = False) -> int:
    """EPSG code of the CGCS2000 3-degree Gauss–Krüger CRS for a longitude.

    ``prefixed=True`` gives the variant whose easting carries the zone number
    (e.g. 38 500 000 m), as land-bureau files use.

    Examples
    --------
    >>> gk_epsg(113.2), gk_epsg(113.2, prefixed=True)
    (4547, 4526)
    >>> gk_epsg(116.0), gk_epsg(116.0, prefixed=True)
    (4548, 4527)
    """
    zone = gk_zone(lon)
    base = _GK_PREFIXED_BASE if prefixed else _GK_PLAIN_BASE
    return base + zone - _GK_FIRST_ZONE


def gk_zone_of_epsg(epsg: int) -> tuple[int, bool] | None:
    """(zone, prefixed) of a CGCS2000 3-degree GK EPSG code, or None for other codes."""
    if _GK_PLAIN_BASE <= epsg <= _GK_PLAIN_BASE + _GK_LAST_ZONE - _GK_FIRST_ZONE:
        return epsg - _GK_PLAIN_BASE + _GK_FIRST_ZONE, False
    if _GK_PREFIXED_BASE <= epsg <= _GK_PREFIXED_BASE + _GK_LAST_ZONE - _GK_FIRST_ZONE:
        return epsg - _GK_PREFIXED_BASE + _GK_FIRST_ZONE, True
    return None


def metric_crs(geoms) -> CRS:
    """The Gauss–Krüger CRS (no zone prefix) for metric work on a GeoSeries/GeoDataFrame.

    The zone is that of the centre of the data's bounds in CGCS2000 longitude.
    """
    crs = getattr(geoms, "crs", None)
    if crs is None:
        raise CRSError("data has no CRS; set one (e.g. EPSG:4490) before measuring")
    geo = geoms if CRS.from_user_input(crs).is_geographic else geoms.to_crs(CGCS2000)
    minx, _, maxx, _ = geo.total_bounds
    if not (math.isfinite(minx) and math.isfinite(maxx)):
        raise CRSError("cannot choose a Gauss–Krüger zone for empty data")
    return CRS.from_epsg(gk_epsg((minx + maxx) / 2.0))


# --- GCJ-02 / BD-09 -------------------------------------------------------------------

_A = 6378245.0  # Krasovsky 1940 semi-major axis, as in the published algorithm
_EE = 0.00669342162296594323
_X_PI = math.pi * 3000.0 / 180.0
_TOLERANCE_DEG = 1e-10  # ~0.01 mm: the inverses stop well below the 1 cm requirement
_MAX_ITERATIONS = 30


def out_of_china(lon, lat) -> np.ndarray:
    """True where a point lies outside the box in which the GCJ-02 offset is applied."""
    lon = np.asarray(lon, dtype=float)
    lat = np.asarray(lat, dtype=float)
    return (lon < 72.004) | (lon > 137.8347) | (lat < 0.8293) | (lat > 55.8271)


def _delta(lon: np.ndarray, lat: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    x = lon - 105.0
    y = lat - 35.0
    sqrt_abs_x = np.sqrt(np.abs(x))
    common = (20.0 * np.sin(6.0 * x * np.pi) + 20.0 * np.sin(2.0 * x * np.pi)) * 2.0 / 3.0
    dlat = -100.0 + 2.0 * x + 3.0 * y + 0.2 * y * y + 0.1 * x * y + 0.2 * sqrt_abs_x
    dlat += common
    dlat += (20.0 * np.sin(y * np.pi) + 40.0 * np.sin(y / 3.0 * np.pi)) * 2.0 / 3.0
    dlat += (160.0 * np.sin(y / 12.0 * np.pi) + 320.0 * np.sin(y * np.pi / 30.0)) * 2.0 / 3.0
    dlon = 300.0 + x + 2.0 * y + 0.1 * x * x + 0.1 * x * y + 0.1 * sqrt_abs_x
    dlon += common
    dlon += (20.0 * np.sin(x * np.pi) + 40.0 * np.sin(x / 3.0 * np.pi)) * 2.0 / 3.0
    dlon += (150.0 * np.sin(x / 12.0 * np.pi) + 300.0 * np.sin(x / 30.0 * np.pi)) * 2.0 / 3.0
    rad_lat = lat / 180.0 * np.pi
    magic = 1.0 - _EE * np.sin(rad_lat) ** 2
    sqrt_magic = np.sqrt(magic)
    dlat = (dlat * 180.0) / ((_A * (1.0 - _EE)) / (magic * sqrt_magic) * np.pi)
    dlon = (dlon * 180.0) / (_A / sqrt_magic * np.cos(rad_lat) * np.pi)
    return dlon, dlat


def _as_arrays(lon, lat) -> tuple[np.ndarray, np.ndarray]:
    lon = np.asarray(lon, dtype=float)
    lat = np.asarray(lat, dtype=float)
    if lon.shape != lat.shape:
        raise ValueError(f"lon and lat must have the same shape, got {lon.shape} and {lat.shape}")
    return lon, lat


def wgs84_to_gcj02(lon, lat) -> tuple[np.ndarray, np.ndarray]:
    """WGS84 (≈ CGCS2000) to GCJ-02. Points outside China are returned unchanged.

    Examples
    --------
    >>> lon, lat = wgs84_to_gcj02(116.397, 39.909)
    >>> round(float(lon), 6), round(float(lat), 6)
    (116.403244, 39.910403)
    """
    lon, lat = _as_arrays(lon, lat)
    dlon, dlat = _delta(lon, lat)
    outside = out_of_china(lon, lat)
    return np.where(outside, lon, lon + dlon), np.where(outside, lat, lat + dlat)


def _invert(forward: Callable, lon, lat) -> tuple[np.ndarray, np.ndarray]:
    # Fixed-point iteration x ← x − (f(x) − target): the offsets vary slowly (a few
    # hundred metres over tens of km) so this converges in a handful of steps.
    tlon, tlat = _as_arrays(lon, lat)
    x, y = tlon.copy(), tlat.copy()
    for _ in range(_MAX_ITERATIONS):
        fx, fy = forward(x, y)
        ex, ey = fx - tlon, fy - tlat
        x, y = x - ex, y - ey
        if np.all(np.abs(ex) < _TOLERANCE_DEG) and np.all(np.abs(ey) < _TOLERANCE_DEG):
            break
    return x, y


def gcj02_to_wgs84(lon, lat) -> tuple[np.ndarray, np.ndarray]:
    """GCJ-02 to WGS84, iterated until ``wgs84_to_gcj02`` reproduces the input (< 0.01 mm)."""
    return _invert(wgs84_to_gcj02, lon, lat)


def gcj02_to_bd09(lon, lat) -> tuple[np.ndarray, np.ndarray]:
    """GCJ-02 to BD-09 (Baidu)."""
    x, y = _as_arrays(lon, lat)
    z = np.sqrt(x * x + y * y) + 0.00002 * np.sin(y * _X_PI)
    theta = np.arctan2(y, x) + 0.000003 * np.cos(x * _X_PI)
    return z * np.cos(theta) + 0.0065, z * np.sin(theta) + 0.006


def bd09_to_gcj02(lon, lat) -> tuple[np.ndarray, np.ndarray]:
    """BD-09 to GCJ-02, iterated to the exact inverse of :func:`gcj02_to_bd09`."""
    return _invert(gcj02_to_bd09, lon, lat)


def wgs84_to_bd09(lon, lat) -> tuple[np.ndarray, np.ndarray]:
    """WGS84 to BD-09 (through GCJ-02)."""
    return gcj02_to_bd09(*wgs84_to_gcj02(lon, lat))


def bd09_to_wgs84(lon, lat) -> tuple[np.ndarray, np.ndarray]:
    """BD-09 to WGS84 (through GCJ-02)."""
    return gcj02_to_wgs84(*bd09_to_gcj02(lon, lat))


def transform_geometries(geoms, func: Callable) -> np.ndarray:
    """Apply a (lon, lat) → (lon, lat) array function to every vertex of shapely geometries."""

    def _apply(coords: np.ndarray) -> np.ndarray:
        x, y = func(coords[:, 0], coords[:, 1])
        return np.column_stack([x, y])

    return shapely.transform(np.asarray(geoms), _apply)


# --- CRS specifications -----------------------------------------------------------------

_ALIASES = {
    "wgs84": 4326,
    "epsg:4326": 4326,
    "crs84": 4326,
    "cgcs2000": CGCS2000,
}
_OFFSET_DATUMS = {"gcj02": (gcj02_to_wgs84, wgs84_to_gcj02), "bd09": (bd09_to_wgs84, wgs84_to_bd09)}


@dataclass(frozen=True)
class CRSSpec:
    """A CRS as a user names it: an EPSG/PROJ CRS, or one of the offset datums GCJ-02/BD-09.

    ``offset`` is ``"gcj02"``, ``"bd09"`` or ``None``; with an offset, ``crs`` is the
    geographic CRS the de-obfuscated coordinates are in (EPSG:4490).
    """

    crs: CRS
    offset: str | None = None

    @property
    def name(self) -> str:
        if self.offset:
            return self.offset.upper().replace("GCJ02", "GCJ-02").replace("BD09", "BD-09")
        epsg = self.crs.to_epsg()
        return f"EPSG:{epsg}" if epsg else self.crs.to_string()

    def to_cgcs2000(self, geoms):
        """Geometries in this CRS → EPSG:4490 (array of shapely geometries)."""
        from pyproj import Transformer

        geoms = np.asarray(geoms)
        if self.offset:
            return transform_geometries(geoms, _OFFSET_DATUMS[self.offset][0])
        if self.crs.to_epsg() == CGCS2000:
            return geoms
        tr = Transformer.from_crs(self.crs, CGCS2000, always_xy=True)
        return shapely.transform(geoms, lambda c: np.column_stack(tr.transform(c[:, 0], c[:, 1])))

    def from_cgcs2000(self, geoms):
        """EPSG:4490 geometries → this CRS (array of shapely geometries)."""
        from pyproj import Transformer

        geoms = np.asarray(geoms)
        if self.offset:
            return transform_geometries(geoms, _OFFSET_DATUMS[self.offset][1])
        if self.crs.to_epsg() == CGCS2000:
            return geoms
        tr = Transformer.from_crs(CGCS2000, self.crs, always_xy=True)
        return shapely.transform(geoms, lambda c: np.column_stack(tr.transform(c[:, 0], c[:, 1])))


def parse_crs(spec) -> CRSSpec:
    """Parse a user's CRS: an EPSG code (4547, "EPSG:4547"), a URI, or an alias.

    Aliases: ``wgs84``, ``cgcs2000``, ``gcj02`` (Amap/Tencent), ``bd09`` (Baidu).

    Examples
    --------
    >>> parse_crs("cgcs2000").name, parse_crs(4547).name, parse_crs("gcj02").name
    ('EPSG:4490', 'EPSG:4547', 'GCJ-02')
    """
    if isinstance(spec, CRSSpec):
        return spec
    if spec is None or (isinstance(spec, str) and not spec.strip()):
        raise CRSError("no CRS given; pass an EPSG code or one of wgs84, cgcs2000, gcj02, bd09")
    if isinstance(spec, CRS):
        return CRSSpec(spec)
    text = str(spec).strip()
    key = re.sub(r"[\s_\-]", "", text.lower())
    if key in ("gcj02", "gcj", "amap", "gaode", "mars"):
        return CRSSpec(CRS.from_epsg(CGCS2000), "gcj02")
    if key in ("bd09", "baidu", "bd09ll"):
        return CRSSpec(CRS.from_epsg(CGCS2000), "bd09")
    if key in _ALIASES:
        return CRSSpec(CRS.from_epsg(_ALIASES[key]))
    if re.fullmatch(r"\d{4,6}", text):
        text = f"EPSG:{text}"
    if "opengis.net/def/crs/ogc/1.3/crs84" in text.lower():
        return CRSSpec(CRS.from_epsg(4326))
    try:
        return CRSSpec(CRS.from_user_input(text))
    except _PyprojCRSError as ex:
        raise CRSError(
            f"unknown CRS {spec!r}; pass an EPSG code (e.g. 4490, 4547) "
            "or one of wgs84, cgcs2000, gcj02, bd09"
        ) from ex
