"""Vector tiles (OGC API – Tiles, #16): each tile holds exactly the features the store finds in
its box, on both backends alike (PostGIS encodes with ST_AsMVT, the GeoPackage with
``layers.mvt_pbf``); GDAL's MVT driver reads our tiles back as an independent decoder."""

import subprocess

import mapbox_vector_tile
import morecantile
import numpy as np
import pytest
import shapely
from fastapi.testclient import TestClient

from api.app import create_app
from api.settings import Settings
from layers.imports import import_frame
from layers.mvt import EXTENT, min_zoom, tile_bounds_lonlat
from layers.store import open_store
from layers.validate import validate_layer
from tests.conftest import copy_sample

TMS = morecantile.tms.get("WebMercatorQuad")
WBW = (113.17, 35.24)  # 西大井片区


def tile_at(z: int):
    t = TMS.tile(*WBW, z)
    return t.x, t.y


def decoded(body: bytes, layer: str) -> dict[int, dict]:
    if not body:
        return {}
    return {f["id"]: f for f in mapbox_vector_tile.decode(body).get(layer, {}).get("features", [])}


@pytest.fixture(params=["gpkg", "postgis"])
def store(request, sample_store):
    return sample_store if request.param == "gpkg" else request.getfixturevalue("postgis_sample")


@pytest.mark.parametrize("layer", ["renewal_areas", "services", "parcels", "roads"])
def test_a_tile_holds_the_features_in_its_box(store, sample_store, layer):
    x, y = tile_at(14)
    got = decoded(store.vector_tile(layer, 14, x, y), layer)
    frame = sample_store.read(layer)
    inner = shapely.box(*tile_bounds_lonlat(14, x, y, buffered=False))
    inside = set(frame.id[frame.intersects(inner)])
    buffered = set(frame.id[frame.intersects(shapely.box(*tile_bounds_lonlat(14, x, y)))])
    assert inside and inside <= set(got) <= buffered  # all of the tile, nothing beyond its buffer
    by_id = frame.set_index("id")
    for fid, feature in list(got.items())[:50]:
        row = by_id.loc[fid]
        for key, value in feature["properties"].items():
            assert value == pytest.approx(row[key]) if isinstance(value, float) else value == row[key]


def test_both_backends_make_the_same_tiles(sample_store, postgis_sample):
    for layer in ("renewal_areas", "services", "parcels", "roads"):
        frame = sample_store.read(layer)
        for z in (13, 14, 15):
            x, y = tile_at(z)
            a = decoded(sample_store.vector_tile(layer, z, x, y), layer)
            b = decoded(postgis_sample.vector_tile(layer, z, x, y), layer)
            inner = set(frame.id[frame.intersects(shapely.box(*tile_bounds_lonlat(z, x, y, buffered=False)))])
            assert inner <= set(a) and inner <= set(b), (layer, z)
            # They may differ only on features that merely touch the edge of the buffer (each
            # clipper drops a sliver there in its own way): at most a few per tile.
            assert len(set(a) ^ set(b)) <= 5, (layer, z, sorted(set(a) ^ set(b)))
            assert all(a[i]["properties"] == b[i]["properties"] for i in set(a) & set(b))


def test_gdal_reads_our_tiles(sample_store, postgis_sample, tmp_path):
    x, y = tile_at(14)
    for name, store in (("gpkg", sample_store), ("pg", postgis_sample)):
        path = tmp_path / name / "14" / str(x) / f"{y}.pbf"
        path.parent.mkdir(parents=True)
        path.write_bytes(store.vector_tile("services", 14, x, y))
        out = subprocess.run(["ogrinfo", "-ro", "-so", "-al", f"MVT:{path}"], capture_output=True, text=True)
        assert out.returncode == 0, out.stderr
        count = next(int(line.split(":")[1]) for line in out.stdout.splitlines() if line.startswith("Feature Count"))
        assert count == len(decoded(store.vector_tile("services", 14, x, y), "services"))
        assert "category: String" in out.stdout and "name: String" in out.stdout


def test_big_layers_start_at_a_zoom_where_tiles_stay_small(sample_store):
    assert min_zoom(3_200) == 0 and min_zoom(50_000) == 10 and min_zoom(500_000) == 12 and min_zoom(1_000_000) == 13
    x, y = TMS.tile(*WBW, 8)[:2]
    roads = sample_store.info("roads").feature_count  # ~36k segments: from zoom 10
    assert min_zoom(roads) == 10 and sample_store.vector_tile("roads", 8, x, y) == b""
    assert len(decoded(sample_store.vector_tile("roads", 10, *tile_at(10)), "roads")) > 1000


@pytest.fixture(scope="module")
def client(sample_store, tmp_path_factory):
    path = copy_sample(sample_store, tmp_path_factory.mktemp("tiles"))
    return TestClient(create_app(Settings(store=str(path)))), open_store(path)


def test_the_tiles_api(client):
    c, _ = client
    conf = c.get("/conformance").json()["conformsTo"]
    assert "http://www.opengis.net/spec/ogcapi-tiles-1/1.0/conf/mvt" in conf
    sets = c.get("/collections/parcels/tiles").json()["tilesets"]
    item = next(link for link in sets[0]["links"] if link["rel"] == "item")
    assert item["href"].endswith("/tiles/WebMercatorQuad/{tileMatrix}/{tileRow}/{tileCol}") and item["templated"]
    meta = c.get("/collections/roads/tiles/WebMercatorQuad").json()
    assert meta["layers"][0]["minTileMatrix"] == "10" and meta["dataType"] == "vector"
    tj = c.get("/collections/roads/tiles/WebMercatorQuad/tilejson.json").json()
    assert tj["tiles"][0].endswith("/tiles/WebMercatorQuad/{z}/{y}/{x}") and tj["vector_layers"][0]["id"] == "roads"
    assert c.get("/tileMatrixSets/WebMercatorQuad").json()["id"] == "WebMercatorQuad"
    x, y = tile_at(14)
    r = c.get(f"/collections/services/tiles/WebMercatorQuad/14/{y}/{x}")
    assert r.status_code == 200 and r.headers["content-type"] == "application/vnd.mapbox-vector-tile"
    assert len(decoded(r.content, "services")) > 10
    assert c.get(f"/collections/services/tiles/WebMercatorQuad/14/{y}/{x}",
                 headers={"If-None-Match": r.headers["ETag"]}).status_code == 304
    assert c.get("/collections/services/tiles/WebMercatorQuad/3/9/0").status_code == 404  # row beyond 2^3
    assert c.get("/collections/nosuch/tiles/WebMercatorQuad/3/1/1").status_code == 404
    assert c.get("/collections/targets/tiles/WebMercatorQuad/3/1/1").status_code == 404  # a table has no tiles


def test_tiles_are_sent_as_kept_gzip_or_plain_to_a_client_without_it(client):
    c, store = client
    x, y = tile_at(14)
    path = f"/collections/services/tiles/WebMercatorQuad/14/{y}/{x}"
    packed = c.get(path, headers={"Accept-Encoding": "gzip"})
    plain = c.get(path, headers={"Accept-Encoding": "identity"})
    assert packed.headers["content-encoding"] == "gzip" and "content-encoding" not in plain.headers
    assert "Accept-Encoding" in packed.headers["vary"] and "Accept-Encoding" in plain.headers["vary"]
    assert packed.content == plain.content == store.vector_tile("services", 14, x, y)  # httpx unpacks
    assert int(plain.headers["content-length"]) == len(plain.content)
    assert int(packed.headers["content-length"]) < len(plain.content) / 1.5
    assert packed.headers["server-timing"].startswith("tile;dur=")
    empty = c.get("/collections/roads/tiles/WebMercatorQuad/8/0/0", headers={"Accept-Encoding": "gzip"})
    assert empty.status_code == 200 and empty.content == b"" and "content-encoding" not in empty.headers


def test_an_edit_shows_in_the_next_tile(client):
    c, store = client
    x, y = tile_at(16)
    before = c.get(f"/collections/services/tiles/WebMercatorQuad/16/{y}/{x}")
    lon, lat = shapely.box(*tile_bounds_lonlat(16, x, y, buffered=False)).centroid.coords[0]
    import geopandas as gpd

    new = gpd.GeoDataFrame({"name": ["瓦片测试公园"], "category": ["park"], "capacity": [None]},
                           geometry=[shapely.Point(lon, lat)], crs=4490)
    far = c.get(f"/collections/services/tiles/WebMercatorQuad/16/{y}/{x + 4}")
    (fid,) = store.insert_features("services", validate_layer(new, "services"), who="test")
    after = c.get(f"/collections/services/tiles/WebMercatorQuad/16/{y}/{x}",
                  headers={"If-None-Match": before.headers["ETag"]})
    assert after.status_code == 200 and after.headers["ETag"] != before.headers["ETag"]
    # A tile the edit did not touch keeps its ETag: the browser keeps its copy (layers.tile_edits).
    still = c.get(f"/collections/services/tiles/WebMercatorQuad/16/{y}/{x + 4}", headers={"If-None-Match": far.headers["ETag"]})
    assert still.status_code == 304 and still.headers["ETag"] == far.headers["ETag"]
    feature = decoded(after.content, "services")[fid]
    assert feature["properties"]["name"] == "瓦片测试公园"
    gx, gy = feature["geometry"]["coordinates"]
    assert abs(gx - EXTENT / 2) < 40 and abs(gy - EXTENT / 2) < 40  # at the tile's centre


@pytest.mark.parametrize("layer", ["renewal_areas", "services", "parcels", "roads"])
def test_big_layer_tiles_read_through_the_rtree_hold_the_same_features(sample_store, layer, monkeypatch):
    """Above ``_BIG_LAYER`` features the GeoPackage reads a tile's features with sqlite3 through
    the R-tree (``gpkg_tiles``); the tile is the one the general path (GDAL) makes."""
    from layers.backends import gpkg
    from layers.backends.base import LayerStore
    from layers.backends.gpkg_tiles import rtree_page

    monkeypatch.setattr(gpkg, "_BIG_LAYER", 10)  # the sample's layers count as big
    for z in (13, 14, 15):
        x, y = tile_at(z)
        with sample_store._sqlite() as con:
            page = rtree_page(con, layer, tile_bounds_lonlat(z, x, y))
        ours = sample_store._encode_tile(layer, z, x, y)
        general = LayerStore._encode_tile(sample_store, layer, z, x, y)
        assert decoded(ours, layer) == decoded(general, layer), (layer, z)
        # In id order; features that clip to nothing at the buffer's edge leave no trace in the tile.
        assert page is None or (list(page.ids) == sorted(page.ids) and set(decoded(general, layer)) <= set(page.ids))


def test_big_layer_tiles_follow_edits_and_replaced_files(sample_store, tmp_path, monkeypatch):
    """The R-tree path reads through connections the process keeps: an edit shows in the next
    tile, a store file replaced by another (an import's atomic write) is read anew, and a file
    in WAL mode (QGIS edits so) gets no kept connection (one holds a shared lock while open)."""
    import sqlite3

    import geopandas as gpd

    from layers.backends import gpkg, gpkg_tiles

    monkeypatch.setattr(gpkg, "_BIG_LAYER", 10)
    store = open_store(copy_sample(sample_store, tmp_path))
    x, y = tile_at(16)
    before = decoded(store.vector_tile("parcels", 16, x, y), "parcels")
    lon, lat = shapely.box(*tile_bounds_lonlat(16, x, y, buffered=False)).centroid.coords[0]
    new = gpd.GeoDataFrame({"name": ["瓦片测试地块"], "land_status": ["state_reserve"]},
                           geometry=[shapely.box(lon - 1e-4, lat - 1e-4, lon + 1e-4, lat + 1e-4)], crs=4490)
    (fid,) = store.insert_features("parcels", validate_layer(new, "parcels"), who="test")
    after = decoded(store.vector_tile("parcels", 16, x, y), "parcels")
    assert set(after) == set(before) | {fid} and after[fid]["properties"]["name"] == "瓦片测试地块"
    assert any(k[0] == str(store.path) for k in gpkg_tiles._IDLE)  # read through a kept connection

    other = tmp_path / "other"
    other.mkdir()
    replacement = copy_sample(sample_store, other)
    replacement.replace(store.path)  # the sample again, without the new parcel: another inode
    assert set(decoded(store.vector_tile("parcels", 16, x, y), "parcels")) == set(before)
    store.vector_tile("parcels", 16, x + 1, y)  # a tile not kept yet: read from the new file
    assert [k for k in gpkg_tiles._IDLE if k[0] == str(store.path)] == [(str(store.path), store.path.stat().st_ino)]

    wal = tmp_path / "wal"
    wal.mkdir()
    wal_path = copy_sample(sample_store, wal)
    with sqlite3.connect(wal_path) as con:
        assert con.execute("PRAGMA journal_mode=WAL").fetchone()[0] == "wal"
    wal_store = open_store(wal_path)
    assert set(decoded(wal_store.vector_tile("parcels", 16, x, y), "parcels")) == set(before)
    assert not gpkg_tiles._IDLE.get((str(wal_path), wal_path.stat().st_ino))


def test_a_tile_made_by_one_process_is_read_by_the_others_from_the_tile_folder(sample_store, tmp_path, monkeypatch):
    """Each worker keeps tiles in memory; the tile folder (one per store, layer version) lets
    the others read a tile instead of encoding it again; a folder that cannot be written
    loses nothing but the keeping."""
    import gzip
    from pathlib import Path

    from layers.backends import base

    store = open_store(copy_sample(sample_store, tmp_path))
    x, y = tile_at(14)
    packed = store.vector_tile_gzip("services", 14, x, y)
    assert gzip.decompress(packed) == store.vector_tile("services", 14, x, y) and len(decoded(gzip.decompress(packed), "services")) > 10
    kept = Path(base.tile_folder(store.uri), "services", store.info("services").version, "14", str(x), f"{y}.mvt.gz")
    assert kept.read_bytes() == packed
    assert not list(kept.parent.glob("*.part"))  # written whole, then renamed

    base._TILES.items.clear()  # another worker: nothing in its memory, no encoding either
    monkeypatch.setattr(type(store), "_encode_tile", lambda *a: pytest.fail("encoded again"))
    assert store.vector_tile_gzip("services", 14, x, y) == packed
    monkeypatch.undo()

    # An edit makes a new layer version; the tiles it touches are kept under it, the others
    # stay where they are (layers.tile_edits). A whole write removes the older versions' folders.
    import geopandas as gpd

    new = gpd.GeoDataFrame({"name": ["瓦片缓存公园"], "category": ["park"], "capacity": [None]},
                           geometry=[shapely.Point(*WBW)], crs=4490)
    store.insert_features("services", validate_layer(new, "services"), who="test")
    edited = store.vector_tile_gzip("services", 14, x, y)
    assert edited != packed and kept.is_file()
    assert Path(base.tile_folder(store.uri), "services", store.info("services").version, "14", str(x), f"{y}.mvt.gz").is_file()
    import_frame(store, store.read("services").drop(columns="id"), layer="services", mode="replace")
    assert store.vector_tile_gzip("services", 14, x, y) == edited and not kept.parents[2].exists()
    assert Path(base.tile_folder(store.uri), "services", store.info("services").version, "14", str(x), f"{y}.mvt.gz").is_file()

    blocked = tmp_path / "a-file"
    blocked.write_text("the tile folder cannot be made under a file")
    monkeypatch.setattr(base, "tile_folder", lambda uri: str(blocked))
    base._TILES.items.clear()
    assert store.vector_tile_gzip("services", 14, x, y) == edited  # answered all the same
    assert blocked.read_text().startswith("the tile folder")


def test_web_mercator_in_closed_form_is_pyprojs():
    from pyproj import Transformer

    from layers.mvt import mercator

    rng = np.random.default_rng(3)
    lon = np.r_[rng.uniform(73, 135, 2000), -180, 180, 0, 113.17]
    lat = np.r_[rng.uniform(18, 54, 2000), -85.05, 85.05, 0, 35.24]
    x, y = mercator(lon, lat)
    px, py = Transformer.from_crs(4326, 3857, always_xy=True).transform(lon, lat)
    assert np.abs(x - px).max() < 1e-6 and np.abs(y - py).max() < 1e-6
