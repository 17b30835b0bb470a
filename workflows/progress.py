"""The progress report of one city and target year (issue #14), shared by the CLI and the API:
gather the target table, the milestone events and the areas from the store, count, shape."""

from __future__ import annotations

__all__ = ["progress_report", "progress_choices"]

from datetime import date

import pandas as pd

from gis.errors import InputError, NotFoundError
from gis.progress import METRICS, overdue_projects, region_rows
from gis.targets import DEVELOPMENT_ZONES, TOTAL_REGION
from layers.progress import read_deadlines, status_mismatches
from layers.schemas import METRIC_LABELS_ZH
from layers.store import LayerStore

_EVENT_COLUMNS = ["area_id", "date", "event", "units", "households"]


def _targets(store: LayerStore) -> pd.DataFrame:
    if not store.has_kind("targets"):
        raise NotFoundError("the store has no target table; import one with --kind targets")
    t = store.read(store.find_kind("targets"))
    return t.assign(year=t.year.astype(str), value=pd.to_numeric(t.value))


def progress_choices(store: LayerStore) -> dict[str, list[str]]:
    """city → the years of its target table (what a report can be asked for)."""
    t = _targets(store)
    return {city: list(dict.fromkeys(g.year)) for city, g in t.groupby("city", sort=False)}


def _events(store: LayerStore) -> tuple[pd.DataFrame, bool]:
    if not store.has_kind("progress"):
        return pd.DataFrame(columns=_EVENT_COLUMNS), False
    name = store.find_kind("progress")
    events = store.read(name)
    events = events[events.area_id.notna()].astype({"area_id": "int64"})
    return events, bool(store.info(name).synthetic)


def _city_counties(store: LayerStore, city: str, regions: list[str]) -> set[str]:
    """The counties of ``city``: its districts in the boundary layer and its target regions."""
    names = set(regions)
    if store.has_kind("districts"):
        d = store.read(store.find_kind("districts"), columns=["name", "city"])
        if "city" in d:
            names |= set(d.name[d.city == city])
    return names


def _district_names(store: LayerStore) -> set[str]:
    if not store.has_kind("districts"):
        return set()
    return set(store.read(store.find_kind("districts"), columns=["name"]).name)


def progress_report(store: LayerStore, *, city: str, year: str | int, as_of: date | None = None,
                    deadlines_file=None, plan_start: int | None = None) -> dict:
    """The report (see issue #14 for the shape): per region and metric the target, what the
    events dated on or before ``as_of`` (default today) inside the year add up to, the share,
    the next or missed deadline and a state; the new-start projects past a deadline."""
    as_of = as_of or date.today()
    year = str(year)
    t = _targets(store)
    if city not in set(t.city):
        raise NotFoundError(f"no targets for city {city!r}; cities: {', '.join(dict.fromkeys(t.city))}")
    table = t[(t.city == city) & (t.year == year)]
    if table.empty:
        years = ", ".join(dict.fromkeys(t.year[t.city == city]))
        raise NotFoundError(f"no {city} targets for year {year!r}; its years: {years}")
    unknown = sorted(set(table.metric) - set(METRICS))
    if unknown:
        raise InputError(f"{city} {year}: no event counts metric(s) {', '.join(unknown)}; known: {', '.join(METRICS)}")
    areas = store.read(store.find_kind("renewal_areas")) if store.has_kind("renewal_areas") else None
    if areas is None:
        raise NotFoundError("the store has no renewal areas; progress counts their events")
    events, synthetic = _events(store)
    deadlines = read_deadlines(deadlines_file)
    regions = [r for r in dict.fromkeys(table.region) if r != TOTAL_REGION]
    rows = region_rows(table, events, areas, deadlines, year=year, as_of=as_of, plan_start=plan_start)
    known = _district_names(store)
    for row in rows:
        matched = row["region"] == TOTAL_REGION or not known or row["region"] in known
        row["district_match"] = matched
        row["note"] = "" if matched else DEVELOPMENT_ZONES.get(row["region"], "no district of this name in the "
                                                                              "boundary layer; kept in the table")
    counties = _city_counties(store, city, regions)
    city_areas = areas[areas.county.isin(counties)]
    overdue = overdue_projects(events, city_areas, deadlines, year=year, as_of=as_of, plan_start=plan_start)
    city_events = events[events.area_id.isin(city_areas.id)]
    mismatches = [{k: v for k, v in m.items() if k != "message"} for m in status_mismatches(city_events, city_areas)]
    metrics = list(dict.fromkeys(table.metric))
    notes = [n for n in dict.fromkeys(table.get("note", pd.Series(dtype=object)).dropna()) if n]
    outside = sorted(set(city_areas.county) - set(regions))
    if outside:
        notes.append(f"{'、'.join(outside)}的片区不计入任何一行：{year} 目标表未给这些县区下达任务 "
                     f"(areas there count toward no row: the table sets them no target)")
    return {"city": city, "year": year, "as_of": as_of.isoformat(), "metrics": metrics,
            "labels": {m: METRIC_LABELS_ZH.get(m, m) for m in metrics}, "regions": [*regions, TOTAL_REGION]
            if (table.region == TOTAL_REGION).any() else regions, "rows": rows, "overdue": overdue,
            "status_mismatches": mismatches, "notes": notes, "events": int(len(city_events)),
            "synthetic": synthetic}
