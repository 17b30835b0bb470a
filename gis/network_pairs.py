"""All (origin, facility) pairs within a walking distance: Dijkstra per spatial tile of
facilities on the sub-graph that can lie within the limit — every path of length ≤ limit
stays within ``limit`` of its start in straight line —, which keeps the dense distance
blocks scipy returns small; large searches split the tiles with a forked second process.
"""

from __future__ import annotations

__all__ = ["pairs_within"]

import multiprocessing
import os
import threading
from concurrent.futures import ProcessPoolExecutor

import numpy as np
from scipy.sparse import csr_matrix
from scipy.sparse.csgraph import dijkstra

from gis.network import WalkNetwork, _augmented, _same_segment

_WORKERS = min(2, os.cpu_count() or 1)
_MIN_TILES_PER_WORKER = 64  # below this a fork costs more than it saves
_FORKED_JOB = None  # the tile loop, handed to the forked child by inheritance


def _forked_tiles(keys: np.ndarray):
    return _FORKED_JOB(keys)


def _run_split(run, keys: np.ndarray, workers: int | None):
    """Run ``run`` over tile keys, in a forked second process too when worth it.

    scipy's Dijkstra holds the GIL, so threads do not help. A fork shares the graph
    copy-on-write and returns its pairs by pickle. It is only used when this process has a
    single thread (forking a threaded server can deadlock) and fork is available.
    """
    global _FORKED_JOB
    n = workers or (_WORKERS if len(keys) >= 2 * _MIN_TILES_PER_WORKER else 1)
    if n < 2 or threading.active_count() > 1 or "fork" not in multiprocessing.get_all_start_methods():
        return [run(keys)]
    mine, theirs = keys[0::2], keys[1::2]  # interleaved: dense and sparse tiles split evenly
    _FORKED_JOB = run
    try:
        with ProcessPoolExecutor(1, mp_context=multiprocessing.get_context("fork")) as pool:
            future = pool.submit(_forked_tiles, theirs)
            parts = [run(mine), future.result()]
    finally:
        _FORKED_JOB = None
    return parts


def pairs_within(net: WalkNetwork, origins_xy, facilities_xy, limit: float,
                 tile: float | None = None, workers: int | None = None, reduce=None):
    """All (origin, facility) pairs within ``limit`` metres of walking, with their distances.

    ``origins_xy`` and ``facilities_xy`` are (K, 2) arrays in ``net.crs`` or already
    :class:`Snapped`. Each pair appears once, in no particular order. Large searches use a
    second forked process when there are two cores (``workers`` overrides).

    ``reduce(origin_index, facility_index, distance_m, facilities)``, when given, is applied
    in each partition of the search to its pairs; ``facilities`` are the facility indices the
    partition owns (every pair of such a facility is in that partition). The list of the
    partitions' results is returned instead of the pairs: tens of millions of pairs need not
    travel back from the forked process, nor be sorted in one piece.

    Returns
    -------
    origin_index, facility_index, distance_m : arrays of equal length (without ``reduce``)
    """
    org = net.snap(origins_xy)
    fac = net.snap(facilities_xy)
    if len(org.segment) == 0 or len(fac.segment) == 0:
        empty = np.zeros(0, int)
        if reduce is not None:
            return [reduce(empty, empty, np.zeros(0), np.arange(len(fac.segment)))]
        return empty, empty, np.zeros(0)
    graph = _augmented(net, fac)
    tiles = _Tiles(net, org, fac, max(float(tile or 0.0), float(limit), 1.0))  # smaller than the limit: paths missed

    def run(tile_keys: np.ndarray):
        found = _search(tile_keys, graph, tiles, net, org, fac, limit)
        if reduce is not None:
            return reduce(*_joined(found), tiles.facilities(tile_keys))
        return found

    parts = _run_split(run, tiles.keys, workers)
    if reduce is not None:
        return parts
    found = tuple([a for p in parts for a in p[k]] for k in range(3))
    if not found[0]:  # no pair within the limit: empty indexes as when there is nothing to search
        return np.zeros(0, int), np.zeros(0, int), np.zeros(0)
    # Each facility belongs to one tile and meets each origin once: pairs are unique.
    return _joined(found)


def _joined(found: tuple[list, list, list]) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Origin indexes, facility indexes and distances of a search's blocks, each as one array."""
    out_o, out_f, out_d = found
    if not out_o:
        empty = np.zeros(0, np.int32)
        return empty, empty, np.zeros(0)
    return np.concatenate(out_o), np.concatenate(out_f), np.concatenate(out_d)


class _Tiles:
    """The network's nodes (facilities' included), the origins and the facilities sorted by
    the square tile of side ``size`` they fall in; ``keys``: the tiles with facilities."""

    def __init__(self, net: WalkNetwork, org, fac, size: float):
        all_xy = np.vstack([net.node_xy, fac.xy])
        x0, y0 = all_xy.min(axis=0) - 1.0
        node_tiles = _tile_keys(all_xy, x0, y0, size)
        self.node_order = np.argsort(node_tiles, kind="stable")
        self.node_sorted = node_tiles[self.node_order]
        org_tiles = _tile_keys(org.xy, x0, y0, size)
        self.org_order = np.argsort(org_tiles, kind="stable")
        self.org_sorted = org_tiles[self.org_order]
        fac_tiles = node_tiles[net.n_nodes:]
        self.keys = np.unique(fac_tiles)
        self.fac_order = np.argsort(fac_tiles, kind="stable")
        self.fac_sorted = fac_tiles[self.fac_order]

    def facilities(self, keys: np.ndarray) -> np.ndarray:
        return _gather(self.fac_order, self.fac_sorted, keys)


def _search(tile_keys: np.ndarray, graph: csr_matrix, tiles: _Tiles, net: WalkNetwork, org, fac,
            limit: float) -> tuple[list, list, list]:
    """The pairs within ``limit`` of the facilities of each tile of ``tile_keys``: Dijkstra
    from them on the sub-graph of the tile and its eight neighbours, as blocks of origin
    indexes, facility indexes and distances."""
    n = net.n_nodes
    local = np.full(graph.shape[0], -1, dtype=np.int64)
    out_o, out_f, out_d = [], [], []
    for key in tile_keys:
        tx, ty = divmod(int(key), _TILE_STRIDE)
        ring = np.array([(tx + dx) * _TILE_STRIDE + (ty + dy) for dx in (-1, 0, 1) for dy in (-1, 0, 1)])
        origins = _gather(tiles.org_order, tiles.org_sorted, ring)
        if len(origins) == 0:
            continue
        nodes = _gather(tiles.node_order, tiles.node_sorted, ring)
        facs = tiles.facilities(np.array([key]))
        local[nodes] = np.arange(len(nodes))
        dist = dijkstra(_submatrix(graph, nodes, local), directed=True, indices=local[n + facs], limit=limit)
        d = _to_origins(dist, local, net, org, fac, origins, facs)
        fi, oj = np.nonzero(d <= limit)
        out_o.append(origins[oj].astype(np.int32))  # int32 halves the memory of ~10M pairs
        out_f.append(facs[fi].astype(np.int32))
        out_d.append(d[fi, oj])
        local[nodes] = -1
    return out_o, out_f, out_d


_TILE_STRIDE = 1 << 20


def _to_origins(dist: np.ndarray, local: np.ndarray, net: WalkNetwork, org, fac, origins: np.ndarray,
                facs: np.ndarray) -> np.ndarray:
    """(facility × origin) walking distances from a tile's Dijkstra block ``dist`` (facility
    × sub-graph node; ``local`` numbers the sub-graph's nodes, -1 outside it)."""
    seg = org.segment[origins]
    lu, lv = local[net.seg_u[seg]], local[net.seg_v[seg]]
    # Per origin, what walking on from each end of its segment adds (inf where that end is
    # outside the sub-graph): two gathers, two adds and a minimum over the block.
    length = net.seg_len[seg]
    along = org.t[origins] * length
    add_u = np.where(lu >= 0, along + org.offset[origins], np.inf)
    add_v = np.where(lv >= 0, length - along + org.offset[origins], np.inf)
    d = dist[:, np.maximum(lu, 0)]
    d += add_u
    dv = dist[:, np.maximum(lv, 0)]
    dv += add_v
    np.minimum(d, dv, out=d)
    # A pair on one segment may be closer directly than through the segment's ends.
    same = fac.segment[facs][:, None] == seg[None, :]
    if same.any():
        fs, os_ = np.nonzero(same)
        direct = _same_segment(org, fac, net, origins[os_], facs[fs])
        d[fs, os_] = np.minimum(d[fs, os_], direct)
    return d


def _submatrix(graph: csr_matrix, nodes: np.ndarray, local: np.ndarray) -> csr_matrix:
    """graph[nodes][:, nodes], built directly (scipy's column fancy-indexing is slow)."""
    starts, ends = graph.indptr[nodes], graph.indptr[nodes + 1]
    counts = ends - starts
    row = np.repeat(np.arange(len(nodes)), counts)
    pos = np.repeat(starts - np.cumsum(counts) + counts, counts) + np.arange(counts.sum())
    col = local[graph.indices[pos]]
    keep = col >= 0
    return csr_matrix((graph.data[pos][keep], (row[keep], col[keep])), shape=(len(nodes), len(nodes)))


def _tile_keys(xy: np.ndarray, x0: float, y0: float, size: float) -> np.ndarray:
    tx = np.floor((xy[:, 0] - x0) / size).astype(np.int64) + 1
    ty = np.floor((xy[:, 1] - y0) / size).astype(np.int64) + 1
    return tx * _TILE_STRIDE + ty


def _gather(order: np.ndarray, sorted_keys: np.ndarray, keys: np.ndarray) -> np.ndarray:
    lo = np.searchsorted(sorted_keys, keys, side="left")
    hi = np.searchsorted(sorted_keys, keys, side="right")
    if not (hi > lo).any():
        return np.zeros(0, dtype=np.int64)
    return np.concatenate([order[a:b] for a, b in zip(lo, hi, strict=True) if b > a])
