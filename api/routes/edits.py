"""Writes: create/replace/delete features and file imports (bearer token with the edit role)."""

from __future__ import annotations

import json
import tempfile
from pathlib import Path
from typing import Annotated

from fastapi import APIRouter, Form, Request, UploadFile
from fastapi.responses import JSONResponse, Response

from api.deps import BaseURL, Editor, Store
from api.errors import TooLargeError
from gis.errors import InputError
from layers.edits import add_features, delete_feature, geojson_to_frame, replace_feature
from layers.imports import import_file

router = APIRouter(tags=["Edits"])


async def _json_body(request: Request) -> dict:
    limit = request.app.state.settings.upload_limit_mb * 1024 * 1024
    body = await request.body()
    if len(body) > limit:
        raise TooLargeError(f"the request is {len(body) / 1e6:.1f} MB; the limit is {limit / 1e6:.0f} MB")
    try:
        return json.loads(body)
    except (json.JSONDecodeError, UnicodeDecodeError) as ex:
        raise InputError(f"the body is not valid JSON: {ex}") from ex


@router.post("/collections/{collection_id}/items", status_code=201, summary="Add features (GeoJSON, CRS84)")
async def create_items(collection_id: str, request: Request, store: Store, who: Editor, base: BaseURL):
    frame = geojson_to_frame(await _json_body(request))
    ids = add_features(store, collection_id, frame, who)
    location = f"{base}/collections/{collection_id}/items/{ids[0]}" if ids else None
    return JSONResponse({"created": ids}, status_code=201, headers={"Location": location} if location else None)


@router.put("/collections/{collection_id}/items/{feature_id}", status_code=204, summary="Replace a feature")
async def put_item(collection_id: str, feature_id: int, request: Request, store: Store, who: Editor):
    replace_feature(store, collection_id, feature_id, geojson_to_frame(await _json_body(request)), who)
    return Response(status_code=204)


@router.delete("/collections/{collection_id}/items/{feature_id}", status_code=204, summary="Delete a feature")
def remove_item(collection_id: str, feature_id: int, store: Store, who: Editor):
    delete_feature(store, collection_id, feature_id, who)
    return Response(status_code=204)


@router.post("/imports", status_code=201, summary="Import a file as a layer (validated whole, atomic)")
async def import_upload(request: Request, store: Store, who: Editor, file: UploadFile,
                        layer: Annotated[str, Form()], kind: Annotated[str | None, Form()] = None,
                        crs: Annotated[str | None, Form()] = None, encoding: Annotated[str | None, Form()] = None,
                        mode: Annotated[str, Form()] = "replace"):
    limit = request.app.state.settings.upload_limit_mb * 1024 * 1024
    name = Path(file.filename or "upload").name
    with tempfile.TemporaryDirectory() as tmp:
        path = Path(tmp) / name
        size = 0
        with open(path, "wb") as out:
            while chunk := await file.read(1 << 20):
                size += len(chunk)
                if size > limit:
                    raise TooLargeError(f"{name} is larger than the upload limit of {limit / 1e6:.0f} MB")
                out.write(chunk)
        info, validated = import_file(store, path, layer=layer, kind=kind, crs=crs, encoding=encoding, mode=mode,
                                      who=who)
    return JSONResponse({"layer": info.to_dict(), "imported": len(validated.frame),
                         "repaired": [str(p) for p in validated.repaired],
                         "notices": [str(p) for p in validated.notices]}, status_code=201)
