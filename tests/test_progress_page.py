"""The progress page ``/maps/progress`` (目标与进度) in a real headless Chromium, against the real
``GET /analysis/progress`` of the sample city: its table is the API's rows for the same city,
year and as-of day, counties are coloured by their share and 示范区 is listed beside the map,
the 截至日期 slider asks again, overdue projects link to their area pages; offline, on a phone,
in English; bad query values answer 4xx."""

from __future__ import annotations

import re
from datetime import date
from pathlib import Path

import httpx
import pytest
from fastapi.testclient import TestClient

import maps
from api.app import create_app
from api.settings import Settings
from tests.test_home import UNLABELLED_JS, wait_loaded
from tests.test_maps import Page, browser, server  # noqa: F401  (fixtures of the map tests)

CITY, YEAR = "焦作市", "2023"
STATES_ZH = {"done": "已完成", "on_track": "正常推进", "behind": "进度滞后", "overdue": "已逾期"}
STATES_EN = {"done": "Done", "on_track": "On track", "behind": "Behind", "overdue": "Overdue"}
MILESTONES_ZH = {"approved": "立项批复/前期手续", "started": "新开工", "basically_built": "基本建成",
                 "delivered": "建成交付", "resettled": "回迁安置"}
#: The map's ramp (maps/static/progress.js): the lowest share of each class and its fill.
RAMP = [(0, "#ffffcc"), (0.2, "#d9f0a3"), (0.4, "#addd8e"), (0.6, "#78c679"), (0.8, "#31a354"), (1, "#006837")]
GREY = "#d0d0d0"


def fill_for(share: float) -> str:
    return [color for low, color in RAMP if share >= low][-1]


def api(server, **params) -> dict:  # noqa: F811
    r = httpx.get(server + "/analysis/progress", params={"city": CITY, "year": YEAR, **params}, timeout=60)
    assert r.status_code == 200, r.text
    return r.json()


def open_page(browser, server, path="/maps/progress", width=1280):  # noqa: F811
    p = Page(browser, server, path)
    p.page.set_viewport_size({"width": width, "height": 900})
    loaded(p)
    return p


def loaded(p, as_of: str | None = None) -> None:
    """Wait until the page has drawn the API's answer (for ``as_of``) and the county outlines."""
    want = f"=== '{as_of}'" if as_of else "!== null"
    p.page.wait_for_function(f"document.body.getAttribute('data-loaded') {want}", timeout=60000)
    p.page.wait_for_function("document.body.getAttribute('data-districts') !== null", timeout=30000)


def number(text: str) -> float | None:
    text = text.strip().replace(",", "").rstrip("%")
    return None if text in ("", "—") else float(text)


def page_table(p) -> list[list[str]]:
    return [row.locator("th, td").all_inner_texts()
            for row in p.page.locator("#progress-table tbody tr").all()]


def assert_table_is(p, report: dict, states=STATES_ZH) -> None:
    """The page's table shows the report's rows: per region, per metric target, actual, share, state."""
    rows = page_table(p)
    assert [r[0] for r in rows] == report["regions"]
    by_key = {(r["region"], r["metric"]): r for r in report["rows"]}
    assert len(by_key) == len(report["rows"])
    shown = 0
    for cells in rows:
        region = cells[0]
        for i, metric in enumerate(report["metrics"]):
            target, actual, share, state = cells[1 + 4 * i: 5 + 4 * i]
            row = by_key.get((region, metric))
            if row is None:
                assert (target, actual, share) == ("—", "—", "—")
                continue
            shown += 1
            assert number(target) == pytest.approx(row["target"], abs=0.01), (region, metric)
            assert number(actual) == pytest.approx(row["actual"], abs=0.01), (region, metric)
            assert number(share) == pytest.approx(row["share"] * 100, abs=0.0501), (region, metric)
            assert state == states[row["state"]], (region, metric)
    assert shown == len(report["rows"])


def day_index(p, day: str) -> int:
    start = p.page.locator("#as-of-range").inner_text()[:10]
    return (date.fromisoformat(day) - date.fromisoformat(start)).days


@pytest.fixture(scope="module")
def client(sample_store):
    return TestClient(create_app(Settings(store=str(sample_store.path))))


# --- without a browser ------------------------------------------------------------------------

def test_bad_query_values_answer_4xx_never_500(client):
    for query, status in (("year=1999", 404), ("city=无此城市", 404), ("city=焦作市&year=2024-2025", 404),
                          ("metric=no_such_metric", 400), ("as_of=2023-02-30", 400),
                          ("as_of=yesterday", 400), ("lang=fr", 400)):
        r = client.get(f"/maps/progress?{query}")
        assert r.status_code == status, (query, r.text)
        assert r.headers["content-type"] == "application/problem+json" and r.json()["detail"], query
    for query in ("city=焦作市&year=1999", "city=无此城市&year=2023"):
        assert 400 <= client.get(f"/analysis/progress?{query}").status_code < 500, query


def test_the_page_and_its_assets_are_served_locally(client):
    page = client.get("/maps/progress")
    assert page.status_code == 200 and "<title>目标与进度</title>" in page.text
    scripts = re.findall(r'<(?:script|link)[^>]+(?:src|href)="([^"]+)"', page.text)
    assert "/static/maps/vendor/chartjs/chart.umd.js" in scripts
    assert all(s.startswith(("/", "data:")) and not s.startswith("//") for s in scripts), scripts  # no CDN
    for asset in scripts:
        if asset.startswith("/static/"):
            assert client.get(asset).status_code == 200, asset
    vendor = Path(maps.__file__).parent / "static" / "vendor"
    assert "MIT" in (vendor / "chartjs" / "LICENSE").read_text()
    assert "chart.js 4." in (vendor / "README.md").read_text()
    # The navigation's 目标与进度 is this page; the older choropleth stays at /maps/targets.
    assert 'href="/maps/progress?lang=zh">目标与进度</a>' in client.get("/maps/import").text
    assert client.get("/maps/targets?city=焦作市&metric=delivered_units").status_code == 200


# --- the page in Chromium ---------------------------------------------------------------------

def test_home_link_opens_the_page_on_the_apis_answer(browser, server):  # noqa: F811
    p = Page(browser, server, "/")
    p.page.get_by_role("link", name="目标与进度", exact=True).first.click()
    p.page.wait_for_url("**/maps/progress?lang=zh*")
    loaded(p)
    assert p.page.title() == "目标与进度"
    assert p.page.get_by_label("城市").input_value() == CITY
    assert p.page.get_by_label("年度").input_value() == YEAR  # the city's latest (only) year
    assert p.page.get_by_label("指标").input_value() == "delivered_units"
    metric_labels = p.page.get_by_label("指标").locator("option").all_inner_texts()
    report = api(server)  # no as_of: today, as the page asked
    assert p.page.evaluate("document.body.getAttribute('data-loaded')") == report["as_of"]
    assert metric_labels == [report["labels"][m] for m in report["metrics"]]
    assert_table_is(p, report)
    status = p.page.locator("#status").inner_text()
    assert report["as_of"] in status and CITY in status
    assert p.page.locator("#synthetic").is_visible() is bool(report["synthetic"])
    if report["synthetic"]:
        assert "模拟数据" in status
    # Today is past the year: the slider sits at its end; the range is the year's days.
    slider = p.page.get_by_label("截至日期", exact=True)
    assert slider.get_attribute("type") == "range"
    if date.fromisoformat(report["as_of"]) > date(2023, 12, 31):
        assert slider.input_value() == slider.get_attribute("max") == "364"
    assert p.page.locator("#as-of-range").inner_text() == "2023-01-01 至 2023-12-31"
    p.shot("progress")
    p.clean()


def test_table_and_charts_are_the_apis_rows(browser, server):  # noqa: F811
    p = open_page(browser, server, f"/maps/progress?city={CITY}&year={YEAR}&as_of=2023-07-31")
    report = api(server, as_of="2023-07-31")
    assert report["as_of"] == "2023-07-31"
    assert_table_is(p, report)
    heads = p.page.locator("#progress-table thead tr").first.locator("th").all_inner_texts()
    assert heads == ["县（市）区", *[report["labels"][m] for m in report["metrics"]]]
    sub = p.page.locator("#progress-table thead tr").nth(1).locator("th").all_inner_texts()
    assert sub == ["目标", "完成", "完成率", "状态"] * len(report["metrics"])
    # One grouped bar chart per metric: 目标 and 完成 per county, the API's numbers.
    assert p.page.locator("#charts canvas").count() == len(report["metrics"])
    charts = p.page.evaluate("""() => { const out = {}; const c = window.PROGRESS_STATE.charts;
        Object.keys(c).forEach(m => { const d = c[m].chart.data;
            out[m] = {labels: d.labels, sets: d.datasets.map(s => [s.label, s.data])}; });
        return out; }""")
    regions = [r for r in report["regions"] if r != "合计"]
    for metric in report["metrics"]:
        chart = charts[metric]
        assert chart["labels"] == regions
        rows = {r["region"]: r for r in report["rows"] if r["metric"] == metric}
        assert chart["sets"][0] == ["目标", [rows[g]["target"] for g in regions]]
        assert chart["sets"][1] == ["完成", [rows[g]["actual"] for g in regions]]
    assert [c.inner_text() for c in p.page.locator("#charts figcaption").all()] == \
        [report["labels"][m] for m in report["metrics"]]
    p.shot("progress_2023-07-31")
    p.clean()


def test_counties_are_coloured_by_share_and_the_zone_is_listed(browser, server, sample_store):  # noqa: F811
    p = open_page(browser, server, "/maps/progress?as_of=2023-07-31&metric=delivered_units")
    report = api(server, as_of="2023-07-31")
    districts = sample_store.read(sample_store.find_kind("districts"))
    counties = set(districts.name[districts.city == CITY])

    def expected(metric):
        rows = {r["region"]: r for r in report["rows"] if r["metric"] == metric}
        # A zero target (share 1.0 by definition) is grey like no target.
        return {c: fill_for(rows[c]["share"]) if c in rows and rows[c]["target"] > 0 else GREY for c in counties}

    fills = p.page.evaluate("window.PROGRESS_STATE.fills")
    assert fills == expected("delivered_units")
    assert any(color != GREY for color in fills.values())
    assert GREY in fills.values()  # 中站区 and others: no target row, 无目标任务
    # Drawn as SVG paths, each with its fill.
    paths = p.page.locator(".leaflet-overlay-pane path").evaluate_all(
        "ps => ps.map(p => p.getAttribute('fill'))")
    assert len(paths) == len(counties) and sorted(paths) == sorted(fills.values())
    legend = p.page.locator(".pg-legend").inner_text()
    assert "完成率" in legend and "无目标任务" in legend and "≥ 100%" in legend
    # 示范区 matches no district: listed beside the map with its share and why.
    zone = next(r for r in report["rows"] if r["region"] == "示范区" and r["metric"] == "delivered_units")
    assert zone["district_match"] is False
    item = p.page.locator("#unmatched li", has_text="示范区")
    assert item.count() == 1
    text = item.inner_text()
    assert f"完成率 {zone['share'] * 100:.1f}%" in text and zone["note"] in text
    assert "合计" not in p.page.locator("#unmatched").inner_text()
    # A county's popup says target, actual, share and state in Chinese.
    row = next(r for r in report["rows"] if r["region"] == "孟州市" and r["metric"] == "delivered_units")
    popup = p.page.evaluate("""() => { let html = null; window.__pgMap.eachLayer(l => {
        if (l.feature && l.feature.properties.name === '孟州市') { l.openPopup(); html = l.getPopup().getContent(); } });
        return html; }""")
    assert "孟州市" in popup and "目标" in popup and "完成率" in popup and STATES_ZH[row["state"]] in popup
    assert p.page.locator(".leaflet-popup-content").inner_text().startswith("孟州市")
    # Another metric recolours the map without asking again.
    p.page.get_by_label("指标").select_option(label=report["labels"]["new_start_units"])
    assert p.page.evaluate("window.PROGRESS_STATE.fills") == expected("new_start_units")
    assert "metric=new_start_units" in p.page.url
    p.shot("progress_map")
    p.clean()


def test_the_slider_asks_for_another_day(browser, server):  # noqa: F811
    p = open_page(browser, server)
    before = page_table(p)
    slider = p.page.get_by_label("截至日期", exact=True)
    slider.fill(str(day_index(p, "2023-06-30")))
    loaded(p, "2023-06-30")
    assert "as_of=2023-06-30" in p.page.url
    assert p.page.locator("#as-of-text").inner_text() == "2023-06-30"
    report = api(server, as_of="2023-06-30")
    assert_table_is(p, report)
    assert page_table(p) != before  # mid-year, less is done than by today
    assert "2023-06-30" in p.page.locator("#status").inner_text()
    # The keyboard moves it a day at a time.
    slider.focus()
    p.page.keyboard.press("ArrowLeft")
    loaded(p, "2023-06-29")
    assert_table_is(p, api(server, as_of="2023-06-29"))
    # A shared link opens on that day.
    p.page.reload()
    loaded(p, "2023-06-29")
    assert slider.input_value() == str(day_index(p, "2023-06-29"))
    p.clean()


def test_overdue_projects_link_to_their_area_pages(browser, server):  # noqa: F811
    report = api(server, as_of="2023-12-31")
    assert report["overdue"], "the sample city has overdue projects by the year's end"
    p = open_page(browser, server, "/maps/progress?as_of=2023-12-31")
    rows = p.page.locator("#overdue tbody tr")
    assert rows.count() == len(report["overdue"])
    heads = p.page.locator("#overdue thead th").all_inner_texts()
    assert heads == ["项目名称", "县（市）区", "逾期节点", "应完成日期", "逾期天数"]
    for row, item in zip(rows.all(), report["overdue"], strict=True):
        cells = row.locator("td").all_inner_texts()
        assert cells == [item["area"], item["county"], MILESTONES_ZH[item["milestone"]], item["due"],
                         str(item["days_late"])]
        link = row.get_by_role("link", name=item["area"], exact=True)
        assert link.get_attribute("href") == f"/maps/areas/{item['area_id']}?lang=zh"
    assert p.page.locator("#overdue-none").is_hidden()
    first = report["overdue"][0]
    p.page.get_by_role("link", name=first["area"], exact=True).first.click()
    p.page.wait_for_url(f"**/maps/areas/{first['area_id']}?lang=zh")
    wait_loaded(p.page, "services")
    assert first["area"] in p.page.locator(".rn-side").inner_text()
    p.clean()
    # On New Year's Day nothing is overdue yet: the page says so.
    if not api(server, as_of="2023-01-01")["overdue"]:
        q = open_page(browser, server, "/maps/progress?as_of=2023-01-01")
        assert q.page.locator("#overdue-none").inner_text() == "无逾期项目"
        assert q.page.locator("#overdue").is_hidden()
        q.clean()


def test_the_page_fits_a_phone_and_labels_every_control(browser, server):  # noqa: F811
    p = open_page(browser, server, "/maps/progress?as_of=2023-07-31", width=390)
    p.page.wait_for_timeout(300)
    assert p.page.evaluate("document.documentElement.scrollWidth") <= 390
    assert p.page.evaluate(UNLABELLED_JS) == []
    for label in ("城市", "年度", "指标", "截至日期"):
        assert p.page.get_by_label(label, exact=True).count() == 1, label
    wrap = p.page.evaluate("""() => { const w = document.querySelector('#progress-table').parentElement;
        return [w.scrollWidth, w.clientWidth, w.getBoundingClientRect().right]; }""")
    assert wrap[0] > wrap[1] and wrap[2] <= 390  # the wide table scrolls in its wrapper
    for box in p.page.locator("#charts canvas, #map").evaluate_all(
            "els => els.map(e => e.getBoundingClientRect().right)"):
        assert box <= 390
    p.shot("progress_phone")
    p.page.locator("#charts").scroll_into_view_if_needed()
    p.shot("progress_phone_charts")
    p.clean()


def test_another_city_and_year_from_the_form(browser, server):  # noqa: F811
    p = open_page(browser, server, "/maps/progress?as_of=2023-07-31")
    p.page.get_by_label("城市").select_option("赣州市")
    years = p.page.get_by_label("年度").locator("option").all_inner_texts()
    assert years == ["2023", "2023-2024", "2024"]
    assert p.page.get_by_label("年度").input_value() == "2024"  # its latest year
    loaded(p)
    report = httpx.get(server + "/analysis/progress", params={"city": "赣州市", "year": "2024"}, timeout=60).json()
    assert_table_is(p, report)
    assert p.page.locator("#as-of-range").inner_text() == "2024-01-01 至 2024-12-31"
    p.page.get_by_label("年度").select_option("2023-2024")
    p.page.wait_for_function("window.PROGRESS_STATE.report.year === '2023-2024'", timeout=60000)
    assert p.page.locator("#as-of-range").inner_text() == "2023-01-01 至 2024-12-31"
    report = httpx.get(server + "/analysis/progress", params={"city": "赣州市", "year": "2023-2024"},
                       timeout=60).json()
    assert_table_is(p, report)
    assert "city=%E8%B5%A3%E5%B7%9E%E5%B8%82" in p.page.url and "year=2023-2024" in p.page.url
    fills = p.page.evaluate("window.PROGRESS_STATE.fills")
    assert "章贡区" in fills and "解放区" not in fills  # the map shows that city's counties
    p.clean()


def test_plan_years_ask_for_the_calendar_year_of_y1(browser, server):  # noqa: F811
    p = Page(browser, server, "/maps/progress?city=XX区&year=Y1-Y3")
    p.page.wait_for_function("document.body.getAttribute('data-failed') === 'plan_start'", timeout=30000)
    assert "规划第一年（Y1）" in p.page.locator("#status").inner_text()
    assert p.page.get_by_label("截至日期", exact=True).is_disabled()
    assert p.page.locator("#progress-table tbody tr").count() == 0  # nothing asked, nothing shown
    p.page.get_by_label("规划第一年（Y1）").fill("2023")
    p.page.get_by_label("规划第一年（Y1）").dispatch_event("change")
    loaded(p)
    assert p.page.locator("#as-of-range").inner_text() == "2023-01-01 至 2025-12-31"
    assert "plan_start=2023" in p.page.url
    report = httpx.get(server + "/analysis/progress", params={"city": "XX区", "year": "Y1-Y3", "plan_start": 2023},
                       timeout=60).json()
    assert_table_is(p, report)
    assert p.page.locator("#unmatched li", has_text="XX区").count() == 1  # no such district on the map
    p.clean()


def test_english_labels(browser, server):  # noqa: F811
    p = open_page(browser, server, "/maps/progress?lang=en&as_of=2023-07-31")
    assert p.page.title() == "Targets and progress"
    assert p.page.evaluate("document.documentElement.lang") == "en"
    for label in ("City", "Year", "Metric", "As of"):
        assert p.page.get_by_label(label, exact=True).count() == 1, label
    assert p.page.evaluate(UNLABELLED_JS) == []
    report = api(server, as_of="2023-07-31")
    assert_table_is(p, report, STATES_EN)
    sub = p.page.locator("#progress-table thead tr").nth(1).locator("th").all_inner_texts()
    assert sub[:4] == ["Target", "Actual", "Share", "State"]
    assert p.page.get_by_label("Metric").locator("option:checked").inner_text() == "Units delivered"
    assert p.page.locator("#overdue-title").inner_text() == "Overdue projects"
    assert "As of 2023-07-31" in p.page.locator("#status").inner_text()
    assert p.page.get_by_role("link", name="Targets and progress").first.get_attribute("href") == \
        "/maps/progress?lang=en"
    p.shot("progress_en")
    p.clean()
