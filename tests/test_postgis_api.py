"""The HTTP API on a PostGIS store (#16): several server processes on one database, editors
with ETags and If-Match, the CLI writing beside them — every read sees the last commit."""

import json
import subprocess
import sys

import httpx
import pytest

from layers.sample import build_sample_store
from layers.store import open_store
from tests.conftest import serve

TOKEN = {"Authorization": "Bearer s3cret"}


def service(name: str, lon: float = 113.2) -> dict:
    return {"type": "Feature", "geometry": {"type": "Point", "coordinates": [lon, 35.22]},
            "properties": {"name": name, "category": "park", "capacity": 10}}


@pytest.fixture(scope="module")
def pg_server(postgis_url):
    from tests.helpers.pg import create_database

    url = create_database(postgis_url, "api")
    build_sample_store(url)
    import os

    os.environ["RENEWAL_EDIT_TOKENS"] = "alice:s3cret"
    try:
        with serve(url, workers=2) as base:
            yield url, base
    finally:
        os.environ.pop("RENEWAL_EDIT_TOKENS", None)


def test_the_services_report_and_site_selection_answer_as_on_the_geopackage(pg_server, sample_store):
    # First in the module: the tests below edit the database's services.
    _, base = pg_server
    with serve(sample_store.path, workers=1) as gpkg_base, httpx.Client(timeout=120) as client:
        for path, body in (("/analysis/services/西大井片区", None),
                           ("/analysis/site-selection", {"for": "西大井片区", "units": 1000, "top": 5})):
            if body is None:
                a, b = client.get(base + path).json(), client.get(gpkg_base + path).json()
            else:
                a, b = client.post(base + path, json=body).json(), client.post(gpkg_base + path, json=body).json()
            if body is not None:
                a, b = [f["properties"] for f in a["features"]], [f["properties"] for f in b["features"]]
                assert [c["name"] for c in a] == [c["name"] for c in b]
                assert [c["score"] for c in a] == pytest.approx([c["score"] for c in b], abs=1e-9)
            else:
                assert a == b  # every category, distance, count, gap line and the supply side


def test_two_processes_see_each_edit_at_once(pg_server):
    url, base = pg_server
    with httpx.Client(base_url=base, timeout=60) as client:
        r = client.post("/collections/services/items", json=service("新公园"), headers=TOKEN)
        assert r.status_code == 201, r.text
        fid = r.json()["created"][0]
        for n in range(6):  # successive requests land on both workers
            r = client.put(f"/collections/services/items/{fid}", json=service(f"公园{n}"), headers=TOKEN)
            assert r.status_code == 204, r.text
            for _ in range(4):
                got = client.get(f"/collections/services/items/{fid}")
                assert got.json()["properties"]["name"] == f"公园{n}"
                page = client.get("/collections/services/items", params={"name": f"公园{n}"}).json()
                assert page["numberMatched"] == 1
    assert open_store(url).read("services").query("name == '公园5'").shape[0] == 1


def test_a_stale_if_match_is_refused_with_412(pg_server):
    _, base = pg_server
    with httpx.Client(base_url=base, timeout=60) as client:
        fid = client.post("/collections/services/items", json=service("甲"), headers=TOKEN).json()["created"][0]
        first = client.get(f"/collections/services/items/{fid}")
        etag = first.headers["ETag"]
        assert client.put(f"/collections/services/items/{fid}", json=service("乙"),
                          headers={**TOKEN, "If-Match": etag}).status_code == 204
        stale = client.put(f"/collections/services/items/{fid}", json=service("丙"), headers={**TOKEN, "If-Match": etag})
        assert stale.status_code == 412 and "changed since you read it" in stale.text
        assert client.delete(f"/collections/services/items/{fid}", headers={**TOKEN, "If-Match": etag}).status_code == 412
        assert client.get(f"/collections/services/items/{fid}").json()["properties"]["name"] == "乙"
        fresh = client.get(f"/collections/services/items/{fid}").headers["ETag"]
        assert fresh != etag
        assert client.delete(f"/collections/services/items/{fid}", headers={**TOKEN, "If-Match": fresh}).status_code == 204


def test_the_cli_and_the_server_share_the_database(pg_server, tmp_path):
    url, base = pg_server
    path = tmp_path / "more.geojson"
    path.write_text(json.dumps({"type": "FeatureCollection", "features": [service("命令行公园", 113.21)]}), encoding="utf-8")
    done = subprocess.run([sys.executable, "-m", "renewal_cli.main", "--store", url, "import", str(path), "--layer",
                           "services", "--mode", "append"], capture_output=True, text=True, timeout=120)
    assert done.returncode == 0, done.stderr
    with httpx.Client(base_url=base, timeout=60) as client:
        for _ in range(4):
            assert client.get("/collections/services/items", params={"name": "命令行公园"}).json()["numberMatched"] == 1
        audit = open_store(url).audit_log(limit=50)
        assert any(a["who"] == "alice" and a["action"] in ("create", "replace", "delete") for a in audit)
        assert any(a["who"] == "cli" and a["layer"] == "services" for a in audit)


def _counting_catalog_reads(store, monkeypatch) -> list[int]:
    """Every read of ``store``'s catalog from the database (PostGISStore._read_layers) counted."""
    reads = []
    read = type(store)._read_layers

    def counted(self):
        reads.append(1)
        return read(self)

    monkeypatch.setattr(type(store), "_read_layers", counted)
    return reads


def test_one_catalog_reads_the_catalog_once_per_block_and_per_context(postgis_sample, monkeypatch):
    import concurrent.futures
    import contextvars

    reads = _counting_catalog_reads(postgis_sample, monkeypatch)
    postgis_sample.info("parcels"), postgis_sample.version("roads")
    assert len(reads) == 2  # outside a block: every look-up asks the database
    with postgis_sample.one_catalog():
        names = [i.name for i in postgis_sample.layers()]
        assert postgis_sample.info("parcels").name == "parcels" and postgis_sample.find_kind("services")
        context = contextvars.copy_context()  # as a threadpool runs a request's handler
        with concurrent.futures.ThreadPoolExecutor(1) as pool:
            assert pool.submit(context.run, postgis_sample.version, "parcels").result()
        with postgis_sample.one_catalog():  # a block inside a block reads its own
            postgis_sample.layers()
        assert len(reads) == 4 and [i.name for i in postgis_sample.layers()] == names
    postgis_sample.layers()
    assert len(reads) == 5


def test_a_map_page_its_data_and_a_tile_read_the_catalog_once_and_see_the_last_edit(postgis_url, monkeypatch):
    """13 catalog reads made a PostGIS overview page (~0.3 ms each); each request now makes
    one per block, and the next request still sees an edit made in between."""
    import geopandas as gpd
    import morecantile
    import shapely
    from fastapi.testclient import TestClient

    from api.app import create_app
    from api.settings import Settings
    from layers.validate import validate_layer
    from tests.helpers.pg import create_database

    store = build_sample_store(create_database(postgis_url, "catalog"))
    client = TestClient(create_app(Settings(store=store.location, warm=False)))
    reads = _counting_catalog_reads(store, monkeypatch)
    assert client.get("/maps/overview?show=parcels&zoom=14").status_code == 200
    assert len(reads) == 2  # the page's key, then its rendering (streamed after the key)
    box = "113.15,35.22,113.19,35.26"
    before = client.get(f"/maps/data/services?bbox={box}").json()
    assert len(reads) == 3
    t = morecantile.tms.get("WebMercatorQuad").tile(113.17, 35.24, 14)
    assert client.get(f"/collections/parcels/tiles/WebMercatorQuad/14/{t.y}/{t.x}").status_code == 200
    assert len(reads) == 4
    new = gpd.GeoDataFrame({"name": ["目录测试公园"], "category": ["park"]}, geometry=[shapely.Point(113.17, 35.24)],
                           crs=4490)
    store.insert_features("services", validate_layer(new, "services"), who="test")
    after = client.get(f"/maps/data/services?bbox={box}").json()
    assert len(after["features"]) == len(before["features"]) + 1
    assert "目录测试公园" in {f["properties"].get("name") for f in after["features"]}
