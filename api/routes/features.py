"""OGC API – Features Part 1 (Core, GeoJSON, OpenAPI 3.0), Part 2 (CRS by reference) and Part 3
(queryables, CQL2 text filters pushed down to each backend)."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Query, Request
from fastapi.responses import JSONResponse

from api.deps import BaseURL, Reader, Store
from api.routes.tiles import CONFORMANCE as TILES_CONFORMANCE
from gis.errors import InputError, NotFoundError
from layers.cql2 import CONFORMANCE as CQL2_CONFORMANCE
from layers.features import (
    CRS84,
    MAX_LIMIT,
    FeatureQuery,
    collection_info,
    crs_uri,
    feature_collections,
    parse_crs_uri,
    query_features,
    queryables,
    to_geojson_features,
)

router = APIRouter()
GEOJSON = "application/geo+json"
CONFORMANCE = [
    "http://www.opengis.net/spec/ogcapi-features-1/1.0/conf/core",
    "http://www.opengis.net/spec/ogcapi-features-1/1.0/conf/oas30",
    "http://www.opengis.net/spec/ogcapi-features-1/1.0/conf/geojson",
    "http://www.opengis.net/spec/ogcapi-features-2/1.0/conf/crs",
    *CQL2_CONFORMANCE,
    *TILES_CONFORMANCE,
]
RESERVED = {"bbox", "bbox-crs", "limit", "offset", "crs", "properties", "f", "datetime", "ids", "filter", "filter-lang",
            "filter-crs"}


@router.get("/", summary="Landing page (JSON; browsers get the home page)",
            tags=["OGC API – Features"], response_class=JSONResponse,
            responses={200: {"description": "the landing document, or the home page as HTML",
                             "content": {"text/html": {"schema": {"type": "string"}}}}})
def landing(request: Request, base: BaseURL, store: Store, _: Reader,
            f: Annotated[str | None, Query(pattern="^(json|html)$",
                                           description="json or html, else by Accept")] = None,
            lang: Annotated[str, Query(pattern="^(zh|en)$",
                                       description="the HTML page's language")] = "zh"):
    from api.routes.home import VARY, home_response, wants_html  # the page lives with its router

    if wants_html(request.headers.get("accept", ""), f):
        return home_response(store, lang)
    return JSONResponse({
        "title": "renewal-gis", "description": "Urban renewal layers, analyses and exports (城市更新规划)",
        "links": [
            {"href": f"{base}/", "rel": "self", "type": "application/json", "title": "this document"},
            {"href": f"{base}/?f=html", "rel": "alternate", "type": "text/html",
             "title": "home page (城市更新规划)"},
            {"href": f"{base}/api", "rel": "service-desc", "type": "application/vnd.oai.openapi+json;version=3.0",
             "title": "the API definition"},
            {"href": f"{base}/conformance", "rel": "conformance", "type": "application/json",
             "title": "conformance classes"},
            {"href": f"{base}/collections", "rel": "data", "type": "application/json", "title": "collections"},
            {"href": f"{base}/maps/overview", "rel": "alternate", "type": "text/html", "title": "overview map"},
        ],
    }, headers=VARY)


@router.get("/conformance", summary="Conformance classes", tags=["OGC API – Features"])
def conformance(_: Reader) -> dict:
    return {"conformsTo": CONFORMANCE}


@router.get("/collections", summary="Feature collections", tags=["OGC API – Features"])
def collections(store: Store, base: BaseURL, _: Reader) -> dict:
    return {"links": [{"href": f"{base}/collections", "rel": "self", "type": "application/json"}],
            "collections": [collection_info(store, n, base) for n in feature_collections(store)],
            "crs": [CRS84]}


@router.get("/collections/{collection_id}", summary="One collection", tags=["OGC API – Features"])
def collection(collection_id: str, store: Store, base: BaseURL, _: Reader) -> dict:
    if collection_id not in feature_collections(store):
        raise NotFoundError(f"no feature collection {collection_id!r}; collections: "
                            f"{', '.join(feature_collections(store))}")
    return collection_info(store, collection_id, base)


@router.get("/collections/{collection_id}/queryables", summary="What a filter may name (JSON Schema)",
            tags=["OGC API – Features"], response_class=JSONResponse,
            responses={200: {"content": {"application/schema+json": {}}, "description": "a JSON Schema"}})
def collection_queryables(collection_id: str, store: Store, base: BaseURL, _: Reader):
    if collection_id not in feature_collections(store):
        raise NotFoundError(f"no feature collection {collection_id!r}; collections: "
                            f"{', '.join(feature_collections(store))}")
    return JSONResponse(queryables(store, collection_id, base), media_type="application/schema+json")


def _floats(text: str | None, name: str) -> list[float] | None:
    if text is None:
        return None
    try:
        return [float(v) for v in text.split(",")]
    except ValueError:
        raise InputError(f"{name} must be comma-separated numbers, got {text!r}") from None


@router.get("/collections/{collection_id}/items", summary="Features (paged)", tags=["OGC API – Features"],
            response_class=JSONResponse,
            responses={200: {"content": {GEOJSON: {}}, "description": "a GeoJSON FeatureCollection"}})
def items(
    collection_id: str, request: Request, store: Store, base: BaseURL, _: Reader,
    limit: Annotated[int, Query(ge=1, le=MAX_LIMIT, description=f"default 100, maximum {MAX_LIMIT}")] = 100,
    offset: Annotated[int, Query(ge=0)] = 0,
    bbox: Annotated[str | None, Query(description="minx,miny,maxx,maxy in bbox-crs (default CRS84)")] = None,
    bbox_crs: Annotated[str | None, Query(alias="bbox-crs")] = None,
    crs: Annotated[str | None, Query(description="output CRS URI (default CRS84)")] = None,
    properties: Annotated[str | None, Query(description="comma-separated properties to return")] = None,
    filter: Annotated[str | None, Query(max_length=20000, description="CQL2 text, e.g. "
                                        "status='started' AND households>500 (see /queryables)")] = None,
    filter_lang: Annotated[str, Query(alias="filter-lang", pattern="^cql2-text$")] = "cql2-text",
    filter_crs: Annotated[str | None, Query(alias="filter-crs", description="CRS of the filter's geometries: "
                                            "CRS84 (lon/lat, default)")] = None,
):
    out_crs = parse_crs_uri(crs)
    if parse_crs_uri(filter_crs) is not None:
        raise InputError("filter-crs: the filter's geometries are read as CRS84 (lon/lat); give them so")
    filters = {k: v for k, v in request.query_params.items() if k not in RESERVED}
    q = FeatureQuery(bbox=_floats(bbox, "bbox"), bbox_crs=parse_crs_uri(bbox_crs), limit=limit, offset=offset,
                     crs=out_crs, filters=filters, cql=filter,
                     properties=[p.strip() for p in properties.split(",")] if properties else None)
    page, matched = query_features(store, collection_id, q)
    href = f"{base}/collections/{collection_id}/items"
    params = dict(request.query_params)
    links = [{"href": _with(href, params, offset), "rel": "self", "type": GEOJSON, "title": "this page"},
             {"href": f"{base}/collections/{collection_id}", "rel": "collection", "type": "application/json"}]
    if offset + len(page) < matched:
        links.append({"href": _with(href, params, offset + limit), "rel": "next", "type": GEOJSON,
                      "title": "next page"})
    if offset > 0:
        links.append({"href": _with(href, params, max(0, offset - limit)), "rel": "prev", "type": GEOJSON,
                      "title": "previous page"})
    body = {"type": "FeatureCollection",
            "features": to_geojson_features(page, out_crs, q.properties, base, collection_id),
            "numberMatched": matched, "numberReturned": len(page), "links": links}
    return JSONResponse(body, media_type=GEOJSON, headers={"Content-Crs": f"<{crs_uri(out_crs)}>"})


def _with(href: str, params: dict, offset: int) -> str:
    from urllib.parse import urlencode

    p = {**params, "offset": str(offset)}
    return f"{href}?{urlencode(p)}"


@router.get("/collections/{collection_id}/items/{feature_id}", summary="One feature", tags=["OGC API – Features"],
            responses={200: {"content": {GEOJSON: {}}, "description": "a GeoJSON Feature"}})
def item(collection_id: str, feature_id: int, store: Store, base: BaseURL, _: Reader,
         crs: Annotated[str | None, Query()] = None):
    out_crs = parse_crs_uri(crs)
    # The tag first: if an edit lands before the body is read, the client gets the newer body with
    # an older tag, and its If-Match is refused (never an old body with a new tag).
    etag = store.feature_etag(collection_id, feature_id) if collection_id in feature_collections(store) else ""
    page, matched = query_features(store, collection_id, FeatureQuery(ids=[feature_id], limit=1))
    if matched == 0:
        raise NotFoundError(f"no feature {feature_id} in {collection_id!r}")
    feature = to_geojson_features(page, out_crs, None, base, collection_id)[0]
    feature["links"] += [{"href": f"{base}/collections/{collection_id}", "rel": "collection",
                          "type": "application/json"}]
    return JSONResponse(feature, media_type=GEOJSON,
                        headers={"Content-Crs": f"<{crs_uri(out_crs)}>", "ETag": f'"{etag}"'})
