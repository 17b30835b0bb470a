"""Copy a whole store to another (GeoPackage ↔ PostGIS): every layer with its ids, metadata
(source, original CRS, encoding, synthetic flag, notes) and the rasters."""

from __future__ import annotations

__all__ = ["copy_store"]

import logging

from gis.errors import ConflictError, InputError
from layers.store import LayerStore
from layers.validate import ValidatedLayer

log = logging.getLogger(__name__)


def copy_store(src: LayerStore, dst: LayerStore, *, who: str = "cli", progress=None) -> list[str]:
    """Copy every layer of ``src`` into ``dst`` (which must hold no layers): vector layers and
    tables in one transaction, keeping feature ids, then each raster. Returns the names."""
    if src.uri == dst.uri:
        raise InputError("source and destination are the same store")
    if dst.layers():
        raise ConflictError(f"{dst.uri} already holds layers ({', '.join(i.name for i in dst.layers())}); "
                            "copy into an empty store")
    infos = src.layers()
    if not infos:
        raise InputError(f"{src.uri} holds no layers to copy")
    items = []
    for info in (i for i in infos if i.geometry_type != "raster"):
        frame = src.read(info.name)
        # Already validated when it came in: copied as stored, its notes in the metadata.
        layer = ValidatedLayer(info.kind, frame, info.original_crs)
        items.append((info.name, layer, {"mode": "replace", "source": info.source, "encoding": info.encoding,
                                         "synthetic": info.synthetic, "keep_ids": True, "notes": info.notes}))
        if progress:
            progress(info.name)
    dst.write_many(items, who=who)
    for info in (i for i in infos if i.geometry_type == "raster"):
        with src.read_raster(info.name) as r:
            dst.write_raster(info.name, r.read(1), transform=r.transform, crs=r.crs, nodata=r.nodata,
                             source=info.source, synthetic=info.synthetic, who=who)
        if progress:
            progress(info.name)
    log.info("copied %d layers from %s to %s", len(infos), src.uri, dst.uri)
    return [i.name for i in infos]
