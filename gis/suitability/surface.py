"""Building a suitability surface: each criterion prepared once, evaluated window by window
on a grid, written as rasters, then combined (weights, transforms, method) into the surface.

The windows are independent: :func:`evaluate_window` is what a worker of a cluster runs on
its block of windows (:mod:`workflows.regions`), and :func:`build_surface` runs them in
order here; both write the same rasters.
"""

from __future__ import annotations

__all__ = ["SurfaceResult", "PreparedCriteria", "prepare_criteria", "evaluate_window", "evaluate_windows", "write_criteria",
           "finish_surface", "build_surface", "criteria_key", "recombine", "surface_grid", "OUTSIDE_CODE"]

import os
from collections.abc import Iterable, Iterator
from concurrent.futures import ThreadPoolExecutor
from contextlib import ExitStack
from dataclasses import dataclass, field
from pathlib import Path

import geopandas as gpd
import numpy as np
import rasterio
from rasterio import features
from rasterio.windows import Window

from gis.crs import metric_crs
from gis.errors import InputError
from gis.gridsnap import snap_grid
from gis.network import WalkNetwork
from gis.suitability import criteria as crit
from gis.suitability.combine import Criterion, combine_rasters, with_statistics
from gis.suitability.grid import Grid
from gis.suitability.model import MAIN_ROAD_CLASSES, CriterionSpec, SuitabilitySpec, default_spec

#: NoData reason code of cells outside a region's outline (constraint codes are 1–6, 255).
OUTSIDE_CODE = 9


@dataclass
class SurfaceResult:
    grid: Grid
    surface_path: str
    criteria: list[Criterion]
    reason_path: str
    factor_path: str
    spec: SuitabilitySpec
    labels: dict[str, str] = field(default_factory=dict)


@dataclass
class PreparedCriteria:
    """Every criterion of a spec ready to evaluate on any window of ``grid``."""

    grid: Grid
    spec: SuitabilitySpec
    sources: list
    masks: crit.ConstraintMasks
    network: WalkNetwork | None
    outline: object = None  # cells outside it (grid CRS) are NoData, reason OUTSIDE_CODE

    @property
    def snaps(self) -> bool:
        return self.network is not None and any(isinstance(s, crit.PointDistance | crit.AreaDistance)
                                                for s in self.sources)


def prepare_criteria(spec: SuitabilitySpec, grid: Grid, stack: ExitStack, *, area=None, services=None, roads=None,
                     network: WalkNetwork | None = None, constraints=None, dem=None, outline=None
                     ) -> PreparedCriteria:
    """One Dijkstra per service category, k-d trees, the DEM handle…: what every window
    needs, built once. User rasters stay open on ``stack``."""
    sources = [_criterion_source(c, grid, area, services, roads, network, dem, stack) for c in spec.criteria]
    return PreparedCriteria(grid, spec, sources, crit.ConstraintMasks(constraints, grid.crs, spec.penalty), network,
                            outline)


def evaluate_window(prepared: PreparedCriteria, window: Window, cells=None
                    ) -> tuple[list[np.ndarray], np.ndarray, np.ndarray]:
    """The criteria, exclusion reasons and penalty factors of one window of the grid (the
    cells are snapped to the network once, for every criterion; ``cells`` if already done)."""
    sub = prepared.grid.window_grid(window)
    if cells is None:
        cells = _snapped_cells(prepared, window)
    values = [source.values(sub, cells) for source in prepared.sources]
    reason, factor = prepared.masks.at(sub)
    if prepared.outline is not None:
        inside = features.rasterize([(prepared.outline, 1)], out_shape=(sub.height, sub.width),
                                    transform=sub.transform, fill=0, dtype="uint8").astype(bool)
        reason[~inside & (reason == 0)] = OUTSIDE_CODE
    return values, reason, factor


def _snapped_cells(prepared: PreparedCriteria, window: Window):
    if not prepared.snaps:
        return None
    sub = prepared.grid.window_grid(window)
    return snap_grid(prepared.network, sub.transform, sub.width, sub.height)


def evaluate_windows(prepared: PreparedCriteria, windows: Iterable[Window]) -> Iterator[tuple]:
    """``(window, values, reason, factor)`` of each window, in order. The next window's cells
    are snapped in a second thread while this one's criteria are evaluated: both are numpy
    and GEOS work that releases the GIL, so the two overlap on two cores. (The criteria stay
    in this thread: a DEM handle must not be read from two threads.)"""
    windows = list(windows)
    if not windows:
        return
    with ThreadPoolExecutor(1, thread_name_prefix="snap") as pool:
        ahead = pool.submit(_snapped_cells, prepared, windows[0])
        for i, window in enumerate(windows):
            cells = ahead.result()
            if i + 1 < len(windows):
                ahead = pool.submit(_snapped_cells, prepared, windows[i + 1])
            yield (window, *evaluate_window(prepared, window, cells))


def write_criteria(grid: Grid, spec: SuitabilitySpec, out_dir: Path, blocks: Iterable, progress=None
                   ) -> tuple[list[Criterion], Path, Path]:
    """Write ``(window, values, reason, factor)`` blocks, in any order, into the criterion,
    reason and factor rasters of ``out_dir``."""
    built = [Criterion(c.name, str(out_dir / f"{c.name}.tif"), c.transform, c.weight) for c in spec.criteria]
    reason_path, factor_path = out_dir / "reason.tif", out_dir / "factor.tif"
    with ExitStack() as stack:
        dsts = [stack.enter_context(rasterio.open(c.path, "w", **grid.profile())) for c in built]
        reason_dst = stack.enter_context(rasterio.open(reason_path, "w", **grid.profile(dtype="uint8", nodata=None)))
        factor_dst = stack.enter_context(rasterio.open(factor_path, "w", **grid.profile()))
        for window, values, reason, factor in blocks:
            for dst, value in zip(dsts, values, strict=True):
                dst.write(value, 1, window=window)
            reason_dst.write(reason, 1, window=window)
            factor_dst.write(factor, 1, window=window)
            if progress is not None:
                progress.update(window.width * window.height)
    return built, reason_path, factor_path


def finish_surface(grid: Grid, spec: SuitabilitySpec, built: list[Criterion], reason_path, factor_path, out_dir: Path,
                   progress=None) -> SurfaceResult:
    """Statistics of the whole criterion rasters, then the combined ``surface.tif``."""
    built = [with_statistics(c) for c in built]  # one mean/std for the surface and the parcels
    surface = combine_rasters(built, out_dir / "surface.tif", method=spec.method, reason_path=reason_path,
                              factor_path=factor_path, progress=progress)
    labels = {c.name: c.label_zh or c.name for c in spec.criteria}
    return SurfaceResult(grid, surface, built, str(reason_path), str(factor_path), spec, labels)


def build_surface(origin: gpd.GeoDataFrame, out_dir, *, services: gpd.GeoDataFrame | None = None,
                  roads: gpd.GeoDataFrame | None = None, network: WalkNetwork | None = None,
                  constraints: gpd.GeoDataFrame | None = None, dem=None,
                  spec: SuitabilitySpec | None = None, progress=None, tile: int = 512) -> SurfaceResult:
    """Build every criterion raster and the combined surface for sites around ``origin``.

    The grid covers the origin area buffered by ``spec.max_distance_m`` on its Gauss–Krüger
    plane. Rasters are written to ``out_dir`` (criteria as ``<name>.tif``, the surface as
    ``surface.tif``, exclusions as ``reason.tif``, penalties as ``factor.tif``).

    Each criterion is prepared once (one Dijkstra per service category) and evaluated
    window by window (``tile`` cells a side; grid cells are snapped to the network once per
    window for all criteria), so memory follows the window, not the grid. ``progress``
    (a tqdm-like object) is advanced by the cells of each window built and then of each
    window combined: 2 × the grid's cells in all (:func:`surface_grid` gives the grid first).
    """
    spec = spec or default_spec()
    out_dir = Path(out_dir)
    out_dir.mkdir(parents=True, exist_ok=True)
    crs = network.crs if network is not None else metric_crs(origin)
    grid = surface_grid(origin, spec, crs)
    with ExitStack() as stack:
        prepared = prepare_criteria(spec, grid, stack, area=origin.to_crs(crs), services=services, roads=roads,
                                    network=network, constraints=constraints, dem=dem)
        blocks = evaluate_windows(prepared, grid.windows(tile))
        built, reason_path, factor_path = write_criteria(grid, spec, out_dir, blocks, progress)
    return finish_surface(grid, spec, built, reason_path, factor_path, out_dir, progress)


def criteria_key(spec: SuitabilitySpec) -> tuple:
    """What a surface's criterion, exclusion and penalty rasters depend on in ``spec``: the
    criteria's names and sources and the grid. Weights, transforms and the method only change
    the combine, so surfaces whose specs share this key can share those rasters
    (:func:`recombine`)."""
    return (tuple((c.name, c.source) for c in spec.criteria), spec.resolution, spec.max_distance_m, spec.penalty)


def recombine(built: SurfaceResult, spec: SuitabilitySpec, out_dir, *, progress=None) -> SurfaceResult:
    """The surface of ``spec`` over the criterion rasters of ``built`` (same :func:`criteria_key`),
    written as ``surface.tif`` in ``out_dir``: a weight or transform changed in a form costs a
    combine (a fraction of a second per million cells), not a rebuild of every criterion."""
    if criteria_key(spec) != criteria_key(built.spec):
        raise InputError("recombine needs a spec with the same criteria, grid and penalty as the built surface")
    out_dir = Path(out_dir)
    out_dir.mkdir(parents=True, exist_ok=True)
    paths = {c.name: c.path for c in built.criteria}
    criteria = [with_statistics(Criterion(c.name, paths[c.name], c.transform, c.weight)) for c in spec.criteria]
    surface = combine_rasters(criteria, out_dir / "surface.tif", method=spec.method, reason_path=built.reason_path,
                              factor_path=built.factor_path, progress=progress)
    labels = {c.name: c.label_zh or c.name for c in spec.criteria}
    return SurfaceResult(built.grid, surface, criteria, built.reason_path, built.factor_path, spec, labels)


def surface_grid(origin: gpd.GeoDataFrame, spec: SuitabilitySpec, crs) -> Grid:
    """The grid :func:`build_surface` uses: the origin buffered by the spec's max distance."""
    return Grid.from_bounds(origin.to_crs(crs).buffer(spec.max_distance_m).total_bounds, spec.resolution, crs)


def _criterion_source(c: CriterionSpec, grid: Grid, area, services, roads, network, dem, stack: ExitStack):
    """The prepared evaluator of a criterion: ``.values(window_grid, snapped_cells)``; user
    rasters stay open on ``stack`` while the grid is built."""
    if c.source.startswith("service:"):
        category = c.source.split(":", 1)[1]
        if services is None:
            raise InputError(f"criterion {c.name!r} needs a services layer")
        pts = services[services.category == category]
        if len(pts) == 0:
            raise InputError(f"criterion {c.name!r}: no {category} in the services layer; drop it (weight 0)")
        return crit.PointDistance(pts, grid.crs, network)
    if c.source == "origin":
        return crit.AreaDistance(area, grid.crs, network)
    if c.source == "main_roads":
        if roads is None:
            raise InputError(f"criterion {c.name!r} needs a roads layer")
        main = roads[roads.get("road_class", "").isin(MAIN_ROAD_CLASSES)] if "road_class" in roads else roads
        return crit.LineDistance(main, grid.crs, grid.resolution)
    if c.source == "slope":
        if dem is None:
            raise InputError(f"criterion {c.name!r} needs a DEM; import one or drop slope (weight 0)")
        return crit.Slope(dem)
    if c.source.startswith("raster:"):
        path = c.source.split(":", 1)[1]
        if not os.path.exists(path):
            raise InputError(f"criterion {c.name!r}: raster {path} does not exist")
        return crit.RasterValues(stack.enter_context(rasterio.open(path)))
    raise InputError(f"criterion {c.name!r}: unknown source {c.source!r}")
