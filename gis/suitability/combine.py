"""Combine criterion rasters into a suitability surface, tile by tile with windowed I/O.

Each criterion is a float32 GeoTIFF of raw values on one grid. For every window the raw
values are read, transformed to [0, 1], combined (weighted sum, weighted product or
minimum), multiplied by the penalty factor and set to NoData where excluded; the window
is written and the next one read, so memory stays proportional to the tile, not the grid.
"""

from __future__ import annotations

__all__ = ["Criterion", "METHODS", "combine_rasters", "combine_arrays", "with_statistics"]

import os
import threading
from collections import deque
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, replace

import numpy as np
import rasterio
import rasterio.shutil
from rasterio.enums import Resampling
from rasterio.windows import Window

from gis.errors import InputError
from gis.suitability.grid import windows
from gis.suitability.gtiff import WindowReader, open_with_overview_levels
from gis.suitability.pyramid import OverviewPyramid, overview_factors
from gis.suitability.transforms import Transform, apply_transform

METHODS = ("weighted_sum", "weighted_product", "minimum")


@dataclass(frozen=True)
class Criterion:
    name: str
    path: str
    transform: Transform
    weight: float


def combine_arrays(values: list[np.ndarray], weights: list[float], method: str = "weighted_sum",
                   out: np.ndarray | None = None) -> np.ndarray:
    """Combine transformed (0–1) arrays. Weights are normalized to sum to 1.

    With ``out`` (a float32 array of the same shape) the result is written there and the
    ``values`` may be overwritten (the raster pipeline owns its window buffers); without it
    a new array is returned and the inputs are left untouched.

    Examples
    --------
    >>> a, b = np.array([1.0, 0.5], np.float32), np.array([0.0, 0.5], np.float32)
    >>> combine_arrays([a, b], [3, 1]).tolist()
    [0.75, 0.5]
    >>> combine_arrays([a, b], [1, 1], "minimum").tolist()
    [0.0, 0.5]
    """
    w = _normalized(weights, method, len(values)).astype(np.float32)
    consume = out is not None
    if method == "weighted_sum":
        out = np.multiply(values[0], w[0], out=out)
        for v, wi in zip(values[1:], w[1:], strict=True):
            if consume:
                v *= wi
                out += v
            else:
                out += v * wi
        return out
    if method == "weighted_product":
        out = np.power(values[0], w[0], out=out)
        for v, wi in zip(values[1:], w[1:], strict=True):
            out *= np.power(v, wi, out=v if consume else None)
        return out
    if consume:
        np.copyto(out, values[0])
    else:
        out = values[0].copy()
    for v in values[1:]:
        np.minimum(out, v, out=out)
    return out


def _normalized(weights: list[float], method: str, n: int) -> np.ndarray:
    if method not in METHODS:
        raise InputError(f"unknown combination {method!r}; use one of {', '.join(METHODS)}")
    w = np.asarray(weights, dtype=np.float64)
    if n == 0 or n != len(w) or (w < 0).any() or w.sum() <= 0:
        raise InputError("need one non-negative weight per criterion, not all zero")
    return w / w.sum()


def combine_window(values: list[np.ndarray], criteria: list[Criterion], method: str = "weighted_sum", *,
                   factor: np.ndarray | None = None, reason: np.ndarray | None = None,
                   out: np.ndarray | None = None) -> np.ndarray:
    """The surface of one window from its raw float32 criterion values (transformed in place:
    they are consumed), the penalty ``factor`` and the exclusion ``reason`` (non-zero → NaN).
    The one arithmetic of :func:`combine_rasters` and of a cluster's workers, so both give
    the same bits."""
    weights = [c.weight for c in criteria]
    summed = method == "weighted_sum"
    scales = [float(w) for w in _normalized(weights, method, len(criteria))]
    # A weighted sum takes each weight inside the transform and only adds here.
    values = [apply_transform(raw, c.transform, out=raw, scale=w if summed else 1.0)
              for raw, c, w in zip(values, criteria, scales, strict=True)]
    out = np.empty(values[0].shape, np.float32) if out is None else out
    if summed:
        np.copyto(out, values[0])
        for v in values[1:]:
            out += v
    else:
        combine_arrays(values, weights, method, out=out)
    if factor is not None:
        out *= factor
    if reason is not None and reason.any():  # most windows exclude nothing
        np.copyto(out, np.float32(np.nan), where=reason > 0)
    return out


def combine_rasters(criteria: list[Criterion], out_path, *, method: str = "weighted_sum", reason_path=None,
                    factor_path=None, tile: int = 512, overviews: bool = True, compress: str | None = "ZSTD",
                    workers: int = 2, progress=None) -> str:
    """Write the suitability surface of ``criteria`` to ``out_path`` (float32 GeoTIFF, NaN NoData).

    ``reason_path`` (uint8, non-zero = excluded) and ``factor_path`` (float32 multiplier)
    are optional rasters on the same grid. Windows are read, transformed and combined by
    ``workers`` threads (GDAL reads and numpy kernels release the GIL; each thread opens
    its own dataset handles) and written in order by this one into a bounded set of window
    buffers. Average overviews (2–16) are taken from each window as
    it is computed (:mod:`gis.suitability.pyramid`) so map tiles at low zoom read little;
    grids whose sides are not multiples of the largest factor leave them to GDAL.

    ``compress``: ``"ZSTD"`` (level 1, floating-point predictor: ~4x smaller on real
    surfaces), ``"ZSTD_FAST"`` (no predictor: ~2.5x smaller, twice as fast to write) or None.
    A compressed surface is written uncompressed first and then copied with its overviews by
    GDAL, compressing on every core into a cloud-optimized layout (overviews first): faster
    than compressing window by window and rewriting the overview levels in place, and it
    needs the uncompressed size on disk for a moment.
    """
    if not criteria:
        raise InputError("no criteria to combine")
    weights = [c.weight for c in criteria]
    paths = [c.path for c in criteria]
    with rasterio.open(paths[0]) as first:
        width, height, transform = first.width, first.height, first.transform
        profile = first.profile.copy()
    for p in paths[1:] + [q for q in (reason_path, factor_path) if q]:
        with rasterio.open(p) as s:
            if (s.width, s.height, s.transform) != (width, height, transform):
                raise InputError(f"{p} is not on the grid of {paths[0]}; build criteria on one grid")
    criteria = [with_statistics(c) for c in criteria]
    factors, in_pass = _overview_plan(width, height, overviews)
    pyramid = OverviewPyramid(width, height, factors if in_pass else [])
    if in_pass and tile % pyramid.step:
        tile += pyramid.step - tile % pyramid.step
    n_windows = -(-width // tile) * -(-height // tile)
    job = _WindowJob(criteria, weights, method, reason_path, factor_path, tile, pyramid,
                     slots=min(2 * max(1, workers) + 1 + _AHEAD, n_windows + 1))
    try:
        with rasterio.Env(GDAL_NUM_THREADS="ALL_CPUS", GDAL_CACHEMAX=256), \
                ThreadPoolExecutor(max(1, workers)) as pool:
            # Windows are submitted first, so the workers compute while the writer creates the file.
            results = job.in_order(pool, windows(width, height, tile))
            return write_surface(results, out_path, profile, overviews=overviews, compress=compress,
                                 progress=progress, pyramid=pyramid)
    finally:
        job.close()


def _overview_plan(width: int, height: int, overviews: bool) -> tuple[list[int], bool]:
    """The overview factors of a surface, and whether they are averaged while it is written
    (sides multiples of the largest factor) rather than left to GDAL afterwards."""
    factors = overview_factors(width, height) if overviews else []
    return factors, bool(factors) and width % factors[-1] == 0 and height % factors[-1] == 0


def write_surface(blocks, out_path, profile: dict, *, overviews: bool = True, compress: str | None = "ZSTD",
                  progress=None, pyramid: OverviewPyramid | None = None) -> str:
    """Write ``(window, values)`` blocks of a surface (any order; windows aligned to 16
    cells) to ``out_path`` as :func:`combine_rasters` does: float32, NaN NoData, average
    overviews, compressed copy. ``pyramid``: the overview pyramid the blocks were already
    added to (else they are added here)."""
    width, height = profile["width"], profile["height"]
    profile = _output_profile(profile)
    copy_options = _compression(compress)
    factors, in_pass = _overview_plan(width, height, overviews)
    add_here = pyramid is None
    pyramid = pyramid or OverviewPyramid(width, height, factors if in_pass else [])
    tmp = f"{out_path}.part"
    raw = f"{out_path}.raw.part" if copy_options else tmp
    try:
        # A bounded block cache: GDAL's default (5% of RAM) would hold ~1 GB of read tiles
        # that are never read again.
        with rasterio.Env(GDAL_NUM_THREADS="ALL_CPUS", GDAL_CACHEMAX=256):
            dst = open_with_overview_levels(raw, profile, factors) if in_pass else rasterio.open(raw, "w", **profile)
            with dst:
                for done_window, out in blocks:
                    if add_here:
                        pyramid.add(done_window, out)
                    dst.write(out, 1, window=done_window)
                    if progress is not None:
                        progress.update(done_window.width * done_window.height)
                if factors and not in_pass:
                    dst.build_overviews(factors, Resampling.average)
                # Readers' convention (rio overview --ls) and a default-domain copy that
                # survives GDAL's CreateCopy.
                dst.update_tags(ns="rio_overview", resampling="average")
                dst.update_tags(OVERVIEW_RESAMPLING="average")
            for level, values in enumerate(pyramid.levels):
                with rasterio.open(raw, "r+", overview_level=level) as ov:
                    ov.write(values, 1)
            if copy_options:
                rasterio.shutil.copy(raw, tmp, driver="GTiff", COPY_SRC_OVERVIEWS="YES", **copy_options)
        os.replace(tmp, out_path)
    finally:
        for leftover in {tmp, raw}:
            if os.path.exists(leftover):
                os.remove(leftover)
    return str(out_path)


# Windows the workers may compute ahead of the writer (1 MB each at 512²): the writer's
# pace varies with the page cache's.
_AHEAD = 8


class _WindowJob:
    """Read, transform and combine one window into an output slot (and the overview pyramid).

    Output windows cycle through a fixed set of slots (all but the one being written may be
    in flight), so no fresh 1 MB arrays, and their page faults, are needed per window.
    Threads, not processes: numpy and GDAL release the GIL, and forked workers writing into
    shared memory measured no faster (2.0–2.1 s for both on the 10k × 10k bench).
    """

    def __init__(self, criteria, weights, method, reason_path, factor_path, tile, pyramid, slots):
        self.criteria, self.weights, self.method = criteria, weights, method
        self.paths = [c.path for c in criteria]
        self.reason_path, self.factor_path, self.tile = reason_path, factor_path, tile
        self.slots = np.empty((slots, tile * tile), np.float32)
        self.pyramid = pyramid
        self.local = threading.local()
        self.opened: list = []

    def _handles(self):
        local = self.local
        if not hasattr(local, "srcs"):  # each thread reads through its own handles
            local.srcs = [WindowReader(p, self.tile) for p in self.paths]
            local.reason = WindowReader(self.reason_path, self.tile) if self.reason_path else None
            local.factor = WindowReader(self.factor_path, self.tile) if self.factor_path else None
            local.raw = [np.empty(self.tile * self.tile, np.float32) for _ in self.paths]
            local.reason_raw = np.empty(self.tile * self.tile, np.uint8)
            local.factor_raw = np.empty(self.tile * self.tile, np.float32)
            self.opened.extend([*local.srcs, local.reason, local.factor])
        return local

    def compute(self, window: Window, slot: int) -> np.ndarray:
        local = self._handles()
        shape = (window.height, window.width)
        n = window.height * window.width
        out = self.slots[slot, :n].reshape(shape)
        # GDAL converts any other dtype to float32 as it reads.
        values = [src.read(window, buf[:n].reshape(shape)) for src, buf in zip(local.srcs, local.raw, strict=True)]
        factor = local.factor.read(window, local.factor_raw[:n].reshape(shape)) if local.factor else None
        reason = local.reason.read(window, local.reason_raw[:n].reshape(shape)) if local.reason else None
        combine_window(values, self.criteria, self.method, factor=factor, reason=reason, out=out)
        self.pyramid.add(window, out)
        return out

    def _submit(self, pool, window: Window, slot: int):
        return pool.submit(lambda: (self.compute(window, slot), slot))

    def in_order(self, pool, windows):
        """(window, values) in order; the values are valid until the next item is taken."""
        windows = iter(windows)
        free = list(range(len(self.slots)))
        pending: deque = deque()

        def refill():
            while free:
                window = next(windows, None)
                if window is None:
                    return
                slot = free.pop()
                pending.append((window, self._submit(pool, window, slot)))

        refill()

        def drain():
            held = None
            while pending:
                window, future = pending.popleft()
                _, slot = future.result()
                if held is not None:
                    free.append(held)
                held = slot
                refill()
                yield window, self.slots[slot, :window.height * window.width].reshape(window.height, window.width)

        return drain()

    def close(self) -> None:
        for handle in self.opened:
            if handle is not None:
                handle.close()


def _output_profile(profile: dict) -> dict:
    profile = {**profile, "dtype": "float32", "count": 1, "nodata": float("nan"), "tiled": True,
               "blockxsize": 512, "blockysize": 512, "BIGTIFF": "IF_SAFER"}
    for key in ("compress", "predictor", "zstd_level"):
        profile.pop(key, None)
    return profile


def _compression(compress: str | None) -> dict:
    """Creation options of the compressed copy (empty: keep the uncompressed file)."""
    if not compress:
        return {}
    common = {"TILED": "YES", "BLOCKXSIZE": 512, "BLOCKYSIZE": 512, "BIGTIFF": "IF_SAFER", "NUM_THREADS": "ALL_CPUS"}
    if compress in ("ZSTD", "ZSTD_FAST"):
        # Level 1: ~3x faster than the default level at nearly the same size on surfaces.
        return {**common, "COMPRESS": "ZSTD", "ZSTD_LEVEL": 1, "PREDICTOR": 3 if compress == "ZSTD" else 1}
    return {**common, "COMPRESS": compress, "PREDICTOR": 3 if compress in ("DEFLATE", "LZW") else 1}


def with_statistics(c: Criterion) -> Criterion:
    """``c`` with the whole raster's mean and standard deviation filled into an MSSmall/MSLarge
    transform that lacks them: taken per window (or per parcel) they would differ from
    window to window."""
    params = c.transform.params
    if c.transform.kind not in ("ms_small", "ms_large") or (params.get("mean") is not None
                                                             and params.get("std") is not None):
        return c
    with rasterio.Env(GDAL_PAM_ENABLED="NO"), rasterio.open(c.path) as src:  # no .aux.xml beside inputs
        stats = src.stats(indexes=1, approx=False)[0]
    filled = {"mean": stats.mean if params.get("mean") is None else params["mean"],
              "std": stats.std if params.get("std") is None else params["std"]}
    return replace(c, transform=Transform(c.transform.kind, {**params, **filled}))
