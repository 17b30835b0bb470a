import json

import geopandas as gpd
import pytest
import shapely

from gis.errors import InputError, NotFoundError, PreconditionError, ValidationError
from layers.imports import import_file, import_frame
from layers.store import GeoPackageStore, open_store
from tests.conftest import sha256


@pytest.fixture
def store(tmp_path, areas_4490):
    s = GeoPackageStore(tmp_path / "s.gpkg")
    import_frame(s, areas_4490, layer="renewal_areas", source="test")
    return s


def test_import_records_metadata_and_audit(store):
    info = store.info("renewal_areas")
    assert info.kind == "renewal_areas" and info.feature_count == 3 and info.original_crs == "EPSG:4490"
    assert info.source == "test" and info.synthetic is False and info.imported_at
    frame = store.read("renewal_areas")
    assert frame.id.tolist() == [1, 2, 3]
    assert frame.crs.to_epsg() == 4490
    assert store.audit_log()[0]["action"] == "replace"


def test_failed_import_leaves_the_store_byte_for_byte(store, tmp_path):
    before = sha256(store.path)
    bad = tmp_path / "bad.geojson"
    bad.write_text('{"type":"FeatureCollection","features":[{"type":"Feature","properties":{"name":"x",'
                   '"county":"解放区","kind":"palace"},"geometry":{"type":"Point","coordinates":[113.2,35.2]}}]}',
                   encoding="utf-8")
    with pytest.raises(ValidationError):
        import_file(store, bad, layer="renewal_areas")
    assert sha256(store.path) == before
    assert not list(tmp_path.glob(".s.gpkg.*"))  # no temporary left behind


def test_failure_during_the_write_leaves_the_store_unchanged(store, areas_4490, monkeypatch):
    before = sha256(store.path)
    import layers.backends.gpkg_layers as store_module

    def explode(*args, **kwargs):
        raise OSError("disk full")

    monkeypatch.setattr(store_module, "record", explode)
    with pytest.raises(OSError, match="disk full"):
        import_frame(store, areas_4490, layer="renewal_areas", mode="append")
    assert sha256(store.path) == before


def test_append_and_replace(store, areas_4490):
    import_frame(store, areas_4490, layer="renewal_areas", mode="append")
    assert store.info("renewal_areas").feature_count == 6
    import_frame(store, areas_4490.iloc[:1], layer="renewal_areas", mode="replace")
    assert store.info("renewal_areas").feature_count == 1


def test_append_of_another_kind_is_refused(store):
    pts = gpd.GeoDataFrame({"name": ["a"], "category": ["park"]}, geometry=[shapely.Point(113.2, 35.2)], crs=4490)
    with pytest.raises(InputError, match="cannot append services features"):
        import_frame(store, pts, layer="renewal_areas", kind="services", mode="append")


def test_layer_names_are_checked(store, areas_4490):
    with pytest.raises(InputError, match="not allowed"):
        import_frame(store, areas_4490, layer="Drop Table", kind="renewal_areas")


def test_delete_and_unknown_layer(store):
    store.delete("renewal_areas")
    assert store.layers() == []
    with pytest.raises(NotFoundError, match="no layer 'renewal_areas'"):
        store.read("renewal_areas")


def test_missing_store_is_a_clear_error(tmp_path):
    with pytest.raises(NotFoundError, match="renewal sample"):
        GeoPackageStore(tmp_path / "none.gpkg").read("x")
    assert open_store(tmp_path / "none.gpkg").layers() == []


def test_gdal_sees_a_valid_geopackage(sample_store):
    import pyogrio

    names = {row[0] for row in pyogrio.list_layers(sample_store.path)}
    assert {"renewal_areas", "services", "roads", "parcels", "constraints", "districts", "targets"} <= names
    assert "renewal_layers" not in names


def test_dem_raster_reads_back(sample_store):
    with sample_store.read_raster("dem") as src:
        assert src.crs.to_epsg() == 4547 and src.res == (30.0, 30.0)
        assert src.read(1).dtype.name == "float32"


def test_the_layer_named_after_its_kind_is_the_one_analyses_use(store, areas_4490):
    import_frame(store, areas_4490, layer="a_more_areas", kind="renewal_areas")
    assert store.find_kind("renewal_areas") == "renewal_areas"
    store.delete("renewal_areas")
    assert store.find_kind("renewal_areas") == "a_more_areas"


def test_feature_edits_change_only_their_rows(store, areas_4490):
    from layers.validate import validate_layer

    before = store.read("renewal_areas")
    version = store.version("renewal_areas")
    # Integer fields partly missing are nullable columns (pd.NA): stored as NULL.
    new = areas_4490.iloc[:1].assign(name="新甲片区", households=[None], units=[1000], built_year=[None])
    [fid] = store.insert_features("renewal_areas", validate_layer(new, "renewal_areas"), who="ann")
    assert store.version("renewal_areas") != version
    store.update_feature("renewal_areas", 1, validate_layer(new.assign(name="改名"), "renewal_areas"), who="ann")
    store.delete_features("renewal_areas", [2], who="ann")
    after = store.read("renewal_areas").set_index("id")
    assert list(after.index) == [1, 3, fid] and after.loc[1, "name"] == "改名"
    assert after.loc[3].equals(before.set_index("id").loc[3])  # untouched rows stay as they were
    assert after.loc[1, "households"] is None or after.loc[1, "households"] != after.loc[1, "households"]
    verbs = [(a["action"], json.loads(a["detail"])) for a in store.audit_log(3)][::-1]
    assert verbs == [("create", {"ids": [fid]}), ("replace", {"ids": [1]}), ("delete", {"ids": [2]})]
    info = store.info("renewal_areas")
    assert info.feature_count == 3 and info.source == "test"  # provenance kept
    etag = store.feature_etag("renewal_areas", 1)
    with pytest.raises(PreconditionError, match="changed since you read it"):
        store.update_feature("renewal_areas", 1, validate_layer(new, "renewal_areas"), who="bob", if_match='"stale"')
    store.update_feature("renewal_areas", 1, validate_layer(new, "renewal_areas"), who="bob", if_match=f'"{etag}"')
    with pytest.raises(NotFoundError, match="no feature 99"):
        store.delete_features("renewal_areas", [99], who="bob")


def test_gdal_reads_edited_features_through_its_spatial_index(store, areas_4490):
    import pyogrio

    from layers.validate import validate_layer

    moved = areas_4490.iloc[:1].assign(geometry=[shapely.box(114.0, 36.0, 114.001, 36.001)])
    store.update_feature("renewal_areas", 1, validate_layer(moved, "renewal_areas"), who="t")
    hits = pyogrio.read_dataframe(store.path, layer="renewal_areas", bbox=(113.99, 35.99, 114.01, 36.01))
    assert hits["name"].tolist() == ["甲片区"]
    assert pyogrio.read_dataframe(store.path, layer="renewal_areas", bbox=(113.199, 35.199, 113.206, 35.205)).empty


def test_layer_metadata_is_fresh_after_writes_by_another_process(store):
    import subprocess
    import sys

    before = store.info("renewal_areas")
    edit = ("import sys; from layers.store import open_store; from layers.validate import validate_layer\n"
            "s = open_store(sys.argv[1]); f = s.read('renewal_areas').iloc[:1].drop(columns='id')\n"
            "s.insert_features('renewal_areas', validate_layer(f, 'renewal_areas'), who='other')\n")
    versions = [before.version]
    for n in (1, 2):
        subprocess.run([sys.executable, "-c", edit, str(store.path)], check=True)
        info = store.info("renewal_areas")
        assert info.feature_count == before.feature_count + n and info.version not in versions
        versions.append(info.version)


def test_folder_cache_builds_once_and_deletes_evicted_folders_after_the_grace(tmp_path, monkeypatch):
    import os

    from layers.cache import FolderCache

    cache = FolderCache("t-", size=1)
    monkeypatch.setattr(cache, "GRACE_S", 0.0)
    built = []

    def build(folder):
        built.append(folder)
        open(os.path.join(folder, "x"), "w").close()
        return folder

    first = cache.get("a", build)
    assert cache.get("a", build) == first and len(built) == 1
    cache.get("b", build)          # evicts "a" (retired, not yet deleted: a reader may hold it)
    cache.get("c", build)          # evicts "b"; the grace of "a" is over: deleted
    assert not os.path.exists(first) and os.path.exists(built[-1])
