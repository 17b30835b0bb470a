"""Life-circle standards: the maximum walking distance to each facility category.

The default table is GB 50180-2018 (``gis/data/gb50180_2018.csv``, source cited inside).
A city's stricter rules can be loaded from CSV or YAML with the same columns
(``category, standard_m`` required; ``required, label_zh, label_en`` optional).
"""

from __future__ import annotations

__all__ = ["Standard", "default_standards", "load_standards", "CIRCLES_M"]

import io
from dataclasses import dataclass
from importlib import resources
from pathlib import Path

import pandas as pd
import yaml

from gis.errors import InputError

#: The 5-, 10- and 15-minute life circles (walking metres).
CIRCLES_M = (300, 500, 1000)


@dataclass(frozen=True)
class Standard:
    category: str
    standard_m: float | None
    required: bool
    label_zh: str
    label_en: str


def _from_frame(frame: pd.DataFrame, source: str, known: set[str] | None) -> dict[str, Standard]:
    if "category" not in frame.columns or "standard_m" not in frame.columns:
        raise InputError(f"{source}: a standards table needs columns 'category' and 'standard_m'")
    defaults = _default_table() if known is not None else {}
    out: dict[str, Standard] = {}
    for i, row in frame.reset_index(drop=True).iterrows():
        cat = str(row["category"]).strip()
        if known is not None and cat not in known:
            raise InputError(f"{source}: row {i + 1}: unknown category {cat!r}; known: {', '.join(sorted(known))}")
        value = row.get("standard_m")
        standard = None if pd.isna(value) or str(value).strip() == "" else float(value)
        if standard is not None and not 0 < standard <= 20000:
            raise InputError(f"{source}: row {i + 1}: standard_m {standard:g} must be in (0, 20000] metres")
        base = defaults.get(cat)
        required = row.get("required")
        required = (standard is not None) if required is None or pd.isna(required) else \
            str(required).strip().lower() in ("true", "1", "yes", "是")
        out[cat] = Standard(cat, standard, bool(required and standard is not None),
                            str(row.get("label_zh") or (base.label_zh if base else cat)),
                            str(row.get("label_en") or (base.label_en if base else cat.replace("_", " "))))
    return out


def _default_table() -> dict[str, Standard]:
    text = resources.files("gis").joinpath("data/gb50180_2018.csv").read_text(encoding="utf-8")
    frame = pd.read_csv(io.StringIO(text), comment="#", dtype=str)
    return _from_frame(frame, "gb50180_2018.csv", None)


def default_standards() -> dict[str, Standard]:
    """GB 50180-2018 walking distances by category.

    Examples
    --------
    >>> s = default_standards()
    >>> s["kindergarten"].standard_m, s["primary_school"].standard_m, s["metro"].standard_m
    (300.0, 500.0, 800.0)
    >>> s["hospital"].required
    False
    """
    return _default_table()


def load_standards(path, *, base: dict[str, Standard] | None = None) -> dict[str, Standard]:
    """Load a city's table (CSV or YAML) over ``base`` (default GB 50180-2018).

    YAML may be a list of rows or a mapping ``category: standard_m``.
    """
    path = Path(path)
    if not path.exists():
        raise InputError(f"{path}: no such standards file")
    base = dict(base if base is not None else _default_table())
    known = set(base)
    suffix = path.suffix.lower()
    try:
        if suffix in (".yaml", ".yml"):
            data = yaml.safe_load(path.read_text(encoding="utf-8"))
            if isinstance(data, dict):
                data = [{"category": k, "standard_m": v} for k, v in data.items()]
            if not isinstance(data, list):
                raise InputError(f"{path.name}: expected a list of rows or a mapping category: metres")
            frame = pd.DataFrame(data)
        elif suffix == ".csv":
            frame = pd.read_csv(path, comment="#", dtype=str, encoding="utf-8-sig")
        else:
            raise InputError(f"{path.name}: standards must be .csv, .yaml or .yml")
    except (yaml.YAMLError, pd.errors.ParserError, UnicodeDecodeError) as ex:
        raise InputError(f"{path.name} cannot be read as a standards table: {ex}") from ex
    base.update(_from_frame(frame, path.name, known))
    return base
