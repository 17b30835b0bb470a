"""Import a planner's file into the store: read, validate as a whole, write in one transaction."""

from __future__ import annotations

__all__ = ["import_file", "import_frame", "import_osm", "import_upload", "is_osm"]

import logging
from pathlib import Path

from gis.errors import InputError, Problem
from layers.poi_exports import categorize_poi_export, poi_export_kind
from layers.readers import read_layer_file, read_population_raster
from layers.schemas import SCHEMAS
from layers.store import LayerInfo, LayerStore
from layers.validate import ValidatedLayer, validate_layer

log = logging.getLogger(__name__)


def _kind_for(layer: str, kind: str | None) -> str:
    if kind:
        return kind
    if layer in SCHEMAS:
        return layer
    raise InputError(f"cannot tell the kind of layer {layer!r}; pass --kind ({', '.join(SCHEMAS)})")


def import_frame(store: LayerStore, frame, *, layer: str, kind: str | None = None, crs=None,
                 mode: str = "replace", source: str = "", encoding: str | None = None,
                 synthetic: bool = False, who: str = "cli") -> tuple[LayerInfo, ValidatedLayer]:
    """Validate ``frame`` as ``kind`` and write it as ``layer``; nothing is written on error."""
    kind = _kind_for(layer, kind)
    validated = validate_layer(frame, kind, crs=crs, check=_cross_check(store, kind, layer, mode))
    info = store.write(layer, validated, mode=mode, source=source, encoding=encoding,
                       synthetic=synthetic, who=who)
    for p in validated.repaired + validated.notices:
        log.warning("%s: %s", layer, p)
    log.info("%s: %s", layer, validated.summary())
    return info, validated


def _cross_check(store: LayerStore, kind: str, layer: str, mode: str):
    """The check a kind needs against other layers (progress events name renewal areas)."""
    if kind != "progress":
        return None
    from layers.progress import progress_check

    areas = store.read(store.find_kind("renewal_areas")) if store.has_kind("renewal_areas") else None
    existing = store.read(layer) if mode == "append" and store.has(layer) else None
    return progress_check(areas, existing)


def import_file(store: LayerStore, path, *, layer: str, kind: str | None = None, crs=None,
                encoding: str | None = None, mode: str = "replace", who: str = "cli",
                source_layer: str | None = None, poi_table=None,
                skip_unmapped: bool = False) -> tuple[LayerInfo, ValidatedLayer]:
    """Read ``path`` and import it as ``layer`` (see :func:`import_frame`). A services table
    exported from Amap or Baidu maps gets its categories from their type codes or tags
    (:mod:`layers.poi_exports`); what was mapped and skipped is in the result's notices."""
    kind = _kind_for(layer, kind)
    if Path(path).suffix.lower() in (".tif", ".tiff"):
        if kind != "population":
            raise InputError(f"{Path(path).name}: a raster imports only as a population layer (persons per "
                             "cell, --kind population)")
        return import_frame(store, read_population_raster(path), layer=layer, kind=kind, mode=mode,
                            source=Path(path).name, who=who)
    raw = read_layer_file(path, layer=source_layer, encoding=encoding)
    frame, report = raw.frame, None
    if kind == "services" and poi_export_kind(frame):
        frame, report = categorize_poi_export(frame, table=poi_table, skip_unmapped=skip_unmapped)
    info, validated = import_frame(store, frame, layer=layer, kind=kind, crs=crs, mode=mode,
                                   source=Path(path).name, encoding=raw.encoding, who=who)
    if report is not None:
        validated.notices = [Problem(None, None, line) for line in report.lines()] + validated.notices
    return info, validated


def import_osm(store: LayerStore, path, *, bbox=None, layers=("roads", "services"), mode: str = "replace",
               categories=None, walkable=None, who: str = "cli", progress=None):
    """Build ``roads`` and/or ``services`` from an OSM extract and write them in one transaction
    (both or neither). Returns the :class:`layers.osm.OsmLayers` report."""
    from layers.osm import read_osm

    unknown = set(layers) - {"roads", "services"}
    if unknown or not layers:
        raise InputError(f"--layers takes roads and/or services, got {', '.join(layers) or 'nothing'}")
    result = read_osm(path, bbox=bbox, layers=layers, categories=categories, walkable=walkable, progress=progress)
    items = []
    for name in layers:
        frame = getattr(result, name)
        if frame is None or frame.empty:
            raise InputError(f"{Path(path).name} holds no {name} that can be imported"
                             + (" inside the box" if bbox else ""))
        validated = validate_layer(frame, name)
        items.append((name, validated, {"mode": mode, "source": f"OpenStreetMap {Path(path).name} (ODbL)",
                                        "encoding": "UTF-8"}))
    store.write_many(items, who=who)
    log.info("imported %s from %s", ", ".join(layers), Path(path).name)
    return result


def is_osm(name: str) -> bool:
    """Whether a file name is an OpenStreetMap extract."""
    return str(name).lower().endswith((".osm.pbf", ".osm"))


def import_upload(store: LayerStore, path, *, layer: str | None = None, kind: str | None = None, crs=None,
                  encoding: str | None = None, mode: str = "replace", who: str = "cli") -> dict:
    """Import a file whatever it is (an OSM extract builds roads and services; anything else
    goes into ``layer``) and describe the result as plain data (the API's answer)."""
    if is_osm(Path(path).name):
        layers = tuple(v.strip() for v in (layer or "roads,services").split(",") if v.strip())
        result = import_osm(store, path, layers=layers, mode=mode, who=who)
        return {"layers": {n: store.info(n).to_dict() for n in layers}, "mapped": dict(result.mapped),
                "unmapped": dict(result.unmapped), "summary": result.summary_lines()}
    if not layer:
        raise InputError("give the layer to import into (form field 'layer', e.g. services)")
    info, validated = import_file(store, path, layer=layer, kind=kind, crs=crs, encoding=encoding, mode=mode,
                                  who=who)
    return {"layer": info.to_dict(), "imported": len(validated.frame),
            "repaired": [str(p) for p in validated.repaired], "notices": [str(p) for p in validated.notices]}
