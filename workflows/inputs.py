"""Gather what an analysis needs from the store: the area asked for, services, roads, network.

Shared by the CLI and the API so both resolve names and build networks the same way.
"""

from __future__ import annotations

__all__ = ["resolve_area", "analysis_inputs", "AnalysisInputs", "area_supply", "SurfaceCache", "surface_spec"]

from dataclasses import dataclass

import geopandas as gpd
import pandas as pd

from gis.errors import InputError, NotFoundError
from gis.network import WalkNetwork, build_network
from gis.standards import Standard, default_standards, load_standards
from layers.cache import FolderCache, VersionedCache
from layers.store import LayerStore, layer_versions


def _layers_by_kind(store: LayerStore) -> dict[str, str]:
    return {kind: store.find_kind(kind) for kind in {i.kind for i in store.layers()}}


def resolve_area(areas: gpd.GeoDataFrame, key) -> gpd.GeoDataFrame:
    """The area with id ``key`` (an integer) or name ``key`` (exact, else a unique substring)."""
    text = str(key).strip()
    if text.isdigit() and (areas.id == int(text)).any():
        return areas[areas.id == int(text)]
    exact = areas[areas.name == text]
    if len(exact):
        return exact.iloc[:1]
    partial = areas[areas.name.str.contains(text, regex=False, na=False)]
    if len(partial) == 1:
        return partial
    if len(partial) > 1:
        raise NotFoundError(f"{text!r} matches {len(partial)} areas ({', '.join(partial.name.head(5))} …); "
                            "give the full name or the id")
    raise NotFoundError(f"no renewal area {text!r}; list them with `renewal export renewal_areas -o areas.csv`")


@dataclass
class AnalysisInputs:
    areas: gpd.GeoDataFrame
    services: gpd.GeoDataFrame
    network: WalkNetwork | None
    standards: dict[str, Standard]
    #: The store and layer versions read before the layers: what is built from these inputs is
    #: cached under them (an edit landing meanwhile makes the inputs newer, never older, than
    #: the key says).
    versions: tuple = ()


_NETWORKS: VersionedCache[WalkNetwork] = VersionedCache(4)


def _network_for(store: LayerStore, layer: str) -> WalkNetwork:
    """The walking network of a roads layer, built once per version of that layer (an edit of
    an area or a service keeps it)."""
    return _NETWORKS.get(layer_versions(store, [layer]), lambda: build_network(store.read(layer)))


def analysis_inputs(store: LayerStore, standards_file=None) -> AnalysisInputs:
    """Areas, services, the walking network (each cached per layer version) and the standards."""
    from layers.features import read_layer_cached

    versions = layer_versions(store, [i.name for i in store.layers()])
    areas = read_layer_cached(store, store.find_kind("renewal_areas"))
    services = read_layer_cached(store, store.find_kind("services"))
    network = None
    if any(i.kind == "roads" for i in store.layers()):
        network = _network_for(store, store.find_kind("roads"))
    standards = load_standards(standards_file) if standards_file else default_standards()
    return AnalysisInputs(areas, services, network, standards, versions)


_ISOCHRONES: VersionedCache[gpd.GeoDataFrame] = VersionedCache(32)


def _inputs_key(store: LayerStore, inputs: AnalysisInputs, kinds) -> tuple:
    wanted = {store.find_kind(k) for k in kinds if store.has_kind(k)}
    return tuple(v for v in inputs.versions if not isinstance(v, tuple) or v[0] in wanted)


def area_isochrones(store: LayerStore, inputs: AnalysisInputs, origin: gpd.GeoDataFrame) -> gpd.GeoDataFrame:
    """The 300/500/1000 m walking isochrones of one resolved area, kept per version of the
    areas and roads layers (a second or so of work per area otherwise)."""
    from gis.isochrones import walking_isochrones

    key = (_inputs_key(store, inputs, ("renewal_areas", "roads")), int(origin.id.iloc[0]))
    return _ISOCHRONES.get(key, lambda: walking_isochrones(origin, inputs.network)).copy()


_REPORTS: VersionedCache[pd.DataFrame] = VersionedCache(64)


def area_services_report(store: LayerStore, inputs: AnalysisInputs, origin: gpd.GeoDataFrame) -> pd.DataFrame:
    """Nearby services of one resolved area against the standards, kept per version of the
    areas, services and roads layers (the API's and the area map's most asked question)."""
    from gis.services import nearest_services

    key = (_inputs_key(store, inputs, ("renewal_areas", "services", "roads")), int(origin.id.iloc[0]),
           repr(sorted(inputs.standards.items())))
    return _REPORTS.get(key, lambda: nearest_services(origin, inputs.services, network=inputs.network,
                                                      standards=inputs.standards)).copy()


_SUPPLY: VersionedCache[dict] = VersionedCache(64)


def area_supply(store: LayerStore, inputs: AnalysisInputs, origin: gpd.GeoDataFrame) -> dict:
    """Supply against demand around one area: for each category whose facilities carry a
    capacity, 2SFCA capacity per 1000 residents within the category's GB 50180-2018 walking
    distance. Demand is the population layer when the store has one (everyone living in each
    facility's catchment, the area's residents among them), else the renewal areas' own
    households only, and ``demand`` says which; kept per version of the layers it reads."""
    from gis.accessibility import supply_demand

    population = store.read(store.find_kind("population")) if store.has_kind("population") else None
    key = (_inputs_key(store, inputs, ("renewal_areas", "services", "roads", "population")),
           int(origin.id.iloc[0]), repr(sorted(inputs.standards.items())))

    def build() -> dict:
        svc = inputs.services
        with_capacity = svc[svc.capacity.notna() & (svc.capacity > 0)] if "capacity" in svc else svc.iloc[:0]
        rows, demand = [], "the renewal areas' own households only (no population layer)"
        for category in [c for c in inputs.standards if c in set(with_capacity.category)]:
            std = inputs.standards[category]
            # Without a population layer the other areas' households are the only other demand.
            areas = origin if population is not None else inputs.areas
            out = supply_demand(areas, with_capacity, category, network=inputs.network, population=population,
                                catchment_m=float(std.standard_m) if std.standard_m else None)
            row = out[out["id"] == origin.id.iloc[0]].iloc[0]
            demand = out.attrs["demand"]
            rows.append({"category": category, "category_zh": std.label_zh, "catchment_m": out.attrs["catchment_m"],
                         "facilities": int(row.facilities), "per_1000": float(row.per_1000),
                         "residents": float(row.population)})
        return {"demand": demand, "method": "2SFCA", "categories": rows}

    return _SUPPLY.get(key, build)


#: The kinds of layer a suitability surface is built from (parcels only rank sites on it).
SURFACE_KINDS = ("renewal_areas", "services", "roads", "constraints", "dem")


def surface_inputs_key(store: LayerStore) -> tuple:
    """The versions of the layers a surface is built from: a surface cached under this key
    is rebuilt after a change to one of them, and kept after an edit of parcels."""
    return layer_versions(store, sorted(_layers_by_kind(store).get(k, k) for k in SURFACE_KINDS))


def parse_require(text: str | None) -> dict[str, float]:
    """``kindergarten:300,primary_school:500`` → {category: metres}."""

    out: dict[str, float] = {}
    for part in filter(None, (p.strip() for p in (text or "").split(","))):
        name, _, value = part.partition(":")
        try:
            out[name.strip()] = float(value)
        except ValueError:
            raise InputError(f"--require expects category:metres, e.g. kindergarten:300; got {part!r}") from None
        if out[name.strip()] <= 0:
            raise InputError(f"--require {part!r}: metres must be positive")
    return out


def units_for(area_row, units: int | None) -> int | None:
    """The units to resettle: as asked, else the area's own units, else its households."""
    if units:
        return int(units)
    for col in ("units", "households"):
        value = area_row.get(col)
        if value is not None and value == value and int(value) > 0:
            return int(value)
    return None


def surface_spec(store: LayerStore, spec=None, max_distance=None):
    """The spec a surface is built with: the default one when none is given, reaching at least
    ``max_distance``, without the slope criterion when the store has no DEM."""
    from dataclasses import replace

    from gis.suitability.model import default_spec

    spec = spec or default_spec(max_distance_m=float(max_distance or 3000.0))
    if max_distance and max_distance > spec.max_distance_m:
        spec = replace(spec, max_distance_m=float(max_distance))
    if not store.has_kind("dem") and any(c.source == "slope" for c in spec.criteria):
        spec = replace(spec, criteria=tuple(c for c in spec.criteria if c.source != "slope"))
    return spec


class SurfaceCache:
    """Suitability surfaces per (versions of the layers they are built from, area, spec).

    Building the criterion rasters takes seconds; combining them milliseconds to a second. So
    the criteria are kept per :func:`~gis.suitability.model.criteria_key` of the spec, and the
    surfaces of other weights, transforms or methods on them are combined into folders inside
    theirs (retired with them). ``max_cells`` bounds the grid one request may build."""

    def __init__(self, size: int = 4, per_criteria: int = 8, max_cells: int | None = None):
        self.folders: FolderCache[_BuiltCriteria] = FolderCache("surface-", size)
        self.per_criteria, self.max_cells = per_criteria, max_cells

    def get(self, store: LayerStore, area, spec=None, max_distance=None):
        """``(origin, surface)`` for ``area`` under ``spec`` (the default spec when None)."""
        from gis.suitability.model import criteria_key, recombine

        area_id = int(resolve_area(analysis_inputs(store).areas, area).id.iloc[0])
        spec = surface_spec(store, spec, max_distance)
        key = (surface_inputs_key(store), area_id, criteria_key(spec))

        def build(folder: str) -> _BuiltCriteria:
            origin, surface = area_surface(store, area_id, out_dir=folder, spec=spec, max_cells=self.max_cells)
            return _BuiltCriteria(origin, surface, FolderCache("combined-", self.per_criteria, dir=folder))

        built = self.folders.get(key, build)
        if repr(spec) == repr(built.surface.spec):
            return built.origin, built.surface
        return built.origin, built.combined.get(repr(spec), lambda folder: recombine(built.surface, spec, folder))


@dataclass
class _BuiltCriteria:
    origin: gpd.GeoDataFrame
    surface: object
    combined: FolderCache


def area_surface(store: LayerStore, area_key, *, out_dir, spec=None, max_distance=None, progress=None,
                 tile: int = 512, max_cells: int | None = None):
    """The origin area and its suitability surface (rasters written under ``out_dir``).

    ``progress``: called with the number of cells the build will step through (2 × the
    grid's) and returning a tqdm-like object, e.g. ``lambda total: tqdm(total=total)``.
    ``tile``: window size of the build (cells a side). ``max_cells``: refuse a grid larger than
    this (a server's bound on what one request may cost)."""

    from gis.crs import metric_crs
    from gis.suitability.model import build_surface, surface_grid

    inputs = analysis_inputs(store)
    origin = resolve_area(inputs.areas, area_key)
    spec = surface_spec(store, spec, max_distance)
    layers = _layers_by_kind(store)
    roads = store.read(layers["roads"]) if "roads" in layers else None
    constraints = store.read(layers["constraints"]) if "constraints" in layers else None
    dem = store.read_raster(layers["dem"]) if "dem" in layers else None
    try:
        bar = None
        crs = inputs.network.crs if inputs.network is not None else None
        grid = surface_grid(origin, spec, crs or metric_crs(origin))
        if max_cells is not None and grid.width * grid.height > max_cells:
            raise InputError(f"the suitability grid would have {grid.width * grid.height:,} cells "
                             f"({spec.resolution:g} m cells, {spec.max_distance_m:g} m around the area); this "
                             f"server allows {max_cells:,}: use coarser cells or a shorter max_distance_m")
        if progress is not None:
            bar = progress(2 * grid.width * grid.height)
        try:
            surface = build_surface(origin, out_dir, services=inputs.services, roads=roads, network=inputs.network,
                                    constraints=constraints, dem=dem, spec=spec, progress=bar, tile=tile)
        finally:
            if bar is not None:
                bar.close()
    finally:
        if dem is not None:
            dem.close()
    return origin, surface


def select_on(store: LayerStore, origin, surface, *, units=None, max_distance=None, require=None, top=5,
              land_status=None):
    """Sites for ``origin`` on a built surface: ranked parcels, or grown regions without parcels."""
    from gis.suitability.regions import grow_regions
    from gis.suitability.sites import SiteRules, score_parcels, select_sites

    inputs = analysis_inputs(store)
    layers = _layers_by_kind(store)
    constraints = store.read(layers["constraints"]) if "constraints" in layers else None
    n_units = units_for(origin.iloc[0], units)
    rules = SiteRules(units=n_units, max_distance_m=max_distance, require=require or {}, top=top,
                      land_status=tuple(land_status) if land_status else None)
    if "parcels" in layers:
        scored = score_parcels(store.read(layers["parcels"]), surface, constraints, origin, inputs.network)
        return select_sites(scored, rules, services=inputs.services, network=inputs.network), None
    if not n_units:
        raise InputError("without a parcel layer, give units to size the regions")
    import rasterio

    with rasterio.open(surface.surface_path) as src:
        regions = grow_regions(src.read(1), surface.grid, n_units * rules.unit_floor_area_m2 / rules.default_far,
                               top=top)
    return None, regions


def select_on_surface(store: LayerStore, area_key, *, out_dir, spec=None, units=None, max_distance=None,
                      require=None, top=5, land_status=None, progress=None):
    """Build the surface for an area and select sites on it: one path for CLI, API and maps."""
    origin, surface = area_surface(store, area_key, out_dir=out_dir, spec=spec, max_distance=max_distance,
                                   progress=progress)
    selection, regions = select_on(store, origin, surface, units=units, max_distance=max_distance,
                                   require=require, top=top, land_status=land_status)
    return origin, surface, selection, regions
