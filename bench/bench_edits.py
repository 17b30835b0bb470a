"""Feature edits on a 200k-point layer: rows changed in place vs the whole layer rewritten.

A services layer of 200,000 synthetic points (seeded, EPSG:4490 around 113.2°E 35.2°N) is
imported into a fresh store. Ours: one feature validated and written by the store in one
SQLite transaction under the store lock (``store.update_feature``, ``insert_features``,
``delete_features``), median (and p95) of 20. Baseline in the same run: the edit as it was
before — read the layer, replace the row, validate the whole merged layer and rewrite it
with ``write_many(..., keep_ids=True)`` (a copy of the store), median of 3. Every figure is
checked: the feature count and the edited values are read back through GDAL.

Aim: a 1-feature edit on a 200k layer <= 50 ms (the whole-layer rewrite was 7.5 s).

    python bench/bench_edits.py [--n 200000] [--repeat 20] [--baseline-repeat 3]
"""

from __future__ import annotations

import argparse
import statistics
import tempfile
import time
from pathlib import Path

import geopandas as gpd
import numpy as np
import pandas as pd
import pyogrio
import shapely
from _common import peak_mb, percentile_ms, timed_runs  # noqa: E402  (bench/ is on sys.path when run as a script)

from layers.imports import import_frame
from layers.schemas import VOCABULARIES
from layers.store import open_store
from layers.validate import validate_layer

CATEGORIES = sorted(VOCABULARIES["service_category"])
LAYER = "services"


def make_services(n: int, seed: int = 0) -> gpd.GeoDataFrame:
    rng = np.random.default_rng(seed)
    x = rng.uniform(113.0, 113.4, n)
    y = rng.uniform(35.05, 35.35, n)
    return gpd.GeoDataFrame({"name": [f"设施{i}" for i in range(n)], "category": rng.choice(CATEGORIES, n),
                             "capacity": rng.integers(20, 500, n).astype(float)},
                            geometry=shapely.points(x, y), crs=4490)


def one_feature(name: str, lon: float, lat: float, category: str = "park") -> gpd.GeoDataFrame:
    return gpd.GeoDataFrame({"name": [name], "category": [category], "capacity": [100.0]},
                            geometry=[shapely.Point(lon, lat)], crs=4490)


def read_back(path: Path, fids: list[int]) -> pd.DataFrame:
    """The stored rows ``fids`` (name, category, geometry) as GDAL reads them, indexed by fid."""
    where = f"fid IN ({','.join(str(int(f)) for f in fids)})"
    return pyogrio.read_dataframe(path, layer=LAYER, where=where, fid_as_index=True)


def stored_count(store) -> tuple[int, int]:
    """(count in the metadata, count GDAL reports) — both must follow every edit."""
    return store.info(LAYER).feature_count, pyogrio.read_info(store.path, layer=LAYER)["features"]


def baseline_replace(store, fid: int, frame: gpd.GeoDataFrame) -> None:
    """The edit before: read the layer, merge the row, validate the whole layer, rewrite it."""
    info = store.info(LAYER)
    current = store.read(LAYER)
    new = validate_layer(frame, info.kind).frame
    new["id"] = fid
    merged = pd.concat([current[current["id"] != fid], new], ignore_index=True).sort_values("id")
    validated = validate_layer(gpd.GeoDataFrame(merged, geometry="geometry", crs=current.crs), info.kind)
    validated.frame["id"] = merged["id"].to_numpy()
    store.write_many([(LAYER, validated, {"mode": "replace", "keep_ids": True, "source": info.source})],
                     who="bench")


def parse_args() -> argparse.Namespace:
    parser = argparse.ArgumentParser()
    parser.add_argument("--n", type=int, default=200_000)
    parser.add_argument("--repeat", type=int, default=20)
    parser.add_argument("--baseline-repeat", type=int, default=3)
    return parser.parse_args()


def main() -> None:
    args = parse_args()
    rng = np.random.default_rng(1)
    with tempfile.TemporaryDirectory() as tmp:
        store = open_store(Path(tmp) / "renewal.gpkg")
        t = time.perf_counter()
        import_frame(store, make_services(args.n), layer=LAYER, source="bench", synthetic=True, who="bench")
        t_import = time.perf_counter() - t
        n = args.n
        assert stored_count(store) == (n, n), stored_count(store)
        fids = [int(f) for f in rng.choice(np.arange(1, n + 1), args.repeat, replace=False)]

        # (a) replace one feature: validate 1 row + store.update_feature
        def update(i):
            layer = validate_layer(one_feature(f"改名{i}", 113.2 + i * 1e-4, 35.2, "kindergarten"), "services")
            store.update_feature(LAYER, fids[i], layer, who="bench")

        t_update = timed_runs(update, args.repeat)
        back = read_back(store.path, fids)
        for i, fid in enumerate(fids):
            row = back.loc[fid]
            assert (row["name"], row["category"]) == (f"改名{i}", "kindergarten"), (fid, row.to_dict())
            assert abs(row.geometry.x - (113.2 + i * 1e-4)) < 1e-9 and abs(row.geometry.y - 35.2) < 1e-9
        assert stored_count(store) == (n, n), stored_count(store)

        # (b) insert one feature: validate 1 row + store.insert_features
        new_ids: list[int] = []

        def insert(i):
            layer = validate_layer(one_feature(f"新增{i}", 113.25, 35.25 + i * 1e-4), "services")
            new_ids.extend(store.insert_features(LAYER, layer, who="bench"))

        t_insert = timed_runs(insert, args.repeat)
        n += args.repeat
        assert len(set(new_ids)) == args.repeat and stored_count(store) == (n, n), (new_ids, stored_count(store))
        back = read_back(store.path, new_ids)
        assert [back.loc[f, "name"] for f in new_ids] == [f"新增{i}" for i in range(args.repeat)]

        # (c) delete one feature: store.delete_features
        gone = [int(f) for f in rng.choice(np.setdiff1d(np.arange(1, args.n + 1), fids), args.repeat, replace=False)]
        t_delete = timed_runs(lambda i: store.delete_features(LAYER, [gone[i]], who="bench"), args.repeat)
        n -= args.repeat
        assert stored_count(store) == (n, n) and read_back(store.path, gone).empty, stored_count(store)

        # (d) baseline: the whole layer read, validated and rewritten for a 1-feature change
        base_fids = fids[: args.baseline_repeat]
        t_base = timed_runs(lambda i: baseline_replace(store, base_fids[i], one_feature(f"整层{i}", 113.3, 35.3)),
                            args.baseline_repeat)
        back = read_back(store.path, base_fids)
        assert [back.loc[f, "name"] for f in base_fids] == [f"整层{i}" for i in range(args.baseline_repeat)]
        assert stored_count(store) == (n, n), stored_count(store)

    print_report(args, t_import, t_base, (("update (validate + store.update_feature)", t_update),
                                          ("insert (validate + store.insert_features)", t_insert),
                                          ("delete (store.delete_features)", t_delete)))


def print_report(args: argparse.Namespace, t_import: float, t_base: list[float],
                 ours: tuple[tuple[str, list[float]], ...]) -> None:
    """The figures: median and p95 of each of our edits (label, run times in s) against the baseline's median."""
    base = statistics.median(t_base) * 1000
    print(f"bench_edits: services layer of {args.n:,} points (import {t_import:.1f} s); "
          f"ours median of {args.repeat}, baseline median of {args.baseline_repeat}")
    print(f"  {'edit (1 feature)':42s} {'median ms':>10s} {'p95 ms':>8s} {'baseline/ours':>14s}")
    for label, times in ours:
        med = statistics.median(times) * 1000
        print(f"  {label:42s} {med:10.1f} {percentile_ms(times, 95):8.1f} {base / med:13.0f}x")
    print(f"  {'baseline: read + validate + rewrite layer':42s} {base:10.1f} {percentile_ms(t_base, 95):8.1f}")
    print("  checked: feature counts (metadata and GDAL) and edited names/geometries read back")
    print("  aim: a 1-feature edit <= 50 ms on a 200k layer (baseline was 7.5 s)")
    print(f"  peak RSS: {peak_mb():.0f} MB")


if __name__ == "__main__":
    main()
