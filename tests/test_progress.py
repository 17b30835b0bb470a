"""Progress against the yearly targets (issue #14): worked answers by hand.

The targets are seed 000's Jiaozuo 2023 table as printed; the areas and their events are a
small hand-made set, so every share, state and overdue entry below is worked out on paper.
"""

from datetime import date

import pandas as pd
import pytest

from gis.errors import InputError
from gis.progress import derive_status, overdue_projects, region_rows, row_state, year_window
from gis.targets import check_targets
from layers.progress import parse_date, read_deadlines

SEED_000 = {  # region: (new_start_projects, new_start_units, basically_built_units, delivered_units)
    "沁阳市": (0, 0, 70, 0), "孟州市": (0, 0, 1416, 1416), "武陟县": (0, 0, 558, 558), "修武县": (0, 0, 150, 150),
    "解放区": (1, 880, 415, 0), "示范区": (0, 0, 3916, 3916), "合计": (1, 880, 6525, 6040)}
METRICS = ("new_start_projects", "new_start_units", "basically_built_units", "delivered_units")


def jiaozuo_2023() -> pd.DataFrame:
    return pd.DataFrame([{"city": "焦作市", "region": r, "year": "2023", "metric": m, "value": float(v)}
                         for r, values in SEED_000.items() for m, v in zip(METRICS, values, strict=True)])


AREAS = pd.DataFrame([
    # id, name, county, plan_year, units, households, floor_area_m2
    (1, "A", "解放区", 2023, 880, 800, 80000.0),   # the year's new-start project, started late
    (2, "B", "孟州市", 2021, 1416, 1300, 120000.0),
    (3, "C", "武陟县", 2021, 600, 560, 50000.0),
    (4, "D", "示范区", 2022, 4000, 3600, 300000.0),
    (5, "E", "沁阳市", 2023, 70, 64, 6000.0),
    (6, "F", "解放区", 2022, 500, 450, 40000.0),
    (7, "G", "修武县", 2023, 200, 180, 16000.0),    # approved late, never started
    (8, "H", "孟州市", 2023, 300, 280, 24000.0),    # no event at all
    (9, "I", "中站区", 2023, 0, 0, 0.0),           # no units to build: not a housing project
], columns=["id", "name", "county", "plan_year", "units", "households", "floor_area_m2"])

EVENTS = pd.DataFrame([
    (1, "2023-03-20", "approved", 880), (1, "2023-07-10", "started", 880),
    (2, "2022-11-01", "basically_built", 1416), (2, "2023-05-10", "delivered", 700),
    (2, "2023-09-20", "delivered", 716),
    (3, "2023-07-20", "delivered", 300), (3, "2023-11-15", "delivered", 258),
    (4, "2023-06-01", "basically_built", 2000), (4, "2023-10-01", "basically_built", 1916),
    (4, "2023-09-01", "delivered", 3200),
    (5, "2023-02-01", "approved", 70), (5, "2023-03-01", "started", 70), (5, "2023-12-20", "basically_built", 70),
    (6, "2023-09-15", "basically_built", 415),
    (7, "2023-04-10", "approved", 200),
], columns=["area_id", "date", "event", "units"]).assign(households=None)


def report(as_of: date) -> tuple[dict, list[dict]]:
    rows = region_rows(jiaozuo_2023(), EVENTS, AREAS, read_deadlines(), year="2023", as_of=as_of)
    table = {(r["region"], r["metric"]): (r["actual"], r["share"], r["state"], r["due"]) for r in rows}
    return table, overdue_projects(EVENTS, AREAS, read_deadlines(), year="2023", as_of=as_of)


def test_before_the_june_deadline():
    t, overdue = report(date(2023, 6, 15))
    # Only E (沁阳) has started; 解放区's one project is due to start within 15 days: behind.
    assert t["解放区", "new_start_projects"] == (0.0, 0.0, "behind", "2023-06-30")
    assert t["解放区", "new_start_units"] == (0.0, 0.0, "behind", "2023-06-30")
    assert t["沁阳市", "new_start_units"] == (70.0, 1.0, "done", "2023-06-30")  # a zero target is met
    assert t["合计", "new_start_units"] == (70.0, round(70 / 880, 4), "behind", "2023-06-30")
    # Delivery: 700 of 孟州's 1416 so far; the 80 % deadline is 107 days away.
    assert t["孟州市", "delivered_units"] == (700.0, round(700 / 1416, 4), "on_track", "2023-09-30")
    assert t["示范区", "basically_built_units"] == (2000.0, round(2000 / 3916, 4), "on_track", "2023-12-31")
    assert t["孟州市", "basically_built_units"][0] == 0.0  # B's 2022 completion is not this year's
    assert t["合计", "delivered_units"] == (700.0, round(700 / 6040, 4), "on_track", "2023-09-30")
    # H has no approval by 03-31 (76 days late); A's and G's start is not due yet.
    assert overdue == [{"area": "H", "area_id": 8, "county": "孟州市", "milestone": "approved",
                        "due": "2023-03-31", "days_late": 76}]


def test_after_the_june_deadline():
    t, overdue = report(date(2023, 7, 31))
    assert t["解放区", "new_start_projects"] == (1.0, 1.0, "done", "2023-06-30")  # A started 07-10, late
    assert t["合计", "new_start_units"] == (950.0, round(950 / 880, 4), "done", "2023-06-30")
    assert t["武陟县", "delivered_units"] == (300.0, round(300 / 558, 4), "on_track", "2023-09-30")
    assert overdue == [
        {"area": "H", "area_id": 8, "county": "孟州市", "milestone": "approved", "due": "2023-03-31", "days_late": 122},
        {"area": "G", "area_id": 7, "county": "修武县", "milestone": "started", "due": "2023-06-30", "days_late": 31},
    ]


def test_after_the_september_deadline():
    t, overdue = report(date(2023, 10, 15))
    assert t["孟州市", "delivered_units"] == (1416.0, 1.0, "done", "2023-12-31")
    # 武陟: 300 of 558 (53.8 %) is short of the 80 % due 09-30: overdue since then.
    assert t["武陟县", "delivered_units"] == (300.0, round(300 / 558, 4), "overdue", "2023-09-30")
    assert t["修武县", "delivered_units"] == (0.0, 0.0, "overdue", "2023-09-30")
    # 示范区 delivered 3200 of 3916 (81.7 %): the 80 % is met, the rest is due 12-31.
    assert t["示范区", "delivered_units"] == (3200.0, round(3200 / 3916, 4), "on_track", "2023-12-31")
    assert t["示范区", "basically_built_units"] == (3916.0, 1.0, "done", "2023-12-31")
    assert t["解放区", "basically_built_units"] == (415.0, 1.0, "done", "2023-12-31")
    total = 700 + 716 + 300 + 3200
    assert t["合计", "delivered_units"] == (float(total), round(total / 6040, 4), "on_track", "2023-12-31")
    assert t["合计", "basically_built_units"] == (4331.0, round(4331 / 6525, 4), "on_track", "2023-12-31")
    assert [(o["area"], o["milestone"], o["days_late"]) for o in overdue] == [("H", "approved", 198),
                                                                             ("G", "started", 107)]


def test_every_row_of_the_table_is_reported_in_its_order():
    rows = region_rows(jiaozuo_2023(), EVENTS, AREAS, read_deadlines(), year="2023", as_of=date(2023, 12, 31))
    assert [r["region"] for r in rows][::4] == list(SEED_000)  # 示范区 kept, 合计 last
    assert len(rows) == 7 * 4
    assert {r["metric"] for r in rows} == set(METRICS)


def ganzhou(region="会昌县"):
    values = {"2023-2024": (560, 284), "2023": (260, 76), "2024": (300, 208)}
    return pd.DataFrame([{"city": "赣州市", "region": region, "year": y, "metric": m, "value": float(v)}
                         for y, vs in values.items() for m, v in zip(("new_start_units", "basically_built_units"), vs,
                                                                     strict=True)])


def test_ganzhou_spans_count_both_years():
    areas = pd.DataFrame([(1, "K", "会昌县", 2023, 600, 500, 0.0)], columns=AREAS.columns)
    events = pd.DataFrame([(1, "2023-05-01", "started", 260), (1, "2024-04-01", "started", 300),
                           (1, "2024-12-01", "basically_built", 200)], columns=["area_id", "date", "event", "units"])
    dl = read_deadlines()

    def rows(year, as_of):
        t = ganzhou()
        return {r["metric"]: (r["actual"], r["state"], r["due"])
                for r in region_rows(t[t.year == year], events, areas, dl, year=year, as_of=as_of)}

    assert rows("2023", date(2023, 12, 31)) == {"new_start_units": (260.0, "done", "2023-06-30"),
                                                "basically_built_units": (0.0, "behind", "2023-12-31")}
    assert rows("2024", date(2024, 5, 1))["new_start_units"] == (300.0, "done", "2024-06-30")
    # The span: both years' starts (560 of 560); completions due at the end of its last year.
    span = rows("2023-2024", date(2024, 12, 31))
    assert span["new_start_units"] == (560.0, "done", "2024-06-30")
    assert span["basically_built_units"] == (200.0, "behind", "2024-12-31")  # due today: not yet late
    assert rows("2023-2024", date(2025, 1, 5))["basically_built_units"] == (200.0, "overdue", "2024-12-31")


def test_plan_years_need_their_calendar_year():
    assert year_window("2023") == (2023, 2023)
    assert year_window("2023-2024") == (2023, 2024)
    assert year_window("Y2", plan_start=2024) == (2025, 2025)
    assert year_window("Y1-Y3", plan_start=2024) == (2024, 2026)
    with pytest.raises(InputError, match="plan_start"):
        year_window("Y1")
    with pytest.raises(InputError, match="expected"):
        year_window("二〇二三")


def test_seed_001_metrics_count_started_projects_households_and_floor_area():
    t = pd.DataFrame([{"city": "XX区", "region": "解放区", "year": "Y1", "metric": m, "value": v}
                      for m, v in (("projects", 2), ("households", 1000), ("floor_area_m2", 100000))])
    rows = region_rows(t, EVENTS, AREAS, read_deadlines(), year="Y1", as_of=date(2023, 12, 31), plan_start=2023)
    got = {r["metric"]: r["actual"] for r in rows}
    # Started in 2023 in 解放区: A only (880 of its 880 units → all 800 households, 80,000 m²).
    assert got == {"projects": 1.0, "households": 800.0, "floor_area_m2": 80000.0}
    half = EVENTS.copy()
    half.loc[(half.area_id == 1) & (half.event == "started"), ["units", "households"]] = [440, 390]
    rows = region_rows(t, half, AREAS, read_deadlines(), year="Y1", as_of=date(2023, 12, 31), plan_start=2023)
    # The event's own households win; floor area in proportion to the units it covers.
    assert {r["metric"]: r["actual"] for r in rows} == {"projects": 1.0, "households": 390.0, "floor_area_m2": 40000.0}


def test_seed_001_plan_years_check_against_their_total():
    rows = [("Y1-Y3", 24, 13161, 1283400), ("Y1", 8, 3926, 385700), ("Y2", 6, 4332, 488900), ("Y3", 10, 4903, 408800)]
    t = pd.DataFrame([{"city": "XX区", "region": "XX区", "year": y, "metric": m, "value": v}
                      for y, *vs in rows for m, v in zip(("projects", "households", "floor_area_m2"), vs, strict=True)])
    checks = check_targets(t)
    assert [(c.kind, c.metric, c.ok) for c in checks] == [("span", "projects", True), ("span", "households", True),
                                                          ("span", "floor_area_m2", True)]
    t.loc[(t.year == "Y2") & (t.metric == "households"), "value"] = 4333
    bad = [c for c in check_targets(t) if not c.ok]
    assert len(bad) == 1 and "Y1-Y3" in bad[0].message and "13162" in bad[0].message


def test_row_state_near_and_passed():
    due = [(date(2023, 9, 30), 0.8), (date(2023, 12, 31), 1.0)]
    assert row_state(100, 10, date(2023, 8, 30), due) == ("on_track", "2023-09-30")  # 31 days ahead
    assert row_state(100, 10, date(2023, 8, 31), due) == ("behind", "2023-09-30")    # 30 days: near
    assert row_state(100, 10, date(2023, 9, 30), due) == ("behind", "2023-09-30")    # the due day itself
    assert row_state(100, 10, date(2023, 10, 1), due) == ("overdue", "2023-09-30")
    assert row_state(100, 85, date(2023, 10, 1), due) == ("on_track", "2023-12-31")  # 80 % met, 100 % ahead
    assert row_state(100, 85, date(2024, 1, 1), due) == ("overdue", "2023-12-31")
    assert row_state(0, 0, date(2023, 1, 1), due) == ("done", "2023-12-31")


def test_status_is_the_furthest_milestone():
    got = derive_status(EVENTS).set_index("area_id")
    assert got.status.to_dict() == {1: "started", 2: "delivered", 3: "delivered", 4: "delivered", 5: "basically_built",
                                    6: "basically_built", 7: "approved"}
    assert got.date[4] == "2023-09-01"  # delivered is further than the later basically_built batch
    assert derive_status(EVENTS, as_of=date(2023, 3, 1)).set_index("area_id").status.to_dict() == {
        2: "basically_built", 5: "started"}


@pytest.mark.parametrize(("text", "expected"), [
    ("2023-03-15", date(2023, 3, 15)), ("2023/3/5", date(2023, 3, 5)), ("2023年3月15日", date(2023, 3, 15)),
    ("2023-03-15 00:00:00", date(2023, 3, 15)), ("2023.03.15", date(2023, 3, 15)),
    ("2023-02-30", None), ("2023-13-01", None), ("15/03/2023", None), ("soon", None)])
def test_dates_as_offices_write_them(text, expected):
    assert parse_date(text) == expected


def test_a_city_may_replace_the_deadline_table(tmp_path):
    own = tmp_path / "deadlines.csv"
    own.write_text("scope,applies_to,milestone,due,share,source\n"
                   "project,new_start,started,05-31,1.0,our own\n"
                   "region,delivered_units,delivered,06-30,0.4,our own\n", encoding="utf-8")
    deadlines = read_deadlines(own)
    rows = region_rows(jiaozuo_2023(), EVENTS, AREAS, deadlines, year="2023", as_of=date(2023, 7, 1))
    t = {(r["region"], r["metric"]): (r["state"], r["due"]) for r in rows}
    assert t["武陟县", "delivered_units"] == ("overdue", "2023-06-30")  # 0 of 558 by 06-30, 40 % was due
    assert t["孟州市", "delivered_units"] == ("on_track", None)  # 700 of 1416 ≥ 40 %; no later deadline
    assert t["解放区", "new_start_units"] == ("on_track", "2023-12-31")  # A starts 07-10; no June deadline here
    overdue = overdue_projects(EVENTS, AREAS, deadlines, year="2023", as_of=date(2023, 7, 1))
    # Only the start is asked for, by 05-31: A (started 07-10), G and H are late.
    assert {(o["area"], o["milestone"], o["days_late"]) for o in overdue} == {("A", "started", 31), ("G", "started", 31),
                                                                             ("H", "started", 31)}
    bad = tmp_path / "bad.csv"
    bad.write_text("scope,applies_to,milestone,due,share\nregion,delivered_units,delivered,13-40,0.8\n")
    with pytest.raises(InputError, match="row 1"):
        read_deadlines(bad)
