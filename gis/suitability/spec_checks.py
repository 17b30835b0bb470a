"""Checks of the values in a weights spec: grid settings, criterion sources, transforms and
the AHP block. Each adds a :class:`Problem` at the value's key path instead of raising, so
:func:`~gis.suitability.model.spec_from_dict` can list every problem at once.
"""

from __future__ import annotations

import functools
import inspect
import math
import numbers
import os
import re
import warnings
from collections.abc import Mapping

import numpy as np

from gis.errors import InputError, Problem
from gis.standards import default_standards
from gis.suitability.combine import METHODS
from gis.suitability.transforms import TRANSFORMS, Transform
from gis.suitability.weights import ahp_weights

_AHP_KEYS = ("names", "matrix", "allow_inconsistent")
_SOURCES = "service:<category>, origin, main_roads, slope or raster:<path>"
#: Grid settings: (test, what the value must be).
_SETTINGS = {
    "resolution": (lambda v: 1 <= v <= 1000, "the cell size in metres, from 1 to 1000"),
    "max_distance_m": (lambda v: 0 < v <= 20000, "metres, more than 0 and at most 20000"),
    "penalty": (lambda v: 0 <= v <= 1, "a fraction from 0 to 1"),
}
_NOT_SET = inspect.Parameter.empty


def _got(value) -> str:
    """A short rendering of a bad value for a message, in JSON's words."""
    if value is None:
        return "null"
    if isinstance(value, bool):
        return str(value).lower()
    text = repr(value)
    return text if len(text) <= 40 else text[:37] + "..."


def _number(value) -> float | None:
    """``value`` as a finite float, or None for anything else (bools, strings, NaN, ±inf)."""
    if isinstance(value, bool) or not isinstance(value, numbers.Real):
        return None
    try:
        v = float(value)
    except OverflowError:  # an int beyond float range
        return None
    return v if math.isfinite(v) else None


def _check_settings(data: Mapping, problems: list[Problem]) -> dict:
    """The valid ones of ``method``, ``resolution``, ``max_distance_m`` and ``penalty``."""
    out: dict = {}
    if "method" in data:
        method = data["method"]
        if isinstance(method, str) and method in METHODS:
            out["method"] = method
        else:
            problems.append(Problem(None, "method",
                                    f"unknown method {_got(method)}; use one of {', '.join(METHODS)}"))
    for key, (ok, what) in _SETTINGS.items():
        if key in data:
            v = _number(data[key])
            if v is None or not ok(v):
                problems.append(Problem(None, key, f"must be {what}; got {_got(data[key])}"))
            else:
                out[key] = v
    return out


def _check_source(value, key: str, raster_dirs, problems: list[Problem]) -> str | None:
    """A valid source string, or None after adding a problem."""
    if value in ("origin", "main_roads", "slope"):
        return value
    kind, sep, rest = value.partition(":") if isinstance(value, str) else ("", "", "")
    if sep and kind == "service":
        categories = _service_categories()
        if rest in categories:
            return value
        problems.append(Problem(None, key, f"unknown service category {rest!r}; use one of {', '.join(categories)}"))
        return None
    if sep and kind == "raster":
        return _check_raster(rest, key, raster_dirs, problems)
    problems.append(Problem(None, key, f"unknown source {_got(value)}; use {_SOURCES}"))
    return None


@functools.cache
def _service_categories() -> tuple[str, ...]:
    return tuple(default_standards())


def _check_raster(path: str, key: str, raster_dirs, problems: list[Problem]) -> str | None:
    """``raster:<path>`` if allowed by ``raster_dirs`` (see :func:`spec_from_dict`): resolved
    when restricted, so what is opened later is what was checked here."""
    if not path:
        problems.append(Problem(None, key, "raster:<path> needs the path of a raster file"))
        return None
    if raster_dirs is None:
        return f"raster:{path}"
    if isinstance(raster_dirs, str | os.PathLike):
        raster_dirs = [raster_dirs]
    if not raster_dirs:
        problems.append(Problem(None, key, "raster sources are not allowed here; use a layer of the store"))
        return None
    try:
        real = os.path.realpath(path)
        for folder in map(os.path.realpath, raster_dirs):
            if real != folder and os.path.commonpath([real, folder]) == folder:
                return f"raster:{real}"
    except ValueError:  # a NUL byte, or paths on different drives
        pass
    problems.append(Problem(None, key, "raster sources must be inside one of the allowed folders"))
    return None


def _check_transform(value, key: str, problems: list[Problem]) -> Transform | None:
    """``{kind, ...params}`` as a Transform, or None after adding its problems."""
    if not isinstance(value, Mapping):
        problems.append(Problem(None, key, f"expected a mapping {{kind: ..., <parameters>}}; got {_got(value)}"))
        return None
    kind = value.get("kind")
    if not isinstance(kind, str) or kind not in TRANSFORMS:
        what = "missing" if "kind" not in value else f"unknown transform {_got(kind)}"
        problems.append(Problem(None, f"{key}.kind", f"{what}; use one of {', '.join(TRANSFORMS)}"))
        return None
    params = {k: v for k, v in value.items() if k != "kind"}
    return Transform(kind, params) if _check_params(kind, params, key, problems) else None


@functools.cache
def _transform_params(kind: str) -> dict[str, inspect.Parameter]:
    """The parameters a spec may give a transform: those of its function but the data."""
    sig = inspect.signature(TRANSFORMS[kind])
    return {n: p for n, p in sig.parameters.items() if n not in ("x", "out", "scale")}


def _check_params(kind: str, params: dict, key: str, problems: list[Problem]) -> bool:
    """Are ``params`` those ``kind`` takes, of the right types and consistent? Problems are
    added at ``<key>.<param>``."""
    accepted, before = _transform_params(kind), len(problems)
    problems.extend(Problem(None, f"{key}.{k}", f"{kind} takes no parameter {str(k)!r}; it takes "
                            f"{', '.join(accepted)}") for k in params if k not in accepted)
    for name, p in accepted.items():
        if name in params:
            message = _param_problem(params[name], p)
        else:
            message = f"{kind} needs {name!r}" if p.default is _NOT_SET else None
        if message:
            problems.append(Problem(None, f"{key}.{name}", message))
    if len(problems) > before:
        return False
    # Types are right: let the transform itself check how they fit together (high > low …).
    try:
        with np.errstate(all="ignore"), warnings.catch_warnings():
            warnings.simplefilter("ignore")
            TRANSFORMS[kind](np.array([0.0, 1.0], np.float32), **params)
    except (ValueError, ArithmeticError) as ex:  # InputError is a ValueError; 1e-200 squared is 0
        named = [(m.start(), n) for n in params if (m := re.search(rf"\b{re.escape(n)}\b", str(ex)))]
        problems.append(Problem(None, f"{key}.{min(named)[1]}" if named else key, str(ex)))
        return False
    return True


def _param_problem(value, p: inspect.Parameter) -> str | None:
    """What is wrong with a transform parameter's type, judged by its annotation."""
    annotation = str(p.annotation)
    if annotation == "bool":
        return None if isinstance(value, bool) else f"must be true or false; got {_got(value)}"
    if annotation.startswith("list["):
        ok = isinstance(value, list | tuple) and all(_number(v) is not None for v in value)
        return None if ok else f"must be a list of numbers; got {_got(value)}"
    if value is None and p.default is None:  # optional: taken from the data
        return None
    return None if _number(value) is not None else f"must be a number; got {_got(value)}"


def _check_ahp(ahp, known: set[str], problems: list[Problem]) -> dict[str, float]:
    """Criterion name → AHP weight, or {} after adding the block's problems."""
    if not isinstance(ahp, Mapping):
        problems.append(Problem(None, "ahp", "expected a mapping {names: [...], matrix: [[...]], "
                                f"allow_inconsistent: false}}; got {_got(ahp)}"))
        return {}
    before = len(problems)
    problems.extend(Problem(None, f"ahp.{k}", f"unknown key; use {', '.join(_AHP_KEYS)}")
                    for k in ahp if k not in _AHP_KEYS)
    names, matrix = ahp.get("names"), ahp.get("matrix")
    given = {k: _got(ahp[k]) if k in ahp else "nothing" for k in ("names", "matrix")}
    if not isinstance(names, list) or not names or not all(isinstance(n, str) for n in names):
        problems.append(Problem(None, "ahp.names", "expected the list of criteria the matrix compares, in its "
                                f"row order; got {given['names']}"))
    elif unknown := [n for n in names if n not in known]:
        problems.append(Problem(None, "ahp.names", f"unknown criteria {', '.join(map(repr, unknown))}; "
                                f"known: {', '.join(sorted(known))}"))
    elif len(set(names)) < len(names):
        problems.append(Problem(None, "ahp.names", "a criterion is named twice"))
    rows = matrix if isinstance(matrix, list) and all(isinstance(r, list) for r in matrix) else None
    if not rows or any(len(r) != len(rows) or any(_number(v) is None for v in r) for r in rows):
        problems.append(Problem(None, "ahp.matrix", "expected n rows of n numbers (row i: how much more "
                                f"important criterion i is than each); got {given['matrix']}"))
    elif isinstance(names, list) and len(rows) != len(names):
        problems.append(Problem(None, "ahp.matrix", f"{len(rows)} rows for {len(names)} names"))
    allow = ahp.get("allow_inconsistent", False)
    if not isinstance(allow, bool):
        problems.append(Problem(None, "ahp.allow_inconsistent", f"must be true or false; got {_got(allow)}"))
    if len(problems) > before:
        return {}
    try:
        result = ahp_weights(rows, names, allow_inconsistent=allow)
    except InputError as ex:  # not reciprocal, not positive, inconsistent, more than 10
        problems.append(Problem(None, "ahp.matrix", str(ex)))
        return {}
    return {n: float(w) for n, w in zip(result.names, result.weights, strict=True)}
