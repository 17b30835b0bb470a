"""What if: planned facilities (issue #13). The what-if report (nothing saved), strict input
checks, saving with an editor token into the planned_services layer (created atomically),
with_planned in the API and the CLI, and the area map in a real Chromium at 1200 and 390 px."""

import json
import threading
from urllib.parse import quote

import geopandas as gpd
import httpx
import pandas as pd
import pytest
import shapely
from fastapi.testclient import TestClient

from api.app import create_app
from api.settings import Settings
from gis.crs import wgs84_to_gcj02
from gis.errors import MalformedError, ValidationError
from layers.planned_parse import MAX_PLANNED, PLANNED_KIND, parse_planned
from layers.store import open_store
from renewal_cli.main import main
from tests.conftest import copy_sample, serve
from tests.test_maps import Page, browser  # noqa: F401
from workflows.planned import save_planned, what_if_report

TOKEN = {"Authorization": "Bearer s3cret"}
AREA = "西大井片区"
GAP = "300 m 内无托儿所"


def _fc(*features) -> dict:
    return {"type": "FeatureCollection", "features": list(features)}


def _point(lon, lat, **props) -> dict:
    return {
        "type": "Feature",
        "geometry": {"type": "Point", "coordinates": [lon, lat]},
        "properties": {"category": "nursery", **props},
    }


@pytest.fixture(scope="module")
def inside(sample_store):
    """A point inside 西大井片区 (lon, lat)."""
    areas = sample_store.read("renewal_areas")
    p = areas[areas.name == AREA].geometry.iloc[0].representative_point()
    return round(p.x, 6), round(p.y, 6)


@pytest.fixture
def store_path(sample_store, tmp_path):
    return copy_sample(sample_store, tmp_path)


@pytest.fixture
def client(store_path):
    return TestClient(
        create_app(
            Settings(store=str(store_path), edit_tokens="alice:s3cret", read_tokens="bob:r3ad")
        )
    )


def _nursery(doc: dict) -> dict:
    return next(c for c in doc["categories"] if c["category"] == "nursery")


def problem(r, status) -> dict:
    assert r.status_code == status, r.text
    assert r.headers["content-type"].startswith("application/problem+json")
    body = r.json()
    assert body["status"] == status and body["detail"]
    return body


# --- what if (nothing saved) ----------------------------------------------------------------


def test_a_planned_nursery_inside_west_big_well_removes_its_nursery_gap(client, store_path, inside):
    r = client.post(
        f"/analysis/services/{quote(AREA)}/what-if",
        json=_fc(_point(*inside, name="阳光托儿所")),
        headers={"Authorization": "Bearer r3ad"},
    )
    assert r.status_code == 200, r.text
    body = r.json()
    assert body["area_name"] == AREA and body["with_planned"] is False
    assert body["planned"] == [
        {
            "name": "阳光托儿所(规划)",
            "category": "nursery",
            "category_zh": "托儿所",
            "lon": inside[0],
            "lat": inside[1],
        }
    ]
    before, after = _nursery(body["before"]), _nursery(body["after"])
    assert before["gap_zh"] == GAP and not before["meets_standard"] and before["network_m"] > 300
    assert after["gap_zh"] is None and after["meets_standard"] and after["network_m"] == 0
    assert (
        after["nearest_name"] == "阳光托儿所(规划)"
        and after["second_name"] == before["nearest_name"]
    )
    assert body["after"]["categories_met"] == body["before"]["categories_met"] + 1
    assert set(body["after"]["categories"][0]) == set(
        client.get("/analysis/services/1", headers={"Authorization": "Bearer r3ad"}).json()[
            "categories"
        ][0]
    )
    change = next(c for c in body["changes"] if c["category"] == "nursery")
    assert (
        change["changed"] and change["before"]["gap_zh"] == GAP and change["after"]["walk_m"] == 0
    )
    assert [c["category"] for c in body["changes"] if c["changed"]] == ["nursery"]
    # Nothing was saved.
    assert not open_store(store_path).has_kind(PLANNED_KIND)


def test_what_if_takes_amap_coordinates_and_an_empty_plan(client, inside):
    lon, lat = (float(v) for v in wgs84_to_gcj02(*inside))
    body = client.post(
        "/analysis/services/1/what-if?datum=gcj02",
        json=_fc(_point(lon, lat, category="托儿所")),
        headers={"Authorization": "Bearer r3ad"},
    ).json()
    assert body["planned"][0]["lon"] == pytest.approx(inside[0], abs=1e-6)
    assert _nursery(body["after"])["network_m"] == 0
    empty = client.post(
        "/analysis/services/1/what-if", json=_fc(), headers={"Authorization": "Bearer r3ad"}
    ).json()
    assert empty["before"] == empty["after"] and not any(c["changed"] for c in empty["changes"])


def test_parse_planned_reports_every_problem_at_once(inside):
    frame = parse_planned(
        _fc(_point(*inside), _point(*inside, category="幼儿园", name="新幼儿园", capacity=120))
    )
    assert frame.crs.to_epsg() == 4490
    assert frame[["name", "category"]].values.tolist() == [
        ["托儿所", "nursery"],
        ["新幼儿园", "kindergarten"],
    ]
    assert frame.capacity.isna().tolist() == [True, False]
    with pytest.raises(ValidationError, match="3 problem") as ex:
        parse_planned(
            _fc(
                _point(*inside, category="casino"),
                _point(35.24, 113.17),
                _point(*inside, colour="red"),
            )
        )
    found = {(p.row, p.field) for p in ex.value.problems}
    assert found == {(1, "category"), (2, "geometry.coordinates"), (3, "colour")}
    assert "swapped" in str(ex.value) and "nursery (托儿所)" in str(ex.value)
    with pytest.raises(MalformedError, match="not GeoJSON points") as ex:
        parse_planned(
            _fc(
                {
                    "type": "Feature",
                    "properties": {"category": "nursery"},
                    "geometry": {
                        "type": "Polygon",
                        "coordinates": [[[0, 0], [1, 0], [1, 1], [0, 0]]],
                    },
                }
            )
        )
    assert ex.value.problems[0].field == "geometry.type"


BAD_BODIES = [
    (_fc(_point(113.17, 35.24, category="casino")), 422, "unknown category"),
    (
        _fc(
            {
                "type": "Feature",
                "properties": {"category": "nursery"},
                "geometry": {
                    "type": "LineString",
                    "coordinates": [[113.17, 35.24], [113.18, 35.25]],
                },
            }
        ),
        400,
        "Point",
    ),
    (_fc(_point(113.17, 95.0)), 422, "not longitude/latitude"),
    (_fc(_point(2.35, 48.85)), 422, "outside China"),
    (_fc(_point(35.24, 113.17)), 422, "swapped"),
    (_fc(_point(113.17, 35.24, capacity=-5)), 422, "capacity"),
    (_fc(_point(113.17, 35.24, note={"a": 1})), 422, "non-empty text"),
    (_fc(*[_point(113.17, 35.24)] * (MAX_PLANNED + 1)), 400, f"at most {MAX_PLANNED}"),
    (
        {"type": "Feature", "geometry": {"type": "Point", "coordinates": [113.17, 35.24]}},
        400,
        "FeatureCollection",
    ),
    (
        _fc(
            {
                "type": "Feature",
                "properties": {"category": "nursery"},
                "geometry": {"type": "Point", "coordinates": ["113", 35]},
            }
        ),
        400,
        "2 numbers",
    ),
]


@pytest.mark.parametrize(("doc", "status", "says"), BAD_BODIES)
def test_bad_planned_points_are_refused_with_what_to_fix(client, store_path, doc, status, says):
    for path in ("/analysis/services/1/what-if", "/planned-services"):
        body = problem(client.post(path, json=doc, headers=TOKEN), status)
        assert says in body["detail"] + json.dumps(body.get("problems", []), ensure_ascii=False)
    assert not open_store(store_path).has_kind(PLANNED_KIND)


def test_bad_requests_around_the_body(client):
    problem(client.post("/analysis/services/1/what-if", content=b"{not json", headers=TOKEN), 400)
    problem(client.post("/analysis/services/no-such-area/what-if", json=_fc(), headers=TOKEN), 404)
    problem(client.post("/analysis/services/1/what-if?datum=bd09", json=_fc(), headers=TOKEN), 400)
    problem(
        client.post("/analysis/services/1/what-if", json=_fc()), 401
    )  # reads are closed on this server
    problem(client.post("/planned-services", json=_fc(), headers=TOKEN), 400)  # nothing to save


# --- saving, with_planned ------------------------------------------------------------------


def test_saving_needs_an_editor_token_then_with_planned_counts_it(
    client, store_path, inside, capsys
):
    doc = _fc(_point(*inside, area_id=1))
    problem(client.post("/planned-services", json=doc), 401)
    problem(
        client.post("/planned-services", json=doc, headers={"Authorization": "Bearer r3ad"}), 403
    )
    problem(
        client.post("/planned-services", json=doc, headers={"Authorization": "Bearer wrong"}), 403
    )
    assert not open_store(store_path).has_kind(PLANNED_KIND)
    r = client.post("/planned-services", json=doc, headers=TOKEN)
    assert r.status_code == 201, r.text
    saved = r.json()
    assert saved["collection"] == "planned_services" and len(saved["created"]) == 1
    assert r.headers["location"].endswith(
        f"/collections/planned_services/items/{saved['created'][0]}"
    )
    store = open_store(store_path)
    assert (
        store.info("planned_services").kind == PLANNED_KIND
        and store.info("planned_services").feature_count == 1
    )
    assert store.audit_log(limit=1)[0]["who"] == "alice"
    listed = client.get("/planned-services", headers=TOKEN).json()["features"]
    assert [(f["id"], f["properties"]["category"], f["properties"]["area_id"]) for f in listed] == [
        (saved["created"][0], "nursery", 1)
    ]

    read = {"Authorization": "Bearer r3ad"}
    plain = client.get(f"/analysis/services/{quote(AREA)}", headers=read).json()
    planned = client.get(f"/analysis/services/{quote(AREA)}?with_planned=true", headers=read).json()
    assert plain["with_planned"] is False and planned["with_planned"] is True
    assert _nursery(plain)["gap_zh"] == GAP and "(规划)" not in _nursery(plain)["nearest_name"]
    assert _nursery(planned)["gap_zh"] is None and _nursery(planned)["network_m"] == 0
    assert _nursery(planned)["nearest_name"] == "托儿所(规划)"
    assert (
        planned["supply"] == plain["supply"]
    )  # the supply side stays that of the existing facilities
    # The services layer itself is untouched: a plan is not an existing facility.
    assert "(规划)" not in " ".join(store.read("services").name)

    # The CLI: only with --with-planned.
    assert main(["--store", str(store_path), "services", AREA, "--json"]) == 0
    assert _nursery(json.loads(capsys.readouterr().out))["gap_zh"] == GAP
    assert main(["--store", str(store_path), "services", AREA, "--with-planned", "--json"]) == 0
    row = _nursery(json.loads(capsys.readouterr().out))
    assert row["gap_zh"] is None and row["network_m"] == 0 and row["nearest_name"] == "托儿所(规划)"
    assert main(["--store", str(store_path), "services", AREA, "--with-planned"]) == 0
    assert "托儿所(规划)" in capsys.readouterr().out

    # A what-if with the stored plans counts them in "before" already.
    body = client.post(
        "/analysis/services/1/what-if?with_planned=true", json=_fc(), headers=read
    ).json()
    assert _nursery(body["before"])["network_m"] == 0

    # Deleted like any feature: the report forgets it.
    assert (
        client.delete(
            f"/collections/planned_services/items/{saved['created'][0]}", headers=TOKEN
        ).status_code
        == 204
    )
    again = client.get(f"/analysis/services/{quote(AREA)}?with_planned=true", headers=read).json()
    assert _nursery(again)["gap_zh"] == GAP


def test_with_planned_on_a_store_without_plans(client, store_path, capsys):
    read = {"Authorization": "Bearer r3ad"}
    assert (
        client.get("/analysis/services/1?with_planned=true", headers=read).json()["categories"]
        == client.get("/analysis/services/1", headers=read).json()["categories"]
    )
    assert client.get("/planned-services", headers=read).json() == {
        "type": "FeatureCollection",
        "features": [],
    }
    assert main(["--store", str(store_path), "services", AREA, "--with-planned", "--json"]) == 0
    captured = capsys.readouterr()
    assert "no planned_services layer yet" in captured.err
    assert _nursery(json.loads(captured.out))["gap_zh"] == GAP


def test_editors_creating_the_layer_at_once_lose_nothing(store_path, inside):
    """Eight editors save at the same moment into a store without the layer: one creates it,
    nobody's plan replaces another's, every id is distinct."""
    store = open_store(store_path)
    start = threading.Barrier(8)
    results, errors = [], []

    def save(k):
        try:
            start.wait()
            results.append(
                save_planned(
                    store,
                    _fc(_point(inside[0] + k * 1e-4, inside[1], name=f"托儿所{k}")),
                    who=f"editor{k}",
                )
            )
        except Exception as ex:  # noqa: BLE001 - collected and asserted below
            errors.append(ex)

    threads = [threading.Thread(target=save, args=(k,)) for k in range(8)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(timeout=120)
    assert errors == []
    ids = sorted(i for _, created in results for i in created)
    assert len(ids) == len(set(ids)) == 8
    stored = open_store(store_path).read("planned_services")
    assert (
        sorted(stored.name) == sorted(f"托儿所{k}" for k in range(8))
        and sorted(stored["id"]) == ids
    )


def test_what_if_report_is_one_use_case_for_any_caller(store_path, inside):
    store = open_store(store_path)
    body = what_if_report(store, 1, _fc(_point(*inside)))
    assert [c["after"]["walk_m"] for c in body["changes"] if c["category"] == "nursery"] == [0.0]
    assert isinstance(body["after"]["categories"][0]["network_m"], float | None)


# --- the area map ---------------------------------------------------------------------------


def test_the_area_page_carries_the_what_if_controls(client):
    from maps.area_page import area_page

    html = client.get("/maps/areas/1", headers={"Authorization": "Bearer r3ad"}).text
    for label in (
        "添加规划设施",
        "设施类型",
        "保存为规划",
        "令牌",
        "托儿所</option>",
        "/static/maps/whatif.js",
        "缺口（对照 GB 50180-2018）",
    ):
        assert label in html
    assert html.index("renewalInit(") < html.index(
        "/static/maps/whatif.js"
    )  # runs after the map is made
    assert '"withPlanned": false' in html
    frame = gpd.GeoDataFrame(
        {"id": [1], "name": ["甲"]}, geometry=[shapely.box(113, 35, 113.01, 35.01)], crs=4490
    )
    report = pd.DataFrame({"gap_zh": [None], "gap_en": [None]})
    rings = frame.assign(radius_m=300)
    page = area_page(frame, report, rings, None, frame.iloc[:0], lang="en", with_planned=True)
    assert "Add planned facility" in page and '"withPlanned": true' in page


@pytest.fixture(scope="module")
def live(sample_store, tmp_path_factory):
    """A server on a copy of the sample store with an editor token: (url, store path)."""
    path = copy_sample(sample_store, tmp_path_factory.mktemp("planned-live"))
    with pytest.MonkeyPatch.context() as mp:
        mp.setenv("RENEWAL_EDIT_TOKENS", "alice:s3cret")
        with serve(path) as url:
            yield url, path


def _click_inside_area(p: Page) -> tuple[float, float]:
    """Click the map at a point inside the area that no control covers; its (lon, lat)."""
    spot = p.page.evaluate("""() => {
        const map = window.__rnMap; let area = null;
        map.eachLayer(l => { if (l._rnSpec && l._rnSpec.id === 'area') area = l; });
        const b = area.getBounds(), r = map.getContainer().getBoundingClientRect();
        for (const fy of [0.5, 0.3, 0.7, 0.2, 0.8]) for (const fx of [0.5, 0.3, 0.7, 0.2, 0.8]) {
            const ll = L.latLng(b.getSouth() + (b.getNorth() - b.getSouth()) * fy,
                                b.getWest() + (b.getEast() - b.getWest()) * fx);
            const c = map.latLngToContainerPoint(ll), x = c.x + r.left, y = c.y + r.top;
            if (x < 0 || y < 0 || x >= window.innerWidth || y >= window.innerHeight) continue;
            const el = document.elementFromPoint(x, y);
            const free = el && map.getContainer().contains(el) && !el.closest('.leaflet-control');
            if (free) return [x, y];
        }
        return null; }""")
    assert spot, "no part of the area is visible beside the controls"
    p.page.mouse.click(*spot)
    p.page.wait_for_function("document.body.getAttribute('data-whatif') === 'done'", timeout=20000)
    item = p.page.evaluate("RENEWAL_WHATIF.items()")[-1]
    return item["lon"], item["lat"]


def _open_area(browser, url, width=1200, height=800, query=""):  # noqa: F811
    p = Page(browser, url, f"/maps/areas/{quote(AREA)}{query}", wait_for=["services"])
    if width != 1200:
        p.page.set_viewport_size({"width": width, "height": height})
        p.page.reload()
        p.page.wait_for_function(
            "document.body.getAttribute('data-loaded-services') !== null", timeout=30000
        )
        p.page.wait_for_timeout(500)
    return p


def _area_shape(path):
    areas = open_store(path).read("renewal_areas")
    return areas[areas.name == AREA].geometry.iloc[0]


def test_planning_a_nursery_on_the_map_then_saving_it(browser, live, capsys):  # noqa: F811
    url, path = live
    p = _open_area(browser, url)
    gaps = p.page.locator(".rn-gaps")
    assert GAP in gaps.inner_text()
    p.page.get_by_role("button", name="添加规划设施").click()
    p.page.get_by_label("设施类型").select_option(label="托儿所")
    lon, lat = _click_inside_area(p)
    assert _area_shape(path).contains(shapely.Point(lon, lat))
    assert GAP not in gaps.inner_text()
    assert (
        GAP not in p.page.locator(".rn-side").inner_text()
    )  # not in the table's gap column either
    row = p.page.locator(".rn-wi-table tr[data-category='nursery']")
    cells = row.locator("td").all_inner_texts()
    assert (
        cells[0] == "托儿所" and " → 0" in cells[1] and cells[2] == "✗ → ✓" and cells[3] == "已消除"
    )
    assert int(cells[1].split(" → ")[0]) > 300
    assert p.page.locator(".rn-wi-marker.rn-wi-unsaved").count() == 1
    p.page.wait_for_timeout(300)
    p.shot("what_if_nursery")

    # Save as plan with the editor token (kept in the tab's sessionStorage).
    p.page.get_by_label("令牌").fill("s3cret")
    p.page.get_by_role("button", name="保存为规划").click()
    p.page.wait_for_function(
        "document.body.getAttribute('data-whatif-save') === 'done'", timeout=20000
    )
    assert p.page.evaluate("sessionStorage.getItem('renewal.editToken')") == "s3cret"
    assert p.page.locator(".rn-wi-marker.rn-wi-saved").count() == 1
    fid = p.page.evaluate("RENEWAL_WHATIF.items()")[0]["fid"]
    with httpx.Client(base_url=url) as http:
        report = http.get(f"/analysis/services/{quote(AREA)}?with_planned=true").json()
        assert (
            _nursery(report)["gap_zh"] is None
            and _nursery(report)["nearest_name"] == "托儿所(规划)"
        )
        assert _nursery(http.get(f"/analysis/services/{quote(AREA)}").json())["gap_zh"] == GAP
        stored = http.get("/planned-services").json()["features"]
        assert [f["id"] for f in stored] == [fid]
        assert stored[0]["geometry"]["coordinates"] == pytest.approx([lon, lat], abs=1e-6)
    assert main(["--store", str(path), "services", AREA, "--with-planned", "--json"]) == 0
    assert _nursery(json.loads(capsys.readouterr().out))["nearest_name"] == "托儿所(规划)"
    p.clean()

    # The page with ?with_planned=true draws the stored plan and counts it; 删除 deletes it.
    q = _open_area(browser, url, query="?with_planned=true")
    q.page.wait_for_function("document.body.getAttribute('data-whatif') === 'done'", timeout=20000)
    assert GAP not in q.page.locator(".rn-gaps").inner_text()
    marker = q.page.locator(".rn-wi-marker.rn-wi-saved")
    assert marker.count() == 1
    assert not q.page.get_by_role("button", name="保存为规划").is_visible()  # nothing unsaved
    q.page.get_by_label("令牌").fill("s3cret")  # a new tab: its sessionStorage is empty
    marker.click()
    q.page.get_by_role("button", name="删除").click()
    q.page.wait_for_function(
        "RENEWAL_WHATIF.items().length === 0 && "
        "document.body.getAttribute('data-whatif') === 'done'",
        timeout=20000,
    )
    q.page.wait_for_timeout(300)
    assert GAP in q.page.locator(".rn-gaps").inner_text()
    with httpx.Client(base_url=url) as http:
        assert http.get("/planned-services").json()["features"] == []
    q.clean()


def test_the_what_if_panel_on_a_phone(browser, live):  # noqa: F811
    url, _ = live
    p = _open_area(browser, url, width=390, height=844)
    p.page.get_by_role("button", name="添加规划设施").click()
    p.page.get_by_label("设施类型").select_option(label="托儿所")
    _click_inside_area(p)
    assert GAP not in p.page.locator(".rn-gaps").inner_text()
    cells = p.page.locator(".rn-wi-table tr[data-category='nursery'] td").all_inner_texts()
    assert "→" in cells[1] and cells[3] == "已消除"
    width, inner = p.page.evaluate("[document.body.scrollWidth, window.innerWidth]")
    assert width <= inner  # no horizontal scrolling
    panel = p.page.locator(".rn-side").bounding_box()
    assert panel["x"] + panel["width"] <= 390 and panel["width"] * panel["height"] < 0.4 * 390 * 844
    p.page.wait_for_timeout(300)
    p.shot("what_if_nursery_390")
    # An unsaved plan is dropped from its popup, and the gap comes back.
    p.page.locator(".rn-wi-marker").click()
    p.page.get_by_role("button", name="删除").click()
    p.page.wait_for_function("RENEWAL_WHATIF.items().length === 0", timeout=10000)
    assert GAP in p.page.locator(".rn-gaps").inner_text()
    assert p.page.locator(".rn-wi-marker").count() == 0
    p.clean()
