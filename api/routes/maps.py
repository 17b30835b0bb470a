"""Map pages (folium, built in ``maps/``) and the by-view data they load."""

from __future__ import annotations

import gzip
import hashlib
import json
import logging
import os
import re
import threading
import time
import uuid
import zlib
from collections import OrderedDict
from typing import Annotated

import numpy as np
import shapely
from fastapi import APIRouter, Query, Request
from fastapi.responses import HTMLResponse, Response, StreamingResponse

from api.deps import Reader, Store
from gis.crs import gcj02_to_wgs84, transform_geometries, wgs84_to_gcj02
from gis.errors import InputError
from gis.isochrones import distance_rings
from gis.services import lines_to_nearest
from gis.targets import TOTAL_REGION, check_targets
from layers.features import FeatureQuery, query_features, read_layer_cached
from layers.mvt import min_zoom
from layers.schemas import LABELS_ZH
from maps.assets import PAGE_START, asset_url, early_head
from maps.builders import area_page, overview_page, targets_page
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
    store.find_kind("renewal_areas")  # no areas, no overview: a 404 before any byte of the page
    args = {"lang": lang, "datum": _datum(basemap), "tianditu_token": _token(request),
            "show": (show,) if show else (), "zoom": zoom, "tiles": tiles}
    versions = tuple((i.name, i.version) for i in store.layers())
    key = ("overview", store.uri, versions, asset_url("renewal.js"), *args.items())
    headers = {"ETag": f'"{hashlib.sha1(repr(key).encode()).hexdigest()[:24]}"', "Cache-Control": "no-cache",
               "Vary": "Accept-Encoding"}
    if request.headers.get("if-none-match") == headers["ETag"]:
        return Response(status_code=304, headers=headers)
    return _page(key, request, headers, lambda: overview_html(store, **args).encode())


def overview_html(store, *, lang: str = "zh", datum: str = "cgcs2000", tianditu_token: str = "",
                  show: tuple[str, ...] = (), zoom: int | None = None, tiles: bool = True) -> str:
    """The overview page with its first view's small layers written in (``INLINE_FEATURES``)."""
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
    body, _, _ = _data_answer(store, layer, params.get("bbox"), int(params["limit"]), params.get("datum", "cgcs2000"),
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


#: Answers of ``/maps/data`` kept per layer version and query (GeoJSON and its gzip), up to
#: this many bytes per worker: every page load asks for the same districts and areas.
DATA_CACHE_BYTES = 64 * 2**20
_data_cache: OrderedDict[tuple, tuple[bytes, bytes | None]] = OrderedDict()
_data_cache_lock = threading.Lock()


def _cached(key: tuple, make, *, pack: bool = True) -> tuple[bytes, bytes | None, bool]:
    """(GeoJSON, its gzip or None when small, whether it was cached) for ``key``. ``pack``
    False: the gzip is not needed now (an answer written into a page) and is made when an
    answer is first sent compressed — 4 ms of a page's first rendering at 1,000 parcels."""
    hit = _peek(key)
    if hit is not None:
        if pack and hit[1] is None and len(hit[0]) >= 2048:
            hit = (hit[0], gzip.compress(hit[0], compresslevel=5))
            _keep(key, *hit)
        return (*hit, True)
    body = make()
    packed = gzip.compress(body, compresslevel=5) if pack and len(body) >= 2048 else None
    _keep(key, body, packed)
    return body, packed, False


def _peek(key: tuple) -> tuple[bytes, bytes | None] | None:
    with _data_cache_lock:
        hit = _data_cache.get(key)
        if hit is not None:
            _data_cache.move_to_end(key)
        return hit


def _keep(key: tuple, body: bytes, packed: bytes | None) -> None:
    if len(body) + len(packed or b"") > DATA_CACHE_BYTES // 8:
        return
    with _data_cache_lock:
        _data_cache[key] = (body, packed)
        held = sum(len(b) + len(z or b"") for b, z in _data_cache.values())
        while held > DATA_CACHE_BYTES and len(_data_cache) > 1:
            b, z = _data_cache.popitem(last=False)[1]
            held -= len(b) + len(z or b"")


def _page(key: tuple, request: Request, headers: dict, make) -> Response:
    """A map page kept per ``key`` (compressed once). Not kept yet: its start and the preload
    hints of the files it loads go out at once, the rest once rendered — the browser fetches
    Leaflet meanwhile (1,000 parcels: 15–25 ms of rendering, after which the files were only
    asked for)."""
    gz = "gzip" in request.headers.get("accept-encoding", "")
    hit = _peek(key)
    if hit is not None:
        body, packed = hit
        if packed is not None and gz:
            return Response(packed, media_type=HTML, headers={**headers, "Content-Encoding": "gzip"})
        return Response(body, media_type=HTML, headers=headers)
    early = early_head().encode()
    packer = zlib.compressobj(5, zlib.DEFLATED, 31)  # 31: a gzip stream
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
        _keep(key, early + rest, first + packed)
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
    version = store.info(layer).version
    etag = f'"{hashlib.sha1(repr(_data_key(store, layer, version, bbox, limit, datum, category, properties)).encode()).hexdigest()[:24]}"'
    headers = {"ETag": etag, "Cache-Control": "no-cache", "Vary": "Accept-Encoding"}
    if version and request.headers.get("if-none-match") == etag:
        return Response(status_code=304, headers=headers)
    timing: dict[str, float] = {}
    body, packed, hit = _data_answer(store, layer, bbox, limit, datum, category, properties, timing)
    # The browser's resource timing shows these (bench_maps reads the first call's).
    headers["Server-Timing"] = (", ".join(f"{k};dur={v:.1f}" for k, v in timing.items()) if not hit else
                                f"cached;dur={(time.perf_counter() - start) * 1000:.1f}")
    if packed is not None and "gzip" in request.headers.get("accept-encoding", ""):
        headers["Content-Encoding"] = "gzip"  # compressed once, when cached
        return Response(packed, media_type="application/geo+json", headers=headers)
    return Response(body, media_type="application/geo+json", headers=headers)


def _data_key(store, layer: str, version: str, *query) -> tuple:
    return (store.uri, layer, version, *query)


def _data_answer(store, layer: str, bbox: str | None, limit: int, datum: str, category: str | None,
                 properties: str | None, timing: dict[str, float], *, pack: bool = True
                 ) -> tuple[bytes, bytes | None, bool]:
    """(GeoJSON, its gzip or None, whether it was cached): kept per layer version and query."""
    version = store.info(layer).version

    def make() -> bytes:
        return _map_data(store, layer, bbox, limit, datum, category, properties, timing)

    if not version:
        return make(), None, False
    return _cached(_data_key(store, layer, version, bbox, limit, datum, category, properties), make, pack=pack)


def _map_data(store, layer: str, bbox: str | None, limit: int, datum: str, category: str | None,
              properties: str | None, timing: dict[str, float]) -> bytes:
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
    start = time.perf_counter()
    page, matched = query_features(store, layer, FeatureQuery(bbox=box, limit=limit, filters=filters,
                                                              properties=fields))
    page = _shift(page, datum)
    queried = time.perf_counter()
    body = _feature_collection(page, fields, matched)
    timing["query"] = (queried - start) * 1000
    timing["encode"] = (time.perf_counter() - queried) * 1000
    return body


def _feature_collection(frame, fields: list[str] | None, matched: int) -> bytes:
    """The page as a GeoJSON FeatureCollection (lon/lat to 6 decimals, about 0.1 m; ``fields``
    or every property). Geometries are written by GEOS in one call and properties by the json
    module, without building a dict per feature: a tenth of the time of the general writer
    (``to_geojson_features``) on 5,000 parcels."""
    cols = [c for c in frame.columns if c not in ("geometry", "id") and (fields is None or c in fields)]
    geoms = np.asarray(frame.geometry.values)
    if len(geoms):
        geoms = shapely.transform(geoms, lambda c: np.round(c, 6))
    texts = shapely.to_geojson(geoms) if len(geoms) else []
    ids = frame["id"].tolist() if "id" in frame.columns else list(range(len(frame)))
    if cols:
        props = json.loads(frame[cols].to_json(orient="records", date_format="iso", force_ascii=False,
                                               double_precision=15))
    else:
        props = [{}] * len(frame)
    dumps = json.JSONEncoder(ensure_ascii=False, separators=(",", ":"), allow_nan=False).encode
    features = ",".join(f'{{"type":"Feature","id":{int(fid)},"geometry":{geom or "null"},"properties":{dumps(p)}}}'
                        for fid, geom, p in zip(ids, texts, props, strict=True))
    return (f'{{"type":"FeatureCollection","features":[{features}],"numberMatched":{int(matched)},'
            f'"numberReturned":{len(frame)}}}').encode()


def _shift(frame, datum: str):
    """Overlays drawn on Amap tiles must be in GCJ-02 to line up with its streets."""
    if frame is None or datum != "gcj02" or len(frame) == 0:
        return frame
    out = frame.to_crs(4490).copy()
    out["geometry"] = transform_geometries(out.geometry.values, wgs84_to_gcj02)
    return out


__all__ = ["router", "overview_html", "INLINE_FEATURES"]
