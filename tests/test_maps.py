"""Map pages in a real headless Chromium (Debian's, driven by Playwright): no console errors,
no request outside the server, the expected features drawn, popups and the layer control."""

import json
import os
from pathlib import Path
from urllib.request import urlopen

import numpy as np
import pytest
import shapely
from fastapi.testclient import TestClient
from geopandas import GeoDataFrame

from layers.imports import import_frame
from layers.store import open_store
from tests.conftest import copy_sample, serve

CHROMIUM = "/usr/bin/chromium"
ARGS = ["--headless=new", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
        "--disable-background-networking", "--disable-component-update", "--disable-sync"]
SHOTS = Path(os.environ.get("RENEWAL_TEST_OUTPUT", "test-output")) / "maps"


@pytest.fixture(scope="module")
def server(sample_store):
    with serve(sample_store.path) as url:
        yield url


@pytest.fixture(scope="module")
def browser():
    from playwright.sync_api import sync_playwright

    assert os.path.exists(CHROMIUM), "Debian chromium must be installed (make test installs it)"
    with sync_playwright() as p:
        b = p.chromium.launch(executable_path=CHROMIUM, args=ARGS)
        yield b
        b.close()


class Page:
    """A map page in Chromium; console errors, requests outside the server, failed requests and
    answers of 400 or more are kept (``clean`` asserts there are none), with the path of every
    request to the server from the start (``requests``). ``init_script`` runs in the page before
    its own scripts."""

    def __init__(self, browser, server, path, wait_for=None, settle_ms: int = 500, init_script: str | None = None):
        self.page = browser.new_page(viewport={"width": 1200, "height": 800})
        if init_script:
            self.page.add_init_script(init_script)
        self.errors, self.outside, self.failed, self.refused, self.requests = [], [], [], [], []
        self.page.on("console", lambda m: self.errors.append(m.text) if m.type == "error" else None)
        self.page.on("pageerror", lambda e: self.errors.append(str(e)))
        self.page.on("request", lambda r: self.requests.append(r.url[len(server):]) if r.url.startswith(server)
                     else None if r.url.startswith(("data:", "blob:")) else self.outside.append(r.url))
        # Leaflet cancels tile requests it no longer needs when the view changes (ERR_ABORTED).
        self.page.on("requestfailed", lambda r: None if "ERR_ABORTED" in (r.failure or "") else self.failed.append(r.url))
        self.page.on("response", lambda r: self.refused.append(f"{r.status} {r.url}") if r.status >= 400 else None)
        self.page.goto(server + path)
        for layer in wait_for or []:
            self.page.wait_for_function(f"document.body.getAttribute('data-loaded-{layer}') !== null", timeout=30000)
        if settle_ms:
            self.page.wait_for_timeout(settle_ms)

    def state(self):
        return self.page.evaluate("JSON.stringify({drawn: RENEWAL_STATE.drawn, loaded: RENEWAL_STATE.loaded})")

    def shot(self, name):
        SHOTS.mkdir(parents=True, exist_ok=True)
        self.page.screenshot(path=str(SHOTS / f"{name}.png"))

    def clean(self):
        assert self.errors == [], self.errors
        assert self.outside == [], self.outside
        assert self.failed == [], self.failed
        assert self.refused == [], self.refused  # e.g. a 400 for a box the page made up


def test_overview_draws_every_area_and_opens_west_big_well(browser, server, sample_store):
    p = Page(browser, server, "/maps/overview", wait_for=["renewal_areas", "districts"])
    n_areas = sample_store.info("renewal_areas").feature_count
    state = json.loads(p.state())
    assert state["loaded"]["renewal_areas"] == n_areas
    assert p.page.locator(".leaflet-overlay-pane path").count() >= n_areas + 10  # areas + district outlines
    # A real mouse click on the West Big Well polygon opens its popup.
    box = p.page.evaluate("""() => {
        const map = window.__rnMap; let hit = null;
        map.eachLayer(l => { if (l.feature && l.feature.properties && l.feature.properties.name === '西大井片区' && l.getBounds) hit = l; });
        map.fitBounds(hit.getBounds(), {maxZoom: 15, animate: false});
        const c = map.latLngToContainerPoint(hit.getBounds().getCenter());
        const r = map.getContainer().getBoundingClientRect();
        return [c.x + r.left, c.y + r.top]; }""")
    p.page.wait_for_timeout(600)
    p.page.mouse.click(*box)
    popup = p.page.locator(".leaflet-popup-content")
    popup.wait_for(timeout=5000)
    text = popup.inner_text()
    assert "西大井片区" in text and "500" in text and "亩" in text and "2023" in text
    p.page.wait_for_timeout(400)  # let the popup fade in before the screenshot
    p.shot("overview_popup")
    # The layer control toggles the district outlines.
    before = p.page.locator(".leaflet-overlay-pane path").count()
    p.page.get_by_label("行政区划").uncheck()
    p.page.wait_for_timeout(300)
    assert p.page.locator(".leaflet-overlay-pane path").count() < before
    assert not p.page.evaluate("() => { let on = false; window.__rnMap.eachLayer(l => { if (l._rnSpec && l._rnSpec.id === 'districts') on = true; }); return on; }")
    p.clean()


@pytest.mark.parametrize("zoom", [3, 14])
def test_a_view_of_the_whole_world_asks_for_lon_lat_boxes_only(browser, server, zoom):
    """Zoomed out, Leaflet's view runs past ±180°: the boxes the page asks for (written in by
    the server, asked for by its head, asked for by view) stay within lon/lat degrees."""
    p = Page(browser, server, f"/maps/overview?show=parcels&zoom={zoom}", wait_for=["renewal_areas"])
    for z in (3, 14, 2, 4):
        p.page.evaluate(f"window.__rnMap.setZoom({z}, {{animate: false}})")
        p.page.wait_for_timeout(300)
    # The districts come by view at every zoom: zoomed out, for a box cut at 180°.
    boxes = [u.split("bbox=")[1] for u in p.requests if u.startswith("/maps/data/districts") and "bbox=" in u]
    assert any(b.split(",")[2] == "180.000000" for b in boxes), boxes
    assert json.loads(p.state())["loaded"]["districts"] > 3  # both cities' districts drawn
    p.clean()


#: Before the page's scripts: for the parcels (stroke #2b8cbe), how many were drawn when the first
#: one was and the loaded mark then, and the drawn count each time data-loaded-parcels was set.
#: ``__rnPanAt``: a [lat, lon] the page is moved to as soon as the first parcel is drawn.
DRAWING_JS = """window.__rnDrawing = {first: null, loaded: []};
new MutationObserver(function (records) {
  var d = window.__rnDrawing, n = document.querySelectorAll('path[stroke="#2b8cbe"]').length;
  records.forEach(function (r) {
    if (r.type === "attributes") d.loaded.push([document.body.getAttribute("data-loaded-parcels"), n]);
  });
  if (d.first === null && n) {
    d.first = [n, document.body.getAttribute("data-loaded-parcels")];
    if (window.__rnPanAt) window.__rnMap.setView(window.__rnPanAt, 14, {animate: false});
  }
}).observe(document, {childList: true, subtree: true, attributes: true, attributeFilter: ["data-loaded-parcels"]});"""


@pytest.fixture(scope="module")
def crowded_server(sample_store, tmp_path_factory):
    """The sample city plus 1,000 small parcels crowding the overview's opening view (around
    the areas' centre) and 30 more 0.2° east of it."""
    path = copy_sample(sample_store, tmp_path_factory.mktemp("crowded"))
    store = open_store(str(path))
    x0, y0, x1, y1 = store.read("renewal_areas").total_bounds
    cx, cy = (x0 + x1) / 2, (y0 + y1) / 2
    ix, iy = np.meshgrid(np.arange(40), np.arange(25))  # 40 × 25 parcels within ±0.03° × ±0.015°
    x, y = np.r_[cx - 0.03 + 0.0015 * ix.ravel(), cx + 0.2 + 0.0015 * np.arange(30)], np.r_[cy - 0.015 + 0.0012 * iy.ravel(), [cy] * 30]
    parcels = GeoDataFrame({"name": [f"地块{i}" for i in range(len(x))], "land_status": "state_reserve", "max_far": 2.5},
                           geometry=shapely.box(x, y, x + 0.001, y + 0.0008), crs=4490)
    import_frame(store, parcels, layer="parcels")
    with serve(path) as url:
        yield url, (cy, cx)


def test_a_crowded_view_draws_its_first_hundred_parcels_first_then_all(browser, crowded_server):
    """1,000+ parcels in the opening view: the first 100 are drawn (and painted) before the
    rest, the layer is marked loaded only once all are drawn, and each parcel is drawn once."""
    server, _ = crowded_server
    p = Page(browser, server, "/maps/overview?show=parcels&zoom=14", wait_for=["parcels"], settle_ms=300,
             init_script=DRAWING_JS)
    drawing = p.page.evaluate("window.__rnDrawing")
    n = int(p.page.evaluate("document.body.getAttribute('data-loaded-parcels')"))
    ids = p.page.evaluate("""() => { const ids = []; window.__rnMap.eachLayer(l => {
        if (l.feature && l._rnSpec === undefined && l.options.color === '#2b8cbe') ids.push(l.feature.id); }); return ids; }""")
    p.clean()
    assert n >= 1000
    assert drawing["first"] == [100, None]  # FIRST_PART drawn, the layer not marked loaded yet
    assert drawing["loaded"] == [[str(n), n]]  # marked once, when every parcel was drawn
    assert len(ids) == len(set(ids)) == n


def test_a_view_moved_while_its_parcels_are_drawn_draws_only_the_new_ones(browser, crowded_server):
    """The view moves between the first hundred parcels and the rest: the rest of the old view
    is not drawn, and not marked loaded; the new view's 30 parcels are."""
    server, (lat, lon) = crowded_server
    p = Page(browser, server, "/maps/overview?show=parcels&zoom=14", wait_for=["parcels"],
             init_script=f"window.__rnPanAt = [{lat}, {lon + 0.2 + 0.02}];\n" + DRAWING_JS)
    drawing = p.page.evaluate("window.__rnDrawing")
    drawn = p.page.locator('path[stroke="#2b8cbe"]').count()
    p.clean()
    assert drawing["first"] == [100, None]
    assert drawing["loaded"] == [["30", 30]] and drawn == 30


def test_area_map_lists_gaps_and_draws_services(browser, server):
    p = Page(browser, server, "/maps/areas/1", wait_for=["services"])
    state = json.loads(p.state())
    counts = p.page.evaluate("""() => { const out = {}; window.__rnMap.eachLayer(l => {
        if (l._rnSpec) out[l._rnSpec.id] = l._rnFeatures.length; }); return out; }""")
    assert counts["rings"] == 3 and counts["isochrones"] == 3 and counts["area"] == 1
    report = json.loads(urlopen(f"{server}/analysis/services/1").read())
    outside = [c for c in report["categories"] if c["nearest_name"] and (c["straight_m"] or 0) > 0]
    assert counts["nearest_lines"] == len(outside)  # one line per category whose nearest lies outside
    assert state["loaded"]["services"] > 20
    panel = p.page.locator(".rn-side").inner_text()
    assert "西大井片区" in panel and "托儿所" in panel  # the nursery gap of the sample city
    assert p.page.locator(".rn-icon, .marker-cluster").count() > 0
    p.shot("area_west_big_well")
    p.clean()


def test_site_selection_map_shows_ranked_candidates_and_tiles(browser, server):
    tiles = []
    # A shared link (area, units, top) opens on its answer.
    p = Page(browser, server, "/maps/site-selection?for=西大井片区&units=1000&top=5")
    p.page.on("response", lambda r: tiles.append(r.status) if "/rasters/" in r.url else None)
    p.page.wait_for_function("document.body.getAttribute('data-answered') !== null", timeout=60000)
    p.page.evaluate("window.__rnMap.setZoom(window.__rnMap.getZoom() + 1)")
    p.page.wait_for_timeout(2500)
    assert p.page.locator(".rn-rank").count() == 5
    assert tiles and set(tiles) == {200}
    p.page.locator(".rn-rank").first.click()
    popup = p.page.locator(".leaflet-popup-content")
    popup.wait_for(timeout=5000)
    text = popup.inner_text()
    assert "得分" in text and "可容纳套数" in text and "+ 就读:小学" in text and "+ 距原片区(就近安置)" in text
    p.shot("site_selection")
    p.clean()


def test_targets_choropleth_lists_development_zones(browser, server):
    p = Page(browser, server, "/maps/targets?city=焦作市&metric=delivered_units")
    assert p.page.locator(".leaflet-overlay-pane path").count() == 10  # Jiaozuo's districts
    assert "示范区" in p.page.locator(".rn-side").inner_text()
    p.shot("targets_jiaozuo")
    p.clean()


def test_english_labels_on_request(browser, server):
    p = Page(browser, server, "/maps/overview?lang=en", wait_for=["renewal_areas"])
    assert "Urban renewal overview" in p.page.locator(".rn-side").inner_text()
    assert p.page.get_by_label("Districts").count() == 1
    p.clean()


def test_amap_mode_shifts_overlays_to_gcj02(sample_store):
    from api.app import create_app
    from api.settings import Settings
    from gis.crs import wgs84_to_gcj02

    client = TestClient(create_app(Settings(store=str(sample_store.path))))
    plain = client.get("/maps/data/renewal_areas?limit=1").json()["features"][0]
    shifted = client.get("/maps/data/renewal_areas?limit=1&datum=gcj02").json()["features"][0]
    lon, lat = plain["geometry"]["coordinates"][0][0][0]
    expected = wgs84_to_gcj02(lon, lat)
    got = shifted["geometry"]["coordinates"][0][0][0]
    assert got == pytest.approx([float(expected[0]), float(expected[1])], abs=2e-6)
    page = client.get("/maps/overview?basemap=amap").text
    assert "autonavi" in page and '"datum": "gcj02"' in page


@pytest.mark.filterwarnings("ignore::rio_tiler.errors.NoOverviewWarning")  # the source here has none on purpose
def test_web_mercator_copy_serves_the_same_tiles_without_warping(tmp_path):
    """Suitability tiles come from a Web-Mercator copy made once; they match tiles warped from
    the Gauss–Krüger surface (both bilinear), NoData included."""
    import morecantile
    import numpy as np
    import rasterio
    from rasterio.transform import from_origin
    from rio_tiler.io import Reader

    from maps.tiles import web_mercator_copy

    x = np.linspace(0, 1, 640, dtype=np.float32)
    surface = np.add.outer(x[::-1] * 0.5, x * 0.5).astype(np.float32)  # a smooth 0–1 ramp
    surface[:100, :100] = np.nan
    path = tmp_path / "surface.tif"
    with rasterio.open(path, "w", driver="GTiff", width=640, height=640, count=1, dtype="float32", crs="EPSG:4547",
                       transform=from_origin(440000, 3905000, 10, 10), nodata=float("nan")) as dst:
        dst.write(surface, 1)
    copy = web_mercator_copy(str(path))
    assert copy.endswith("surface.3857.tif")
    first = os.path.getmtime(copy)
    assert web_mercator_copy(str(path)) == copy and os.path.getmtime(copy) == first  # made once
    with rasterio.open(copy) as src:
        assert src.crs.to_epsg() == 3857 and src.overviews(1)
    with Reader(str(path)) as gk, Reader(copy) as merc:
        west, south, east, north = gk.get_geographic_bounds(gk.tms.rasterio_geographic_crs)
        # The middle at three zooms, and the north-west corner where the NoData square is.
        for z, lon, lat in ((12, west + 0.03, south + 0.03), (14, west + 0.03, south + 0.03),
                            (16, west + 0.03, south + 0.03), (15, west + 0.004, north - 0.004)):
            t = morecantile.tms.get("WebMercatorQuad").tile(lon, lat, z)
            a = gk.tile(t.x, t.y, z, resampling_method="bilinear", reproject_method="bilinear")
            b = merc.tile(t.x, t.y, z, resampling_method="bilinear", reproject_method="bilinear")
            both = ~a.array.mask[0] & ~b.array.mask[0]
            assert both.sum() > 5000 or z == 15  # the tiles overlap the surface
            if z == 15:
                assert a.array.mask[0].mean() > 0.3 and b.array.mask[0].mean() > 0.3
            if both.any():  # the ramp climbs 0.0008 a cell
                assert np.abs(a.array.data[0][both] - b.array.data[0][both]).max() < 0.01
            assert (a.array.mask[0] != b.array.mask[0]).mean() < 0.02  # NoData and edges agree but for a rim


def test_maps_work_when_reads_are_closed(browser, sample_store, monkeypatch):
    """With reads closed, a browser is sent to the sign-in page; after signing in, the page,
    its data and its tiles carry the token in an HttpOnly cookie (never in a URL)."""
    monkeypatch.setenv("RENEWAL_READ_TOKENS", "bob:r3ad")
    with serve(sample_store.path, workers=1) as url:
        page = browser.new_page(viewport={"width": 1200, "height": 800})
        urls, refused = [], []
        page.on("request", lambda r: urls.append(r.url))
        page.on("response", lambda r: refused.append(r.url) if r.status in (401, 403) else None)
        page.goto(url + "/maps/overview")
        assert "/login" in page.url
        page.get_by_label("访问令牌 (access token)").fill("r3ad")
        page.get_by_role("button", name="登录").click()
        page.wait_for_url("**/maps/overview")
        page.wait_for_function("document.body.getAttribute('data-loaded-renewal_areas') !== null", timeout=30000)
        assert page.url.endswith("/maps/overview")
        assert json.loads(page.evaluate("JSON.stringify(RENEWAL_STATE.loaded)"))["renewal_areas"] >= 30
        assert refused == [] and not [u for u in urls if "r3ad" in u]
        cookie = [c for c in page.context.cookies() if c["name"] == "renewal_token"][0]
        assert cookie["httpOnly"]
        page.context.clear_cookies()
        assert urlopen_status(url + "/collections") == 401
        page.close()


def urlopen_status(url: str) -> int:
    from urllib.error import HTTPError

    try:
        return urlopen(url).status
    except HTTPError as ex:
        return ex.code
