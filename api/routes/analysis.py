"""Analysis endpoints: services report, nearby facilities, isochrones, site selection,
AHP weights, target checks. Each handler parses, calls one library function, answers."""

from __future__ import annotations

import base64
import json
from typing import Annotated, Any

import geopandas as gpd
import shapely
from fastapi import APIRouter, Query, Request
from fastapi.responses import JSONResponse
from pydantic import BaseModel, ConfigDict, Field

from api.deps import Reader, Store
from gis.errors import InputError
from gis.facilities import facilities_near
from gis.suitability.model import default_spec, spec_from_dict
from gis.suitability.weights import ahp_weights
from gis.targets import check_targets
from layers.features import to_geojson_features
from workflows.inputs import analysis_inputs, resolve_area
from workflows.planned import planned_report, report_document
from workflows.reports import site_result
from workflows.services import area_isochrones, area_services_report, area_supply
from workflows.sites import SurfaceCache, parse_require, select_on

router = APIRouter(prefix="/analysis", tags=["Analysis"])


def _records(frame) -> list[dict]:
    return json.loads(frame.to_json(orient="records", force_ascii=False))


@router.get("/services/{area}", summary="Nearby services of an area against GB 50180-2018")
def services_report(area: str, store: Store, _: Reader,
                    with_planned: Annotated[bool, Query(description="count the stored planned facilities "
                                                        "(planned_services), named '…(规划)'")] = False) -> dict:
    inputs = analysis_inputs(store)
    origin = resolve_area(inputs.areas, area)
    # One use case for the CLI, the what-if answer and this: the planned variant falls back to
    # the cached report when there is nothing planned.
    report = planned_report(store, inputs, origin) if with_planned else area_services_report(store, inputs, origin)
    return {**report_document(origin, report), "with_planned": with_planned,
            "supply": area_supply(store, inputs, origin)}


@router.get("/nearby", summary="Facilities around a point (walking and straight distances)")
def nearby(store: Store, _: Reader,
           lon: Annotated[float, Query(description="CGCS2000/WGS84 longitude")],
           lat: Annotated[float, Query(description="CGCS2000/WGS84 latitude")],
           radius_m: Annotated[float, Query(gt=0, le=5000)] = 1000, category: str | None = None,
           limit: Annotated[int, Query(ge=1, le=1000)] = 100) -> dict:
    inputs = analysis_inputs(store)
    svc = inputs.services
    if category is not None:
        if category not in inputs.standards:
            raise InputError(f"unknown category {category!r}; known: {', '.join(inputs.standards)}")
        svc = svc[svc.category == category]
    found = facilities_near(lon, lat, svc, radius_m=radius_m, network=inputs.network, limit=limit)
    return {"lon": lon, "lat": lat, "radius_m": radius_m, "basis": "network" if inputs.network else "straight",
            "count": len(found), "facilities": _records(found)}


@router.get("/isochrones/{area}", summary="Walking isochrones (300/500/1000 m) of an area")
def isochrones(area: str, store: Store, _: Reader):
    inputs = analysis_inputs(store)
    if inputs.network is None:
        raise InputError("isochrones need a roads layer; import one first")
    iso = area_isochrones(store, inputs, resolve_area(inputs.areas, area))
    iso["id"] = range(1, len(iso) + 1)
    return JSONResponse({"type": "FeatureCollection", "features": to_geojson_features(iso)},
                        media_type="application/geo+json")


class SiteSelectionRequest(BaseModel):
    model_config = ConfigDict(populate_by_name=True, extra="forbid")

    for_: str = Field(alias="for", description="origin area id or name, e.g. 西大井片区")
    units: int | None = Field(None, gt=0, le=1_000_000)
    max_distance: float | None = Field(None, gt=0, le=20000)
    require: dict[str, float] | str | None = None
    weights: dict[str, Any] | None = Field(None, description="criteria/weights document as in --weights files")
    land_status: list[str] | None = None
    top: int = Field(5, ge=1, le=50)
    sensitivity: bool = False


#: The largest suitability grid one request may build (西大井 ± 10 km at 10 m is 4.3 M cells).
MAX_CELLS = 20_000_000


SURFACES = SurfaceCache(max_cells=MAX_CELLS)


def _spec(weights: dict | None, max_distance: float | None, raster_dirs: list[str]):
    if weights is None:
        return default_spec(max_distance_m=float(max_distance or 3000))
    # Over HTTP a criterion may read a raster only from the operator's allow-listed folders.
    # A document without its own max_distance_m scores "near the origin" over the asked reach.
    return spec_from_dict(weights, base=default_spec(max_distance_m=float(max_distance or 3000)),
                          raster_dirs=raster_dirs)


#: The longest surface token a tile URL may carry (a weights document is a few hundred bytes).
MAX_TOKEN = 8192


def surface_token(weights: dict | None, max_distance: float | None) -> str:
    """The surface a request asked for, as a URL-safe token its map tiles carry: any server
    process can rebuild (or find) that surface from it, without shared state."""
    if weights is None and max_distance is None:
        return ""
    doc = json.dumps({"weights": weights, "max_distance": max_distance}, sort_keys=True, separators=(",", ":"),
                     ensure_ascii=False)
    return base64.urlsafe_b64encode(doc.encode()).decode().rstrip("=")


def surface_for_token(store, area: str, token: str | None, raster_dirs: list[str]):
    """``(origin, surface)`` of a token made by :func:`surface_token` (the default surface for none)."""
    if not token:
        return SURFACES.get(store, area, default_spec(), None)
    try:
        if len(token) > MAX_TOKEN:
            raise ValueError
        doc = json.loads(base64.urlsafe_b64decode(token + "=" * (-len(token) % 4)))
        weights, max_distance = doc["weights"], doc["max_distance"]
        if not (weights is None or isinstance(weights, dict)) or not (
                max_distance is None or (isinstance(max_distance, int | float) and 0 < max_distance <= 20000)):
            raise ValueError
    except (ValueError, KeyError, TypeError):
        raise InputError("surface: not a surface token from a site-selection answer; "
                         "use the 'tiles' URL the answer gives") from None
    return SURFACES.get(store, area, _spec(weights, max_distance, raster_dirs), max_distance)


@router.post("/site-selection", summary="Ranked resettlement sites with score breakdown (GeoJSON)")
def site_selection(body: SiteSelectionRequest, request: Request, store: Store, _: Reader):
    require = parse_require(body.require) if isinstance(body.require, str) else (body.require or {})
    for cat, metres in require.items():
        if metres <= 0:
            raise InputError(f"require {cat}: metres must be positive")
    spec = _spec(body.weights, body.max_distance, request.app.state.settings.raster_folders())
    origin, surface = SURFACES.get(store, body.for_, spec, body.max_distance)
    selection, regions = select_on(store, origin, surface, units=body.units, max_distance=body.max_distance,
                                   require=require, top=body.top, land_status=body.land_status)
    result = site_result(origin, surface, selection, regions, sensitivity=body.sensitivity)
    geoms = (selection.candidates if selection is not None else regions)
    features = []
    for cand, geom in zip(result["candidates"], geoms.geometry.values, strict=True):
        features.append({"type": "Feature", "id": cand.get("id") or cand["rank"],
                         "geometry": json.loads(shapely.to_geojson(shapely.set_precision(geom, 1e-7))),
                         "properties": cand})
    meta = {k: v for k, v in result.items() if k != "candidates"}
    token = surface_token(body.weights, body.max_distance)
    box = gpd.GeoSeries([shapely.box(*surface.grid.bounds)], crs=surface.grid.crs).to_crs(4326).total_bounds
    meta["extent"] = [round(float(v), 6) for v in box]  # the scored extent (WGS84 / CGCS2000 degrees)
    meta["tiles"] = (f"/rasters/suitability-{int(origin.id.iloc[0])}/tiles/{{z}}/{{x}}/{{y}}.png"
                     + (f"?surface={token}" if token else ""))
    return JSONResponse({"type": "FeatureCollection", "features": features, **meta},
                        media_type="application/geo+json")


class WeightsRequest(BaseModel):
    names: list[str] = Field(min_length=1, max_length=10)
    matrix: list[list[float]]
    allow_inconsistent: bool = False


@router.post("/weights", summary="AHP weights and consistency ratio")
def weights(body: WeightsRequest, _: Reader) -> dict:
    return ahp_weights(body.matrix, body.names, allow_inconsistent=body.allow_inconsistent).to_dict()


@router.get("/targets", summary="Target tables with total/span/region checks")
def targets(store: Store, _: Reader, city: str | None = None) -> dict:
    t = store.read(store.find_kind("targets"))
    if city is not None:
        if city not in set(t.city):
            raise InputError(f"no targets for {city!r}; cities: {', '.join(sorted(set(t.city)))}")
        t = t[t.city == city]
    districts = store.read(store.find_kind("districts")) if any(i.kind == "districts" for i in store.layers()) else None
    return {"targets": _records(t), "checks": [c.to_dict() for c in check_targets(t, districts)]}
