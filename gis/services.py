"""Nearby services: per area and category, the nearest facilities by walking, counts within
the life circles, and the gaps against the standard (GB 50180-2018 by default).

An area is reached through its boundary: access points every ``spacing`` metres along it and
wherever a street crosses or touches it (a facility inside the area is at 0 m). Distances are
network distances on the walking graph when roads are given, straight-line otherwise
(``basis`` says which).
"""

from __future__ import annotations

__all__ = ["nearest_services", "REPORT_COLUMNS"]

import logging
from dataclasses import dataclass

import geopandas as gpd
import numpy as np
import pandas as pd
import shapely
from scipy.spatial import cKDTree

from gis.access import access_points
from gis.crs import metric_crs
from gis.errors import InputError
from gis.network import (
    WalkNetwork,
    build_network,
    min_per_key,
    nearest_within_network,
)
from gis.network_pairs import pairs_within
from gis.services_rank import EPS_M, gap_lines, merge_ranks, partial_rank, repeated, tiled
from gis.standards import CIRCLES_M, Standard, default_standards

log = logging.getLogger(__name__)


def _straight_pairs(tree, org_geoms, svc_geoms, origins: np.ndarray, radius: float):
    """Straight-line (origin, facility, metres) pairs within ``radius`` for some origins.

    Point origins go through a k-d tree (scipy's ``sparse_distance_matrix``, ~10x faster than
    an R-tree ``dwithin`` query at city scale); polygons through GEOS for exact distances.
    """
    if len(origins) == 0:
        return np.zeros(0, int), np.zeros(0, int), np.zeros(0)
    points = shapely.get_type_id(org_geoms[origins]) == 0
    out_o, out_f, out_d = [], [], []
    if points.any():
        pts = origins[points]
        matrix = cKDTree(shapely.get_coordinates(org_geoms[pts])).sparse_distance_matrix(
            cKDTree(shapely.get_coordinates(svc_geoms)), radius, output_type="ndarray")
        out_o.append(pts[matrix["i"]])
        out_f.append(matrix["j"].astype(np.int64))
        out_d.append(matrix["v"])
    if (~points).any():
        polys = origins[~points]
        qo, qf = tree.query(org_geoms[polys], predicate="dwithin", distance=radius)
        out_o.append(polys[qo])
        out_f.append(qf)
        out_d.append(shapely.distance(org_geoms[polys[qo]], svc_geoms[qf]))
    return np.concatenate(out_o), np.concatenate(out_f), np.concatenate(out_d)


REPORT_COLUMNS = [
    "origin_id", "origin_name", "category", "category_zh", "nearest_name", "nearest_id", "straight_m",
    "network_m", "reachable", "second_name", "second_m", "third_name", "third_m", "count_300",
    "count_500", "count_1000", "standard_m", "required", "meets_standard", "gap_zh", "gap_en", "basis",
]


def _check_frame(frame, name: str, geometry: bool = True) -> None:
    if not isinstance(frame, gpd.GeoDataFrame):
        raise InputError(f"'{name}' should be a GeoDataFrame, got {type(frame).__name__}")
    if frame.crs is None:
        raise InputError(f"'{name}' has no CRS; set one (e.g. EPSG:4490)")


def _reduce_min(o: np.ndarray, f: np.ndarray, d: np.ndarray):
    keep = min_per_key(d, o, f)
    return o[keep], f[keep], d[keep]


def _group_min(values: np.ndarray, groups: np.ndarray, n: int, payload: np.ndarray):
    best = np.full(n, np.inf)
    arg = np.full(n, -1, dtype=np.int64)
    keep = min_per_key(values, groups)
    best[groups[keep]] = values[keep]
    arg[groups[keep]] = payload[keep]
    return best, arg


def nearest_services(
    origins: gpd.GeoDataFrame,
    services: gpd.GeoDataFrame,
    roads: gpd.GeoDataFrame | None = None,
    *,
    network: WalkNetwork | None = None,
    standards: dict[str, Standard] | None = None,
    categories: list[str] | None = None,
    spacing: float = 25.0,
    search_m: float = 1000.0,
    max_snap_m: float = 500.0,
) -> pd.DataFrame:
    """Nearby services of each origin (area polygon or point), per category.

    Parameters
    ----------
    origins : GeoDataFrame
        Renewal areas, candidate sites or any points/polygons; ``id`` and ``name`` columns
        are used to label the rows when present.
    services : GeoDataFrame
        Points with ``name`` and ``category``.
    roads : GeoDataFrame, optional
        Road lines; without them (and without ``network``) distances are straight-line.
    network : WalkNetwork, optional
        A prebuilt network (reused across calls).
    standards : dict, optional
        Category → :class:`~gis.standards.Standard`; default GB 50180-2018.
    categories : list of str, optional
        Categories to report (default: every category of the standards table).
    spacing : float
        Metres between access points along an area's boundary; every point where a street
        crosses or touches the boundary is an access point as well.
    search_m : float
        Radius for the second/third nearest; counts use 300/500/1000 m and the nearest
        facility is found at any distance.
    max_snap_m : float
        Access points farther than this from any road are off the walking network; an
        origin with no access point on it is measured straight-line
        (``basis == "straight (off network)"``).

    Returns
    -------
    DataFrame
        One row per origin and category, columns :data:`REPORT_COLUMNS`. ``network_m`` is
        NaN and ``reachable`` False where no facility can be walked to (another network
        component), never a sentinel number.
    """
    job = _setup(origins, services, roads, network, standards, categories)
    if job is None:
        return pd.DataFrame(columns=REPORT_COLUMNS)
    _access(job, spacing, max_snap_m)
    ranked_f, ranked_d, counts = _ranked(job, max(float(search_m), max(CIRCLES_M)))
    nearest_f, nearest_d = _nearest_any(job, ranked_f, ranked_d)
    return _assemble(job, ranked_f, ranked_d, counts, nearest_f, nearest_d)


@dataclass
class _Job:
    """What every step of :func:`nearest_services` shares: the frames on the metric plane,
    facility categories as codes, and (after :func:`_access`) the snapped access points."""

    org: gpd.GeoDataFrame
    svc: gpd.GeoDataFrame
    cats: list[str]
    standards: dict[str, Standard]
    network: WalkNetwork | None
    cat_code: np.ndarray = None
    inside_o: np.ndarray = None
    inside_f: np.ndarray = None
    tree: shapely.STRtree = None
    ap_group: np.ndarray = None
    ap_snap: object = None
    svc_snap: object = None
    off_network: np.ndarray = None

    @property
    def n_o(self) -> int:
        return len(self.org)

    @property
    def n_c(self) -> int:
        return len(self.cats)

    @property
    def size(self) -> int:
        return self.n_o * self.n_c

    @property
    def basis(self) -> str:
        return "network" if self.network is not None else "straight"


def _setup(origins, services, roads, network, standards, categories) -> _Job | None:
    """Checked inputs on the metric plane (None: no origins); facilities in id order, so that
    ties rank by id whatever subset of them is given."""
    _check_frame(origins, "origins")
    _check_frame(services, "services")
    for col in ("name", "category"):
        if col not in services.columns:
            raise InputError(f"'services' needs a '{col}' column")
    standards = standards or default_standards()
    cats = list(categories) if categories else list(standards)
    unknown = [c for c in cats if c not in standards]
    if unknown:
        raise InputError(f"unknown categories {unknown}; known: {', '.join(standards)}")
    if len(origins) == 0:
        return None
    if network is None and roads is not None and len(roads):
        network = build_network(roads)
    crs = network.crs if network is not None else metric_crs(origins)
    svc = services[services.category.isin(cats)].to_crs(crs)
    if "id" in svc.columns:
        # Numbers by value, then text ids (planned facilities) by text: the same order for
        # every subset and whether or not plans are added.
        number = pd.to_numeric(svc["id"], errors="coerce").fillna(np.inf).to_numpy()
        svc = svc.iloc[np.lexsort((svc["id"].astype(str).to_numpy(), number))]
    job = _Job(origins.to_crs(crs), svc.reset_index(drop=True), cats, standards, network)
    job.cat_code = pd.Categorical(job.svc.category, categories=cats).codes.astype(np.int64)
    return job


def _access(job: _Job, spacing: float, max_snap_m: float) -> None:
    """Facilities inside each area (at 0 m), the areas' access points snapped to the network
    and which areas lie off it (farther than ``max_snap_m`` from any road)."""
    org_geoms, svc_geoms = job.org.geometry.values, job.svc.geometry.values
    job.tree = shapely.STRtree(svc_geoms)
    job.inside_o, job.inside_f = job.tree.query(org_geoms, predicate="contains") if len(job.svc) \
        else (np.zeros(0, int),) * 2
    ap_xy, job.ap_group = access_points(org_geoms, spacing, job.network)
    job.off_network = np.zeros(job.n_o, bool)
    if job.network is not None:
        ap_snap = job.network.snap(ap_xy)
        job.svc_snap = job.network.snap(shapely.get_coordinates(svc_geoms))
        on = ap_snap.offset <= max_snap_m
        job.off_network = ~np.isin(np.arange(job.n_o), job.ap_group[on])
        job.ap_snap, job.ap_group = ap_snap[on], job.ap_group[on]
        if job.off_network.any():
            log.info("%d origin(s) lie more than %g m from any road: measured straight-line",
                     int(job.off_network.sum()), max_snap_m)


def _ranked(job: _Job, search_m: float):
    """The three nearest within ``search_m`` and the counts within the life circles, per
    (origin, category): straight-line pairs for origins off the network (all, without one),
    network pairs ranked per partition of the search."""
    n_o, n_c, size = job.n_o, job.n_c, job.size
    straight_origins = np.flatnonzero(job.off_network) if job.network is not None else np.arange(n_o)
    so, sf, sd = _straight_pairs(job.tree, job.org.geometry.values, job.svc.geometry.values, straight_origins,
                                 search_m) if len(job.svc) else (np.zeros(0, int), np.zeros(0, int), np.zeros(0))
    partials = [partial_rank(so, sf, sd, job.cat_code, n_c, size)]
    if job.network is not None and len(job.svc):
        point_like = len(job.ap_group) == n_o and bool((job.ap_group == np.arange(n_o)).all())
        on_inside = ~job.off_network[job.inside_o]
        inside_o, inside_f = job.inside_o[on_inside], job.inside_f[on_inside]

        def reduce(ao, af, ad, owned):
            # Per partition of the search: every pair of an owned facility is here, so the
            # nearest access point of an area and the facilities inside it are settled here.
            o = ao if point_like else job.ap_group[ao]
            mine = np.isin(inside_f, owned)
            if mine.any() or not point_like:
                o, af, ad = _reduce_min(np.concatenate([o, inside_o[mine]]), np.concatenate([af, inside_f[mine]]),
                                        np.concatenate([ad, np.zeros(int(mine.sum()))]))
            return partial_rank(o, af, ad, job.cat_code, n_c, size)

        partials += pairs_within(job.network, job.ap_snap, job.svc_snap, search_m, reduce=reduce)
    return merge_ranks(partials, n_c, size)


def _nearest_any(job: _Job, ranked_f: np.ndarray, ranked_d: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """The nearest facility at any distance per (origin, category): the first ranked one when
    there is one within the search radius, else one min_only Dijkstra per category (or the
    straight-line nearest for origins off the network)."""
    n_o, n_c = job.n_o, job.n_c
    org_geoms, svc_geoms = job.org.geometry.values, job.svc.geometry.values
    nearest_f = np.full(job.size, -1, dtype=np.int64)
    nearest_d = np.full(job.size, np.nan)
    for c in range(n_c):
        fidx = np.flatnonzero(job.cat_code == c)
        keys = np.arange(n_o) * n_c + c
        if len(fidx) == 0:
            continue
        best, arg = ranked_d[0, keys].copy(), ranked_f[0, keys].copy()
        missing = np.flatnonzero(arg < 0)
        off_missing = missing[job.off_network[missing]]
        missing = missing[~job.off_network[missing]]
        if len(missing) and job.network is not None:
            sel = np.isin(job.ap_group, missing)
            src, dist = nearest_within_network(job.network, job.ap_snap[sel], job.svc_snap[fidx])
            far, far_arg = _group_min(dist, job.ap_group[sel], n_o, np.where(src >= 0, fidx[np.maximum(src, 0)], -1))
            best[missing] = np.where(np.isfinite(far[missing]), far[missing], np.nan)
            arg[missing] = far_arg[missing]
        elif len(missing):
            off_missing = np.concatenate([off_missing, missing])
        if len(off_missing):
            sub_tree = shapely.STRtree(svc_geoms[fidx])
            (qo, qf), qd = sub_tree.query_nearest(org_geoms[off_missing], return_distance=True, all_matches=False)
            best[off_missing[qo]], arg[off_missing[qo]] = qd, fidx[qf]
        # A facility inside the area is at 0 m; the ranking already holds one where it saw it.
        of_c = job.cat_code[job.inside_f] == c if len(job.inside_o) else np.zeros(0, bool)
        inside_c, inside_fc = job.inside_o[of_c], job.inside_f[of_c]
        unseen = best[inside_c] != 0.0
        best[inside_c[unseen]] = 0.0
        arg[inside_c[unseen]] = inside_fc[unseen]
        nearest_f[keys], nearest_d[keys] = arg, best
    return nearest_f, nearest_d


def _shown(job: _Job, nearest_f: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """The facility each row names (the walking nearest, else the straight-line nearest where
    nothing can be walked to) and its straight-line distance."""
    n_o, n_c = job.n_o, job.n_c
    org_geoms, svc_geoms = job.org.geometry.values, job.svc.geometry.values
    straight_f = np.full(job.size, -1, dtype=np.int64)
    for c in range(n_c):
        fidx = np.flatnonzero(job.cat_code == c)
        lost = np.flatnonzero(nearest_f[np.arange(n_o) * n_c + c] < 0)
        if len(fidx) and len(lost):
            (qo, qf) = shapely.STRtree(svc_geoms[fidx]).query_nearest(org_geoms[lost], all_matches=False)
            straight_f[lost[qo] * n_c + c] = fidx[qf]
    shown_f = np.where(nearest_f >= 0, nearest_f, straight_f)
    has = shown_f >= 0
    origin_of_key = np.repeat(np.arange(n_o), n_c)
    straight_m = np.full(job.size, np.nan)
    straight_m[has] = shapely.distance(org_geoms[origin_of_key[has]], svc_geoms[shown_f[has]])
    return shown_f, straight_m


def _pick(arr: np.ndarray, idx: np.ndarray) -> np.ndarray:
    out = np.full(len(idx), None, dtype=object)
    ok = idx >= 0
    out[ok] = arr[idx[ok]]
    return out


def _assemble(job: _Job, ranked_f, ranked_d, counts, nearest_f, nearest_d) -> pd.DataFrame:
    """The report's rows: one per origin and category, columns :data:`REPORT_COLUMNS`."""
    n_o, n_c, cats, standards, org = job.n_o, job.n_c, job.cats, job.standards, job.org
    shown_f, straight_m = _shown(job, nearest_f)
    names = job.svc["name"].astype(str).to_numpy()
    ids = job.svc["id"].to_numpy() if "id" in job.svc.columns else np.arange(len(job.svc))
    std = np.array([standards[c].standard_m if standards[c].standard_m is not None else np.nan for c in cats])
    req = np.array([standards[c].required for c in cats])
    std_k, req_k = np.tile(std, n_o), np.tile(req, n_o)
    off = np.repeat(job.off_network, n_c)
    dist_for_standard = np.where(off, straight_m, nearest_d if job.basis == "network" else straight_m)
    meets = np.where(req_k, np.nan_to_num(dist_for_standard, nan=np.inf) <= np.nan_to_num(std_k, nan=-1) + EPS_M, True)
    origin_ids = org["id"].to_numpy() if "id" in org.columns else org.index.to_numpy()
    origin_names = org["name"].astype(str).to_numpy() if "name" in org.columns else origin_ids.astype(str)
    report = pd.DataFrame({
        "origin_id": np.repeat(origin_ids, n_c),
        # Repeating labels as categoricals built from codes: a city-wide report has
        # n_origins × n_categories rows, and factorizing them as strings took a second.
        "origin_name": repeated(origin_names, n_c),
        "category": tiled(cats, n_o),
        "category_zh": tiled([standards[c].label_zh for c in cats], n_o),
        "nearest_name": _pick(names, shown_f),
        "nearest_id": _pick(ids, shown_f),
        "straight_m": np.round(straight_m, 1),
        "network_m": np.where(off, np.nan, np.round(nearest_d, 1)) if job.basis == "network" else np.nan,
        "reachable": nearest_f >= 0 if job.basis == "network" else shown_f >= 0,
        "second_name": _pick(names, ranked_f[1]),
        "second_m": np.round(ranked_d[1], 1),
        "third_name": _pick(names, ranked_f[2]),
        "third_m": np.round(ranked_d[2], 1),
        "count_300": counts[300], "count_500": counts[500], "count_1000": counts[1000],
        "standard_m": std_k,
        "required": req_k,
        "meets_standard": meets.astype(bool),
        "basis": repeated(np.where(job.off_network, "straight (off network)", job.basis), n_c),
    })
    report["gap_zh"], report["gap_en"] = gap_lines(np.tile(np.arange(n_c), n_o), cats, report.meets_standard.to_numpy(),
                                                    report.required.to_numpy(), report.reachable.to_numpy(), standards)
    return report[REPORT_COLUMNS]
