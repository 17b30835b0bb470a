"""Import throughput: 100k polygons through `import_file` vs a bare pyogrio read + GPKG write.

Both read the same GeoPackage input and write a GeoPackage; ours also validates every
feature (types, ranges, vocabularies, geometry validity, swapped axes) and measures areas on
the Gauss–Krüger plane. Aim: ours within 2× of the bare path.

    python bench/bench_io.py [--n 100000]
"""

from __future__ import annotations

import argparse
import tempfile
from pathlib import Path

import geopandas as gpd
import numpy as np
import pyogrio
import shapely
from _common import best_of, peak_mb  # noqa: E402  (bench/ is on sys.path when run as a script)

from layers.imports import import_file
from layers.store import GeoPackageStore


def make_input(path: Path, n: int) -> None:
    rng = np.random.default_rng(0)
    x = rng.uniform(113.0, 113.5, n)
    y = rng.uniform(35.0, 35.35, n)
    size = rng.uniform(0.0005, 0.002, n)
    geoms = shapely.box(x, y, x + size, y + size * 0.8)
    kinds = rng.choice(["shantytown", "urban_village", "old_compound", "城中村"], n)
    frame = gpd.GeoDataFrame({"name": [f"片区{i}" for i in range(n)], "county": rng.choice(["解放区", "山阳区"], n),
                              "kind": kinds, "households": rng.integers(50, 2000, n),
                              "plan_year": rng.integers(2021, 2026, n)}, geometry=geoms, crs=4490)
    pyogrio.write_dataframe(frame, path, layer="areas", driver="GPKG")


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--n", type=int, default=100_000)
    parser.add_argument("--repeat", type=int, default=3)
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        tmp = Path(tmp)
        src = tmp / "input.gpkg"
        make_input(src, args.n)
        counter = iter(range(1000))

        def bare():
            frame = pyogrio.read_dataframe(src)
            pyogrio.write_dataframe(frame, tmp / f"bare{next(counter)}.gpkg", layer="areas", driver="GPKG")

        def ours():
            store = GeoPackageStore(tmp / f"store{next(counter)}.gpkg")
            import_file(store, src, layer="renewal_areas")

        t_bare = best_of(bare, args.repeat)
        t_ours = best_of(ours, args.repeat)
    peak = peak_mb()
    print(f"bench_io: {args.n:,} polygons (best of {args.repeat})")
    print(f"  baseline  pyogrio read + GPKG write : {t_bare:6.2f} s")
    print(f"  ours      renewal import (validated): {t_ours:6.2f} s  ({args.n / t_ours:,.0f} features/s)")
    print(f"  ratio     ours / baseline           : {t_ours / t_bare:6.2f}x  (aim <= 2x)")
    print(f"  peak RSS                            : {peak:6.0f} MB")


if __name__ == "__main__":
    main()
