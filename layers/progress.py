"""The ``progress`` layer (milestone events of renewal areas) checked against the areas, and
the deadline table the progress report applies.

Checked on import, the whole file before anything is written: every event names a renewal
area (by name or id), a real date, a known milestone, units above zero and, per area and
milestone, no more units in total than the area has; an area's milestones come in order (no
delivery dated before its start). An area whose stored ``status`` disagrees with the furthest
milestone of its events is noticed, not refused (the events are the newer word).
"""

from __future__ import annotations

__all__ = ["progress_check", "parse_date", "read_deadlines", "status_mismatches", "DEADLINES_FILE"]

import re
from collections.abc import Callable
from datetime import date
from pathlib import Path

import pandas as pd

from gis.errors import InputError, Problem
from gis.progress import EVENTS, STAGE, Deadline, derive_status
from layers.schemas import VOCABULARIES

#: The deadlines of seed 000 (焦棚改领〔2023〕1号 §一(二)); a planner may give another table.
DEADLINES_FILE = Path(__file__).parent / "data" / "deadlines.csv"
_DATE = re.compile(r"\s*(\d{4})\s*[-/.年]\s*(\d{1,2})\s*[-/.月]\s*(\d{1,2})\s*日?(?:[ T]00:00(?::00)?)?\s*")


def parse_date(text) -> date | None:
    """A calendar date from what offices write (2023-03-15, 2023/3/15, 2023年3月15日, an xlsx
    date cell read as text); None when it is not one (2023-02-30 included)."""
    if isinstance(text, date):
        return text
    m = _DATE.fullmatch(str(text))
    if not m:
        return None
    try:
        return date(*(int(g) for g in m.groups()))
    except ValueError:
        return None


def _resolve_areas(frame: pd.DataFrame, areas: pd.DataFrame, problems: list[Problem]) -> pd.Series:
    by_name = {str(n).strip(): int(i) for n, i in zip(areas["name"], areas["id"], strict=True)}
    ids = set(by_name.values())
    resolved = []
    for row, value in enumerate(frame["area"], start=1):
        key = str(value).strip() if value is not None else ""
        found = by_name.get(key)
        if found is None and key.isdigit() and int(key) in ids:
            found = int(key)
        if found is None and key:
            problems.append(Problem(row, "area", f"no renewal area named {key!r} (give its name or id as in "
                                                 "the renewal areas layer)"))
        resolved.append(found)
    return pd.Series(resolved, index=frame.index, dtype="Int64")


def _check_rows(frame: pd.DataFrame, problems: list[Problem]) -> pd.Series:
    dates = []
    for row, value in enumerate(frame["date"], start=1):
        parsed = parse_date(value) if value is not None else None
        if parsed is None and value is not None:
            problems.append(Problem(row, "date", f"{value!r} is not a date; write it as YYYY-MM-DD"))
        dates.append(parsed)
    for row, units in enumerate(frame["units"], start=1):
        if units is not pd.NA and units is not None and units <= 0:
            problems.append(Problem(row, "units", f"{units} units: an event covers more than 0 units"))
    return pd.Series(dates, index=frame.index, dtype=object)


def _check_totals(e: pd.DataFrame, areas: pd.DataFrame, problems: list[Problem]) -> None:
    """Per area and milestone, the units of all its events stay within the area's units."""
    units = areas.set_index("id")["units"]
    names = areas.set_index("id")["name"]
    for (area_id, event), group in e.groupby(["area_id", "event"], sort=False):
        have = units.get(area_id)
        total = int(group.units.sum())
        if have is None or pd.isna(have) or total <= int(have):
            continue
        rows = [int(r) for r in group._row if r > 0]
        where = ", ".join(str(r) for r in rows)
        problems.append(Problem(max(rows) if rows else None, "units",
                                f"{names[area_id]} {event}: {total} units in total (rows {where}) are more than "
                                f"the area's {int(have)} units"))


def _check_order(e: pd.DataFrame, areas: pd.DataFrame, problems: list[Problem]) -> None:
    """No milestone dated before an earlier milestone of the same area (delivered before started)."""
    names = areas.set_index("id")["name"]
    zh = VOCABULARIES["progress_event"]
    for area_id, group in e.groupby("area_id", sort=False):
        first = group.groupby("event")._date.min()
        for _, r in group[group._row > 0].iterrows():
            earlier = [k for k in EVENTS[: STAGE[r.event]] if k in first and first[k] > r._date]
            if earlier:
                k = earlier[0]
                problems.append(Problem(int(r._row), "date",
                                        f"{names[area_id]}: {r.event} ({zh[r.event]}) on {r._date} is before its "
                                        f"{k} ({zh[k]}) on {first[k]}; milestones come in order"))


def progress_check(areas: pd.DataFrame, existing: pd.DataFrame | None = None
                   ) -> Callable[[pd.DataFrame, list[Problem], list[Problem]], None]:
    """The whole-file check of a progress import against the renewal ``areas`` (and, when
    appending, the ``existing`` events): fills ``area_id``, writes dates as YYYY-MM-DD, adds
    every problem (with its row) and notices stored statuses its events contradict."""
    if areas is None or len(areas) == 0:
        raise InputError("import the renewal areas before their progress: events name renewal areas")

    def check(frame: pd.DataFrame, problems: list[Problem], notices: list[Problem]) -> None:
        found: list[Problem] = []
        frame["area_id"] = _resolve_areas(frame, areas, found)
        dates = _check_rows(frame, found)
        frame["date"] = [d.isoformat() if d is not None else None for d in dates]
        ok = frame.area_id.notna() & dates.notna() & frame.event.notna() & frame.units.notna()
        new = frame[ok].assign(_date=dates[ok], _row=[i + 1 for i in range(len(frame)) if ok.iloc[i]])
        if existing is not None and len(existing):
            old = existing.assign(_date=[parse_date(d) for d in existing["date"]], _row=0)
            new = pd.concat([old, new], ignore_index=True)
        if len(new):
            new = new.astype({"area_id": "int64"})
            _check_totals(new, areas, found)
            _check_order(new, areas, found)
        problems += sorted(found, key=lambda p: (p.row or 0))
        if not found and len(new):
            notices += [Problem(None, "status", m["message"]) for m in status_mismatches(new, areas)]
    return check


def status_mismatches(events: pd.DataFrame, areas: pd.DataFrame) -> list[dict]:
    """Areas whose stored ``status`` is not the furthest milestone of their events."""
    derived = derive_status(events).set_index("area_id")
    zh = VOCABULARIES["renewal_status"]
    out = []
    for _, a in areas.iterrows():
        stored = a.get("status") or "planned"
        got = derived.status.get(int(a.id), "planned")
        if stored == got:
            continue
        when = derived.date.get(int(a.id))
        out.append({"area": a["name"], "area_id": int(a.id), "stored": stored, "derived": got,
                    "latest_event": got if when else None, "date": when,
                    "message": f"{a['name']}: stored status {stored} ({zh.get(stored, stored)}) but its events say "
                               f"{got} ({zh.get(got, got)})" + (f" since {when}" if when else " (no events)")})
    return out


def read_deadlines(path=None) -> list[Deadline]:
    """The deadline table (CSV: scope, applies_to, milestone, due MM-DD, share, source)."""
    path = Path(path) if path else DEADLINES_FILE
    try:
        table = pd.read_csv(path, dtype=str, comment="#", encoding="utf-8-sig").fillna("")
    except (OSError, UnicodeDecodeError, pd.errors.ParserError, pd.errors.EmptyDataError) as ex:
        raise InputError(f"cannot read the deadline table {path.name}: {ex}") from ex
    missing = {"scope", "applies_to", "milestone", "due", "share"} - set(table.columns)
    if missing:
        raise InputError(f"deadline table {path.name} lacks columns {sorted(missing)}")
    out = []
    for row, r in enumerate(table.itertuples(index=False), start=1):
        try:
            share = float(r.share)
            deadline = Deadline(r.scope.strip(), r.applies_to.strip(), r.milestone.strip(), r.due.strip(), share)
            deadline.on(2024)  # a leap year: 02-29 is a valid due day
            if deadline.scope not in ("region", "project") or deadline.milestone not in STAGE or not 0 < share <= 1:
                raise ValueError
        except ValueError:
            raise InputError(f"deadline table {path.name}, row {row}: expected scope region|project, a milestone "
                             f"({', '.join(EVENTS)}), due as MM-DD and a share in (0, 1]") from None
        out.append(deadline)
    return out
