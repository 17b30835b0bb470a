"""An edit retires only the vector tiles it touches (``layers.tile_edits``, #16): after
edits, every tile a store serves is the tile it would encode now (no stale tile), and the
tiles no edit touched are served from the cache without encoding, with their old ETag; a
whole write retires them all. On both backends."""

import json

import geopandas as gpd
import numpy as np
import pytest
import shapely

from layers import tile_edits
from layers.copy import copy_store
from layers.imports import import_frame
from layers.mvt import tile_bounds_lonlat
from layers.store import open_store
from layers.validate import validate_layer
from tests.conftest import copy_sample
from tests.test_vector_tiles import decoded, tile_at

Z = 15


@pytest.fixture(params=["gpkg", "postgis"])
def editable(request, sample_store, tmp_path):
    """The sample city, to edit: a GeoPackage copy, or a PostGIS database copied from it."""
    if request.param == "gpkg":
        return open_store(copy_sample(sample_store, tmp_path))
    store = open_store(request.getfixturevalue("new_database")("tiles"))
    copy_store(sample_store, store)
    return store


def _ring(n: int = 2) -> list[tuple[int, int]]:
    x, y = tile_at(Z)
    return [(x + dx, y + dy) for dx in range(-n, n + 1) for dy in range(-n, n + 1)]


def _served(store, layer: str, tiles) -> tuple[dict, dict, list]:
    """Each tile as served (cache or encoder) and its version; the tiles encoded meanwhile."""
    encoded, encode = [], type(store)._encode_tile

    def counting(self, name, z, x, y):
        encoded.append((x, y))
        return encode(self, name, z, x, y)

    type(store)._encode_tile = counting
    try:
        bodies = {t: store.vector_tile(layer, Z, *t) for t in tiles}
    finally:
        type(store)._encode_tile = encode
    return bodies, {t: store.tile_version(layer, Z, *t) for t in tiles}, encoded


def _assert_fresh(store, layer: str, bodies: dict) -> None:
    """Every served tile holds what the store's features make of it now."""
    for (x, y), body in bodies.items():
        assert decoded(body, layer) == decoded(store._encode_tile(layer, Z, x, y), layer), (x, y)


def _feature_in(store, layer: str, tile) -> gpd.GeoDataFrame:
    """A feature wholly inside ``tile`` (not its buffer), as one row."""
    page, _ = store.query(layer, bbox=tile_bounds_lonlat(Z, *tile, buffered=False))
    inner = shapely.box(*tile_bounds_lonlat(Z, *tile, buffered=False))
    return page[page.within(inner)].head(1)


def test_an_edit_retires_the_tiles_it_touches_and_no_other(editable):
    store, layer, ring = editable, "parcels", _ring()
    first, versions, _ = _served(store, layer, ring)
    assert sum(1 for b in first.values() if decoded(b, layer)) > 10  # tiles with parcels

    # A parcel moved from the middle tile one tile east: the tiles it left and the one it reached.
    middle, east = ring[12], ring[17]
    parcel = _feature_in(store, layer, middle)
    fid = int(parcel.id.iloc[0])
    x0, _, x1, _ = tile_bounds_lonlat(Z, *middle, buffered=False)
    moved = parcel.drop(columns="id").set_geometry(parcel.geometry.translate(xoff=x1 - x0))
    store.update_feature(layer, fid, validate_layer(moved, "parcels"), who="test")
    after, new_versions, encoded = _served(store, layer, ring)
    changed = {t for t in ring if new_versions[t] != versions[t]}
    assert {middle, east} <= changed and len(changed) <= 9
    assert sorted(encoded) == sorted(changed)  # the others from the cache, as they were
    assert all(after[t] == first[t] for t in ring if t not in changed)
    assert fid not in decoded(after[middle], layer) and fid in decoded(after[east], layer)
    _assert_fresh(store, layer, after)

    # A deletion and an insertion elsewhere: only their tiles again.
    west = ring[7]
    gone = int(_feature_in(store, layer, west).id.iloc[0])
    store.delete_features(layer, [gone], who="test")
    north = ring[11]
    (new_fid,) = store.insert_features(layer, validate_layer(
        _feature_in(store, layer, north).drop(columns="id"), "parcels"), who="test")
    last, last_versions, encoded = _served(store, layer, ring)
    changed = {t for t in ring if last_versions[t] != new_versions[t]}
    assert {west, north} <= changed and len(changed) <= 8 and sorted(encoded) == sorted(changed)
    assert gone not in decoded(last[west], layer) and new_fid in decoded(last[north], layer)
    _assert_fresh(store, layer, last)

    # A whole write: every tile at the new version.
    import_frame(store, store.read(layer).drop(columns="id"), layer=layer, mode="replace")
    _, whole, encoded = _served(store, layer, ring)
    assert all(whole[t] == store.version(layer) != last_versions[t] for t in ring) and len(encoded) == len(ring)


def test_a_property_edit_retires_the_tiles_of_its_feature(editable):
    store, layer, ring = editable, "parcels", _ring(1)
    _, versions, _ = _served(store, layer, ring)
    row = _feature_in(store, layer, ring[4])
    fid = int(row.id.iloc[0])
    store.update_feature(layer, fid, validate_layer(row.drop(columns="id").assign(max_far=4.5), "parcels"), who="test")
    after, new_versions, encoded = _served(store, layer, ring)
    assert ring[4] in encoded and len(encoded) < len(ring)
    assert decoded(after[ring[4]], layer)[fid]["properties"]["max_far"] == 4.5
    _assert_fresh(store, layer, after)


def test_a_bulk_delete_retires_the_tiles_around_it(editable):
    """Over 500 roads (the GeoPackage reads their boxes in chunks; over 64 features an edit
    keeps one box around them) deleted inside one zoom-14 tile: its zoom-15 tiles and their
    neighbours retired, the ring beyond kept."""
    store, layer = editable, "roads"
    x14, y14 = tile_at(14)
    inner = shapely.box(*tile_bounds_lonlat(14, x14, y14, buffered=False))
    page, _ = store.query(layer, bbox=inner.bounds)
    doomed = page[page.within(inner)].id.astype(int).tolist()
    assert len(doomed) > 500
    ring = [(2 * x14 + dx, 2 * y14 + dy) for dx in range(-2, 4) for dy in range(-2, 4)]
    _, versions, _ = _served(store, layer, ring)
    store.delete_features(layer, doomed, who="test")
    after, new_versions, encoded = _served(store, layer, ring)
    changed = {t for t in ring if new_versions[t] != versions[t]}
    children = {(2 * x14 + dx, 2 * y14 + dy) for dx in (0, 1) for dy in (0, 1)}
    assert children <= changed and len(changed) <= 16 and sorted(encoded) == sorted(changed)
    assert not set(doomed) & {fid for body in after.values() for fid in decoded(body, layer)}
    _assert_fresh(store, layer, after)


def _set_version(store, layer: str, version: str) -> None:
    """The layer's version changed as a writer that keeps no tile versions (an older release) does."""
    _execute(store, f"UPDATE renewal_layers SET version = '{version}' WHERE name = '{layer}'")


def _execute(store, statement: str) -> None:
    """``statement`` on the store's database, past the store."""
    if hasattr(store, "path"):
        import contextlib
        import sqlite3

        with contextlib.closing(sqlite3.connect(store.path)) as con:
            con.execute(statement)
            con.commit()
    else:
        with store._write() as cur:
            cur.execute(statement)


def test_tile_versions_written_for_another_layer_version_are_ignored(editable):
    store, layer, ring = editable, "parcels", _ring(1)
    row = _feature_in(store, layer, ring[4])
    store.update_feature(layer, int(row.id.iloc[0]), validate_layer(row.drop(columns="id"), "parcels"), who="test")
    _served(store, layer, ring)
    _set_version(store, layer, "older-release-edit")
    _, versions, encoded = _served(store, layer, ring)
    assert set(versions.values()) == {"older-release-edit"} and len(encoded) == len(ring)


def test_a_store_written_before_tile_versions_reads_and_gets_them_on_its_first_edit(editable):
    store, layer = editable, "parcels"
    _execute(store, "ALTER TABLE renewal_layers DROP COLUMN tile_edits")
    assert store.info(layer).tile_edits == "" and store.tile_version(layer, Z, *_ring(0)[0]) == store.version(layer)
    row = _feature_in(store, layer, _ring(0)[0])
    store.update_feature(layer, int(row.id.iloc[0]), validate_layer(row.drop(columns="id"), "parcels"), who="test")
    assert json.loads(store.info(layer).tile_edits)["at"] == store.version(layer)


def test_a_postgis_write_leaves_the_catalog_readable(sample_store, new_database):
    """A write transaction holds no lock that keeps requests from reading the catalog (an
    ``ALTER TABLE`` on every write did, until its commit)."""
    import threading

    url = new_database("lock")
    store = open_store(url)
    copy_store(sample_store, store)
    read = threading.Event()
    with store._write():
        threading.Thread(target=lambda: (open_store(url).layers(), read.set()), daemon=True).start()
        assert read.wait(10), "the catalog could not be read while a write was open"


def test_tile_versions_by_hand():
    """Boxes (min x, min y, max x, max y) worked by hand: the newest edit whose box meets the
    tile's box gives its version, edges included; else the base."""
    raw = tile_edits.after_edit("", "v0", "v1", np.array([[0, 0, 1, 1]]), 100, 100)
    raw = tile_edits.after_edit(raw, "v1", "v2", np.array([[0.5, 0.5, 2, 2], [5, 5, 6, 6]]), 100, 101)
    assert json.loads(raw) == {"at": "v2", "base": "v0", "edits": [["v1", 0, 0, 1, 1], ["v2", 0.5, 0.5, 2, 2],
                                                                   ["v2", 5, 5, 6, 6]]}
    edits = tile_edits.edits_of("test://", "parcels", "v2", raw)
    assert edits.tile_version((-1, -1, 0.2, 0.2)) == "v1"
    assert edits.tile_version((0.8, 0.8, 0.9, 0.9)) == "v2"  # both meet it: the newer
    assert edits.tile_version((2, 2, 3, 3)) == "v2"  # touching at a corner counts
    assert edits.tile_version((3, 3, 4, 4)) == "v0" and edits.live() == {"v0", "v1", "v2"}
    # Nothing with a geometry changed: the same edits, at the new version. Unknown boxes: every tile at it.
    same = json.loads(tile_edits.after_edit(raw, "v2", "v3", np.full((1, 4), np.nan), 101, 101))
    assert same == {**json.loads(raw), "at": "v3"}
    assert tile_edits.after_edit(raw, "v2", "v3", None, 101, 101) == ""
    # An edit of many features keeps one box around them.
    many = np.column_stack([np.arange(100), np.zeros(100), np.arange(100) + 1, np.ones(100)])
    assert json.loads(tile_edits.after_edit("", "v0", "v1", many, 100, 200))["edits"] == [["v1", 0, 0, 100, 1]]
    # Too many boxes, or a count that moves the lowest tiled zoom (5,000 → 5,001: zoom 0 → 10): start again.
    full = json.dumps({"at": "v1", "base": "v0", "edits": [["v1", 0, 0, 1, 1]] * (tile_edits.MAX_BOXES - 1)})
    assert len(json.loads(tile_edits.after_edit(full, "v1", "v2", np.zeros((1, 4)), 100, 100))["edits"]) == 256
    # Kept to a micro-degree, outwards.
    assert json.loads(tile_edits.after_edit("", "v0", "v1", np.array([[113.1700004, 35.2400006, 113.1800004,
                                                                          35.2500006]]), 100, 100))["edits"] == [
        ["v1", 113.17, 35.24, 113.180001, 35.250001]]
    assert tile_edits.after_edit(full, "v1", "v2", np.zeros((2, 4)), 100, 100) == ""
    assert tile_edits.after_edit("", "v0", "v1", np.zeros((1, 4)), 5_000, 5_001) == ""
    # Text that is not ours (edited by hand), or written for another version of the layer (a writer
    # that keeps no tile versions changed it since): every tile at the layer's version.
    assert tile_edits.edits_of("test://", "parcels", "v9", "{not json").tile_version((0, 0, 1, 1)) == "v9"
    assert tile_edits.edits_of("test://", "parcels", "v9", raw).tile_version((0, 0, 1, 1)) == "v9"
