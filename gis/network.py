"""The walking network: a ``scipy.sparse.csgraph`` graph built from road lines.

Roads are exploded into straight segments; their end points, rounded to 1 cm, are the
nodes. Points (origins, facilities) are snapped to the nearest point on the nearest
*segment* (not the nearest node) and the snap offset counts as walking distance.

Facilities become extra leaf nodes joined to the two ends of their segment, so one
Dijkstra run measures from the exact snapped position. Bounded searches (all pairs within
a distance) are in :mod:`gis.network_pairs`.
"""

from __future__ import annotations

__all__ = ["WalkNetwork", "Snapped", "build_network", "NearestField", "nearest_within_network", "min_per_key"]

import hashlib
import logging
import threading
import weakref
from collections import OrderedDict
from dataclasses import dataclass
from functools import cached_property

import geopandas as gpd
import numpy as np
import shapely
from scipy.sparse import coo_matrix, csr_matrix
from scipy.sparse.csgraph import connected_components, dijkstra
from scipy.spatial import cKDTree

from gis.crs import metric_crs
from gis.errors import InputError

log = logging.getLogger(__name__)

_NODE_PRECISION = 100.0  # 1 cm: end points closer than this are the same node
@dataclass
class Snapped:
    """Points snapped to segments: segment id, fraction along u→v, offset (m), snapped xy."""

    segment: np.ndarray
    t: np.ndarray
    offset: np.ndarray
    xy: np.ndarray

    def __getitem__(self, index) -> Snapped:
        return Snapped(self.segment[index], self.t[index], self.offset[index], self.xy[index])

    def __len__(self) -> int:
        return len(self.segment)


@dataclass
class WalkNetwork:
    """A walking network in a metric CRS (the Gauss–Krüger zone of the roads)."""

    crs: object
    node_xy: np.ndarray  # (N, 2)
    seg_u: np.ndarray  # (M,)
    seg_v: np.ndarray
    seg_len: np.ndarray
    graph: csr_matrix  # (N, N) symmetric, metres
    component: np.ndarray  # (N,) connected-component label
    tree: shapely.STRtree  # over the segments
    mid_tree: cKDTree | None = None  # over segment midpoints, for fast snapping
    half_max_len: float = 0.0

    @property
    def n_nodes(self) -> int:
        return len(self.node_xy)

    @property
    def n_segments(self) -> int:
        return len(self.seg_u)

    def snap(self, xy) -> Snapped:
        """Snap (K, 2) points (in ``self.crs``) to the nearest point of the nearest segment.

        Exact. A k-d tree of segment midpoints proposes candidates: any segment nearer
        than the best candidate found has its midpoint within that distance plus half the
        longest segment, so when the k-th midpoint is farther than that bound the answer is
        proven; the rest get a second round with twice the candidates, and what remains
        goes to the R-tree's exact nearest query.
        """
        if isinstance(xy, Snapped):
            return xy
        xy = np.asarray(xy, dtype=float).reshape(-1, 2)
        if len(xy) >= _SNAP_CACHE_MIN:
            return _snap_cache.get(self, xy)
        return self._snap(xy)

    def _snap(self, xy: np.ndarray) -> Snapped:
        if len(xy) == 0:
            return Snapped(np.zeros(0, int), np.zeros(0), np.zeros(0), np.zeros((0, 2)))
        seg = np.empty(len(xy), dtype=np.int64)
        proven = np.empty(len(xy), dtype=bool)
        for part in _chunks(np.arange(len(xy)), _SNAP_CHUNK):
            seg[part], proven[part] = self._nearest_candidate(xy[part], _SNAP_CANDIDATES)
        todo = np.flatnonzero(~proven)
        if len(todo) and self.n_segments > _SNAP_CANDIDATES:
            # Points far from the streets (a grid's outskirts): twice the candidates settle about
            # two thirds of them for a third of what GEOS takes per point.
            for part in _chunks(todo, _SNAP_CHUNK // 2):
                seg[part], proven[part] = self._nearest_candidate(xy[part], 2 * _SNAP_CANDIDATES)
            todo = np.flatnonzero(~proven)
        if len(todo):
            (src, exact), _ = self.tree.query_nearest(shapely.points(xy[todo]), return_distance=True,
                                                      all_matches=False)
            seg[todo[src]] = exact
        a, b = self.node_xy[self.seg_u[seg]], self.node_xy[self.seg_v[seg]]
        t, offset, snapped = _project(xy, a, b)
        return Snapped(seg, t, offset, snapped)


    def _nearest_candidate(self, xy: np.ndarray, k: int) -> tuple[np.ndarray, np.ndarray]:
        """The nearest of the ``k`` segments with the nearest midpoints, and whether that is
        proven the nearest of all: any nearer segment would have its midpoint within the
        candidate's distance plus half the longest segment."""
        k = min(k, self.n_segments)
        mid_d, cand = self.mid_tree.query(xy, k=k, workers=-1)  # cKDTree threads release the GIL
        cand = cand.reshape(len(xy), k)
        dist = self._distances(xy, cand)
        best = np.argmin(dist, axis=1)
        rows = np.arange(len(xy))
        offset = dist[rows, best]
        proven = (mid_d.reshape(len(xy), k)[:, -1] > offset + self.half_max_len) | (k == self.n_segments)
        return cand[rows, best], proven

    @cached_property
    def _segment_vectors(self) -> np.ndarray:
        """(M, 5): start x, start y, Δx, Δy, 1/length² of each segment, one row per segment so
        candidates are gathered in one pass."""
        a, b = self.node_xy[self.seg_u], self.node_xy[self.seg_v]
        d = b - a
        length2 = (d * d).sum(axis=1)
        return np.column_stack([a, d, 1.0 / np.where(length2 > 0, length2, 1.0)])

    @cached_property
    def segment_columns(self) -> tuple[np.ndarray, ...]:
        """The five columns of :attr:`_segment_vectors`, each contiguous: gathering per column
        is several times faster than gathering rows when pairs are many (grid snapping)."""
        return tuple(np.ascontiguousarray(c) for c in self._segment_vectors.T)

    def _distances(self, xy: np.ndarray, cand: np.ndarray) -> np.ndarray:
        """(N, k) distances from each point to its k candidate segments.

        Per coordinate on (N, k) arrays with the segments' vectors precomputed: faster than
        projecting (N, k, 2) point arrays, which was most of the time of snapping a grid.
        """
        ax, ay, dx, dy, inv = np.moveaxis(self._segment_vectors[cand], -1, 0)
        wx = xy[:, :1] - ax
        wy = xy[:, 1:] - ay
        t = wx * dx
        t += wy * dy
        t *= inv
        np.clip(t, 0.0, 1.0, out=t)
        wx -= t * dx
        wy -= t * dy
        return np.hypot(wx, wy, out=wx)


_SNAP_CANDIDATES = 8
_SNAP_CACHE_MIN = 10_000  # points: smaller sets snap in a few milliseconds


class _SnapCache:
    """The last few large point sets snapped, per network, by content: a report over eight
    categories, the next request on the same areas or a site search over the same cells
    snap their origins once (100k origins: 0.15 s each time otherwise)."""

    def __init__(self, max_points: int = 2_000_000):
        self.max_points = max_points
        self.entries: OrderedDict = OrderedDict()
        self.lock = threading.Lock()

    def get(self, net: WalkNetwork, xy: np.ndarray) -> Snapped:
        key = (id(net), xy.shape, hashlib.blake2b(np.ascontiguousarray(xy).view(np.uint8), digest_size=16).digest())
        with self.lock:
            hit = self.entries.get(key)
            if hit is not None and hit[0]() is net:
                self.entries.move_to_end(key)
                return hit[1]
        snapped = net._snap(xy)
        if len(xy) <= self.max_points:
            with self.lock:
                self.entries[key] = (weakref.ref(net), snapped)
                while sum(len(v[1]) for v in self.entries.values()) > self.max_points:
                    self.entries.popitem(last=False)
        return snapped


_snap_cache = _SnapCache()
_SNAP_CHUNK = 131_072  # points per candidate round: (chunk × k × 5) gathered floats stay ~40 MB


def _chunks(index: np.ndarray, size: int):
    for start in range(0, len(index), size):
        yield index[start:start + size]


def _project(p: np.ndarray, a: np.ndarray, b: np.ndarray):
    """Fraction along a→b of p's projection, the distance to it, and the projected point."""
    ab = b - a
    length2 = (ab * ab).sum(axis=-1)
    t = np.clip(((p - a) * ab).sum(axis=-1) / np.where(length2 > 0, length2, 1.0), 0.0, 1.0)
    proj = a + t[..., None] * ab
    diff = p - proj
    return t, np.sqrt((diff * diff).sum(axis=-1)), proj


def build_network(roads: gpd.GeoDataFrame | gpd.GeoSeries, crs=None) -> WalkNetwork:
    """Build the walking graph from road lines.

    Parameters
    ----------
    roads : GeoDataFrame or GeoSeries of (Multi)LineStrings, any CRS
    crs : optional
        Metric CRS to work in; default the Gauss–Krüger zone of the roads.

    Raises
    ------
    InputError
        When there are no usable road segments.
    """
    geoms = roads.geometry if isinstance(roads, gpd.GeoDataFrame) else roads
    if len(geoms) == 0:
        raise InputError("the road layer is empty; a walking network needs at least one road")
    crs = crs or metric_crs(geoms)
    lines = shapely.get_parts(geoms.to_crs(crs).values)
    lines = lines[np.isin(shapely.get_type_id(lines), [1, 2])]
    coords, idx = shapely.get_coordinates(lines, return_index=True)
    same = idx[1:] == idx[:-1]
    start, end = coords[:-1][same], coords[1:][same]
    seg_len = np.hypot(*(end - start).T)
    keep = seg_len > 0
    start, end, seg_len = start[keep], end[keep], seg_len[keep]
    if len(seg_len) == 0:
        raise InputError("the road layer has no line segments of positive length")
    keys = np.round(np.vstack([start, end]) * _NODE_PRECISION).astype(np.int64)
    uniq, inverse = np.unique(keys, axis=0, return_inverse=True)
    inverse = inverse.ravel()
    node_xy = uniq / _NODE_PRECISION
    m = len(seg_len)
    u, v = inverse[:m], inverse[m:]
    loop = u == v
    u, v, seg_len = u[~loop], v[~loop], seg_len[~loop]
    graph = _symmetric_min(u, v, seg_len, len(node_xy))
    n_comp, component = connected_components(graph, directed=False)
    segs = shapely.linestrings(np.stack([node_xy[u], node_xy[v]], axis=1))
    log.info("walking network: %d nodes, %d segments, %d component(s)", len(node_xy), len(u), n_comp)
    mids = (node_xy[u] + node_xy[v]) / 2.0
    return WalkNetwork(crs, node_xy, u, v, seg_len, graph, component, shapely.STRtree(segs),
                       cKDTree(mids), float(seg_len.max()) / 2.0)


def min_per_key(values: np.ndarray, *keys: np.ndarray) -> np.ndarray:
    """Indices of the smallest value for each distinct key (tuple), ordered by key.

    Examples
    --------
    >>> min_per_key(np.array([5.0, 2.0, 7.0, 1.0]), np.array([1, 1, 2, 2])).tolist()
    [1, 3]
    """
    order = np.lexsort((values, *reversed(keys)))  # by keys (first key outermost), then value
    first = np.zeros(len(order), bool)
    first[:1] = True
    for key in keys:
        k = key[order]
        first[1:] |= k[1:] != k[:-1]
    return order[first]


def _symmetric_min(u, v, w, n) -> csr_matrix:
    # csr_matrix sums duplicate entries; parallel segments must keep the shortest instead.
    rows = np.concatenate([u, v])
    cols = np.concatenate([v, u])
    data = np.concatenate([w, w])
    keep = min_per_key(data, rows, cols)
    return coo_matrix((data[keep], (rows[keep], cols[keep])), shape=(n, n)).tocsr()


def _augmented(net: WalkNetwork, fac: Snapped) -> csr_matrix:
    """The road graph plus one leaf node per facility, joined to its segment's two ends."""
    n, k = net.n_nodes, len(fac.segment)
    if k == 0:
        return net.graph
    fnode = n + np.arange(k)
    u, v = net.seg_u[fac.segment], net.seg_v[fac.segment]
    length = net.seg_len[fac.segment]
    wu = fac.offset + fac.t * length
    wv = fac.offset + (1.0 - fac.t) * length
    coo = net.graph.tocoo()
    rows = np.concatenate([coo.row, fnode, u, fnode, v])
    cols = np.concatenate([coo.col, u, fnode, v, fnode])
    # A zero weight would read as "no edge" in a sparse matrix: a facility exactly on a
    # node is placed 1 µm from it, far below any reported precision.
    data = np.maximum(np.concatenate([coo.data, wu, wu, wv, wv]), 1e-6)
    # Facility edges always touch a new node, so no entry duplicates a road edge and the
    # summing COO → CSR conversion is exact here.
    return coo_matrix((data, (rows, cols)), shape=(n + k, n + k)).tocsr()


def _same_segment(org: Snapped, fac: Snapped, net: WalkNetwork, oi: np.ndarray, fi: np.ndarray) -> np.ndarray:
    """Direct distance along a shared segment (inf where the segments differ)."""
    same = org.segment[oi] == fac.segment[fi]
    length = net.seg_len[org.segment[oi]]
    direct = org.offset[oi] + np.abs(org.t[oi] - fac.t[fi]) * length + fac.offset[fi]
    return np.where(same, direct, np.inf)


def _same_segment_pairs(org_seg: np.ndarray, fac_seg: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Every (origin, facility) pair that lies on one segment, vectorized."""
    order = np.argsort(fac_seg, kind="stable")
    sorted_seg = fac_seg[order]
    lo = np.searchsorted(sorted_seg, org_seg, side="left")
    hi = np.searchsorted(sorted_seg, org_seg, side="right")
    count = hi - lo
    oi = np.repeat(np.arange(len(org_seg)), count)
    starts = np.repeat(lo, count)
    within = np.arange(count.sum()) - np.repeat(np.cumsum(count) - count, count)
    return oi, order[starts + within]


class NearestField:
    """Walking distance to the nearest of a set of facilities, ready to evaluate anywhere.

    One multi-source Dijkstra (``min_only``) from all facilities gives every node its
    distance and nearest facility; :meth:`at` then answers any batch of origins from their
    snapped segments, so a large grid is evaluated window by window from one search.
    """

    def __init__(self, net: WalkNetwork, facilities_xy):
        self.net = net
        self.fac = net.snap(facilities_xy)
        k, n = len(self.fac.segment), net.n_nodes
        if k:
            dist, _, source = dijkstra(_augmented(net, self.fac), directed=True, indices=n + np.arange(k),
                                       min_only=True, return_predecessors=True)
            self.dist, self.source = dist[:n], source[:n] - n  # node → metres, facility index
        else:
            self.dist, self.source = np.full(n, np.inf), np.full(n, -1)

    def at(self, origins) -> tuple[np.ndarray, np.ndarray]:
        """(nearest facility index or -1, walking metres or inf) for origins (xy or Snapped)."""
        net = self.net
        org = net.snap(origins)
        if len(self.fac.segment) == 0 or len(org.segment) == 0:
            return np.full(len(org.segment), -1, dtype=np.int64), np.full(len(org.segment), np.inf)
        u, v = net.seg_u[org.segment], net.seg_v[org.segment]
        length = net.seg_len[org.segment]
        du = self.dist[u] + org.t * length
        dv = self.dist[v] + (1 - org.t) * length
        via_u = du <= dv
        best = np.where(via_u, du, dv) + org.offset
        src = np.where(via_u, self.source[u], self.source[v])
        src = np.where(np.isfinite(best), src, -1)
        # A facility on the origin's own segment may be closer directly.
        oi, fi = _same_segment_pairs(org.segment, self.fac.segment)
        if len(oi):
            direct = _same_segment(org, self.fac, net, oi, fi)
            keep = min_per_key(direct, oi)
            oi, fi, direct = oi[keep], fi[keep], direct[keep]
            better = direct < best[oi]
            best[oi[better]] = direct[better]
            src[oi[better]] = fi[better]
        return src.astype(np.int64), best


def nearest_within_network(net: WalkNetwork, origins_xy, facilities_xy) -> tuple[np.ndarray, np.ndarray]:
    """Nearest facility by walking for each origin, without a distance limit.

    Returns (facility index or -1 when none is reachable, distance in metres or inf).
    """
    return NearestField(net, facilities_xy).at(origins_xy)
