"""The store under real use: a server (2 worker processes) and the CLI writing at once lose
nothing; kill -9 at chosen moments leaves the store as before the killed write; reads are
answered while a long import runs; caches follow the versions of the layers they use."""

import json
import os
import signal
import sqlite3
import subprocess
import sys
import textwrap
import threading
import time

import httpx
import pytest

from layers.store import open_store
from layers.validate import validate_layer
from tests.conftest import copy_sample, serve, sha256

TOKEN = {"Authorization": "Bearer s3cret"}
WRITE_SECONDS = 20


@pytest.fixture
def store_path(sample_store, tmp_path):
    return copy_sample(sample_store, tmp_path)


def _service(name: str, lon: float = 113.21, lat: float = 35.22) -> dict:
    return {"type": "Feature", "geometry": {"type": "Point", "coordinates": [lon, lat]},
            "properties": {"name": name, "category": "park"}}


def _names(path) -> list[str]:
    return open_store(path).read("services")["name"].tolist()


def test_server_and_cli_writing_at_once_lose_nothing(store_path, tmp_path, monkeypatch):
    monkeypatch.setenv("RENEWAL_EDIT_TOKENS", "alice:s3cret")
    before = len(_names(store_path))
    audited_before = len(open_store(store_path).audit_log(limit=100_000))
    posted, put_names, cli_runs = [], [], []
    stop = time.monotonic() + WRITE_SECONDS

    def http_writes(url):
        with httpx.Client(base_url=url, timeout=60) as client:
            target = client.post("/collections/services/items", json=_service("put-target"), headers=TOKEN)
            assert target.status_code == 201, target.text
            fid = target.json()["created"][0]
            posted.append("put-target")
            n = 0
            while time.monotonic() < stop:
                r = client.post("/collections/services/items", json=_service(f"http-{n}"), headers=TOKEN)
                assert r.status_code == 201, r.text
                posted.append(f"http-{n}")
                r = client.put(f"/collections/services/items/{fid}", json=_service(f"put-{n}"), headers=TOKEN)
                assert r.status_code == 204, r.text
                put_names.append((fid, f"put-{n}"))
                n += 1

    def cli_appends():
        k = 0
        while time.monotonic() < stop:
            path = tmp_path / f"cli-{k}.geojson"
            path.write_text(json.dumps({"type": "FeatureCollection", "features": [
                _service(f"cli-{k}-a", 113.22), _service(f"cli-{k}-b", 113.23)]}), encoding="utf-8")
            done = subprocess.run([sys.executable, "-m", "renewal_cli.main", "--store", str(store_path), "import",
                                   str(path), "--layer", "services", "--mode", "append"], capture_output=True,
                                  text=True, timeout=120)
            assert done.returncode == 0, done.stderr
            cli_runs.append(k)
            k += 1

    with serve(store_path) as url:
        threads = [threading.Thread(target=http_writes, args=(url,)), threading.Thread(target=cli_appends)]
        for t in threads:
            t.start()
        for t in threads:
            t.join()
    names = _names(store_path)
    assert len(cli_runs) >= 2 and len(posted) >= 10  # both writers really wrote, interleaved
    expected = set(posted[1:]) | {f"cli-{k}-{s}" for k in cli_runs for s in "ab"} | {put_names[-1][1]}
    assert not expected - set(names), f"lost: {sorted(expected - set(names))[:10]}"
    assert len(names) == before + len(posted) + 2 * len(cli_runs)
    audit = open_store(store_path).audit_log(limit=100_000)
    audit = audit[:len(audit) - audited_before]  # newest first: this test's rows
    verbs = [a["action"] for a in audit if a["layer"] == "services"]
    assert verbs.count("create") == len(posted) and verbs.count("replace") == len(put_names)
    assert verbs.count("append") == len(cli_runs)
    created = [json.loads(a["detail"])["ids"] for a in audit if a["action"] == "create"]
    assert all(len(ids) == 1 for ids in created)  # the audit names the feature ids


_WRITER = textwrap.dedent("""
    import sys
    import geopandas as gpd, shapely
    from layers.store import open_store
    from layers.validate import validate_layer
    from layers.imports import import_frame
    store = open_store(sys.argv[1])
    how = sys.argv[2]
    n = 0
    while True:
        frame = gpd.GeoDataFrame({"name": [f"seq-{n}"], "category": ["park"]},
                                 geometry=[shapely.Point(113.2 + n * 1e-5, 35.2)], crs=4490)
        if how == "edit":
            store.insert_features("services", validate_layer(frame, "services"), who="kill-test")
        else:
            import_frame(store, frame, layer="services", mode="append", who="kill-test")
        print(n, flush=True)
        n += 1
""")


@pytest.mark.parametrize("how", ["edit", "import"])
def test_kill_9_mid_write_keeps_every_acknowledged_write_and_nothing_half_done(store_path, how):
    for delay in (0.0, 0.003, 0.011, 0.023, 0.05):
        proc = subprocess.Popen([sys.executable, "-c", _WRITER, str(store_path), how], stdout=subprocess.PIPE,
                                text=True)
        acknowledged = [int(proc.stdout.readline()) for _ in range(3)]
        time.sleep(delay)
        os.kill(proc.pid, signal.SIGKILL)
        proc.wait()
        acknowledged += [int(line) for line in proc.stdout.read().split()]
        names = [n for n in _names(store_path) if n.startswith("seq-")]
        # Every acknowledged write is there; the one killed is there whole or not at all.
        assert {f"seq-{i}" for i in acknowledged} <= set(names)
        assert len(names) in (len(acknowledged), len(acknowledged) + 1)
        with sqlite3.connect(store_path) as con:
            assert con.execute("PRAGMA integrity_check").fetchone()[0] == "ok"
        # Clean the layer for the next round (also removes any leftover of the killed write).
        store = open_store(store_path)
        frame = store.read("services")
        store.delete_features("services", frame[frame["name"].str.startswith("seq-")]["id"].tolist(), who="t")
        assert not list(store_path.parent.glob(".renewal.gpkg.*"))
        assert not (store_path.parent / "renewal.gpkg-journal").exists()


def _parcels_file(path, seed: int):
    """30,000 small parcels (a write that takes seconds), saved at ``path``."""
    import geopandas as gpd
    import numpy as np
    import shapely

    rng = np.random.default_rng(seed)
    x, y = 113.1 + rng.random(30_000) * 0.2, 35.15 + rng.random(30_000) * 0.1
    big = gpd.GeoDataFrame({"name": [f"p{i}" for i in range(30_000)], "max_far": 2.0},
                           geometry=shapely.buffer(shapely.points(x, y), 0.0005, quad_segs=8), crs=4490)
    big.to_file(path)
    return path


def test_a_killed_import_leaves_the_store_byte_for_byte(store_path, tmp_path):
    source = _parcels_file(tmp_path / "big.gpkg", seed=1)
    before = sha256(store_path)
    proc = subprocess.Popen([sys.executable, "-m", "renewal_cli.main", "--store", str(store_path), "import",
                             str(source), "--layer", "parcels", "--mode", "append"])
    deadline = time.monotonic() + 60
    while not list(store_path.parent.glob(".renewal.gpkg.*.tmp.gpkg")) and time.monotonic() < deadline:
        time.sleep(0.005)  # kill it while it writes its copy
    assert proc.poll() is None, "the import ended before it could be killed mid-write"
    os.kill(proc.pid, signal.SIGKILL)
    proc.wait()
    assert sha256(store_path) == before
    open_store(store_path).recover()  # the next writer removes the leftover copy
    assert not list(store_path.parent.glob(".renewal.gpkg.*"))


def test_reads_are_answered_while_a_long_import_runs(store_path, tmp_path, monkeypatch):
    monkeypatch.setenv("RENEWAL_EDIT_TOKENS", "alice:s3cret")
    source = _parcels_file(tmp_path / "big.geojson", seed=2)
    done = threading.Event()
    answers = []

    with serve(store_path, workers=1) as url:
        def upload():
            with open(source, "rb") as fh:
                r = httpx.post(f"{url}/imports", files={"file": ("big.geojson", fh)},
                               data={"layer": "parcels_big", "kind": "parcels"}, headers=TOKEN, timeout=300)
            answers.append(r.status_code)
            done.set()

        thread = threading.Thread(target=upload)
        thread.start()
        time.sleep(0.2)
        reads = []  # (status, import still running when the answer came)
        while not done.is_set():
            status = httpx.get(f"{url}/conformance", timeout=60).status_code
            reads.append((status, not done.is_set()))
        thread.join()
    assert answers == [201]
    assert {status for status, _ in reads} == {200}
    assert sum(during for _, during in reads) >= 1, reads  # answered while the import ran


def test_an_edit_keeps_what_other_layers_built(store_path):
    from workflows.inputs import analysis_inputs

    store = open_store(store_path)
    network = analysis_inputs(store).network
    area = store.read("renewal_areas").iloc[:1].drop(columns="id")
    store.insert_features("renewal_areas", validate_layer(area, "renewal_areas"), who="t")
    inputs = analysis_inputs(store)
    assert inputs.network is network  # an area edit keeps the walking network
    assert len(inputs.areas) == len(store.read("renewal_areas"))  # and the areas are re-read
    road = store.read("roads").iloc[:1].drop(columns="id")
    store.insert_features("roads", validate_layer(road, "roads"), who="t")
    assert analysis_inputs(store).network is not network  # a roads edit rebuilds it


def test_reads_through_gdal_while_edits_commit_in_the_same_process(store_path):
    """Python's sqlite3 and GDAL's SQLite in one process: a GDAL read ending while an edit
    commits must not drop the edit's locks (readers then saw half-written files)."""
    import geopandas as gpd
    import shapely

    store = open_store(store_path)
    stop = time.monotonic() + 6
    errors, counts = [], []

    def edit():
        n = 0
        while time.monotonic() < stop:
            frame = gpd.GeoDataFrame({"name": [f"e{n}"], "category": ["park"]},
                                     geometry=[shapely.Point(113.2, 35.2)], crs=4490)
            try:
                store.insert_features("services", validate_layer(frame, "services"), who="t")
            except Exception as ex:  # noqa: BLE001 - every failure is the finding
                errors.append(f"edit: {ex!r}")
            n += 1

    def read():
        while time.monotonic() < stop:
            try:
                counts.append(len(open_store(store_path).read("services")))
                open_store(store_path).layers()
            except Exception as ex:  # noqa: BLE001
                errors.append(f"read: {ex!r}")

    threads = [threading.Thread(target=edit), *(threading.Thread(target=read) for _ in range(3))]
    for t in threads:
        t.start()
    reader = subprocess.Popen([sys.executable, "-c", textwrap.dedent(f"""
        import time
        from layers.store import open_store
        stop = time.monotonic() + 5
        while time.monotonic() < stop:
            open_store({str(store_path)!r}).read("services")
    """)], stderr=subprocess.PIPE, text=True)
    for t in threads:
        t.join()
    _, err = reader.communicate(timeout=60)
    assert reader.returncode == 0, err[-2000:]
    assert not errors, errors[:5]
    assert counts and counts == sorted(counts)  # each read saw a whole committed state


def test_the_services_report_follows_the_services_layer(store_path):
    import geopandas as gpd
    from pandas.testing import assert_frame_equal

    from workflows.inputs import analysis_inputs, resolve_area
    from workflows.services import area_services_report

    store = open_store(store_path)
    inputs = analysis_inputs(store)
    origin = resolve_area(inputs.areas, "西大井片区")
    first = area_services_report(store, inputs, origin)
    again = area_services_report(store, analysis_inputs(store), origin)
    assert_frame_equal(first, again)
    kg = first.set_index("category").loc["kindergarten"]
    centre = origin.geometry.iloc[0].representative_point()
    frame = gpd.GeoDataFrame({"name": ["新幼儿园"], "category": ["kindergarten"]}, geometry=[centre], crs=4490)
    store.insert_features("services", validate_layer(frame, "services"), who="t")
    inputs = analysis_inputs(store)
    after = area_services_report(store, inputs, resolve_area(inputs.areas, "西大井片区")).set_index("category")
    assert after.loc["kindergarten", "count_300"] == kg.count_300 + 1  # the new one inside the area
    assert after.loc["kindergarten", "network_m"] == 0 and after.loc["kindergarten", "nearest_name"] == "新幼儿园"
