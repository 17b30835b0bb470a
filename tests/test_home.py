"""The home page a planner opens first (``/`` in a browser) and the overview at city zoom, in
a real headless Chromium; ``/`` still answers API clients with the OGC landing document."""

import pytest
from fastapi.testclient import TestClient

from api.app import create_app
from api.routes.home import wants_html
from api.settings import Settings
from tests.test_maps import Page, browser, server  # noqa: F401  (fixtures of the map tests)

BROWSER_ACCEPT = "text/html,application/xhtml+xml,application/xml;q=0.9,image/avif,*/*;q=0.8"
NAV = ("总览地图", "目标与进度", "安置选址", "导入图层", "编辑片区")
WEST_BIG_WELL = "西大井片区"  # id 1 of the sample city

#: JavaScript: the polygon of renewal area ``id`` on the overview map.
AREA_JS = """(id) => { let area = null; window.__rnMap.eachLayer(l => {
    if (l._rnSpec && l._rnSpec.id === 'renewal_areas')
        l._rnGeo.eachLayer(a => { if (a.feature.id === id) area = a; });
    }); return area; }"""
#: JavaScript: the input/select/textarea elements without a label that has text.
UNLABELLED_JS = """() => [...document.querySelectorAll('input, select, textarea')]
    .filter(el => el.type !== 'hidden'
                  && !(el.labels && el.labels.length && el.labels[0].textContent.trim()))
    .map(el => el.outerHTML)"""
#: JavaScript: the area labels shown on the overview, with their boxes.
LABELS_JS = """() => [...document.querySelectorAll('.leaflet-tooltip.rn-label')]
    .filter(e => getComputedStyle(e).visibility !== 'hidden')
    .map(e => { const r = e.getBoundingClientRect();
                return [e.textContent, r.left, r.top, r.right, r.bottom]; })"""


@pytest.fixture(scope="module")
def client(sample_store):
    return TestClient(create_app(Settings(store=str(sample_store.path))))


@pytest.fixture(scope="module")
def areas(sample_store):
    return sample_store.read(sample_store.find_kind("renewal_areas"))


def visible_rows(p):
    return p.page.locator("#areas tbody tr:visible")


def area_row(p, name: str):
    return p.page.locator("#areas tbody tr", has_text=name)


def wait_loaded(page, layer: str) -> None:
    page.wait_for_function(f"document.body.getAttribute('data-loaded-{layer}') !== null",
                           timeout=30000)


# --- / for API clients and browsers -----------------------------------------------------------

@pytest.mark.parametrize(("accept", "f", "html"), [
    (BROWSER_ACCEPT, None, True), ("text/html", None, True), ("text/html", "json", False),
    ("application/json", "html", True), ("application/json", None, False), ("*/*", None, False),
    ("", None, False), ("application/json, text/html;q=0.5", None, False),
    ("text/html;q=0", None, False), ("text/html;q=0.9, application/json;q=0.8", None, True),
])
def test_wants_html_lets_f_win_over_accept(accept, f, html):
    assert wants_html(accept, f) is html


def test_landing_stays_json_for_api_clients(client):
    answers = (client.get("/"), client.get("/?f=json", headers={"Accept": BROWSER_ACCEPT}),
               client.get("/", headers={"Accept": "application/json"}),
               client.get("/", headers={"Accept": "*/*"}))
    for r in answers:
        assert r.status_code == 200 and r.headers["content-type"] == "application/json"
        assert "Accept" in r.headers["vary"]
        links = r.json()["links"]
        assert {"self", "service-desc", "conformance", "data"} <= {link["rel"] for link in links}
        html = [link for link in links
                if link["type"] == "text/html" and link["href"].endswith("/?f=html")]
        assert len(html) == 1 and html[0]["rel"] == "alternate"
    page = client.get("/?f=html")
    assert page.status_code == 200 and page.headers["content-type"].startswith("text/html")
    assert "<title>城市更新规划</title>" in page.text and "Accept" in page.headers["vary"]
    english = client.get("/?lang=en", headers={"Accept": BROWSER_ACCEPT}).text
    assert "<title>Urban renewal planning</title>" in english
    assert english.count(">View on map</a>") == 37
    assert client.get("/?f=xml").status_code == 400


def test_maps_index_redirects_home_keeping_the_language(client):
    for path, target in (("/maps/", "/"), ("/maps", "/"), ("/maps/?lang=en", "/?lang=en"),
                         ("/maps?lang=zh", "/?lang=zh")):
        r = client.get(path, follow_redirects=False)
        assert r.status_code in (302, 307, 308) and r.headers["location"] == target, path


def test_home_of_an_empty_store_says_to_import_the_areas(tmp_path):
    empty = TestClient(create_app(Settings(store=str(tmp_path / "empty.gpkg"))))
    page = empty.get("/", headers={"Accept": BROWSER_ACCEPT})
    assert page.status_code == 200 and "还没有更新改造片区图层" in page.text
    assert "共 0 个片区" in page.text and "<tbody>" in page.text
    assert empty.get("/").json()["title"] == "renewal-gis"


def test_home_needs_a_reader_when_reads_are_closed(sample_store):
    closed = TestClient(create_app(Settings(store=str(sample_store.path), read_tokens="bob:r3ad")))
    assert closed.get("/").status_code == 401
    to_login = closed.get("/", headers={"Accept": BROWSER_ACCEPT}, follow_redirects=False)
    assert to_login.status_code == 303 and to_login.headers["location"].startswith("/login?next=/")
    assert closed.get("/maps/", follow_redirects=False).status_code == 401
    signed = closed.get("/", headers={"Accept": BROWSER_ACCEPT, "Authorization": "Bearer r3ad"})
    assert signed.status_code == 200 and WEST_BIG_WELL in signed.text


# --- the home page in Chromium ----------------------------------------------------------------

def test_home_lists_every_area_with_links_and_totals(browser, server, areas):  # noqa: F811
    p = Page(browser, server, "/")
    assert p.page.title() == "城市更新规划"
    assert visible_rows(p).count() == len(areas) == 37
    row = area_row(p, WEST_BIG_WELL)
    cells = row.locator("td").all_inner_texts()
    assert cells[:7] == [WEST_BIG_WELL, "中站区", "老厂区", "已批复", "500.0", "3,200", "2023"]
    name = row.get_by_role("link", name=WEST_BIG_WELL)
    assert name.get_attribute("href") == "/maps/areas/1?lang=zh"
    on_map = row.get_by_role("link", name="在地图上查看")
    assert on_map.get_attribute("href") == "/maps/overview?focus=1&lang=zh"
    summary = p.page.locator("#area-summary").inner_text()
    assert f"{len(areas)} 个片区" in summary and f"{int(areas.households.sum()):,} 户" in summary
    assert f"{areas.area_mu.sum():,.1f} 亩" in summary
    for label in NAV:  # in the header and as cards
        assert p.page.get_by_role("link", name=label, exact=True).count() >= 1
    assert p.page.get_by_label("搜索片区").count() == 1
    assert p.page.evaluate(UNLABELLED_JS) == []
    p.shot("home")
    p.clean()


def test_home_search_and_filters_narrow_the_rows(browser, server, areas):  # noqa: F811
    p = Page(browser, server, "/")
    search = p.page.get_by_label("搜索片区")
    search.press_sequentially("西大井")  # as typed, key by key
    assert visible_rows(p).count() == 1
    assert visible_rows(p).all_inner_texts()[0].startswith(WEST_BIG_WELL)
    assert "显示 1 / 37 个片区" in p.page.locator("#area-summary").inner_text()
    search.fill("没有这个片区")
    assert visible_rows(p).count() == 0 and p.page.locator("#area-none").is_visible()
    search.fill("")
    assert visible_rows(p).count() == len(areas)

    p.page.get_by_label("县市区").select_option("中站区")
    zhongzhan = areas[areas.county == "中站区"]
    assert visible_rows(p).count() == len(zhongzhan) > 1
    assert set(visible_rows(p).locator("td:nth-child(2)").all_inner_texts()) == {"中站区"}
    p.page.get_by_label("改造类型").select_option(label="棚户区")
    assert visible_rows(p).count() == int((zhongzhan.kind == "shantytown").sum())
    p.page.get_by_label("状态").select_option(label="计划")
    expected = zhongzhan[(zhongzhan.kind == "shantytown") & (zhongzhan.status == "planned")]
    shown = visible_rows(p).locator("td:first-child").all_inner_texts()
    assert sorted(shown) == sorted(expected.name)
    p.shot("home_filtered")
    # The filters are kept in the URL: a reload (or a shared link) shows the same rows.
    assert "county=" in p.page.url and "status=planned" in p.page.url
    p.page.reload()
    assert visible_rows(p).count() == len(expected)
    assert p.page.get_by_label("县市区").input_value() == "中站区"
    p.clean()


def test_area_name_opens_its_area_page(browser, server):  # noqa: F811
    p = Page(browser, server, "/")
    p.page.get_by_role("link", name=WEST_BIG_WELL, exact=True).click()
    p.page.wait_for_url("**/maps/areas/1?lang=zh")
    wait_loaded(p.page, "services")
    assert WEST_BIG_WELL in p.page.locator(".rn-side").inner_text()
    p.clean()


def test_home_fits_a_phone(browser, server):  # noqa: F811
    p = Page(browser, server, "/")
    p.page.set_viewport_size({"width": 390, "height": 844})
    p.page.wait_for_timeout(300)
    assert p.page.evaluate("document.documentElement.scrollWidth") <= 390
    wrap = p.page.evaluate("""() => { const w = document.querySelector('.table-wrap');
        return [w.scrollWidth, w.clientWidth, w.getBoundingClientRect().right]; }""")
    assert wrap[0] > wrap[1] and wrap[2] <= 390  # the table scrolls in its wrapper, not the page
    assert p.page.evaluate(UNLABELLED_JS) == []
    p.page.get_by_label("搜索片区").fill("马村区")
    assert visible_rows(p).count() == 6
    p.shot("home_phone")
    p.clean()


# --- the overview a planner opens first -------------------------------------------------------

def test_view_on_map_flies_to_the_area_and_opens_its_popup(browser, server):  # noqa: F811
    p = Page(browser, server, "/")
    area_row(p, WEST_BIG_WELL).get_by_role("link", name="在地图上查看").click()
    p.page.wait_for_url("**/maps/overview?focus=1&lang=zh")
    p.page.wait_for_function("document.body.getAttribute('data-focused') === '1'", timeout=30000)
    p.page.wait_for_timeout(500)  # the popup's pan settles
    inside = p.page.evaluate(f"""() => {{ const map = window.__rnMap, area = ({AREA_JS})(1);
        return [map.getBounds().contains(area.getBounds()), map.getZoom()]; }}""")
    assert inside[0] and inside[1] >= 14
    assert WEST_BIG_WELL in p.page.locator(".leaflet-popup-content").inner_text()
    p.shot("overview_focus")
    p.clean()


def test_overview_names_areas_and_districts_at_city_zoom(browser, server, areas):  # noqa: F811
    p = Page(browser, server, "/maps/overview", wait_for=["renewal_areas", "districts"])
    assert p.page.evaluate("window.__rnMap.getZoom()") <= 12  # the whole city
    symbols = p.page.evaluate("""() => { const out = []; window.__rnMap.eachLayer(l => {
        if (l._rnPolygon) out.push([l._rnPolygon.feature.properties.name, l.getRadius()]); });
        return out; }""")
    assert len(symbols) == len(areas)  # every area is a speck here: all drawn as circles
    radius = dict(symbols)
    assert radius[WEST_BIG_WELL] == max(radius.values())  # 3200 households, the most
    expected = radius[WEST_BIG_WELL] * (1248 / 3200) ** 0.5  # area of the circle ∝ households
    assert radius["中站区棚户区改造片区10"] == pytest.approx(expected)
    labels = p.page.evaluate(LABELS_JS)
    names = [label[0] for label in labels]
    assert WEST_BIG_WELL in names and len(names) >= 10 and set(names) <= set(areas.name)
    for i, a in enumerate(labels):  # the shown labels never overlap (the others show on hover)
        for b in labels[i + 1:]:
            assert a[3] <= b[1] or b[3] <= a[1] or a[4] <= b[2] or b[4] <= a[2], (a[0], b[0])
    places = p.page.locator(".leaflet-tooltip.rn-place").all_inner_texts()
    assert {"解放区", "中站区", "山阳区", "马村区", "修武县", "温县"} <= set(places)
    control = p.page.locator(".leaflet-control-layers label").all_inner_texts()
    assert len(control) >= 5 and all(text.strip() for text in control)
    p.shot("overview_city_labels")
    # Zoomed in, the area is drawn as its polygon: its circle goes, its outline shows.
    state = p.page.evaluate(f"""() => {{ const map = window.__rnMap, area = ({AREA_JS})(1);
        map.setView(area.getBounds().getCenter(), 15, {{animate: false}});
        let circle = false; map.eachLayer(l => {{ if (l._rnPolygon === area) circle = true; }});
        return [circle, area.options.opacity]; }}""")
    assert state == [False, 1]
    p.clean()


def test_overview_first_view_needs_no_data_request(browser, server):  # noqa: F811
    """The page carries its first view's districts and areas (labels and symbols are computed
    from them); a view far from them asks for that view's districts once."""
    requests = []
    page = browser.new_page(viewport={"width": 1200, "height": 800})
    page.on("request", lambda r: requests.append(r.url) if "/maps/data/" in r.url else None)
    page.goto(server + "/maps/overview")
    wait_loaded(page, "renewal_areas")
    wait_loaded(page, "districts")
    page.wait_for_timeout(800)
    assert requests == []
    page.evaluate("window.__rnMap.setView([25.85, 114.93], 11, {animate: false})")  # 赣州市, 1,200 km south
    page.wait_for_timeout(800)
    layers = [u.split("/maps/data/")[1].split("?")[0] for u in requests]
    assert layers == ["districts"]
    page.close()
