"""Independent reference for network distances: networkx Dijkstra on a graph whose edges
are split at brute-force snapped points (no code shared with gis.network)."""

from __future__ import annotations

import networkx as nx
import numpy as np
import shapely


def brute_force_snap(points_xy: np.ndarray, segs: np.ndarray):
    """Nearest segment of each point by checking every segment: (segment, t, offset)."""
    a, b = segs[:, 0], segs[:, 1]
    ab = b - a
    l2 = (ab ** 2).sum(axis=1)
    out = []
    for p in points_xy:
        t = np.clip(((p - a) * ab).sum(axis=1) / l2, 0, 1)
        proj = a + t[:, None] * ab
        d = np.hypot(*(proj - p).T)
        k = int(np.argmin(d))
        out.append((k, float(t[k]), float(d[k])))
    return out


def reference_distances(lines, origins_xy, facilities_xy) -> np.ndarray:
    """(n_origins, n_facilities) walking distances; inf where unreachable."""
    coords = [np.asarray(line.coords) for line in lines]
    segs = np.array([[c[i], c[i + 1]] for c in coords for i in range(len(c) - 1)])
    g = nx.Graph()
    key = lambda xy: (round(float(xy[0]), 2), round(float(xy[1]), 2))  # noqa: E731
    on_edge: dict[int, list] = {}
    snaps_o = brute_force_snap(np.asarray(origins_xy), segs)
    snaps_f = brute_force_snap(np.asarray(facilities_xy), segs)
    for name, snaps in (("o", snaps_o), ("f", snaps_f)):
        for i, (k, t, d) in enumerate(snaps):
            on_edge.setdefault(k, []).append((t, (name, i), d))
    for k, (a, b) in enumerate(segs):
        length = float(np.hypot(*(b - a)))
        chain = [(0.0, key(a), 0.0)] + sorted(on_edge.get(k, []), key=lambda x: x[0]) + [(1.0, key(b), 0.0)]
        prev_t, prev_node = 0.0, key(a)
        for t, node, d in chain[1:]:
            if isinstance(node, tuple) and isinstance(node[0], str):
                g.add_edge(("snap",) + node, node, weight=d)  # the offset from point to its snap
                target = ("snap",) + node
            else:
                target = node
            w = (t - prev_t) * length
            if g.has_edge(prev_node, target):
                w = min(w, g[prev_node][target]["weight"])
            g.add_edge(prev_node, target, weight=w)
            prev_t, prev_node = t, target
    out = np.full((len(origins_xy), len(facilities_xy)), np.inf)
    for i in range(len(origins_xy)):
        lengths = nx.single_source_dijkstra_path_length(g, ("o", i), weight="weight")
        for j in range(len(facilities_xy)):
            out[i, j] = lengths.get(("f", j), np.inf)
    return out


def lines_of(roads_metric) -> list:
    return list(shapely.get_parts(roads_metric.geometry.values))
