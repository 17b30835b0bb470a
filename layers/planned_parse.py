"""Parsing the planned facilities a page posts (``what if`` and ``保存为规划``): a GeoJSON
FeatureCollection of points with a category, checked whole, every problem named with its
feature and field (the use cases, and their design, are :mod:`workflows.planned`)."""

from __future__ import annotations

__all__ = ["PLANNED_KIND", "PLANNED_LAYER", "MAX_PLANNED", "PLANNED_MARK", "parse_planned"]

import json
import math

import geopandas as gpd
import numpy as np
import pandas as pd
import shapely

from gis.crs import CGCS2000, CHINA_BOUNDS, gcj02_to_wgs84, transform_geometries
from gis.errors import InputError, MalformedError, Problem, ValidationError
from layers.schemas import VOCABULARIES

PLANNED_KIND = PLANNED_LAYER = "planned_services"
#: The most planned points one request may carry (a what-if or a save).
MAX_PLANNED = 100
#: Appended to the names of planned facilities in reports.
PLANNED_MARK = "(规划)"
#: The report fields of an area's services document (the API's GET /analysis/services/{area}).
DOCUMENT_FIELDS = [
    "category",
    "category_zh",
    "nearest_name",
    "straight_m",
    "network_m",
    "reachable",
    "second_name",
    "second_m",
    "third_name",
    "third_m",
    "count_300",
    "count_500",
    "count_1000",
    "standard_m",
    "meets_standard",
    "gap_zh",
    "gap_en",
]
_PROPERTIES = {
    "category": "a service category, e.g. nursery or 托儿所",
    "name": "text (default: the category's Chinese name)",
    "capacity": "a number ≥ 0 (seats, beds)",
    "area_id": "an integer (the area planned from)",
    "note": "text",
}
COLUMNS = ["name", "category", "capacity", "area_id", "note"]
_MAX_TEXT = 200


def categories() -> tuple[dict[str, str], dict[str, str]]:
    codes = VOCABULARIES["service_category"]
    return codes, {label: code for code, label in codes.items()}


def parse_planned(
    doc, *, datum: str = "cgcs2000", max_points: int = MAX_PLANNED, standards=None
) -> gpd.GeoDataFrame:
    """Planned facilities from a GeoJSON FeatureCollection of points, checked strictly.

    Every feature is a ``Point`` ``[lon, lat]`` (CGCS2000/WGS84, or GCJ-02 with
    ``datum="gcj02"``: converted) with ``properties.category`` one of the 16 service
    categories (code or Chinese name); ``name``, ``capacity``, ``area_id`` and ``note`` are
    optional and no other property is accepted. Every problem of every feature is reported
    at once, with the feature's number and the key at fault.

    Parameters
    ----------
    doc : dict
        The decoded JSON body.
    datum : {"cgcs2000", "gcj02"}
        The datum of the coordinates (a map drawn on Amap tiles clicks in GCJ-02).
    max_points : int
        The most features accepted.
    standards : dict, optional
        The standards table in use: a category it does not know is refused too.

    Returns
    -------
    GeoDataFrame
        Columns ``name, category, capacity, area_id, note`` in EPSG:4490 (possibly empty).

    Raises
    ------
    MalformedError
        The document is not a FeatureCollection of GeoJSON point features (400).
    ValidationError
        A category, coordinate or property value cannot be used (422).
    InputError
        More than ``max_points`` features, or an unknown ``datum``.

    Examples
    --------
    >>> point = {"type": "Point", "coordinates": [113.174, 35.242]}
    >>> doc = {"type": "FeatureCollection", "features": [
    ...     {"type": "Feature", "properties": {"category": "托儿所"}, "geometry": point}]}
    >>> parse_planned(doc)[["name", "category"]].values.tolist()
    [['托儿所', 'nursery']]
    """
    if datum not in ("cgcs2000", "gcj02"):
        raise InputError(f"datum must be cgcs2000 or gcj02, got {datum!r}")
    features = _features(doc, max_points)
    rows, points = _checked_rows(features, standards)
    return _planned_frame(rows, points, datum)


def _features(doc, max_points: int) -> list:
    """The features of a FeatureCollection, refused whole if it is not one or is too big."""
    if (
        not isinstance(doc, dict)
        or doc.get("type") != "FeatureCollection"
        or not isinstance(doc.get("features"), list)
    ):
        raise MalformedError(
            'send a GeoJSON FeatureCollection: {"type": "FeatureCollection", "features": '
            '[{"type": "Feature", "geometry": {"type": "Point", "coordinates": [lon, lat]}, '
            '"properties": {"category": "nursery"}}]}'
        )
    features = doc["features"]
    if len(features) > max_points:
        raise InputError(
            f"{len(features)} planned facilities in one request; at most {max_points} are "
            "accepted: send them in smaller batches"
        )
    return features


def _checked_rows(features: list, standards) -> tuple[list[dict], list]:
    """The property rows and points of every feature, or every problem of all of them raised."""
    malformed: list[Problem] = []
    invalid: list[Problem] = []
    rows, points = [], []
    for i, feature in enumerate(features, start=1):
        if not isinstance(feature, dict) or feature.get("type") != "Feature":
            malformed.append(
                Problem(i, None, 'is not a GeoJSON Feature (an object with "type": "Feature")')
            )
            continue
        point = _point(feature.get("geometry"), i, malformed, invalid)
        row = _properties(feature.get("properties"), i, invalid, standards)
        rows.append(row)
        points.append(point)
    if malformed:
        everything = sorted(malformed + invalid, key=lambda p: p.row or 0)
        raise MalformedError(
            f"not GeoJSON points: {len(everything)} problem(s); nothing was used", everything
        )
    if invalid:
        raise ValidationError(
            f"planned facilities: {len(invalid)} problem(s); nothing was used", invalid
        )
    return rows, points


def _planned_frame(rows: list[dict], points: list, datum: str) -> gpd.GeoDataFrame:
    frame = pd.DataFrame(rows, columns=COLUMNS)
    frame["capacity"] = frame["capacity"].astype("float64")
    frame["area_id"] = frame["area_id"].astype("Int64")
    geoms = np.array(points, dtype=object)
    if datum == "gcj02" and len(geoms):
        geoms = transform_geometries(geoms, gcj02_to_wgs84)
    return gpd.GeoDataFrame(frame, geometry=gpd.GeoSeries(geoms, crs=CGCS2000), crs=CGCS2000)


def _number(v) -> bool:
    return isinstance(v, int | float) and not isinstance(v, bool)


def _point(geom, i: int, malformed: list, invalid: list):
    if not isinstance(geom, dict):
        malformed.append(
            Problem(i, "geometry", 'is missing; send {"type": "Point", "coordinates": [lon, lat]}')
        )
        return None
    if geom.get("type") != "Point":
        malformed.append(
            Problem(
                i,
                "geometry.type",
                f"{geom.get('type')!r}: a planned facility is a Point (one position [lon, lat])",
            )
        )
        return None
    coords = geom.get("coordinates")
    if (
        not isinstance(coords, list)
        or len(coords) not in (2, 3)
        or not all(_number(v) for v in coords)
    ):
        malformed.append(
            Problem(
                i,
                "geometry.coordinates",
                "a position is a list of 2 numbers: [longitude, latitude]",
            )
        )
        return None
    lon, lat = coords[0], coords[1]
    if not all(_finite(v) for v in (lon, lat)):
        invalid.append(Problem(i, "geometry.coordinates", f"{coords} is not a finite number pair"))
        return None
    x0, y0, x1, y1 = CHINA_BOUNDS
    if x0 <= lon <= x1 and y0 <= lat <= y1:
        return shapely.Point(float(lon), float(lat))
    if x0 <= lat <= x1 and y0 <= lon <= y1:
        msg = "longitude and latitude look swapped; put longitude first: [lon, lat]"
    elif not (-180 <= lon <= 180 and -90 <= lat <= 90):
        msg = (
            "is not longitude/latitude in degrees (longitude −180…180, latitude −90…90); "
            "send CGCS2000/WGS84 [lon, lat], not projected metres"
        )
    else:
        msg = "lies outside China; send CGCS2000/WGS84 [lon, lat] of a place in China"
    invalid.append(Problem(i, "geometry.coordinates", f"[{lon}, {lat}] {msg}"))
    return None


def _finite(v) -> bool:
    try:
        return math.isfinite(v)
    except OverflowError:  # an integer literal beyond any float
        return False


def _text(props: dict, key: str, i: int, invalid: list) -> str | None:
    value = props.get(key)
    if value is None:
        return None
    if not isinstance(value, str) or not value.strip():
        invalid.append(
            Problem(i, key, f"must be non-empty text, got {json.dumps(value, ensure_ascii=False)}")
        )
        return None
    if len(value) > _MAX_TEXT:
        invalid.append(Problem(i, key, f"is {len(value)} characters long; at most {_MAX_TEXT}"))
        return None
    try:
        value.encode("utf-8")
    except UnicodeEncodeError:
        invalid.append(
            Problem(i, key, "is not valid Unicode text (a lone surrogate such as \\ud800)")
        )
        return None
    return value.strip()


def _properties(props, i: int, invalid: list, standards) -> dict:
    row = dict.fromkeys(COLUMNS)
    if props is None:
        props = {}
    if not isinstance(props, dict):
        invalid.append(Problem(i, "properties", 'must be an object, e.g. {"category": "nursery"}'))
        return row
    _check_keys(props, i, invalid)
    codes, _ = categories()
    row["category"] = _category(props.get("category"), i, invalid, standards)
    row["name"] = _text(props, "name", i, invalid) or (
        codes.get(row["category"]) if row["category"] else None
    )
    row["note"] = _text(props, "note", i, invalid)
    row["capacity"] = _capacity(props.get("capacity"), i, invalid)
    row["area_id"] = _area_id(props.get("area_id"), i, invalid)
    return row


def _check_keys(props: dict, i: int, invalid: list) -> None:
    for key in props:
        if key not in _PROPERTIES:
            invalid.append(
                Problem(
                    i,
                    str(key),
                    "is not a property of a planned facility; use "
                    + ", ".join(f"{k} ({v})" for k, v in _PROPERTIES.items()),
                )
            )


def _category(category, i: int, invalid: list, standards) -> str | None:
    """The category code of a code or Chinese name (kept even if the standards lack it)."""
    codes, by_label = categories()
    if category is None:
        invalid.append(Problem(i, "category", "is required: one of " + ", ".join(codes)))
        return None
    if not isinstance(category, str) or (
        category.strip() not in codes and category.strip() not in by_label
    ):
        invalid.append(
            Problem(
                i,
                "category",
                f"unknown category {json.dumps(category, ensure_ascii=False)}; "
                "use one of " + ", ".join(f"{c} ({z})" for c, z in codes.items()),
            )
        )
        return None
    code = by_label.get(category.strip(), category.strip())
    if standards is not None and code not in standards:
        invalid.append(
            Problem(
                i,
                "category",
                f"{code!r} is not in the standards table in use; known: " + ", ".join(standards),
            )
        )
    return code


def _capacity(capacity, i: int, invalid: list) -> float | None:
    if capacity is None:
        return None
    if not _number(capacity) or not _finite(capacity) or not 0 <= capacity <= 1e6:
        invalid.append(
            Problem(i, "capacity", f"{json.dumps(capacity)} is not a number in 0 … 1,000,000")
        )
        return None
    return float(capacity)


def _area_id(area_id, i: int, invalid: list) -> int | None:
    if area_id is None:
        return None
    if (
        not _number(area_id)
        or not _finite(area_id)
        or area_id != int(area_id)
        or not 0 < area_id < 2**53
    ):
        invalid.append(
            Problem(i, "area_id", f"{json.dumps(area_id)} is not a positive integer (an area's id)")
        )
        return None
    return int(area_id)
