"""GeoTIFF shortcuts of the surface pipeline: block reads equal GDAL's reads, whichever path a
file takes, and overview levels laid out empty are real GDAL overviews once filled."""

import numpy as np
import pytest
import rasterio
from rasterio.transform import from_origin
from rasterio.windows import Window

from gis.suitability import gtiff
from gis.suitability.grid import windows
from gis.suitability.gtiff import WindowReader, open_with_overview_levels

SIZE = (1100, 1300)  # 3 × 3 blocks of 512, the last row and column partial


def _profile(dtype="float32", **extra):
    return {"driver": "GTiff", "width": SIZE[1], "height": SIZE[0], "count": 1, "dtype": dtype,
            "crs": "EPSG:4547", "transform": from_origin(430000, 3900000, 10, 10),
            "nodata": None if dtype == "uint8" else float("nan"), "tiled": True, "blockxsize": 512,
            "blockysize": 512, **extra}


def _values(dtype="float32"):
    rng = np.random.default_rng(5)
    if dtype == "uint8":
        return rng.integers(0, 4, SIZE).astype(np.uint8)
    a = rng.uniform(-50, 3000, SIZE).astype(dtype)
    a[rng.random(SIZE) < 0.1] = np.nan
    return a


def _write(path, values, **options):
    profile = _profile(values.dtype.name, **options)
    if not profile["tiled"]:
        del profile["blockxsize"], profile["blockysize"]
    with rasterio.open(path, "w", **profile) as dst:
        dst.write(values, 1)
    return path


def _read_all(reader: WindowReader, dtype) -> np.ndarray:
    out = np.empty(SIZE, dtype)
    for w in windows(SIZE[1], SIZE[0], 512):
        buf = np.empty((w.height, w.width), dtype)
        out[w.row_off:w.row_off + w.height, w.col_off:w.col_off + w.width] = reader.read(w, buf)
    return out


@pytest.mark.parametrize("case, direct", [
    ("plain float32", True),
    ("plain uint8", True),
    ("zstd", False),
    ("big-endian", False),
    ("blocks of 256", False),
    ("striped", False),
])
def test_window_reads_equal_gdal_reads(tmp_path, case, direct):
    dtype = "uint8" if case == "plain uint8" else "float32"
    values = _values(dtype)
    options = {"zstd": {"compress": "zstd"}, "big-endian": {"ENDIANNESS": "BIG"},
               "blocks of 256": {"blockxsize": 256, "blockysize": 256}, "striped": {"tiled": False}}.get(case, {})
    path = _write(tmp_path / "a.tif", values, **options)
    reader = WindowReader(path, 512)
    try:
        assert (reader.fd is not None) == direct
        np.testing.assert_array_equal(_read_all(reader, dtype), values)
    finally:
        reader.close()


def test_conversion_and_sparse_blocks_go_through_gdal(tmp_path):
    values = _values()
    path = tmp_path / "sparse.tif"
    with rasterio.open(path, "w", **_profile(SPARSE_OK=True)) as dst:
        dst.write(values[:512, :512], 1, window=Window(0, 0, 512, 512))  # the other blocks: never written
    reader = WindowReader(path, 512)
    try:
        assert reader.fd is not None
        got = _read_all(reader, np.float32)
        np.testing.assert_array_equal(got[:512, :512], values[:512, :512])
        assert np.isnan(got[512:, :]).all() and np.isnan(got[:, 512:]).all()  # GDAL's NoData fill
        as_float64 = reader.read(Window(0, 0, 512, 512), np.empty((512, 512), np.float64))
        np.testing.assert_array_equal(as_float64, values[:512, :512].astype(np.float64))
    finally:
        reader.close()


@pytest.mark.parametrize("through", ["GDAL's NONE resampling", "nearest (fallback)"])
def test_empty_overview_levels_filled_read_back(tmp_path, monkeypatch, through):
    if through.startswith("nearest"):
        monkeypatch.setattr(gtiff, "_loaded_gdal", lambda: None)
    else:
        assert gtiff._loaded_gdal() is not None  # on Linux the fast path is the one that runs
    values = _values()
    path = tmp_path / "o.tif"
    factors = [2, 4]
    with open_with_overview_levels(path, _profile(), factors) as dst:
        dst.write(values, 1)
    levels = [np.full((-(-SIZE[0] // f), -(-SIZE[1] // f)), float(i), np.float32) for i, f in enumerate(factors)]
    for i, level in enumerate(levels):
        with rasterio.open(path, "r+", overview_level=i) as ov:
            assert (ov.height, ov.width) == level.shape
            ov.write(level, 1)
    with rasterio.open(path) as src:
        assert src.overviews(1) == factors
        np.testing.assert_array_equal(src.read(1), values)
        assert src.block_shapes == [(512, 512)]
    for i, level in enumerate(levels):
        with rasterio.open(path, overview_level=i) as ov:
            np.testing.assert_array_equal(ov.read(1), level)
