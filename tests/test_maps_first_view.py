"""What makes the overview's first view quick: its small layers written into the page (the same
bytes ``/maps/data`` answers), static files compressed once with long-lived versioned URLs, and
a worker's caches warmed as it starts."""

import json
import os
import re
import urllib.parse
from pathlib import Path
from urllib.parse import urlencode

import pytest
from fastapi.testclient import TestClient

import api.map_data as map_data
import maps.assets as assets_module
from api.app import create_app
from api.routes.maps import INLINE_FEATURES
from api.settings import Settings
from api.warm import corner_tiles, start_warming, warm
from layers.backends.base import tile_folder
from maps.assets import (
    BASE_SCRIPTS,
    BASE_STYLES,
    STATIC_PREFIX,
    STATIC_ROOT,
    asset_url,
    bundle_url,
    load_asset,
)
from maps.builders import INLINE_BYTES


@pytest.fixture(scope="module")
def client(sample_store):
    return TestClient(create_app(Settings(store=str(sample_store.path), warm=False)))


def _config(html: str) -> dict:
    text = html.split("var RENEWAL_CONFIG = ", 1)[1].split(";\n", 1)[0]
    return json.loads(text.replace("<\\/", "</").replace("<\\!--", "<!--"))


def _inlined(html: str) -> dict[str, str]:
    return dict(re.findall(r'<script type="application/json" id="([^"]+)">(.*?)</script>', html, flags=re.S))


@pytest.mark.parametrize("query", ["", "?show=parcels&zoom=14", "?zoom=12&lang=en", "?basemap=amap&show=parcels&zoom=15",
                                   "?show=parcels&zoom=3", "?zoom=4"])
def test_inlined_data_is_what_the_data_endpoint_answers(client, query):
    """… at every zoom: a window that sees past ±180° (zoom 3, 4) is cut at ±180°,
    in lon/lat range (before, the page failed while it was sent: the box ran past ±180°)."""
    response = client.get("/maps/overview" + query)
    html = response.text
    assert response.status_code == 200 and "</html>" in html
    config, inlined = _config(html), _inlined(html)
    specs = [s for s in config["layers"] if s.get("inline")]
    assert {s["id"] for s in specs} >= {"renewal_areas", "districts"}
    if "show=parcels" in query:  # 330 parcels: written in too, from their lowest zoom on
        parcels = next(s for s in config["layers"] if s["id"] == "parcels")
        assert ("parcels" in {s["id"] for s in specs}) == (config["zoom"] >= parcels.get("minZoom", 0))
    assert sum(len(v.encode()) for v in inlined.values()) <= INLINE_BYTES
    for spec in specs:
        params = dict(p.split("=", 1) for p in spec["query"].split("&"))
        if spec["inline"]["box"] is not None:
            params["bbox"] = ",".join(f"{v:.6f}" for v in spec["inline"]["box"])
        answer = client.get(f"{spec['url']}?{urlencode(params, safe=',')}")
        page = json.loads(inlined[spec["inline"]["element"]])
        assert page == answer.json(), spec["id"]
        assert page["numberMatched"] == page["numberReturned"]  # only whole answers are written in


def test_the_view_box_holds_the_window_and_districts_come_by_view(client):
    config = _config(client.get("/maps/overview?show=parcels&zoom=14").text)
    specs = {s["id"]: s for s in config["layers"]}
    (s, w), (n, e) = config["fit"]
    box = specs["parcels"]["inline"]["box"]
    assert box[0] < (w + e) / 2 < box[2] and box[1] < (s + n) / 2 < box[3]
    # 1920 px at zoom 14 is 0.165 degrees of longitude, with Leaflet's padding of 16 px a side.
    assert box[2] - box[0] == pytest.approx((1920 + 32) * 360 / 256 / 2**14, abs=2e-6)  # 6 decimals
    # The sample's districts are two cities 1,200 km apart: the page carries the opening view's.
    districts = json.loads(_inlined(client.get("/maps/overview").text)["rn-inline-districts"])
    assert {f["properties"]["city"] for f in districts["features"]} == {"焦作市"}
    assert specs["districts"]["byView"] is True


def test_big_layers_are_asked_for_not_written_in(client, monkeypatch):
    import api.routes.maps as routes

    monkeypatch.setattr(routes, "INLINE_FEATURES", 100)  # below the sample's 330 parcels
    html = client.get("/maps/overview?show=parcels&zoom=13").text  # a page not asked for yet (pages are kept)
    specs = {s["id"]: s for s in _config(html)["layers"]}
    assert "inline" not in specs["parcels"] and "rn-inline-parcels" not in html
    assert specs["renewal_areas"]["inline"] and INLINE_FEATURES >= 1000


def test_static_files_are_compressed_once_and_versioned(client):
    url = asset_url("vendor/leaflet/leaflet.js")
    assert re.fullmatch(rf"{STATIC_PREFIX}/vendor/leaflet/leaflet\.js\?v=[0-9a-f]{{12}}", url)
    r = client.get(url, headers={"Accept-Encoding": "gzip"})
    assert r.status_code == 200 and r.headers["content-encoding"] == "gzip"
    assert r.headers["cache-control"] == "public, max-age=31536000, immutable"
    assert r.headers["content-type"].startswith("text/javascript")
    assert r.content == load_asset("vendor/leaflet/leaflet.js").body  # httpx decoded the gzip
    assert int(r.headers["content-length"]) < len(r.content) / 3
    # Without the version (or an old one): revalidated by ETag.
    plain = client.get(f"{STATIC_PREFIX}/vendor/leaflet/leaflet.js?v=old")
    assert plain.headers["cache-control"] == "no-cache" and plain.headers["etag"] == r.headers["etag"]
    again = client.get(f"{STATIC_PREFIX}/vendor/leaflet/leaflet.js", headers={"If-None-Match": r.headers["etag"]})
    assert again.status_code == 304 and not again.content
    image = client.get(f"{STATIC_PREFIX}/vendor/leaflet/images/layers.png", headers={"Accept-Encoding": "gzip"})
    assert image.headers["content-type"] == "image/png" and "content-encoding" not in image.headers
    for bad in ("nothing.js", "../assets.py", "..%2Fassets.py", "vendor/../../builders.py"):
        assert client.get(f"{STATIC_PREFIX}/{bad}").status_code == 404, bad


def test_leaflet_and_ours_come_as_one_script_and_one_style_sheet(client):
    url = bundle_url(BASE_SCRIPTS)
    r = client.get(url, headers={"Accept-Encoding": "gzip"})
    assert r.status_code == 200 and r.headers["content-encoding"] == "gzip"
    assert r.headers["cache-control"] == "public, max-age=31536000, immutable"
    leaflet, *ours = (load_asset(f).body for f in BASE_SCRIPTS)
    assert r.content.startswith(leaflet.split(b"//# sourceMappingURL")[0]) and r.content.endswith(b"\n;\n".join(ours))
    assert b"sourceMappingURL" not in r.content  # Leaflet's map would not match the bundle
    styles = client.get(bundle_url(BASE_STYLES))
    assert styles.headers["content-type"].startswith("text/css") and styles.text.endswith(load_asset("renewal.css").body.decode())
    # Leaflet's images as its style sheet's folder resolves them, wherever the bundle lives.
    images = set(re.findall(r"url\(([^)#]+)\)", styles.text))
    assert images and all(i.startswith(f"{STATIC_PREFIX}/vendor/leaflet/images/") for i in images)
    assert all(client.get(i).status_code == 200 for i in images)
    # A new version of one file makes a new URL (what the browser keeps for a year).
    assert url.split("?v=")[1] != bundle_url(("vendor/leaflet/leaflet.js", "whatif.js")).split("?v=")[1]
    for bad in ("bundle/renewal.js+nothing.js", "bundle/renewal.js+renewal.css", "bundle/", "bundle/../assets.py",
                "bundle/" + "+".join(["renewal.js"] * 2), "bundle/" + "+".join(["renewal.js"] * 500)):
        assert client.get(f"{STATIC_PREFIX}/{bad}").status_code == 404, bad[:60]
    # Any combination may be asked for; only the last few are kept.
    scripts = sorted(str(p.relative_to(STATIC_ROOT)) for p in STATIC_ROOT.rglob("*.js"))
    for a in scripts[:6]:
        for b in scripts[6:10]:
            assert client.get(f"{STATIC_PREFIX}/bundle/{a}+{b}").status_code == 200
    assert len(assets_module._bundles) <= 16


def test_the_overview_uses_versioned_assets(client):
    html = client.get("/maps/overview").text
    assets = re.findall(r'<(?:script|link)[^>]+(?:src|href)="(/static/[^"]+)"', html)
    assert assets and all("?v=" in a for a in assets), assets


def test_warming_fills_the_overviews_caches(sample_store, monkeypatch):
    import api.routes.maps as routes

    # The parcels asked for by view, as 10,000 are (the sample's 330 would be written into the page).
    monkeypatch.setattr(routes, "INLINE_FEATURES", 100)
    app = create_app(Settings(store=str(sample_store.path), warm=False))
    map_data._TEXTS.items.clear()  # kept per process: what other tests wrote
    took = warm(app)
    assert {"static", bundle_url(BASE_SCRIPTS).split("?")[0], "/maps/overview", "/maps/overview?show=parcels&zoom=13"} < set(took)
    asked = next(k for k in took if k.startswith("/maps/data/parcels?"))
    assert "limit=1&" in asked and "&bbox=" in asked
    # With the page's query: the parcels' texts every new box is cut from are written (api.map_data).
    parcels = next(s for s in _config(TestClient(app).get("/maps/overview?show=parcels&zoom=13").text)["layers"]
                   if s["id"] == "parcels")
    fields = tuple(dict(urllib.parse.parse_qsl(parcels["query"]))["properties"].split(","))
    assert ("parcels", fields) in {(k[1], k[3]) for k in map_data._TEXTS.items}
    client = TestClient(app)
    page = client.get("/maps/overview")
    # Kept whole by warm() (a page not kept yet is streamed, without a length): the render
    # ran to its end although warm() reads no answer.
    assert "content-length" in page.headers
    assert "content-length" in client.get("/maps/overview?show=parcels&zoom=13").headers
    spec = next(s for s in _config(page.text)["layers"] if s["id"] == "renewal_areas")
    r = client.get(f"{spec['url']}?{spec['query']}")
    assert r.headers["server-timing"].startswith("cached")  # answered from what warm() encoded


def test_health_says_when_a_workers_warm_up_is_over(sample_store):
    app = create_app(Settings(store=str(sample_store.path), warm=False))
    client = TestClient(app)
    assert client.get("/health").json()["warming"] == "off"
    thread = start_warming(app)
    assert client.get("/health").json()["warming"] in ("running", "done")
    thread.join()
    health = client.get("/health").json()
    assert health["warming"] == "done" and health["status"] == "ok" and health["worker"] == os.getpid()


def test_warming_loads_the_tile_path_for_tiled_parcels(sample_store, monkeypatch, caplog):
    import api.routes.maps

    monkeypatch.setattr(api.routes.maps, "TILED_FEATURES", 10)  # the sample's parcels are drawn from tiles
    app = create_app(Settings(store=str(sample_store.path), warm=False))
    folder = Path(tile_folder(sample_store.uri), "parcels")
    before = set(folder.rglob("*.mvt.gz"))
    with caplog.at_level("INFO", logger="renewal.warm"):
        took = warm(app)
    assert "/collections/parcels/tiles/WebMercatorQuad/22/0/0" in took and not any(k.startswith("/maps/data/") for k in took)
    assert "tile encoder" in took
    assert "answered" not in caplog.text  # every warming request answered 200
    # The tiles encoded at the layer's corner hold features; none is kept, only the far empty one asked for.
    assert {p.parts[-3:] for p in set(folder.rglob("*.mvt.gz")) - before} <= {("22", "0", "0.mvt.gz")}
    assert corner_tiles(sample_store, sample_store.info("parcels")) > 1000


def test_the_overview_is_kept_per_layer_versions_and_revalidated(client):
    first = client.get("/maps/overview?zoom=14", headers={"Accept-Encoding": "gzip"})
    assert first.headers["content-encoding"] == "gzip" and first.headers["cache-control"] == "no-cache"
    assert first.headers["content-type"] == "text/html; charset=utf-8"
    again = client.get("/maps/overview?zoom=14")
    assert again.text == first.text and again.headers["etag"] == first.headers["etag"]
    assert client.get("/maps/overview?zoom=15").headers["etag"] != first.headers["etag"]
    assert client.get("/maps/overview?zoom=14", headers={"If-None-Match": first.headers["etag"]}).status_code == 304


def test_a_page_not_kept_yet_starts_with_its_files_preload_hints(sample_store):
    """Rendered on a first request, the page's start and preload hints go out before the rest
    (streamed, one gzip stream): the browser fetches Leaflet while the server renders."""
    client = TestClient(create_app(Settings(store=str(sample_store.path), warm=False)))
    first = client.get("/maps/overview?zoom=13&lang=en", headers={"Accept-Encoding": "gzip"})
    assert first.headers["content-encoding"] == "gzip" and "content-length" not in first.headers
    html = first.text
    head = html.split("<title>", 1)[0]
    assert head.startswith("<!DOCTYPE html>\n<html>\n<head>\n")
    preloads = re.findall(r'<link rel="preload" href="([^"]+)" as="(script|style)">', head)
    assert preloads == [(bundle_url(BASE_SCRIPTS), "script"), (bundle_url(BASE_STYLES), "style")]
    assert all(f'src="{h}"' in html or f'href="{h}"' in html for h, _ in preloads)  # and loaded by the page
    assert html.count("<head>") == html.count("</head>") == html.count("<!DOCTYPE") == 1 and html.endswith("</html>")
    # Kept: the next answer is the same page in one piece, with the same ETag.
    again = client.get("/maps/overview?zoom=13&lang=en", headers={"Accept-Encoding": "gzip"})
    assert again.text == html and again.headers["etag"] == first.headers["etag"]
    assert int(again.headers["content-length"]) < len(html.encode()) / 2  # compressed (level 1: ~2.9x)
    plain = client.get("/maps/overview?zoom=13&lang=en", headers={"Accept-Encoding": "identity"})
    assert plain.text == html and "content-encoding" not in plain.headers


def test_an_answer_written_into_a_page_is_compressed_when_first_sent(client):
    html = client.get("/maps/overview?show=parcels&zoom=13&lang=en").text
    spec = next(s for s in _config(html)["layers"] if s["id"] == "parcels")
    params = dict(p.split("=", 1) for p in spec["query"].split("&"))
    params["bbox"] = ",".join(f"{v:.6f}" for v in spec["inline"]["box"])
    r = client.get(f"{spec['url']}?{urlencode(params, safe=',')}", headers={"Accept-Encoding": "gzip"})
    assert r.headers["server-timing"].startswith("cached") and r.headers["content-encoding"] == "gzip"
    assert r.json() == json.loads(_inlined(html)[spec["inline"]["element"]])


def test_an_overview_of_a_store_without_areas_is_a_404_not_a_cut_page(tmp_path):
    import geopandas as gpd
    import shapely

    from layers.imports import import_frame
    from layers.store import open_store

    store = open_store(tmp_path / "empty.gpkg")
    import_frame(store, gpd.GeoDataFrame({"name": ["一所小学"], "category": ["primary_school"]},
                                         geometry=[shapely.Point(113.2, 35.2)], crs=4490), layer="services")
    client = TestClient(create_app(Settings(store=str(store.path), warm=False)))
    r = client.get("/maps/overview")
    assert r.status_code == 404 and "renewal_areas" in r.json()["detail"]


def test_a_page_that_fails_after_its_start_says_so_and_is_not_kept(sample_store, monkeypatch, caplog):
    import api.routes.maps as routes

    client = TestClient(create_app(Settings(store=str(sample_store.path), warm=False)), raise_server_exceptions=False)
    monkeypatch.setattr(routes, "overview_html", lambda *a, **k: (_ for _ in ()).throw(RuntimeError("boom")))
    r = client.get("/maps/overview?zoom=16&lang=en", headers={"Accept-Encoding": "gzip"})
    assert r.status_code == 200 and "the map could not be made (error id" in r.text and r.text.endswith("</html>")
    assert "boom" in caplog.text
    monkeypatch.undo()
    ok = client.get("/maps/overview?zoom=16&lang=en")
    assert "renewalInit(" in ok.text  # rendered again, not the failed page


@pytest.mark.parametrize("center, zoom", [((35.2137, 113.2412), 14), ((-33.5, 151.25), 3), ((0.0, 0.0), 20),
                                          ((35.123456789012, 113.98765432101), 12)])
def test_foliums_part_of_a_page_is_what_folium_renders_at_that_view(center, zoom):
    """``maps.skeleton`` renders folium's page once per title and files, and writes each page's
    opening view in: the same text as folium's own at that view (but the map's name)."""
    import folium

    from maps.skeleton import folium_page

    scripts, styles = [("renewal", bundle_url(BASE_SCRIPTS))], [("renewal_css", bundle_url(BASE_STYLES))]
    page = folium_page("城市更新 <总览>", center, zoom, scripts, styles)
    m = folium.Map(location=list(center), zoom_start=zoom, tiles=None, control_scale=False, max_zoom=20)
    m.default_js, m.default_css = scripts, styles
    root = m.get_root()
    root.header.add_child(folium.Element("<title>城市更新 &lt;总览&gt;</title>"))
    assert page.head + page.body + page.tail + page.after == root.render().replace(m.get_name(), page.map_name)
    assert page.head.endswith("</title>") and page.tail.startswith("</body>") and page.after.startswith("</script>")
