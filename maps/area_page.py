"""The page of one renewal area: its services, walking rings, isochrones and nearest lines, the
gaps it has against the life-circle standards, and the what-if controls (``static/whatif.js``)."""

from __future__ import annotations

__all__ = ["area_page"]

from html import escape

import geopandas as gpd

from maps.assets import STATIC_PREFIX
from maps.builders import _areas_layer, _base_layers, _basemaps, _geojson, _render
from maps.i18n import GLYPHS, field_label, t, vocabulary


def area_page(area: gpd.GeoDataFrame, report, rings: gpd.GeoDataFrame,
              isochrones: gpd.GeoDataFrame | None, lines: gpd.GeoDataFrame, *, lang: str = "zh",
              datum: str = "cgcs2000", tianditu_token: str = "", with_planned: bool = False) -> str:
    """One area: services by category (clustered), rings, isochrones, nearest lines, gap panel.

    The panel also holds the what-if controls (behaviour in ``static/whatif.js``): planned
    facilities placed on the map make the server recompute the gaps (before → after, nothing
    saved) and can be saved as plans with an editor token. ``with_planned``: ``report``
    counts the stored plans, and the page keeps counting them (also taken from the page's
    own ``?with_planned=true``)."""
    name = str(area.name.iloc[0])
    gaps = [g for g in (report.gap_zh if lang != "en" else report.gap_en) if isinstance(g, str)]
    categories = vocabulary(lang, "service_category")
    items = "".join(f"<li>{escape(g)}</li>" for g in gaps) or f"<li>{escape(t(lang, 'no_gaps'))}</li>"
    panel = (f'<h4>{escape(name)}</h4><b>{escape(t(lang, "gaps"))}</b><ul class="rn-gaps">{items}</ul>'
             f'{_whatif_panel(lang, categories)}')
    config = {"lang": lang, "datum": datum if datum == "gcj02" else None,
              "text": {k: t(lang, k) for k in ("search", "download", "nothing")},
              "basemaps": _basemaps(lang, datum, tianditu_token),
              "layers": _area_layers(area, rings, isochrones, lines, lang), "panel": panel,
              "legend": [[c, f"{g} {categories[k]}"] for k, (g, c) in GLYPHS.items()],
              "legendTitle": t(lang, "services"),
              "whatif": {"area": int(area.id.iloc[0]), "withPlanned": bool(with_planned),
                         "categories": categories, "glyphs": GLYPHS, "noGaps": t(lang, "no_gaps"),
                         "text": {k: t(lang, k) for k in _WHATIF_TEXT}}}
    html = _render(config, name, rings.to_crs(4326).total_bounds)
    # After folium's script (which starts renewalInit): whatif.js waits for the map's controls.
    head, end, tail = html.rpartition("</html>")
    return f'{head}<script src="{STATIC_PREFIX}/whatif.js"></script>\n{end}{tail}'


#: The what-if script's texts (static/whatif.js), by key.
_WHATIF_TEXT = ("wi_resolved", "wi_planned", "wi_unsaved", "wi_saved", "wi_delete", "wi_saved_n",
                "wi_deleted", "wi_need_token", "wi_no_role", "wi_failed", "wi_busy", "wi_count",
                "wi_with_planned", "wi_not_saved", "wi_show_saved")


def _whatif_panel(lang: str, categories: dict[str, str]) -> str:
    """The what-if controls of an area's panel: add a facility (category), status, save with a
    token, the before/after table."""
    def label(key: str) -> str:
        return escape(t(lang, key))

    options = "".join(f'<option value="{escape(c)}">{escape(text)}</option>' for c, text in categories.items())
    heads = "".join(f"<th>{label(k)}</th>" for k in ("wi_facility", "wi_walk", "wi_meets", "wi_gap"))
    return (
        f'<div class="rn-whatif"><button type="button" class="rn-wi-add">{label("wi_add")}</button>'
        '<div class="rn-wi-pick" hidden>'
        f'<label for="rn-wi-category">{label("wi_category")}</label> '
        f'<select id="rn-wi-category">{options}</select>'
        f'<div class="rn-wi-hint">{label("wi_hint")}</div></div>'
        '<div class="rn-wi-status" role="status" aria-live="polite"></div>'
        f'<div class="rn-wi-save" hidden><label for="rn-wi-token">{label("wi_token")}</label> '
        '<input id="rn-wi-token" type="password" autocomplete="current-password"> '
        f'<button type="button" class="rn-wi-save-btn">{label("wi_save")}</button></div>'
        f'<details class="rn-wi-compare" open hidden><summary>{label("wi_compare")}</summary>'
        f'<table class="rn-wi-table"><thead><tr>{heads}</tr></thead><tbody></tbody></table>'
        '</details></div>')


def _area_layers(area: gpd.GeoDataFrame, rings: gpd.GeoDataFrame, isochrones: gpd.GeoDataFrame | None,
                 lines: gpd.GeoDataFrame, lang: str) -> list[dict]:
    """An area page's layers: the base layers, isochrones (when any), rings, nearest lines,
    services by view, the area itself."""
    services = {"id": "services", "title": t(lang, "services"), "url": "/maps/data/services", "byView": True,
                "cluster": True, "glyphField": "category", "glyphs": GLYPHS,
                "popup": [["category", field_label(lang, "services", "category")],
                          ["capacity", field_label(lang, "services", "capacity")]],
                "labels": {"category": vocabulary(lang, "service_category")}}
    layers = [*_base_layers(lang)]
    if isochrones is not None and len(isochrones):
        layers.append({"id": "isochrones", "title": t(lang, "isochrones"), "geojson": _geojson(isochrones),
                       "style": {"color": "#6a51a3", "weight": 1, "fillOpacity": 0.12},
                       "popup": [["threshold_m", "m"]], "titleField": "threshold_m"})
    return layers + [
        {"id": "rings", "title": t(lang, "rings"), "geojson": _geojson(rings), "download": False,
         "style": {"color": "#08519c", "weight": 1.5, "fill": False, "dashArray": "6 4"}, "titleField": "radius_m"},
        {"id": "nearest_lines", "title": t(lang, "nearest"), "geojson": _geojson(lines),
         "style": {"color": "#cb181d", "weight": 2, "opacity": 0.8}, "tooltipField": "label"},
        services,
        {"id": "area", "title": str(area.name.iloc[0]), "geojson": _geojson(area),
         "style": {"color": "#000", "weight": 3, "fillColor": "#fd8d3c", "fillOpacity": 0.35},
         "popup": _areas_layer(lang)["popup"], "labels": _areas_layer(lang)["labels"]},
    ]
