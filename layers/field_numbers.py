"""Number fields of an input layer: text read as numbers, each value checked against the
field's range, and the column cast to the schema's int or float (for layers.validate)."""

from __future__ import annotations

__all__ = ["check_numbers"]

import numpy as np
import pandas as pd

from gis.errors import Problem
from layers.schemas import Field

_RANGES = {"population": (0, 1e8), "households": (0, 1e6), "units": (0, 1e6), "floor_area_m2": (0, 1e9), "investment": (0, 1e9),
           "built_year": (1800, 2100), "plan_year": (1949, 2100), "capacity": (0, 1e6),
           "max_far": (0.01, 30), "buffer_m": (0, 100000)}
# Fields without a range of their own: integers up to what float64 holds exactly (and far
# inside int64), floats anything finite.
_DEFAULT_RANGES = {"int": (-(2.0**53), 2.0**53), "float": (-np.inf, np.inf)}


def check_numbers(frame: pd.DataFrame, f: Field, text: pd.Series | None, empty: pd.Series,
                  problems: list[Problem]) -> None:
    """Report the values of the int or float field ``f`` that are not numbers or out of its range,
    and store the column as numbers, those values blanked. ``text`` is the column as stripped
    text, None when it came in as numbers; ``empty`` marks the blank cells."""
    col = frame[f.name]
    if text is None:  # the column came in as numbers
        numbers = col.astype("float64")
        bad = np.zeros(len(col), bool)
    else:
        numbers = pd.to_numeric(text.str.replace(",", "", regex=False).where(~empty), errors="coerce")
        numbers = numbers.astype("float64")
        bad = (~empty & numbers.isna()).to_numpy()
    for r in np.flatnonzero(bad)[:50] + 1:  # 1-based rows, as Problem has them
        problems.append(Problem(int(r), f.name, f"not a number: {col.iloc[r - 1]!r}"))
    lo, hi = _RANGES.get(f.name, _DEFAULT_RANGES[f.dtype])
    values = numbers.to_numpy()
    given = ~bad & ~empty.to_numpy()
    with np.errstate(invalid="ignore"):
        out = given & ~(np.isfinite(values) & (values >= lo) & (values <= hi))
    for r in np.flatnonzero(out)[:50] + 1:
        v = values[r - 1]
        if np.isfinite(lo) or np.isfinite(hi) or np.isfinite(v):
            msg = f"{_num(v)} is out of range ({_num(lo)} … {_num(hi)})"
        else:
            msg = f"{_num(v)} is not a finite number"
        problems.append(Problem(int(r), f.name, msg))
    # Out-of-range values are reported above; blank them so the cast cannot overflow.
    numbers = numbers.where(~out)
    if f.dtype == "int":
        frame[f.name] = numbers.round().astype("Int64")
    else:
        frame[f.name] = numbers


def _num(v: float) -> str:
    """1000000 rather than 1e+06 for whole numbers a planner would type; 1e+308, inf as such."""
    v = float(v)
    return str(int(v)) if v.is_integer() and abs(v) < 1e16 else f"{v:g}"
