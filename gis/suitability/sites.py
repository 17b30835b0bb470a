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
from contextlib import ExitStack
from dataclasses import dataclass, field

import geopandas as gpd
import numpy as np
import pandas as pd
import rasterio
import shapely
from rasterio import features

from gis.access import access_points
from gis.errors import InputError
from gis.network import WalkNetwork, nearest_within_network
from gis.services import nearest_services
from gis.suitability.combine import combine_arrays
from gis.suitability.surface import SurfaceResult
from gis.suitability.transforms import apply_transform
from gis.units import M2_PER_MU

CONSTRAINT_LABELS_ZH = {"subsidence": "采煤塌陷区", "flood": "洪涝风险区", "farmland": "永久基本农田",
                        "ecological_redline": "生态保护红线", "geohazard": "地质灾害隐患区", "heritage": "文物保护范围"}


class _ZonalSums:
    """Per-parcel sums accumulated over windows: usable and total cells, Σ value × factor per
    criterion, Σ and min of the cell score, penalized cells."""

    def __init__(self, n: int, k: int):
        self.n = n
        self.count = np.zeros(n)
        self.cells_total = np.zeros(n, dtype=np.int64)
        self.sums = [np.zeros(n) for _ in range(k)]
        self.score = np.zeros(n)
        self.score_min = np.full(n, np.inf)
        self.penalized = np.zeros(n)

    def add(self, lab: np.ndarray, values: list[np.ndarray], weights: list[float], method: str,
            excluded: np.ndarray, factor: np.ndarray) -> None:
        n = self.n
        ok = ~excluded & np.all([~np.isnan(v) for v in values], axis=0)
        self.count += np.bincount(lab[ok], minlength=n)
        self.cells_total += np.bincount(lab, minlength=n)
        self.penalized += np.bincount(lab, weights=(factor < 1).astype(float), minlength=n)
        for total, v in zip(self.sums, values, strict=True):
            total += np.bincount(lab[ok], weights=(v * factor)[ok], minlength=n)
        cell = combine_arrays([v[ok] for v in values], weights, method) * factor[ok]
        self.score += np.bincount(lab[ok], weights=cell, minlength=n)
        np.minimum.at(self.score_min, lab[ok], cell)


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
                  origin: gpd.GeoDataFrame, network: WalkNetwork | None = None, tile: int = 1024) -> gpd.GeoDataFrame:
    """Zonal statistics, contributions, constraint shares and distance to origin per parcel.

    The rasters are read window by window (only windows some parcel touches) and the zonal
    sums accumulated per parcel, so memory follows the window, not the grid.
    """
    grid = surface.grid
    p = parcels.to_crs(grid.crs).reset_index(drop=True)
    p = p[p.intersects(shapely.box(*grid.bounds))].reset_index(drop=True)
    n = len(p)
    weights = surface.spec.weights()
    w = [weights[c.name] for c in surface.criteria]
    zs = _ZonalSums(n, len(w))
    geoms = p.geometry.values
    with ExitStack() as stack:
        srcs = [stack.enter_context(rasterio.open(c.path)) for c in surface.criteria]
        reason_src = stack.enter_context(rasterio.open(surface.reason_path))
        factor_src = stack.enter_context(rasterio.open(surface.factor_path))

        def accumulate(subset: np.ndarray, all_touched: bool) -> None:
            tree = shapely.STRtree(geoms[subset])
            for window in grid.windows(tile):
                sub = grid.window_grid(window)
                hits = np.sort(subset[tree.query(shapely.box(*sub.bounds))])
                if len(hits) == 0:
                    continue
                labels = features.rasterize(((geoms[i], i + 1) for i in hits), out_shape=(sub.height, sub.width),
                                            transform=sub.transform, fill=0, dtype="int32", all_touched=all_touched)
                flat = labels.ravel()
                cell = flat > 0
                if not cell.any():
                    continue
                raw = [s.read(1, window=window).ravel()[cell] for s in srcs]
                values = [apply_transform(r, c.transform) for r, c in zip(raw, surface.criteria, strict=True)]
                zs.add(flat[cell] - 1, values, w, surface.spec.method,
                       reason_src.read(1, window=window).ravel()[cell] > 0,
                       factor_src.read(1, window=window).ravel()[cell])

        if n:
            accumulate(np.arange(n), all_touched=False)
            missing = np.flatnonzero(zs.cells_total == 0)
            if len(missing):  # parcels smaller than a cell: take the cells they touch
                accumulate(missing, all_touched=True)
    out = _zonal_columns(p, zs, surface, w)
    _constraint_shares(out, constraints)
    _distance_to_origin(out, origin.to_crs(grid.crs), network)
    out["area_m2"] = out.geometry.area.round(1)
    out["area_mu"] = (out.area_m2 / M2_PER_MU).round(3)
    return out.to_crs(4490)


def _zonal_columns(p: gpd.GeoDataFrame, zs: _ZonalSums, surface: SurfaceResult,
                   w: list[float]) -> gpd.GeoDataFrame:
    """``p`` with the zonal sums turned into columns: usable and total cells, contribution
    (``c_``) and mean value (``v_``) of each criterion, score, its minimum and penalized share."""
    out = p.copy()
    out["cells"] = zs.count.astype(int)  # usable cells (not excluded, every criterion known)
    out["cells_total"] = zs.cells_total
    with np.errstate(invalid="ignore", divide="ignore"):
        means = [np.where(zs.count > 0, s / zs.count, np.nan) for s in zs.sums]
        for c, wi, mean in zip(surface.criteria, w, means, strict=True):
            # Contribution: weight × mean over the parcel's usable cells of (value × penalty factor).
            out[f"c_{c.name}"] = wi * mean
            out[f"v_{c.name}"] = mean
        out["score"] = np.where(zs.count > 0, zs.score / zs.count, np.nan)
        out["penalized_share"] = zs.penalized / np.maximum(zs.cells_total, 1)
    out["score_min"] = np.where(np.isfinite(zs.score_min), zs.score_min, np.nan)
    return out


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
    xy, _ = access_points(np.array([geom]), 25.0, network)
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
