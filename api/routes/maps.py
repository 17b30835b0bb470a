"""Map pages (folium, built in ``maps/``) and the by-view data they load."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import numpy as np
from fastapi import APIRouter, FastAPI, Query, Request
from fastapi.responses import HTMLResponse, JSONResponse
from fastapi.staticfiles import StaticFiles

import maps
from api.deps import Reader, Store
from gis.crs import gcj02_to_wgs84, transform_geometries, wgs84_to_gcj02
from gis.errors import InputError
from gis.isochrones import distance_rings
from gis.services import lines_to_nearest
from gis.targets import TOTAL_REGION, check_targets
from layers.features import FeatureQuery, query_features, read_layer_cached, to_geojson_features
from layers.schemas import LABELS_ZH
from maps.builders import STATIC_PREFIX, area_page, overview_page, targets_page
from maps.site_form import site_selection_page
from workflows.inputs import analysis_inputs, resolve_area
from workflows.services import area_isochrones, area_services_report
from workflows.sites import parse_require, surface_spec

router = APIRouter(prefix="/maps", tags=["Maps"])
Lang = Annotated[str, Query(pattern="^(zh|en)$")]
Basemap = Annotated[str, Query(pattern="^(local|amap)$")]


def mount_static(app: FastAPI) -> None:
    app.mount(STATIC_PREFIX, StaticFiles(directory=Path(maps.__file__).parent / "static"), name="map-static")


def _datum(basemap: str) -> str:
    return "gcj02" if basemap == "amap" else "cgcs2000"


def _token(request: Request) -> str:
    return request.app.state.settings.tianditu_token


@router.get("/overview", response_class=HTMLResponse, summary="Overview map of renewal areas")
def overview(request: Request, store: Store, _: Reader, lang: Lang = "zh", basemap: Basemap = "local",
             show: Annotated[str | None, Query(pattern="^(parcels)?$")] = None,
             zoom: Annotated[int | None, Query(ge=3, le=20)] = None):
    areas = read_layer_cached(store, store.find_kind("renewal_areas"))
    return overview_page(areas.total_bounds, lang=lang, datum=_datum(basemap), tianditu_token=_token(request),
                         show=(show,) if show else (), zoom=zoom)


@router.get("/areas/{area}", response_class=HTMLResponse, summary="Map of one area's services and gaps")
def area_map(area: str, request: Request, store: Store, _: Reader, lang: Lang = "zh", basemap: Basemap = "local",
             with_planned: bool = False):
    """``with_planned``: count the stored planned facilities (planned_services) too."""
    from workflows.planned import add_planned, planned_report, stored_planned

    inputs = analysis_inputs(store)
    origin = resolve_area(inputs.areas, area)
    if with_planned:
        report = planned_report(store, inputs, origin)
        services = add_planned(inputs.services, stored_planned(store))
    else:
        report, services = area_services_report(store, inputs, origin), inputs.services
    iso = area_isochrones(store, inputs, origin) if inputs.network is not None else None
    lines = lines_to_nearest(origin, report, services)
    datum = _datum(basemap)
    frames = [_shift(f, datum) for f in (origin, distance_rings(origin), iso, lines)]
    return area_page(frames[0], report, frames[1], frames[2], frames[3], lang=lang, datum=datum,
                     tianditu_token=_token(request), with_planned=with_planned)


@router.get("/site-selection", response_class=HTMLResponse, summary="Site-selection workplace (form, table, map)")
def site_map(store: Store, _: Reader, for_: Annotated[str | None, Query(alias="for")] = None,
             units: Annotated[int | None, Query(gt=0, le=1_000_000)] = None,
             max_distance: Annotated[float | None, Query(gt=0, le=20000)] = None,
             require: str | None = None, top: Annotated[int | None, Query(ge=1, le=50)] = None,
             run: bool = False, lang: Lang = "zh"):
    """The form for an area chosen from the list (``for`` preselects one); ``units``,
    ``max_distance``, ``require``, ``top`` prefill it, and ``run`` (or ``units``) asks at once,
    so a shared link opens on its answer."""
    inputs = analysis_inputs(store)
    chosen = int(resolve_area(inputs.areas, for_).id.iloc[0]) if for_ else None
    prefill = {"units": units, "max_distance": max_distance, "require": parse_require(require), "top": top,
               "run": bool(chosen is not None and (run or units))}
    return site_selection_page(inputs.areas, chosen, surface_spec(store, None, max_distance), lang=lang,
                               prefill=prefill)


@router.get("/targets", response_class=HTMLResponse, summary="Choropleth of a target metric by district")
def targets_map(store: Store, _: Reader, city: str = "焦作市", metric: str = "delivered_units",
                year: str | None = None, lang: Lang = "zh"):
    t = store.read(store.find_kind("targets"))
    t = t[(t.city == city) & (t.metric == metric)]
    if t.empty:
        raise InputError(f"no {metric!r} targets for {city!r}")
    years = sorted(set(t.year))
    year = year or next((y for y in years if "-" in y), years[0])
    t = t[(t.year == year) & (t.region != TOTAL_REGION)]
    districts = store.read(store.find_kind("districts"))
    districts = districts[districts.city == city]
    unmatched = {c.region for c in check_targets(t, districts) if c.kind == "region"}
    values = {r: float(v) for r, v in zip(t.region, t.value, strict=True) if r not in unmatched}
    label = LABELS_ZH.get(metric, metric) if lang != "en" else metric.replace("_", " ")
    return targets_page(districts, values, {r: float(t[t.region == r].value.sum()) for r in sorted(unmatched)},
                        label, lang=lang, title=f"{city} {year} {label}")


@router.get("/data/{layer}", summary="GeoJSON for the maps, by view (bbox) and optionally in GCJ-02")
def map_data(layer: str, store: Store, _: Reader, bbox: str | None = None,
             limit: Annotated[int, Query(ge=1, le=10000)] = 5000,
             datum: Annotated[str, Query(pattern="^(cgcs2000|gcj02)$")] = "cgcs2000", category: str | None = None,
             properties: str | None = None):
    box = None
    if bbox:
        try:
            box = [float(v) for v in bbox.split(",")]
        except ValueError:
            raise InputError("bbox must be four numbers: west,south,east,north") from None
        if datum == "gcj02" and len(box) == 4:  # the view is in GCJ-02: query in CGCS2000
            (x0, x1), (y0, y1) = gcj02_to_wgs84(np.array(box[::2]), np.array(box[1::2]))
            box = [float(x0), float(y0), float(x1), float(y1)]
    filters = {"category": category} if category else None
    fields = [f for f in properties.split(",") if f] if properties else None
    page, matched = query_features(store, layer, FeatureQuery(bbox=box, limit=limit, filters=filters,
                                                              properties=fields))
    page = _shift(page, datum)
    return JSONResponse({"type": "FeatureCollection", "features": to_geojson_features(page, properties=fields,
                                                                                      precision=6),
                         "numberMatched": matched, "numberReturned": len(page)}, media_type="application/geo+json")


def _shift(frame, datum: str):
    """Overlays drawn on Amap tiles must be in GCJ-02 to line up with its streets."""
    if frame is None or datum != "gcj02" or len(frame) == 0:
        return frame
    out = frame.to_crs(4490).copy()
    out["geometry"] = transform_geometries(out.geometry.values, wgs84_to_gcj02)
    return out


__all__ = ["router", "mount_static"]
