"""Feature queries over a layer held in memory (the GeoPackage backend's way: a layer read once
per version, its R-tree built once, then every page cut from it in milliseconds), with the
same filter rules a database backend applies in SQL."""

from __future__ import annotations

__all__ = ["query_frame", "filter_value", "column_kind", "cql2_mask", "like_regex"]

import geopandas as gpd
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


def frame_kinds(frame) -> dict[str, str]:
    """property → number, text or bool (what a CQL2 filter may compare it with)."""
    return {c: column_kind(frame[c]) for c in frame.columns if c != "geometry"}


def query_frame(frame, *, bbox=None, filters=None, ids=None, limit=None, offset=0, cql=None):
    """``(page, number matched)`` of ``frame`` (with an ``id`` column, in id order): features
    intersecting ``bbox`` (storage CRS), equal to every filter, with one of ``ids``, for which
    the CQL2 tree ``cql`` holds."""
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
    if cql is not None:
        from layers.cql2 import check_cql2

        check_cql2(cql, frame_kinds(frame))
        frame = frame[cql2_mask(frame, cql)]
    matched = len(frame)
    end = None if limit is None else offset + limit
    return frame.iloc[offset:end], matched


def cql2_mask(frame, node) -> np.ndarray:
    """Which rows of ``frame`` a checked CQL2 tree (layers.cql2) holds for: SQL's three-valued
    logic over pandas' nullable booleans (Kleene &, |, ~), unknown counted as false at the end."""
    return np.asarray(_FrameEvaluator(frame).evaluate(node).fillna(False), dtype=bool)


def like_regex(pattern: str) -> str:
    """A CQL2 LIKE pattern as a regular expression: % any run, _ one character, \\ escapes.
    (pygeofilter reads '.' as the single-character wildcard; CQL2 says '_', as SQL does.)"""
    import re

    out, i = [], 0
    while i < len(pattern):
        ch = pattern[i]
        if ch == "\\" and i + 1 < len(pattern):
            out.append(re.escape(pattern[i + 1]))
            i += 2
            continue
        out.append(".*" if ch == "%" else "." if ch == "_" else re.escape(ch))
        i += 1
    return "^" + "".join(out) + "$"


def _unknown_where(values: pd.Series, result) -> pd.Series:
    out = pd.Series(pd.array(np.asarray(result, dtype=bool), dtype="boolean"), index=values.index)
    out[values.isna().to_numpy()] = pd.NA
    return out


class _FrameEvaluator:
    """A tiny evaluator over the node types layers.cql2.check_cql2 lets through."""

    _OPS = {"=": "__eq__", "<>": "__ne__", "<": "__lt__", "<=": "__le__", ">": "__gt__", ">=": "__ge__"}
    _SPATIAL = {"INTERSECTS": "intersects", "DISJOINT": "disjoint", "CONTAINS": "contains", "WITHIN": "within",
                "TOUCHES": "touches", "CROSSES": "crosses", "OVERLAPS": "overlaps", "EQUALS": "geom_equals"}

    def __init__(self, frame):
        self.frame = frame

    def column(self, node) -> pd.Series:
        from layers.cql2 import ATTRIBUTE_ALIASES

        name = ATTRIBUTE_ALIASES.get(node.name, node.name)
        return self.frame.geometry if name == "geometry" else self.frame[name]

    def evaluate(self, node) -> pd.Series:  # noqa: C901 (one branch per node type reads best)
        from pygeofilter import ast

        from layers.cql2 import literal_geometry

        if isinstance(node, ast.And | ast.Or):
            lhs, rhs = self.evaluate(node.lhs), self.evaluate(node.rhs)
            return (lhs & rhs) if isinstance(node, ast.And) else (lhs | rhs)
        if isinstance(node, ast.Not):
            return ~self.evaluate(node.sub_node)
        if isinstance(node, ast.Comparison):
            col = self.column(node.lhs)
            return _unknown_where(col, getattr(col, self._OPS[node.op.value])(node.rhs).fillna(False))
        if isinstance(node, ast.Between):
            col = self.column(node.lhs)
            out = _unknown_where(col, col.between(node.low, node.high).fillna(False))
            return ~out if node.not_ else out
        if isinstance(node, ast.Like):
            col = self.column(node.lhs)
            hit = col.astype(object).map(lambda v: isinstance(v, str) and bool(_match(node.pattern, v, node.nocase)))
            out = _unknown_where(col, hit)
            return ~out if node.not_ else out
        if isinstance(node, ast.In):
            col = self.column(node.lhs)
            out = _unknown_where(col, col.isin(list(node.sub_nodes)))
            return ~out if node.not_ else out
        if isinstance(node, ast.IsNull):
            col = self.column(node.lhs)
            hit = col.isna() if not isinstance(col, gpd.GeoSeries) else col.isna() | col.is_empty
            out = pd.Series(pd.array(hit.to_numpy(dtype=bool), dtype="boolean"), index=col.index)
            return ~out if node.not_ else out
        if isinstance(node, ast.SpatialComparisonPredicate | ast.BBox):
            geoms = self.column(node.lhs)
            if isinstance(node, ast.BBox):
                other, method = shapely.box(node.minx, node.miny, node.maxx, node.maxy), "intersects"
            else:
                other, method = literal_geometry(node.rhs), self._SPATIAL[node.op.name]
            hit = getattr(geoms, method)(other)
            return _unknown_where(geoms, hit.to_numpy(dtype=bool))
        raise AssertionError(f"unchecked CQL2 node {type(node).__name__}")


def _match(pattern: str, value: str, nocase: bool):
    import re

    return re.match(like_regex(pattern), value, flags=re.IGNORECASE | re.DOTALL if nocase else re.DOTALL)
