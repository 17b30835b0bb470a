"""The site-selection workplace: a form (units, reach, weights, method, required services,
land status), an AHP panel, and the answer as a table and a map. The page asks the same
API a script would (``POST /analysis/site-selection``), so both give one ranking."""

from __future__ import annotations

__all__ = ["site_selection_page", "RULE_LABELS"]

import geopandas as gpd

from maps.i18n import t, vocabulary
from maps.pages import render_page

#: What each selection rule checks, as the answer's ``removed_by_rule`` names it.
RULE_LABELS = {
    "zh": {"outside_surface": "超出评价范围", "capacity": "面积不足（容纳不下安置套数）",
           "constraints": "限制因素排除（超过 5% 面积）", "max_distance": "超过最远距离",
           "land_status": "用地状态不符", "require": "必须满足：{category} 步行 {metres} 米内"},
    "en": {"outside_surface": "outside the scored extent", "capacity": "too small for the units",
           "constraints": "excluded by constraints (over 5% of the parcel)", "max_distance": "beyond the maximum distance",
           "land_status": "land status not selected", "require": "required: {category} within {metres} m walking"},
}
METHOD_LABELS = {"zh": {"weighted_sum": "加权求和", "weighted_product": "加权乘积", "minimum": "取最小值（短板）"},
                 "en": {"weighted_sum": "weighted sum", "weighted_product": "weighted product", "minimum": "minimum"}}


def site_selection_page(areas: gpd.GeoDataFrame, chosen: int | None, spec, *, lang: str = "zh",
                        prefill: dict | None = None) -> str:
    """The form for ``areas`` (``chosen``: the selected area's id), the criteria of ``spec``
    with their weights, and ``prefill`` (units, max_distance, require, run) from a shared link."""
    lang = "en" if lang == "en" else "zh"
    rows = areas.sort_values("name")
    area_options = [{"id": int(i), "name": str(n), "units": int(u) if u == u and u is not None else None}
                     for i, n, u in zip(rows["id"], rows["name"], rows.get("units", [None] * len(rows)), strict=True)]
    weights = spec.weights()
    criteria = [{"name": c.name, "label": (c.label_zh or c.name) if lang == "zh" else c.name.replace("_", " "),
                 "weight": f"{weights[c.name] * 100:.4g}"} for c in spec.criteria]
    text = {k: t(lang, k) for k in TEXT_KEYS}
    config = {"lang": lang, "areas": area_options, "chosen": chosen, "criteria": criteria,
              "categories": vocabulary(lang, "service_category"), "landStatuses": vocabulary(lang, "land_status"), "rules": RULE_LABELS[lang], "text": text,
              "prefill": prefill or {}, "maxDistance": spec.max_distance_m}
    return render_page("site.html", lang=lang, title=t(lang, "site_title"), config=config, criteria=criteria,
                       areas=area_options, chosen=chosen, methods=METHOD_LABELS[lang],
                       land_statuses=vocabulary(lang, "land_status"), categories=vocabulary(lang, "service_category"),
                       max_distance=int(spec.max_distance_m), prefill=prefill or {})


#: Labels the page's script needs (tables, messages, legend).
TEXT_KEYS = ("rank", "candidate", "score", "area_mu_h", "required_mu_h", "to_origin_m", "top_contributions",
             "binding_h", "removed_h", "empty_answer", "emptied_by", "together", "running", "surface",
             "candidates", "origin", "districts", "ranks", "legend_grey", "legend_extent", "constraints",
             "export_geojson", "sensitivity_h", "stable", "ahp_refused", "ahp_ok", "failed", "mu", "areas",
             "parcel_area", "capacity_units", "land_status", "contributions", "site_no_parcels", "ahp_worst")
