"""Progress against yearly targets: what each county has done by a date, which deadlines it
missed, and which projects are overdue (逾期项目).

The inputs are plain frames: the target table of one city, the milestone events of renewal
areas (the ``progress`` layer), the areas themselves and the deadline table. A target metric
counts one kind of event (:data:`METRICS`); deadlines say what share of a target must be met by
which date of the plan year (:func:`row_state`).
"""

from __future__ import annotations

__all__ = ["EVENTS", "METRICS", "STATES", "Deadline", "year_window", "derive_status", "measure",
           "row_state", "region_rows", "overdue_projects"]

import re
from dataclasses import dataclass
from datetime import date

import numpy as np
import pandas as pd

from gis.errors import InputError
from gis.targets import TOTAL_REGION

#: Milestones in the order a project passes them.
EVENTS = ("approved", "started", "basically_built", "delivered", "resettled")
STAGE = {e: i for i, e in enumerate(EVENTS)}
#: metric → (the event it counts, what it counts of those events). ``projects`` counts areas
#: whose first event of that kind falls in the period; ``households``/``floor_area_m2`` take the
#: event's own figure, else the area's in proportion to the units the event covers.
METRICS = {
    "new_start_projects": ("started", "projects"),
    "new_start_units": ("started", "units"),
    "basically_built_units": ("basically_built", "units"),
    "delivered_units": ("delivered", "units"),
    "resettled_households": ("resettled", "households"),
    "projects": ("started", "projects"),  # seed 001: 实施棚户区改造项目 (projects under way)
    "households": ("started", "households"),
    "floor_area_m2": ("started", "floor_area_m2"),
}
STATES = ("done", "on_track", "behind", "overdue")
#: "Near" a deadline: a month, the bureau's reporting cycle.
NEAR_DAYS = 30


@dataclass(frozen=True)
class Deadline:
    """``share`` of a target (region scope) or of a project's milestone (project scope) due
    on ``month_day`` (``MM-DD``) of the plan year."""

    scope: str  # "region" or "project"
    applies_to: str  # a metric (region scope) or "new_start" (projects of the plan year)
    milestone: str
    month_day: str
    share: float

    def on(self, year: int) -> date:
        month, day = (int(v) for v in self.month_day.split("-"))
        return date(year, month, day)


_YEAR = re.compile(r"(\d{4}|Y\d{1,2})")


def _one_year(text: str, plan_start: int | None) -> int:
    if text.startswith("Y"):
        if plan_start is None:
            raise InputError(f"year {text!r} is a year of a plan whose calendar years the document does not "
                             "give; pass plan_start (the calendar year of Y1; renewal progress --plan-start) "
                         "to count events against it")
        return plan_start + int(text[1:]) - 1
    return int(text)


def year_window(year: str, plan_start: int | None = None) -> tuple[int, int]:
    """First and last calendar year of a target table's ``year``: ``2023``, a span ``2023-2024``,
    or plan years ``Y2``/``Y1-Y3`` (with ``plan_start``, the calendar year of Y1)."""
    parts = str(year).split("-")
    if not 1 <= len(parts) <= 2 or not all(_YEAR.fullmatch(p) for p in parts):
        raise InputError(f"year {year!r}: expected 2023, 2023-2024, Y1 or Y1-Y3")
    first, last = _one_year(parts[0], plan_start), _one_year(parts[-1], plan_start)
    if last < first:
        raise InputError(f"year {year!r}: the span ends before it starts")
    return first, last


def _dates(events: pd.DataFrame) -> pd.Series:
    return pd.to_datetime(events["date"]).dt.date


def derive_status(events: pd.DataFrame, as_of: date | None = None) -> pd.DataFrame:
    """Per area (``area_id``): the furthest milestone reached (on or before ``as_of``) and its
    date — the area's status as its events tell it (``approved`` … ``resettled``)."""
    e = events.assign(_date=_dates(events))
    if as_of is not None:
        e = e[e._date <= as_of]
    if e.empty:
        return pd.DataFrame({"area_id": pd.Series(dtype="int64"), "status": pd.Series(dtype=object),
                             "date": pd.Series(dtype=object)})
    e = e.assign(_stage=e.event.map(STAGE)).sort_values(["area_id", "_stage", "_date"])
    last = e.groupby("area_id", sort=True).tail(1)
    return pd.DataFrame({"area_id": last.area_id.astype("int64").to_numpy(), "status": last.event.to_numpy(),
                         "date": [d.isoformat() for d in last._date]})


def measure(events: pd.DataFrame, areas: pd.DataFrame, metric: str, first: date, last: date) -> pd.Series:
    """The metric's count per area id over events dated ``first`` … ``last`` (inclusive)."""
    if metric not in METRICS:
        raise InputError(f"metric {metric!r} has no event rule; known: {', '.join(METRICS)}")
    event, what = METRICS[metric]
    e = events[events.event == event].assign(_date=_dates(events[events.event == event]))
    if what == "projects":  # an area started in two batches counts once, in its first start's year
        firsts = e.groupby("area_id")._date.min()
        inside = firsts[(firsts >= first) & (firsts <= last)]
        return pd.Series(1.0, index=inside.index)
    e = e[(e._date >= first) & (e._date <= last)]
    if what == "units":
        return e.groupby("area_id").units.sum().astype(float)
    by_id = areas.set_index("id")
    units = pd.to_numeric(e.area_id.map(by_id.units), errors="coerce").to_numpy(float)
    ratio = np.divide(e.units.to_numpy(float), units, out=np.full(len(e), np.nan), where=units > 0)
    column = "households" if what == "households" else "floor_area_m2"
    whole = pd.to_numeric(e.area_id.map(by_id[column]) if column in by_id else np.nan, errors="coerce")
    value = pd.Series(np.asarray(whole, float) * ratio, index=e.index)
    if what == "households" and "households" in e:
        value = pd.to_numeric(e.households, errors="coerce").astype(float).fillna(value)
    return value.fillna(0.0).groupby(e.area_id).sum()


def row_state(target: float, actual: float, as_of: date, deadlines: list[tuple[date, float]]) -> tuple[str, str | None]:
    """``(state, due)`` of one target row.

    done: the target is met. overdue: a deadline has passed with the share still short of
    what it asked (``due`` = the earliest such). behind: the next deadline is within
    :data:`NEAR_DAYS` and the share short of it. on_track otherwise (``due`` = the next deadline).
    """
    share = actual / target if target > 0 else 1.0
    ordered = sorted(deadlines)
    if share >= 1.0 - 1e-12:
        return "done", ordered[-1][0].isoformat() if ordered else None
    missed = [d for d, need in ordered if d < as_of and share < need - 1e-12]
    if missed:
        return "overdue", missed[0].isoformat()
    ahead = [(d, need) for d, need in ordered if d >= as_of and share < need - 1e-12]
    if not ahead:
        return "on_track", None
    due = ahead[0][0]
    return ("behind" if (due - as_of).days <= NEAR_DAYS else "on_track"), due.isoformat()


def region_rows(targets: pd.DataFrame, events: pd.DataFrame, areas: pd.DataFrame, deadlines: list[Deadline], *,
                year: str, as_of: date, plan_start: int | None = None) -> list[dict]:
    """One row per (region, metric) of ``targets`` (one city's table for ``year``): target,
    actual (events on or before ``as_of`` inside the year, by the area's county), share, due,
    state. The 合计 row counts the other regions' events."""
    first_year, last_year = year_window(year, plan_start)
    first, last = date(first_year, 1, 1), min(date(last_year, 12, 31), as_of)
    county = areas.set_index("id").county
    rows = []
    regions = [r for r in dict.fromkeys(targets.region) if r != TOTAL_REGION]
    for metric in dict.fromkeys(targets.metric):
        counted = measure(events, areas, metric, first, last) if last >= first else pd.Series(dtype=float)
        by_region = counted.groupby(counted.index.map(county)).sum() if len(counted) else pd.Series(dtype=float)
        due = [(d.on(last_year), d.share) for d in deadlines if d.scope == "region" and d.applies_to == metric]
        due = due or [(date(last_year, 12, 31), 1.0)]
        for _, t in targets[targets.metric == metric].iterrows():
            actual = float(by_region[by_region.index.isin(regions)].sum() if t.region == TOTAL_REGION
                           else by_region.get(t.region, 0.0))
            target = float(t.value)
            state, due_on = row_state(target, actual, as_of, due)
            rows.append({"region": t.region, "metric": metric, "target": target, "actual": round(actual, 4),
                         "share": round(actual / target, 4) if target > 0 else 1.0, "due": due_on, "state": state})
    order = {r: i for i, r in enumerate([*regions, TOTAL_REGION])}
    return sorted(rows, key=lambda r: order[r["region"]])


def overdue_projects(events: pd.DataFrame, areas: pd.DataFrame, deadlines: list[Deadline], *, year: str,
                     as_of: date, plan_start: int | None = None) -> list[dict]:
    """New-start projects (areas of a plan year inside ``year``, with units to build) that have
    not reached a project milestone whose deadline passed before ``as_of``: one entry per area,
    naming the first step it is stuck at, the longest late first."""
    first_year, last_year = year_window(year, plan_start)
    project = [d for d in deadlines if d.scope == "project" and d.applies_to == "new_start"]
    reached = events.assign(_date=_dates(events), _stage=events.event.map(STAGE))
    reached = reached[reached._date <= as_of]
    furthest = reached.groupby("area_id")._stage.max()
    plan = pd.to_numeric(areas.plan_year, errors="coerce")
    units = pd.to_numeric(areas.units, errors="coerce").fillna(0)
    chosen = areas[(plan >= first_year) & (plan <= last_year) & (units > 0)]
    out = []
    project.sort(key=lambda d: STAGE[d.milestone])
    for _, a in chosen.iterrows():
        stage = furthest.get(a.id, -1)
        for d in project:
            due = d.on(int(a.plan_year))
            if due < as_of and stage < STAGE[d.milestone]:
                out.append({"area": a["name"], "area_id": int(a.id), "county": a.county, "milestone": d.milestone,
                            "due": due.isoformat(), "days_late": (as_of - due).days})
                break
    return sorted(out, key=lambda o: (-o["days_late"], o["county"], o["area"], STAGE[o["milestone"]]))
