"""Suitability surfaces of an area, a whole district or a lon/lat box, built window by window
in this process or on a Dask cluster — the same rasters either way.

A cluster task gets the store's location, the target and a block of windows; the worker
opens the store, prepares the criteria once (the walking network and one Dijkstra per
category, kept per layer versions for the worker's next blocks) and returns the block's
criterion values. This process writes them into the criterion rasters and combines them
into one tiled GeoTIFF with overviews (the combine runs at tens of millions of cells per
second; the criteria are where the time goes).
"""

from __future__ import annotations

__all__ = ["SurfaceTarget", "parse_bbox", "target_surface", "surface_windows_task", "combines_by_window"]

import logging
import math
import threading
from contextlib import ExitStack
from dataclasses import dataclass, replace
from pathlib import Path

import geopandas as gpd
import shapely
from rasterio.windows import Window

from gis.crs import CGCS2000, CHINA_BOUNDS, metric_crs
from gis.errors import InputError, NotFoundError
from gis.network import build_network
from gis.suitability.combine import Criterion, combine_window, write_surface
from gis.suitability.grid import Grid
from gis.suitability.surface import (
    SurfaceResult,
    evaluate_windows,
    finish_surface,
    prepare_criteria,
    surface_grid,
    write_criteria,
)
from layers.store import LayerStore, layer_versions, open_store
from workflows.batch import SAFE_M, lonlat_box, store_plane
from workflows.cluster import run_partitions, store_location
from workflows.inputs import analysis_inputs, layers_by_kind, resolve_area
from workflows.sites import surface_spec

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class SurfaceTarget:
    """Where a surface is built: around an ``area`` (id or name), over a ``region`` (a
    district's name, or a city's: all its districts) or a ``bbox`` (W, S, E, N in CGCS2000
    degrees)."""

    kind: str
    key: object

    def __str__(self) -> str:
        return f"{self.kind} {self.key}"


def parse_bbox(text: str) -> tuple[float, float, float, float]:
    """``W,S,E,N`` in CGCS2000/WGS84 degrees, checked to lie in China in that order."""
    try:
        w, s, e, n = (float(v) for v in text.split(","))
    except ValueError:
        raise InputError(f"--bbox expects W,S,E,N in degrees, e.g. 113.1,35.1,113.4,35.3; got {text!r}") from None
    x0, y0, x1, y1 = CHINA_BOUNDS
    if not all(map(math.isfinite, (w, s, e, n))) or not (x0 <= w < e <= x1 and y0 <= s < n <= y1):
        swapped = x0 <= s <= x1 and y0 <= w <= y1
        raise InputError(f"--bbox {text}: give W,S,E,N with W < E and S < N, in China"
                         + (" (longitudes and latitudes swapped?)" if swapped else ""))
    return w, s, e, n


def _district(store: LayerStore, name: str):
    if not store.has_kind("districts"):
        raise NotFoundError("the store has no districts layer; import one or use --bbox")
    districts = store.read_cached(store.find_kind("districts"))
    exact = districts[districts["name"] == name]
    if not len(exact) and "city" in districts.columns and (districts["city"] == name).any():
        return districts[districts["city"] == name].dissolve()  # a whole city: all its districts
    found = exact if len(exact) else districts[districts["name"].str.contains(name, regex=False, na=False)]
    if len(found) != 1:
        some = ", ".join(found["name"].head(5)) if len(found) else ", ".join(districts["name"].head(8))
        raise NotFoundError(f"{'several' if len(found) else 'no'} district(s) match {name!r}: {some} …")
    return found


def _target_grid(store: LayerStore, target: SurfaceTarget, spec, crs):
    """(origin area or None, outline or None, grid) of a target on the plane ``crs``."""
    if target.kind == "area":
        origin = resolve_area(store.read_cached(store.find_kind("renewal_areas")), target.key)
        return origin, None, surface_grid(origin, spec, crs)
    if target.kind == "region":
        shape = _district(store, str(target.key)).to_crs(crs).geometry.union_all()
    elif target.kind == "bbox":
        box = shapely.segmentize(shapely.box(*target.key), 0.01)  # its edges curve on the GK plane
        shape = gpd.GeoSeries([box], crs=CGCS2000).to_crs(crs).iloc[0]
    else:
        raise InputError(f"unknown surface target {target.kind!r}")
    return None, shape, Grid.from_bounds(shape.bounds, spec.resolution, crs)


def _target_spec(store: LayerStore, target: SurfaceTarget, spec):
    spec = surface_spec(store, spec, None)
    if target.kind != "area" and any(c.source == "origin" for c in spec.criteria):
        # A district or a box has no origin area to stay near: the other weights are renormalized.
        spec = replace(spec, criteria=tuple(c for c in spec.criteria if c.source != "origin"))
        log.info("%s: criteria without 'origin' (no origin area): %s", target,
                 ", ".join(c.name for c in spec.criteria))
    if not spec.criteria:
        raise InputError(f"{target}: no criterion left to build a surface from")
    return spec


_PREPARED: dict = {}
_PREPARED_LOCK = threading.Lock()


def _prepared(location: str, target: SurfaceTarget, spec):
    """The target's criteria prepared on this process's copy of the store, kept (one at a
    time, per layer versions) for the next blocks of the same surface."""
    store = open_store(location)
    layers = layers_by_kind(store)
    key = (location, layer_versions(store, sorted(layers.values())), target, repr(spec))
    with _PREPARED_LOCK:
        held = _PREPARED.get("current")
        if held is not None and held[0] == key:
            return held[1]
        if held is not None:
            held[2].close()
            del _PREPARED["current"]
        stack = ExitStack()
        try:
            prepared = _prepare(store, layers, target, spec, stack)
        except BaseException:
            stack.close()
            raise
        _PREPARED["current"] = (key, prepared, stack)
        return prepared


def _prepare(store: LayerStore, layers: dict[str, str], target: SurfaceTarget, spec, stack: ExitStack):
    """An area's criteria are measured on the whole walking network (as :func:`area_surface`
    does); a district's or a box's on the roads and services within ``2 × SAFE_M`` of it —
    the whole province's network need not be held by every worker. Distances up to
    ``SAFE_M`` are exact there (see :mod:`workflows.batch`); beyond, the transforms' tails
    score them alike."""
    dem = stack.enter_context(store.read_raster(layers["dem"])) if "dem" in layers else None
    if target.kind == "area":
        inputs = analysis_inputs(store)
        crs = inputs.network.crs if inputs.network is not None else metric_crs(inputs.areas)
        origin, outline, grid = _target_grid(store, target, spec, crs)
        roads = store.read(layers["roads"]) if "roads" in layers else None
        constraints = store.read(layers["constraints"]) if "constraints" in layers else None
        return prepare_criteria(spec, grid, stack, area=origin.to_crs(crs), services=inputs.services, roads=roads,
                                network=inputs.network, constraints=constraints, dem=dem)
    _, outline, grid = _target_grid(store, target, spec, store_plane(store))
    box = lonlat_box(gpd.GeoDataFrame(geometry=[shapely.box(*grid.bounds)], crs=grid.crs), grid.crs, 2 * SAFE_M)

    def near(kind: str):
        return store.query(layers[kind], bbox=box)[0] if kind in layers else None

    roads = near("roads")
    network = build_network(roads, crs=grid.crs) if roads is not None and len(roads) else None
    return prepare_criteria(spec, grid, stack, services=near("services"), roads=roads, network=network,
                            constraints=near("constraints"), dem=dem, outline=outline)


def surface_windows_task(location: str, target: SurfaceTarget, spec, windows: list[tuple[int, int, int, int]],
                         combine: bool = False):
    """A cluster task: a block of windows' combined surface values (``combine``), else their
    criterion values, reasons and factors."""
    prepared = _prepared(location, target, spec)
    done = evaluate_windows(prepared, [Window(*w) for w in windows])
    if not combine:
        return [(tuple(w), *rest) for (_, *rest), w in zip(done, windows, strict=True)]
    criteria = [Criterion(c.name, "", c.transform, c.weight) for c in spec.criteria]
    return [(tuple(w), combine_window(values, criteria, spec.method, factor=factor, reason=reason))
            for (_, values, reason, factor), w in zip(done, windows, strict=True)]


def combines_by_window(spec) -> bool:
    """Whether every transform of ``spec`` is known per cell (mean/std-based ones need the
    whole criterion raster first): then workers combine their windows themselves and ship
    one band instead of one per criterion."""
    return all(c.transform.kind not in ("ms_small", "ms_large")
               or (c.transform.params.get("mean") is not None and c.transform.params.get("std") is not None)
               for c in spec.criteria)


def target_surface(store: LayerStore, target: SurfaceTarget, out_dir, *, spec=None, client=None, location=None,
                   tile: int = 512, windows_per_task: int | None = None, progress=None):
    """``(origin or None, SurfaceResult)``: the surface of ``target`` written under ``out_dir``,
    its windows evaluated here or, with a Dask ``client``, in blocks of ``windows_per_task`` on
    the cluster's workers (which open the store at ``location``, default this store's); by
    default about four blocks per worker, so that a slow block does not hold up the end.

    On a cluster the workers also combine their windows (:func:`combines_by_window`): only
    ``surface.tif`` is written then, and the result lists no criterion rasters."""
    location = location or store_location(store)
    spec = _target_spec(store, target, spec)
    out_dir = Path(out_dir)
    out_dir.mkdir(parents=True, exist_ok=True)
    if client is None:
        prepared = _prepared(location, target, spec)
        blocks, grid = evaluate_windows(prepared, prepared.grid.windows(tile)), prepared.grid
    else:
        grid = _driver_grid(store, target, spec)
        blocks = _cluster_blocks(client, location, target, spec, grid, tile, windows_per_task)
    combined = client is not None and combines_by_window(spec)
    bar = progress((1 if combined else 2) * grid.width * grid.height) if progress is not None else None
    try:
        if combined:
            path = write_surface(blocks, out_dir / "surface.tif", grid.profile(), progress=bar)
            surface = SurfaceResult(grid, path, [], "", "", spec, {c.name: c.label_zh or c.name for c in spec.criteria})
        else:
            built, reason_path, factor_path = write_criteria(grid, spec, out_dir, blocks, bar)
            surface = finish_surface(grid, spec, built, reason_path, factor_path, out_dir, bar)
    finally:
        if bar is not None:
            bar.close()
    origin = None
    if target.kind == "area":
        origin = resolve_area(store.read_cached(store.find_kind("renewal_areas")), target.key)
    return origin, surface


def _cluster_blocks(client, location, target, spec, grid: Grid, tile: int, windows_per_task: int | None):
    """The windows' blocks as the workers finish them: ``(window, surface)`` when they combine,
    else ``(window, values, reason, factor)``."""
    windows = [(int(w.col_off), int(w.row_off), int(w.width), int(w.height)) for w in grid.windows(tile)]
    per_task = windows_per_task or max(1, math.ceil(len(windows) / (4 * len(client.scheduler_info()["workers"]))))
    combine = combines_by_window(spec)
    parts = {f"windows {i}–{min(i + per_task, len(windows)) - 1}": (location, target, spec, windows[i:i + per_task],
                                                                   combine)
             for i in range(0, len(windows), per_task)}
    for _, done in run_partitions(client, surface_windows_task, parts, desc="suitability"):
        for w, *rest in done:
            yield (Window(*w), *rest)


def _driver_grid(store: LayerStore, target: SurfaceTarget, spec) -> Grid:
    """The grid, without preparing the criteria here (the workers do)."""
    return _target_grid(store, target, spec, store_plane(store))[2]
