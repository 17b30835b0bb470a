"""Planned facilities (issue #13): an area's services report with planned points added
("what if", nothing saved), and the stored plans (``planned_services``) to list and save.

A saved plan is deleted like any feature: ``DELETE /collections/planned_services/items/{id}``.
The use cases are in :mod:`workflows.planned`; these handlers parse and answer.
"""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Query, Request
from fastapi.concurrency import run_in_threadpool
from fastapi.responses import JSONResponse

from api.deps import BaseURL, Editor, Reader, Store
from api.routes.edits import parse_json
from layers.planned_parse import MAX_PLANNED
from workflows.planned import planned_features, save_planned, what_if_report

router = APIRouter(tags=["Planned facilities"])

Datum = Annotated[
    str,
    Query(
        pattern="^(cgcs2000|gcj02)$",
        description="datum of the coordinates: gcj02 for maps drawn on Amap tiles",
    ),
]
_POINTS = {
    "required": True,
    "content": {
        "application/geo+json": {
            "schema": {
                "type": "object",
                "required": ["type", "features"],
                "properties": {
                    "type": {"type": "string", "enum": ["FeatureCollection"]},
                    "features": {
                        "type": "array",
                        "maxItems": MAX_PLANNED,
                        "items": {
                            "type": "object",
                            "required": ["type", "geometry", "properties"],
                            "properties": {
                                "type": {"type": "string", "enum": ["Feature"]},
                                "geometry": {
                                    "type": "object",
                                    "properties": {
                                        "type": {"type": "string", "enum": ["Point"]},
                                        "coordinates": {
                                            "type": "array",
                                            "items": {"type": "number"},
                                            "minItems": 2,
                                            "maxItems": 2,
                                        },
                                    },
                                },
                                "properties": {
                                    "type": "object",
                                    "required": ["category"],
                                    "properties": {
                                        "category": {"type": "string", "example": "nursery"},
                                        "name": {"type": "string"},
                                        "capacity": {"type": "number"},
                                        "area_id": {"type": "integer"},
                                        "note": {"type": "string"},
                                    },
                                },
                            },
                        },
                    },
                },
            },
        }
    },
}


@router.post(
    "/analysis/services/{area}/what-if",
    openapi_extra={"requestBody": _POINTS},
    summary="What if: an area's services report before and after adding planned facilities "
    "(nothing saved)",
)
async def what_if(
    area: str,
    request: Request,
    store: Store,
    _: Reader,
    with_planned: Annotated[bool, Query(description="'before' counts the stored plans")] = False,
    datum: Datum = "cgcs2000",
) -> dict:
    doc = parse_json(await request.body())
    return await run_in_threadpool(
        lambda: what_if_report(store, area, doc, with_stored=with_planned, datum=datum)
    )


@router.get(
    "/planned-services",
    summary="The stored planned facilities (GeoJSON; empty before the first save)",
)
def list_planned(store: Store, _: Reader, datum: Datum = "cgcs2000"):
    return JSONResponse(
        {"type": "FeatureCollection", "features": planned_features(store, datum)},
        media_type="application/geo+json",
    )


@router.post(
    "/planned-services",
    status_code=201,
    openapi_extra={"requestBody": _POINTS},
    summary="Save planned facilities (edit role; creates the planned_services layer when missing)",
)
async def save(
    request: Request, store: Store, who: Editor, base: BaseURL, datum: Datum = "cgcs2000"
):
    doc = parse_json(await request.body())
    layer, ids = await run_in_threadpool(lambda: save_planned(store, doc, who=who, datum=datum))
    items = f"{base}/collections/{layer}/items"
    return JSONResponse(
        {"collection": layer, "created": ids, "items": items},
        status_code=201,
        headers={"Location": f"{items}/{ids[0]}"},
    )


__all__ = ["router"]
