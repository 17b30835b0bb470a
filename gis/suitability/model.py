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

import json
import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, replace
from pathlib import Path

import yaml

from gis.errors import InputError, Problem, ValidationError
from gis.suitability.spec_checks import (
    _SOURCES,
    _check_ahp,
    _check_settings,
    _check_source,
    _check_transform,
    _got,
    _number,
)
from gis.suitability.transforms import Transform
from gis.suitability.weights import normalize_weights

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
#: Criterion names become raster file names (``<name>.tif``) beside build_surface's own.
_NAME = re.compile(r"\w[\w-]{0,63}")
_RESERVED_NAMES = ("surface", "reason", "factor")


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
    problems = _top_level_problems(data)
    settings = _check_settings(data, problems)
    spec = base or default_spec(settings.get("max_distance_m", 3000.0), settings.get("resolution", 10.0))
    items = data.get("criteria")
    by_name = _check_criteria(items, {c.name: c for c in spec.criteria}, raster_dirs, problems)
    if "ahp" in data:
        _apply_ahp(data["ahp"], items, by_name, problems)
    criteria = tuple(c for c in by_name.values() if c.weight > 0)
    if not criteria and not any((p.field or "").startswith("criteria") for p in problems):
        problems.append(Problem(None, "criteria", "every criterion has weight 0; give one a positive weight"))
    if problems:
        raise ValidationError(f"weights spec: {len(problems)} problem{'s' * (len(problems) > 1)}", problems)
    return SuitabilitySpec(criteria, settings.get("method", spec.method),
                           settings.get("resolution", spec.resolution),
                           settings.get("max_distance_m", spec.max_distance_m),
                           settings.get("penalty", spec.penalty))


def _top_level_problems(data) -> list[Problem]:
    """A problem per unknown top-level key; a ValidationError at once when ``data`` is not a
    mapping, as nothing in it can be checked."""
    if not isinstance(data, Mapping):
        raise ValidationError("weights spec: 1 problem", [Problem(
            None, None, f"expected a mapping with keys {', '.join(SPEC_KEYS)}; got {_got(data)}")])
    return [Problem(None, str(k), f"unknown key; use {', '.join(SPEC_KEYS)}") for k in data if k not in SPEC_KEYS]


def _apply_ahp(ahp, items, by_name: dict[str, CriterionSpec], problems: list[Problem]) -> None:
    """Replace in ``by_name`` the weights of the criteria the AHP block names. Criteria of
    ``items`` that failed their own checks count as known, so the block is not blamed for them."""
    named = set(by_name) | (set(items) if isinstance(items, Mapping) else set())
    for name, weight in _check_ahp(ahp, named, problems).items():
        if name in by_name:
            by_name[name] = replace(by_name[name], weight=weight)


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


def spec_to_json(spec: SuitabilitySpec) -> str:
    return json.dumps({"method": spec.method, "resolution": spec.resolution, "max_distance_m": spec.max_distance_m,
                       "criteria": {c.name: {"source": c.source, "weight": c.weight,
                                             "transform": {"kind": c.transform.kind, **c.transform.params}}
                                    for c in spec.criteria}}, ensure_ascii=False)
