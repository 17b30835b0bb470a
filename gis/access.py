"""Where an area is reached from: access points on its boundary and where streets cross it.

A point is its own access point. A polygon is reached from its boundary every ``spacing``
metres, each point snapped to the nearest street with the offset counted, and — given the
walking network — from every point where a street crosses or touches the boundary (offset 0),
so a street entering the area between two sampled points is not missed.
"""

from __future__ import annotations

__all__ = ["access_points"]

import numpy as np
import shapely

from gis.network import WalkNetwork


def access_points(geoms: np.ndarray, spacing: float = 25.0, network: WalkNetwork | None = None
                  ) -> tuple[np.ndarray, np.ndarray]:
    """Points from which each geometry is reached.

    A point is its own access point. A polygon is reached from its boundary every ``spacing``
    metres (vertices included), each point then snapped to the nearest street with the offset
    counted; with a ``network``, also from every point where a street segment crosses or
    touches the boundary (on the street: offset 0), so a street entering the area between two
    sampled points is not missed.

    Parameters
    ----------
    geoms : array of shapely geometries, in ``network.crs`` when a network is given
    spacing : float
        Metres between sampled boundary points.
    network : WalkNetwork, optional
        Adds the boundary's crossings with the streets.

    Returns
    -------
    xy : (K, 2) array
    index : (K,) array, the geometry each point belongs to

    Examples
    --------
    >>> xy, index = access_points(np.array([shapely.box(0, 0, 20, 10), shapely.Point(5, 5)]))
    >>> index.tolist()  # the point, then the box's corners (its ring, closed)
    [1, 0, 0, 0, 0, 0]
    """
    geoms = np.asarray(geoms)
    is_point = shapely.get_type_id(geoms) == 0
    parts_xy, parts_idx = [], []
    if is_point.any():
        idx = np.flatnonzero(is_point)
        parts_xy.append(shapely.get_coordinates(geoms[idx]))
        parts_idx.append(idx)
    if (~is_point).any():
        idx = np.flatnonzero(~is_point)
        rings = shapely.segmentize(shapely.boundary(geoms[idx]), spacing)
        xy, j = shapely.get_coordinates(rings, return_index=True)
        parts_xy.append(xy)
        parts_idx.append(idx[j])
        if network is not None:
            xy, j = _street_crossings(geoms[idx], network)
            parts_xy.append(xy)
            parts_idx.append(idx[j])
    return np.vstack(parts_xy), np.concatenate(parts_idx)


def _street_crossings(geoms: np.ndarray, network: WalkNetwork) -> tuple[np.ndarray, np.ndarray]:
    """Every point where a street segment crosses or touches the boundary of a polygon.

    The boundary is cut into its edges; the segments' R-tree proposes (edge, segment) pairs
    and GEOS intersects the two-point lines (a shared stretch gives its two ends).
    """
    polygonal = np.isin(shapely.get_type_id(geoms), [3, 6])
    rings, ring_of = shapely.get_parts(shapely.boundary(geoms[polygonal]), return_index=True)
    coords, k = shapely.get_coordinates(rings, return_index=True)
    same = k[1:] == k[:-1]
    if not same.any():
        return np.zeros((0, 2)), np.zeros(0, dtype=np.int64)
    edges = shapely.linestrings(np.stack([coords[:-1][same], coords[1:][same]], axis=1))
    edge_of = np.flatnonzero(polygonal)[ring_of[k[:-1][same]]]
    ei, si = network.tree.query(edges, predicate="intersects")
    hits = shapely.intersection(edges[ei], network.tree.geometries[si])
    xy, h = shapely.get_coordinates(hits, return_index=True)
    return xy, edge_of[ei[h]]
