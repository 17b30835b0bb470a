"""Helpers of the store contract suite (tests/test_store_contract.py): small hand-made layers
of each geometry kind, validated as an import validates them, and snapshots of a store to
compare before and after a write that must change nothing."""

from __future__ import annotations

import json
import sys

import geopandas as gpd
import numpy as np
import pandas as pd
import shapely
from geopandas.testing import assert_geodataframe_equal
from pandas.testing import assert_frame_equal

from layers.validate import ValidatedLayer, validate_layer

#: The hand-made layers, written under these names (each its kind).
NAMES = ("renewal_areas", "services", "roads", "targets")


def areas_frame(n: int = 3, *, x0: float = 113.20) -> gpd.GeoDataFrame:
    """``n`` small renewal areas (polygons) near 113.2°E 35.2°N: a missing integer, a missing and
    an empty text, a Chinese vocabulary label."""
    kinds = ["shantytown", "城中村", "old_compound"]
    geoms = [shapely.box(x0 + i * 0.01, 35.20, x0 + 0.005 + i * 0.01, 35.204) for i in range(n)]
    return gpd.GeoDataFrame({
        "name": [f"片区{i + 1}" for i in range(n)], "county": ["解放区"] * n,
        "kind": [kinds[i % 3] for i in range(n)],
        "households": [100 * (i + 1) if i != 1 else None for i in range(n)],
        "note": [("备注" if i % 3 == 0 else None if i % 3 == 1 else "") for i in range(n)],
    }, geometry=geoms, crs=4490)


def services_frame() -> gpd.GeoDataFrame:
    return gpd.GeoDataFrame({
        "name": ["幼儿园甲", "小学乙", "医院丙"], "category": ["kindergarten", "小学", "hospital"],
        "capacity": [120.0, None, 500.0],
    }, geometry=[shapely.Point(113.201, 35.201), shapely.Point(113.215, 35.202), shapely.Point(113.232, 35.203)],
        crs=4490)


def roads_frame() -> gpd.GeoDataFrame:
    return gpd.GeoDataFrame({"name": ["解放路", None], "road_class": ["arterial", "支路"]}, geometry=[
        shapely.LineString([(113.19, 35.19), (113.25, 35.21)]),
        shapely.MultiLineString([[(113.20, 35.19), (113.20, 35.21)], [(113.21, 35.19), (113.21, 35.21)]]),
    ], crs=4490)


def targets_frame() -> pd.DataFrame:
    return pd.DataFrame({"city": ["焦作市"] * 3, "region": ["解放区", "山阳区", "中站区"], "year": ["2025"] * 3,
                         "metric": ["new_start_units", "new_start_units", "delivered_units"],
                         "value": [100, 250.5, 0], "note": ["", None, "示范"]})


FRAMES = {"renewal_areas": areas_frame, "services": services_frame, "roads": roads_frame,
          "targets": targets_frame}


def validated(kind: str, frame=None) -> ValidatedLayer:
    """``frame`` (default: the hand-made layer of ``kind``) validated as ``kind``."""
    return validate_layer(FRAMES[kind]() if frame is None else frame, kind)


def fill(store, names=NAMES, *, who: str = "test") -> None:
    """Write the hand-made layers ``names`` (each as its own kind), one write each."""
    for name in names:
        store.write(name, validated(name), source=f"{name}.geojson", who=who)


def one_service(name: str = "新医院", category: str = "hospital", capacity: float = 300.0,
                xy=(113.25, 35.25)) -> ValidatedLayer:
    frame = gpd.GeoDataFrame({"name": [name], "category": [category], "capacity": [capacity]},
                             geometry=[shapely.Point(*xy)], crs=4490)
    return validate_layer(frame, "services")


def snapshot(store) -> dict:
    """Every layer's metadata (version included) and every vector layer's and table's rows."""
    infos = store.layers()
    return {"layers": [i.to_dict() for i in infos],
            "frames": {i.name: store.read(i.name) for i in infos if i.geometry_type != "raster"}}


def assert_same_snapshot(before: dict, after: dict) -> None:
    assert after["layers"] == before["layers"]
    assert after["frames"].keys() == before["frames"].keys()
    for name, frame in before["frames"].items():
        assert_same_frame(after["frames"][name], frame)


def frame_differences(left, right) -> list[str]:
    """Every difference between two frames, column by column (dtype, values, geometry types),
    so that a failing comparison names them all at once rather than the first."""
    if list(left.columns) != list(right.columns):
        return [f"columns {list(left.columns)} != {list(right.columns)}"]
    if len(left) != len(right):
        return [f"{len(left)} rows != {len(right)} rows"]
    out = []
    if isinstance(left, gpd.GeoDataFrame) != isinstance(right, gpd.GeoDataFrame):
        out.append(f"{type(left).__name__} != {type(right).__name__}")
    for column in left.columns:
        a, b = left[column], right[column]
        if isinstance(a.dtype, gpd.array.GeometryDtype) and isinstance(b.dtype, gpd.array.GeometryDtype):
            types_a, types_b = a.geom_type.tolist(), b.geom_type.tolist()
            if types_a != types_b:
                rows = [i for i, (x, y) in enumerate(zip(types_a, types_b, strict=True)) if x != y]
                out.append(f"{column}: geometry types differ in rows {rows[:5]}: "
                           f"{types_a[rows[0]]} != {types_b[rows[0]]}")
            equal = shapely.equals(a.normalize().values, b.normalize().values) | (a.isna() & b.isna()).to_numpy()
            if not equal.all():
                out.append(f"{column}: geometries differ in rows {np.flatnonzero(~equal)[:5].tolist()}")
            if a.crs != b.crs:
                out.append(f"{column}: CRS {a.crs} != {b.crs}")
            continue
        if a.dtype != b.dtype:
            out.append(f"{column}: dtype {a.dtype!r} != {b.dtype!r} (values {a.head(2).tolist()} vs "
                       f"{b.head(2).tolist()})")
        same = [(x is y) or (pd.isna(x) and pd.isna(y)) if (_missing(x) or _missing(y)) else x == y
                for x, y in zip(a.tolist(), b.tolist(), strict=True)]
        if not all(same):
            i = same.index(False)
            out.append(f"{column}: values differ in {len(same) - sum(same)} rows, first row {i}: "
                       f"{a.iloc[i]!r} != {b.iloc[i]!r}")
    return out


def _missing(value) -> bool:
    return value is None or (isinstance(value, float) and np.isnan(value)) or value is pd.NA


def assert_same_frame(left, right, what: str = "") -> None:
    """Same columns, dtypes, values and (topologically, with their types) geometries."""
    differences = frame_differences(left, right)
    assert not differences, f"{what}: " + "; ".join(differences)
    if isinstance(left, gpd.GeoDataFrame):
        assert_geodataframe_equal(left, right, check_geom_type=True, check_crs=True, normalize=True)
    else:
        assert_frame_equal(left, right)


def audit_rows(store, n: int) -> list[dict]:
    """The last ``n`` audit rows, oldest first, with ``detail`` parsed."""
    rows = store.audit_log(n)[::-1]
    return [{**r, "detail": json.loads(r["detail"]) if isinstance(r["detail"], str) else r["detail"]}
            for r in rows]


def edit_main() -> None:
    """Run by the contract suite in a second process: replace services feature 1 of the store
    ``argv[1]`` under If-Match ``argv[2]``; print the new ETag and layer version as JSON."""
    from layers.store import open_store

    store = open_store(sys.argv[1])
    etag = store.update_feature("services", 1, one_service("另一进程医院", capacity=800.0, xy=(113.30, 35.30)),
                                who="process-2", if_match=sys.argv[2])
    print(json.dumps({"etag": etag, "version": store.version("services")}))
