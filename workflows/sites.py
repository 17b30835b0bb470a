"""Site selection for a renewal area's resettlement housing: the suitability surface (built
once per version of its layers, area and criteria, see :class:`SurfaceCache`), sites selected
on it (ranked parcels, or grown regions without parcels). One path for CLI, API and maps."""

from __future__ import annotations

__all__ = ["SURFACE_KINDS", "surface_inputs_key", "parse_require", "units_for", "surface_spec", "SurfaceCache",
           "area_surface", "select_on", "select_on_surface"]

from dataclasses import dataclass

import geopandas as gpd

from gis.errors import InputError
from layers.cache import FolderCache
from layers.store import LayerStore, layer_versions
from workflows.inputs import analysis_inputs, layers_by_kind, resolve_area

#: The kinds of layer a suitability surface is built from (parcels only rank sites on it).
SURFACE_KINDS = ("renewal_areas", "services", "roads", "constraints", "dem")


def surface_inputs_key(store: LayerStore) -> tuple:
    """The versions of the layers a surface is built from: a surface cached under this key
    is rebuilt after a change to one of them, and kept after an edit of parcels."""
    return layer_versions(store, sorted(layers_by_kind(store).get(k, k) for k in SURFACE_KINDS))


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
        from gis.suitability.surface import criteria_key, recombine

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
    from gis.suitability.surface import build_surface, surface_grid

    inputs = analysis_inputs(store)
    origin = resolve_area(inputs.areas, area_key)
    spec = surface_spec(store, spec, max_distance)
    layers = layers_by_kind(store)
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
    layers = layers_by_kind(store)
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
