"""Printable documents (issue #15): what an area's PDF report and a city's progress report
show, gathered into one plain dict by the same workflow functions the API answers with, so
the numbers on paper equal those of ``GET /analysis/services/{area}``, ``POST
/analysis/site-selection`` and ``GET /analysis/progress`` for the same request.

Design
------
- **One gatherer, two shells.** ``renewal report`` and ``GET /reports/areas/{id}.pdf`` call
  :func:`area_document`; :mod:`maps.report_pdf` only lays the dict out. The dict holds
  JSON-ready numbers, except ``doc["map"]``: the geometries the static maps draw
  (:class:`MapLayers`, already on the area's Gauss–Krüger plane), which
  :func:`document_json` drops.
- **Site selection on the API's surfaces.** The caller may pass its
  :class:`~workflows.sites.SurfaceCache` (the API passes the one its site-selection route
  uses), so a report asked right after a site selection reuses that surface and ranks the
  same parcels with the same scores.
- **Sections are steps.** ``on_section(name)`` is called after each of
  :data:`AREA_SECTIONS`, for the CLI's progress bar and the benchmark's per-section times.
- **Left out:** the services answer's 2SFCA supply (``area_supply``): not asked for on paper,
  and 1.5 s of a cold report (bench_reports).
"""

from __future__ import annotations

__all__ = ["AREA_SECTIONS", "MapLayers", "area_document", "progress_document", "document_json",
           "read_weights"]

import hashlib
from collections.abc import Callable
from dataclasses import dataclass
from datetime import date, datetime
from pathlib import Path

import geopandas as gpd
import numpy as np
import shapely

from gis.errors import InputError, NotFoundError
from gis.targets import TOTAL_REGION
from layers.schemas import VOCABULARIES
from layers.store import LayerStore
from workflows.inputs import AnalysisInputs, analysis_inputs, resolve_area
from workflows.planned import add_planned, planned_report, report_document, stored_planned
from workflows.progress import progress_report
from workflows.reports import site_result
from workflows.services import area_isochrones, area_services_report
from workflows.sites import SurfaceCache, select_on, units_for

#: The steps of :func:`area_document`, in order (``on_section`` is called after each).
AREA_SECTIONS = ("area", "services", "isochrones", "sites", "progress", "map layers")
#: The most units a report may be asked to resettle (as the site-selection API).
MAX_UNITS = 1_000_000
#: Metres of context the location map shows around the area.
LOCATION_MARGIN_M = 1500.0
#: Metres of context the sites map shows around the area and its candidates.
SITES_MARGIN_M = 400.0
#: The longest side, in cells, of the suitability picture under the sites map.
SURFACE_PIXELS = 600
#: Surfaces of reports asked without a cache of the caller's (the CLI, the benchmark).
_SURFACES = SurfaceCache()


@dataclass
class MapLayers:
    """What the report's static maps draw, on the metric plane ``epsg`` (boxes in metres)."""

    epsg: int
    area: gpd.GeoDataFrame
    districts: gpd.GeoDataFrame | None
    roads: gpd.GeoDataFrame | None
    services: gpd.GeoDataFrame
    isochrones: gpd.GeoDataFrame | None
    candidates: gpd.GeoDataFrame | None
    constraints: gpd.GeoDataFrame | None
    surface: np.ndarray | None
    surface_box: tuple[float, float, float, float] | None
    location_box: tuple[float, float, float, float]
    sites_box: tuple[float, float, float, float]


def read_weights(path) -> dict:
    """A criteria/weights file (YAML or JSON, as ``renewal site-select --weights``) as a mapping."""
    from gis.suitability.model import read_spec_file

    path = Path(path)
    data = read_spec_file(path)
    if data is not None and not isinstance(data, dict):
        raise InputError(f"{path.name}: expected a mapping of criteria and weights, got a {type(data).__name__}")
    return data or {}


def _check_units(units) -> int | None:
    if units is None:
        return None
    if isinstance(units, bool) or not isinstance(units, int | np.integer) or not 0 < units <= MAX_UNITS:
        raise InputError(f"units must be a whole number from 1 to {MAX_UNITS:,}; got {units!r}")
    return int(units)


def _layer_facts(store: LayerStore) -> dict:
    """The data date (newest import), a short version of the store's layers, the synthetic ones."""
    infos = sorted(store.layers(), key=lambda i: i.name)
    digest = hashlib.sha1(repr([(i.name, i.version) for i in infos]).encode()).hexdigest()[:12]
    dates = [i.imported_at[:10] for i in infos if i.imported_at]
    return {"data_date": max(dates) if dates else None, "store_version": digest,
            "synthetic_layers": [i.name for i in infos if i.synthetic]}


def _value(row, key):
    value = row.get(key)
    if value is None or (isinstance(value, float) and value != value):
        return None
    return value.item() if hasattr(value, "item") else value


def _city_of(store: LayerStore, county: str | None) -> str | None:
    if not county or not store.has_kind("districts"):
        return None
    d = store.read_cached(store.find_kind("districts"))
    if "city" not in d:
        return None
    match = d.city[d.name == county].dropna()
    return str(match.iloc[0]) if len(match) else None


def _area_facts(store: LayerStore, origin: gpd.GeoDataFrame, epsg: int) -> dict:
    row = origin.iloc[0]
    kinds, states = VOCABULARIES["renewal_kind"], VOCABULARIES["renewal_status"]
    facts = {k: _value(row, k) for k in ("id", "name", "county", "kind", "status", "plan_year", "households",
                                         "units", "floor_area_m2", "built_year", "investment", "area_m2",
                                         "area_mu", "note")}
    facts["approximate"] = bool(_value(row, "approximate") or False)
    facts["kind_zh"] = kinds.get(facts["kind"], facts["kind"])
    facts["status_zh"] = states.get(facts["status"], facts["status"])
    facts["city"] = _city_of(store, facts["county"])
    from pyproj import CRS

    facts["crs"] = {"epsg": epsg, "name": CRS.from_epsg(epsg).name,
                    "note": f"CGCS2000 / 3° GK zone (EPSG:{epsg})"}
    return facts


def _site_spec(weights: dict | None, max_distance: float | None, raster_dirs):
    """The spec a site-selection request builds (as ``POST /analysis/site-selection``)."""
    from gis.suitability.model import default_spec, spec_from_dict

    base = default_spec(max_distance_m=float(max_distance or 3000))
    return base if weights is None else spec_from_dict(weights, base=base, raster_dirs=raster_dirs)


def _ahp(weights: dict | None) -> dict | None:
    if not weights or "ahp" not in weights:
        return None
    from gis.suitability.weights import ahp_weights

    block = weights["ahp"]
    return ahp_weights(block["matrix"], block["names"],
                       allow_inconsistent=bool(block.get("allow_inconsistent", False))).to_dict()


def _sites(store, origin, *, units, weights, max_distance, top, sensitivity, surfaces, raster_dirs):
    spec = _site_spec(weights, max_distance, raster_dirs)
    origin, surface = (surfaces or _SURFACES).get(store, int(origin.id.iloc[0]), spec, max_distance)
    selection, regions = select_on(store, origin, surface, units=units, max_distance=max_distance, top=top)
    result = site_result(origin, surface, selection, regions, sensitivity=sensitivity)
    result.update(units=units_for(origin.iloc[0], units), units_asked=units, max_distance=max_distance,
                  ahp=_ahp(weights), sensitivity_asked=bool(sensitivity), top=top)
    return result, surface, selection, regions


def _progress(store: LayerStore, county: str | None, city: str | None, plan_year, as_of: date | None) -> dict:
    """The county's rows of its city's progress report for the area's plan year."""
    out = {"county": county, "city": city, "year": None if plan_year is None else str(plan_year)}
    if city is None:
        return {**out, "message": f"{county or '—'}: no district of this name with a city in the districts "
                                  "layer; the county's targets cannot be found"}
    if plan_year is None:
        return {**out, "message": "the area has no plan year"}
    try:
        report = progress_report(store, city=city, year=plan_year, as_of=as_of)
    except (NotFoundError, InputError) as ex:  # shown in the section: the rest of the report stands
        return {**out, "message": str(ex)}
    return {**out, "as_of": report["as_of"], "metrics": report["metrics"], "labels": report["labels"],
            "rows": [r for r in report["rows"] if r["region"] == county],
            "total": [r for r in report["rows"] if r["region"] == TOTAL_REGION],
            "overdue": [o for o in report["overdue"] if o.get("county") == county],
            "notes": report["notes"], "synthetic": report["synthetic"]}


def _grow(box, margin: float) -> tuple[float, float, float, float]:
    x0, y0, x1, y1 = (float(v) for v in box)
    return x0 - margin, y0 - margin, x1 + margin, y1 + margin


def _surface_picture(surface) -> tuple[np.ndarray, tuple]:
    """The suitability surface, read at most SURFACE_PIXELS cells a side, and its box (metres)."""
    import rasterio

    with rasterio.open(surface.surface_path) as src:
        scale = max(1.0, max(src.width, src.height) / SURFACE_PIXELS)
        shape = (max(1, round(src.height / scale)), max(1, round(src.width / scale)))
        values = src.read(1, out_shape=shape, masked=True).astype("float32").filled(np.nan)
        return values, tuple(float(v) for v in src.bounds)


def _map_layers(store, inputs: AnalysisInputs, origin, iso, surface, picks, with_planned: bool) -> MapLayers:
    from gis.crs import metric_crs

    crs = inputs.network.crs if inputs.network is not None else metric_crs(origin)
    area = origin.to_crs(crs)
    candidates = picks.to_crs(crs) if picks is not None and len(picks) else None
    location_box = _grow(area.total_bounds, LOCATION_MARGIN_M)
    sites = area.geometry.union_all() if candidates is None else shapely.union(
        area.geometry.union_all(), candidates.geometry.union_all())
    sites_box = _grow(sites.bounds, SITES_MARGIN_M)
    # Maps are widened to the page's shape: read what lies around the boxes too.
    whole = shapely.box(*location_box).union(shapely.box(*sites_box))
    whole = shapely.box(*_grow(whole.bounds, max(whole.bounds[2] - whole.bounds[0],
                                                 whole.bounds[3] - whole.bounds[1]) * 0.3))
    degrees = gpd.GeoSeries([whole], crs=crs).to_crs(origin.crs).total_bounds
    x0, y0, x1, y1 = (float(v) for v in degrees)

    def near(kind: str):
        if not store.has_kind(kind):
            return None
        frame = store.read_cached(store.find_kind(kind))
        return frame.cx[x0:x1, y0:y1].to_crs(crs)

    services = add_planned(inputs.services, stored_planned(store)) if with_planned else inputs.services
    districts = store.read_cached(store.find_kind("districts")).to_crs(crs) if store.has_kind("districts") else None
    picture, picture_box = _surface_picture(surface) if surface is not None else (None, None)
    return MapLayers(epsg=int(crs.to_epsg()), area=area, districts=districts, roads=near("roads"),
                     services=services.cx[x0:x1, y0:y1].to_crs(crs),
                     isochrones=None if iso is None else iso.to_crs(crs), candidates=candidates,
                     constraints=near("constraints"), surface=picture, surface_box=picture_box,
                     location_box=location_box, sites_box=sites_box)


def area_document(store: LayerStore, area, *, units: int | None = None, with_planned: bool = False,
                  sensitivity: bool = False, weights: dict | None = None, max_distance: float | None = None,
                  top: int = 5, as_of: date | None = None, surfaces: SurfaceCache | None = None,
                  raster_dirs=None, on_section: Callable[[str], None] | None = None) -> dict:
    """Everything the area report shows, as one dict (see the module's notes).

    Parameters
    ----------
    area : id or name of a renewal area (as ``renewal services AREA``).
    units : units to resettle (default: the area's units, else its households).
    with_planned : count the stored planned facilities in the services report.
    sensitivity : add the stability of the ranking under weight changes.
    weights, max_distance : the site-selection request's criteria document and reach.
    as_of : the day the county's progress is counted to (default today).
    surfaces : the suitability surfaces to reuse (default: this module's own).

    Raises
    ------
    NotFoundError
        No such area. ``InputError``/``ValidationError``: bad units, weights or distance.
    """
    step = on_section or (lambda name: None)
    units = _check_units(units)
    if max_distance is not None and not 0 < max_distance <= 20000:
        raise InputError(f"max_distance must be more than 0 and at most 20000 metres; got {max_distance!r}")
    inputs = analysis_inputs(store)
    origin = resolve_area(inputs.areas, area)
    from gis.crs import metric_crs

    epsg = int((inputs.network.crs if inputs.network is not None else metric_crs(origin)).to_epsg())
    doc = {"kind": "area", "generated_at": datetime.now().isoformat(timespec="seconds"),
           "area": _area_facts(store, origin, epsg), "data": _layer_facts(store)}
    step("area")
    report = (planned_report(store, inputs, origin) if with_planned
              else area_services_report(store, inputs, origin))
    # As GET /analysis/services/{area} answers, less its 2SFCA supply (not printed; 1.5 s cold).
    doc["services"] = {**report_document(origin, report), "with_planned": with_planned}
    step("services")
    iso = area_isochrones(store, inputs, origin) if inputs.network is not None else None
    doc["isochrones"] = [] if iso is None else [{"threshold_m": float(t), "area_m2": float(a)} for t, a in
                                                sorted(zip(iso.threshold_m, iso.area_m2, strict=True))]
    step("isochrones")
    doc["sites"], surface, selection, regions = _sites(
        store, origin, units=units, weights=weights, max_distance=max_distance, top=top, sensitivity=sensitivity,
        surfaces=surfaces, raster_dirs=raster_dirs)
    step("sites")
    doc["progress"] = _progress(store, doc["area"]["county"], doc["area"]["city"], doc["area"]["plan_year"], as_of)
    step("progress")
    picks = selection.candidates if selection is not None else regions
    doc["map"] = _map_layers(store, inputs, origin, iso, surface, picks, with_planned)
    step("map layers")
    return doc


def progress_document(store: LayerStore, *, city: str, year: str | int, as_of: date | None = None) -> dict:
    """The city's progress report (as ``GET /analysis/progress``) with the store's facts."""
    return {"kind": "progress", "generated_at": datetime.now().isoformat(timespec="seconds"),
            "report": progress_report(store, city=city, year=year, as_of=as_of), "data": _layer_facts(store)}


def document_json(doc: dict) -> dict:
    """``doc`` without its map layers: the JSON-ready part."""
    return {k: v for k, v in doc.items() if k != "map"}
