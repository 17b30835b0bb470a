"""Score candidate parcels on a suitability surface and select resettlement sites.

Per parcel: zonal mean and minimum of the surface, the mean transformed value of each
criterion (its contribution is weight × that mean, so contributions add up to the
weighted-sum score), the share under each constraint kind (exact, from the polygons),
capacity (units × average unit floor area ÷ FAR, in m² and 亩) and distance to the origin.
Rules remove parcels and say how many each removed; the rest are ranked by score.
"""

from __future__ import annotations

__all__ = ["SiteRules", "score_parcels", "select_sites", "Selection", "CONSTRAINT_LABELS_ZH"]

import re
from dataclasses import dataclass, field

import geopandas as gpd
import numpy as np
import pandas as pd
import rasterio
import shapely
from rasterio import features

from gis.errors import InputError
from gis.network import WalkNetwork, nearest_within_network
from gis.services import access_points, nearest_services
from gis.suitability.combine import combine_arrays
from gis.suitability.model import SurfaceResult
from gis.suitability.transforms import apply_transform
from gis.units import M2_PER_MU

CONSTRAINT_LABELS_ZH = {"subsidence": "采煤塌陷区", "flood": "洪涝风险区", "farmland": "永久基本农田",
                        "ecological_redline": "生态保护红线", "geohazard": "地质灾害隐患区", "heritage": "文物保护范围"}


@dataclass(frozen=True)
class SiteRules:
    units: int | None = None
    unit_floor_area_m2: float = 90.0
    default_far: float = 2.5
    max_distance_m: float | None = None
    require: dict[str, float] = field(default_factory=dict)  # category → max walking metres
    max_excluded_share: float = 0.05
    land_status: tuple[str, ...] | None = None
    top: int = 5


def score_parcels(parcels: gpd.GeoDataFrame, surface: SurfaceResult, constraints: gpd.GeoDataFrame | None,
                  origin: gpd.GeoDataFrame, network: WalkNetwork | None = None) -> gpd.GeoDataFrame:
    """Zonal statistics, contributions, constraint shares and distance to origin per parcel."""
    grid = surface.grid
    p = parcels.to_crs(grid.crs).reset_index(drop=True)
    minx, miny, maxx, maxy = grid.bounds
    inside = p.intersects(shapely.box(minx, miny, maxx, maxy))
    p = p[inside].reset_index(drop=True)
    n = len(p)
    labels = np.zeros((grid.height, grid.width), dtype=np.int32)
    if n:
        labels = features.rasterize(((g, i + 1) for i, g in enumerate(p.geometry.values)),
                                    out_shape=labels.shape, transform=grid.transform, fill=0, dtype="int32")
        missing = np.setdiff1d(np.arange(1, n + 1), np.unique(labels))
        if len(missing):  # parcels smaller than a cell: take the cells they touch
            small = features.rasterize(((p.geometry.values[i - 1], i) for i in missing), out_shape=labels.shape,
                                       transform=grid.transform, fill=0, dtype="int32", all_touched=True)
            labels = np.where((labels == 0) & (small > 0), small, labels)
    flat = labels.ravel()
    valid_cell = flat > 0
    lab = flat[valid_cell]
    excluded = surface.reason.ravel()[valid_cell] > 0
    factor = surface.factor.ravel()[valid_cell]
    weights = surface.spec.weights()
    values = []
    for c in surface.criteria:
        with rasterio.open(c.path) as src:
            raw = src.read(1).ravel()[valid_cell]
        values.append(apply_transform(raw, c.transform))
    ok = ~excluded & np.all([~np.isnan(v) for v in values], axis=0)
    count = np.bincount(lab[ok], minlength=n + 1)[1:].astype(float)
    out = p.copy()
    out["cells"] = count.astype(int)  # usable cells (not excluded, every criterion known)
    out["cells_total"] = np.bincount(lab, minlength=n + 1)[1:]
    total = 0.0
    for c, v in zip(surface.criteria, values, strict=True):
        # Contribution: weight × mean over the parcel's usable cells of (value × penalty factor).
        s = np.bincount(lab[ok], weights=(v * factor)[ok], minlength=n + 1)[1:]
        mean = np.divide(s, count, out=np.full(n, np.nan), where=count > 0)
        out[f"c_{c.name}"] = weights[c.name] * mean
        out[f"v_{c.name}"] = mean
        total = total + weights[c.name] * mean
    if surface.spec.method == "weighted_sum":
        out["score"] = total
    else:
        cell = combine_arrays([v[ok] for v in values], [weights[c.name] for c in surface.criteria],
                              surface.spec.method) * factor[ok]
        s = np.bincount(lab[ok], weights=cell, minlength=n + 1)[1:]
        out["score"] = np.divide(s, count, out=np.full(n, np.nan), where=count > 0)
    cell_score = np.full(len(lab), np.inf)
    cell_score[ok] = (np.sum([weights[c.name] * v for c, v in zip(surface.criteria, values, strict=True)], axis=0)
                      * factor)[ok]
    mins = np.full(n + 1, np.inf)
    np.minimum.at(mins, lab, cell_score)
    out["score_min"] = np.where(np.isfinite(mins[1:]), mins[1:], np.nan)
    out["penalized_share"] = np.bincount(lab, weights=(factor < 1).astype(float), minlength=n + 1)[1:] / \
        np.maximum(np.bincount(lab, minlength=n + 1)[1:], 1)
    _constraint_shares(out, constraints)
    _distance_to_origin(out, origin.to_crs(grid.crs), network)
    out["area_m2"] = out.geometry.area.round(1)
    out["area_mu"] = (out.area_m2 / M2_PER_MU).round(3)
    return out.to_crs(4490)


def _constraint_shares(out: gpd.GeoDataFrame, constraints) -> None:
    out["excluded_share"] = 0.0
    out["excluded_by"] = ""
    if constraints is None or len(constraints) == 0:
        return
    c = constraints.to_crs(out.crs)
    buffers = c["buffer_m"].fillna(0).to_numpy(float) if "buffer_m" in c else np.zeros(len(c))
    c = c.assign(geometry=np.where(buffers > 0, shapely.buffer(c.geometry.values, buffers), c.geometry.values))
    excl = c[c.get("severity", "exclude") == "exclude"]
    areas = out.geometry.area.to_numpy()
    shares_by_kind = {}
    for kind, group in excl.groupby("kind"):
        zone = shapely.union_all(group.geometry.values)
        shares_by_kind[kind] = shapely.area(shapely.intersection(out.geometry.values, zone)) / areas
    if not shares_by_kind:
        return
    all_zone = shapely.union_all(excl.geometry.values)
    out["excluded_share"] = (shapely.area(shapely.intersection(out.geometry.values, all_zone)) / areas).round(4)
    out["excluded_by"] = [
        "；".join(f"{CONSTRAINT_LABELS_ZH.get(k, k)}({k}) {s[i]:.0%}" for k, s in shares_by_kind.items() if s[i] > 0)
        for i in range(len(out))]


def _distance_to_origin(out: gpd.GeoDataFrame, origin: gpd.GeoDataFrame, network) -> None:
    geom = origin.geometry.union_all()
    out["origin_straight_m"] = shapely.distance(out.geometry.values, geom).round(1)
    if network is None:
        out["origin_network_m"] = np.nan
        return
    xy, _ = access_points(np.array([geom]), 25.0)
    pts = shapely.get_coordinates(out.geometry.representative_point().values)
    _, dist = nearest_within_network(network, pts, xy)
    out["origin_network_m"] = np.where(out.origin_straight_m == 0, 0.0, np.round(dist, 1))


@dataclass
class Selection:
    candidates: gpd.GeoDataFrame  # ranked, passing every rule
    removed: dict[str, int]  # rule → parcels it removes (each rule counted on its own)
    scored: gpd.GeoDataFrame  # every parcel with its rule results
    required_m2: float | None


def select_sites(scored: gpd.GeoDataFrame, rules: SiteRules, *, services: gpd.GeoDataFrame | None = None,
                 network: WalkNetwork | None = None) -> Selection:
    """Apply the rules to scored parcels and rank the rest by score (then minimum, then area)."""
    s = scored.copy()
    if rules.unit_floor_area_m2 <= 0 or rules.default_far <= 0:
        raise InputError("unit floor area and FAR must be positive")
    far = s["max_far"].fillna(rules.default_far) if "max_far" in s else pd.Series(rules.default_far, index=s.index)
    required = None
    checks: dict[str, pd.Series] = {}
    notes: dict[str, pd.Series] = {}
    checks["outside_surface"] = s["cells_total"] > 0
    if rules.units:
        if rules.units <= 0:
            raise InputError("units must be positive")
        floor = rules.units * rules.unit_floor_area_m2
        s["required_m2"] = (floor / far).round(1)
        s["required_mu"] = (s.required_m2 / M2_PER_MU).round(3)
        s["capacity_units"] = np.floor(s.area_m2 * far / rules.unit_floor_area_m2).astype(int)
        checks["capacity"] = s.area_m2 >= s.required_m2
        use = s.required_m2 / s.area_m2
        notes["capacity"] = use.map(lambda u: f"capacity: needs {u:.0%} of the parcel")
        required = float(floor / rules.default_far)
    checks["constraints"] = s.excluded_share <= rules.max_excluded_share
    if rules.max_distance_m is not None:
        d = s.origin_network_m.fillna(s.origin_straight_m)
        checks["max_distance"] = d <= rules.max_distance_m
        notes["max_distance"] = (d / rules.max_distance_m).map(lambda u: f"distance: {u:.0%} of the limit")
    if rules.land_status:
        checks["land_status"] = s.get("land_status", pd.Series("", index=s.index)).isin(rules.land_status)
    if rules.require:
        if services is None:
            raise InputError("--require needs a services layer")
        positional = s.assign(id=np.arange(len(s)))
        report = nearest_services(positional, services, network=network, categories=list(rules.require))
        for cat, limit in rules.require.items():
            r = report[report.category == cat].set_index("origin_id")
            dist = r.network_m.where(r.basis == "network", r.straight_m).reindex(np.arange(len(s)))
            dist.index = s.index
            s[f"near_{cat}_m"] = dist
            checks[f"require_{cat}"] = dist <= limit
            notes[f"require_{cat}"] = (dist / limit).map(lambda u, c=cat: f"{c}: {u:.0%} of the limit")
    passed = np.all([c.to_numpy() for c in checks.values()], axis=0) & (s["cells"] > 0).to_numpy()
    removed = {k: int((~v).sum()) for k, v in checks.items()}
    s["passes"] = passed
    s["failed_rules"] = [", ".join(k for k, v in checks.items() if not v.iloc[i]) for i in range(len(s))]
    s["binding"] = [
        "; ".join(n.iloc[i] for k, n in notes.items() if _ratio(n.iloc[i]) >= 0.9) for i in range(len(s))]
    cand = s[passed].sort_values(["score", "score_min", "area_m2"], ascending=[False, False, False])
    cand = cand.head(rules.top).copy()
    cand.insert(0, "rank", np.arange(1, len(cand) + 1))
    return Selection(cand, removed, s, required)


def _ratio(note: str) -> float:
    match = re.search(r"(\d+(?:\.\d+)?)%", note or "")
    return float(match.group(1)) / 100.0 if match else 0.0
