"""OGC API – Tiles for feature collections: Mapbox vector tiles in WebMercatorQuad
(``/collections/{id}/tiles/WebMercatorQuad/{tileMatrix}/{tileRow}/{tileCol}``), the tileset
metadata, a TileJSON for map libraries, and the tile matrix set itself."""

from __future__ import annotations

import time
from typing import Annotated

from fastapi import APIRouter, Path, Request
from fastapi.responses import Response

from api.deps import BaseURL, Reader, Store
from gis.errors import NotFoundError
from layers.features import feature_collections
from layers.mvt import MAX_ZOOM, TMS, check_tile, min_zoom

router = APIRouter(tags=["OGC API – Tiles"])
MVT = "application/vnd.mapbox-vector-tile"
TMS_URI = "http://www.opengis.net/def/tilematrixset/OGC/1.0/WebMercatorQuad"
CONFORMANCE = [
    "http://www.opengis.net/spec/ogcapi-tiles-1/1.0/conf/core",
    "http://www.opengis.net/spec/ogcapi-tiles-1/1.0/conf/tileset",
    "http://www.opengis.net/spec/ogcapi-tiles-1/1.0/conf/tilesets-list",
    "http://www.opengis.net/spec/ogcapi-tiles-1/1.0/conf/geodata-tilesets",
    "http://www.opengis.net/spec/ogcapi-tiles-1/1.0/conf/oas30",
    "http://www.opengis.net/spec/ogcapi-tiles-1/1.0/conf/mvt",
]
_SET = Annotated[str, Path(pattern="^WebMercatorQuad$", description="the tile matrix set (WebMercatorQuad)")]


def _collection(store, collection_id: str):
    if collection_id not in feature_collections(store):
        raise NotFoundError(f"no feature collection {collection_id!r}; collections: "
                            f"{', '.join(feature_collections(store))}")
    return store.info(collection_id)


def _template(base: str, collection_id: str) -> str:
    return f"{base}/collections/{collection_id}/tiles/WebMercatorQuad/{{tileMatrix}}/{{tileRow}}/{{tileCol}}"


@router.get("/tileMatrixSets", summary="Tile matrix sets")
def tile_matrix_sets(base: BaseURL, _: Reader) -> dict:
    return {"tileMatrixSets": [{"id": "WebMercatorQuad", "title": "Google Maps compatible (EPSG:3857)",
                                "uri": TMS_URI, "links": [{"href": f"{base}/tileMatrixSets/WebMercatorQuad",
                                                           "rel": "self", "type": "application/json"}]}]}


@router.get("/tileMatrixSets/{tile_matrix_set}", summary="The WebMercatorQuad tile matrix set")
def tile_matrix_set(tile_matrix_set: _SET, _: Reader) -> dict:
    return TMS.model_dump(mode="json", exclude_none=True)


@router.get("/collections/{collection_id}/tiles", summary="Vector tilesets of a collection")
def tilesets(collection_id: str, store: Store, base: BaseURL, _: Reader) -> dict:
    _collection(store, collection_id)
    href = f"{base}/collections/{collection_id}/tiles/WebMercatorQuad"
    return {"links": [{"href": f"{base}/collections/{collection_id}/tiles", "rel": "self", "type": "application/json"}],
            "tilesets": [{"title": collection_id, "dataType": "vector", "crs": "http://www.opengis.net/def/crs/EPSG/0/3857",
                          "tileMatrixSetURI": TMS_URI,
                          "links": [{"href": href, "rel": "self", "type": "application/json"},
                                    {"href": _template(base, collection_id), "rel": "item", "type": MVT,
                                     "templated": True}]}]}


@router.get("/collections/{collection_id}/tiles/{tile_matrix_set}", summary="Tileset metadata")
def tileset(collection_id: str, tile_matrix_set: _SET, store: Store, base: BaseURL, _: Reader) -> dict:
    info = _collection(store, collection_id)
    low = min_zoom(info.feature_count)
    return {"title": collection_id, "dataType": "vector", "crs": "http://www.opengis.net/def/crs/EPSG/0/3857",
            "tileMatrixSetURI": TMS_URI,
            "layers": [{"id": collection_id, "dataType": "vector", "geometryDimension":
                        {"point": 0, "line": 1, "polygon": 2}[info.geometry_type],
                        "minTileMatrix": str(low), "maxTileMatrix": str(MAX_ZOOM)}],
            "links": [{"href": f"{base}/collections/{collection_id}/tiles/WebMercatorQuad", "rel": "self",
                       "type": "application/json"},
                      {"href": f"{base}/tileMatrixSets/WebMercatorQuad",
                       "rel": "http://www.opengis.net/def/rel/ogc/1.0/tiling-scheme", "type": "application/json"},
                      {"href": f"{base}/collections/{collection_id}/tiles/WebMercatorQuad/tilejson.json",
                       "rel": "describedby", "type": "application/json", "title": "TileJSON"},
                      {"href": _template(base, collection_id), "rel": "item", "type": MVT, "templated": True}]}


@router.get("/collections/{collection_id}/tiles/{tile_matrix_set}/tilejson.json", summary="TileJSON of a tileset")
def tilejson(collection_id: str, tile_matrix_set: _SET, store: Store, base: BaseURL, _: Reader) -> dict:
    info = _collection(store, collection_id)
    frame = store.read_cached(collection_id)
    fields = {c: str(frame[c].dtype) for c in frame.columns if c not in ("id", "geometry")}
    bounds = [round(float(v), 6) for v in frame.total_bounds] if len(frame) else [-180, -85.05, 180, 85.05]
    low = min_zoom(info.feature_count)
    return {"tilejson": "3.0.0", "name": collection_id, "scheme": "xyz", "minzoom": low, "maxzoom": MAX_ZOOM,
            "bounds": bounds, "center": [(bounds[0] + bounds[2]) / 2, (bounds[1] + bounds[3]) / 2, max(low, 12)],
            "tiles": [f"{base}/collections/{collection_id}/tiles/WebMercatorQuad/{{z}}/{{y}}/{{x}}"],
            "vector_layers": [{"id": collection_id, "fields": fields, "minzoom": low, "maxzoom": MAX_ZOOM}]}


@router.get("/collections/{collection_id}/tiles/{tile_matrix_set}/{tile_matrix}/{tile_row}/{tile_col}",
            summary="A Mapbox vector tile", responses={200: {"content": {MVT: {}}, "description": "an MVT tile"}})
def tile(collection_id: str, tile_matrix_set: _SET, request: Request, store: Store, _: Reader,
         tile_matrix: Annotated[int, Path(ge=0, le=MAX_ZOOM)], tile_row: Annotated[int, Path(ge=0)],
         tile_col: Annotated[int, Path(ge=0)]):
    with store.one_catalog():  # the tile's version, then the tile: one catalog read
        _collection(store, collection_id)
        check_tile(tile_matrix, tile_col, tile_row)
        version = store.tile_version(collection_id, tile_matrix, tile_col, tile_row)  # an edit elsewhere keeps it
        etag = f'"{version}-{tile_matrix}-{tile_row}-{tile_col}"'
        headers = {"ETag": etag, "Cache-Control": "no-cache", "Vary": "Accept-Encoding"}  # revalidated: edits
        if request.headers.get("if-none-match") == etag:
            return Response(status_code=304, headers=headers)
        started = time.perf_counter()
        if "gzip" in request.headers.get("accept-encoding", ""):  # kept compressed: sent as it is
            body = store.vector_tile_gzip(collection_id, tile_matrix, tile_col, tile_row)
            headers.update({"Content-Encoding": "gzip"} if body else {})
        else:
            body = store.vector_tile(collection_id, tile_matrix, tile_col, tile_row)
        # The tile's time, kept or encoded (the browser's resource timings show it; bench_maps reads it).
        headers["Server-Timing"] = f"tile;dur={(time.perf_counter() - started) * 1000:.1f}"
    # An empty tile is still a tile (the map asked inside the matrix): 200 with no bytes, as
    # pg_tileserv and martin answer, so a client does not count it as a failed request.
    return Response(body, media_type=MVT, headers=headers)
