"""API latency on the sample city: a live uvicorn (1 worker) on loopback, measured with
1, 2 and 4 concurrent clients; bounded request counts.

Prints p50/p95 latency and requests/s per endpoint. Aims (issue #5): items (limit 100)
p50 <= 30 ms and p95 <= 100 ms; nearby <= 100 ms; site selection <= 1 s. Map tiles (DEM and
a suitability surface, the 3 × 3 tiles around the centre at z12–14) have no aim; they were
110–390 ms each when warped per request.

    python bench/bench_api.py [--requests 60]
"""

from __future__ import annotations

import argparse
import tempfile
import time
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import _common  # noqa: E402, F401  (puts the repo root on sys.path)
import httpx
import numpy as np

from layers.sample import build_sample_store
from tests.conftest import serve  # noqa: E402


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


def main() -> None:
    p = argparse.ArgumentParser()
    p.add_argument("--requests", type=int, default=60)
    args = p.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        store = build_sample_store(Path(tmp) / "renewal.gpkg")
        with serve(store.path) as base:
            cases = [
                ("items limit=100", "GET", "/collections/services/items?limit=100", {}, args.requests),
                ("nearby 500 m", "GET", "/analysis/nearby?lon=113.17&lat=35.24&radius_m=500", {}, args.requests),
                ("services report", "GET", "/analysis/services/1", {}, max(10, args.requests // 3)),
                ("site selection", "POST", "/analysis/site-selection",
                 {"json": {"for": "西大井片区", "units": 1000, "require": "kindergarten:300"}}, max(6, args.requests // 6)),
            ]
            print(f"bench_api: sample city, 1 uvicorn worker, {base}")
            print(f"  {'endpoint':18s} {'clients':>7s} {'p50 ms':>8s} {'p95 ms':>8s} {'req/s':>7s}")
            with httpx.Client(base_url=base, timeout=120) as client:
                cases += [(f"{label} tiles z12-14", "GET", tile_urls(client, raster), {}, args.requests)
                          for label, raster in (("DEM", "dem"), ("surface", "suitability-西大井片区"))]
                for name, method, url, kw, n in cases:
                    for conc in (1, 2, 4):
                        m = measure(client, method, url, n, conc, **kw)
                        print(f"  {name:18s} {conc:7d} {m['p50']:8.1f} {m['p95']:8.1f} {m['rps']:7.1f}")
            print("  aims: items p50 <= 30 ms, p95 <= 100 ms; nearby <= 100 ms; site selection <= 1000 ms")


if __name__ == "__main__":
    main()
