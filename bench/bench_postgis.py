"""A 1M-parcel layer in the GeoPackage store and in PostGIS: 1-feature edits and items in a box.

A parcels layer of ``--n`` small rectangles (seeded, EPSG:4490, spread around 113.2°E 35.2°N
over an area that grows with n, so a box holds about as many parcels whatever n is) is
imported with ``import_frame`` into a fresh GeoPackage store and into a fresh PostGIS
database (a throwaway PostgreSQL 15 cluster, tests/helpers/pg.py). On each backend:

- **edits** (in this process): a 1-feature update as the API's PUT does it — validate one
  feature, ``store.feature_etag``, ``store.update_feature(..., if_match=etag)`` — median and
  p95 of ``--repeat`` (different fids), with each step's median; an insert of 1 feature
  (validate + ``insert_features``) and a delete of 1 feature (etag + ``delete_features``).
  Every edit is read back outside the store (GDAL for the GeoPackage, SQL for PostGIS): the
  values, the geometry and the feature count (metadata and table). The ``COUNT(*)`` every
  edit runs on the whole table (the metadata's feature count) is timed on its own.
- **items with bbox** through HTTP: ``renewal serve --workers 1`` (``tests.conftest.serve``)
  on the store, ``GET /collections/parcels/items?bbox=…&limit=100`` for ``--requests`` random
  boxes about 300 m wide inside the layer, one client: p50/p95 and features per answer
  (numberMatched checked against the box filtered in memory); the first request after the
  server started (cold: the GeoPackage backend reads the whole layer once per version and
  builds its R-tree; PostGIS opens its pool) and the first after an edit, separately.

Baseline in the same run, on each backend: the query without pushdown, as the items
endpoint worked before ``LayerStore.query`` — ``store.read("parcels")`` (the whole layer),
its R-tree, the box, the first 100 — median of ``--baseline-repeat``. Before ``query()``
the endpoint did this once per layer version and then cut pages from the cached frame; that
warm in-memory filter (no HTTP) is printed beside it.

Aims (issue #16): a 1-feature edit <= 50 ms and items p50 <= 30 ms on 1M parcels.

    python bench/bench_postgis.py [--n 1000000] [--repeat 20] [--requests 200] [--baseline-repeat 3]

``--n 20000`` is a quick check (about 30 s); the 1M run takes about 3 minutes and 3.3 GB.
"""

from __future__ import annotations

import argparse
import contextlib
import math
import os
import statistics
import sys
import tempfile
import time
from pathlib import Path

import _common  # noqa: E402, F401  (puts the repo root on sys.path)
import geopandas as gpd
import httpx
import numpy as np
import psycopg
import pyogrio
import shapely
from _common import peak_mb, percentile_ms

from layers import gpkg_sql
from layers.imports import import_frame
from layers.schemas import VOCABULARIES
from layers.store import open_store
from layers.validate import validate_layer
from tests.conftest import serve  # noqa: E402
from tests.helpers.pg import postgis_cluster

LAYER = "parcels"
KIND = "parcels"
CENTRE = (113.2, 35.2)
#: 1M parcels cover about 100 km × 100 km (1° of longitude is 91 km at 35.2°N).
DEG_PER_M_X, DEG_PER_M_Y = 1 / 90_900, 1 / 111_000
BOX_M = 300
LIMIT = 100
AIM_EDIT_MS, AIM_ITEMS_MS = 50, 30
STATUSES = sorted(VOCABULARIES["land_status"])


def note(text: str) -> None:
    """Progress on stderr (the figures go to stdout at the end)."""
    print(f"  … {text}", file=sys.stderr, flush=True)


def layer_bounds(n: int) -> tuple[float, float, float, float]:
    """About 100 m × 100 m of ground per parcel, around CENTRE."""
    half = 100 * math.sqrt(n) / 2
    cx, cy = CENTRE
    return cx - half * DEG_PER_M_X, cy - half * DEG_PER_M_Y, cx + half * DEG_PER_M_X, cy + half * DEG_PER_M_Y


def make_parcels(n: int, seed: int = 0) -> gpd.GeoDataFrame:
    """``n`` rectangles 35–90 m wide (seeded), uniformly over :func:`layer_bounds`."""
    rng = np.random.default_rng(seed)
    x0, y0, x1, y1 = layer_bounds(n)
    w = rng.uniform(35, 90, n) * DEG_PER_M_X
    h = rng.uniform(0.6, 1.0, n) * w * DEG_PER_M_Y / DEG_PER_M_X
    x = rng.uniform(x0, x1 - w)
    y = rng.uniform(y0, y1 - h)
    return gpd.GeoDataFrame({"name": [f"地块{i}" for i in range(n)], "land_status": rng.choice(STATUSES, n),
                             "max_far": np.round(rng.uniform(0.8, 4.0, n), 2)},
                            geometry=shapely.box(x, y, x + w, y + h), crs=4490)


def one_parcel(name: str, lon: float, lat: float, far: float) -> gpd.GeoDataFrame:
    return gpd.GeoDataFrame({"name": [name], "land_status": ["state_idle"], "max_far": [far]},
                            geometry=[shapely.box(lon, lat, lon + 60 * DEG_PER_M_X, lat + 45 * DEG_PER_M_Y)],
                            crs=4490)


def boxes(n: int, count: int, seed: int) -> list[tuple[float, float, float, float]]:
    """``count`` boxes about BOX_M wide, wholly inside the layer."""
    rng = np.random.default_rng(seed)
    x0, y0, x1, y1 = layer_bounds(n)
    w, h = BOX_M * DEG_PER_M_X, BOX_M * DEG_PER_M_Y
    xs, ys = rng.uniform(x0, x1 - w, count), rng.uniform(y0, y1 - h, count)
    return [(round(float(x), 6), round(float(y), 6), round(float(x + w), 6), round(float(y + h), 6))
            for x, y in zip(xs, ys, strict=True)]


# --- what each backend holds, read outside the store -----------------------------------------


class GpkgCheck:
    """The GeoPackage as GDAL and SQLite see it."""

    label = "GeoPackage"

    def __init__(self, path: Path):
        self.path = path

    def count(self) -> int:
        return pyogrio.read_info(self.path, layer=LAYER)["features"]

    def rows(self, fids: list[int]) -> dict[int, tuple]:
        where = f"fid IN ({','.join(str(int(f)) for f in fids)})"
        frame = pyogrio.read_dataframe(self.path, layer=LAYER, where=where, fid_as_index=True)
        return {int(fid): (r["name"], float(r["max_far"]), *r.geometry.bounds[:2]) for fid, r in frame.iterrows()}

    def time_count(self) -> float:
        with contextlib.closing(gpkg_sql.connect(self.path, readonly=True)) as con:
            t = time.perf_counter()
            con.execute(f'SELECT COUNT(*) FROM "{LAYER}"').fetchone()
            return time.perf_counter() - t

    def size(self) -> str:
        return f"file {self.path.stat().st_size / 2**20:.0f} MB (layer, R-tree, metadata)"


class PgCheck:
    """The PostGIS table as SQL sees it."""

    label = "PostGIS"

    def __init__(self, url: str):
        self.url = url

    def _one(self, query: str, params=()):
        with psycopg.connect(self.url) as con:
            return con.execute(query, params).fetchone()

    def count(self) -> int:
        return int(self._one(f"SELECT COUNT(*) FROM {LAYER}")[0])

    def rows(self, fids: list[int]) -> dict[int, tuple]:
        with psycopg.connect(self.url) as con:
            got = con.execute(f"SELECT fid, name, max_far, ST_XMin(geom), ST_YMin(geom) FROM {LAYER} "
                              "WHERE fid = ANY(%s)", ([int(f) for f in fids],)).fetchall()
        return {int(r[0]): (r[1], float(r[2]), float(r[3]), float(r[4])) for r in got}

    def time_count(self) -> float:
        with psycopg.connect(self.url) as con:
            t = time.perf_counter()
            con.execute(f"SELECT COUNT(*) FROM {LAYER}").fetchone()
            return time.perf_counter() - t

    def size(self) -> str:
        total, table, index = self._one(f"SELECT pg_total_relation_size('{LAYER}'), pg_table_size('{LAYER}'), "
                                        f"pg_indexes_size('{LAYER}')")
        return (f"pg_total_relation_size {total / 2**20:.0f} MB (table {table / 2**20:.0f} MB + "
                f"indexes {index / 2**20:.0f} MB)")


def server_peak_mb() -> float:
    """Peak resident memory (VmHWM) of the largest `renewal serve` process among our children."""
    peak = 0.0
    pending = [Path("/proc/self")]
    while pending:
        proc = pending.pop()
        for children in proc.glob("task/*/children"):
            with contextlib.suppress(OSError):
                for pid in children.read_text().split():
                    child = Path(f"/proc/{pid}")
                    pending.append(child)
                    with contextlib.suppress(OSError):
                        if b"renewal_cli.main" in (child / "cmdline").read_bytes():
                            for line in (child / "status").read_text().splitlines():
                                if line.startswith("VmHWM:"):
                                    peak = max(peak, int(line.split()[1]) / 1024)
    return peak


# --- the measurements --------------------------------------------------------------------------


def ms(times) -> float:
    return statistics.median(times) * 1000


def edits(store, check, n: int, repeat: int, rng: np.random.Generator) -> dict:
    """Update, insert and delete 1 feature, ``repeat`` times each; every one read back."""
    fids = [int(f) for f in rng.choice(np.arange(1, n + 1), repeat, replace=False)]
    parts = {"validate": [], "feature_etag": [], "update_feature": [], "update": []}
    expected = {}
    for i, fid in enumerate(fids):
        lon, lat, far = CENTRE[0] + i * 1e-3, CENTRE[1] + 1e-3, round(1.0 + i / 10, 2)
        t0 = time.perf_counter()
        layer = validate_layer(one_parcel(f"改名{i}", lon, lat, far), KIND)
        t1 = time.perf_counter()
        etag = store.feature_etag(LAYER, fid)
        t2 = time.perf_counter()
        store.update_feature(LAYER, fid, layer, who="bench", if_match=etag)
        t3 = time.perf_counter()
        for key, dt in (("validate", t1 - t0), ("feature_etag", t2 - t1), ("update_feature", t3 - t2),
                        ("update", t3 - t0)):
            parts[key].append(dt)
        expected[fid] = (f"改名{i}", far, lon, lat)
    _check_rows(check, expected)
    assert (store.info(LAYER).feature_count, check.count()) == (n, n), (store.info(LAYER).feature_count, check.count())

    t_insert, new = [], {}
    for i in range(repeat):
        lon, lat = CENTRE[0] - i * 1e-3, CENTRE[1] - 1e-3
        t = time.perf_counter()
        layer = validate_layer(one_parcel(f"新增{i}", lon, lat, 2.0), KIND)
        ids = store.insert_features(LAYER, layer, who="bench")
        t_insert.append(time.perf_counter() - t)
        new[ids[0]] = (f"新增{i}", 2.0, lon, lat)
    n += repeat
    assert len(new) == repeat and (store.info(LAYER).feature_count, check.count()) == (n, n)
    _check_rows(check, new)

    gone = [int(f) for f in rng.choice(np.setdiff1d(np.arange(1, n - repeat + 1), fids), repeat, replace=False)]
    t_delete = []
    for fid in gone:
        t = time.perf_counter()
        store.delete_features(LAYER, [fid], who="bench", if_match=store.feature_etag(LAYER, fid))
        t_delete.append(time.perf_counter() - t)
    n -= repeat
    assert (store.info(LAYER).feature_count, check.count()) == (n, n) and not check.rows(gone)
    count_times = [check.time_count() for _ in range(5)]
    return {"parts": parts, "insert": t_insert, "delete": t_delete, "count": count_times, "n": n}


def _check_rows(check, expected: dict[int, tuple]) -> None:
    back = check.rows(list(expected))
    assert set(back) == set(expected), (sorted(back), sorted(expected))
    for fid, (name, far, lon, lat) in expected.items():
        got = back[fid]
        assert got[:2] == (name, far) and abs(got[2] - lon) < 1e-9 and abs(got[3] - lat) < 1e-9, (fid, got)


def baseline(store, boxes_: list, repeat: int) -> dict:
    """The query without pushdown: read the whole layer, build its R-tree, filter the box, cut
    the page (median of ``repeat``); then the same filter on that frame for every box (warm)."""
    cold = []
    for i in range(repeat):
        t = time.perf_counter()
        frame = store.read(LAYER)
        hits = np.sort(frame.sindex.query(shapely.box(*boxes_[i]), predicate="intersects"))
        frame.iloc[hits].iloc[:LIMIT]
        cold.append(time.perf_counter() - t)
    warm, matched = [], []
    for box in boxes_:
        t = time.perf_counter()
        hits = np.sort(frame.sindex.query(shapely.box(*box), predicate="intersects"))
        frame.iloc[hits].iloc[:LIMIT]
        warm.append(time.perf_counter() - t)
        matched.append(len(hits))
    return {"cold": cold, "warm": warm, "matched": matched}


def items(location, store, boxes_: list, expected: list[int], n: int) -> dict:
    """The items endpoint with a box, through a live `renewal serve --workers 1`."""
    times, returned, matched = [], [], []
    with serve(location, workers=1) as base, httpx.Client(base_url=base, timeout=600) as client:
        def get(box):
            t = time.perf_counter()
            r = client.get(f"/collections/{LAYER}/items", params={"bbox": ",".join(map(str, box)), "limit": LIMIT})
            dt = time.perf_counter() - t
            assert r.status_code == 200, (r.status_code, r.text[:300])
            body = r.json()
            return dt, body["numberReturned"], body["numberMatched"]

        cold, *_ = get(boxes_[-1])
        for box in boxes_:
            dt, got, hits = get(box)
            times.append(dt)
            returned.append(got)
            matched.append(hits)
        # One more edit (from this process), then the next request: a new layer version.
        fid = int(n // 2)
        layer = validate_layer(one_parcel("编辑后", CENTRE[0], CENTRE[1], 1.5), KIND)
        store.update_feature(LAYER, fid, layer, who="bench", if_match=store.feature_etag(LAYER, fid))
        after_edit, *_ = get(boxes_[0])
        server_mb = server_peak_mb()
    bad = [(i, m, e) for i, (m, e) in enumerate(zip(matched, expected, strict=True)) if m != e]
    assert not bad, f"numberMatched differs from the box filtered in memory: {bad[:5]}"
    assert all(r == min(m, LIMIT) for r, m in zip(returned, matched, strict=True))
    return {"cold": cold, "times": times, "returned": returned, "after_edit": after_edit, "server_mb": server_mb}


def run_backend(label: str, store, location, check, frame, args, boxes_: list) -> dict:
    note(f"{label}: importing {args.n:,} parcels")
    t = time.perf_counter()
    import_frame(store, frame, layer=LAYER, source="bench", synthetic=True, who="bench")
    t_import = time.perf_counter() - t
    assert (store.info(LAYER).feature_count, check.count()) == (args.n, args.n)
    size = check.size()
    note(f"{label}: imported in {t_import:.1f} s; edits")
    ed = edits(store, check, args.n, args.repeat, np.random.default_rng(1))
    note(f"{label}: baseline (whole-layer read + filter)")
    base = baseline(store, boxes_, args.baseline_repeat)
    note(f"{label}: items through HTTP")
    it = items(location, store, boxes_, base["matched"], ed["n"])
    return {"label": label, "import": t_import, "size": size, "edits": ed, "base": base, "items": it,
            "rss": peak_mb()}


# --- the report --------------------------------------------------------------------------------


def report(args, results: list[dict]) -> None:
    verdicts = []
    for r in results:
        edit, p50 = ms(r["edits"]["parts"]["update"]), percentile_ms(r["items"]["times"], 50)
        verdicts.append(f"{r['label']}: edit {edit:.1f} ms {'met' if edit <= AIM_EDIT_MS else 'NOT met'}, "
                        f"items p50 {p50:.1f} ms {'met' if p50 <= AIM_ITEMS_MS else 'NOT met'}")
    print(f"bench_postgis: parcels layer of {args.n:,} rectangles (seeded, EPSG:4490, ~{BOX_M} m boxes); "
          f"edits median of {args.repeat}, items {args.requests} requests (1 client, --workers 1), "
          f"baseline median of {args.baseline_repeat}; aims: 1-feature edit <= {AIM_EDIT_MS} ms, "
          f"items p50 <= {AIM_ITEMS_MS} ms — {'; '.join(verdicts)}")
    for r in results:
        ed, it, base = r["edits"], r["items"], r["base"]
        parts = ed["parts"]
        print(f"  {r['label']}: import {r['import']:.1f} s; {r['size']}")
        print(f"    {'1-feature edit':50s} {'median ms':>10s} {'p95 ms':>8s}")
        for name, times in (("update (validate + etag + update_feature)", parts["update"]),
                            ("  validate one feature", parts["validate"]),
                            ("  store.feature_etag", parts["feature_etag"]),
                            ("  store.update_feature", parts["update_feature"]),
                            ("insert (validate + insert_features)", ed["insert"]),
                            ("delete (etag + delete_features)", ed["delete"]),
                            ("COUNT(*) of the table (edits ran one until 0b2dbb0)", ed["count"])):
            print(f"    {name:50s} {ms(times):10.1f} {percentile_ms(times, 95):8.1f}")
        per = np.asarray(it["returned"])
        p50 = percentile_ms(it["times"], 50)
        print(f"    items bbox (HTTP): p50 {p50:.1f} ms, p95 {percentile_ms(it['times'], 95):.1f} ms; "
              f"features per answer median {np.median(per):.0f} (min {per.min()}, max {per.max()}); "
              f"first request {it['cold'] * 1000:.0f} ms, first after an edit {it['after_edit'] * 1000:.0f} ms")
        b_cold, b_warm = ms(base["cold"]), percentile_ms(base["warm"], 50)
        print(f"    baseline (store.read whole layer + R-tree + box, no pushdown): {b_cold:.0f} ms "
              f"= {b_cold / p50:.0f}x ours p50; once cached per version, the box on the frame in memory "
              f"p50 {b_warm:.2f} ms (no HTTP)")
        print(f"    peak RSS: server {it['server_mb']:.0f} MB; bench process so far {r['rss']:.0f} MB")
    print("  checked: feature counts (metadata and GDAL / SQL) and edited values and geometries read back; "
          "numberMatched of every box = the box filtered in memory")
    print(f"  peak RSS of the bench process: {peak_mb():.0f} MB; load average (1 min) at start "
          f"{args.load_start:.1f}, at end {os.getloadavg()[0]:.1f} on {os.cpu_count()} cores")


def main() -> None:
    p = argparse.ArgumentParser()
    p.add_argument("--n", type=int, default=1_000_000)
    p.add_argument("--repeat", type=int, default=20, help="edits of each kind")
    p.add_argument("--requests", type=int, default=200, help="items requests (boxes) per backend")
    p.add_argument("--baseline-repeat", type=int, default=3)
    args = p.parse_args()
    args.load_start = os.getloadavg()[0]
    t = time.perf_counter()
    frame = make_parcels(args.n)
    note(f"built {args.n:,} parcels in {time.perf_counter() - t:.1f} s")
    boxes_ = boxes(args.n, args.requests, seed=2)
    results = []
    with tempfile.TemporaryDirectory() as tmp:
        path = Path(tmp) / "renewal.gpkg"
        results.append(run_backend("GeoPackage", open_store(path), path, GpkgCheck(path), frame, args, boxes_))
    note("starting a PostgreSQL 15 + PostGIS cluster")
    with postgis_cluster("renewal_bench") as url:
        results.append(run_backend("PostGIS", open_store(url), url, PgCheck(url), frame, args, boxes_))
    report(args, results)


if __name__ == "__main__":
    main()
