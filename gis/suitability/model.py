"""The suitability model for one renewal area: which criteria, how transformed and weighted,
and building the surface on a grid around the area.

Defaults serve what resettled households need (就医、就读、出行 and daily shopping) and keep
them near home (就近安置); slope keeps sites buildable. A YAML/JSON file, or the same mapping
sent over HTTP, can change any criterion, its transform and weight, or give an AHP matrix
instead of weights; :func:`spec_from_dict` checks all of it first and lists every problem.
"""

from __future__ import annotations

__all__ = ["CriterionSpec", "SuitabilitySpec", "default_spec", "spec_from_dict", "load_spec", "read_spec_file",
           "SPEC_KEYS", "spec_to_json", "MAIN_ROAD_CLASSES"]

import functools
import inspect
import json
import math
import numbers
import os
import re
import warnings
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, replace
from pathlib import Path

import numpy as np
import yaml

from gis.errors import InputError, Problem, ValidationError
from gis.standards import default_standards
from gis.suitability.combine import METHODS
from gis.suitability.transforms import TRANSFORMS, Transform
from gis.suitability.weights import ahp_weights, normalize_weights

MAIN_ROAD_CLASSES = ("expressway", "arterial", "secondary")


@dataclass(frozen=True)
class CriterionSpec:
    """``source``: ``service:<category>``, ``origin``, ``main_roads``, ``slope`` or ``raster:<path>``."""

    name: str
    source: str
    transform: Transform
    weight: float
    label_zh: str = ""


@dataclass(frozen=True)
class SuitabilitySpec:
    criteria: tuple[CriterionSpec, ...]
    method: str = "weighted_sum"
    resolution: float = 10.0
    max_distance_m: float = 3000.0
    penalty: float = 0.5

    def weights(self) -> dict[str, float]:
        return normalize_weights({c.name: c.weight for c in self.criteria})


def default_spec(max_distance_m: float = 3000.0, resolution: float = 10.0) -> SuitabilitySpec:
    def c(name, source, kind, weight, zh, **params):
        return CriterionSpec(name, source, Transform(kind, params), weight, zh)

    return SuitabilitySpec((
        c("origin", "origin", "linear", 25, "距原片区(就近安置)", low=0, high=max_distance_m, increasing=False),
        c("primary_school", "service:primary_school", "near", 15, "就读:小学", midpoint=500, spread=100),
        c("kindergarten", "service:kindergarten", "near", 10, "就读:幼儿园", midpoint=300, spread=60),
        c("hospital", "service:hospital", "near", 15, "就医:医院", midpoint=1500, spread=300),
        c("bus_stop", "service:bus_stop", "near", 15, "出行:公交站", midpoint=500, spread=100),
        c("market", "service:market", "near", 10, "生活:菜市场", midpoint=500, spread=100),
        c("slope", "slope", "classes", 10, "坡度", breaks=[3, 8, 15], values=[1.0, 0.7, 0.3, 0.0]),
    ), max_distance_m=max_distance_m, resolution=resolution)


#: Top-level keys of a weights spec.
SPEC_KEYS = ("method", "resolution", "max_distance_m", "penalty", "criteria", "ahp")
_CRITERION_KEYS = ("weight", "source", "transform", "label_zh")
_AHP_KEYS = ("names", "matrix", "allow_inconsistent")
_SOURCES = "service:<category>, origin, main_roads, slope or raster:<path>"
#: Grid settings: (test, what the value must be).
_SETTINGS = {
    "resolution": (lambda v: 1 <= v <= 1000, "the cell size in metres, from 1 to 1000"),
    "max_distance_m": (lambda v: 0 < v <= 20000, "metres, more than 0 and at most 20000"),
    "penalty": (lambda v: 0 <= v <= 1, "a fraction from 0 to 1"),
}
#: Criterion names become raster file names (``<name>.tif``) beside build_surface's own.
_NAME = re.compile(r"\w[\w-]{0,63}")
_RESERVED_NAMES = ("surface", "reason", "factor")
_NOT_SET = inspect.Parameter.empty


def spec_from_dict(data: Mapping, *, base: SuitabilitySpec | None = None,
                   raster_dirs: Sequence[str | Path] | None = None) -> SuitabilitySpec:
    """A suitability spec from a decoded YAML/JSON mapping, checked as a whole first.

    Parameters
    ----------
    data : mapping
        Keys (all optional): ``method``, ``resolution``, ``max_distance_m``, ``penalty``,
        ``criteria`` (name → ``{weight, source, transform: {kind, ...params}, label_zh}`` or
        name → weight; ``weight: 0`` drops a criterion; a new one needs ``source`` and
        ``transform``) and ``ahp: {names: [...], matrix: [[...]], allow_inconsistent: false}``,
        whose weights replace those of the criteria it names.
    base : SuitabilitySpec, optional
        The spec to change; default :func:`default_spec` at the given max distance and
        resolution.
    raster_dirs : sequence of paths, optional
        Where ``raster:<path>`` sources may lie. None allows any path (the CLI, whose user
        owns the machine); otherwise the path, with symlinks and ``..`` resolved, must be
        inside one of these folders, and an empty sequence refuses raster sources. The file
        is not opened.

    Returns
    -------
    SuitabilitySpec

    Raises
    ------
    ValidationError
        Listing every problem at once, each at its key path (``criteria.school.transform.kind``).

    Examples
    --------
    >>> spec = spec_from_dict({"criteria": {"market": 0, "hospital": {"weight": 20}}})
    >>> [(c.name, c.weight) for c in spec.criteria][2:5]
    [('kindergarten', 10), ('hospital', 20.0), ('bus_stop', 15)]
    >>> spec_from_dict({"method": "best", "criteria": {"park": {"source": "service:park"}}})
    Traceback (most recent call last):
    ...
    gis.errors.ValidationError: weights spec: 2 problems
      - field 'method': unknown method 'best'; use one of weighted_sum, weighted_product, minimum
      - field 'criteria.park.transform': a new criterion needs a transform {kind: ..., <parameters>}
    """
    if not isinstance(data, Mapping):
        raise ValidationError("weights spec: 1 problem", [Problem(
            None, None, f"expected a mapping with keys {', '.join(SPEC_KEYS)}; got {_got(data)}")])
    problems: list[Problem] = [Problem(None, str(k), f"unknown key; use {', '.join(SPEC_KEYS)}")
                               for k in data if k not in SPEC_KEYS]
    settings = _check_settings(data, problems)
    spec = base or default_spec(settings.get("max_distance_m", 3000.0), settings.get("resolution", 10.0))
    items = data.get("criteria")
    by_name = _check_criteria(items, {c.name: c for c in spec.criteria}, raster_dirs, problems)
    if "ahp" in data:
        named = set(by_name) | (set(items) if isinstance(items, Mapping) else set())
        for name, weight in _check_ahp(data["ahp"], named, problems).items():
            if name in by_name:
                by_name[name] = replace(by_name[name], weight=weight)
    criteria = tuple(c for c in by_name.values() if c.weight > 0)
    if not criteria and not any((p.field or "").startswith("criteria") for p in problems):
        problems.append(Problem(None, "criteria", "every criterion has weight 0; give one a positive weight"))
    if problems:
        raise ValidationError(f"weights spec: {len(problems)} problem{'s' * (len(problems) > 1)}", problems)
    return SuitabilitySpec(criteria, settings.get("method", spec.method),
                           settings.get("resolution", spec.resolution),
                           settings.get("max_distance_m", spec.max_distance_m),
                           settings.get("penalty", spec.penalty))


def read_spec_file(path):
    """The parsed content of a weights/criteria file (YAML or JSON; None when empty); an
    InputError for a missing or unreadable file."""
    path = Path(path)
    if not path.is_file():
        raise InputError(f"{path}: no such weights file")
    try:
        return yaml.safe_load(path.read_text(encoding="utf-8"))
    except (yaml.YAMLError, UnicodeDecodeError) as ex:
        raise InputError(f"{path.name} is not valid YAML/JSON: {ex}") from ex


def load_spec(path, base: SuitabilitySpec | None = None, *,
              raster_dirs: Sequence[str | Path] | None = None) -> SuitabilitySpec:
    """Read a weights/criteria file (YAML or JSON) with :func:`spec_from_dict`.

    An empty file gives the default spec. Raises :class:`InputError` for a missing or
    unreadable file and :class:`ValidationError` (its summary prefixed by the file name)
    for a bad spec.
    """
    path = Path(path)
    data = read_spec_file(path)
    try:
        return spec_from_dict({} if data is None else data, base=base, raster_dirs=raster_dirs)
    except ValidationError as ex:
        raise ValidationError(f"{path.name}: {ex.summary}", ex.problems) from None


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


def _check_criteria(items, by_name: dict[str, CriterionSpec], raster_dirs,
                    problems: list[Problem]) -> dict[str, CriterionSpec]:
    """``by_name`` updated by the valid criteria of ``items``; the others become problems."""
    out = dict(by_name)
    if items is None:
        return out
    if not isinstance(items, Mapping):
        problems.append(Problem(None, "criteria", "expected a mapping of criterion name → "
                                f"{{{', '.join(_CRITERION_KEYS)}}} or name → weight; got {_got(items)}"))
        return out
    for name, item in items.items():
        if not isinstance(name, str) or not _NAME.fullmatch(name) or name in _RESERVED_NAMES:
            problems.append(Problem(None, f"criteria.{name}", "a criterion name is 1 to 64 letters, digits, _ or -, "
                                    f"starting with a letter, digit or _, and not {', '.join(_RESERVED_NAMES)}"))
            continue
        spec = _check_criterion(name, item, by_name.get(name), raster_dirs, problems)
        if spec is not None:
            out[name] = spec
    return out


def _check_criterion(name: str, item, old: CriterionSpec | None, raster_dirs,
                     problems: list[Problem]) -> CriterionSpec | None:
    """One criterion over ``old`` (None for a new one), or None after adding its problems."""
    key, before = f"criteria.{name}", len(problems)
    if not isinstance(item, Mapping):  # name → weight
        weight = _number(item)
        if weight is None or weight < 0:
            problems.append(Problem(None, key, "expected a weight (a number >= 0; 0 drops the criterion) or a "
                                    f"mapping with keys {', '.join(_CRITERION_KEYS)}; got {_got(item)}"))
        elif old is None:
            problems.append(Problem(None, key, f"a new criterion needs a mapping with a source ({_SOURCES}) "
                                    "and a transform"))
        return replace(old, weight=weight) if len(problems) == before else None
    problems.extend(Problem(None, f"{key}.{k}", f"unknown key; use {', '.join(_CRITERION_KEYS)}")
                    for k in item if k not in _CRITERION_KEYS)
    weight = _number(item.get("weight", old.weight if old else 1.0))
    if weight is None or weight < 0:
        problems.append(Problem(None, f"{key}.weight", "the weight must be a number >= 0 (0 drops the "
                                f"criterion); got {_got(item['weight'])}"))
    source = old.source if old else None
    if "source" in item:
        source = _check_source(item["source"], f"{key}.source", raster_dirs, problems)
    elif old is None:
        problems.append(Problem(None, f"{key}.source", f"a new criterion needs a source: {_SOURCES}"))
    transform = old.transform if old else None
    if "transform" in item:
        transform = _check_transform(item["transform"], f"{key}.transform", problems)
    elif old is None:
        problems.append(Problem(None, f"{key}.transform",
                                "a new criterion needs a transform {kind: ..., <parameters>}"))
    label = item.get("label_zh", old.label_zh if old else name)
    if not isinstance(label, str):
        problems.append(Problem(None, f"{key}.label_zh", f"must be text; got {_got(label)}"))
    if len(problems) > before:
        return None
    return CriterionSpec(name, source, transform, weight, label)


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


def spec_to_json(spec: SuitabilitySpec) -> str:
    return json.dumps({"method": spec.method, "resolution": spec.resolution, "max_distance_m": spec.max_distance_m,
                       "criteria": {c.name: {"source": c.source, "weight": c.weight,
                                             "transform": {"kind": c.transform.kind, **c.transform.params}}
                                    for c in spec.criteria}}, ensure_ascii=False)
