"""A map page loaded in headless Chromium and timed by its own clock: the Chromium flags, the
script watching for drawn parcels, the page's resource timings, a server's warm-up, and this
machine's speed at the moment (bench_maps, bench_tile_edits)."""

from __future__ import annotations

import json
import os
import statistics
import time
import urllib.request

import _common  # noqa: F401  (puts the repo root on sys.path)
import geopandas as gpd
import numpy as np
import shapely

ARGS = ["--headless=new", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
        "--disable-background-networking", "--disable-component-update", "--disable-sync"]
#: A drawn parcel: an SVG path (GeoJSON, plain folium) or a drawn canvas tile of parcels (ours
#: from vector tiles: the tile says its layer and, once drawn, how many features it holds).
PARCEL = 'path[stroke="#2b8cbe"], canvas[data-layer="parcels"][data-features]:not([data-features="0"])'


#: In every page before its own scripts: when the first parcel and the last one were attached
#: or drawn (page time, taken before the scan; ours draws a layer's first hundred features, then
#: the rest a frame later), and room for every tile's resource timing.
WATCH_JS = """performance.setResourceTimingBufferSize(5000);
new MutationObserver(function (records) {
  var now = performance.now(), sel = SELECTOR;
  var hit = records.some(function (r) {
    if (r.type === "attributes") return r.target.matches(sel);
    return Array.prototype.some.call(r.addedNodes, function (n) {
      return n.nodeType === 1 && (n.matches(sel) || n.querySelector(sel) !== null);
    });
  });
  if (!hit) return;
  window.__lastParcel = now;
  if (!window.__firstParcel) window.__firstParcel = window.__lastParcel;
}).observe(document, {childList: true, subtree: true, attributes: true, attributeFilter: ["data-features"]});""".replace("SELECTOR", json.dumps(PARCEL))
#: The page's resource timings: [path, start, request sent, response end, Server-Timing].
TIMINGS_JS = """() => performance.getEntriesByType('resource').map(e => [
  e.name.replace(location.origin, ''), e.startTime, e.requestStart, e.responseEnd,
  (e.serverTiming || []).map(s => s.name + ' ' + Math.round(s.duration)).join(' + ')])"""


def ready(url: str) -> None:
    """Wait until every worker of the server (one per core) says its warm-up is over
    (``/health``; a new connection each time reaches one worker or another): "cold" is the
    first page after it. Before, a fixed 2 s after the first answer let a 10,000-parcel page
    meet a worker still warming (its texts written by the page's own request: 37–65 ms)."""
    workers, deadline = os.cpu_count() or 1, time.time() + 60
    done: set[int] = set()
    while time.time() < deadline:
        try:
            health = json.loads(urllib.request.urlopen(f"{url}/health", timeout=5).read())
            if health["warming"] in ("done", "stopped", "off"):
                done.add(health["worker"])
            if len(done) >= workers:
                break
        except OSError:
            pass
        time.sleep(0.05)
    time.sleep(0.3)


def measure(browser, url: str, timeout_s: float = 120) -> dict:
    """One load of ``url`` in a new context: time to the first drawn parcel, bytes on the wire
    until the network is idle, requests before the first parcel, tiles and data timings."""
    # The previous page's renderer shuts down after its close: a load started at once shared the
    # 2 cores with it (the page after plain folium's 0.6 MB was the slower one of a pair).
    time.sleep(0.2)
    page = browser.new_page(viewport={"width": 1200, "height": 800})
    page.add_init_script(WATCH_JS)
    finished = []
    # Sizes are asked for once the network is idle: asking in the handler is a round trip to
    # the browser per request while the page loads, on the path of a page with more requests.
    page.on("requestfinished", lambda request: finished.append(request))
    try:
        t = time.perf_counter()
        page.goto(url, timeout=timeout_s * 1000, wait_until="commit")
        page.wait_for_load_state("networkidle", timeout=timeout_s * 1000)
        page.wait_for_selector(PARCEL, state="attached", timeout=max(1.0, timeout_s - (time.perf_counter() - t)) * 1000)
        sizes = [r.sizes() for r in finished]  # bytes on the wire: compressed body + headers
        received = [s["responseBodySize"] + s["responseHeadersSize"] for s in sizes]
        at, view = page.evaluate("[window.__firstParcel, window.__lastParcel]")
        entries = page.evaluate(TIMINGS_JS)
    except Exception as ex:  # a page too big to open (plain folium with 500k parcels)
        page.close()
        return {"failed": f"{type(ex).__name__}: {str(ex).splitlines()[0][:80]}"}
    page.close()
    tiles = [e[3] - e[2] for e in entries if "/tiles/WebMercatorQuad/" in e[0]]
    # The server's share of each: the tile route's Server-Timing (kept or encoded).
    tile_server = [float(e[4].split()[1]) for e in entries if "/tiles/WebMercatorQuad/" in e[0] and e[4].startswith("tile ")]
    data = [e[4] for e in entries if e[0].startswith("/maps/data/parcels")]
    return {"first": at / 1000, "view": view / 1000, "bytes": sum(received), "before": sum(1 for e in entries if e[1] < at) + 1,
            "requests": len(entries) + 1, "tiles": tiles, "tile_server": tile_server, "data": data[0] if data else "",
            "tile_paths": [e[0] for e in entries if "/tiles/WebMercatorQuad/" in e[0]]}


def machine_speed(repeat: int = 60) -> float:
    """This machine's speed at the moment, in the unit the tiles' figures move with: the
    median ms of encoding one fixed zoom-14 tile of 425 parcels in this process (a 2-core VM
    here ran the same code 2× slower in some hours than in others: figures of different runs
    compare only through it)."""
    from layers.mvt import encode_tile, tile_bounds_lonlat

    x0, y0, x1, y1 = tile_bounds_lonlat(14, 13_341, 6_482, buffered=False)
    rng = np.random.default_rng(14)
    x, y = rng.uniform(x0, x1, 425), rng.uniform(y0, y1, 425)
    w = rng.uniform(35, 90, 425) / 90_900
    frame = gpd.GeoDataFrame({"id": np.arange(1, 426), "name": [f"地块{i}" for i in range(425)],
                              "land_status": "state_reserve", "max_far": 2.5, "area_mu": rng.uniform(2, 12, 425)},
                             geometry=shapely.box(x, y, x + w, y + w * 0.8), crs=4490)
    took = []
    for _ in range(repeat):
        t = time.perf_counter()
        encode_tile(frame, "parcels", 14, 13_341, 6_482)
        took.append((time.perf_counter() - t) * 1000)
    return statistics.median(took[repeat // 6:])  # the first runs warm the code


def pct(values, q):
    return f"{np.percentile(values, q):.0f}" if values else "—"
