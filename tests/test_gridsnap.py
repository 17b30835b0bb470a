"""Snapping a grid's cells block by block equals snapping each cell on its own, and both equal
brute force over every segment (shapely distances)."""

import geopandas as gpd
import numpy as np
import pytest
import shapely
from affine import Affine

from gis.gridsnap import snap_grid
from gis.network import build_network


@pytest.fixture(scope="module")
def network():
    # Streets of a small town (jittered grid plus diagonals, a few long segments) in a corner
    # of a much larger grid, so most cells are far from any street.
    rng = np.random.default_rng(7)
    x0, y0 = 500_000.0, 3_800_000.0
    lines = []
    for i in range(12):
        ys = y0 + i * 90 + rng.normal(0, 8, 12)
        lines.append(shapely.linestrings(np.column_stack([x0 + np.arange(12) * 95, ys])))
        xs = x0 + i * 95 + rng.normal(0, 8, 12)
        lines.append(shapely.linestrings(np.column_stack([xs, y0 + np.arange(12) * 90])))
    lines.append(shapely.linestrings([[x0, y0], [x0 + 1045, y0 + 990]]))
    lines.append(shapely.linestrings([[x0 - 300, y0 + 2000], [x0 + 2500, y0 + 1500]]))
    return build_network(gpd.GeoSeries(lines, crs=4547), crs=4547)


def _centres(transform: Affine, width: int, height: int) -> np.ndarray:
    cols, rows = np.meshgrid(np.arange(width) + 0.5, np.arange(height) + 0.5)
    x, y = transform @ (cols.ravel(), rows.ravel())
    return np.column_stack([x, y])


@pytest.mark.parametrize(("origin", "res", "width", "height", "block"), [
    ((499_000.0, 3_803_000.0), 10.0, 160, 130, 16),   # the town and far fields around it
    ((503_000.0, 3_809_000.0), 25.0, 37, 23, 16),     # all cells kilometres away, odd sides
    ((500_100.0, 3_800_500.0), 2.0, 64, 64, 8),       # dense: cells between the streets
    ((499_000.0, 3_801_000.0), 10.0, 1, 97, 4),       # one column
    ((499_000.0, 3_801_000.0), 10.0, 50, 40, 1),      # blocks of one cell
])
def test_grid_snap_equals_point_snap_and_brute_force(network, origin, res, width, height, block):
    transform = Affine(res, 0, origin[0], 0, -res, origin[1])
    got = snap_grid(network, transform, width, height, block=block)
    xy = _centres(transform, width, height)
    want = network.snap(xy)
    np.testing.assert_allclose(got.offset, want.offset, rtol=0, atol=1e-9)
    # Brute force: the distance to every segment.
    segs = shapely.linestrings(np.stack([network.node_xy[network.seg_u], network.node_xy[network.seg_v]], axis=1))
    brute = shapely.distance(shapely.points(xy)[:, None], segs[None, :]).min(axis=1)
    np.testing.assert_allclose(got.offset, brute, rtol=0, atol=1e-6)
    # The chosen segment is at that distance and the snapped point lies on it.
    np.testing.assert_allclose(shapely.distance(shapely.points(xy), segs[got.segment]), brute, atol=1e-6)
    np.testing.assert_allclose(np.hypot(*(got.xy - xy).T), got.offset, atol=1e-9)
    assert ((got.t >= 0) & (got.t <= 1)).all()


def test_empty_grid(network):
    got = snap_grid(network, Affine(10, 0, 0, 0, -10, 0), 0, 5)
    assert len(got) == 0


def test_large_point_sets_are_snapped_once_per_network(network):
    from gis.network import _snap_cache

    rng = np.random.default_rng(3)
    xy = rng.uniform([499_500, 3_799_500], [501_500, 3_801_500], size=(20_000, 2))
    first = network.snap(xy)
    assert network.snap(xy.copy()) is first  # same points, same network: the cached answer
    moved = xy.copy()
    moved[0, 0] += 1.0
    assert network.snap(moved) is not first  # any change of a coordinate: snapped again
    other = build_network(gpd.GeoSeries([shapely.linestrings([[499_000, 3_799_000], [502_000, 3_802_000]])],
                                        crs=4547), crs=4547)
    again = other.snap(xy)
    assert again is not first and (again.segment == 0).all()
    brute = network._snap(xy)
    np.testing.assert_array_equal(first.offset, brute.offset)
    assert sum(len(v[1]) for v in _snap_cache.entries.values()) <= _snap_cache.max_points
