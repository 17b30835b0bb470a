"""What a services report (:func:`gis.services.nearest_services`) becomes for people: per
area, the categories met and the gaps; city-wide, the share of households within the
standard; on a map, the lines to each category's nearest facility."""

from __future__ import annotations

__all__ = ["area_summary", "share_within_standard", "lines_to_nearest"]

import geopandas as gpd
import pandas as pd
import shapely


def area_summary(report: pd.DataFrame) -> pd.DataFrame:
    """Per origin: categories met / required, coverage score (0–1) and the gap lines."""
    req = report[report.required]
    grouped = req.groupby(["origin_id", "origin_name"], sort=False)
    summary = grouped.agg(categories_required=("required", "size"), categories_met=("meets_standard", "sum"))
    summary["coverage_score"] = (summary.categories_met / summary.categories_required).round(3)
    summary["gaps_zh"] = grouped.gap_zh.agg(lambda s: "；".join(x for x in s if isinstance(x, str)))
    summary["gaps_en"] = grouped.gap_en.agg(lambda s: "; ".join(x for x in s if isinstance(x, str)))
    return summary.reset_index()


def share_within_standard(report: pd.DataFrame, households: pd.Series) -> pd.DataFrame:
    """City-wide: share of households (by origin id) within the standard of each category."""
    h = report.origin_id.map(households).fillna(0).astype(float)
    frame = report.assign(households=h, within=h * report.meets_standard)
    out = frame[frame.required].groupby(["category", "category_zh"], sort=False).agg(
        households=("households", "sum"), households_within=("within", "sum"))
    total = out.households.where(out.households > 0)
    out["share"] = (out.households_within / total).round(4)
    return out.reset_index()


def lines_to_nearest(origin: gpd.GeoDataFrame, report: pd.DataFrame, services: gpd.GeoDataFrame) -> gpd.GeoDataFrame:
    """Straight lines from the origin's boundary to the nearest facility of each category in
    ``report`` (one origin), for maps. Facilities inside the origin get no line."""
    rows = report[report.nearest_id.notna()]
    svc = services.set_index("id") if "id" in services.columns else services
    geom = origin.geometry.union_all()
    out = []
    for _, r in rows.iterrows():
        point = svc.geometry.loc[r.nearest_id]
        if geom.contains(point):
            continue
        out.append({"category": r.category, "label": f"{r.category_zh} {r.nearest_name} "
                    f"{r.network_m if r.network_m == r.network_m else r.straight_m:g} m",
                    "geometry": shapely.shortest_line(geom, point)})
    return gpd.GeoDataFrame(out, geometry="geometry", crs=origin.crs) if out else \
        gpd.GeoDataFrame({"category": [], "label": []}, geometry=[], crs=origin.crs)
