"""Big layers on the overview come as vector tiles (issue #16): a store with 30k parcels draws
them from ``/collections/parcels/tiles/...`` in a real headless Chromium, clickable with the
same popup as the GeoJSON version, with a hint below the tileset's lowest zoom; small layers
still come as GeoJSON, and ``?tiles=false`` brings back the GeoJSON by view. Also
``/maps/data`` itself: the same features as the general GeoJSON writer, ETags, kept answers."""

import json
import re

import geopandas as gpd
import numpy as np
import pytest
import shapely
from fastapi.testclient import TestClient

from api.app import create_app
from api.settings import Settings
from layers.imports import import_frame
from layers.mvt import min_zoom
from layers.store import open_store
from tests.conftest import copy_sample, serve
from tests.test_maps import Page, browser  # noqa: F401  (the map tests' Chromium)

N_PARCELS = 30_000
MARKED = "测试地块"  # a parcel alone at the areas' centre, where the overview opens
#: JavaScript: the mouse position (page pixels) of a point [lat, lng] on the map.
POINT_JS = """([lat, lng]) => { const map = window.__rnMap, c = map.latLngToContainerPoint([lat, lng]);
    const r = map.getContainer().getBoundingClientRect(); return [c.x + r.left, c.y + r.top]; }"""


def city_parcels(n: int, centre) -> gpd.GeoDataFrame:
    """``n`` parcels of 35–90 m over a city around ``centre`` (about 1 ha of ground each, as
    bench_maps lays out big layers), none within 150 m of it, and the marked one on it."""
    rng = np.random.default_rng(7)
    cx, cy = centre
    half_x, half_y = 50 * np.sqrt(n) / 90_900, 50 * np.sqrt(n) / 111_000
    w = rng.uniform(35, 90, n) / 90_900
    h = rng.uniform(0.6, 1.0, n) * w * 90_900 / 111_000
    x, y = rng.uniform(cx - half_x, cx + half_x, n), rng.uniform(cy - half_y, cy + half_y, n)
    far = (np.abs(x - cx) > 0.002) | (np.abs(y - cy) > 0.0016)
    boxes = list(shapely.box(x, y, x + w, y + h)[far][: n - 1])
    names = [f"地块{i}" for i in range(len(boxes))]
    boxes.append(shapely.box(cx - 0.0006, cy - 0.0004, cx + 0.0006, cy + 0.0004))
    names.append(MARKED)
    status = ["state_reserve"] * (len(boxes) - 1) + ["state_idle"]
    return gpd.GeoDataFrame({"name": names, "land_status": status, "max_far": 2.5}, geometry=boxes, crs=4490)


@pytest.fixture(scope="module")
def big_store(sample_store, tmp_path_factory):
    """A copy of the sample city with 30k parcels around the areas' centre."""
    store = open_store(copy_sample(sample_store, tmp_path_factory.mktemp("tiles")))
    x0, y0, x1, y1 = store.read("renewal_areas").total_bounds
    centre = ((x0 + x1) / 2, (y0 + y1) / 2)
    parcels = city_parcels(N_PARCELS, centre)
    import_frame(store, parcels, layer="parcels")
    assert store.info("parcels").feature_count == len(parcels) > 20_000
    return store, centre


@pytest.fixture(scope="module")
def big_server(big_store):
    with serve(big_store[0].path, workers=1) as url:
        yield url


def open_overview(browser, server, path: str, wait_for=()) -> Page:  # noqa: F811
    """``Page`` without its settling pause: the tests look at the requests from the start."""
    return Page(browser, server, path, wait_for, settle_ms=0)


#: A drawn tile of parcels (a canvas per tile, saying its layer and, once drawn, its features).
PARCEL_TILE = 'canvas[data-layer="parcels"][data-features]:not([data-features="0"])'


#: JavaScript: for each drawn tile of parcels, [canvas width in pixels, CSS width, pixels of the
#: parcels' stroke colour (#2b8cbe, blended with their fill: blue above red and green)].
TILE_PIXELS_JS = """() => Array.from(document.querySelectorAll(SELECTOR)).map(c => {
    const d = c.getContext('2d').getImageData(0, 0, c.width, c.height).data;
    let blue = 0;
    for (let i = 0; i < d.length; i += 4) if (d[i + 3] > 0 && d[i + 2] > d[i] + 40 && d[i + 2] > d[i + 1]) blue++;
    return [c.width, c.getBoundingClientRect().width, blue]; })""".replace("SELECTOR", json.dumps(PARCEL_TILE))


def wait_parcels(p, tiles: bool = True) -> None:
    selector = PARCEL_TILE if tiles else 'path[stroke="#2b8cbe"]'  # drawn from GeoJSON: SVG paths
    p.page.wait_for_selector(selector, state="attached", timeout=30000)


def click_marked(p, centre) -> str:
    at = p.page.evaluate(POINT_JS, [centre[1], centre[0]])
    p.page.mouse.click(*at)
    popup = p.page.locator(".leaflet-popup-content")
    popup.wait_for(timeout=5000)
    return popup.inner_text()


def test_big_parcels_come_as_clickable_tiles(browser, big_server, big_store):  # noqa: F811
    _, centre = big_store
    p = open_overview(browser, big_server, "/maps/overview?show=parcels&zoom=16",
                      wait_for=["parcels", "renewal_areas", "districts"])
    wait_parcels(p)
    tiles = [u for u in p.requests if u.startswith("/collections/parcels/tiles/WebMercatorQuad/16/")]
    assert tiles, p.requests
    assert not [u for u in p.requests if u.startswith("/maps/data/parcels")]
    # Small layers stay GeoJSON, written into the page for its first view (no request).
    specs = {s["id"]: s for s in p.page.evaluate("RENEWAL_CONFIG.layers")}
    assert specs["districts"]["inline"] and specs["renewal_areas"]["inline"] and "inline" not in specs["parcels"]
    assert not [u for u in p.requests if u.startswith("/maps/data/")]
    assert json.loads(p.state())["loaded"]["parcels"] > 10
    # Drawn on canvas: every drawn tile holds the parcels' colour, at the screen's pixel ratio.
    drawn = p.page.evaluate(TILE_PIXELS_JS)
    assert drawn and all(width == css == 256 and blue > 500 for width, css, blue in drawn), drawn
    text = click_marked(p, centre)
    assert MARKED in text and "国有闲置用地" in text and "亩" in text and "2.5" in text
    p.page.wait_for_timeout(300)  # the popup fades in
    p.shot("overview_parcel_tiles")
    # A click on a tile beside every parcel (the marked one is alone within 150 m) reaches the
    # map, as on the basemap: the popup closes and none opens.
    at = p.page.evaluate(POINT_JS, [centre[1], centre[0]])
    p.page.mouse.click(at[0] + 45, at[1])
    p.page.wait_for_timeout(300)
    assert p.page.locator(".leaflet-popup-content").count() == 0
    p.clean()
    # The same parcel drawn from GeoJSON by view (?tiles=false) shows the same popup.
    g = open_overview(browser, big_server, "/maps/overview?show=parcels&zoom=16&tiles=false", wait_for=["parcels"])
    wait_parcels(g, tiles=False)
    assert not [u for u in g.requests if "/tiles/" in u]
    assert any(u.startswith("/maps/data/parcels") for u in g.requests)
    assert click_marked(g, centre) == text
    g.clean()


def test_the_map_drags_from_a_parcel_on_a_tile(browser, big_server, big_store):  # noqa: F811
    """The canvas tiles take the mouse (for clicks): a drag that starts on a parcel still
    moves the map, and opens no popup."""
    _, centre = big_store
    p = open_overview(browser, big_server, "/maps/overview?show=parcels&zoom=16")
    wait_parcels(p)
    before = p.page.evaluate("[window.__rnMap.getCenter().lat, window.__rnMap.getCenter().lng]")
    x, y = p.page.evaluate(POINT_JS, [centre[1], centre[0]])
    p.page.mouse.move(x, y)
    p.page.mouse.down()
    for step in range(1, 11):
        p.page.mouse.move(x + 20 * step, y + 10 * step)
    p.page.mouse.up()
    p.page.wait_for_timeout(300)
    after = p.page.evaluate("[window.__rnMap.getCenter().lat, window.__rnMap.getCenter().lng]")
    assert after[1] < before[1] - 0.001 and after[0] > before[0] + 0.0003, (before, after)  # the mouse went right and down: the view west and north
    assert p.page.locator(".leaflet-popup-content").count() == 0
    p.clean()


def test_tiles_are_sharp_and_clickable_on_a_high_density_screen(browser, big_server, big_store):  # noqa: F811
    """A screen of 2 device pixels per CSS pixel (most laptops and phones): 512-pixel canvases
    shown at 256, the parcels where the mouse finds them."""
    _, centre = big_store
    page = browser.new_page(viewport={"width": 1200, "height": 800}, device_scale_factor=2)
    errors = []
    page.on("pageerror", lambda e: errors.append(str(e)))
    page.goto(big_server + "/maps/overview?show=parcels&zoom=16")
    page.wait_for_selector(PARCEL_TILE, state="attached", timeout=30000)
    drawn = page.evaluate(TILE_PIXELS_JS)
    assert drawn and all(width == 512 and css == 256 and blue > 2000 for width, css, blue in drawn), drawn
    page.mouse.click(*page.evaluate(POINT_JS, [centre[1], centre[0]]))
    page.locator(".leaflet-popup-content").wait_for(timeout=5000)
    assert MARKED in page.locator(".leaflet-popup-content").inner_text() and not errors
    page.close()


def test_below_the_tilesets_zoom_a_hint_shows(browser, big_server, big_store):  # noqa: F811
    low = min_zoom(N_PARCELS)
    p = Page(browser, big_server, f"/maps/overview?show=parcels&zoom={low - 1}",
             wait_for=["renewal_areas"])
    hint = p.page.locator(".rn-zoom-hint")
    assert hint.is_visible() and hint.inner_text() == "放大后显示候选地块"
    assert p.page.locator(PARCEL_TILE).count() == 0
    p.shot("overview_parcels_zoom_hint")
    p.page.evaluate(f"window.__rnMap.setZoom({low + 4}, {{animate: false}})")
    wait_parcels(p)
    assert not hint.is_visible()
    p.page.get_by_label("候选地块").uncheck()  # turned off: nothing to hint about
    p.page.evaluate(f"window.__rnMap.setZoom({low - 1}, {{animate: false}})")
    p.page.wait_for_timeout(300)
    assert not hint.is_visible() and p.page.locator(PARCEL_TILE).count() == 0
    p.page.get_by_label("候选地块").check()
    assert hint.is_visible()
    english = Page(browser, big_server, f"/maps/overview?show=parcels&zoom={low - 1}&lang=en",
                   wait_for=["renewal_areas"])
    assert english.page.locator(".rn-zoom-hint").inner_text() == "Zoom in to see Candidate parcels"
    english.clean()
    p.clean()


def test_overview_config_tiles_big_layers_only(big_store, sample_store):
    big = TestClient(create_app(Settings(store=str(big_store[0].path))))
    page = big.get("/maps/overview").text
    config = json.loads(page.split("var RENEWAL_CONFIG = ", 1)[1].split(";\n", 1)[0].replace("<\\/", "</"))
    specs = {s["id"]: s for s in config["layers"]}
    assert specs["parcels"]["tiles"]["url"] == "/collections/parcels/tiles/WebMercatorQuad/{z}/{y}/{x}"
    assert specs["parcels"]["minZoom"] == min_zoom(N_PARCELS) and "url" not in specs["parcels"]
    assert specs["parcels"]["tiles"]["features"] == big_store[0].info("parcels").feature_count
    assert "tiles" not in specs["districts"] and "tiles" not in specs["renewal_areas"]
    assert specs["roads"]["minZoom"] == 15  # tiled too (36k segments) but only from street zoom
    # Amap mode (GCJ-02) and ?tiles=false: GeoJSON by view.
    for query in ("?basemap=amap", "?tiles=false"):
        assert "/tiles/WebMercatorQuad" not in big.get("/maps/overview" + query).text
    small = TestClient(create_app(Settings(store=str(sample_store.path)))).get("/maps/overview").text
    assert "/collections/parcels/tiles" not in small and "/maps/data/parcels" in small
    # Only the libraries a page uses: no marker clustering on the overview, and VectorGrid
    # only where the first view draws tiles (else renewal.js loads it when needed).
    assert "leaflet.markercluster.js" not in small and "Leaflet.VectorGrid" not in small.split("var RENEWAL_CONFIG")[0]
    assert re.search(r'Leaflet\.VectorGrid\.bundled\.min\.js\+tiles\.js\?v=\w+"></script>',
                     big.get("/maps/overview?show=parcels&zoom=14").text)


def test_map_data_answers_are_kept_and_revalidated(sample_store):
    from layers.features import FeatureQuery, query_features, to_geojson_features

    client = TestClient(create_app(Settings(store=str(sample_store.path))))
    url = "/maps/data/renewal_areas?limit=5000&properties=name,households,status"
    first = client.get(url)
    assert first.status_code == 200 and first.headers["content-type"] == "application/geo+json"
    assert first.headers["content-encoding"] == "gzip" and first.headers["etag"]
    again = client.get(url)
    assert again.content == first.content and again.headers["server-timing"].startswith("cached")
    assert client.get(url, headers={"If-None-Match": first.headers["etag"]}).status_code == 304
    plain = client.get(url, headers={"Accept-Encoding": "identity"})
    assert "content-encoding" not in plain.headers and plain.json() == first.json()
    # The same features as the general writer (coordinates to 6 decimals; rings as stored).
    page, matched = query_features(sample_store, "renewal_areas",
                                   FeatureQuery(limit=5000, properties=["name", "households", "status"]))
    expected = to_geojson_features(page, properties=["name", "households", "status"], precision=6)
    got = first.json()
    assert got["numberMatched"] == matched == got["numberReturned"] == len(expected)
    for a, b in zip(got["features"], expected, strict=True):
        assert a["id"] == b["id"] and a["properties"] == b["properties"]
        ga, gb = shapely.geometry.shape(a["geometry"]), shapely.geometry.shape(b["geometry"])
        assert ga.normalize().equals_exact(gb.normalize(), 2e-6)
    # A box is another answer (another ETag).
    boxed = client.get(url + "&bbox=113.1,35.1,113.3,35.3")
    assert boxed.headers["etag"] != first.headers["etag"] and boxed.json()["numberReturned"] < matched
