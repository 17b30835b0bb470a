"""Cells of an input table that cannot be stored: nested objects or lists (refused, not
stored as JSON text) and text that is not valid Unicode (a lone surrogate, which
``json.loads`` accepts from ``"\\ud800"``), in values or in column names."""

from __future__ import annotations

__all__ = ["check_cells", "check_column_names"]

import geopandas as gpd
import numpy as np
import pandas as pd

from gis.errors import Problem

_NESTED = (dict, list, tuple, set, np.ndarray)
_NESTED_MESSAGE = "nested objects and lists are not stored; send a string, number or boolean"
# infer_dtype results that cannot hold a dict, a list or a str: nothing to look at per value.
_SCALAR_KINDS = {"empty", "integer", "floating", "mixed-integer-float", "decimal", "boolean", "datetime",
                 "datetime64", "date", "timedelta", "timedelta64", "time", "period", "complex"}
_MAX_LISTED = 50


def _rows(mask: np.ndarray) -> np.ndarray:
    return np.flatnonzero(mask) + 1


def _safe(text: str) -> str:
    """``text`` with lone surrogates escaped, so a message about it can itself be sent as UTF-8."""
    return text.encode("utf-8", "backslashreplace").decode("utf-8")


def _surrogate_message(text: str) -> str:
    try:
        text.encode("utf-8")
    except UnicodeEncodeError as ex:
        shown = text if len(text) <= 40 else text[:39] + "…"
        return (f"not valid Unicode text (lone surrogate U+{ord(text[ex.start]):04X} at character {ex.start + 1} "
                f"of {shown!r}); retype the value or save the file as UTF-8")
    return ""


def check_column_names(frame: pd.DataFrame) -> list[Problem]:
    return [Problem(None, _safe(c), "the column name is not valid Unicode text (it holds a lone surrogate); "
                    "rename the column")
            for c in frame.columns if isinstance(c, str) and _surrogate_message(c)]


def check_cells(frame: pd.DataFrame) -> list[Problem]:
    """Nested objects/lists and text that is not valid Unicode, in every text-like column.

    Numeric, boolean and date columns are skipped by dtype; a column of strings (the usual
    case) costs one ``encode`` of its values joined (about 8 ms per 100k values); only a
    column of mixed types, or one that fails to encode, is looked at value by value. Refused
    cells are emptied, so the field checks that follow do not trip over them.
    """
    problems: list[Problem] = []
    geometry = frame.geometry.name if isinstance(frame, gpd.GeoDataFrame) else None
    for name in frame.columns:
        col = frame[name]
        is_text = isinstance(col.dtype, pd.StringDtype)
        if name == geometry or not (is_text or col.dtype == object):
            continue
        values = col.to_numpy(dtype=object)
        refused = np.zeros(len(values), bool)
        field_name = _safe(str(name))
        if not is_text:
            inferred = pd.api.types.infer_dtype(values, skipna=True)
            if inferred in _SCALAR_KINDS:
                continue
            if inferred != "string":
                refused = np.fromiter((isinstance(v, _NESTED) for v in values), bool, len(values))
                problems += [Problem(int(r), field_name, _NESTED_MESSAGE) for r in _rows(refused)[:_MAX_LISTED]]
                if refused.sum() > _MAX_LISTED:
                    problems.append(Problem(None, field_name, f"{int(refused.sum()) - _MAX_LISTED} more nested values"))
        try:
            _join_text(values).encode("utf-8")
        except UnicodeEncodeError:
            broken = {t: m for t in {v for v in values if isinstance(v, str)} if (m := _surrogate_message(t))}
            mask = np.fromiter((isinstance(v, str) and v in broken for v in values), bool, len(values)) & ~refused
            problems += [Problem(int(r), field_name, broken[values[r - 1]]) for r in _rows(mask)[:_MAX_LISTED]]
            if mask.sum() > _MAX_LISTED:
                problems.append(Problem(None, field_name, f"{int(mask.sum()) - _MAX_LISTED} more values that are "
                                        "not valid Unicode text"))
            refused |= mask
        if refused.any():
            frame[name] = col.astype(object).where(~refused, None)
    return problems


def _join_text(values: np.ndarray) -> str:
    """The strings among ``values`` joined (a fast path for all-strings columns)."""
    try:
        return "\n".join(values)
    except TypeError:  # NaN, None, numbers or objects among them
        return "\n".join(v for v in values if isinstance(v, str))
