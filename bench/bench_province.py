"""Province scale: the services report of every renewal area and a county-wide suitability
surface, serially and on a Dask LocalCluster of 1 and 2 workers on this machine; then a
model of a Henan-sized run on k machines from the measured per-partition costs.

Prints, per run: time, areas/s or cells/s, peak memory (this process for the serial run,
each worker's for the cluster), the per-partition (task) cost from the scheduler's task
stream, the scheduler overhead (wall time not spent computing), and whether the answers
equal the serial run's. Aim (issue #17): >= 1.7x with 2 workers on 2 cores for the
services batch.

    python bench/bench_province.py [--cities 20] [--size full] [--workers 1,2] [--seed 0]
"""

from __future__ import annotations

import argparse
import os
import statistics
import tempfile
import threading
import time
from pathlib import Path

import numpy as np
import rasterio
from _common import peak_mb  # noqa: F401  (puts the repo on sys.path)

from gis.services import nearest_services
from layers.sample import build_province_store
from workflows.batch import services_batch
from workflows.cluster import dask_client
from workflows.inputs import analysis_inputs
from workflows.regions import SurfaceTarget, target_surface

# Henan: 17 prefecture-level cities + Jiyuan, ~167,000 km² (1.67 billion cells at 10 m). The
# number of renewal areas is not published as one figure; "tens of thousands" -> 30,000 assumed.
HENAN = {"cities": 18, "areas": 30_000, "cells": 1.67e9}


class WorkerMemory:
    """Peak RSS of each worker process, sampled every 50 ms while the run lasts (a forked
    worker's ``ru_maxrss`` starts from its parent's peak, so it cannot be asked afterwards)."""

    def __init__(self, client):
        import psutil

        self.procs = [psutil.Process(pid) for pid in client.run(os.getpid).values()]
        self.peak = [0] * len(self.procs)
        self.stop = threading.Event()
        self.thread = threading.Thread(target=self._sample, daemon=True)

    def _sample(self):
        while not self.stop.wait(0.05):
            for i, p in enumerate(self.procs):
                self.peak[i] = max(self.peak[i], p.memory_info().rss)

    def __enter__(self):
        self.thread.start()
        return self

    def __exit__(self, *exc):
        self.stop.set()
        self.thread.join()

    @property
    def mb(self) -> list[float]:
        return [v / 2**20 for v in self.peak]


def _task_costs(records, prefix: str) -> list[float]:
    costs = []
    for r in records:
        if str(r["key"]).startswith(prefix):
            costs += [s["stop"] - s["start"] for s in r["startstops"] if s["action"] == "compute"]
    return costs


def services_runs(store, workers: list[int]) -> dict:
    from distributed import get_task_stream

    t = time.perf_counter()
    inputs = analysis_inputs(store)
    serial = nearest_services(inputs.areas, inputs.services, network=inputs.network, standards=inputs.standards)
    out = {"serial": {"seconds": time.perf_counter() - t, "peak_mb": peak_mb(), "areas": len(inputs.areas)}}
    reference = serial.to_csv(index=False)
    for n in workers:
        t0 = time.perf_counter()
        with dask_client("local", workers=n) as client:
            started = time.perf_counter() - t0
            services_batch(store, client=client)  # warm: workers import the project once
            with get_task_stream(client) as stream, WorkerMemory(client) as memory:
                t = time.perf_counter()
                report = services_batch(store, client=client)
                wall = time.perf_counter() - t
            costs = _task_costs(stream.data, "services-")
            out[n] = {"seconds": wall, "startup": started, "peak_mb": memory.mb, "costs": costs,
                      "same": report.to_csv(index=False) == reference}
    return out


CITY = "合成01市"


def county_box(store, km2: float) -> tuple[float, float, float, float]:
    """A square of ``km2`` (an average Henan county is ~1,000 km²) centred on the first city,
    as W, S, E, N degrees."""
    import geopandas as gpd
    import shapely

    districts = store.read_cached(store.find_kind("districts"))
    city = districts[districts["city"] == CITY].to_crs(4547).geometry.union_all().centroid
    half = np.sqrt(km2) * 500
    square = shapely.segmentize(shapely.box(city.x - half, city.y - half, city.x + half, city.y + half), 500)
    return tuple(gpd.GeoSeries([square], crs=4547).to_crs(4490).total_bounds)


def surface_runs(store, workers: list[int], out: Path, km2: float) -> dict:
    from distributed import get_task_stream

    target = SurfaceTarget("bbox", county_box(store, km2))
    district = f"a {km2:,.0f} km² box around {CITY}"
    t = time.perf_counter()
    _, serial = target_surface(store, target, out / "serial")
    runs = {"serial": {"seconds": time.perf_counter() - t, "district": district,
                       "cells": serial.grid.width * serial.grid.height}}
    with rasterio.open(serial.surface_path) as src:
        reference = src.read(1)
    for n in workers:
        with dask_client("local", workers=n) as client:
            with get_task_stream(client) as stream, WorkerMemory(client) as memory:
                t = time.perf_counter()
                _, spread = target_surface(store, target, out / f"dask{n}", client=client)
                wall = time.perf_counter() - t
            with rasterio.open(spread.surface_path) as src:
                same = np.array_equal(src.read(1), reference, equal_nan=True)
            runs[n] = {"seconds": wall, "peak_mb": memory.mb, "same": same,
                       "costs": _task_costs(stream.data, "suitability-")}
    return runs


def _mb(values) -> str:
    return "/".join(f"{v:,.0f}" for v in values) + " MB"


def report(args, built_s: float, services: dict, surface: dict | None) -> None:
    areas = services["serial"]["areas"]
    s0 = services["serial"]["seconds"]
    print(f"bench_province: {args.cities} synthetic cities ({args.size}), {areas:,} renewal areas; built in "
          f"{built_s:.1f} s")
    print(f"  services, serial (one call, whole network)   : {s0:7.1f} s  {areas / s0:7.1f} areas/s  "
          f"peak {services['serial']['peak_mb']:,.0f} MB")
    for n in args.workers:
        r = services[n]
        c = r["costs"]
        overhead = r["seconds"] - sum(c) / n
        print(f"  services, LocalCluster {n} worker(s)          : {r['seconds']:7.1f} s  {areas / r['seconds']:7.1f} "
              f"areas/s  {s0 / r['seconds']:4.2f}x serial  workers' peak {_mb(r['peak_mb'])}  same rows: {r['same']}")
        print(f"      {len(c)} partitions: cost median {statistics.median(c):.2f} s, max {max(c):.2f} s, sum "
              f"{sum(c):.1f} s; scheduler + transfer overhead {overhead:.2f} s; cluster start {r['startup']:.1f} s")
    if len(args.workers) > 1:
        one, two = services[args.workers[0]]["seconds"], services[args.workers[-1]]["seconds"]
        print(f"  scaling {args.workers[0]} -> {args.workers[-1]} workers: {one / two:.2f}x (aim >= 1.7x with 2 "
              f"workers on 2 cores; vs serial {s0 / two:.2f}x)")
    if surface:
        cells = surface["serial"]["cells"]
        t0 = surface["serial"]["seconds"]
        print(f"  suitability over {surface['serial']['district']} ({cells / 1e6:.1f} M cells at 10 m), serial: "
              f"{t0:6.1f} s  {cells / t0 / 1e6:5.2f} M cells/s")
        for n in args.workers:
            r = surface[n]
            print(f"  suitability, LocalCluster {n} worker(s): {r['seconds']:6.1f} s  {cells / r['seconds'] / 1e6:5.2f} "
                  f"M cells/s  {t0 / r['seconds']:4.2f}x serial  {len(r['costs'])} blocks, median "
                  f"{statistics.median(r['costs']):.2f} s  workers' peak {_mb(r['peak_mb'])}  same raster: {r['same']}")
    projection(services, surface, args)


def projection(services: dict, surface: dict | None, args) -> None:
    """Henan on k machines of c cores: partitions spread evenly; a run costs the work divided
    by the workers, plus the measured scheduler overhead per task, plus one partition (the
    last one to finish)."""
    n = max(args.workers)
    r = services[n]
    per_area = sum(r["costs"]) / services["serial"]["areas"]
    per_task_overhead = max(0.0, r["seconds"] - sum(r["costs"]) / n) / len(r["costs"])
    tasks = HENAN["areas"] / (services["serial"]["areas"] / len(r["costs"]))
    cell_rate = None
    if surface:
        cell_rate = surface["serial"]["cells"] / sum(surface[n]["costs"])  # cells per worker-second
    print(f"  model for Henan ({HENAN['cities']} cities, {HENAN['areas']:,} areas assumed, "
          f"{HENAN['cells'] / 1e9:.2f} billion cells at 10 m), from the measured {per_area * 1000:.0f} ms per area "
          f"and {per_task_overhead * 1000:.0f} ms scheduler overhead per task"
          + (f", {cell_rate / 1e6:.2f} M cells per worker-second:" if cell_rate else ":"))
    for machines, cores in ((1, 2), (4, 16), (16, 16), (64, 16)):
        w = machines * cores
        t_services = HENAN["areas"] * per_area / w + tasks * per_task_overhead / min(w, 8) + max(r["costs"])
        line = f"    {machines:3d} machine(s) × {cores:2d} cores: services {t_services / 60:7.1f} min"
        if cell_rate:
            line += f", suitability {HENAN['cells'] / cell_rate / w / 3600:7.2f} h"
        print(line)


def main() -> None:
    p = argparse.ArgumentParser()
    p.add_argument("--cities", type=int, default=20)
    p.add_argument("--size", choices=("small", "full"), default="full")
    p.add_argument("--workers", default="1,2", help="LocalCluster sizes to run, comma-separated")
    p.add_argument("--seed", type=int, default=0)
    p.add_argument("--no-surface", action="store_true", help="skip the county-wide suitability surface")
    p.add_argument("--county-km2", type=float, default=1000.0, help="the surface's square (default 1,000 km²)")
    args = p.parse_args()
    args.workers = [int(v) for v in args.workers.split(",")]
    with tempfile.TemporaryDirectory() as tmp:
        t = time.perf_counter()
        store = build_province_store(Path(tmp) / "province.gpkg", args.cities, seed=args.seed, size=args.size)
        built = time.perf_counter() - t
        services = services_runs(store, args.workers)
        surface = None if args.no_surface else surface_runs(store, args.workers, Path(tmp), args.county_km2)
        report(args, built, services, surface)


if __name__ == "__main__":
    main()
