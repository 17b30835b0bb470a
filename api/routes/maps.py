"""Map pages (folium, built in ``maps/``) and the by-view data they load."""

from __future__ import annotations

import hashlib
import logging
import os
import re
import time
import uuid
import zlib
from typing import Annotated

from fastapi import APIRouter, Query, Request
from fastapi.responses import HTMLResponse, Response, StreamingResponse

from api.deps import Reader, Store
from api.map_data import data_answer, data_key, keep, peek, shift
from gis.errors import InputError
from gis.isochrones import distance_rings
from gis.service_reports import lines_to_nearest
from gis.targets import TOTAL_REGION, check_targets
from layers.features import read_layer_cached
from layers.mvt import min_zoom
from layers.schemas import LABELS_ZH
from maps.area_page import area_page
from maps.assets import BASE_SCRIPTS, BASE_STYLES, PAGE_START, bundle_url, early_head
from maps.builders import overview_page, targets_page
from maps.site_form import site_selection_page
from workflows.inputs import analysis_inputs, resolve_area
from workflows.services import area_isochrones, area_services_report
from workflows.sites import parse_require, surface_spec

router = APIRouter(prefix="/maps", tags=["Maps"])
Lang = Annotated[str, Query(pattern="^(zh|en)$")]
Basemap = Annotated[str, Query(pattern="^(local|amap)$")]
HTML = "text/html; charset=utf-8"
log = logging.getLogger(__name__)


def _datum(basemap: str) -> str:
    return "gcj02" if basemap == "amap" else "cgcs2000"


def _token(request: Request) -> str:
    return request.app.state.settings.tianditu_token


#: A layer loaded by view with more features than this is drawn from vector tiles on the overview.
TILED_FEATURES = 20_000


def _tiled_layers(store, datum: str) -> dict[str, dict]:
    """The overview's big layers (by the store's feature counts) with their tilesets' lowest
    zoom. Tiles are in CGCS2000 ≈ WGS84: on the Amap basemap (GCJ-02) every layer stays GeoJSON,
    shifted by the server."""
    if datum == "gcj02":
        return {}
    return {i.name: {"minZoom": min_zoom(i.feature_count), "geometry": i.geometry_type, "features": i.feature_count}
            for i in store.layers()
            if i.geometry_type in ("polygon", "line") and i.feature_count > TILED_FEATURES}


@router.get("/overview", response_class=HTMLResponse, summary="Overview map of renewal areas")
def overview(request: Request, store: Store, _: Reader, lang: Lang = "zh", basemap: Basemap = "local",
             show: Annotated[str | None, Query(pattern="^(parcels)?$")] = None,
             zoom: Annotated[int | None, Query(ge=3, le=20)] = None,
             tiles: Annotated[bool, Query(description="false: every layer as GeoJSON by view (no vector tiles)")] = True):
    """Big layers (more than ``TILED_FEATURES`` features) are drawn from vector tiles unless
    ``tiles=false``. The page is kept per layer versions and query, compressed once, with an
    ETag (a page load costs no rendering; a revisit gets a 304)."""
    with store.one_catalog():
        store.find_kind("renewal_areas")  # no areas, no overview: a 404 before any byte of the page
        versions = tuple((i.name, i.version) for i in store.layers())
    args = {"lang": lang, "datum": _datum(basemap), "tianditu_token": _token(request),
            "show": (show,) if show else (), "zoom": zoom, "tiles": tiles}
    key = ("overview", store.uri, versions, bundle_url(BASE_SCRIPTS), bundle_url(BASE_STYLES), *args.items())
    headers = {"ETag": f'"{hashlib.sha1(repr(key).encode()).hexdigest()[:24]}"', "Cache-Control": "no-cache",
               "Vary": "Accept-Encoding"}
    if request.headers.get("if-none-match") == headers["ETag"]:
        return Response(status_code=304, headers=headers)
    return _page(key, request, headers, lambda: overview_html(store, **args).encode())


def overview_html(store, *, lang: str = "zh", datum: str = "cgcs2000", tianditu_token: str = "",
                  show: tuple[str, ...] = (), zoom: int | None = None, tiles: bool = True) -> str:
    """The overview page with its first view's small layers written in (``INLINE_FEATURES``),
    from one read of the store's catalog."""
    with store.one_catalog():
        areas = read_layer_cached(store, store.find_kind("renewal_areas"))
        return overview_page(areas.total_bounds, lang=lang, datum=datum, tianditu_token=tianditu_token, show=show,
                             zoom=zoom, tiled=_tiled_layers(store, datum) if tiles else {},
                             tile_slots=max(2, os.cpu_count() or 2),  # `renewal serve` runs a worker per core
                             inline=lambda layer, params: _inline_answer(store, layer, params))


#: A layer of at most this many features may be written into the overview page (its first
#: view's part of it, within the page's byte budget ``maps.builders.INLINE_BYTES``); a bigger
#: one is asked for by the page (at 10,000 parcels the view's 5,000 would make a 1 MB page).
INLINE_FEATURES = 2_000
_RETURNED = re.compile(rb'"numberMatched":(\d+),"numberReturned":(\d+)}$')


def _inline_answer(store, layer: str, params: dict) -> bytes | None:
    """The ``/maps/data`` answer for ``params`` (the same bytes, from the same cache), or None
    when the layer is too big to write into a page or the answer is cut by its limit."""
    info = store.info(layer)
    if not info.version or info.feature_count > INLINE_FEATURES:
        return None
    body, _, _ = data_answer(store, layer, params.get("bbox"), int(params["limit"]), params.get("datum", "cgcs2000"),
                             None, params.get("properties"), {}, pack=False)
    counts = _RETURNED.search(body[-80:])
    return body if counts and counts[1] == counts[2] else None


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
    frames = [shift(f, datum) for f in (origin, distance_rings(origin), iso, lines)]
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


_PAGE_GZIP_LEVEL = 1


def _page(key: tuple, request: Request, headers: dict, make) -> Response:
    """A map page kept per ``key`` (compressed once). Not kept yet: its start and the preload
    hints of the files it loads go out at once, the rest once rendered — the browser fetches
    Leaflet meanwhile (1,000 parcels: 15–25 ms of rendering, after which the files were only
    asked for)."""
    gz = "gzip" in request.headers.get("accept-encoding", "")
    hit = peek(key)
    if hit is not None:
        body, packed = hit
        if packed is not None and gz:
            return Response(packed, media_type=HTML, headers={**headers, "Content-Encoding": "gzip"})
        return Response(body, media_type=HTML, headers=headers)
    early = early_head().encode()
    # Level 1 (nginx's default for dynamic pages): a 1,000-parcel overview (0.3 MB) packs in
    # 1.2 ms instead of 2.6 at level 5, for 55 KB instead of 47, while its first visitor waits.
    packer = zlib.compressobj(_PAGE_GZIP_LEVEL, zlib.DEFLATED, 31)  # 31: a gzip stream
    first = packer.compress(early) + packer.flush(zlib.Z_SYNC_FLUSH)

    def chunks():
        yield first if gz else early
        try:
            page = make()
            if not page.startswith(PAGE_START):
                raise AssertionError("a map page that does not start as maps.assets.PAGE_START says")
        except Exception:  # the status is sent: the page says it failed, and is not kept
            error_id = uuid.uuid4().hex[:12]
            log.exception("rendering %s failed (error id %s)", request.url.path, error_id)
            rest = (f"</head><body><p>地图生成失败 / the map could not be made (error id {error_id})</p>"
                    "</body></html>").encode()
            yield packer.compress(rest) + packer.flush() if gz else rest
            return
        rest = page[len(PAGE_START):].lstrip(b"\n")
        packed = packer.compress(rest) + packer.flush()
        keep(key, early + rest, first + packed)
        yield packed if gz else rest

    return StreamingResponse(chunks(), media_type=HTML,
                             headers={**headers, **({"Content-Encoding": "gzip"} if gz else {})})


@router.get("/data/{layer}", summary="GeoJSON for the maps, by view (bbox) and optionally in GCJ-02")
def map_data(layer: str, request: Request, store: Store, _: Reader, bbox: str | None = None,
             limit: Annotated[int, Query(ge=1, le=10000)] = 5000,
             datum: Annotated[str, Query(pattern="^(cgcs2000|gcj02)$")] = "cgcs2000", category: str | None = None,
             properties: str | None = None):
    """Answers carry an ETag (the layer's version and the query) and are kept per worker, so
    repeated page loads cost neither a read nor an encoding; If-None-Match answers 304."""
    start = time.perf_counter()
    with store.one_catalog():
        version = store.info(layer).version
        etag = f'"{hashlib.sha1(repr(data_key(store, layer, version, bbox, limit, datum, category, properties)).encode()).hexdigest()[:24]}"'
        headers = {"ETag": etag, "Cache-Control": "no-cache", "Vary": "Accept-Encoding"}
        if version and request.headers.get("if-none-match") == etag:
            return Response(status_code=304, headers=headers)
        timing: dict[str, float] = {}
        body, packed, hit = data_answer(store, layer, bbox, limit, datum, category, properties, timing)
        # The browser's resource timing shows these (bench_maps reads the first call's).
        headers["Server-Timing"] = (", ".join(f"{k};dur={v:.1f}" for k, v in timing.items()) if not hit else
                                    f"cached;dur={(time.perf_counter() - start) * 1000:.1f}")
        if packed is not None and "gzip" in request.headers.get("accept-encoding", ""):
            headers["Content-Encoding"] = "gzip"  # compressed once, when cached
            return Response(packed, media_type="application/geo+json", headers=headers)
        return Response(body, media_type="application/geo+json", headers=headers)


__all__ = ["router", "overview_html", "INLINE_FEATURES"]
