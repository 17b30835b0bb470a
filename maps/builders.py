"""Folium pages for planners. Builders take ready data (layers, reports, selections) and
render HTML; no analysis happens here. Large layers are not embedded: the page loads them
from the API by view."""

from __future__ import annotations

__all__ = ["overview_page", "targets_page", "STATIC_PREFIX"]

import json
import math
import re
from collections.abc import Callable
from html import escape
from urllib.parse import urlencode

import geopandas as gpd
import numpy as np

from maps.assets import (
    BASE_SCRIPTS,
    BASE_STYLES,
    STATIC_PREFIX,
    TILE_SCRIPTS,
    asset_url,
    bundle_url,
)
from maps.i18n import STATUS_COLORS, field_label, t, vocabulary
from maps.skeleton import folium_page

#: What a page writes into its HTML at most (uncompressed), the layers it draws first before
#: the others: a plain folium page with 1,000 parcels embeds 0.44 MB.
INLINE_BYTES = 768 * 1024
#: The window an opening view's inlined data is cut for (CSS pixels): a screen bigger than
#: this asks for its own box, as without inlining.
INLINE_VIEW = (1920, 1200)

#: ``inline(layer, params)``: the bytes of the ``/maps/data/{layer}`` answer for ``params``
#: (the query the page would send), or None when the page should ask for it itself.
Inline = Callable[[str, dict], bytes | None]


def _basemaps(lang: str, datum: str, tianditu_token: str = "") -> list[dict]:
    local = {"name": t(lang, "local"), "url": None}
    if datum == "gcj02":
        return [{"name": t(lang, "amap"), "subdomains": "1234", "attribution": "© 高德地图 AutoNavi",
                 "url": "https://webrd0{s}.is.autonavi.com/appmaptile?lang=zh_cn&size=1&scale=1&style=8&x={x}&y={y}&z={z}"},
                local]
    out = [local, {"name": t(lang, "osm"), "url": "https://{s}.tile.openstreetmap.org/{z}/{x}/{y}.png",
                   "attribution": "© OpenStreetMap contributors"}]
    if tianditu_token:
        out.append({"name": t(lang, "tianditu"), "subdomains": "01234567", "attribution": "© 天地图",
                    "url": "https://t{s}.tianditu.gov.cn/vec_w/wmts?SERVICE=WMTS&REQUEST=GetTile&VERSION=1.0.0"
                           "&LAYER=vec&STYLE=default&TILEMATRIXSET=w&FORMAT=tiles&TILEMATRIX={z}&TILEROW={y}"
                           f"&TILECOL={{x}}&tk={tianditu_token}"})
    return out


def _render(config: dict, title: str, bounds, inline: Inline | None = None) -> str:
    (x0, y0, x1, y1) = bounds
    layers = config.get("layers", [])
    cluster = any(spec.get("cluster") for spec in layers)
    # Leaflet.VectorGrid and tiles.js when the first view draws tiles; else renewal.js loads them when needed.
    tiles = any(spec.get("tiles") and spec.get("visible") is not False and (config.get("zoom") or 0) >= spec["minZoom"]
                for spec in layers)
    # Versioned URLs (maps.assets): the browser may keep each file for good.
    config["vectorgrid"] = bundle_url(TILE_SCRIPTS)
    # Only the libraries the page's layers use: each is a request before the first draw.
    # Leaflet and ours as one script and one style sheet (maps.assets); plugins after them.
    scripts = [("renewal", bundle_url(BASE_SCRIPTS)),
               *([("markercluster", asset_url("vendor/markercluster/leaflet.markercluster.js"))] if cluster else []),
               *([("vectorgrid", config["vectorgrid"])] if tiles else [])]
    styles = [("renewal_css", bundle_url(BASE_STYLES)),
              *([("markercluster_css", asset_url("vendor/markercluster/MarkerCluster.css")),
                 ("markercluster_default_css", asset_url("vendor/markercluster/MarkerCluster.Default.css"))]
                if cluster else [])]
    # Made at the opening view when the page has one (no view change before the first draw).
    page = folium_page(title, ((y0 + y1) / 2, (x0 + x1) / 2), config.get("zoom") or 12, scripts, styles)
    config["fit"] = [[y0, x0], [y1, x1]]
    for spec in layers:
        if spec.get("url"):
            spec["query"] = urlencode(_data_params(spec, config.get("datum")), safe=",")
    data = _inline_data(config, bounds, inline) if inline else ""
    # Before the libraries load: the layers' data not in the page is asked for at once (renewal.js takes it).
    text = re.sub(r"<(/script|!--)", r"<\\\1", json.dumps(config, ensure_ascii=False, default=_plain), flags=re.I)
    # Added to folium's output, not as a folium Element: an Element is a Jinja template, and
    # compiling 0.3 MB of data as one took 19 ms of the page's 23.
    # The config before folium's <script src> elements (after the title): its requests start
    # while they load. The data at the end of the body: before the libraries, tokenizing it
    # held back their requests by 30–50 ms (the preload scanner looks ahead only while the
    # parser waits).
    # Drawn as soon as folium's script has made the map, the last thing in the page: on
    # DOMContentLoaded it waited for a layout of the empty map first (1,000 parcels: 10–15 ms).
    init = f"renewalInit({page.map_name}, RENEWAL_CONFIG);\n"
    return (f"{page.head}\n<script>var RENEWAL_CONFIG = {text};\n{_PREFETCH_JS}</script>{page.body}{data}"
            f"{page.tail}{init}{page.after}")


def _data_params(spec: dict, datum: str | None) -> dict:
    """The query of a layer's ``/maps/data`` URL but its box: the limit and only the properties
    the page shows (popup, title, tooltip, style, glyph, labels and symbols)."""
    fields = [p[0] for p in spec.get("popup", [])]
    symbols = spec.get("symbols") or {}
    for f in (spec.get("titleField", "name"), spec.get("tooltipField"), (spec.get("styleBy") or {}).get("field"),
              spec.get("glyphField"), spec.get("labelField"), symbols.get("sizeField"), symbols.get("labelField")):
        if f:
            fields.append(f)
    query = {"limit": spec.get("limit", 5000)}
    if datum:
        query["datum"] = datum
    if spec.get("popup") or spec.get("tooltipField") or spec.get("styleBy") or spec.get("labelField"):
        query["properties"] = ",".join(dict.fromkeys(fields))
    return query


def _opening_box(config: dict, bounds) -> list[float]:
    """The box an ``INLINE_VIEW`` window sees when the page opens (lon/lat): at ``zoom`` on the
    middle of ``bounds`` as renewal.js places it, padded as Leaflet pads a view; else (the page
    fits ``bounds``) ``bounds`` with half their size again on every side."""
    x0, y0, x1, y1 = (float(v) for v in bounds)
    if not config.get("zoom"):
        w, h = (x1 - x0) / 2, (y1 - y0) / 2
        return [x0 - w, y0 - h, x1 + w, y1 + h]
    size = 256 * 2 ** config["zoom"]
    # Leaflet's centre of the bounds: the middle in latitude (its LatLngBounds.getCenter).
    lng, lat = (x0 + x1) / 2, math.radians((y0 + y1) / 2)
    px = size * (0.5 + lng / 360)
    py = size * (0.5 - math.log((1 + math.sin(lat)) / (1 - math.sin(lat))) / (4 * math.pi))
    half_w, half_h = INLINE_VIEW[0] / 2 + 16, INLINE_VIEW[1] / 2 + 16

    def lonlat(x: float, y: float) -> tuple[float, float]:
        return (x / size - 0.5) * 360, math.degrees(2 * math.atan(math.exp((0.5 - y / size) * 2 * math.pi)) - math.pi / 2)

    (w, s), (e, n) = lonlat(px - half_w, py + half_h), lonlat(px + half_w, py - half_h)
    # A window wide enough to see past ±180° (zoom 3, 4 on a city) is cut there: lon/lat range.
    return [max(w, -180.0), max(s, -90.0), min(e, 180.0), min(n, 90.0)]


def _inline_data(config: dict, bounds, inline: Inline) -> str:
    """The first view's data written into the page (``<script type="application/json">``, one
    per layer), so the first draw waits for no request: the layers loaded by view with a
    minimum zoom (the detail the view is about: parcels) first, then the others, while they
    fit in ``INLINE_BYTES``; a layer loaded by view holds the features of
    :func:`_opening_box`. Each spec gets ``inline``: the element's id and that box (null:
    the whole layer)."""
    box = _opening_box(config, bounds)
    first = [s for s in config["layers"] if s.get("url") and s.get("visible") is not False
             and not (s.get("minZoom") and (config.get("zoom") or 0) < s["minZoom"])]
    first.sort(key=lambda s: not (s.get("byView") and s.get("minZoom")))
    left, out = INLINE_BYTES, []
    for spec in first:
        params = _data_params(spec, config.get("datum"))
        if spec.get("byView"):
            params["bbox"] = ",".join(f"{v:.6f}" for v in box)
        body = inline(spec["url"].rsplit("/", 1)[-1], params)
        if body is None or len(body) > left:
            continue
        left -= len(body)
        element = f"rn-inline-{spec['id']}"
        spec["inline"] = {"element": element, "box": [float(v) for v in params["bbox"].split(",")]
                          if spec.get("byView") else None}
        # "<" only occurs inside JSON strings, where \u003c reads the same: no "</script>" ends the element early.
        text = body.decode().replace("<", "\\u003c")
        out.append(f'<script type="application/json" id="{element}">{text}</script>')
    return "".join(out)


#: Runs in the page's head, before Leaflet loads: asks for every GeoJSON layer the first view
#: draws and the page does not carry (those loaded by view only when the page opens at a given zoom: their box is the
#: window's at that zoom, padded by 16 px, as Leaflet will compute it), so that the data comes
#: while the libraries load. renewal.js takes a prefetched answer whose box holds its view.
_PREFETCH_JS = """(function (C) {
  var P = window.RENEWAL_PREFETCH = {}, box = null;
  if (C.zoom && C.fit) {
    var s = 256 * Math.pow(2, C.zoom), d = Math.PI / 180, lat = (C.fit[0][0] + C.fit[1][0]) / 2;
    var lng = (C.fit[0][1] + C.fit[1][1]) / 2, sin = Math.sin(lat * d);
    var x = s * (0.5 + lng / 360), y = s * (0.5 - Math.log((1 + sin) / (1 - sin)) / (4 * Math.PI));
    var w = document.documentElement.clientWidth / 2 + 16, h = document.documentElement.clientHeight / 2 + 16;
    var ll = function (px, py) { return [(px / s - 0.5) * 360, (2 * Math.atan(Math.exp((0.5 - py / s) * 2 * Math.PI)) - Math.PI / 2) / d]; };
    var sw = ll(x - w, y + h), ne = ll(x + w, y - h);
    box = [Math.max(sw[0], -180), Math.max(sw[1], -90), Math.min(ne[0], 180), Math.min(ne[1], 90)];
  }
  (C.layers || []).forEach(function (spec) {
    if (!spec.url || spec.visible === false || (spec.byView && (!box || (spec.minZoom && C.zoom < spec.minZoom)))) return;
    var inl = spec.inline;  /* in the page already (for a view inside its box) */
    if (inl && (!inl.box || (box && box[0] >= inl.box[0] && box[1] >= inl.box[1] && box[2] <= inl.box[2] && box[3] <= inl.box[3]))) return;
    var url = spec.url + "?" + spec.query;
    if (spec.byView) url += "&bbox=" + box.map(function (v) { return v.toFixed(6); }).join(",");
    P[spec.id] = {box: spec.byView ? box : null, data: fetch(url, {priority: "high"}).then(function (r) {
      if (!r.ok) throw new Error(url + " → " + r.status);
      return r.json();
    })};
  });
})(RENEWAL_CONFIG);"""


def _plain(v):
    if isinstance(v, np.generic):
        return v.item()
    raise TypeError(type(v))


def _geojson(frame: gpd.GeoDataFrame) -> dict:
    frame = frame.to_crs(4326)
    return json.loads(frame.to_json(na="null", drop_id=False))


def _areas_layer(lang: str, fit: bool = True, visible: bool = True, symbols: bool = False) -> dict:
    """The renewal areas layer; with ``symbols``, areas too small to see at the current zoom
    are drawn as circles sized by households (sqrt scale) with their names, until the polygon
    is ``minPx`` across (renewal.js computes the points from the loaded features)."""
    kind = "renewal_areas"
    spec = {
        "id": "renewal_areas", "title": t(lang, "areas"), "url": "/maps/data/renewal_areas", "fit": False,
        "visible": visible, "style": {"weight": 2, "fillOpacity": 0.55, "color": "#333"},
        "styleBy": {"field": "status", "colors": STATUS_COLORS, "stroke": "#333"},
        "popup": [["county", field_label(lang, kind, "county")], ["kind", field_label(lang, kind, "kind")],
                  ["households", field_label(lang, kind, "households")], ["units", field_label(lang, kind, "units")],
                  ["area_mu", field_label(lang, kind, "area_mu").split("(")[0], t(lang, "mu")],
                  ["status", field_label(lang, kind, "status")], ["plan_year", field_label(lang, kind, "plan_year")]],
        "labels": {"kind": vocabulary(lang, "renewal_kind"), "status": vocabulary(lang, "renewal_status")},
        "link": f"/maps/areas/{{id}}?lang={lang}", "linkLabel": t(lang, "area_link"),
        "tooltipField": "name", "onLoad": "search",
    }
    if symbols:
        spec["symbols"] = {"sizeField": "households", "labelField": "name", "radius": [4, 18],
                           "minPx": 12}
    return spec


def _base_layers(lang: str) -> list[dict]:
    return [
        {"id": "districts", "title": t(lang, "districts"), "url": "/maps/data/districts", "download": False,
         "style": {"color": "#555", "weight": 1.5, "fill": False, "dashArray": "4 3"},
         "popup": [["city", field_label(lang, "districts", "city")]]},
        {"id": "roads", "title": t(lang, "roads"), "url": "/maps/data/roads", "byView": True, "minZoom": 15,
         "tileMinZoom": 15, "download": False, "style": {"color": "#bbb", "weight": 1}},
    ]


def _tiled(spec: dict, tileset: dict) -> dict:
    """``spec`` drawn from the layer's vector tiles (``/collections/{id}/tiles/WebMercatorQuad``)
    from the tileset's lowest zoom on (``tileset``: ``minZoom``, ``geometry``), instead of
    GeoJSON by view."""
    out = {k: v for k, v in spec.items() if k not in ("url", "byView", "tileMinZoom")}
    out["minZoom"] = max(tileset["minZoom"], spec.get("tileMinZoom", 0))  # roads: city views stay clear
    out["tiles"] = {"url": f"/collections/{spec['id']}/tiles/WebMercatorQuad/{{z}}/{{y}}/{{x}}", "layer": spec["id"],
                    "geometry": tileset["geometry"], "features": tileset.get("features")}
    return out


def overview_page(bounds, *, lang: str = "zh", datum: str = "cgcs2000", tianditu_token: str = "",
                  show: tuple[str, ...] = (), zoom: int | None = None, tiled: dict[str, dict] | None = None,
                  tile_slots: int = 2, inline: Inline | None = None) -> str:
    """Districts (named), renewal areas by status, parcels by view, legend, search, layer control.

    Areas too small to see are drawn as circles sized by households with their names;
    ``?focus=ID`` in the page's URL flies to that area and opens its popup. ``show`` turns on
    layers hidden by default (``parcels``); ``zoom`` opens at that zoom on the centre of
    ``bounds`` (for shared links). ``tiled``: the layers loaded by view that are drawn from
    vector tiles instead (big ones), each with its tileset's ``minZoom`` and ``geometry``
    (polygon, line); below that zoom (roads: below 15) they are not drawn, and the page says
    to zoom in to see the parcels. ``tile_slots``: tiles asked for at once (about what the
    server encodes in parallel), the view's middle first. ``inline``: the first view's data
    written into the page (see :func:`_inline_data`; None: the page asks for every layer)."""
    parcels = {"id": "parcels", "title": t(lang, "parcels"), "url": "/maps/data/parcels", "byView": True,
               "minZoom": 13, "visible": False, "hint": True,
               "style": {"color": "#2b8cbe", "weight": 1, "fillOpacity": 0.2},
               "popup": [["land_status", field_label(lang, "parcels", "land_status")],
                         ["area_mu", field_label(lang, "parcels", "area_mu").split("(")[0], t(lang, "mu")],
                         ["max_far", field_label(lang, "parcels", "max_far")]],
               "labels": {"land_status": vocabulary(lang, "land_status")}}
    if "parcels" in show:
        parcels["visible"] = True
    statuses = vocabulary(lang, "renewal_status")
    # District names at each district's interior point (computed client-side, no extra request);
    # by view: the layer holds every district of the country (the sample: two cities 1,200 km
    # apart, 0.58 MB), the view needs a city's.
    base = [{**spec, "labelField": "name", "byView": True} if spec["id"] == "districts" else spec
            for spec in _base_layers(lang)]
    panel = (f'<h4>{escape(t(lang, "overview"))}</h4><a href="?basemap=amap&lang={lang}">{escape(t(lang, "amap_mode"))}</a>'
             if datum != "gcj02" else f'<h4>{escape(t(lang, "overview"))}</h4><a href="?lang={lang}">{escape(t(lang, "local"))}</a>')
    layers = [*base, parcels, _areas_layer(lang, symbols=True)]
    layers = [_tiled(spec, tiled[spec["id"]]) if spec.get("byView") and spec["id"] in (tiled or {}) else spec
              for spec in layers]
    config = {"lang": lang, "datum": datum if datum == "gcj02" else None,
              "text": {k: t(lang, k) for k in ("search", "download", "nothing", "zoom_hint")},
              "basemaps": _basemaps(lang, datum, tianditu_token),
              "layers": layers,
              "legend": [[STATUS_COLORS[k], v] for k, v in statuses.items()], "legendTitle": t(lang, "status"),
              "legendNote": t(lang, "symbol_note"), "search": {"field": "name"}, "panel": panel,
              "zoom": zoom, "focus": {"layer": "renewal_areas", "param": "focus"}, "tileSlots": tile_slots}
    return _render(config, t(lang, "overview"), bounds, inline)


def targets_page(districts: gpd.GeoDataFrame, values: dict[str, float], unmatched: dict[str, float], metric_label: str,
                 *, lang: str = "zh", title: str = "") -> str:
    """Choropleth of a target metric by district, with unmatched regions listed beside the map."""
    d = districts.copy()
    d["value"] = d["name"].map(values)
    finite = [v for v in values.values() if v is not None]
    vmax = max(finite) if finite else 1.0
    breaks = [0, vmax * 0.25, vmax * 0.5, vmax * 0.75, vmax]
    colors = ["#f7fbff", "#c6dbef", "#6baed6", "#2171b5", "#08306b"]
    d["class"] = [("none" if v is None or v != v else str(int(np.digitize(v, breaks[1:-1])))) for v in d["value"]]
    style = {str(i): c for i, c in enumerate(colors[1:])}
    layers = [{"id": "choropleth", "title": metric_label, "geojson": _geojson(d),
               "style": {"color": "#333", "weight": 1, "fillOpacity": 0.75},
               "styleBy": {"field": "class", "colors": style, "other": "#eeeeee", "stroke": "#333"},
               "popup": [["value", metric_label]], "tooltipField": "name"}]
    panel = f"<h4>{escape(title)}</h4><b>{escape(t(lang, 'unmatched'))}</b><ul>" + "".join(
        f"<li>{escape(k)}: {v:,.0f}</li>" for k, v in unmatched.items()) + "</ul>"
    legend = [[style[str(i)], f"{breaks[i]:,.0f} – {breaks[i + 1]:,.0f}"] for i in range(4)] + [["#eeeeee", "—"]]
    config = {"lang": lang, "datum": None, "text": {k: t(lang, k) for k in ("search", "download", "nothing")},
              "basemaps": [{"name": t(lang, "local"), "url": None}], "layers": layers, "panel": panel,
              "legend": legend, "legendTitle": metric_label}
    return _render(config, title, d.to_crs(4326).total_bounds)
