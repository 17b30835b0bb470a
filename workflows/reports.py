"""Site-selection answers as plain data (JSON-ready), shared by the CLI and the API."""

from __future__ import annotations

__all__ = ["site_result"]

import pandas as pd

from gis.suitability.sensitivity import weight_sensitivity


def site_result(origin, surface, selection, regions, *, sensitivity: bool = False) -> dict:
    """The answer as plain data (shared by CLI JSON and the API)."""
    crit = [c.name for c in surface.criteria]
    out = {"area": origin.name.iloc[0], "method": surface.spec.method,
           "weights": {k: round(v, 4) for k, v in surface.spec.weights().items()},
           "criteria_zh": surface.labels}
    if selection is None:
        out["mode"] = "regions"
        out["candidates"] = regions.drop(columns="geometry").to_dict(orient="records")
        return out
    out["mode"] = "parcels"
    out["required_m2"] = selection.required_m2
    out["removed_by_rule"] = selection.removed
    out["parcels_considered"] = int(len(selection.scored))
    rows = []
    for _, r in selection.candidates.iterrows():
        rows.append({
            "rank": int(r["rank"]), "id": int(r["id"]) if "id" in r else None, "name": r.get("name"),
            "score": round(float(r.score), 4), "score_min": round(float(r.score_min), 4),
            "contributions": {c: round(float(r[f"c_{c}"]), 4) for c in crit},
            "area_m2": float(r.area_m2), "area_mu": float(r.area_mu),
            "required_m2": float(r["required_m2"]) if "required_m2" in r else None,
            "required_mu": float(r["required_mu"]) if "required_mu" in r else None,
            "capacity_units": int(r["capacity_units"]) if "capacity_units" in r else None,
            "origin_network_m": None if pd.isna(r.origin_network_m) else float(r.origin_network_m),
            "origin_straight_m": float(r.origin_straight_m),
            "land_status": r.get("land_status"), "max_far": r.get("max_far"),
            "penalized_share": round(float(r.penalized_share), 3), "binding": r.binding or None})
    out["candidates"] = rows
    if not rows:
        out["message"] = ("no parcel passes every rule; parcels removed by each rule: " +
                          ", ".join(f"{k} {v}" for k, v in selection.removed.items() if v))
    if sensitivity and surface.spec.method == "weighted_sum":
        passing = selection.scored[selection.scored.passes]
        sens = weight_sensitivity(passing, surface.spec.weights())
        out["sensitivity"] = sens.sort_values("mc_top", ascending=False).head(10).to_dict(orient="records")
    return out
