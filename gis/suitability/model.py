"""The suitability model for one renewal area: which criteria, how transformed and weighted,
and building the surface on a grid around the area.

Defaults serve what resettled households need (就医、就读、出行 and daily shopping) and keep
them near home (就近安置); slope keeps sites buildable. A YAML/JSON file can change any
criterion, its transform and weight, or give an AHP matrix instead of weights.
"""

from __future__ import annotations

__all__ = ["CriterionSpec", "SuitabilitySpec", "default_spec", "load_spec", "SurfaceResult", "build_surface",
           "surface_grid"]

import json
import os
from contextlib import ExitStack
from dataclasses import dataclass, field, replace
from pathlib import Path

import geopandas as gpd
import rasterio
import yaml

from gis.crs import metric_crs
from gis.errors import InputError
from gis.network import WalkNetwork
from gis.suitability import criteria as crit
from gis.suitability.combine import METHODS, Criterion, combine_rasters, with_statistics
from gis.suitability.grid import Grid
from gis.suitability.transforms import Transform
from gis.suitability.weights import ahp_weights, normalize_weights

MAIN_ROAD_CLASSES = ("expressway", "arterial", "secondary")


@dataclass(frozen=True)
class CriterionSpec:
    """``source``: ``service:<category>``, ``origin``, ``main_roads``, ``slope`` or ``raster:<path>``."""

    name: str
    source: str
    transform: Transform
    weight: float
    label_zh: str = ""


@dataclass(frozen=True)
class SuitabilitySpec:
    criteria: tuple[CriterionSpec, ...]
    method: str = "weighted_sum"
    resolution: float = 10.0
    max_distance_m: float = 3000.0
    penalty: float = 0.5

    def weights(self) -> dict[str, float]:
        return normalize_weights({c.name: c.weight for c in self.criteria})


def default_spec(max_distance_m: float = 3000.0, resolution: float = 10.0) -> SuitabilitySpec:
    def c(name, source, kind, weight, zh, **params):
        return CriterionSpec(name, source, Transform(kind, params), weight, zh)

    return SuitabilitySpec((
        c("origin", "origin", "linear", 25, "距原片区(就近安置)", low=0, high=max_distance_m, increasing=False),
        c("primary_school", "service:primary_school", "near", 15, "就读:小学", midpoint=500, spread=100),
        c("kindergarten", "service:kindergarten", "near", 10, "就读:幼儿园", midpoint=300, spread=60),
        c("hospital", "service:hospital", "near", 15, "就医:医院", midpoint=1500, spread=300),
        c("bus_stop", "service:bus_stop", "near", 15, "出行:公交站", midpoint=500, spread=100),
        c("market", "service:market", "near", 10, "生活:菜市场", midpoint=500, spread=100),
        c("slope", "slope", "classes", 10, "坡度", breaks=[3, 8, 15], values=[1.0, 0.7, 0.3, 0.0]),
    ), max_distance_m=max_distance_m, resolution=resolution)


def load_spec(path, base: SuitabilitySpec | None = None) -> SuitabilitySpec:
    """Read a weights/criteria file (YAML or JSON) over ``base`` (default :func:`default_spec`).

    Keys: ``method``, ``resolution``, ``max_distance_m``, ``penalty``, ``criteria`` (name →
    ``{weight, source, transform: {kind, ...params}}``; ``weight: 0`` drops a criterion) and
    optionally ``ahp: {names: [...], matrix: [[...]], allow_inconsistent: false}``.
    """
    path = Path(path)
    if not path.exists():
        raise InputError(f"{path}: no such weights file")
    try:
        data = yaml.safe_load(path.read_text(encoding="utf-8")) or {}
    except yaml.YAMLError as ex:
        raise InputError(f"{path.name} is not valid YAML/JSON: {ex}") from ex
    if not isinstance(data, dict):
        raise InputError(f"{path.name}: expected a mapping with 'criteria', 'method' …")
    spec = base or default_spec(float(data.get("max_distance_m", 3000.0)), float(data.get("resolution", 10.0)))
    by_name = {c.name: c for c in spec.criteria}
    for name, item in (data.get("criteria") or {}).items():
        item = item if isinstance(item, dict) else {"weight": item}
        old = by_name.get(name)
        if old is None and "source" not in item:
            raise InputError(f"{path.name}: new criterion {name!r} needs a 'source' "
                             "(service:<category>, origin, main_roads, slope or raster:<path>)")
        t = item.get("transform")
        transform = Transform(t["kind"], {k: v for k, v in t.items() if k != "kind"}) if t else old.transform
        by_name[name] = CriterionSpec(name, item.get("source", old.source if old else ""), transform,
                                      float(item.get("weight", old.weight if old else 1.0)),
                                      item.get("label_zh", old.label_zh if old else name))
    if "ahp" in data:
        ahp = data["ahp"]
        result = ahp_weights(ahp["matrix"], ahp["names"], allow_inconsistent=bool(ahp.get("allow_inconsistent")))
        for n, w in zip(result.names, result.weights, strict=True):
            if n not in by_name:
                raise InputError(f"{path.name}: AHP names unknown criterion {n!r}")
            by_name[n] = replace(by_name[n], weight=float(w))
    criteria = tuple(c for c in by_name.values() if c.weight > 0)
    method = data.get("method", spec.method)
    if method not in METHODS:
        raise InputError(f"{path.name}: unknown method {method!r}; use one of {', '.join(METHODS)}")
    return SuitabilitySpec(criteria, method, float(data.get("resolution", spec.resolution)),
                           float(data.get("max_distance_m", spec.max_distance_m)),
                           float(data.get("penalty", spec.penalty)))


@dataclass
class SurfaceResult:
    grid: Grid
    surface_path: str
    criteria: list[Criterion]
    reason_path: str
    factor_path: str
    spec: SuitabilitySpec
    labels: dict[str, str] = field(default_factory=dict)


def build_surface(origin: gpd.GeoDataFrame, out_dir, *, services: gpd.GeoDataFrame | None = None,
                  roads: gpd.GeoDataFrame | None = None, network: WalkNetwork | None = None,
                  constraints: gpd.GeoDataFrame | None = None, dem=None,
                  spec: SuitabilitySpec | None = None, progress=None, tile: int = 512) -> SurfaceResult:
    """Build every criterion raster and the combined surface for sites around ``origin``.

    The grid covers the origin area buffered by ``spec.max_distance_m`` on its Gauss–Krüger
    plane. Rasters are written to ``out_dir`` (criteria as ``<name>.tif``, the surface as
    ``surface.tif``, exclusions as ``reason.tif``, penalties as ``factor.tif``).

    Each criterion is prepared once (one Dijkstra per service category) and evaluated
    window by window (``tile`` cells a side; grid cells are snapped to the network once per
    window for all criteria), so memory follows the window, not the grid. ``progress``
    (a tqdm-like object) is advanced by the cells of each window built and then of each
    window combined: 2 × the grid's cells in all (:func:`surface_grid` gives the grid first).
    """
    spec = spec or default_spec()
    out_dir = Path(out_dir)
    out_dir.mkdir(parents=True, exist_ok=True)
    crs = network.crs if network is not None else metric_crs(origin)
    area = origin.to_crs(crs)
    grid = surface_grid(origin, spec, crs)
    built = [Criterion(c.name, str(out_dir / f"{c.name}.tif"), c.transform, c.weight) for c in spec.criteria]
    reason_path, factor_path = out_dir / "reason.tif", out_dir / "factor.tif"
    with ExitStack() as stack:
        sources = {c.name: _criterion_source(c, grid, area, services, roads, network, dem, stack)
                   for c in spec.criteria}
        masks = crit.ConstraintMasks(constraints, crs, spec.penalty)
        snaps = network is not None and any(isinstance(s, crit.PointDistance | crit.AreaDistance)
                                            for s in sources.values())
        dsts = [stack.enter_context(rasterio.open(c.path, "w", **grid.profile())) for c in built]
        reason_dst = stack.enter_context(rasterio.open(reason_path, "w", **grid.profile(dtype="uint8", nodata=None)))
        factor_dst = stack.enter_context(rasterio.open(factor_path, "w", **grid.profile()))
        for window in grid.windows(tile):
            sub = grid.window_grid(window)
            cells = network.snap(sub.centers()) if snaps else None  # shared by every criterion
            for dst, source in zip(dsts, sources.values(), strict=True):
                dst.write(source.values(sub, cells), 1, window=window)
            reason, factor = masks.at(sub)
            reason_dst.write(reason, 1, window=window)
            factor_dst.write(factor, 1, window=window)
            if progress is not None:
                progress.update(window.width * window.height)
    built = [with_statistics(c) for c in built]  # one mean/std for the surface and the parcels
    surface = combine_rasters(built, out_dir / "surface.tif", method=spec.method, reason_path=reason_path,
                              factor_path=factor_path, progress=progress)
    labels = {c.name: c.label_zh or c.name for c in spec.criteria}
    return SurfaceResult(grid, surface, built, str(reason_path), str(factor_path), spec, labels)


def surface_grid(origin: gpd.GeoDataFrame, spec: SuitabilitySpec, crs) -> Grid:
    """The grid :func:`build_surface` uses: the origin buffered by the spec's max distance."""
    return Grid.from_bounds(origin.to_crs(crs).buffer(spec.max_distance_m).total_bounds, spec.resolution, crs)


def _criterion_source(c: CriterionSpec, grid: Grid, area, services, roads, network, dem, stack: ExitStack):
    """The prepared evaluator of a criterion: ``.values(window_grid, snapped_cells)``; user
    rasters stay open on ``stack`` while the grid is built."""
    if c.source.startswith("service:"):
        category = c.source.split(":", 1)[1]
        if services is None:
            raise InputError(f"criterion {c.name!r} needs a services layer")
        pts = services[services.category == category]
        if len(pts) == 0:
            raise InputError(f"criterion {c.name!r}: no {category} in the services layer; drop it (weight 0)")
        return crit.PointDistance(pts, grid.crs, network)
    if c.source == "origin":
        return crit.AreaDistance(area, grid.crs, network)
    if c.source == "main_roads":
        if roads is None:
            raise InputError(f"criterion {c.name!r} needs a roads layer")
        main = roads[roads.get("road_class", "").isin(MAIN_ROAD_CLASSES)] if "road_class" in roads else roads
        return crit.LineDistance(main, grid.crs, grid.resolution)
    if c.source == "slope":
        if dem is None:
            raise InputError(f"criterion {c.name!r} needs a DEM; import one or drop slope (weight 0)")
        return crit.Slope(dem)
    if c.source.startswith("raster:"):
        path = c.source.split(":", 1)[1]
        if not os.path.exists(path):
            raise InputError(f"criterion {c.name!r}: raster {path} does not exist")
        return crit.RasterValues(stack.enter_context(rasterio.open(path)))
    raise InputError(f"criterion {c.name!r}: unknown source {c.source!r}")


def spec_to_json(spec: SuitabilitySpec) -> str:
    return json.dumps({"method": spec.method, "resolution": spec.resolution, "max_distance_m": spec.max_distance_m,
                       "criteria": {c.name: {"source": c.source, "weight": c.weight,
                                             "transform": {"kind": c.transform.kind, **c.transform.params}}
                                    for c in spec.criteria}}, ensure_ascii=False)
