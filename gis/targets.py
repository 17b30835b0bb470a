"""Check yearly renewal target tables: totals against their rows, spans against years,
and regions against district boundaries (development zones are reported, never dropped)."""

from __future__ import annotations

__all__ = ["TargetCheck", "check_targets", "TOTAL_REGION", "DEVELOPMENT_ZONES"]

from dataclasses import asdict, dataclass

import pandas as pd

from gis.errors import InputError

TOTAL_REGION = "合计"
#: Zones that appear in target tables but are not administrative districts.
DEVELOPMENT_ZONES = {
    "示范区": "焦作市城乡一体化示范区 (development zone, not an administrative district)",
    "赣州经开区": "赣州经济技术开发区 (development zone, not an administrative district)",
    "赣州蓉江新区": "赣州蓉江新区 (new area, not an administrative district)",
}


@dataclass(frozen=True)
class TargetCheck:
    """One check: ``kind`` is ``total``, ``span`` or ``region``."""

    kind: str
    city: str
    region: str
    year: str
    metric: str
    expected: float | None
    actual: float | None
    ok: bool
    message: str

    def to_dict(self) -> dict:
        return asdict(self)


def _required(frame: pd.DataFrame) -> None:
    missing = {"city", "region", "year", "metric", "value"} - set(frame.columns)
    if missing:
        raise InputError(f"'targets' lacks columns {sorted(missing)}")


def _span_years(span: str) -> list[str]:
    """``2023-2024`` → 2023, 2024; plan years ``Y1-Y3`` → Y1, Y2, Y3 (a plan whose document does
    not give its calendar years is checked in its own years, never renumbered)."""
    first, last = span.split("-")
    prefix = "Y" if first.startswith("Y") else ""
    return [f"{prefix}{y}" for y in range(int(first.lstrip("Y")), int(last.lstrip("Y")) + 1)]


def check_targets(targets: pd.DataFrame, districts: pd.DataFrame | None = None) -> list[TargetCheck]:
    """Check a target table.

    - each 合计 row equals the sum of the other rows (per city, year, metric);
    - each span year such as ``2023-2024`` (or plan years ``Y1-Y3``) equals the sum of its
      years (per region, metric);
    - each region matches a district of its city by name, or is reported as unmatched
      (development zones say so) — never silently dropped.

    Examples
    --------
    >>> t = pd.DataFrame({"city": ["A"] * 3, "region": ["x", "y", "合计"], "year": ["2023"] * 3,
    ...                   "metric": ["units"] * 3, "value": [1, 2, 3]})
    >>> [c.ok for c in check_targets(t)]
    [True]
    """
    _required(targets)
    t = targets.copy()
    t["year"] = t["year"].astype(str)
    t["value"] = pd.to_numeric(t["value"])
    checks: list[TargetCheck] = []
    for (city, year, metric), group in t.groupby(["city", "year", "metric"], sort=False):
        total = group[group.region == TOTAL_REGION]
        if total.empty:
            continue
        expected = float(total.value.sum())
        actual = float(group[group.region != TOTAL_REGION].value.sum())
        ok = abs(expected - actual) < 1e-9
        checks.append(TargetCheck("total", city, TOTAL_REGION, year, metric, expected, actual, ok,
                                  f"{city} {year} {metric}: 合计 {expected:g} " +
                                  ("= sum of rows" if ok else f"≠ sum of rows {actual:g} (difference {expected - actual:+g})")))
    spans = t[t.year.str.fullmatch(r"\d{4}-\d{4}|Y\d{1,2}-Y\d{1,2}")]
    for (city, region, year, metric), group in spans.groupby(["city", "region", "year", "metric"], sort=False):
        years = _span_years(year)
        parts = t[(t.city == city) & (t.region == region) & (t.metric == metric) & t.year.isin(years)]
        if parts.empty:
            continue
        expected, actual = float(group.value.sum()), float(parts.value.sum())
        ok = abs(expected - actual) < 1e-9 and parts.year.nunique() == len(years)
        checks.append(TargetCheck("span", city, region, year, metric, expected, actual, ok,
                                  f"{city} {region} {metric}: {year} {expected:g} " +
                                  ("= sum of its years" if ok else f"≠ sum of its years {actual:g}")))
    if districts is not None:
        known = {(str(c), str(n)) for c, n in zip(districts.get("city", ""), districts["name"], strict=False)}
        names = {str(n) for n in districts["name"]}
        for (city, region), _ in t[t.region != TOTAL_REGION].groupby(["city", "region"], sort=False):
            matched = (city, region) in known or (region in names and "city" not in districts)
            if matched:
                continue
            why = DEVELOPMENT_ZONES.get(region, "no district of this name in the boundary layer")
            checks.append(TargetCheck("region", city, region, "", "", None, None, False,
                                      f"{city} {region}: matches no district — {why}; kept in the table"))
    return checks
