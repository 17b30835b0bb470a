"""GeoTIFF shortcuts of the surface pipeline, each falling back to plain GDAL.

:class:`WindowReader` reads windows, taking whole uncompressed blocks straight from the
file; :func:`open_with_overview_levels` creates a GeoTIFF whose overview levels exist but
are empty, to be filled by the caller.

Reading blocks
--------------
The surface pipeline reads every cell of 5+ criterion rasters once, in windows that are
exactly the rasters' 512 × 512 blocks (both are written by :mod:`gis.suitability.model`
uncompressed and tiled). Through GDAL each block is copied twice: from the page cache into
GDAL's block cache, then into the caller's buffer, under the cache's lock. A ``pread`` of
the block into the caller's buffer copies once and measured 2x faster (0.21 s vs 0.45 s
for 2 GB). GDAL's own shortcuts did not help: ``GTIFF_DIRECT_IO`` measured no faster and
stopped two threads from scaling, ``GTIFF_VIRTUAL_MEM_IO`` mapped the files into the
process (2.5 GB resident). So the block's place in the file comes from GDAL (the ``TIFF``
metadata domain's ``BLOCK_OFFSET_x_y``) and only the copy is done here; anything else
(compressed, striped, other block sizes, big-endian, partial windows, sparse blocks,
another data type than asked for) is read through GDAL as before.
"""

from __future__ import annotations

__all__ = ["WindowReader", "open_with_overview_levels"]

import ctypes
import functools
import os
import re
import sys

import numpy as np
import rasterio
from rasterio.enums import Resampling
from rasterio.windows import Window


class WindowReader:
    """Band 1 of ``path``, read window by window into caller-owned buffers.

    One reader per thread: the GDAL handle is not shared, and ``pread`` has no file
    position to share.
    """

    def __init__(self, path, tile: int):
        self.src = rasterio.open(path)
        self.tile = tile
        self.fd: int | None = None
        self.dtype = np.dtype(self.src.dtypes[0])
        if _plain_blocks(self.src, tile):
            try:
                self.fd = os.open(path, os.O_RDONLY)
            except (OSError, TypeError):  # /vsi…, URLs: GDAL only
                self.fd = None
            if self.fd is not None and not _little_endian_tiff(self.fd):
                os.close(self.fd)
                self.fd = None

    def read(self, window: Window, out: np.ndarray) -> np.ndarray:
        """Fill ``out`` (C-contiguous, the window's shape, any dtype) with the window's values."""
        if (self.fd is not None and out.dtype == self.dtype and out.flags.c_contiguous
                and window.width == self.tile and window.height == self.tile
                and window.col_off % self.tile == 0 and window.row_off % self.tile == 0):
            bx, by = int(window.col_off) // self.tile, int(window.row_off) // self.tile
            offset = self.src.get_tag_item(f"BLOCK_OFFSET_{bx}_{by}", "TIFF", bidx=1)
            size = self.src.get_tag_item(f"BLOCK_SIZE_{bx}_{by}", "TIFF", bidx=1)
            # A sparse (never written) block has no offset: GDAL fills it with NoData.
            if offset and size and int(offset) > 0 and int(size) == out.nbytes:
                if os.preadv(self.fd, [out], int(offset)) == out.nbytes:
                    return out
        return self.src.read(1, window=window, out=out)

    def close(self) -> None:
        if self.fd is not None:
            os.close(self.fd)
            self.fd = None
        self.src.close()


def _plain_blocks(src, tile: int) -> bool:
    """Single band, uncompressed, tiled ``tile`` × ``tile``, whole bytes per cell, no scaling."""
    return (src.driver == "GTiff" and src.count == 1 and src.compression is None
            and src.block_shapes[0] == (tile, tile)
            and "NBITS" not in src.tags(1, ns="IMAGE_STRUCTURE")
            and src.scales[0] == 1 and src.offsets[0] == 0)


def _little_endian_tiff(fd: int) -> bool:
    """Cells are stored in the file's byte order; numpy buffers here are in the machine's."""
    return os.pread(fd, 2, 0) == b"II" and sys.byteorder == "little"


def open_with_overview_levels(path, profile: dict, factors: list[int]):
    """Create the GeoTIFF ``path`` with empty overview levels ``factors`` and return it open
    for writing the full-resolution windows (``r+``); every level must then be written.

    GDAL lays out overview levels without computing them when asked for the resampling
    ``NONE`` (``gdaladdo -r none``): 1 ms on a 10k × 10k grid. rasterio's ``build_overviews``
    accepts only real resampling methods, and ``nearest`` over the still-empty raster took
    0.2–0.45 s holding the GIL, stalling the workers meant to compute meanwhile. So GDAL's C
    function is called through the library rasterio has already loaded (no second copy of
    GDAL). Where that library cannot be found the levels are laid out with ``nearest``.
    """
    gdal = _loaded_gdal()
    if gdal is not None:
        # SPARSE_OK: closing the new file writes no NoData blocks; all are written later.
        with rasterio.open(path, "w", **profile, SPARSE_OK=True):
            pass
        handle = gdal.GDALOpenEx(os.fsencode(path), _GDAL_OF_RASTER | _GDAL_OF_UPDATE, None, None, None)
        if handle:
            levels = (ctypes.c_int * len(factors))(*factors)
            failed = gdal.GDALBuildOverviews(handle, b"NONE", len(factors), levels, 0, None, None, None)
            gdal.GDALClose(handle)
            if not failed:
                return rasterio.open(path, "r+")
        os.remove(path)
    dst = rasterio.open(path, "w", **profile)
    dst.build_overviews(factors, Resampling.nearest)
    return dst


_GDAL_OF_UPDATE, _GDAL_OF_RASTER = 0x01, 0x02


@functools.cache
def _loaded_gdal():
    """The GDAL shared library this process has loaded for rasterio, with the three C
    functions used here declared; None when it cannot be found (not Linux, static builds)."""
    try:
        with open("/proc/self/maps") as maps:
            paths = sorted(set(re.findall(r"(/\S*libgdal[^/\s]*\.so[^/\s]*)", maps.read())))
    except OSError:
        return None
    # Prefer rasterio's own copy where a wheel bundles one (pyogrio's wheel may bundle another),
    # and only take a library of rasterio's GDAL version.
    paths.sort(key=lambda p: "rasterio" not in p)
    for path in paths:
        try:
            lib = ctypes.CDLL(path)  # already loaded: the same handle, not a second copy
            lib.GDALVersionInfo.restype = ctypes.c_char_p
            lib.GDALVersionInfo.argtypes = [ctypes.c_char_p]
            if lib.GDALVersionInfo(b"RELEASE_NAME").decode() != rasterio.__gdal_version__:
                continue
            lib.GDALOpenEx.restype = ctypes.c_void_p
            lib.GDALOpenEx.argtypes = [ctypes.c_char_p, ctypes.c_uint, ctypes.c_void_p, ctypes.c_void_p,
                                       ctypes.c_void_p]
            lib.GDALBuildOverviews.restype = ctypes.c_int
            lib.GDALBuildOverviews.argtypes = [ctypes.c_void_p, ctypes.c_char_p, ctypes.c_int,
                                               ctypes.POINTER(ctypes.c_int), ctypes.c_int, ctypes.c_void_p,
                                               ctypes.c_void_p, ctypes.c_void_p]
            lib.GDALClose.argtypes = [ctypes.c_void_p]
            return lib
        except (OSError, AttributeError):
            continue
    return None
