"""Walking isochrones: the area reachable within 300/500/1000 m of walking from an area.

The reached part of every street segment (whole, or partly up to the remaining distance) is
buffered by a walkable depth (default 50 m: the front plots along a street) and merged, the
way network "service areas" are drawn in desktop GIS.
"""

from __future__ import annotations

__all__ = ["walking_isochrones", "distance_rings"]

import geopandas as gpd
import numpy as np
import shapely
from scipy.sparse import coo_matrix
from scipy.sparse.csgraph import dijkstra

from gis.errors import InputError
from gis.network import WalkNetwork, min_per_key
from gis.services import access_points
from gis.standards import CIRCLES_M


def walking_isochrones(area: gpd.GeoDataFrame, network: WalkNetwork, thresholds=CIRCLES_M, *,
                       spacing: float = 25.0, depth_m: float = 50.0) -> gpd.GeoDataFrame:
    """Polygons reachable within each threshold from the area's boundary (and the area itself).

    Returns a GeoDataFrame (EPSG:4490) with ``threshold_m``, ``area_m2`` and geometry, one row
    per threshold, largest first so maps draw them nested.
    """
    if not isinstance(area, gpd.GeoDataFrame) or len(area) == 0:
        raise InputError("'area' should be a non-empty GeoDataFrame")
    thresholds = sorted({float(t) for t in thresholds})
    if thresholds[0] <= 0:
        raise InputError("thresholds must be positive metres")
    geom = area.to_crs(network.crs).geometry.union_all()
    xy, _ = access_points(np.array([geom]), spacing)
    snap = network.snap(xy)
    n = network.n_nodes
    # One virtual source joined to both ends of every access point's segment.
    length = network.seg_len[snap.segment]
    rows = np.full(2 * len(xy), n)
    cols = np.concatenate([network.seg_u[snap.segment], network.seg_v[snap.segment]])
    data = np.maximum(np.concatenate([snap.offset + snap.t * length, snap.offset + (1 - snap.t) * length]), 1e-6)
    # Many access points reach the same node; a sparse matrix would *sum* those entries.
    keep = min_per_key(data, cols)
    cols, data, rows = cols[keep], data[keep], rows[keep]
    coo = network.graph.tocoo()
    graph = coo_matrix((np.concatenate([coo.data, data]), (np.concatenate([coo.row, rows]),
                        np.concatenate([coo.col, cols]))), shape=(n + 1, n + 1)).tocsr()
    dist = dijkstra(graph, directed=True, indices=n, limit=thresholds[-1])[:n]
    u, v, seg_len = network.seg_u, network.seg_v, network.seg_len
    a, b = network.node_xy[u], network.node_xy[v]
    rows_out = []
    for limit in reversed(thresholds):
        reach_u = np.clip((limit - dist[u]) / seg_len, 0, 1)  # fraction reached from u
        reach_v = np.clip((limit - dist[v]) / seg_len, 0, 1)
        whole = reach_u + reach_v >= 1
        parts = [shapely.linestrings(np.stack([a[whole], b[whole]], axis=1))]
        pu = ~whole & (reach_u > 0)
        parts.append(shapely.linestrings(np.stack([a[pu], a[pu] + (b[pu] - a[pu]) * reach_u[pu, None]], axis=1)))
        pv = ~whole & (reach_v > 0)
        parts.append(shapely.linestrings(np.stack([b[pv], b[pv] + (a[pv] - b[pv]) * reach_v[pv, None]], axis=1)))
        lines = np.concatenate(parts)
        poly = shapely.union(shapely.buffer(shapely.multilinestrings(lines), depth_m, quad_segs=4), geom) \
            if len(lines) else geom
        rows_out.append({"threshold_m": limit, "area_m2": round(float(poly.area), 1), "geometry": poly})
    return gpd.GeoDataFrame(rows_out, geometry="geometry", crs=network.crs).to_crs(4490)


def distance_rings(area: gpd.GeoDataFrame, radii=CIRCLES_M) -> gpd.GeoDataFrame:
    """Straight-line rings around an area at ``radii`` metres (on its GK plane), largest first."""
    from gis.crs import metric_crs

    crs = metric_crs(area)
    geom = area.to_crs(crs).geometry.union_all()
    radii = sorted({float(r) for r in radii}, reverse=True)
    return gpd.GeoDataFrame({"radius_m": radii}, geometry=[geom.buffer(r, quad_segs=16) for r in radii],
                            crs=crs).to_crs(4490)
