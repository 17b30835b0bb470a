"""The HTTP API mounted in-process (status, content type, decoded payloads), plus GDAL's
real OAPIF client against a live server."""

import io
import json
import shutil
import subprocess
import zipfile
from datetime import date

import geopandas as gpd
import pytest
import shapely
from fastapi.testclient import TestClient

from api.app import create_app
from api.settings import Settings
from layers.landuse_txt import read_landuse_txt, write_landuse_txt
from tests.conftest import copy_sample, sha256

TOKEN = {"Authorization": "Bearer s3cret"}
GK = "http://www.opengis.net/def/crs/EPSG/0/4547"


@pytest.fixture(scope="module")
def store_copy(sample_store, tmp_path_factory):
    return copy_sample(sample_store, tmp_path_factory.mktemp("api"))


@pytest.fixture(scope="module")
def live_server(store_copy):
    from tests.conftest import serve

    with serve(store_copy) as url:
        yield url


@pytest.fixture(scope="module")
def client(store_copy):
    return TestClient(create_app(Settings(store=str(store_copy), edit_tokens="alice:s3cret", upload_limit_mb=1)))


def problem(r, status):
    assert r.status_code == status, r.text
    assert r.headers["content-type"].startswith("application/problem+json")
    body = r.json()
    assert body["status"] == status and body["detail"]
    return body


# --- OGC API – Features ---------------------------------------------------------------------

def test_landing_conformance_and_api(client):
    links = {link["rel"]: link for link in client.get("/").json()["links"]}
    assert {"self", "service-desc", "conformance", "data"} <= set(links)
    assert "http://www.opengis.net/spec/ogcapi-features-2/1.0/conf/crs" in client.get("/conformance").json()["conformsTo"]
    api = client.get("/api")
    assert api.status_code == 200 and api.json()["openapi"] == "3.0.3"
    params = {p["name"]: p for p in api.json()["paths"]["/collections/{collection_id}/items"]["get"]["parameters"]}
    assert params["limit"]["schema"]["default"] == 100 and params["limit"]["schema"]["maximum"] == 10000


def test_collections_describe_extent_and_crs(client):
    body = client.get("/collections").json()
    ids = [c["id"] for c in body["collections"]]
    assert {"renewal_areas", "services", "roads", "parcels", "constraints", "districts"} <= set(ids)
    areas = client.get("/collections/renewal_areas").json()
    assert areas["storageCrs"].endswith("/4490") and GK in areas["crs"]
    x0, y0, x1, y1 = areas["extent"]["spatial"]["bbox"][0]
    assert 112 < x0 < x1 < 114 and 34 < y0 < y1 < 36


def test_items_paging_links_and_counts(client):
    r = client.get("/collections/services/items?limit=10&offset=20")
    assert r.status_code == 200 and r.headers["content-type"] == "application/geo+json"
    body = r.json()
    assert body["numberReturned"] == 10 and body["numberMatched"] >= 2000
    rels = {link["rel"]: link for link in body["links"]}
    assert "offset=30" in rels["next"]["href"] and "offset=10" in rels["prev"]["href"]
    assert rels["next"]["type"] == "application/geo+json"
    assert r.headers["content-crs"] == "<http://www.opengis.net/def/crs/OGC/1.3/CRS84>"


def test_items_filter_properties_and_bbox(client):
    body = client.get("/collections/renewal_areas/items", params={"county": "中站区", "properties": "name,area_mu"}).json()
    names = [f["properties"]["name"] for f in body["features"]]
    assert "西大井片区" in names and all(set(f["properties"]) == {"name", "area_mu"} for f in body["features"])
    wbw = next(f for f in body["features"] if f["properties"]["name"] == "西大井片区")
    assert wbw["properties"]["area_mu"] == pytest.approx(500, rel=1e-3)
    near = client.get("/collections/renewal_areas/items", params={"bbox": "113.16,35.23,113.18,35.25"}).json()
    assert "西大井片区" in [f["properties"]["name"] for f in near["features"]]


def test_gauss_kruger_output_is_northing_easting(client):
    r = client.get("/collections/renewal_areas/items/1", params={"crs": GK})
    assert r.status_code == 200 and r.headers["content-crs"] == f"<{GK}>"
    ring = r.json()["geometry"]["coordinates"][0][0]
    north, east = ring[0]
    assert 3_800_000 < north < 4_000_000 and 400_000 < east < 500_000
    # bbox in the same CRS, in its axis order, finds the feature again
    geom = shapely.geometry.shape(r.json()["geometry"])
    n0, e0, n1, e1 = geom.bounds
    hit = client.get("/collections/renewal_areas/items",
                     params={"bbox": f"{n0},{e0},{n1},{e1}", "bbox-crs": GK}).json()
    assert 1 in [f["id"] for f in hit["features"]]


@pytest.mark.parametrize("url, status, fragment", [
    ("/collections/nowhere", 404, "no feature collection 'nowhere'"),
    ("/collections/services/items?limit=20000", 400, "limit"),
    ("/collections/services/items?limit=-1", 400, "limit"),
    ("/collections/services/items?bbox=1,2,3", 400, "bbox needs 4"),
    ("/collections/services/items?bbox=a,b,c,d", 400, "numbers"),
    ("/collections/services/items?bbox=400000,3900000,410000,3910000", 400, "not lon/lat"),
    ("/collections/services/items?crs=EPSG:3857", 400, "unsupported CRS"),
    ("/collections/services/items?colour=red", 400, "unknown query parameter or property 'colour'"),
    ("/collections/services/items?properties=nope", 400, "unknown properties"),
    ("/collections/services/items/999999", 404, "no feature 999999"),
    ("/collections/services/items/abc", 400, "feature_id"),
    ("/no/such/path", 404, "start at /"),
])
def test_bad_requests_get_problem_json(client, url, status, fragment):
    assert fragment in problem(client.get(url), status)["detail"]


def test_gdal_ogrinfo_and_ogr2ogr_read_the_api(live_server, tmp_path, sample_store):
    assert shutil.which("ogrinfo"), "gdal-bin must be installed (make test installs it)"
    listing = subprocess.run(["ogrinfo", "-ro", "-q", f"OAPIF:{live_server}"], capture_output=True, text=True,
                             timeout=120)
    assert listing.returncode == 0, listing.stderr
    for info in sample_store.layers():
        if info.geometry_type in ("polygon", "point", "line"):
            assert f" {info.name} (" in listing.stdout
            summary = subprocess.run(["ogrinfo", "-ro", "-so", f"OAPIF:{live_server}", info.name],
                                     capture_output=True, text=True, timeout=120)
            assert f"Feature Count: {info.feature_count}" in summary.stdout, summary.stdout
    out = tmp_path / "copy.gpkg"
    copy = subprocess.run(["ogr2ogr", "-f", "GPKG", str(out), f"OAPIF:{live_server}", "renewal_areas"],
                          capture_output=True, text=True, timeout=180)
    assert copy.returncode == 0, copy.stderr
    copied = gpd.read_file(out, layer="renewal_areas")
    assert len(copied) == sample_store.info("renewal_areas").feature_count
    assert "西大井片区" in set(copied["name"])


# --- analysis -------------------------------------------------------------------------------

def test_services_report_endpoint(client):
    body = client.get("/analysis/services/西大井片区").json()
    assert body["area_name"] == "西大井片区" and body["basis"] == "network" and len(body["categories"]) == 16
    k = next(c for c in body["categories"] if c["category"] == "kindergarten")
    assert k["network_m"] >= k["straight_m"] >= 0


def test_nearby_and_its_errors(client):
    body = client.get("/analysis/nearby", params={"lon": 113.17, "lat": 35.24, "radius_m": 500}).json()
    assert body["count"] > 0
    d = [f["network_m"] if f["network_m"] is not None else f["straight_m"] for f in body["facilities"]]
    assert d == sorted(d) and max(d) <= 500
    assert "swapped" in problem(client.get("/analysis/nearby", params={"lon": 35.24, "lat": 113.17}), 400)["detail"]
    problem(client.get("/analysis/nearby", params={"lon": 113.17, "lat": 35.24, "category": "casino"}), 400)
    problem(client.get("/analysis/nearby", params={"lon": 113.17, "lat": 35.24, "radius_m": 99999}), 400)


def test_isochrones_endpoint(client):
    r = client.get("/analysis/isochrones/1")
    assert r.status_code == 200 and r.headers["content-type"] == "application/geo+json"
    assert [f["properties"]["threshold_m"] for f in r.json()["features"]] == [1000, 500, 300]


def test_site_selection_endpoint(client):
    r = client.post("/analysis/site-selection", json={"for": "西大井片区", "units": 1000, "top": 3,
                                                      "require": "kindergarten:300"})
    assert r.status_code == 200, r.text
    body = r.json()
    assert body["type"] == "FeatureCollection" and 1 <= len(body["features"]) <= 3
    first = body["features"][0]["properties"]
    assert sum(first["contributions"].values()) == pytest.approx(first["score"], abs=1e-3)
    assert body["removed_by_rule"]["constraints"] > 0
    problem(client.post("/analysis/site-selection", json={"for": "不存在"}), 404)
    problem(client.post("/analysis/site-selection", json={"for": "1", "units": -5}), 400)
    problem(client.post("/analysis/site-selection", json={"for": "1", "colour": "red"}), 400)


def test_weights_and_targets_endpoints(client):
    ok = client.post("/analysis/weights", json={"names": ["a", "b", "c"], "matrix": [[1, 3, 9], [1 / 3, 1, 3], [1 / 9, 1 / 3, 1]]})
    assert ok.json()["consistent"] and ok.json()["weights"]["a"] == pytest.approx(0.6923, abs=1e-4)
    assert "inconsistent" in problem(client.post("/analysis/weights", json={
        "names": ["a", "b", "c"], "matrix": [[1, 9, 1 / 9], [1 / 9, 1, 9], [9, 1 / 9, 1]]}), 400)["detail"]
    t = client.get("/analysis/targets", params={"city": "焦作市"}).json()
    assert {c["region"] for c in t["checks"] if c["kind"] == "region"} == {"示范区"}
    problem(client.get("/analysis/targets", params={"city": "北京市"}), 400)


# --- exports --------------------------------------------------------------------------------

@pytest.mark.parametrize("fmt, media", [("geojson", "application/geo+json"), ("gpkg", "application/geopackage"),
                                        ("shp", "application/zip"), ("csv", "text/csv"), ("txt", "text/plain")])
def test_exports(client, fmt, media, tmp_path):
    r = client.get("/exports/parcels", params={"format": fmt, "crs": "4547", "ids": "1,2,3"})
    assert r.status_code == 200 and r.headers["content-type"].startswith(media)
    assert f"parcels_{date.today():%Y%m%d}" in r.headers["content-disposition"]
    path = tmp_path / f"x.{ 'zip' if fmt == 'shp' else fmt}"
    path.write_bytes(r.content)
    if fmt == "txt":
        assert r.content.decode("gbk").startswith("[属性描述]")
        assert len(read_landuse_txt(path)) == 3
    elif fmt == "shp":
        assert {"parcels_" in n for n in zipfile.ZipFile(io.BytesIO(r.content)).namelist()} == {True}
    elif fmt != "csv":
        assert len(gpd.read_file(path)) == 3


def test_export_errors(client):
    problem(client.get("/exports/parcels", params={"format": "dwg"}), 400)
    problem(client.get("/exports/parcels", params={"format": "kml", "crs": "4547"}), 400)  # KML is lon/lat
    problem(client.get("/exports/services", params={"format": "txt"}), 400)
    problem(client.get("/exports/parcels", params={"ids": "x"}), 400)
    problem(client.get("/exports/nowhere"), 404)


def test_landuse_txt_matches_the_hand_made_file(tmp_path):
    from pathlib import Path

    expected = Path(__file__).parent / "fixtures" / "landuse_expected.txt"
    square = shapely.box(38430000, 3900000, 38430100, 3900100)
    holed = shapely.Polygon(shapely.box(38430000, 3900300, 38430200, 3900500).exterior.coords,
                            [shapely.box(38430075, 3900375, 38430125, 3900425).exterior.coords])
    frame = gpd.GeoDataFrame({"name": ["测试地块", "带洞地块"], "current_use": ["空地", "空地"]},
                             geometry=[square, holed], crs=4526).to_crs(4490)
    out = write_landuse_txt(frame, tmp_path / "out.txt", unit="焦作市自然资源和规划局", produced=date(2026, 11, 22))
    got = out.read_bytes().decode("gbk").splitlines()
    want = expected.read_bytes().decode("gbk").splitlines()
    assert len(got) == len(want)
    for line_got, line_want in zip(got, want, strict=True):
        assert line_got.split(",") == line_want.split(",")  # field by field
    back = read_landuse_txt(expected)
    assert back.area_ha.tolist() == [1.0, 3.75]
    assert back.to_crs(4526).geometry.area.round(3).tolist() == [10000.0, 37500.0]
    assert back.to_crs(4526).geometry.iloc[1].interiors[0].length == pytest.approx(200)


def test_landuse_txt_round_trip_through_the_cli(sample_store, tmp_path):
    from layers.imports import import_file
    from layers.store import GeoPackageStore

    parcels = sample_store.read("parcels").iloc[:20]
    out = write_landuse_txt(parcels, tmp_path / "p.txt")
    store = GeoPackageStore(tmp_path / "s.gpkg")
    info, _ = import_file(store, out, layer="parcels")
    back = store.read("parcels")
    assert info.feature_count == 20
    moved = back.to_crs(4547).geometry.values
    orig = parcels.to_crs(4547).geometry.values
    assert max(shapely.hausdorff_distance(a, b) for a, b in zip(moved, orig, strict=True)) < 0.001  # < 1 mm


# --- writes and access ----------------------------------------------------------------------

FEATURE = {"type": "Feature", "properties": {"name": "新增幼儿园", "category": "kindergarten", "capacity": 270},
           "geometry": {"type": "Point", "coordinates": [113.18, 35.24]}}


def test_writes_need_an_edit_token(client, store_copy):
    before = sha256(store_copy)
    problem(client.post("/collections/services/items", json=FEATURE), 401)
    problem(client.post("/collections/services/items", json=FEATURE, headers={"Authorization": "Bearer nope"}), 403)
    assert sha256(store_copy) == before


def test_create_replace_delete_keep_ids_and_audit(client, store_copy):
    from layers.store import GeoPackageStore

    r = client.post("/collections/services/items", json=FEATURE, headers=TOKEN)
    assert r.status_code == 201, r.text
    (fid,) = r.json()["created"]
    got = client.get(f"/collections/services/items/{fid}").json()
    assert got["properties"]["name"] == "新增幼儿园"
    other_ids = client.get("/collections/services/items?limit=3").json()["features"]
    changed = {**FEATURE, "properties": {**FEATURE["properties"], "name": "改名幼儿园"}}
    assert client.put(f"/collections/services/items/{fid}", json=changed, headers=TOKEN).status_code == 204
    assert client.get(f"/collections/services/items/{fid}").json()["properties"]["name"] == "改名幼儿园"
    assert client.get("/collections/services/items?limit=3").json()["features"] == other_ids  # ids kept
    assert client.delete(f"/collections/services/items/{fid}", headers=TOKEN).status_code == 204
    problem(client.get(f"/collections/services/items/{fid}"), 404)
    audit = GeoPackageStore(store_copy).audit_log(5)
    assert [a["who"] for a in audit[:3]] == ["alice"] * 3


@pytest.mark.parametrize("body, status, fragment", [
    ({"type": "Point"}, 400, "Feature or FeatureCollection"),
    ({"type": "Feature", "geometry": {"type": "Point", "coordinates": "x"}, "properties": {}}, 400, "malformed"),
    ({**FEATURE, "properties": {"name": "x", "category": "casino"}}, 422, "unknown value 'casino'"),
    ({**FEATURE, "geometry": {"type": "Point", "coordinates": [35.24, 113.18]}}, 422, "swapped"),
])
def test_bad_edits_are_4xx(client, store_copy, body, status, fragment):
    before = sha256(store_copy)
    r = client.post("/collections/services/items", json=body, headers=TOKEN)
    b = problem(r, status)
    assert fragment in json.dumps(b, ensure_ascii=False)
    assert sha256(store_copy) == before


def test_import_upload_and_limits(client, store_copy, tmp_path):
    csv = "名称,类别,经度,纬度\n新公园,公园,113.2,35.22\n".encode("gbk")
    r = client.post("/imports", data={"layer": "parks_2026", "kind": "services"},
                    files={"file": ("parks.csv", csv, "text/csv")}, headers=TOKEN)
    assert r.status_code == 201, r.text
    assert r.json()["imported"] == 1
    before = sha256(store_copy)
    bad = b"name,category,lon,lat\nx,casino,113.2,35.2\n"
    problem(client.post("/imports", data={"layer": "parks_2026", "kind": "services"},
                        files={"file": ("bad.csv", bad, "text/csv")}, headers=TOKEN), 422)
    big = b"name,category,lon,lat\n" + b"x,park,113.2,35.2\n" * 70000  # > 1 MB limit of this app
    problem(client.post("/imports", data={"layer": "parks_2026", "kind": "services"},
                        files={"file": ("big.csv", big, "text/csv")}, headers=TOKEN), 413)
    assert sha256(store_copy) == before


def test_reads_can_be_closed(store_copy):
    closed = TestClient(create_app(Settings(store=str(store_copy), read_tokens="bob:r3ad", edit_tokens="alice:s3cret")))
    problem(closed.get("/collections"), 401)
    assert closed.get("/collections", headers={"Authorization": "Bearer r3ad"}).status_code == 200
    assert closed.get("/collections", headers=TOKEN).status_code == 200


def test_dem_tiles_come_from_a_copy_made_once_per_layer_version(store_copy, tmp_path):
    """DEM tiles are read from a Web-Mercator copy of the stored DEM, made once per version
    of the DEM layer (an edit of another layer keeps it, a new DEM makes a new one); they
    match tiles warped from the GeoPackage raster itself."""
    import os

    import morecantile
    import numpy as np
    import rasterio
    from PIL import Image

    from api.routes.rasters import raster_source
    from layers.store import open_store
    from layers.validate import validate_layer
    from maps.tiles import RasterSource, render_tile

    store_path = tmp_path / "renewal.gpkg"
    shutil.copyfile(store_copy, store_path)
    store = open_store(store_path)
    first = raster_source(store, "dem")
    assert first.path.endswith("dem.3857.tif") and os.path.exists(first.path)
    assert raster_source(store, "dem") == first  # the same copy
    warped = RasterSource(f"GPKG:{store_path}:dem", first.vmin, first.vmax, first.colormap)
    with rasterio.open(first.path) as copy:
        assert copy.crs.to_epsg() == 3857
    lon, lat = 113.2, 35.22
    for z in (11, 13, 14):
        t = morecantile.tms.get("WebMercatorQuad").tile(lon, lat, z)
        a = np.asarray(Image.open(io.BytesIO(render_tile(first, z, t.x, t.y))).convert("RGBA"), dtype=float)
        b = np.asarray(Image.open(io.BytesIO(render_tile(warped, z, t.x, t.y))).convert("RGBA"), dtype=float)
        both = (a[..., 3] > 0) & (b[..., 3] > 0)
        assert both.mean() > 0.5  # the tile is on the DEM
        assert np.abs(a[both] - b[both])[:, :3].mean() < 3  # colours of nearly the same heights
        assert (a[..., 3] > 0).mean() == pytest.approx((b[..., 3] > 0).mean(), abs=0.02)
    area = store.read("renewal_areas").iloc[:1]
    store.insert_features("renewal_areas", validate_layer(area.drop(columns="id"), "renewal_areas"), who="t")
    assert raster_source(store, "dem") == first  # another layer's edit keeps the copy
    with store.read_raster("dem") as src:
        array, transform, crs, nodata = src.read(1), src.transform, src.crs, src.nodata
    store.delete("dem")
    store.write_raster("dem", array, transform=transform, crs=crs, nodata=nodata)
    assert raster_source(store, "dem").path != first.path  # a new DEM version: a new copy


def test_raster_tiles_and_tilejson(client):
    import morecantile
    from PIL import Image

    for raster in ("dem", "suitability-1"):
        tj = client.get(f"/rasters/{raster}/tilejson.json")
        assert tj.status_code == 200, tj.text
        body = tj.json()
        assert body["tiles"][0].endswith(f"/rasters/{raster}/tiles/{{z}}/{{x}}/{{y}}.png")
        lon, lat = body["center"][:2]
        tile = morecantile.tms.get("WebMercatorQuad").tile(lon, lat, 13)
        r = client.get(f"/rasters/{raster}/tiles/13/{tile.x}/{tile.y}.png")
        assert r.status_code == 200 and r.headers["content-type"] == "image/png"
        img = Image.open(io.BytesIO(r.content))
        assert img.size == (256, 256) and img.getextrema()[-1][1] > 0  # some opaque pixels
    far = client.get("/rasters/dem/tiles/13/0/0.png")
    assert far.status_code == 200  # transparent, not an error
    problem(client.get("/rasters/dem/tiles/3/99/0.png"), 400)
    problem(client.get("/rasters/roads/tilejson.json"), 404)


def test_site_selection_tiles_show_the_surface_of_the_request(client):
    body = {"for": "西大井片区", "units": 1000, "top": 3}
    default = client.post("/analysis/site-selection", json=body).json()
    assert default["tiles"] == "/rasters/suitability-1/tiles/{z}/{x}/{y}.png"
    heavy = client.post("/analysis/site-selection",
                        json={**body, "weights": {"criteria": {"origin": {"weight": 80}}}}).json()
    assert heavy["tiles"].startswith("/rasters/suitability-1/tiles/{z}/{x}/{y}.png?surface=")
    assert heavy["weights"]["origin"] > default["weights"]["origin"]
    tile = {"z": 14, "x": 13343, "y": 6476}  # over 西大井片区
    a, b = (client.get(t["tiles"].format(**tile)) for t in (default, heavy))
    assert a.status_code == b.status_code == 200 and a.headers["content-type"] == "image/png"
    assert a.content != b.content  # another surface, drawn
    problem(client.get("/rasters/suitability-1/tiles/14/13343/6476.png?surface=bm90LWEtdG9rZW4"), 400)
    problem(client.get("/rasters/suitability-1/tiles/14/13343/6476.png?surface=a%20b"), 400)
