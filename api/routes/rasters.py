"""Raster tiles for suitability surfaces (``suitability-<area>``) and the DEM (``dem``)."""

from __future__ import annotations

from typing import Annotated

import numpy as np
from fastapi import APIRouter, Path, Query, Request
from fastapi.responses import Response

from api.deps import BaseURL, Reader, Store
from api.routes.analysis import surface_for_token
from gis.errors import NotFoundError
from layers.cache import FolderCache
from layers.store import layer_versions
from maps.tiles import RasterSource, render_tile, tilejson, web_mercator_copy

router = APIRouter(prefix="/rasters", tags=["Rasters"])
#: A suitability surface other than the default: the token a site-selection answer's tiles carry.
SurfaceToken = Annotated[str | None, Query(max_length=8192, pattern="^[A-Za-z0-9_-]*$")]


def raster_source(store, raster_id: str, surface_token: str | None = None, raster_dirs=()) -> RasterSource:
    if raster_id.startswith("suitability-"):
        area = raster_id.removeprefix("suitability-")
        _, surface = surface_for_token(store, area, surface_token, list(raster_dirs))
        return RasterSource(web_mercator_copy(surface.surface_path), 0.0, 1.0, "rdylgn")
    info = store.info(raster_id)
    if info.geometry_type != "raster":
        raise NotFoundError(f"{raster_id!r} is not a raster; rasters: dem, suitability-<area id or name>")
    return _STORED.get(layer_versions(store, [raster_id]), lambda folder: _stored_source(store, raster_id, folder))


# Stored rasters (the DEM) are tiled from a Web-Mercator copy made once per layer version:
# warping the GeoPackage raster per tile took 110–170 ms a tile.
_STORED = FolderCache("raster-", size=4)


def _stored_source(store, raster_id: str, folder: str) -> RasterSource:
    with store.read_raster(raster_id) as src:  # the colour stretch: 2–98th percentile of the values
        copy = web_mercator_copy(src.name, f"{folder}/{raster_id}.3857.tif")
        data = src.read(1, out_shape=(1, max(1, src.height // 8), max(1, src.width // 8)), masked=True)
    values = data.compressed()
    values = values[np.isfinite(values)]
    if len(values) == 0:
        raise NotFoundError(f"raster {raster_id!r} has no values")
    lo, hi = float(np.percentile(values, 2)), float(np.percentile(values, 98))
    return RasterSource(copy, lo, hi if hi > lo else lo + 1.0, "terrain")


@router.get("/{raster_id}/tilejson.json", summary="TileJSON of a raster")
def raster_tilejson(raster_id: str, request: Request, store: Store, base: BaseURL, _: Reader,
                    surface: SurfaceToken = None) -> dict:
    src = raster_source(store, raster_id, surface, request.app.state.settings.raster_folders())
    query = f"?surface={surface}" if surface else ""
    return tilejson(src, f"{base}/rasters/{raster_id}/tiles/{{z}}/{{x}}/{{y}}.png{query}", raster_id)


@router.get("/{raster_id}/tiles/{z}/{x}/{y}.png", summary="A PNG map tile (Web Mercator)",
            responses={200: {"content": {"image/png": {}}}})
def raster_tile(raster_id: str, request: Request, store: Store, _: Reader, z: int = Path(ge=0, le=22),
                x: int = Path(ge=0), y: int = Path(ge=0), surface: SurfaceToken = None):
    src = raster_source(store, raster_id, surface, request.app.state.settings.raster_folders())
    png = render_tile(src, z, x, y)
    return Response(png, media_type="image/png", headers={"Cache-Control": "public, max-age=3600"})
