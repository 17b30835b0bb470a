"""Feature edits (create, replace, delete): GeoJSON checked strictly, validated like imports,
written by the store in one transaction that changes only the features concerned, and
audited with the verb, the feature ids and who made them. The layer's provenance (source,
synthetic flag) stays as it was: the edit is in the audit.
"""

from __future__ import annotations

__all__ = ["geojson_to_frame", "add_features", "replace_feature", "delete_feature", "GEOMETRY_TYPES"]

import math

import geopandas as gpd
import pandas as pd
import shapely

from gis.errors import InputError, MalformedError, Problem
from layers.store import LayerStore
from layers.validate import validate_layer

#: GeoJSON geometry type → nesting depth of its ``coordinates`` (0 = one position).
GEOMETRY_TYPES = {"Point": 0, "MultiPoint": 1, "LineString": 1, "MultiLineString": 2, "Polygon": 2,
                  "MultiPolygon": 3}


def geojson_to_frame(doc: dict) -> gpd.GeoDataFrame:
    """A GeoJSON Feature or FeatureCollection (CRS84) → GeoDataFrame.

    Every feature is checked before any is used, and every problem is reported with the
    feature's number and the key at fault (``features[2].geometry.coordinates``): unknown
    geometry types, positions that are not 2–3 finite numbers, lines of fewer than two
    positions, rings of fewer than four or not closed, nested objects or lists as property
    values (not stored: send a string, number or boolean) and text that is not valid Unicode.
    """
    if not isinstance(doc, dict) or doc.get("type") not in ("Feature", "FeatureCollection"):
        raise InputError("send a GeoJSON Feature or FeatureCollection (with 'type')")
    features = doc.get("features") if doc["type"] == "FeatureCollection" else [doc]
    if not isinstance(features, list) or not features:
        raise InputError("the FeatureCollection has no features")
    problems: list[Problem] = []
    rows, geoms = [], []
    for i, f in enumerate(features, start=1):
        if not isinstance(f, dict) or f.get("type") != "Feature":
            problems.append(Problem(i, None, "is not a GeoJSON Feature (an object with \"type\": \"Feature\")"))
            continue
        geom_problems = _geometry_problems(f.get("geometry"))
        problems += [Problem(i, field, msg) for field, msg in geom_problems]
        props = f.get("properties") or {}
        if not isinstance(props, dict):
            problems.append(Problem(i, "properties", "must be an object"))
            props = {}
        problems += [Problem(i, key, msg) for key, msg in _property_problems(props)]
        rows.append(props)
        geom = None
        if not geom_problems and f.get("geometry"):
            try:
                geom = shapely.geometry.shape(f["geometry"])
            except (ValueError, TypeError, shapely.errors.ShapelyError) as ex:  # e.g. 2D and 3D positions mixed
                problems.append(Problem(i, "geometry.coordinates", f"cannot be read as a geometry ({ex}); "
                                        "give every position of a geometry the same number of values"))
        geoms.append(geom)
    if problems:
        raise MalformedError(f"malformed GeoJSON: {len(problems)} problem(s); nothing was changed", problems)
    return gpd.GeoDataFrame(pd.DataFrame(rows), geometry=geoms, crs=4326)


def _geometry_problems(geom) -> list[tuple[str, str]]:
    if geom is None:
        return [("geometry", "is missing; send a GeoJSON geometry with type and coordinates")]
    if not isinstance(geom, dict):
        return [("geometry", "must be an object with type and coordinates")]
    kind = geom.get("type")
    if kind not in GEOMETRY_TYPES:
        return [("geometry.type", f"{kind!r} is not a GeoJSON geometry type; use one of "
                                  f"{', '.join(GEOMETRY_TYPES)}")]
    coords = geom.get("coordinates")
    out: list[tuple[str, str]] = []
    _check_coords(coords, GEOMETRY_TYPES[kind], kind, "geometry.coordinates", out)
    return out[:5]


def _check_coords(coords, depth: int, kind: str, path: str, out: list) -> None:
    if depth == 0:
        if not isinstance(coords, list) or not 2 <= len(coords) <= 3 or \
                not all(isinstance(v, int | float) and not isinstance(v, bool) for v in coords):
            out.append((path, "a position is a list of 2 (or 3) numbers: [longitude, latitude]"))
        elif not all(_finite(v) for v in coords):
            out.append((path, f"{coords} is not a finite number pair"))
        return
    if not isinstance(coords, list):
        out.append((path, f"must be a list ({kind} coordinates nest {GEOMETRY_TYPES[kind]} deep)"))
        return
    for j, part in enumerate(coords):
        _check_coords(part, depth - 1, kind, f"{path}[{j}]", out)
    ring = kind in ("Polygon", "MultiPolygon") and depth == 1
    line = kind in ("LineString", "MultiLineString") and depth == 1
    if line and len(coords) < 2:
        out.append((path, "a line needs at least 2 positions"))
    if ring and len(coords) < 4:
        out.append((path, f"a polygon ring needs at least 4 positions (closed), got {len(coords)}"))
    elif ring and not out and coords[0] != coords[-1]:
        out.append((path, "a polygon ring must end where it starts (closed)"))


def _finite(v: int | float) -> bool:
    try:
        return math.isfinite(v)
    except OverflowError:  # an integer literal beyond any float
        return False


def _property_problems(props: dict) -> list[tuple[str, str]]:
    out = []
    for key, value in props.items():
        if isinstance(value, dict | list):
            out.append((key, "nested objects and lists are not stored; send a string, number or boolean"))
        elif isinstance(value, float) and not math.isfinite(value):
            out.append((key, f"{value} is not a finite number"))
        for text in (key, value):
            if isinstance(text, str):
                try:
                    text.encode("utf-8")
                except UnicodeEncodeError:
                    out.append((key if text is value else "properties", "is not valid Unicode text "
                                "(a lone surrogate such as \\ud800)"))
    return out


def _vector_kind(store: LayerStore, layer: str) -> str:
    info = store.info(layer)
    if not info.is_vector:
        what = "a raster" if info.geometry_type == "raster" else "a table"
        raise InputError(f"{layer!r} is {what} layer ({info.kind}); features can be edited only in vector layers")
    return info.kind


def add_features(store: LayerStore, layer: str, frame: gpd.GeoDataFrame, who: str) -> list[int]:
    """Validate ``frame`` as the layer's kind and add it; the new feature ids."""
    validated = validate_layer(frame, _vector_kind(store, layer))
    return store.insert_features(layer, validated, who=who)


def replace_feature(store: LayerStore, layer: str, fid: int, frame: gpd.GeoDataFrame, who: str,
                    if_match: str | None = None) -> str:
    """Replace feature ``fid`` by the one feature in ``frame``; its new ETag."""
    if len(frame) != 1:
        raise InputError("PUT takes exactly one feature")
    validated = validate_layer(frame, _vector_kind(store, layer))
    return store.update_feature(layer, fid, validated, who=who, if_match=if_match)


def delete_feature(store: LayerStore, layer: str, fid: int, who: str, if_match: str | None = None) -> None:
    _vector_kind(store, layer)
    store.delete_features(layer, [fid], who=who, if_match=if_match)
