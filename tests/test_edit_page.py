"""The work pages for editors in a real headless Chromium (Debian's, driven by Playwright):
drawing a renewal area and saving it through the API, bad values shown beside their
fields, reshaping, a stale edit refused (412), deleting, signing in with a wrong token,
importing a bad and a good file, a 390 px phone screen, and the pages behind the sign-in
cookie when reads are closed. The pages are driven by their visible labels, as a planner
would; the API is checked independently with httpx. No request may leave the server and no
console error may appear but the 4xx answers a test provokes on purpose."""

from __future__ import annotations

import json
import re
from urllib.parse import urlsplit

import httpx
import pytest
import shapely
from fastapi.testclient import TestClient
from pyproj import Geod

from gis.units import M2_PER_MU
from tests.conftest import copy_sample, serve
from tests.test_maps import ARGS, CHROMIUM, SHOTS

EDITOR, READER = "s3cret", "r3ad"
AUTH = {"Authorization": f"Bearer {EDITOR}"}
AREAS = "/collections/renewal_areas/items"
STALE = "该片区已被他人修改，请重新加载后再编辑"
_FAILED_LOAD = re.compile(
    r"^Failed to load resource: the server responded with a status of (\d{3})\b")


@pytest.fixture(scope="module")
def browser():
    from playwright.sync_api import sync_playwright

    with sync_playwright() as p:
        b = p.chromium.launch(executable_path=CHROMIUM, args=ARGS)
        yield b
        b.close()


@pytest.fixture(scope="module")
def server(sample_store, tmp_path_factory):
    """An editable server on a private copy of the sample city; reads are open."""
    path = copy_sample(sample_store, tmp_path_factory.mktemp("edit-page"))
    with pytest.MonkeyPatch.context() as mp:
        mp.setenv("RENEWAL_EDIT_TOKENS", f"alice:{EDITOR}")
        mp.delenv("RENEWAL_READ_TOKENS", raising=False)
        with serve(path, workers=1) as url:
            yield url


@pytest.fixture
def api(server):
    with httpx.Client(base_url=server, headers=AUTH, timeout=30) as client:
        yield client


class WorkPage:
    """A page of the server with everything it asked for recorded: console errors (with the
    resource they are about), requests that left the server or failed, 4xx/5xx answers."""

    def __init__(self, browser, server, path, *, width=1280, height=900):
        self.server, self.english = server, "lang=en" in path
        self.page = browser.new_page(viewport={"width": width, "height": height})
        self.console, self.outside, self.failed, self.errors, self.urls = [], [], [], [], []
        self.dialogs: list[str] = []
        page = self.page
        page.on("console", lambda m: self.console.append((m.text, m.location.get("url", "")))
                if m.type == "error" else None)
        page.on("pageerror", lambda e: self.console.append((str(e), "")))
        page.on("request", self._request)
        # Leaflet cancels requests it no longer needs when the view changes (ERR_ABORTED).
        page.on("requestfailed", lambda r: None if "ERR_ABORTED" in (r.failure or "")
                else self.failed.append(r.url))
        page.on("response", lambda r: self.errors.append(
            (r.request.method, self._path(r.url), r.status)) if r.status >= 400 else None)
        page.goto(server + path)

    def _request(self, r):
        self.urls.append(r.url)
        if not r.url.startswith((self.server, "data:", "blob:")):
            self.outside.append(r.url)

    @staticmethod
    def _path(url: str) -> str:
        return urlsplit(url).path

    def wait_loaded(self):
        self.page.wait_for_function("Number(document.body.getAttribute('data-loaded-areas')) > 0",
                                    timeout=30000)
        return self

    def sign_in(self, token=EDITOR):
        label, button = ("Token", "Sign in") if self.english else ("令牌", "登录")
        self.page.get_by_label(label, exact=True).fill(token)
        self.page.get_by_role("button", name=button, exact=True).click()
        return self

    def signed_in(self):
        self.page.get_by_text("已登录：alice").wait_for(timeout=10000)
        return self

    def accept_dialogs(self):
        def on_dialog(d):
            self.dialogs.append(d.message)
            d.accept()
        self.page.on("dialog", on_dialog)

    def screen_xy(self, lon, lat):
        return self.page.evaluate("""([lon, lat]) => {
            const map = window.__rnMap, p = map.latLngToContainerPoint([lat, lon]);
            const c = map.getContainer(), r = c.getBoundingClientRect();  // inside the border
            return [p.x + r.left + c.clientLeft, p.y + r.top + c.clientTop]; }""", [lon, lat])

    def lonlat(self, x, y):
        return self.page.evaluate("""([x, y]) => {
            const map = window.__rnMap, c = map.getContainer(), r = c.getBoundingClientRect();
            const ll = map.containerPointToLatLng(
                [x - r.left - c.clientLeft, y - r.top - c.clientTop]);
            return [ll.lng, ll.lat]; }""", [x, y])

    def view(self, lon, lat, zoom):
        self.page.evaluate(
            "([lon, lat, z]) => window.__rnMap.setView([lat, lon], z, {animate: false})",
            [lon, lat, zoom])
        self.page.wait_for_timeout(400)

    def choose_area(self, label):
        self.page.get_by_label("选择片区").select_option(label=label)
        name = label.split("（")[0]
        self.page.locator("#rn-area-title").get_by_text(name, exact=True).wait_for()
        self.page.wait_for_timeout(500)  # the fit to the area ends

    def problem_beside(self, label):
        field = self.page.locator(".field", has=self.page.get_by_label(label, exact=True))
        return field.locator(".problem")

    def shot(self, name):
        SHOTS.mkdir(parents=True, exist_ok=True)
        self.page.screenshot(path=str(SHOTS / f"{name}.png"))

    def clean(self, expected=()):
        """No request left the server or failed; the 4xx answers are exactly ``expected``
        ((method, path, status) the test provoked); the console shows no error but their
        "Failed to load resource" lines."""
        assert self.outside == [], self.outside
        assert self.failed == [], self.failed
        assert sorted(set(self.errors)) == sorted(set(expected)), self.errors
        excused = {(path, status) for _, path, status in expected}
        unexpected = []
        for text, url in self.console:
            m = _FAILED_LOAD.match(text)
            if not (m and (self._path(url), int(m.group(1))) in excused):
                unexpected.append((text, url))
        assert unexpected == []
        assert not [u for u in self.urls if EDITOR in u or READER in u], "a token went into a URL"
        self.page.close()


def geodesic_mu(geometry: dict) -> float:
    """The area of a GeoJSON (multi)polygon in lon/lat on the GRS 80 ellipsoid (CGCS2000's),
    in mu: independent of the server's projected computation."""
    shape = shapely.geometry.shape(geometry)
    return abs(Geod(ellps="GRS80").geometry_area_perimeter(shape)[0]) / M2_PER_MU


def empty_spot(api) -> tuple[float, float]:
    """A place south of every renewal area, where the new one is drawn (nothing to snap to)."""
    features = api.get(AREAS, params={"limit": 1000}).json()["features"]
    shapes = [shapely.geometry.shape(f["geometry"]) for f in features]
    bounds = shapely.GeometryCollection(shapes).bounds
    return (bounds[0] + bounds[2]) / 2, bounds[1] - 0.012


def area_by_name(api, name: str) -> dict:
    found = api.get(AREAS, params={"name": name}).json()["features"]
    assert len(found) == 1, found
    return found[0]


def add_area(api, name: str, lon: float, lat: float) -> dict:
    square = shapely.box(lon, lat, lon + 0.003, lat + 0.002)
    body = {"type": "Feature", "geometry": shapely.geometry.mapping(square),
            "properties": {"name": name, "county": "解放区", "kind": "shantytown",
                           "households": 10}}
    r = api.post(AREAS, json=body)
    assert r.status_code == 201, r.text
    return api.get(f"{AREAS}/{r.json()['created'][0]}").json()


def test_draw_an_area_and_save_it_with_the_servers_mu(browser, server, api):
    p = WorkPage(browser, server, "/maps/edit").wait_loaded()
    assert p.page.get_by_role("button", name="绘制片区").is_disabled()  # signed out
    p.sign_in().signed_in()
    lon, lat = empty_spot(api)
    p.view(lon, lat, 16)
    x, y = (round(v) for v in p.screen_xy(lon, lat))  # mouse events carry whole pixels
    corners = [(x - 110, y - 70), (x + 95, y - 85), (x + 120, y + 75), (x - 90, y + 90)]
    p.page.get_by_role("button", name="绘制片区").click()
    for cx, cy in corners:
        p.page.mouse.click(cx, cy)
        p.page.wait_for_timeout(200)
    p.page.mouse.click(*corners[0])  # the first vertex closes the ring
    p.page.get_by_label("名称", exact=True).wait_for(state="visible")
    assert "保存后由服务器计算" in p.page.locator("#rn-area-mu").inner_text()
    p.page.get_by_role("button", name="保存", exact=True).click()  # nothing filled in yet
    p.problem_beside("名称").filter(has_text="required").wait_for(timeout=10000)
    for label in ("区县", "类型"):
        assert "required" in p.problem_beside(label).inner_text()
    assert "未保存：3 处问题" in p.page.locator("#rn-alert").inner_text()
    p.page.get_by_label("名称", exact=True).fill("测试绘制片区")
    p.page.get_by_label("区县", exact=True).fill("解放区")
    p.page.get_by_label("类型", exact=True).select_option(label="棚户区")
    p.page.get_by_label("户数", exact=True).fill("120")
    p.page.get_by_label("套数", exact=True).fill("118")
    p.page.get_by_label("计划年度", exact=True).fill("2025")
    p.page.get_by_label("状态", exact=True).select_option(label="已批复")
    p.page.get_by_role("button", name="保存", exact=True).click()
    p.page.get_by_text("已保存「测试绘制片区」").wait_for(timeout=15000)

    saved = area_by_name(api, "测试绘制片区")
    props = saved["properties"]
    assert (props["county"], props["kind"], props["households"], props["units"], props["plan_year"],
            props["status"]) == ("解放区", "shantytown", 120, 118, 2025, "approved")
    # The stored ring is the one clicked (to Leaflet's rounding), and its area is the server's.
    clicked = [p.lonlat(cx, cy) for cx, cy in corners]
    ring = shapely.geometry.shape(saved["geometry"])
    ring = ring.geoms[0] if ring.geom_type == "MultiPolygon" else ring
    stored = list(ring.exterior.coords)[:-1]
    assert len(stored) == 4
    for got, want in zip(sorted(stored), sorted(clicked), strict=True):
        assert got == pytest.approx(want, abs=2e-6)
    hand = geodesic_mu({"type": "Polygon", "coordinates": [clicked + clicked[:1]]})
    assert props["area_mu"] > 0
    assert props["area_mu"] == pytest.approx(geodesic_mu(saved["geometry"]), rel=2e-3)
    assert props["area_mu"] == pytest.approx(hand, rel=2e-3)
    shown = p.page.locator("#rn-area-mu").inner_text()
    assert f"{props['area_mu']:,.2f}" in shown and "亩" in shown
    assert p.page.evaluate("sessionStorage.getItem('renewal.editToken')") == EDITOR
    p.shot("edit_drawn_area")
    p.clean(expected=[("POST", AREAS, 422)])


def test_a_bad_value_is_shown_beside_its_field(browser, server, api):
    before = area_by_name(api, "西大井片区")["properties"]["households"]
    p = WorkPage(browser, server, "/maps/edit").wait_loaded().sign_in().signed_in()
    p.choose_area("西大井片区（中站区）")
    fid = area_by_name(api, "西大井片区")["id"]
    p.page.get_by_label("户数", exact=True).fill("-5")
    p.page.get_by_role("button", name="保存", exact=True).click()
    beside = p.problem_beside("户数")
    beside.filter(has_text="-5").wait_for(timeout=10000)
    assert "out of range" in beside.inner_text()
    assert p.page.get_by_label("户数", exact=True).get_attribute("aria-invalid") == "true"
    alert = p.page.locator("#rn-alert")
    assert "未保存：1 处问题" in alert.inner_text() and "户数: -5" in alert.inner_text()
    # Nothing was written.
    assert area_by_name(api, "西大井片区")["properties"]["households"] == before
    p.shot("edit_bad_value")
    p.clean(expected=[("PUT", f"{AREAS}/{fid}", 422)])


def test_reshape_an_area_and_save(browser, server, api):
    target = add_area(api, "测试改形片区", *empty_spot(api))
    old_mu = target["properties"]["area_mu"]
    p = WorkPage(browser, server, "/maps/edit").wait_loaded().sign_in().signed_in()
    p.choose_area("测试改形片区（解放区）")
    p.page.get_by_role("button", name="编辑形状").click()
    vertex = p.page.locator(".leaflet-marker-pane .marker-icon:not(.marker-icon-middle)").first
    vertex.wait_for()
    box = vertex.bounding_box()
    x, y = round(box["x"] + box["width"] / 2), round(box["y"] + box["height"] / 2)
    p.page.mouse.move(x, y)
    p.page.mouse.down()
    for step in range(1, 11):
        p.page.mouse.move(x - 6 * step, y + 5 * step)
    p.page.mouse.up()
    p.page.get_by_role("button", name="保存", exact=True).click()
    p.page.get_by_text("已保存「测试改形片区」").wait_for(timeout=15000)
    after = api.get(f"{AREAS}/{target['id']}").json()
    before_xy, after_xy = (
        {tuple(c) for c in shapely.get_coordinates(shapely.geometry.shape(f["geometry"])).tolist()}
        for f in (target, after))
    (old_corner,), (new_corner,) = before_xy - after_xy, after_xy - before_xy  # one corner moved
    ox, oy = p.screen_xy(*old_corner)
    assert new_corner == pytest.approx(p.lonlat(ox - 60, oy + 50), abs=2e-6)  # by the mouse's way
    assert after["properties"]["area_mu"] != old_mu
    assert after["properties"]["area_mu"] == pytest.approx(geodesic_mu(after["geometry"]), rel=2e-3)
    assert f"{after['properties']['area_mu']:,.2f}" in p.page.locator("#rn-area-mu").inner_text()
    p.shot("edit_reshaped")
    p.clean()


def test_a_stale_edit_is_refused_and_explained(browser, server, api):
    target = add_area(api, "测试并发片区", *empty_spot(api))
    url = f"{AREAS}/{target['id']}"
    p = WorkPage(browser, server, "/maps/edit").wait_loaded().sign_in().signed_in()
    p.choose_area("测试并发片区（解放区）")
    # Someone else changes the area after the page read it.
    read = api.get(url)
    theirs = read.json()
    theirs["properties"].update(households=777, note="他人修改")
    theirs["properties"].pop("area_mu"), theirs["properties"].pop("area_m2")
    r = api.put(url, json=theirs, headers={"If-Match": read.headers["ETag"]})
    assert r.status_code == 204, r.text
    p.page.get_by_label("户数", exact=True).fill("55")
    p.page.get_by_role("button", name="保存", exact=True).click()
    alert = p.page.locator("#rn-alert")
    alert.get_by_text(STALE).wait_for(timeout=10000)
    stored = api.get(url).json()["properties"]
    assert (stored["households"], stored["note"]) == (777, "他人修改")  # never overwritten
    p.shot("edit_stale")
    p.page.get_by_role("button", name="重新加载").click()
    p.page.get_by_text("已重新加载「测试并发片区」").wait_for(timeout=10000)
    assert p.page.get_by_label("户数", exact=True).input_value() == "777"
    p.clean(expected=[("PUT", url, 412)])


def test_delete_an_area_after_confirming(browser, server, api):
    target = add_area(api, "测试删除片区", *empty_spot(api))
    p = WorkPage(browser, server, "/maps/edit").wait_loaded().sign_in().signed_in()
    p.accept_dialogs()
    p.choose_area("测试删除片区（解放区）")
    p.page.get_by_role("button", name="删除", exact=True).click()
    p.page.get_by_text("已删除「测试删除片区」").wait_for(timeout=10000)
    assert p.dialogs and "测试删除片区" in p.dialogs[0]
    assert api.get(f"{AREAS}/{target['id']}").status_code == 404
    options = p.page.get_by_label("选择片区").locator("option")
    assert "测试删除片区" not in " ".join(options.all_inner_texts())
    p.clean()


def test_a_wrong_token_is_explained(browser, server):
    p = WorkPage(browser, server, "/maps/edit").wait_loaded()
    p.sign_in("not-the-token")
    p.page.locator("#rn-signin-message").get_by_text("令牌无效").wait_for(timeout=10000)
    assert p.page.get_by_role("button", name="绘制片区").is_disabled()
    assert p.page.evaluate("sessionStorage.getItem('renewal.editToken')") is None
    p.shot("edit_wrong_token")
    p.clean(expected=[("GET", "/whoami", 401)])


def test_import_a_bad_csv_lists_its_problems_by_row(browser, server, api, tmp_path):
    bad = tmp_path / "设施.csv"
    bad.write_text("name,category,lon,lat\n好公园,park,113.21,35.22\n"
                   "坏设施,nonsense,113.22,35.23\n", encoding="utf-8")
    p = WorkPage(browser, server, "/maps/import")
    p.sign_in().signed_in()
    p.page.get_by_label("文件", exact=True).set_input_files(str(bad))
    p.page.get_by_label("图层", exact=True).fill("test_bad_services")
    p.page.get_by_label("图层类型").select_option(value="services")
    p.page.get_by_label("编码", exact=True).select_option(value="utf-8")
    p.page.get_by_role("button", name="导入", exact=True).click()
    table = p.page.locator("table.rn-problems")
    table.wait_for(timeout=15000)
    head = [h.strip() for h in table.locator("th").all_inner_texts()]
    assert head == ["行", "字段", "问题（如何修改）"]
    rows = [[c.strip() for c in r.locator("td").all_inner_texts()]
            for r in table.locator("tbody tr").all()]
    assert any(r[:2] == ["2", "category（设施类别）"] and "nonsense" in r[2] for r in rows), rows
    assert "导入失败" in p.page.locator("#rn-import-alert").inner_text()
    names = [c["id"] for c in api.get("/collections").json()["collections"]]
    assert "test_bad_services" not in names  # nothing written
    p.shot("import_bad_csv")
    p.clean(expected=[("POST", "/imports", 422)])


def test_import_a_good_geojson(browser, server, api, tmp_path):
    good = tmp_path / "new_parks.geojson"
    good.write_text(json.dumps({"type": "FeatureCollection", "features": [
        {"type": "Feature", "geometry": {"type": "Point", "coordinates": [113.241, 35.215]},
         "properties": {"name": "东公园", "category": "park"}},
        {"type": "Feature", "geometry": {"type": "Point", "coordinates": [113.252, 35.221]},
         "properties": {"name": "西公园", "category": "park"}}]}, ensure_ascii=False),
        encoding="utf-8")
    p = WorkPage(browser, server, "/maps/import")
    p.sign_in().signed_in()
    p.page.get_by_label("文件", exact=True).set_input_files(str(good))
    p.page.get_by_label("图层", exact=True).fill("new_parks")
    p.page.get_by_label("图层类型").select_option(value="services")
    p.page.get_by_label("坐标系", exact=True).fill("4490")
    p.page.get_by_label("导入方式").select_option(value="replace")
    p.page.get_by_role("button", name="导入", exact=True).click()
    table = p.page.locator("table.rn-imported")
    table.wait_for(timeout=15000)
    cells = [c.strip() for c in table.locator("tbody td").all_inner_texts()]
    assert cells[:4] == ["new_parks", "公共服务设施 (services)", "2", "EPSG:4490"]
    assert p.page.get_by_role("status").inner_text() == "导入成功"
    collections = {c["id"] for c in api.get("/collections").json()["collections"]}
    assert "new_parks" in collections
    items = api.get("/collections/new_parks/items").json()["features"]
    names = {f["properties"]["name"] for f in items}
    assert names == {"东公园", "西公园"}
    p.shot("import_good_geojson")
    p.clean()


@pytest.mark.parametrize("path", ["/maps/edit", "/maps/import", "/maps/edit?lang=en"])
def test_phone_width_and_every_control_labelled(browser, server, path):
    p = WorkPage(browser, server, path, width=390, height=844)
    if path.startswith("/maps/edit"):
        p.wait_loaded()
    p.sign_in()
    p.page.get_by_role("button", name=re.compile("退出登录|Sign out")).wait_for()
    if path == "/maps/edit":
        p.choose_area("西大井片区（中站区）")  # the form open as well
    unlabelled = p.page.evaluate("""() => [...document.querySelectorAll('input, select, textarea')]
        .filter(el => el.type !== 'hidden' && !(el.labels && el.labels.length))
        .map(el => el.outerHTML)""")
    assert unlabelled == []
    overflow = p.page.evaluate(
        "document.documentElement.scrollWidth - document.documentElement.clientWidth")
    assert overflow <= 0
    body = p.page.evaluate("document.body.scrollWidth - document.body.clientWidth")
    assert body <= 0
    name = path.strip("/").replace("/", "_").replace("?lang=", "_")
    p.page.screenshot(path=str(SHOTS / f"{name}_390.png"), full_page=True)
    p.clean()


def test_reads_closed_pages_behind_sign_in_and_a_reader_token_may_not_edit(
        browser, sample_store, tmp_path, monkeypatch):
    monkeypatch.setenv("RENEWAL_EDIT_TOKENS", f"alice:{EDITOR}")
    monkeypatch.setenv("RENEWAL_READ_TOKENS", f"carol:{READER}")
    with serve(copy_sample(sample_store, tmp_path), workers=1) as url:
        p = WorkPage(browser, url, "/maps/edit")
        assert "/login" in p.page.url
        p.page.get_by_label("访问令牌 (access token)").fill(READER)
        p.page.get_by_role("button", name="登录").click()
        p.page.wait_for_url("**/maps/edit")
        p.wait_loaded()
        p.sign_in(READER)
        message = p.page.locator("#rn-signin-message")
        message.get_by_text("该令牌无编辑权限").wait_for(timeout=10000)
        p.sign_in(EDITOR).signed_in()
        p.choose_area("西大井片区（中站区）")
        p.page.get_by_label("套数", exact=True).fill("2901")
        p.page.get_by_role("button", name="保存", exact=True).click()
        p.page.get_by_text("已保存「西大井片区」").wait_for(timeout=15000)
        with httpx.Client(base_url=url, headers=AUTH) as client:
            assert area_by_name(client, "西大井片区")["properties"]["units"] == 2901
            assert client.get("/collections", headers={"Authorization": ""}).status_code == 401
        p.clean()


def test_whoami_tells_the_roles_of_a_token(sample_store):
    from api.app import create_app
    from api.settings import Settings

    settings = Settings(store=str(sample_store.path), edit_tokens=f"alice:{EDITOR}",
                        read_tokens=f"carol:{READER}")
    client = TestClient(create_app(settings))
    assert client.get("/whoami", headers=AUTH).json() == {"user": "alice",
                                                          "roles": ["read", "edit"]}
    assert client.get("/whoami", headers={"Authorization": f"Bearer {READER}"}).json() == {
        "user": "carol", "roles": ["read"]}
    for headers in ({}, {"Authorization": "Bearer nope"}):
        r = client.get("/whoami", headers=headers)
        assert r.status_code == 401 and r.headers["content-type"] == "application/problem+json"
    page = client.get("/maps/edit", headers={"Authorization": f"Bearer {READER}"})
    assert page.status_code == 200 and 'for="f-households"' in page.text
    english = client.get("/maps/import?lang=en", headers={"Authorization": f"Bearer {READER}"}).text
    assert ">File</label>" in english and ">CRS</label>" in english
