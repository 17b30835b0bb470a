"""The vectorized MVT layer encoder (``layers.mvt_pbf``) against mapbox-vector-tile's own
encoder, the maintained library it replaces on the tile path: both tiles decode to the same
features (ids, types, command streams, properties) for every geometry kind and the edge
cases of MVT 2.1 — closing vertices, repeated vertices, rings and lines that collapse,
holes of a dropped polygon, one cursor per feature. The protobuf bytes (``layers.mvt_wire``)
are those the protobuf library writes for the message it reads from them."""

import math

import mapbox_vector_tile
import numpy as np
import pandas as pd
import pytest
import shapely

from layers.mvt_pbf import encode_layer

EXTENT = 4096


def library(geoms, ids, columns) -> dict:
    features = []
    for i, g in enumerate(geoms):
        if g is None or g.is_empty:
            continue
        props = {}
        for name, col in columns.items():
            v = col[i]
            v = v.item() if isinstance(v, np.generic) else v
            if v is None or (isinstance(v, float) and math.isnan(v)):
                continue
            props[name] = v
        features.append({"geometry": g, "properties": props, "id": ids[i]})
    body = mapbox_vector_tile.encode([{"name": "t", "features": features}], default_options={
        "quantize_bounds": None, "extents": EXTENT, "y_coord_down": False, "check_winding_order": False})
    return mapbox_vector_tile.decode(body, default_options={"geojson": False})


def ours(geoms, ids, columns) -> dict:
    body = encode_layer("t", np.array(geoms, dtype=object), np.array(ids), {k: np.array(v, dtype=object)
                                                                              for k, v in columns.items()}, EXTENT)
    assert canonical(body)
    return mapbox_vector_tile.decode(body, default_options={"geojson": False}) if body else {}


def canonical(body: bytes) -> bool:
    """Whether the protobuf library, reading ``body`` and writing the message again, gives
    the same bytes (every field, its order, packing and lengths as the library writes them)."""
    from mapbox_vector_tile.Mapbox import vector_tile_pb2

    return vector_tile_pb2.tile.FromString(body).SerializeToString() == body


def raw_commands(body_geoms, ids, columns):
    """Both encoders' raw feature messages (ids, types, tags resolved, geometry commands)."""
    from mapbox_vector_tile.Mapbox import vector_tile_pb2

    out = []
    for body in (mapbox_vector_tile.encode([{"name": "t", "features": [
            {"geometry": g, "properties": {}, "id": i} for g, i in zip(body_geoms, ids, strict=True)
            if g is not None and not g.is_empty]}], default_options={
                "quantize_bounds": None, "extents": EXTENT, "y_coord_down": False, "check_winding_order": False}),
                 encode_layer("t", np.array(body_geoms, dtype=object), np.array(ids), {}, EXTENT)):
        tile = vector_tile_pb2.tile()
        tile.ParseFromString(body)
        out.append([(f.id, f.type, list(f.geometry)) for f in tile.layers[0].features] if tile.layers else [])
    return out


SQUARE = shapely.Polygon([(0, 0), (100, 0), (100, 100), (0, 100)])
HOLE = shapely.Polygon([(0, 0), (100, 0), (100, 100), (0, 100)], [[(10, 10), (10, 20), (20, 20), (20, 10)]])
GEOMS = [
    shapely.Point(5, 7),
    shapely.MultiPoint([(1, 1), (1, 1), (30, 40)]),                   # repeated points stay
    shapely.LineString([(0, 0), (0, 0), (10, 0), (10, 0), (10, 20)]),  # repeated vertices go
    shapely.LineString([(3, 3), (3, 3)]),                              # collapses: dropped
    shapely.MultiLineString([[(0, 0), (5, 5)], [(7, 7), (7, 7)], [(9, 9), (12, 30)]]),
    shapely.orient_polygons(SQUARE, exterior_cw=False),
    shapely.orient_polygons(HOLE, exterior_cw=False),
    shapely.Polygon([(0, 0), (50, 0), (50, 50), (50, 50), (0, 50)]),   # a repeated ring vertex
    shapely.Polygon([(0, 0), (0, 0), (0, 0), (0, 0)]),                 # a collapsed exterior: dropped
    shapely.MultiPolygon([shapely.Polygon([(5, 5), (5, 5), (5, 5), (5, 5)], [[(1, 1), (2, 1), (2, 2), (1, 1)]]),
                          shapely.orient_polygons(SQUARE, exterior_cw=False)]),  # its holes go with it
    shapely.orient_polygons(shapely.MultiPolygon([HOLE, shapely.box(200, 200, 300, 260)]), exterior_cw=False),
    shapely.Polygon([(0, 0), (100, 0), (100, 100), (0, 0)], [[(50, 20), (50, 20), (50, 20), (50, 20)]]),
    shapely.Point(-64, 4160),                                          # in the buffer
    None,
    shapely.Polygon(),
]


def test_command_streams_equal_the_library_for_every_geometry_kind():
    ids = list(range(1, len(GEOMS) + 1))
    lib, mine = raw_commands(GEOMS, ids, {})
    assert mine == lib and len(mine) == 11  # 15 less a collapsed line, a collapsed polygon, None, empty


def test_features_and_properties_decode_alike():
    rng = np.random.default_rng(7)
    n = 300
    boxes = shapely.box(*(rng.integers(-64, 4000, (2, n))), *(rng.integers(4000, 4160, (2, n))))
    geoms = list(shapely.orient_polygons(boxes, exterior_cw=False))
    columns = {"name": [f"地块{i % 40}" for i in range(n)],                    # shared values
               "far": [None if i % 7 == 0 else float(i % 5) / 2 for i in range(n)],  # None left out
               "households": [int(i) for i in range(n)],
               "listed": [bool(i % 2) for i in range(n)],
               "note": [float("nan") if i % 3 else "拆迁" for i in range(n)]}
    ids = list(range(10, 10 + n))
    a, b = library(geoms, ids, columns), ours(geoms, ids, columns)
    assert a == b and len(b["t"]["features"]) == n


def test_mixed_kinds_and_ids_in_one_layer():
    geoms = [shapely.Point(1, 2), shapely.LineString([(0, 0), (9, 9)]), shapely.orient_polygons(SQUARE,
                                                                                                exterior_cw=False)]
    ids = [3, -1, 5]  # a negative id cannot be an MVT id (uint64): the feature keeps no id
    columns = {"kind": ["a", "b", "c"]}
    assert library(geoms, ids, columns) == ours(geoms, ids, columns)


def test_values_of_different_types_are_not_merged():
    """mapbox-vector-tile keys values by Python equality, so True, 1 and 1.0 share one value
    (a float column reads back as an int); ours keeps each column's type."""
    geoms = [shapely.Point(i, i) for i in range(3)]
    columns = {"flag": [True, True, False], "count": [1, 2, 0], "share": [1.0, 0.5, 0.0]}
    got = {f["id"]: f["properties"] for f in ours(geoms, [1, 2, 3], columns)["t"]["features"]}
    assert got[1] == {"flag": True, "count": 1, "share": 1.0}
    assert type(got[1]["flag"]) is bool and type(got[1]["count"]) is int and type(got[1]["share"]) is float
    assert got[3] == {"flag": False, "count": 0, "share": 0.0} and type(got[3]["count"]) is int


def test_typed_columns_dates_and_missing_values():
    geoms = [shapely.Point(i, i) for i in range(3)]
    columns = {"built": pd.to_datetime(["2024-05-01", None, "2025-01-31"]).to_numpy(),
               "n": pd.array([1, None, 3], dtype="Int64").to_numpy(dtype=object),
               "x": np.array([0.5, np.nan, np.inf])}
    body = encode_layer("t", np.array(geoms, dtype=object), np.array([1, 2, 3]), columns, EXTENT)
    got = {f["id"]: f["properties"] for f in mapbox_vector_tile.decode(body)["t"]["features"]}
    assert got[1] == {"built": "2024-05-01 00:00:00", "n": 1, "x": 0.5}
    assert got[2] == {} and got[3] == {"built": "2025-01-31 00:00:00", "n": 3}


def test_collections_keep_their_highest_dimension_and_nothing_is_an_empty_tile():
    coll = shapely.GeometryCollection([shapely.Point(1, 1), shapely.LineString([(0, 0), (5, 5)]),
                                       shapely.orient_polygons(SQUARE, exterior_cw=False)])
    got = ours([coll], [1], {})["t"]["features"][0]
    assert got["type"] == 3 and got["geometry"]["type"] == "Polygon"
    lines = shapely.GeometryCollection([shapely.Point(1, 1), shapely.LineString([(0, 0), (5, 5)])])
    assert ours([lines], [1], {})["t"]["features"][0]["geometry"]["type"] == "LineString"
    assert encode_layer("t", np.array([None, shapely.Point()], dtype=object), np.array([1, 2]), {}, EXTENT) == b""
    assert encode_layer("t", np.empty(0, dtype=object), np.empty(0, dtype=np.int64), {}, EXTENT) == b""


def test_a_layer_of_collapsed_lines_or_rings_is_an_empty_tile():
    collapsed = [shapely.LineString([(3, 3), (3, 3)]), shapely.Polygon([(5, 5), (5, 5), (5, 5), (5, 5)])]
    for geoms in ([collapsed[0]], [collapsed[1]], collapsed):
        assert encode_layer("t", np.array(geoms, dtype=object), np.arange(1, len(geoms) + 1), {}, EXTENT) == b""
    mixed = ours([collapsed[0], shapely.Point(1, 1)], [1, 2], {})["t"]["features"]
    assert [f["id"] for f in mixed] == [2]


def test_an_integer_beyond_64_bits_is_refused():
    with pytest.raises((ValueError, OverflowError)):
        encode_layer("t", np.array([shapely.Point(1, 1)], dtype=object), np.array([1]),
                     {"big": np.array([2**70], dtype=object)}, EXTENT)


def test_the_bytes_are_the_protobuf_librarys_for_every_kind_of_value():
    """Negative and 64-bit integers, ids up to 2^63, doubles, booleans, multi-byte UTF-8 text,
    long command streams (varints of several bytes) and features without tags or ids."""
    from mapbox_vector_tile.Mapbox import vector_tile_pb2

    rng = np.random.default_rng(7)
    ring = rng.uniform(-64, 4160, (300, 2))
    geoms = [shapely.Point(1, 2), shapely.LineString(ring), shapely.MultiPoint(ring[:40]),
             shapely.orient_polygons(shapely.Polygon(shapely.convex_hull(shapely.MultiPoint(ring)).exterior),
                                     exterior_cw=False), shapely.Point(4000, 4000)]
    ids = np.array([0, 2**63 - 1, -5, 300, 129], dtype=np.int64)
    columns = {"name": np.array(["西大井片区", "a" * 200, None, "", "é"], dtype=object),
               "n": np.array([-1, 2**63 - 1, -(2**63), 0, None], dtype=object),
               "share": np.array([0.1, -2.5e300, None, 1.0, float("nan")], dtype=object),
               "ok": np.array([True, False, None, True, None], dtype=object),
               "none": np.array([None] * 5, dtype=object)}
    body = encode_layer("地块", np.array(geoms, dtype=object), ids, columns, EXTENT)
    assert canonical(body)
    layer = vector_tile_pb2.tile.FromString(body).layers[0]
    assert layer.name == "地块" and layer.version == 2 and layer.extent == EXTENT
    assert [f.id for f in layer.features] == [0, 2**63 - 1, 0, 300, 129]
    assert [f.HasField("id") for f in layer.features] == [True, True, False, True, True]
    got = [f["properties"] for f in mapbox_vector_tile.decode(body)["地块"]["features"]]
    assert got == [{"name": "西大井片区", "n": -1, "share": 0.1, "ok": True},
                   {"name": "a" * 200, "n": 2**63 - 1, "share": -2.5e300, "ok": False},
                   {"n": -(2**63)}, {"name": "", "n": 0, "share": 1.0, "ok": True}, {"name": "é"}]
    assert [type(v) for v in got[3].values()] == [str, int, float, bool]
    assert library(geoms, ids, {"name": columns["name"]}) == ours(geoms, ids, {"name": columns["name"]})


def test_a_tiles_short_columns_get_the_tags_pandas_gives_long_ones(monkeypatch):
    """Columns as long as a tile's are factorized with a dict, longer ones by pandas: the
    same keys, values (in the same order) and tags for every kind of cell."""
    from layers import mvt_pbf

    n = 12
    columns = {"name": np.array([f"地块{i % 5}" for i in range(n)], dtype=object),
               "far": np.array([1.5, np.nan, np.inf, -0.0, 0.0, 2.5] * 2),
               "n": np.arange(n) % 4, "flag": np.arange(n) % 3 == 0,
               "mixed": np.array([1, True, "1", 1.0, np.float64(2.5), pd.NA, np.nan, None, pd.Timestamp("2024-05-01"),
                                  np.int64(7), float("inf"), "末"], dtype=object),
               "nothing": np.array([None] * n, dtype=object), "no_number": np.array([np.nan] * n, dtype=object),
               "note": np.array([float("nan") if i % 3 else "拆迁" for i in range(n)], dtype=object),
               "nullable": pd.array([1, None, 3] * 4, dtype="Int64").to_numpy(dtype=object)}
    keep = np.ones(n, dtype=bool)
    keep[5] = False
    short = mvt_pbf._tags(columns, keep)
    monkeypatch.setattr(mvt_pbf, "_SMALL_COLUMN", 0)
    long = mvt_pbf._tags(columns, keep)
    assert short[0] == long[0] and short[1] == long[1] and [type(v) for v in short[1]] == [type(v) for v in long[1]]
    assert (short[2] == long[2]).all() and (short[3] == long[3]).all()
    assert "nothing" not in short[0] and "no_number" not in short[0] and 2.5 in short[1] and "2024-05-01 00:00:00" in short[1]
