"""Feature queries over a layer held in memory (the GeoPackage backend's way: a layer read once
per version, its R-tree built once, then every page cut from it in milliseconds), with the
same filter rules a database backend applies in SQL."""

from __future__ import annotations

__all__ = ["query_frame", "filter_value", "column_kind"]

import numpy as np
import pandas as pd
import shapely

from gis.errors import InputError

_TRUE = ("true", "1", "yes")


def column_kind(series: pd.Series) -> str:
    """``bool``, ``number`` or ``text``: how a filter value on this column is read."""
    if pd.api.types.is_bool_dtype(series):
        return "bool"
    if pd.api.types.is_numeric_dtype(series):
        return "number"
    return "text"


def filter_value(key: str, value: str, kind: str):
    """A query string value as the column's type (``InputError`` naming the property)."""
    if kind == "bool":
        return str(value).lower() in _TRUE
    if kind == "number":
        try:
            return float(value)
        except ValueError:
            raise InputError(f"property {key!r} is numeric; {value!r} is not a number") from None
    return str(value)


def unknown_property(key: str, columns) -> InputError:
    allowed = [c for c in columns if c != "geometry"]
    return InputError(f"unknown query parameter or property {key!r}; filterable properties: {', '.join(allowed)}")


def query_frame(frame, *, bbox=None, filters=None, ids=None, limit=None, offset=0):
    """``(page, number matched)`` of ``frame`` (with an ``id`` column, in id order): features
    intersecting ``bbox`` (storage CRS), equal to every filter, with one of ``ids``."""
    if bbox is not None:
        hits = frame.sindex.query(shapely.box(*bbox), predicate="intersects")
        frame = frame.iloc[np.sort(hits)]
    if ids is not None:
        frame = frame[frame["id"].isin(ids)]
    for key, value in (filters or {}).items():
        if key not in frame.columns or key == "geometry":
            raise unknown_property(key, frame.columns)
        col = frame[key]
        kind = column_kind(col)
        wanted = filter_value(key, value, kind)
        frame = frame[col.astype(str) == wanted] if kind == "text" else frame[col == wanted]
    matched = len(frame)
    end = None if limit is None else offset + limit
    return frame.iloc[offset:end], matched
