"""The store contract (issue #16): every test runs on the GeoPackage and on the PostGIS
backend with the same assertions, and the sample city answers the same on both.

``store`` is a fresh empty store of each kind; ``sample`` the sample city of each kind
(read-only: a copy of the session's GeoPackage, the session's PostGIS sample). Small layers
are hand-made in tests/helpers/contract.py and validated as an import validates them.
"""

from __future__ import annotations

import json
import subprocess
import sys
import threading
import time
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from rasterio.transform import from_origin

from gis.errors import ConflictError, InputError, NotFoundError, PreconditionError
from layers.store import GeoPackageStore, open_store
from renewal_cli.main import main
from tests.conftest import copy_sample
from tests.helpers.contract import (
    NAMES,
    areas_frame,
    assert_same_frame,
    assert_same_snapshot,
    audit_rows,
    fill,
    frame_differences,
    one_service,
    services_frame,
    snapshot,
    validated,
)

BACKENDS = ("gpkg", "postgis")
ROOT = Path(__file__).resolve().parents[1]
AREA = "西大井片区"
UNREACHABLE = "postgresql://nobody@127.0.0.1:1/none"
#: LayerInfo fields that differ between two writes of the same data (when, and the version).
PER_WRITE = ("imported_at", "version")


# --- fixtures ------------------------------------------------------------------------------

@pytest.fixture(params=BACKENDS)
def store(request, tmp_path):
    """A fresh, empty store of each backend."""
    if request.param == "gpkg":
        return open_store(tmp_path / "s.gpkg")
    return open_store(request.getfixturevalue("new_database")("c"))


@pytest.fixture(params=BACKENDS)
def sample(request, tmp_path):
    """The sample city of each backend, for reading only."""
    if request.param == "gpkg":
        return open_store(copy_sample(request.getfixturevalue("sample_store"), tmp_path))
    return request.getfixturevalue("postgis_sample")


@pytest.fixture
def both_samples(sample_store, postgis_sample, tmp_path):
    """(GeoPackage, PostGIS) sample city, for reading only."""
    return open_store(copy_sample(sample_store, tmp_path)), postgis_sample


@pytest.fixture(scope="module", autouse=True)
def unreachable_cli():
    """`renewal --store <unreachable database> layers`, started when the module starts (it waits
    for a connection that never comes) and judged by the last test, so its wait overlaps the
    others. Yields a dict that gets ``rc``, ``stderr`` and ``seconds`` when it has ended."""
    started = time.monotonic()
    proc = subprocess.Popen([sys.executable, "-m", "renewal_cli.main", "--store", UNREACHABLE, "layers"],
                            cwd=ROOT, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    result: dict = {}

    def wait():
        out, err = proc.communicate()
        result.update(rc=proc.returncode, stdout=out, stderr=err, seconds=time.monotonic() - started)

    waiter = threading.Thread(target=wait, daemon=True)
    waiter.start()
    result["thread"] = waiter
    yield result
    if proc.poll() is None:
        proc.kill()
    waiter.join(timeout=10)


def _versions(store) -> dict[str, str]:
    return {i.name: i.version for i in store.layers()}


def _stable(infos) -> list[dict]:
    """Layer metadata without what differs between two writes of the same data."""
    return [{k: v for k, v in (i if isinstance(i, dict) else i.to_dict()).items() if k not in PER_WRITE}
            for i in infos]


def _cli(capsys, *argv) -> tuple[int, str, str]:
    capsys.readouterr()
    rc = main([str(a) for a in argv])
    out, err = capsys.readouterr()
    return rc, out, err


# --- 1. round trip -------------------------------------------------------------------------

def test_round_trip_gives_the_geopackage_frames(store, tmp_path):
    fill(store)
    for name in NAMES:
        frame, info = store.read(name), store.info(name)
        assert info.feature_count == len(frame) == len(validated(name).frame)
        if name != "targets":
            assert frame.id.tolist() == list(range(1, len(frame) + 1))
            assert frame.crs.to_epsg() == 4490 and info.original_crs == "EPSG:4490"
    areas = store.read("renewal_areas")
    assert areas.name.tolist() == ["片区1", "片区2", "片区3"]
    assert areas.households.isna().tolist() == [False, True, False]
    assert set(areas.geometry.geom_type) == {"MultiPolygon"}

    # The same frames, metadata and audit as the GeoPackage backend gives.
    reference = GeoPackageStore(tmp_path / "reference.gpkg")
    fill(reference)
    assert _stable(store.layers()) == _stable(reference.layers())
    assert [{k: v for k, v in r.items() if k != "at"} for r in audit_rows(store, 10)] == \
        [{k: v for k, v in r.items() if k != "at"} for r in audit_rows(reference, 10)]
    differences = [f"{name}: {d}" for name in NAMES for d in frame_differences(store.read(name), reference.read(name))]
    assert not differences, "store != GeoPackage reference:\n" + "\n".join(differences)
    for name in NAMES:
        assert_same_frame(store.read(name), reference.read(name), name)


def test_bbox_and_column_reads(store, tmp_path):
    fill(store, ("renewal_areas", "services"))
    reference = GeoPackageStore(tmp_path / "reference.gpkg")
    fill(reference, ("renewal_areas", "services"))
    services = store.read("services", bbox=(113.20, 35.20, 113.21, 35.21))
    assert services.name.tolist() == ["幼儿园甲"] and services.id.tolist() == [1]
    assert_same_frame(services, reference.read("services", bbox=(113.20, 35.20, 113.21, 35.21)))
    areas = store.read("renewal_areas", bbox=(113.211, 35.201, 113.213, 35.202))
    assert areas.id.tolist() == [2]
    assert store.read("renewal_areas", bbox=(114.0, 36.0, 114.1, 36.1)).empty
    narrow = store.read("services", columns=["name"])
    assert list(narrow.columns) == ["id", "name", "geometry"]
    assert_same_frame(narrow, reference.read("services", columns=["name"]))


#: Inside the envelope of the diagonal road 解放路 (113.19 35.19 → 113.25 35.21), 1.4 km from the road.
OFF_THE_ROAD = (113.244, 35.190, 113.250, 35.195)


def test_bbox_read_keeps_what_intersects_the_box(store):
    fill(store, ("roads",))
    assert store.read("roads", bbox=(113.219, 35.195, 113.221, 35.205)).name.tolist() == ["解放路"]
    assert store.read("roads", bbox=OFF_THE_ROAD).empty  # as query() and an OGC API bbox answer


def test_query(store, tmp_path):
    from layers.cql2 import parse_cql2

    fill(store, ("services", "roads"))
    reference = GeoPackageStore(tmp_path / "reference.gpkg")
    fill(reference, ("services", "roads"))
    cases = [dict(bbox=(113.20, 35.20, 113.21, 35.21)), dict(filters={"category": "hospital"}),
             dict(filters={"capacity": "120"}), dict(ids=[3, 1, 99]), dict(limit=1, offset=1),
             dict(cql=parse_cql2("capacity > 100")), dict(cql=parse_cql2("capacity IS NULL OR name LIKE '幼%'")),
             dict(bbox=(113.19, 35.19, 113.23, 35.21), filters={"category": "primary_school"})]
    expected_ids = [[1], [3], [1], [1, 3], [2], [1, 3], [1, 2], [2]]
    for case, ids in zip(cases, expected_ids, strict=True):
        page, matched = store.query("services", **case)
        ref_page, ref_matched = reference.query("services", **case)
        assert page.id.tolist() == ids, case
        assert matched == ref_matched == (len(ids) if "limit" not in case else 3), case
        assert_same_frame(page.reset_index(drop=True), ref_page.reset_index(drop=True), str(case))
    page, matched = store.query("roads", bbox=OFF_THE_ROAD)
    assert matched == 0 and page.empty
    with pytest.raises(InputError):
        store.query("services", filters={"nope": "1"})
    with pytest.raises(InputError):
        store.query("services", filters={"capacity": "many"})
    with pytest.raises(NotFoundError):
        store.query("parcels")


def test_column_reads_of_a_table(store):
    fill(store, ("targets",))
    narrow = store.read("targets", columns=["city", "value"])
    assert list(narrow.columns) == ["city", "value"]
    assert narrow.value.tolist() == [100.0, 250.5, 0.0]


# --- 2. atomicity --------------------------------------------------------------------------

FAILING_SECOND_ITEMS = {
    "append_unknown_column": lambda: ("renewal_areas", validated("renewal_areas", areas_frame().assign(extra_col=1)),
                                      {"mode": "append"}),
    "append_other_kind": lambda: ("renewal_areas", validated("services"), {"mode": "append"}),
    "bad_name": lambda: ("Bad-Name", validated("services"), {}),
    "bad_mode": lambda: ("renewal_areas", validated("renewal_areas"), {"mode": "merge"}),
}


def test_write_many_is_all_or_nothing(store):
    fill(store)
    before, audit_before = snapshot(store), store.audit_log(1000)
    for failure, item in FAILING_SECOND_ITEMS.items():
        items = [("services", validated("services", services_frame().iloc[:1]), {"source": "new"}),
                 ("services_2024", validated("services"), {}),
                 item()]
        with pytest.raises(InputError):
            store.write_many(items, who="test")
        try:
            assert_same_snapshot(before, snapshot(store))
            assert not store.has("services_2024")
            assert store.audit_log(1000) == audit_before
        except AssertionError as ex:
            raise AssertionError(f"after a failed write_many ({failure}): {ex}") from None


# --- 3. versions ---------------------------------------------------------------------------

def test_versions_change_with_their_layer_only(store):
    fill(store)
    seen = [_versions(store)]

    def changed() -> set[str]:
        now = _versions(store)
        previous = seen[-1]
        seen.append(now)
        return {n for n in now.keys() | previous.keys() if now.get(n) != previous.get(n)}

    store.read("services")
    store.feature_etag("services", 1)
    store.audit_log()
    assert changed() == set()
    store.write("services", validated("services"), who="t")
    assert changed() == {"services"}
    store.write("renewal_areas", validated("renewal_areas", areas_frame(1, x0=113.3)), mode="append", who="t")
    assert changed() == {"renewal_areas"}
    store.insert_features("services", one_service(), who="t")
    assert changed() == {"services"}
    store.update_feature("services", 1, one_service("改"), who="t")
    assert changed() == {"services"}
    store.delete_features("renewal_areas", [2], who="t")
    assert changed() == {"renewal_areas"}
    store.write_raster("dem", np.zeros((3, 3), "float32"), transform=from_origin(430000, 3900000, 30, 30),
                       crs="EPSG:4547", nodata=-9999.0)
    assert changed() == {"dem"}
    store.delete("targets")
    assert changed() == {"targets"}
    every = [v for versions in seen for v in versions.values()]
    assert all(every)


# --- 4. append, replace, delete, names -----------------------------------------------------

def test_append_replace_and_delete(store):
    fill(store, ("renewal_areas",))
    info = store.write("renewal_areas", validated("renewal_areas", areas_frame(2, x0=113.3)), mode="append")
    assert info.feature_count == 5
    areas = store.read("renewal_areas")
    assert areas.id.tolist() == [1, 2, 3, 4, 5]
    assert areas.name.tolist() == ["片区1", "片区2", "片区3", "片区1", "片区2"]
    info = store.write("renewal_areas", validated("renewal_areas", areas_frame(1)), mode="replace")
    assert info.feature_count == 1 and store.read("renewal_areas").id.tolist() == [1]
    # Appending to a layer that is not there creates it.
    assert store.write("services", validated("services"), mode="append").feature_count == 3
    store.delete("renewal_areas", who="t")
    assert [i.name for i in store.layers()] == ["services"]
    with pytest.raises(NotFoundError):
        store.read("renewal_areas")
    assert audit_rows(store, 1)[0]["action"] == "delete_layer"


def test_unknown_layer_is_not_found_with_the_stored_names(store):
    with pytest.raises(NotFoundError):
        store.read("parcels")
    fill(store, ("renewal_areas", "services"))
    for call in (lambda: store.read("parcels"), lambda: store.info("parcels"), lambda: store.version("parcels"),
                 lambda: store.delete("parcels"), lambda: store.feature_etag("parcels", 1),
                 lambda: store.read_raster("parcels"),
                 lambda: store.insert_features("parcels", one_service(), who="t"),
                 lambda: store.delete_features("parcels", [1], who="t")):
        with pytest.raises(NotFoundError) as caught:
            call()
        assert "parcels" in str(caught.value)
        assert "renewal_areas" in str(caught.value) and "services" in str(caught.value)
    assert not store.has("parcels") and store.has("services")
    with pytest.raises(NotFoundError, match="parcels"):
        store.find_kind("parcels")


BAD_NAMES = ["", "Areas", "1areas", "a-b", "a b", "片区", "areas;drop", 'a"b', "renewal_layers", "renewal_audit"]


def test_bad_layer_names_are_input_errors(store):
    fill(store, ("services",))
    before = snapshot(store)
    for name in BAD_NAMES:
        with pytest.raises(InputError):
            store.write(name, validated("services"))
        with pytest.raises(InputError):
            store.write_raster(name, np.zeros((2, 2), "float32"), transform=from_origin(0, 0, 1, 1),
                               crs="EPSG:4547", nodata=-1.0)
    assert_same_snapshot(before, snapshot(store))


# --- 5. feature edits ----------------------------------------------------------------------

def test_feature_edits_etags_and_audit(store):
    fill(store, ("services", "roads"))
    roads_version = store.version("roads")
    etag1, etag2 = store.feature_etag("services", 1), store.feature_etag("services", 2)
    store.read("services")
    assert store.feature_etag("services", 1) == etag1  # a read changes nothing

    ids = store.insert_features("services", validated("services", services_frame().iloc[:2]), who="alice")
    assert ids == [4, 5]
    assert store.read("services").id.tolist() == [1, 2, 3, 4, 5] and store.info("services").feature_count == 5

    new = store.update_feature("services", 1, one_service(), who="bob", if_match=etag1)
    assert new != etag1 and store.feature_etag("services", 1) == new
    assert store.feature_etag("services", 2) == etag2  # only the edited feature's tag changes
    row = store.read("services").set_index("id").loc[1]
    assert (row["name"], row["category"], row["capacity"]) == ("新医院", "hospital", 300.0)
    assert (row.geometry.x, row.geometry.y) == (113.25, 35.25)

    # Stale If-Match: refused, nothing changes.
    before = snapshot(store)
    with pytest.raises(PreconditionError):
        store.update_feature("services", 1, one_service("迟到的修改"), who="carol", if_match=etag1)
    with pytest.raises(PreconditionError):
        store.delete_features("services", [1], who="carol", if_match=etag1)
    # Missing features: NotFoundError, nothing deleted (not even the ones that exist).
    with pytest.raises(NotFoundError):
        store.delete_features("services", [999], who="carol")
    with pytest.raises(NotFoundError):
        store.delete_features("services", [2, 999], who="carol")
    with pytest.raises(NotFoundError):
        store.update_feature("services", 999, one_service(), who="carol")
    with pytest.raises(NotFoundError):
        store.feature_etag("services", 999)
    assert_same_snapshot(before, snapshot(store))
    assert [r["who"] for r in audit_rows(store, 2)] == ["alice", "bob"]

    # The current tag, quoted as HTTP sends it, is accepted.
    newer = store.update_feature("services", 1, one_service("再改"), who="bob", if_match=f'"{new}"')
    store.delete_features("services", [2], who="dave", if_match=etag2)
    store.delete_features("services", [4, 5], who="dave")
    assert store.read("services").id.tolist() == [1, 3] and store.info("services").feature_count == 2
    assert store.feature_etag("services", 1) == newer
    assert store.version("roads") == roads_version

    rows = audit_rows(store, 5)
    assert [(r["who"], r["action"], r["layer"], r["detail"]) for r in rows] == [
        ("alice", "create", "services", {"ids": [4, 5]}),
        ("bob", "replace", "services", {"ids": [1]}),
        ("bob", "replace", "services", {"ids": [1]}),
        ("dave", "delete", "services", {"ids": [2]}),
        ("dave", "delete", "services", {"ids": [4, 5]}),
    ]
    assert all(r["at"] for r in rows)


def test_edits_refused_on_tables_and_other_kinds(store):
    fill(store, ("services", "targets"))
    before = snapshot(store)
    with pytest.raises(InputError):
        store.insert_features("targets", one_service(), who="t")
    with pytest.raises(InputError):
        store.insert_features("services", validated("renewal_areas"), who="t")
    with pytest.raises(InputError):
        store.update_feature("services", 1, validated("services"), who="t")  # three features for one
    assert_same_snapshot(before, snapshot(store))


# --- 6. rasters ----------------------------------------------------------------------------

RASTER = np.arange(12 * 10, dtype="float32").reshape(12, 10) / 7
RASTER[0, 0] = -9999.0
RASTER_TRANSFORM = from_origin(430000.0, 3900000.0, 30.0, 30.0)


def _write_dem(store, array=RASTER, name="dem"):
    store.write_raster(name, array, transform=RASTER_TRANSFORM, crs="EPSG:4547", nodata=-9999.0, source="test")


def test_rasters(store):
    _write_dem(store)
    info = store.info("dem")
    assert (info.kind, info.geometry_type, info.feature_count) == ("dem", "raster", 120)
    with store.read_raster("dem") as src:
        assert np.array_equal(src.read(1), RASTER)
        assert src.transform == RASTER_TRANSFORM and src.crs.to_epsg() == 4547
        assert (src.count, src.dtypes[0]) == (1, "float32")
    version = store.version("dem")
    with pytest.raises(ConflictError):
        _write_dem(store, RASTER * 2)
    assert store.version("dem") == version
    store.delete("dem")
    assert not store.has("dem")
    with pytest.raises(NotFoundError):
        store.read_raster("dem")
    _write_dem(store, RASTER * 2)
    with store.read_raster("dem") as src:
        assert np.array_equal(src.read(1), RASTER * 2)


def test_raster_keeps_its_nodata(store):
    _write_dem(store)
    with store.read_raster("dem") as src:
        assert src.nodata == -9999.0


def test_a_raster_is_not_read_as_features(store):
    _write_dem(store)
    with pytest.raises(InputError):
        store.read("dem")


def test_a_layer_is_not_written_over_a_raster(store):
    _write_dem(store)
    fill(store, ("services",))
    before = snapshot(store)
    with pytest.raises(ConflictError):
        store.write("dem", validated("services"))
    with pytest.raises(ConflictError):
        _write_dem(store, name="services")
    assert_same_snapshot(before, snapshot(store))


# --- 7. several processes ------------------------------------------------------------------

def test_two_stores_on_one_location_see_each_other(store):
    fill(store, ("services",))
    other = open_store(store.location)
    etag = other.feature_etag("services", 1)
    new = store.update_feature("services", 1, one_service("甲改"), who="a", if_match=etag)
    assert other.feature_etag("services", 1) == new
    assert other.version("services") == store.version("services")
    assert other.read("services").set_index("id").loc[1, "name"] == "甲改"
    with pytest.raises(PreconditionError):
        other.update_feature("services", 1, one_service("乙改"), who="b", if_match=etag)
    other.write("roads", validated("roads"))
    assert store.has("roads") and store.version("roads") == other.version("roads")
    other.delete("roads")
    assert not store.has("roads")

    # A real second process edits; this one sees the new tag, version and values at once.
    done = subprocess.run([sys.executable, "-c", "from tests.helpers.contract import edit_main; edit_main()",
                           store.location, new], cwd=ROOT, capture_output=True, text=True, timeout=120)
    assert done.returncode == 0, done.stderr
    answer = json.loads(done.stdout)
    assert store.feature_etag("services", 1) == answer["etag"] != new
    assert store.version("services") == answer["version"]
    row = store.read("services").set_index("id").loc[1]
    assert (row["name"], row["capacity"], row.geometry.x) == ("另一进程医院", 800.0, 113.30)
    assert audit_rows(store, 1)[0]["who"] == "process-2"


# --- 8. the sample city answers the same on both --------------------------------------------

def test_sample_layers_are_the_same(both_samples):
    gpkg, pg = both_samples
    assert _stable(pg.layers()) == _stable(gpkg.layers())
    differences = []
    for info in gpkg.layers():
        if info.geometry_type == "raster":
            with gpkg.read_raster(info.name) as a, pg.read_raster(info.name) as b:
                assert np.array_equal(a.read(1), b.read(1))
                for what in ("transform", "crs", "nodata", "dtypes"):
                    if getattr(a, what) != getattr(b, what):
                        differences.append(f"{info.name}: {what} {getattr(a, what)!r} (gpkg) != "
                                           f"{getattr(b, what)!r} (postgis)")
            continue
        differences += [f"{info.name}: {d}" for d in frame_differences(gpkg.read(info.name), pg.read(info.name))]
    assert not differences, "gpkg != postgis:\n" + "\n".join(differences)


def test_sample_queries(sample, sample_store):
    """Each backend's sample answers the GeoPackage sample's queries around 西大井片区."""
    areas = sample.read("renewal_areas")
    box = tuple(areas.loc[areas.name == AREA].total_bounds + np.array([-0.01, -0.01, 0.01, 0.01]))
    versions = _versions(sample)
    for name in ("services", "roads", "parcels", "constraints", "population", "districts", "renewal_areas"):
        page, matched = sample.query(name, bbox=box)
        expected, expected_matched = sample_store.query(name, bbox=box)
        assert matched == expected_matched > 0, name
        assert page.id.tolist() == expected.id.tolist(), name
    page, matched = sample.query("services", filters={"category": "kindergarten"}, limit=5, offset=2)
    expected, expected_matched = sample_store.query("services", filters={"category": "kindergarten"}, limit=5, offset=2)
    assert (page.id.tolist(), matched) == (expected.id.tolist(), expected_matched)
    assert sample.find_kind("services") == "services" and sample.has_kind("dem")
    assert _versions(sample) == versions


def _services_report(store):
    from gis.services import nearest_services
    from workflows.inputs import analysis_inputs, resolve_area

    inputs = analysis_inputs(store)
    origins = resolve_area(inputs.areas, AREA)
    return nearest_services(origins, inputs.services, network=inputs.network, standards=inputs.standards)


def test_services_report_is_the_same(both_samples, capsys):
    gpkg, pg = both_samples
    a, b = _services_report(gpkg), _services_report(pg)
    pd.testing.assert_frame_equal(pd.DataFrame(b), pd.DataFrame(a), check_exact=False, rtol=1e-9, atol=1e-9)
    outputs = []
    for store in (gpkg, pg):
        rc, out, err = _cli(capsys, "--store", store.location, "services", AREA, "--json")
        assert rc == 0, err
        outputs.append(json.loads(out))
    assert outputs[1] == outputs[0]
    assert outputs[0]["area_name"] == AREA and outputs[0]["categories"]


def test_site_selection_is_the_same(both_samples, tmp_path):
    from workflows.reports import site_result
    from workflows.sites import select_on_surface

    results, candidates = [], []
    for i, store in enumerate(both_samples):
        origin, surface, selection, regions = select_on_surface(store, AREA, out_dir=tmp_path / str(i), units=1000)
        candidates.append(selection.candidates)
        results.append(site_result(origin, surface, selection, regions))
    a, b = candidates
    assert len(a) > 0
    assert b["name"].tolist() == a["name"].tolist() and b["rank"].tolist() == a["rank"].tolist()
    np.testing.assert_allclose(b["score"].to_numpy(float), a["score"].to_numpy(float), rtol=0, atol=1e-9)
    assert results[1] == results[0]


@pytest.mark.parametrize(("layer", "suffix"), [("renewal_areas", "geojson"), ("services", "geojson"),
                                               ("roads", "geojson"), ("targets", "csv")])
def test_exports_are_the_same(both_samples, tmp_path, capsys, layer, suffix):
    files = []
    for i, store in enumerate(both_samples):
        path = tmp_path / f"{layer}_{i}.{suffix}"
        rc, out, err = _cli(capsys, "--store", store.location, "export", layer, "-o", path,
                            *(["--crs", "4547"] if suffix == "geojson" else []))
        assert rc == 0, err
        files.append(path)
    if suffix == "geojson":
        a, b = (json.loads(p.read_text(encoding="utf-8")) for p in files)
        assert a["features"] and b["features"] == a["features"]
        assert b.get("crs") == a.get("crs")
    else:
        assert files[1].read_bytes() == files[0].read_bytes()


def test_same_edit_gives_the_same_answers(sample_store, new_database, tmp_path, capsys):
    """A writable sample of each kind, the same feature edit in both: analyses see it at once
    (versions from the store, no stale cache) and agree again."""
    from layers.sample import build_sample_store

    gpkg = open_store(copy_sample(sample_store, tmp_path))
    pg = build_sample_store(new_database("w"))
    before = []
    for store in (gpkg, pg):
        rc, out, err = _cli(capsys, "--store", store.location, "services", AREA, "--json")
        assert rc == 0, err
        before.append(json.loads(out))
    assert before[1] == before[0]
    nearest = next(c["nearest_name"] for c in before[0]["categories"] if c["category"] == "kindergarten")
    after = []
    for store in (gpkg, pg):
        services = store.read("services")
        fids = services.loc[services.name == nearest, "id"].tolist()
        assert len(fids) == 1
        store.delete_features("services", fids, who="contract")
        rc, out, err = _cli(capsys, "--store", store.location, "services", AREA, "--json")
        assert rc == 0, err
        after.append(json.loads(out))
    assert after[1] == after[0]
    assert next(c["nearest_name"] for c in after[0]["categories"] if c["category"] == "kindergarten") != nearest


# --- 9. the CLI on a database URL ----------------------------------------------------------

def test_cli_on_a_database_url(new_database, tmp_path, capsys):
    stores = [str(tmp_path / "cli.gpkg"), new_database("cli")]
    csv = tmp_path / "extra.csv"
    csv.write_text("name,category,capacity,lon,lat\n新幼儿园,幼儿园,90,113.2405,35.2152\n新小学,primary_school,,113.25,35.22\n",
                   encoding="utf-8")
    outputs: dict[str, list] = {}
    for i, location in enumerate(stores):
        rc, out, err = _cli(capsys, "--store", location, "sample")
        assert rc == 0, err
        uri = open_store(location).uri
        outputs.setdefault("sample", []).append(out.replace(uri, "<store>"))
        rc, out, err = _cli(capsys, "--store", location, "layers", "--json")
        assert rc == 0, err
        outputs.setdefault("layers", []).append(_stable(json.loads(out)))
        rc, out, err = _cli(capsys, "--store", location, "import", csv, "--layer", "services_extra", "--kind", "services")
        assert rc == 0, err
        outputs.setdefault("import", []).append((out, err))
        rc, out, err = _cli(capsys, "--store", location, "layers", "--json")
        assert rc == 0, err
        outputs.setdefault("layers after import", []).append(_stable(json.loads(out)))
        for layer in ("services_extra", "services"):
            path = tmp_path / f"{layer}_{i}.geojson"
            rc, out, err = _cli(capsys, "--store", location, "export", layer, "-o", path, "--crs", "4547")
            assert rc == 0, err
            outputs.setdefault(f"export {layer}", []).append(
                (out.replace(str(path), "<file>"), json.loads(path.read_text(encoding="utf-8"))))
    for what, (gpkg, pg) in outputs.items():
        assert pg == gpkg, what
    assert "services_extra" in {r["name"] for r in outputs["layers after import"][1]}
    assert len(outputs["export services_extra"][1][1]["features"]) == 2


# --- 10. a database that cannot be reached -------------------------------------------------

def test_unreachable_database_is_a_clear_error(unreachable_cli):
    unreachable_cli["thread"].join(timeout=60)
    assert "rc" in unreachable_cli, "the command did not end within 60 s"
    assert unreachable_cli["seconds"] < 30
    assert unreachable_cli["rc"] == 2
    err = unreachable_cli["stderr"]
    assert "cannot connect" in err and "127.0.0.1" in err
    assert "Traceback" not in err


def test_bounds_come_from_the_index_and_hold_every_feature(sample):
    for kind in ("roads", "renewal_areas", "services"):
        name = sample.find_kind(kind)
        exact = sample.read(name).total_bounds
        got = np.array(sample.bounds(name))
        # Index boxes are float32 rounded outward: they hold the features and are off by ~1 m at most.
        assert (got[:2] <= exact[:2]).all() and (got[2:] >= exact[2:]).all()
        np.testing.assert_allclose(got, exact, atol=2e-5)
    with pytest.raises(InputError):
        sample.bounds("targets")
