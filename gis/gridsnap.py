"""Snapping every cell of a regular grid to the walking network, block by block.

Per-point snapping (:meth:`gis.network.WalkNetwork.snap`) proves a nearest segment from a
few k-d tree candidates; far from the streets (a ±10 km grid around a city is mostly
fields) the proof fails and each cell costs an exact R-tree search. Cells of a grid are
not independent points, though: for a block of cells with centre ``c`` and half-diagonal
``h``, every cell ``x`` has ``|d(x, s) − d(c, s)| ≤ h`` for any segment ``s``. So if ``m``
is the smallest ``d(c, s)`` over the candidates, the nearest segment of every cell of the
block has ``d(c, s) ≤ m + 2h`` — all others are pruned for the whole block at once. Blocks
are split in four and the candidate lists filtered again, level by level, until blocks
are single cells (``h = 0``), where the filter leaves the exact nearest. All levels are
vectorized over every block of the window; no library does this branch-and-bound over a
raster (GEOS and scipy answer point by point), hence this module.
"""

from __future__ import annotations

__all__ = ["snap_grid"]

import numpy as np
import shapely
from affine import Affine

from gis.network import Snapped, WalkNetwork, _project

_EPS = 1e-6  # metres: bounds are widened by this so rounding never prunes the nearest segment


def snap_grid(net: WalkNetwork, transform: Affine, width: int, height: int, block: int = 16) -> Snapped:
    """The cell centres of a north-up grid (row-major, as ``Grid.centers()``) snapped to
    ``net``: the same offsets and snapped points as ``net.snap(centres)``,
    in a fraction of the time on grids that reach far beyond the streets (on exact ties,
    e.g. a cell nearest to a crossing, any of the equally near segments).

    ``block`` is the side, in cells, of the first level of blocks: their centres are snapped
    point by point and seed the candidate lists.
    """
    if width <= 0 or height <= 0:
        return net.snap(np.zeros((0, 2)))
    res_x, res_y = transform.a, transform.e
    r0, c0 = np.meshgrid(np.arange(0, height, block), np.arange(0, width, block), indexing="ij")
    r0, c0 = r0.ravel(), c0.ravel()
    r1, c1 = np.minimum(r0 + block, height), np.minimum(c0 + block, width)

    def centres(r0, r1, c0, c1):
        x = transform.c + ((c0 + c1 - 1) / 2 + 0.5) * res_x
        y = transform.f + ((r0 + r1 - 1) / 2 + 0.5) * res_y
        return x, y, 0.5 * np.hypot((r1 - r0 - 1) * res_y, (c1 - c0 - 1) * res_x)

    bx, by, h = centres(r0, r1, c0, c1)
    seed = net.snap(np.column_stack([bx, by])).offset
    blocks, segs = net.tree.query(shapely.points(bx, by), predicate="dwithin", distance=seed + 2 * h + _EPS)
    order = np.lexsort((segs, blocks))
    blocks, segs = blocks[order], segs[order]
    d = _distances(net, bx[blocks], by[blocks], segs)
    while not ((r1 - r0 == 1) & (c1 - c0 == 1)).all():
        (r0, r1, c0, c1), parent = _split(r0, r1, c0, c1)
        blocks, segs = _inherit(blocks, segs, parent, len(parent) and int(parent[-1]) + 1)
        x, y, h = centres(r0, r1, c0, c1)
        d = _distances(net, x[blocks], y[blocks], segs)
        best = np.minimum.reduceat(d, _starts(blocks))
        keep = d <= best[blocks] + 2 * h[blocks] + _EPS
        blocks, segs, d = blocks[keep], segs[keep], d[keep]
    # Single cells: the first kept candidate at the minimum distance (segments ascend within a
    # block, so ties go to the lowest id).
    best = np.minimum.reduceat(d, _starts(blocks))
    first = d <= best[blocks]
    cells, at = np.unique(blocks[first], return_index=True)
    seg_of_block = segs[first][at]
    seg = np.empty(width * height, dtype=np.int64)
    seg[r0[cells] * width + c0[cells]] = seg_of_block
    cols = np.tile(np.arange(width), height)
    rows = np.repeat(np.arange(height), width)
    xy = np.column_stack([transform.c + (cols + 0.5) * res_x, transform.f + (rows + 0.5) * res_y])
    a, b = net.node_xy[net.seg_u[seg]], net.node_xy[net.seg_v[seg]]
    t, offset, snapped = _project(xy, a, b)
    return Snapped(seg, t, offset, snapped)


def _split(r0, r1, c0, c1):
    """Each block's up to four children (a side of one cell is not split), in parent order,
    and the parent of each child."""
    rm = r0 + (r1 - r0 + 1) // 2
    cm = c0 + (c1 - c0 + 1) // 2
    kids = np.stack([np.stack([r0, rm, c0, cm]), np.stack([r0, rm, cm, c1]),
                     np.stack([rm, r1, c0, cm]), np.stack([rm, r1, cm, c1])], axis=2)  # (4, P, 4)
    valid = (kids[1] > kids[0]) & (kids[3] > kids[2])  # (P, 4)
    parent = np.repeat(np.arange(len(r0)), valid.sum(axis=1))
    return tuple(kids[i][valid] for i in range(4)), parent


def _starts(groups: np.ndarray) -> np.ndarray:
    """Start of each run of a sorted group array whose groups are 0..n-1, all present."""
    return np.flatnonzero(np.r_[True, groups[1:] != groups[:-1]])


def _inherit(blocks: np.ndarray, segs: np.ndarray, parent: np.ndarray, n_parents: int):
    """Every child gets its parent's candidate list: (child, segment) pairs grouped by child."""
    count = np.bincount(blocks, minlength=n_parents)
    start = np.cumsum(count) - count
    per_child = count[parent]
    child = np.repeat(np.arange(len(parent)), per_child)
    offset_in = np.arange(per_child.sum()) - np.repeat(np.cumsum(per_child) - per_child, per_child)
    return child, segs[np.repeat(start[parent], per_child) + offset_in]


def _distances(net: WalkNetwork, x: np.ndarray, y: np.ndarray, seg: np.ndarray) -> np.ndarray:
    """Distance from each point (x, y) to its segment, pairwise, in place on gathered columns."""
    ax, ay, dx, dy, inv = (np.take(col, seg) for col in net.segment_columns)
    ax = np.subtract(x, ax, out=ax)  # from here on: the vector from the segment start
    ay = np.subtract(y, ay, out=ay)
    t = ax * dx
    t += ay * dy
    t *= inv
    np.clip(t, 0.0, 1.0, out=t)
    dx *= t
    dy *= t
    ax -= dx
    ay -= dy
    return np.hypot(ax, ay, out=ax)

