"""Writes: create/replace/delete features and file imports (bearer token with the edit role).

The caller and the body size are checked before the body is read (``api.guard``); parsing,
validation and the write run in the thread pool, so readers are served meanwhile.
"""

from __future__ import annotations

import json
import shutil
import tempfile
from pathlib import Path
from typing import Annotated

from fastapi import APIRouter, Form, Header, Request, UploadFile
from fastapi.concurrency import run_in_threadpool
from fastapi.responses import JSONResponse, Response

from api.deps import BaseURL, Editor, Store
from gis.errors import InputError
from layers import imports
from layers.edits import add_features, delete_feature, geojson_to_frame, replace_feature

router = APIRouter(tags=["Edits"])

_FEATURE_BODY = {"required": True, "content": {"application/geo+json": {"schema": {
    "type": "object", "required": ["type"],
    "properties": {"type": {"type": "string", "enum": ["Feature", "FeatureCollection"]},
                   "geometry": {"type": "object", "properties": {
                       "type": {"type": "string", "enum": ["Point", "MultiPoint", "LineString", "MultiLineString",
                                                           "Polygon", "MultiPolygon"]},
                       "coordinates": {"type": "array"}}},
                   "properties": {"type": "object"},
                   "features": {"type": "array", "items": {"type": "object"}}}}}}}


def parse_json(body: bytes) -> dict:
    """A JSON body; InputError saying what is wrong with it."""
    try:
        return json.loads(body)
    except (json.JSONDecodeError, UnicodeDecodeError) as ex:
        raise InputError(f"the body is not valid JSON: {ex}") from ex
    except RecursionError:
        raise InputError("the JSON body nests too deep; a GeoJSON Feature nests a few levels") from None


def _frame(body: bytes):
    return geojson_to_frame(parse_json(body))


@router.post("/collections/{collection_id}/items", status_code=201, summary="Add features (GeoJSON, CRS84)",
             openapi_extra={"requestBody": _FEATURE_BODY})
async def create_items(collection_id: str, request: Request, store: Store, who: Editor, base: BaseURL):
    body = await request.body()
    ids = await run_in_threadpool(lambda: add_features(store, collection_id, _frame(body), who))
    location = f"{base}/collections/{collection_id}/items/{ids[0]}" if ids else None
    return JSONResponse({"created": ids}, status_code=201, headers={"Location": location} if location else None)


@router.put("/collections/{collection_id}/items/{feature_id}", status_code=204, summary="Replace a feature",
            openapi_extra={"requestBody": _FEATURE_BODY})
async def put_item(collection_id: str, feature_id: int, request: Request, store: Store, who: Editor,
                   if_match: Annotated[str | None, Header(description="the ETag read with the feature")] = None):
    body = await request.body()
    etag = await run_in_threadpool(lambda: replace_feature(store, collection_id, feature_id, _frame(body), who,
                                                           if_match=if_match))
    return Response(status_code=204, headers={"ETag": f'"{etag}"'})


@router.delete("/collections/{collection_id}/items/{feature_id}", status_code=204, summary="Delete a feature")
def remove_item(collection_id: str, feature_id: int, store: Store, who: Editor,
                if_match: Annotated[str | None, Header(description="the ETag read with the feature")] = None):
    delete_feature(store, collection_id, feature_id, who, if_match=if_match)
    return Response(status_code=204)


def upload_name(filename: str | None) -> str:
    """The base name of an uploaded file; InputError for names that are no file's."""
    name = Path((filename or "").replace("\\", "/")).name
    if name in ("", ".", "..") or name.startswith(".") or "\x00" in name:
        raise InputError(f"the upload's file name {filename!r} is not a file name; send the file with its "
                         "own name and extension (e.g. 棚改片区.geojson, areas.zip)")
    return name


@router.post("/imports", status_code=201, summary="Import a file as a layer (validated whole, atomic); an OSM "
             "extract (.osm.pbf) builds roads and services")
async def import_upload(store: Store, who: Editor, file: UploadFile,
                        layer: Annotated[str | None, Form(description="the layer; for .osm.pbf: roads,services")] = None,
                        kind: Annotated[str | None, Form()] = None,
                        crs: Annotated[str | None, Form()] = None, encoding: Annotated[str | None, Form()] = None,
                        mode: Annotated[str, Form()] = "replace"):
    name = upload_name(file.filename)

    def run():
        with tempfile.TemporaryDirectory(prefix="import-") as tmp:
            path = Path(tmp) / name
            with open(path, "wb") as out:
                shutil.copyfileobj(file.file, out, 1 << 20)
            return imports.import_upload(store, path, layer=layer, kind=kind, crs=crs, encoding=encoding, mode=mode,
                                         who=who)

    return JSONResponse(await run_in_threadpool(run), status_code=201)
