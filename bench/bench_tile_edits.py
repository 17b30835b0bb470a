"""The overview's tiles after an edit (``layers.tile_edits``): what one edited parcel costs the
next planner who opens the map, on the GeoPackage and on PostGIS.

An office edits its parcels all day, and every map opened after an edit asks for its tiles
again. The store is ``bench_maps.build_store`` (the sample city and ``--n`` parcels laid over
a city, 500k by default); ``renewal serve`` runs on it (a worker per core), and the overview
(zoom 14 on the areas' centre, as bench_maps opens it) is loaded once in headless Chromium, so
the first view's tiles are encoded and kept. Then ``--rounds`` times each, interleaved:

- **ours**: one parcel of the view is moved 30 m (``store.update_feature``, as the API's PUT
  does), then the page is loaded in a new browser context;
- **baseline, every tile retired** (the cache keyed by the layer's version alone, as before
  ``layers.tile_edits``): the same edit, then the layer's tile versions emptied in the
  metadata row, so every tile is at the new version; then the page is loaded.

Printed per backend and kind: tiles encoded after the edit (files the tile folder gained),
of the tiles the page asked for; tile p50/p95 (request sent → response read, the page's
resource timings, as bench_maps); the page clock when the first view's last parcel was drawn.

    python bench/bench_tile_edits.py [--n 500000] [--backends gpkg,postgis] [--rounds 4]
"""

from __future__ import annotations

import argparse
import contextlib
import sqlite3
import statistics
import tempfile
import time
from pathlib import Path

import _common  # noqa: F401  (puts the repo root on sys.path)
import numpy as np
from _pages import ARGS, machine_speed, measure, ready
from bench_maps import build_store

from layers.backends.base import tile_folder
from layers.copy import copy_store
from layers.store import open_store
from layers.validate import validate_layer
from tests.conftest import serve
from tests.helpers.pg import create_database, postgis_cluster

PAGE = "/maps/overview?show=parcels&zoom=14"


def move_one_parcel(store, centre: tuple[float, float], k: int) -> int:
    """Move a parcel near ``centre`` 30 m east (``k``: which one, so rounds edit different
    parcels); its id."""
    x, y = centre
    page, _ = store.query("parcels", bbox=(x - 0.004, y - 0.003, x + 0.004, y + 0.003), limit=k + 1)
    row = page.iloc[[k]]
    moved = row.drop(columns="id").set_geometry(row.geometry.translate(xoff=30 / 90_900))
    store.update_feature("parcels", int(row.id.iloc[0]), validate_layer(moved, "parcels"), who="bench")
    return int(row.id.iloc[0])


def retire_every_tile(location) -> None:
    """The baseline: the layer's tile versions emptied, so every tile is at its version (what
    keying the cache by the layer's version alone did). Straight to the metadata row: no
    store call does this on purpose."""
    statement = "UPDATE renewal_layers SET tile_edits = NULL WHERE name = 'parcels'"
    if isinstance(location, Path):
        with contextlib.closing(sqlite3.connect(location)) as con:
            con.execute(statement)
            con.commit()
    else:
        import psycopg

        with psycopg.connect(location, autocommit=True) as con:
            con.execute(statement)


def kept_since(uri: str, since: float) -> int:
    """Tiles written to the store's tile folder after ``since`` (time.time())."""
    return sum(1 for p in Path(tile_folder(uri), "parcels").rglob("*.mvt.gz") if p.stat().st_mtime >= since)


def rounds(browser, location, centre, n_rounds: int) -> dict[str, list[dict]]:
    store = open_store(location)
    out: dict[str, list[dict]] = {"ours": [], "every tile retired": []}
    with serve(location) as url:
        ready(url)
        measure(browser, url + PAGE)  # the first view's tiles encoded and kept
        for k in range(n_rounds):
            for kind in (("ours", "every tile retired") if k % 2 == 0 else ("every tile retired", "ours")):
                since = time.time()
                time.sleep(0.01)  # file times have a coarse clock on some file systems
                move_one_parcel(store, centre, len(out["ours"]) + len(out["every tile retired"]))
                if kind != "ours":
                    retire_every_tile(location)
                r = measure(browser, url + PAGE)
                r["encoded"] = kept_since(store.uri, since)
                out[kind].append(r)
    return out


def report(backend: str, results: dict[str, list[dict]]) -> None:
    medians = {}
    for kind, runs in results.items():
        tiles = [t for r in runs for t in r["tiles"]]
        encoded = statistics.median(r["encoded"] for r in runs)
        asked = statistics.median(len(r["tiles"]) for r in runs)
        view = statistics.median(r["view"] for r in runs)
        p50, p95 = float(np.percentile(tiles, 50)), float(np.percentile(tiles, 95))
        medians[kind] = (encoded, p50, view)
        print(f"  {backend:8s} {kind:20s} {encoded:5.0f} of {asked:3.0f} {p50:8.0f} / {p95:4.0f} {view:9.2f}", flush=True)
    (ours_enc, ours_p50, ours_view), (base_enc, base_p50, base_view) = medians["ours"], medians["every tile retired"]
    print(f"  {backend:8s} ours against every tile retired: {base_enc / max(ours_enc, 1):.0f}x fewer tiles encoded, "
          f"tile p50 {base_p50 / max(ours_p50, 0.1):.1f}x lower, whole first view {base_view / ours_view:.2f}x sooner")


def main() -> None:
    from playwright.sync_api import sync_playwright

    p = argparse.ArgumentParser()
    p.add_argument("--n", type=int, default=500_000, help="parcels")
    p.add_argument("--backends", default="gpkg,postgis")
    p.add_argument("--rounds", type=int, default=4, help="edits and page loads of each kind")
    args = p.parse_args()
    backends = [b for b in args.backends.split(",") if b]
    with tempfile.TemporaryDirectory() as tmp, sync_playwright() as pw, contextlib.ExitStack() as stack:
        tmp = Path(tmp)
        browser = pw.chromium.launch(executable_path="/usr/bin/chromium", args=ARGS)
        store, _ = build_store(tmp, args.n)
        ax0, ay0, ax1, ay1 = store.read("renewal_areas").total_bounds
        centre = ((ax0 + ax1) / 2, (ay0 + ay1) / 2)
        print(f"bench_tile_edits: {args.n:,d} parcels, the overview at zoom 14 reloaded after one parcel in its "
              f"view was moved 30 m; medians of {args.rounds} edits each, interleaved")
        print(f"  machine speed: a fixed zoom-14 tile of 425 parcels encoded in {machine_speed():.2f} ms in process")
        print(f"  {'backend':8s} {'kind':20s} {'tiles encoded':>13s} {'p50 / p95 ms':>15s} {'view s':>9s}")
        for backend in backends:
            location = store.path
            if backend == "postgis":
                pg = stack.enter_context(postgis_cluster())
                location = create_database(pg, "tile_edits")
                copy_store(store, open_store(location))
            report(backend, rounds(browser, location, centre, args.rounds))
        browser.close()


if __name__ == "__main__":
    main()
