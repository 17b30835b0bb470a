"""Warm a server worker's caches in the background as it starts, so that the first planner to
open the overview does not wait for what every page load needs: the static files compressed,
the overview's small layers read (with their R-trees), the default overview rendered (which
encodes the answers it writes into the page).

Each worker process has its own caches (``renewal serve`` runs one per core): before this, the
first page load met a cold worker and so did, at random, the next ones (1,000 parcels, first
parcel drawn: 0.65 s cold against 0.41 s warm).
"""

from __future__ import annotations

__all__ = ["start_warming", "warm"]

import logging
import threading
import time

from gis.errors import RenewalError
from maps.assets import STATIC_ROOT, load_asset

log = logging.getLogger("renewal.warm")


def warm(store) -> dict[str, float]:
    """Fill this process's caches for the overview; seconds per step (for the log and tests).
    A store without renewal areas (nothing to show yet) warms only the static files."""
    from api.routes.maps import TILED_FEATURES, overview_html

    took: dict[str, float] = {}
    start = time.perf_counter()
    for path in sorted(p for p in STATIC_ROOT.rglob("*") if p.is_file()):
        load_asset(str(path.relative_to(STATIC_ROOT)))
    took["static"] = time.perf_counter() - start
    if not store.has_kind("renewal_areas"):
        return took
    for info in store.layers():  # what the overview draws as GeoJSON: read whole on first use anyway
        if info.kind in ("renewal_areas", "districts", "parcels") and info.is_vector \
                and info.feature_count <= TILED_FEATURES:
            start = time.perf_counter()
            store.read_cached(info.name)
            took[info.name] = time.perf_counter() - start
    start = time.perf_counter()
    overview_html(store)
    took["overview"] = time.perf_counter() - start
    return took


def _run(store) -> None:
    try:
        took = warm(store)
    except (RenewalError, OSError) as ex:  # a store being rebuilt: the requests will say what is wrong
        log.warning("warming the caches stopped: %s", ex)
        return
    log.info("caches warm: %s", ", ".join(f"{k} {v * 1000:.0f} ms" for k, v in took.items()))


def start_warming(store) -> threading.Thread:
    """:func:`warm` in a daemon thread (the worker answers requests meanwhile)."""
    thread = threading.Thread(target=_run, args=(store,), name="renewal-warm", daemon=True)
    thread.start()
    return thread
