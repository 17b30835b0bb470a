"""Exports for land bureaus: GeoJSON, GeoPackage, zipped Shapefile, CSV, 报部格式 txt; DXF for
CAD offices and KML/KMZ for field survey apps (``layers/cad_kml.py``)."""

from __future__ import annotations

import tempfile
from datetime import date
from typing import Annotated
from urllib.parse import quote

from fastapi import APIRouter, BackgroundTasks, Query
from fastapi.responses import FileResponse

from api.deps import Reader, Store
from gis.errors import InputError, NotFoundError
from layers.landuse_txt import write_landuse_txt
from layers.writers import FORMATS, write_layer

router = APIRouter(tags=["Exports"])
MEDIA = {"geojson": "application/geo+json", "gpkg": "application/geopackage+sqlite3", "shp": "application/zip",
         "csv": "text/csv; charset=utf-8", "txt": "text/plain", "dxf": "image/vnd.dxf",
         "kml": "application/vnd.google-earth.kml+xml", "kmz": "application/vnd.google-earth.kmz"}


@router.get("/exports/{layer}", summary="Download a layer in a land-bureau format")
def export_layer(layer: str, store: Store, _: Reader, background: BackgroundTasks,
                 format: Annotated[str, Query(pattern="^(geojson|gpkg|shp|csv|txt|dxf|kml|kmz)$")] = "geojson",
                 crs: Annotated[str | None, Query(description=(
                     "target CRS (default cgcs2000). dxf: a projected CRS in metres, default the data's "
                     "Gauss–Krüger zone (4547; 4526 with the zone prefix); kml/kmz: wgs84 (default) or gcj02"))] = None,
                 ids: str | None = None, encoding: str | None = None,
                 labels: Annotated[str, Query(pattern="^(en|zh)$")] = "en"):
    info = store.info(layer)
    if not info.geometry_type or info.geometry_type == "raster":
        raise NotFoundError(f"{layer!r} is not a vector layer")
    frame = store.read(layer)
    if ids:
        try:
            wanted = {int(v) for v in ids.split(",")}
        except ValueError:
            raise InputError("ids must be comma-separated integers") from None
        frame = frame[frame["id"].isin(wanted)]
        if frame.empty:
            raise NotFoundError(f"none of ids {sorted(wanted)} are in {layer!r}")
    folder = tempfile.TemporaryDirectory(prefix="export-")
    background.add_task(folder.cleanup)
    stem = f"{layer}_{date.today():%Y%m%d}"
    if format == "txt":
        if info.geometry_type != "polygon":
            raise InputError("the 报部格式 txt holds polygons; export a polygon layer")
        path = write_landuse_txt(frame, f"{folder.name}/{stem}.txt", encoding=encoding or "GBK")
        media = f"text/plain; charset={(encoding or 'GBK').lower()}"
    else:
        path = write_layer(frame.drop(columns="id"), f"{folder.name}/{stem}{FORMATS[format]}", fmt=format, crs=crs,
                           encoding=encoding, kind=info.kind, labels=labels, layer_name=layer)
        media = MEDIA[format]
    return FileResponse(path, media_type=media, filename=path.name,
                        headers={"Content-Disposition": f"attachment; filename*=UTF-8''{quote(path.name)}"})
