"""A synthetic province (issue #17): N seeded cities side by side, for province-scale benches and tests.

Every city ``合成01市``, ``合成02市`` … is a square of jittered street grid split into 2–4
districts, with renewal areas, services of every category, a few constraints, and one DEM
covering the whole province. Cities sit on one Gauss–Krüger plane (EPSG:4547, CM 114°E, the
sample city's) in a grid with 10 km of empty land between them, so their walking networks
are separate components and a province run can partition by city or district.

Everything is synthetic and flagged so in the layers' metadata. Each city draws from its own
generator seeded by ``(seed, city index, layer)``: city 3 is the same whether the province
has 3 cities or 20, and adding a layer later leaves the others as they were.
"""

from __future__ import annotations

__all__ = ["build_province_store", "PROVINCE_SIZES", "city_name"]

import logging
import math
from dataclasses import dataclass

import geopandas as gpd
import numpy as np
import pandas as pd
import shapely
from rasterio.transform import from_origin
from tqdm import tqdm

from gis.errors import InputError
from gis.units import mu_to_m2

# The sample city's private tables and helpers: the same service mix and store reset, so the
# province and the sample city stay alike without a second copy to keep in step.
from layers.sample.build import _CAPACITY, _SERVICE_SHARE, SAMPLE_GK_EPSG, _ellipse, _empty
from layers.schemas import VOCABULARIES
from layers.store import LayerStore, open_store
from layers.validate import validate_layer

log = logging.getLogger(__name__)

_CENTRE_LONLAT = (114.0, 34.0)  # central Henan, on the zone's central meridian
_GAP = 10_000.0  # m of empty land between cities: no street crosses it
_CELL = 600.0  # m: renewal areas and district cuts are laid on this lattice
_DEM_RES = 30.0
_EDGE = 100.0  # m at least between the outer streets and the city's edge
_DROP = 0.04  # share of minor block links left out, as in the sample city's grid


@dataclass(frozen=True)
class ProvinceSize:
    """How big each city is: street crossings per side and their spacing, areas, services."""

    streets: int
    spacing: float
    areas: int
    services: int


#: ``full``: ~100k walking nodes, 300 renewal areas and 5,000 services per city (the benches);
#: ``small``: 2,500 nodes, 6 areas and 100 services, so three cities build in seconds (the tests).
PROVINCE_SIZES = {
    "full": ProvinceSize(streets=316, spacing=60.0, areas=300, services=5000),
    "small": ProvinceSize(streets=50, spacing=60.0, areas=6, services=100),
}

# Layer streams of each city's generator; the numbers are part of the seeding, keep them.
_ROADS, _DISTRICTS, _AREAS, _SERVICES, _CONSTRAINTS = range(5)


def city_name(k: int) -> str:
    """The name of the k-th synthetic city (0-based): ``合成01市``."""
    return f"合成{k + 1:02d}市"


@dataclass(frozen=True)
class _City:
    k: int
    name: str
    x0: float  # south-west corner of the city's frame on the GK plane
    y0: float
    cells: int  # frame side in _CELL lattice cells
    size: ProvinceSize

    @property
    def side(self) -> float:
        return self.cells * _CELL

    @property
    def extent(self) -> float:
        """Side of the street grid, centred in the frame."""
        return (self.size.streets - 1) * self.size.spacing

    @property
    def origin(self) -> np.ndarray:
        """South-west street crossing: the streets keep off the district edges (a node on an
        edge would belong to no district, or to two)."""
        return np.array([self.x0, self.y0]) + (self.side - self.extent) / 2

    def rng(self, seed: int, layer: int) -> np.random.Generator:
        return np.random.default_rng([seed, self.k, layer])


def _layout(n_cities: int, size: ProvinceSize) -> list[_City]:
    """Cities in a near-square grid, city 01 in the north-west, centred on _CENTRE_LONLAT."""
    cells = math.ceil(((size.streets - 1) * size.spacing + 2 * _EDGE) / _CELL)
    side = cells * _CELL
    cols = math.ceil(math.sqrt(n_cities))
    rows = math.ceil(n_cities / cols)
    pitch = side + _GAP
    centre = gpd.GeoSeries([shapely.Point(*_CENTRE_LONLAT)], crs=4490).to_crs(SAMPLE_GK_EPSG).iloc[0]
    # Whole metres: the corners (and so every street crossing) are exact on the plane.
    left = round(centre.x - (cols * pitch - _GAP) / 2)
    top = round(centre.y + (rows * pitch - _GAP) / 2)
    return [_City(k, city_name(k), left + (k % cols) * pitch, top - (k // cols) * pitch - side, cells, size)
            for k in range(n_cities)]


def _street_runs(pts: np.ndarray, keep: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Multi-vertex lines of unbroken runs of kept segments: ``pts`` (lines, n, 2) are the
    crossings along each street, ``keep`` (lines, n-1) its block links. Returns the lines and
    the street index of each; a left-out link ends one run and the next starts after it."""
    prev = np.pad(keep, ((0, 0), (1, 0)))[:, :-1]
    nxt = np.pad(keep, ((0, 0), (0, 1)))[:, 1:]
    line, k = np.nonzero(keep)  # row-major: runs come out in order along each street
    starts = ~prev[line, k]
    ends = ~nxt[line, k]
    run = np.cumsum(starts) - 1
    # Each kept link gives its start crossing; the last link of a run gives its end too.
    coords = np.stack([pts[line, k], pts[line, k + 1]], axis=1).reshape(-1, 2)
    emit = np.stack([np.ones_like(ends), ends], axis=1).ravel()
    lines = shapely.linestrings(coords[emit], indices=np.repeat(run, 2)[emit])
    return lines, line[starts]


def _road_class(n: int) -> np.ndarray:
    """Class of each street line: one expressway through the middle, arterials every 16th
    line, secondaries every 8th, branches and footways between (main_roads finds the first three)."""
    i = np.arange(n)
    klass = np.where(i % 2 == 0, "branch", "footway").astype(object)
    klass[i % 8 == 0] = "secondary"
    klass[i % 16 == 0] = "arterial"
    klass[n // 2] = "expressway"
    return klass


def _roads(city: _City, rng: np.random.Generator) -> pd.DataFrame:
    n, s = city.size.streets, city.size.spacing
    klass = _road_class(n)
    main = np.isin(klass, ["expressway", "arterial", "secondary"])
    xs, ys = city.origin[:, None] + s * np.arange(n)
    jitter = rng.uniform(-0.12 * s, 0.12 * s, size=(n, n, 2))
    jitter[main, :] = 0.0  # main roads run straight
    jitter[:, main] = 0.0
    gx, gy = np.meshgrid(xs, ys, indexing="ij")
    pts = np.stack([gx + jitter[..., 0], gy + jitter[..., 1]], axis=-1)  # [i, j]: i west→east
    frames = []
    for axis, along in (("经", pts), ("纬", pts.transpose(1, 0, 2))):  # north–south, then east–west streets
        keep = rng.random((n, n - 1)) >= _DROP
        keep[main] = True  # main roads are never broken
        lines, street = _street_runs(along, keep)
        frames.append(pd.DataFrame({"name": [f"{axis}{i + 1}路" for i in street], "road_class": klass[street],
                                    "geometry": lines}))
    return pd.concat(frames, ignore_index=True)


_PARTS = {2: ("西区", "东区"), 3: ("西区", "东北区", "东南区"), 4: ("西北区", "西南区", "东北区", "东南区")}


def _districts(city: _City, rng: np.random.Generator) -> pd.DataFrame:
    """2–4 districts: a west–east cut, then north–south cuts of one or both halves. Cuts lie on
    the _CELL lattice, so a renewal area placed in one cell lies in exactly one district."""
    n = int(rng.integers(2, 5))
    lo, hi = max(1, city.cells * 2 // 5), max(2, city.cells * 3 // 5 + 1)
    cx = city.x0 + _CELL * int(rng.integers(lo, hi))
    west, east = shapely.box(city.x0, city.y0, cx, city.y0 + city.side), \
        shapely.box(cx, city.y0, city.x0 + city.side, city.y0 + city.side)

    def split(half: shapely.Polygon) -> list[shapely.Polygon]:
        x0, y0, x1, y1 = half.bounds
        cy = y0 + _CELL * int(rng.integers(lo, hi))
        return [shapely.box(x0, cy, x1, y1), shapely.box(x0, y0, x1, cy)]  # north, south

    parts = {2: [west, east], 3: [west, *split(east)], 4: [*split(west), *split(east)]}[n]
    return pd.DataFrame({"name": [city.name + p for p in _PARTS[n]], "city": city.name, "level": "区县",
                         "geometry": parts})


def _areas(city: _City, districts: pd.DataFrame, rng: np.random.Generator) -> pd.DataFrame:
    """Rectangles of 20–180 mu, each inside its own lattice cell (so none overlap), in the
    cells the street grid covers; ``county`` is the district holding the cell."""
    first = math.ceil((city.origin[0] - city.x0) / _CELL)  # lattice cells inside the street grid
    usable = max(1, int((city.origin[0] - city.x0 + city.extent) // _CELL) - first)
    cells = rng.choice(usable * usable, size=min(city.size.areas, usable * usable), replace=False)
    ci, cj = first + cells % usable, first + cells // usable
    n = len(cells)
    mu = rng.uniform(20, 180, n)
    aspect = rng.uniform(0.7, 1.5, n)
    w = np.sqrt(mu_to_m2(mu) * aspect)
    h = mu_to_m2(mu) / w
    margin = 40.0
    x = city.x0 + ci * _CELL + margin + rng.random(n) * (_CELL - 2 * margin - w)
    y = city.y0 + cj * _CELL + margin + rng.random(n) * (_CELL - 2 * margin - h)
    geoms = shapely.box(x, y, x + w, y + h)
    county = _district_of(districts, x + w / 2, y + h / 2)
    kinds = list(VOCABULARIES["renewal_kind"])
    kind = rng.choice(kinds, size=n, p=[0.3, 0.2, 0.3, 0.05, 0.05, 0.05, 0.05])
    households = (mu * rng.uniform(6, 14, n)).astype(int)
    plan_year = rng.integers(2021, 2026, n)
    # Older plans are further along: up to two milestones per year since the plan year.
    statuses = np.array(list(VOCABULARIES["renewal_status"]))
    stage = np.minimum(rng.integers(0, 2 + 2 * (2025 - plan_year)), len(statuses) - 1)
    labels = [VOCABULARIES["renewal_kind"][k] for k in kind]
    return pd.DataFrame({
        "name": [f"{c}{lab}改造片区{i + 1:03d}"
                 for i, (c, lab) in enumerate(zip(county, labels, strict=True))],
        "county": county, "kind": kind, "households": households,
        "units": (households * rng.uniform(0.9, 1.15, n)).astype(int),
        "floor_area_m2": np.round(households * rng.uniform(60, 95, n)),
        "built_year": rng.integers(1968, 2004, n), "plan_year": plan_year, "status": statuses[stage],
        "investment": np.round(households * rng.uniform(15, 30, n)), "approximate": False,
        "geometry": geoms})


def _district_of(districts: pd.DataFrame, x: np.ndarray, y: np.ndarray) -> np.ndarray:
    names = np.full(len(x), None, dtype=object)
    for name, geom in zip(districts.name, districts.geometry, strict=True):
        names[shapely.contains_xy(geom, x, y)] = name
    return names


def _services(city: _City, rng: np.random.Generator) -> pd.DataFrame:
    """Every category at least once, the rest in the sample city's mix; 70 % clustered
    around the centre (where people live), the rest anywhere on the street grid."""
    cats = list(VOCABULARIES["service_category"])
    share = np.array([_SERVICE_SHARE.get(c, 0.03) for c in cats])
    n = max(city.size.services, len(cats))
    chosen = np.concatenate([np.arange(len(cats)), rng.choice(len(cats), n - len(cats), p=share / share.sum())])
    lo = city.origin
    hi = lo + city.extent
    xy = np.where(rng.random((n, 1)) < 0.7, rng.normal(lo + city.extent / 2, city.extent / 6, (n, 2)),
                  rng.uniform(lo, hi, (n, 2)))
    xy = np.clip(xy, lo, hi)
    category = np.array(cats, dtype=object)[chosen]
    number = pd.Series(category).groupby(category).cumcount().to_numpy() + 1
    capacity = np.full(n, np.nan)
    for cat, (lo, hi) in _CAPACITY.items():
        mask = category == cat
        capacity[mask] = rng.integers(lo, hi, mask.sum())
    names = [f"{city.name}{VOCABULARIES['service_category'][c]}{i:04d}" for c, i in zip(category, number, strict=True)]
    return pd.DataFrame({"name": names, "category": category, "capacity": capacity,
                         "geometry": shapely.points(xy)})


def _constraints(city: _City, rng: np.random.Generator) -> pd.DataFrame:
    """A flood strip along the south edge, farmland at two corners, a subsidence area and a
    geohazard spot: the kinds a suitability run excludes or penalizes."""
    (x0, y0), e = city.origin, city.extent
    fw = e * rng.uniform(0.1, 0.4, 2)  # widths of the two farmland blocks
    rows = [
        ("洪涝风险区", "flood", "penalize", 0.0, shapely.box(x0, y0, x0 + e, y0 + e * rng.uniform(0.04, 0.08))),
        ("永久基本农田01", "farmland", "exclude", 0.0, shapely.box(x0, y0 + e * 0.85, x0 + fw[0], y0 + e)),
        ("永久基本农田02", "farmland", "exclude", 0.0, shapely.box(x0 + e - fw[1], y0 + e * 0.85, x0 + e, y0 + e)),
        ("采煤塌陷区01", "subsidence", "exclude", 200.0,
         _ellipse(*(x0 + e * rng.uniform(0.6, 0.8, 2)), e * 0.05, e * 0.03, rng.uniform(-0.4, 0.4))),
        ("地质灾害隐患点01", "geohazard", "exclude", 50.0,
         _ellipse(*(x0 + e * rng.uniform(0.2, 0.8, 2)), e * 0.01, e * 0.007)),
    ]
    frame = pd.DataFrame(rows, columns=["name", "kind", "severity", "buffer_m", "geometry"])
    frame["name"] = city.name + frame["name"]
    return frame


def _dem(cities: list[_City], seed: int) -> tuple[np.ndarray, object]:
    """Smooth terrain over the whole province: a gentle northward rise, a few seeded hills of
    20–150 m (separable Gaussians, one outer product each) and a long-wave ripple."""
    rng = np.random.default_rng([seed, 1_000_000])  # its own stream: independent of the cities
    margin = 2000.0
    x0 = min(c.x0 for c in cities) - margin
    y0 = min(c.y0 for c in cities) - margin
    x1 = max(c.x0 + c.side for c in cities) + margin
    y1 = max(c.y0 + c.side for c in cities) + margin
    w, h = int(np.ceil((x1 - x0) / _DEM_RES)), int(np.ceil((y1 - y0) / _DEM_RES))
    xs = x0 + _DEM_RES * (np.arange(w) + 0.5)
    ys = y1 - _DEM_RES * (np.arange(h) + 0.5)
    dem = (80.0 + 0.002 * (ys - y0))[:, None] + np.zeros((1, w))
    for _ in range(2 * len(cities) + 2):
        hx, hy = rng.uniform(x0, x1), rng.uniform(y0, y1)
        sigma, height = rng.uniform(2000, 8000), rng.uniform(20, 150)
        dem += height * np.outer(np.exp(-0.5 * ((ys - hy) / sigma) ** 2), np.exp(-0.5 * ((xs - hx) / sigma) ** 2))
    phase = rng.uniform(0, 2 * np.pi, 2)
    dem += 5.0 * np.outer(np.cos(ys / 1700.0 + phase[1]), np.sin(xs / 1300.0 + phase[0]))
    return dem.astype("float32"), from_origin(x0, y1, _DEM_RES, _DEM_RES)


def _city_layers(city: _City, seed: int) -> dict[str, pd.DataFrame]:
    districts = _districts(city, city.rng(seed, _DISTRICTS))
    return {"districts": districts, "roads": _roads(city, city.rng(seed, _ROADS)),
            "renewal_areas": _areas(city, districts, city.rng(seed, _AREAS)),
            "services": _services(city, city.rng(seed, _SERVICES)),
            "constraints": _constraints(city, city.rng(seed, _CONSTRAINTS))}


_SOURCES = {
    "districts": "synthetic province: 2–4 districts per city (seeded)",
    "renewal_areas": "synthetic province: renewal areas of 20–180 mu (seeded)",
    "services": "synthetic province: every service category in every city (seeded)",
    "roads": "synthetic province: jittered walking grid per city, main roads straight (seeded)",
    "constraints": "synthetic province: flood, farmland, subsidence, geohazard (seeded)",
}


def build_province_store(store_or_location, n_cities: int, *, seed: int = 0, size: str = "small") -> LayerStore:
    """Build a synthetic province of ``n_cities`` cities into a store (what it held is removed).

    Parameters
    ----------
    store_or_location : LayerStore, path or URL
        An open store, a GeoPackage path or a database URL (as :func:`build_sample_store`).
    n_cities : int
        Number of cities, ``合成01市`` … laid out in a near-square grid 10 km apart.
    seed : int
        The same seed gives the same layers; another seed gives other layers.
    size : {"small", "full"}
        ``full`` (benches): ~100k walking nodes, 300 renewal areas and 5,000 services per city;
        ``small`` (tests): 2,500 nodes, 6 areas, 100 services per city.

    Returns
    -------
    LayerStore
        With ``districts``, ``renewal_areas``, ``services``, ``roads``, ``constraints`` (in
        EPSG:4490) and ``dem`` (30 m, EPSG:4547 like the sample city's), all flagged synthetic.

    Raises
    ------
    InputError
        For fewer than one city or an unknown size.
    """
    if size not in PROVINCE_SIZES:
        raise InputError(f"size must be one of {', '.join(PROVINCE_SIZES)}, got {size!r}")
    if int(n_cities) < 1:
        raise InputError(f"a province needs at least one city, got n_cities={n_cities}")
    store = store_or_location if isinstance(store_or_location, LayerStore) else open_store(store_or_location)
    _empty(store, overwrite=True)
    cities = _layout(int(n_cities), PROVINCE_SIZES[size])
    parts: dict[str, list[pd.DataFrame]] = {name: [] for name in _SOURCES}
    for city in tqdm(cities, desc="province", unit="city", disable=True if size != "full" else None):
        for name, frame in _city_layers(city, seed).items():
            parts[name].append(frame)
    items = []
    for name, frames in parts.items():
        frame = gpd.GeoDataFrame(pd.concat(frames, ignore_index=True), geometry="geometry", crs=SAMPLE_GK_EPSG)
        items.append((name, validate_layer(frame.to_crs(4490), name),
                      {"source": _SOURCES[name], "synthetic": True}))
        log.info("province: %s, %d features over %d cities", name, len(frame), len(cities))
    store.write_many(items, who="sample")
    dem, transform = _dem(cities, seed)
    store.write_raster("dem", dem, transform=transform, crs=f"EPSG:{SAMPLE_GK_EPSG}", nodata=-9999.0,
                       source="synthetic province: smooth 30 m terrain (seeded)", synthetic=True, who="sample")
    log.info("province: dem %d × %d cells of %g m", dem.shape[1], dem.shape[0], _DEM_RES)
    log.info("synthetic province of %d %s cities (seed %d) written to %s", len(cities), size, seed, store.uri)
    return store
