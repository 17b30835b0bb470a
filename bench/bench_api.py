"""API latency and load on the sample city: a live `renewal serve` on loopback.

**Latency** (bounded request counts): 1 uvicorn worker, 1, 2 and 4 concurrent clients; p50/p95
latency and requests/s per endpoint. Aims (issue #5): items (limit 100) p50 <= 30 ms and
p95 <= 100 ms; nearby <= 100 ms; site selection <= 1 s. Map tiles (DEM and a suitability
surface, the 3 × 3 tiles around the centre at z12–14) have no aim; they were 110–390 ms each
when warped per request.

**Load** (``--duration`` seconds per run, default 60): `renewal serve --workers 1` and then
``--workers 2``, each on a fresh copy of the sample store with an edit token. Each endpoint is
warmed once (the first services report builds the walking network) and then the read mix
for a few unmeasured seconds (each worker keeps its own caches). Two runs per server, closed
loop (each client sends its next request when the last is answered; the asyncio client
shares the 2 cores with the server):

- reads: 50 clients on an equal mix of items (limit 100), items in a bbox, nearby and a
  services report;
- edits: 20 clients, 30% edits (PUT of an existing services or renewal_areas feature with a
  changed name, POST of a new services feature; GeoJSON in CRS84), the rest the read mix.

Prints requests/s and p50/p95/p99 per kind, the non-2xx answers and connection errors (must be
none; each distinct one printed with its count), the server's exceptions, a check of the store
once the server stopped (SQLite integrity and R-tree checks; services rows = metadata = GDAL =
the sample's plus those POST created) and the throughput with 2 workers over 1. Aims: items
p95 <= 300 ms under load and >= 1.5× the throughput with 2 workers; with 30% edits >= 15 req/s.
Before (1 worker): 23 req/s, items p50 916 ms / p95 1.66 s, services report p50 4.3 s; with
30% edits 4.1 req/s.

    python bench/bench_api.py [--requests 60] [--duration 60] [--load | --no-load] [--logs DIR]

The default runs both (about 5–6 minutes); ``--load`` runs only the load runs, ``--no-load``
only the latency cases.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import copy
import json
import os
import random
import secrets
import shutil
import sqlite3
import tempfile
import time
from collections import defaultdict
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from urllib.parse import quote

import _common  # noqa: E402, F401  (puts the repo root on sys.path)
import httpx
import numpy as np
import pyogrio
from _common import percentile_ms
from _server import WorkerWatch, print_server_log, server

from layers.sample import build_sample_store
from layers.store import open_store

AREA = "西大井片区"
READS = {
    "items": "/collections/services/items?limit=100",
    "bbox items": "/collections/renewal_areas/items?bbox=113.15,35.20,113.25,35.26",
    "nearby": "/analysis/nearby?lon=113.17&lat=35.24&radius_m=1000",
    "services report": f"/analysis/services/{quote(AREA)}",
}
EDITS = ("PUT services", "PUT renewal_areas", "POST services")


# --- latency: bounded request counts, 1 worker ----------------------------------------------


def measure(client: httpx.Client, method: str, url: str | list[str], n: int, concurrency: int, **kw) -> dict:
    """Latency of ``n`` requests; a list of URLs (map tiles) is requested in turn."""
    urls = url if isinstance(url, list) else [url]

    def one(i):
        t = time.perf_counter()
        r = client.request(method, urls[i % len(urls)], **kw)
        assert r.status_code == 200, (url, r.status_code, r.text[:200])
        return time.perf_counter() - t

    client.request(method, urls[0], **kw)  # warm caches (network, surfaces, tile copies)
    t0 = time.perf_counter()
    with ThreadPoolExecutor(concurrency) as pool:
        times = np.array(list(pool.map(one, range(n))))
    wall = time.perf_counter() - t0
    return {"p50": np.percentile(times, 50) * 1000, "p95": np.percentile(times, 95) * 1000, "rps": n / wall}


def tile_urls(client: httpx.Client, raster: str) -> list[str]:
    """The 3 × 3 tiles around the raster's centre at zooms 12–14, as a map opening there asks."""
    import morecantile

    lon, lat = client.get(f"/rasters/{raster}/tilejson.json").json()["center"][:2]
    tms = morecantile.tms.get("WebMercatorQuad")
    urls = []
    for z in (12, 13, 14):
        t = tms.tile(lon, lat, z)
        urls += [f"/rasters/{raster}/tiles/{z}/{t.x + dx}/{t.y + dy}.png" for dx in (-1, 0, 1) for dy in (-1, 0, 1)]
    return urls


def latency_cases(store_path: Path, requests: int, logs: Path | None) -> None:
    with server(store_path, workers=1, log_dir=logs) as (base, err_path, _):
        cases = [
            ("items limit=100", "GET", "/collections/services/items?limit=100", {}, requests),
            ("nearby 500 m", "GET", "/analysis/nearby?lon=113.17&lat=35.24&radius_m=500", {}, requests),
            ("services report", "GET", "/analysis/services/1", {}, max(10, requests // 3)),
            ("site selection", "POST", "/analysis/site-selection",
             {"json": {"for": AREA, "units": 1000, "require": "kindergarten:300"}}, max(6, requests // 6)),
        ]
        print(f"bench_api: sample city, 1 uvicorn worker, {base}")
        print(f"  {'endpoint':18s} {'clients':>7s} {'p50 ms':>8s} {'p95 ms':>8s} {'req/s':>7s}")
        with httpx.Client(base_url=base, timeout=120) as client:
            cases += [(f"{label} tiles z12-14", "GET", tile_urls(client, raster), {}, requests)
                      for label, raster in (("DEM", "dem"), ("surface", "suitability-西大井片区"))]
            for name, method, url, kw, n in cases:
                for conc in (1, 2, 4):
                    m = measure(client, method, url, n, conc, **kw)
                    print(f"  {name:18s} {conc:7d} {m['p50']:8.1f} {m['p95']:8.1f} {m['rps']:7.1f}")
        print("  aims: items p50 <= 30 ms, p95 <= 100 ms; nearby <= 100 ms; site selection <= 1000 ms")
        print_server_log(err_path)


# --- load: many clients for a fixed time, 1 and 2 workers -----------------------------------


class Mix:
    """What a client sends next: a read of the mix, or (share ``edits``) a PUT or a POST."""

    def __init__(self, token: str, put_bodies: dict[str, list[tuple[int, dict]]], edits: float):
        self.auth = {"Authorization": f"Bearer {token}", "Content-Type": "application/geo+json"}
        self.put_bodies = put_bodies
        self.edits = edits
        self.serial = 0

    def next(self, rng: random.Random) -> tuple[str, str, str, bytes | None, dict | None]:
        """(kind, method, URL, body, headers)."""
        if rng.random() >= self.edits:
            kind = rng.choice(list(READS))
            return kind, "GET", READS[kind], None, None
        self.serial += 1
        kind = rng.choice(EDITS)
        if kind == "POST services":
            lon, lat = rng.uniform(113.15, 113.25), rng.uniform(35.20, 35.26)
            doc = {"type": "Feature", "geometry": {"type": "Point", "coordinates": [round(lon, 6), round(lat, 6)]},
                   "properties": {"name": f"压测新增{self.serial}", "category": rng.choice(["park", "kindergarten"]),
                                  "capacity": 60}}
            return kind, "POST", "/collections/services/items", json.dumps(doc).encode(), self.auth
        layer = kind.split()[1]
        fid, feature = rng.choice(self.put_bodies[layer])
        doc = copy.deepcopy(feature)
        doc["properties"]["name"] = f"{feature['properties']['name']}·改{self.serial}"
        return kind, "PUT", f"/collections/{layer}/items/{fid}", json.dumps(doc).encode(), self.auth


async def _run_clients(base: str, mix: Mix, clients: int, duration: float, seed: int) -> dict:
    """``clients`` closed-loop clients for ``duration`` s: latencies per kind, failures, wall time."""
    times: dict[str, list[float]] = defaultdict(list)
    failures: list[tuple[str, str]] = []
    created: list[int] = []
    # Idle connections expire (2 s) before uvicorn's keep-alive timeout (5 s) closes them, so the
    # client never reuses a connection the server is closing. A ReadError or "Server disconnected"
    # left is the server's: uvicorn closes the connection when an exception escaped the app (even
    # after Starlette sent its 500), or the worker holding it was killed.
    limits = httpx.Limits(max_connections=clients, max_keepalive_connections=clients, keepalive_expiry=2.0)
    async with httpx.AsyncClient(base_url=base, limits=limits, timeout=120) as client:
        t0 = time.perf_counter()
        deadline = t0 + duration

        async def one_client(i: int) -> None:
            rng = random.Random(seed * 1000 + i)
            while time.perf_counter() < deadline:
                kind, method, url, body, headers = mix.next(rng)
                t = time.perf_counter()
                try:
                    r = await client.request(method, url, content=body, headers=headers)
                    problem = None if 200 <= r.status_code < 300 else (str(r.status_code), r.text[:400])
                except httpx.HTTPError as ex:  # ReadError, RemoteProtocolError: the connection was closed
                    problem = (type(ex).__name__, str(ex) or "(no message)")
                times[kind].append(time.perf_counter() - t)
                if problem is None and method == "POST":
                    created.extend(r.json()["created"])
                if problem:
                    failures.append((f"{kind}: {method} {url} -> {problem[0]}", problem[1]))

        await asyncio.gather(*(one_client(i) for i in range(clients)))
        wall = time.perf_counter() - t0
    return {"times": dict(times), "failures": failures, "wall": wall, "created": created}


def run_load(base: str, mix: Mix, clients: int, duration: float, seed: int) -> dict:
    return asyncio.run(_run_clients(base, mix, clients, duration, seed))


def warm_up(base: str, token: str, clients: int, seconds: float) -> dict[str, list[tuple[int, dict]]]:
    """Each read once (timed), the features PUT will send back, and an unmeasured burst of the
    read mix so that every worker has built its caches."""
    with httpx.Client(base_url=base, timeout=120) as client:
        firsts = []
        for kind, url in READS.items():
            t = time.perf_counter()
            r = client.get(url)
            r.raise_for_status()
            firsts.append(f"{kind} {(time.perf_counter() - t) * 1000:.0f} ms")
        print(f"    first answers: {', '.join(firsts)}")
        bodies: dict[str, list[tuple[int, dict]]] = {}
        for layer, url in (("services", READS["items"] + "&properties=name"), ("renewal_areas", READS["bbox items"])):
            ids = [f["id"] for f in client.get(url).json()["features"]]
            pool = []
            for fid in ids[:20]:
                feature = client.get(f"/collections/{layer}/items/{fid}").raise_for_status().json()
                if feature["properties"].get("name") != AREA:  # the services report asks for it by name
                    pool.append((fid, {k: feature[k] for k in ("type", "geometry", "properties")}))
            bodies[layer] = pool
    burst = run_load(base, Mix(token, bodies, 0.0), clients, seconds, seed=99)
    if burst["failures"]:
        print(f"    warm-up burst: {len(burst['failures'])} non-2xx/errors")
        print_failures(burst["failures"], "      ")
    return bodies


def print_load(label: str, result: dict) -> float:
    """Print a run's figures; its throughput of 2xx answers (req/s)."""
    times, wall = result["times"], result["wall"]
    total = sum(len(t) for t in times.values())
    ok = total - len(result["failures"])
    print(f"    {label}: {total / wall:6.1f} req/s total, {ok / wall:.1f} 2xx/s ({total} requests in {wall:.1f} s), "
          f"non-2xx/errors: {len(result['failures'])}")
    print(f"      {'kind':18s} {'n':>6s} {'req/s':>7s} {'p50 ms':>8s} {'p95 ms':>8s} {'p99 ms':>8s}")
    for kind in [*READS, *EDITS]:
        t = times.get(kind, [])
        if t:
            print(f"      {kind:18s} {len(t):6d} {len(t) / wall:7.1f} {percentile_ms(t, 50):8.0f} "
                  f"{percentile_ms(t, 95):8.0f} {percentile_ms(t, 99):8.0f}")
    print_failures(result["failures"], "      ")
    return total / wall


def print_failures(failures: list[tuple[str, str]], indent: str) -> None:
    """Each distinct failed request and answer status, with its count and its first answer."""
    distinct: dict[str, list[str]] = defaultdict(list)
    for what, body in failures:
        distinct[what].append(body)
    for what, bodies in distinct.items():
        print(f"{indent}FAILED {len(bodies)} x {what}: {bodies[0]}")


def check_store(path: Path, services_expected: int) -> None:
    """After the server stopped: SQLite's integrity and R-tree checks, and the services count
    (rows, metadata, GDAL) against the sample's plus the features POST answered as created."""
    with contextlib.closing(sqlite3.connect(f"file:{path}?mode=ro", uri=True)) as con:
        integrity = "; ".join(r[0] for r in con.execute("PRAGMA integrity_check").fetchall()[:5])
        rtree = "; ".join(con.execute(f"SELECT rtreecheck('rtree_{t}_geom')").fetchone()[0]
                          for t in ("services", "renewal_areas"))
        rows = con.execute('SELECT COUNT(*) FROM "services"').fetchone()[0]
        meta = con.execute("SELECT feature_count FROM renewal_layers WHERE name = 'services'").fetchone()[0]
    gdal = pyogrio.read_info(path, layer="services")["features"]
    ok = integrity == "ok" and rtree == "ok; ok" and rows == meta == gdal == services_expected
    print(f"    store after the runs: {'ok' if ok else 'NOT OK'} (integrity_check: {integrity}; rtreecheck: {rtree}; "
          f"services rows {rows}, metadata {meta}, GDAL {gdal}, expected {services_expected})")


def load_cases(sample: Path, tmp: Path, duration: float, clients: int, edit_clients: int, edit_share: float,
               warmup: float, logs: Path | None) -> None:
    token = secrets.token_hex(16)
    print(f"bench_api load: sample city, {duration:.0f} s per run, closed-loop asyncio clients on the same "
          f"{os.cpu_count()} cores")
    rps: dict[tuple[str, int], float] = {}
    for workers in (1, 2):
        store_path = tmp / f"load-{workers}w" / "renewal.gpkg"
        store_path.parent.mkdir()
        shutil.copyfile(sample, store_path)
        services_before = open_store(store_path).info("services").feature_count
        with server(store_path, workers, {"RENEWAL_EDIT_TOKENS": f"bench:{token}"}, logs) as (base, err_path, proc), \
                WorkerWatch(proc.pid) as watch:
            print(f"  --workers {workers} ({base})")
            bodies = warm_up(base, token, clients, warmup)
            rps["reads", workers] = print_load(f"reads, {clients} clients", run_load(
                base, Mix(token, bodies, 0.0), clients, duration, seed=workers))
            edits = run_load(base, Mix(token, bodies, edit_share), edit_clients, duration, seed=10 + workers)
            rps["edits", workers] = print_load(f"{edit_share:.0%} edits, {edit_clients} clients", edits)
            print(f"    server processes: {len(watch.initial)} at start, {len(watch.seen - watch.initial)} new ones "
                  "started during the runs (a worker uvicorn's supervisor killed and replaced, e.g. after its "
                  "5 s health check went unanswered)")
        check_store(store_path, services_before + len(edits["created"]))
        print_server_log(err_path)
    print(f"  2xx throughput 2 workers / 1 worker: reads {rps['reads', 2] / rps['reads', 1]:.2f}x, "
          f"{edit_share:.0%} edits {rps['edits', 2] / rps['edits', 1]:.2f}x")
    print("  aims: items p95 <= 300 ms; >= 1.5x with 2 workers; with 30% edits >= 15 req/s; no non-2xx")
    print("  before (1 worker): 23 req/s; items p50 916 ms / p95 1660 ms; services report p50 4300 ms; "
          "30% edits 4.1 req/s")


def main() -> None:
    p = argparse.ArgumentParser()
    p.add_argument("--requests", type=int, default=60, help="requests per latency case")
    p.add_argument("--duration", type=float, default=60, help="seconds per load run")
    p.add_argument("--clients", type=int, default=50, help="clients of the read load run")
    p.add_argument("--edit-clients", type=int, default=20, help="clients of the load run with edits")
    p.add_argument("--edit-share", type=float, default=0.3, help="share of edits in that run")
    p.add_argument("--warmup", type=float, default=5, help="seconds of unmeasured read load before the runs")
    p.add_argument("--logs", type=Path, help="keep the servers' stdout/stderr in this folder")
    which = p.add_mutually_exclusive_group()
    which.add_argument("--load", action="store_true", help="only the load runs")
    which.add_argument("--no-load", action="store_true", help="only the latency cases")
    args = p.parse_args()
    if args.logs:
        args.logs.mkdir(parents=True, exist_ok=True)
    with tempfile.TemporaryDirectory() as tmp:
        tmp = Path(tmp)
        store = build_sample_store(tmp / "sample" / "renewal.gpkg")
        if not args.load:
            latency_cases(store.path, args.requests, args.logs)
        if not args.no_load:
            load_cases(store.path, tmp, args.duration, args.clients, args.edit_clients, args.edit_share,
                       args.warmup, args.logs)


if __name__ == "__main__":
    main()
