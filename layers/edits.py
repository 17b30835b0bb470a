"""Feature edits (create, replace, delete) with the same validation and atomicity as imports.

Every edit rewrites the layer copy-on-write with feature ids kept, and is audited with who
made it. Fine for city layers (tens of thousands of features); a million-feature layer
would want in-place SQL updates instead.
"""

from __future__ import annotations

__all__ = ["geojson_to_frame", "add_features", "replace_feature", "delete_feature"]

import geopandas as gpd
import pandas as pd
import shapely

from gis.errors import InputError, NotFoundError
from layers.store import LayerStore
from layers.validate import validate_layer


def geojson_to_frame(doc: dict) -> gpd.GeoDataFrame:
    """A GeoJSON Feature or FeatureCollection (CRS84) → GeoDataFrame; InputError if malformed."""
    if not isinstance(doc, dict) or doc.get("type") not in ("Feature", "FeatureCollection"):
        raise InputError("send a GeoJSON Feature or FeatureCollection (with 'type')")
    features = doc.get("features") if doc["type"] == "FeatureCollection" else [doc]
    if not isinstance(features, list) or not features:
        raise InputError("the FeatureCollection has no features")
    rows, geoms = [], []
    for i, f in enumerate(features, start=1):
        if not isinstance(f, dict) or f.get("type") != "Feature":
            raise InputError(f"feature {i} is not a GeoJSON Feature")
        try:
            geoms.append(shapely.geometry.shape(f["geometry"]) if f.get("geometry") else None)
        except (KeyError, TypeError, ValueError, AttributeError, shapely.errors.GEOSException) as ex:
            raise InputError(f"feature {i}: malformed geometry ({ex})") from ex
        props = f.get("properties") or {}
        if not isinstance(props, dict):
            raise InputError(f"feature {i}: 'properties' must be an object")
        rows.append(props)
    return gpd.GeoDataFrame(pd.DataFrame(rows), geometry=geoms, crs=4326)


def add_features(store: LayerStore, layer: str, frame: gpd.GeoDataFrame, who: str) -> list[int]:
    info = store.info(layer)
    before = set(store.read(layer)["id"]) if info.feature_count else set()
    validated = validate_layer(frame, info.kind)
    store.write(layer, validated, mode="append", source=f"API edit by {who}", who=who)
    after = store.read(layer)["id"]
    return sorted(set(after) - before)


def replace_feature(store: LayerStore, layer: str, fid: int, frame: gpd.GeoDataFrame, who: str) -> None:
    if len(frame) != 1:
        raise InputError("PUT takes exactly one feature")
    info = store.info(layer)
    current = store.read(layer)
    if fid not in set(current["id"]):
        raise NotFoundError(f"no feature {fid} in {layer!r}")
    new = validate_layer(frame, info.kind).frame
    new["id"] = fid
    merged = pd.concat([current[current["id"] != fid], new], ignore_index=True).sort_values("id")
    validated = validate_layer(gpd.GeoDataFrame(merged, geometry="geometry", crs=current.crs), info.kind)
    validated.frame["id"] = merged["id"].to_numpy()
    store.write_many([(layer, validated, {"mode": "replace", "keep_ids": True, "source": info.source})], who=who)


def delete_feature(store: LayerStore, layer: str, fid: int, who: str) -> None:
    info = store.info(layer)
    current = store.read(layer)
    if fid not in set(current["id"]):
        raise NotFoundError(f"no feature {fid} in {layer!r}")
    rest = current[current["id"] != fid]
    if rest.empty:
        raise InputError(f"{layer!r} would be empty; delete the layer instead")
    validated = validate_layer(rest, info.kind)
    validated.frame["id"] = rest["id"].to_numpy()
    store.write_many([(layer, validated, {"mode": "replace", "keep_ids": True, "source": info.source})], who=who)
