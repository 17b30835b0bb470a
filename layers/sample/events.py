"""Synthetic milestone events of the sample city's renewal areas (the ``progress`` layer).

The sample's data date is the end of its target year (seed 000 is Jiaozuo's 2023 plan), so
areas planned for 2024 or later have no events yet and stay ``planned``. The documented
projects get hand-written timelines that fit what the seeds say of them (南朱村 and 西大井 are
2023 new starts not yet under way; 和祥 phase 2 started late); the synthetic areas follow a
seeded timeline from their plan year. Every area's status is the furthest milestone reached.
"""

from __future__ import annotations

__all__ = ["DATA_DATE", "sample_events", "status_of"]

from datetime import date, timedelta

import numpy as np
import pandas as pd

#: The day the sample city's progress is known up to.
DATA_DATE = date(2023, 12, 31)

# name → [(event, date)] for the documented projects; each event covers the area's units.
_DOCUMENTED = {
    "西大井片区": [("approved", "2023-03-20")],
    "山阳区纪念塔东南角片区棚户区改造": [("approved", "2023-03-10"), ("started", "2023-06-18")],
    "中站区和祥小区拆迁安置": [("approved", "2022-03-25"), ("started", "2022-06-20"),
                              ("basically_built", "2023-10-30")],
    "中站区和祥小区拆迁安置二期（和祥五号地块）": [("approved", "2023-04-12"), ("started", "2023-08-15")],
    "中南路（南朱村）安置项目": [("approved", "2023-03-28")],
    "沁阳市城南城中村改造": [("approved", "2023-02-20"), ("started", "2023-03-30"),
                            ("basically_built", "2023-11-25")],
}
# Days from one milestone to the next (uniform range) in the synthetic timelines.
_STEPS = (("started", 30, 150), ("basically_built", 300, 600), ("delivered", 90, 270), ("resettled", 30, 120))


def _timeline(plan_year: int, rng: np.random.Generator) -> list[tuple[str, date]]:
    day = date(plan_year, 1, 15) + timedelta(days=int(rng.integers(0, 95)))  # most approvals by 03-31
    out = [("approved", day)]
    for event, lo, hi in _STEPS:
        day = day + timedelta(days=int(rng.integers(lo, hi)))
        out.append((event, day))
    return out


def sample_events(areas: pd.DataFrame, rng: np.random.Generator) -> pd.DataFrame:
    """Events (area name, date, event, units, households, note) of ``areas`` up to
    :data:`DATA_DATE`; areas without units to build get none."""
    rows = []
    for _, a in areas.iterrows():
        units = int(a.units) if a.units == a.units and a.units else 0
        if units <= 0:
            continue
        if a["name"] in _DOCUMENTED:
            timeline = [(e, date.fromisoformat(d)) for e, d in _DOCUMENTED[a["name"]]]
            note = "示例：按文件所述进度编写"
        else:
            timeline = [(e, d) for e, d in _timeline(int(a.plan_year), rng) if d <= DATA_DATE]
            note = "模拟数据"
        for event, day in timeline:
            rows.append({"area": a["name"], "date": day.isoformat(), "event": event, "units": units,
                         "households": int(a.households) if event == "resettled" and a.households == a.households else None, "note": note})
    return pd.DataFrame(rows, columns=["area", "date", "event", "units", "households", "note"])


def status_of(areas: pd.DataFrame, events: pd.DataFrame) -> pd.Series:
    """Each area's furthest milestone by :data:`DATA_DATE` (``planned`` without events)."""
    order = {e: i for i, e in enumerate(("approved", "started", "basically_built", "delivered", "resettled"))}
    furthest = events.assign(stage=events.event.map(order)).sort_values("stage").groupby("area").event.last()
    return areas["name"].map(furthest).fillna("planned")
