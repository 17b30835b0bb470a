"""The progress page ``/maps/progress`` ("目标与进度"): counties coloured by their share of a
target, bars of target against actual, the overdue projects, an as-of slider.

The page is a shell: its script asks ``GET /analysis/progress?city=&year=&as_of=`` (the same
answer a script gets) and draws the map, the charts and the tables from it. The route only
checks the query against the target table, so a bad ``city``, ``year``, ``metric`` or
``as_of`` answers 400 before any page is drawn, and gives the script the cities, their years
and each year's span of days (the slider's range).
"""

from __future__ import annotations

import re
from datetime import date
from typing import Annotated

from fastapi import APIRouter, Query
from fastapi.responses import HTMLResponse

from api.deps import Reader, Store
from api.routes.maps import Lang
from gis.errors import InputError, NotFoundError
from gis.targets import TOTAL_REGION
from layers.schemas import METRIC_LABELS_ZH
from maps.i18n import t, vocabulary
from maps.pages import render_page

router = APIRouter(tags=["Maps"])

#: The city the page opens on when the target table has it.
DEFAULT_CITY = "焦作市"
#: The metric coloured on the map when the query names none and the year has it.
DEFAULT_METRIC = "delivered_units"
STATES = ("done", "on_track", "behind", "overdue")
MILESTONES = ("approved", "started", "basically_built", "delivered", "resettled")
#: Messages and labels the page's script shows (keys of ``maps.i18n.TEXT``).
_SCRIPT_TEXT = ("pg_target", "pg_actual", "pg_share", "pg_state", "pg_region", "pg_no_target",
                "pg_legend", "pg_status", "pg_synthetic", "pg_loading", "pg_failed", "pg_no_overdue",
                "pg_unmatched_none", "pg_chart_alt", "pg_due", "pg_no_due", "pg_mismatch_row",
                "pg_not_in_table", "pg_range", "pg_metric", "pg_plan_start_needed")
PlanStart = Annotated[int | None, Query(ge=1949, le=2100, description="calendar year of plan year Y1")]
AsOf = Annotated[str | None, Query(pattern=r"^\d{4}-\d{2}-\d{2}$",
                                   description="the day the progress is counted to (YYYY-MM-DD); "
                                               "default today, as the API")]


def year_span(year: str) -> tuple[date, date] | None:
    """The first and last day of a target year: ``2023`` → 2023-01-01…2023-12-31, a span
    ``2023-2024`` → 2023-01-01…2024-12-31; None for a plan year such as ``Y1``.

    Examples
    --------
    >>> year_span("2023-2024")
    (datetime.date(2023, 1, 1), datetime.date(2024, 12, 31))
    >>> year_span("Y1") is None
    True
    """
    m = re.fullmatch(r"(\d{4})(?:-(\d{4}))?", year.strip())
    if not m:
        return None
    first, last = int(m.group(1)), int(m.group(2) or m.group(1))
    return (date(first, 1, 1), date(last, 12, 31)) if first <= last else None


def _latest(years: list[str]) -> str:
    """The latest of a city's target years: by last then first day (``2024`` after
    ``2023-2024``); plan years (``Y1``) count before calendar years, by their number."""
    def key(year: str):
        span, plan = year_span(year), plan_years(year)
        if span:
            return (1, span[1].toordinal(), span[0].toordinal(), year)
        return (0, *((plan[1], plan[0]) if plan else (0, 0)), year)
    return max(years, key=key)


def _chronological(years: list[str]) -> list[str]:
    """A city's target years in the order of their first, then last day (``2023``,
    ``2023-2024``, ``2024``); plan years (``Y1``, ``Y1-Y3``, ``Y2``) by number, after."""
    def key(year: str):
        span, plan = year_span(year), plan_years(year)
        if span:
            return (0, span[0].toordinal(), span[1].toordinal(), year)
        return (1, *(plan or (0, 0)), year)
    return sorted(years, key=key)


def _metric_label(lang: str, metric: str) -> str:
    label = t(lang, f"pg_metric_{metric}")
    if label != f"pg_metric_{metric}":
        return label
    return METRIC_LABELS_ZH.get(metric, metric) if lang != "en" else metric.replace("_", " ")


def plan_years(year: str) -> tuple[int, int] | None:
    """The first and last plan year of ``Y2`` or ``Y1-Y3`` (1-based); None for calendar years.

    >>> plan_years("Y1-Y3"), plan_years("Y2"), plan_years("2023")
    ((1, 3), (2, 2), None)
    """
    m = re.fullmatch(r"Y(\d{1,2})(?:-Y(\d{1,2}))?", year.strip())
    return (int(m.group(1)), int(m.group(2) or m.group(1))) if m else None


def _span_dict(year: str) -> dict:
    """What the slider spans for ``year``: its days, or for a plan year its plan years (the
    page turns them into days once the calendar year of Y1, ``plan_start``, is known)."""
    span = year_span(year)
    if span is not None:
        return {"year": year, "start": span[0].isoformat(), "end": span[1].isoformat()}
    return {"year": year, "plan": list(plan_years(year) or (1, 1))}


def _choose(targets, city: str | None, year: str | None, metric: str | None):
    """The city, year and metric the page shows (the query's, checked, or the defaults), the
    cities → years in the table, and the chosen year's metrics."""
    for column in ("city", "year", "metric"):
        if column not in targets.columns:
            raise InputError(f"the targets layer lacks a {column!r} column")
    frame = targets.assign(year=targets.year.astype(str))
    cities: dict[str, list[str]] = {}
    for c, y in zip(frame.city, frame.year, strict=True):
        if isinstance(c, str) and c and y not in cities.setdefault(c, []):
            cities[c].append(y)
    if not cities:
        raise NotFoundError("the targets layer has no rows: import a target table first")
    cities = {c: _chronological(ys) for c, ys in cities.items()}
    if city is None:
        city = DEFAULT_CITY if DEFAULT_CITY in cities else sorted(cities)[0]
    elif city not in cities:
        raise NotFoundError(f"no targets for city {city!r}; the target table has {sorted(cities)}")
    if year is None:
        year = _latest(cities[city])
    elif year not in cities[city]:
        raise NotFoundError(f"no {city} targets for year {year!r}; {city} has {cities[city]}")
    rows = frame[(frame.city == city) & (frame.year == year)]
    metrics = list(dict.fromkeys(m for m in rows.metric if isinstance(m, str)))
    if metric is None:
        metric = DEFAULT_METRIC if DEFAULT_METRIC in metrics else (metrics[0] if metrics else "")
    elif metric not in metrics:
        raise InputError(f"no {metric!r} targets for {city} {year}; the metrics are {metrics}")
    return city, year, metric, cities, metrics


@router.get("/maps/progress", response_class=HTMLResponse,
            summary="Targets and progress: counties coloured by share, target against actual, "
                    "overdue projects, as-of slider")
def progress_page(store: Store, _: Reader, city: str | None = None, year: str | None = None,
                  as_of: AsOf = None, metric: str | None = None, plan_start: PlanStart = None,
                  lang: Lang = "zh"):
    """``city``, ``year`` (as in the target table: ``2023``, ``2023-2024``), ``metric`` (the one
    coloured on the map), ``as_of`` and ``plan_start`` (the calendar year of plan year Y1, for
    tables by plan year) preselect the form; a city or year the target table does not have
    answers 404, another bad value 400."""
    if as_of is not None:
        try:
            date.fromisoformat(as_of)
        except ValueError:
            raise InputError(f"as_of {as_of!r} is not a day (YYYY-MM-DD)") from None
    try:
        targets = store.read(store.find_kind("targets"))
    except NotFoundError:  # an empty store: the page says to import a target table first
        return render_page("progress.html", lang=lang, title=t(lang, "nav_targets"), config=None)
    city, year, metric, cities, metrics = _choose(targets, city, year, metric)
    today = date.today()
    present = {i.kind: i.name for i in store.layers() if i.is_vector}
    districts = (f"/maps/data/{present['districts']}?properties=name,city"
                 if "districts" in present else None)
    config = {
        "lang": lang, "city": city, "year": year, "metric": metric, "asOf": as_of, "planStart": plan_start,
        "today": today.isoformat(), "total": TOTAL_REGION, "districts": districts,
        "years": {c: [_span_dict(y) for y in ys] for c, ys in cities.items()},
        "latest": {c: _latest(ys) for c, ys in cities.items()},
        "metricLabels": {m: _metric_label(lang, m)
                         for m in dict.fromkeys(targets.metric.dropna().astype(str))},
        "states": {s: t(lang, f"pg_state_{s}") for s in STATES},
        "milestones": {m: t(lang, f"pg_ms_{m}") for m in MILESTONES},
        "statuses": vocabulary(lang, "renewal_status"),
        "text": {key: t(lang, key) for key in _SCRIPT_TEXT},
    }
    return render_page("progress.html", lang=lang, title=t(lang, "nav_targets"), config=config,
                       cities=sorted(cities, key=lambda c: (c != DEFAULT_CITY, c)),
                       years=cities[city], city=city, year=year, metric=metric, plan_start=plan_start,
                       metrics=[(m, config["metricLabels"][m]) for m in metrics])


__all__ = ["router", "year_span", "plan_years"]
