"""Warm a server worker as it starts, so that the first planner to open the overview does not
wait for what every page load needs: the static files compressed, the overview's small layers
read (with their R-trees) and the answers it writes into the page encoded, and the app's own
first-request costs paid (Starlette builds its middleware stack on the first request; the
first pages through a fresh worker took 45–90 ms against 2–16 ms after).

Each worker process has its own caches (``renewal serve`` runs one per core): before this, the
first page load met a cold worker and so did, at random, the next ones (1,000 parcels, first
parcel drawn: 0.65 s cold against 0.41 s warm). The overview is asked for through the app
itself, in this process: the same code paths as a browser's request, no network.
"""

from __future__ import annotations

__all__ = ["start_warming", "warm", "corner_tiles"]

import asyncio
import gc
import gzip
import json
import logging
import threading
import time
import urllib.parse
from typing import TYPE_CHECKING

from gis.errors import RenewalError
from maps.assets import (
    BASE_SCRIPTS,
    BASE_STYLES,
    STATIC_ROOT,
    TILE_SCRIPTS,
    bundle_url,
    load_asset,
    load_bundle,
)

if TYPE_CHECKING:
    from layers.backends.base import LayerInfo, LayerStore

log = logging.getLogger("renewal.warm")


def warm(app) -> dict[str, float]:
    """Fill this process's caches for the overview; seconds per step (for the log and tests).
    A store without renewal areas (nothing to show yet) warms only the static files."""
    from api.routes.maps import TILED_FEATURES
    from layers.mvt import MAX_ZOOM, min_zoom

    store, took = app.state.store, {}
    start = time.perf_counter()
    for path in sorted(p for p in STATIC_ROOT.rglob("*") if p.is_file()):
        load_asset(str(path.relative_to(STATIC_ROOT)))
    for files in (BASE_SCRIPTS, BASE_STYLES, TILE_SCRIPTS):
        load_bundle(files)
    took["static"] = time.perf_counter() - start
    pages = [(bundle_url(BASE_SCRIPTS).split("?")[0], "")]
    parcels = shown = None
    if store.has_kind("renewal_areas"):
        pages.append(("/maps/overview", ""))
        if store.has_kind("parcels"):  # the parcels by view (a box of their own): the code paths, not the answer
            parcels = store.info(store.find_kind("parcels"))
            shown = ("/maps/overview", f"show=parcels&zoom={max(13, min_zoom(parcels.feature_count))}")
            pages.append(shown)
            if parcels.feature_count > TILED_FEATURES:  # drawn from tiles: one far off the layer (empty)
                pages.append((f"/collections/{parcels.name}/tiles/WebMercatorQuad/{MAX_ZOOM}/0/0", ""))
    bodies = {}
    for path, query in pages:
        bodies[path, query] = _timed_get(app, path, query, took)
    if parcels is not None and parcels.feature_count <= TILED_FEATURES:
        # Asked for by view: one feature of a box with the page's query reads the layer (the
        # GeoPackage keeps it whole, with its R-tree; PostGIS warms its connection and buffers)
        # and writes its features' texts for every box after it (api.map_data).
        box = ",".join(f"{v:.6f}" for v in store.read_cached(store.find_kind("renewal_areas")).total_bounds)
        query = _layer_query(bodies[shown], "parcels", limit=1)
        _timed_get(app, f"/maps/data/{parcels.name}", f"{query}&bbox={box}", took)
    if any("/tiles/" in path for path, _ in pages):
        start = time.perf_counter()
        corner_tiles(store, parcels)
        took["tile encoder"] = time.perf_counter() - start
    return took


def corner_tiles(store: LayerStore, info: LayerInfo) -> int:
    """Encode, and drop, up to three tiles at the south-west corner of big layer ``info``
    (bytes encoded): the tile above may come from the tile folder (another worker made it),
    and a process's first encodings of tiles with features ran slow (500k parcels, zoom 14,
    five fresh processes: 16, 10 and 9 ms, then 7). The layer's corner, not the areas' centre
    a page opens on: this warms the code, it keeps no tile a page asks for."""
    from layers.mvt import TMS, min_zoom

    bounds = store.bounds(info.name)
    if bounds is None:
        return 0
    z = max(min_zoom(info.feature_count), 14)  # lower, a small layer's parcels are below a pixel
    corner = TMS.tile(bounds[0], bounds[1], z)
    encoded = 0
    for x, y in ((corner.x, corner.y), (corner.x + 1, corner.y), (corner.x, corner.y - 1)):  # east, north
        if 0 <= x < 2**z and 0 <= y < 2**z:
            encoded += len(store._encode_tile(info.name, z, x, y))
    return encoded


def _timed_get(app, path: str, query: str, took: dict[str, float]) -> bytes:
    """The body of ``path?query`` (empty unless it answered 200); its time goes in ``took``."""
    start = time.perf_counter()
    status, body = asyncio.run(_get(app, path, query))
    took[f"{path}?{query}" if query else path] = time.perf_counter() - start
    if status != 200:
        log.info("warming: %s?%s answered %s", path, query, status)
        return b""
    return body


def _layer_query(page: bytes, layer: str, **override) -> str:
    """The ``/maps/data`` query the map ``page`` makes for ``layer`` (its config, maps.builders),
    with ``override``; the bare ``override`` when the page has no such layer."""
    query = {}
    if b"var RENEWAL_CONFIG = " in page:
        config = json.loads(page.split(b"var RENEWAL_CONFIG = ", 1)[1].split(b";\n", 1)[0]
                            .replace(b"<\\/", b"</").replace(b"<\\!--", b"<!--"))
        spec = next((s for s in config.get("layers", []) if s.get("id") == layer and s.get("query")), None)
        query = dict(urllib.parse.parse_qsl(spec["query"])) if spec else {}
    return urllib.parse.urlencode({**query, **override}, safe=",")


async def _get(app, path: str, query: str) -> tuple[int, bytes]:
    """GET ``path?query`` through the ASGI app in this process; the status and the body (gzip
    undone)."""
    scope = {"type": "http", "asgi": {"version": "3.0"}, "http_version": "1.1", "method": "GET", "scheme": "http",
             "path": path, "raw_path": path.encode(), "query_string": query.encode(), "root_path": "",
             "headers": [(b"host", b"127.0.0.1"), (b"accept-encoding", b"gzip")],
             "client": ("127.0.0.1", 0), "server": ("127.0.0.1", 80)}
    asked, status, body, packed = [{"type": "http.request", "body": b"", "more_body": False}], [], [], []

    async def receive():
        if asked:
            return asked.pop()
        # Nobody leaves: a streamed answer (a page not kept yet) listens for a disconnect
        # while it renders, and stops rendering on one.
        await asyncio.Event().wait()

    async def send(message):
        if message["type"] == "http.response.start":
            status.append(message["status"])
            packed.extend(v for k, v in message.get("headers", []) if k.lower() == b"content-encoding")
        elif message["type"] == "http.response.body":
            body.append(message.get("body", b""))

    await app(scope, receive, send)
    data = b"".join(body)
    return (status[0] if status else 0), gzip.decompress(data) if b"gzip" in packed and data else data


def _run(app) -> None:
    try:
        took = warm(app)
    except (RenewalError, OSError) as ex:  # a store being rebuilt: the requests will say what is wrong
        log.warning("warming the caches stopped: %s", ex)
        app.state.warming = "stopped"
        return
    except Exception:  # a bug: logged, and the requests run cold
        log.exception("warming the caches failed")
        app.state.warming = "stopped"
        return
    log.info("caches warm: %s", ", ".join(f"{k} {v * 1000:.0f} ms" for k, v in took.items()))
    # What the worker holds from now on (libraries, the layers and answers just read) is left
    # out of the collector's full passes: one ran inside a request at random and took 60 ms
    # over ~190k objects (a 5,000-parcel answer on PostGIS: 36 -> 100 ms when it struck).
    gc.collect()
    gc.freeze()
    app.state.warming = "done"


def start_warming(app) -> threading.Thread:
    """:func:`warm` in a daemon thread (the worker answers requests meanwhile)."""
    app.state.warming = "running"
    thread = threading.Thread(target=_run, args=(app,), name="renewal-warm", daemon=True)
    thread.start()
    return thread
