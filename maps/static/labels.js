/* renewal-gis map labels: names of places (districts) and symbols of small areas (a circle
   sized by a field, with a permanent name label) until the zoom makes their polygon visible.
   Label and symbol points are computed from the features already loaded, so the page makes no
   request per feature. Loaded before renewal.js (maps.assets.BASE_SCRIPTS), which calls
   window.renewalLabels with its esc, styleFor and popupHtml. */
(function () {
  "use strict";
  window.renewalLabels = function (R) {
    /* A point inside a (multi)polygon, as GEOS's interior point does it: the midpoint of the
       widest stretch of the horizontal line through the middle of the polygon's extent. The
       centre of the extent can fall outside an L- or U-shaped district. [lat, lng] or null. */
    function interiorPoint(geometry) {
      if (!geometry) return null;
      if (geometry.type === "Point") return [geometry.coordinates[1], geometry.coordinates[0]];
      var polygons = geometry.type === "Polygon" ? [geometry.coordinates]
        : geometry.type === "MultiPolygon" ? geometry.coordinates : [];
      var best = null, widest = -1;
      polygons.forEach(function (rings) {
        var lo = Infinity, hi = -Infinity, xs = [];
        rings[0].forEach(function (c) { lo = Math.min(lo, c[1]); hi = Math.max(hi, c[1]); });
        var y = (lo + hi) / 2;
        rings.forEach(function (ring) {
          for (var i = 1; i < ring.length; i++) {
            var a = ring[i - 1], b = ring[i];
            if ((a[1] > y) !== (b[1] > y)) xs.push(a[0] + (y - a[1]) * (b[0] - a[0]) / (b[1] - a[1]));
          }
        });
        xs.sort(function (p, q) { return p - q; });
        for (var j = 0; j + 1 < xs.length; j += 2) {
          if (xs[j + 1] - xs[j] > widest) {
            widest = xs[j + 1] - xs[j]; best = [y, (xs[j] + xs[j + 1]) / 2];
          }
        }
      });
      return best;
    }
    /* Labels of places (districts) and symbols of small areas, rebuilt after each load. */
    function decorate(map, group) {
      var spec = group._rnSpec, sym = spec.symbols, extras = group._rnExtras, max = 0;
      extras.clearLayers(); group._rnSymbols = [];
      if (sym) {
        group._rnGeo.eachLayer(function (l) { max = Math.max(max, +l.feature.properties[sym.sizeField] || 0); });
      }
      group._rnGeo.eachLayer(function (layer) {
        var f = layer.feature, at = interiorPoint(f.geometry);
        if (!at) return;
        if (spec.labelField && f.properties[spec.labelField] != null) {
          extras.addLayer(L.tooltip(at, {direction: "center", className: "rn-place", pane: "rnPlaces"})
            .setContent(R.esc(f.properties[spec.labelField])));
        }
        if (!sym) return;
        var value = +f.properties[sym.sizeField] || 0;
        /* sqrt scale: the circle's area is proportional to the value */
        var radius = Math.max(sym.radius[0], sym.radius[1] * Math.sqrt(max ? value / max : 0));
        var marker = L.circleMarker(at, {radius: radius, color: "#fff", weight: 1.5, opacity: 1,
                                         fillColor: R.styleFor(spec)(f).fillColor, fillOpacity: 0.9});
        marker._rnPolygon = layer; marker._rnRank = value;
        if (spec.popup) marker.bindPopup(R.popupHtml(f.properties, spec), {maxWidth: 360});
        marker.bindTooltip(R.esc(f.properties[sym.labelField]), {permanent: true, interactive: true,
                                                               direction: "right", offset: [radius, 0],
                                                               className: "rn-label"});
        marker.on("mouseover mouseout", function (e) {
          var el = marker.getTooltip().getElement();
          if (el) el.classList.toggle("rn-label-hover", e.type === "mouseover");
        });
        group._rnSymbols.push(marker);
      });
      group.addLayer(extras);
      symbolize(map, group);
    }
    /* The symbol while its area's polygon is smaller on screen than ``minPx`` or than the symbol
       itself (a circle never turns into a smaller shape), else the polygon. The speck under a
       symbol is made transparent (it stays on the map: search and popups still find it). */
    function symbolize(map, group) {
      var sym = group._rnSpec.symbols, extras = group._rnExtras, geo = group._rnGeo;
      if (!sym) return;
      group._rnSymbols.forEach(function (m) {
        var poly = m._rnPolygon, b = poly.getBounds();
        var a = map.latLngToLayerPoint(b.getNorthWest()), c = map.latLngToLayerPoint(b.getSouthEast());
        var small = Math.max(c.x - a.x, c.y - a.y) < Math.max(sym.minPx, 2 * m.getRadius());
        if (small && !extras.hasLayer(m)) {
          extras.addLayer(m); poly.setStyle({opacity: 0, fillOpacity: 0});
        } else if (!small && extras.hasLayer(m)) {
          extras.removeLayer(m); geo.resetStyle(poly);
        }
      });
      declutter(map, group);
    }
    /* Hide the labels that would overlap a label of a larger area (by the symbol's size field)
       or a map control; a hidden label shows while the pointer is over its symbol. */
    function declutter(map, group) {
      var controls = map.getContainer().querySelectorAll(".leaflet-control");
      var placed = Array.prototype.map.call(controls, function (c) { return c.getBoundingClientRect(); });
      group._rnSymbols
        .filter(function (m) { return group._rnExtras.hasLayer(m) && m.getTooltip().getElement(); })
        .sort(function (a, b) { return b._rnRank - a._rnRank; })
        .forEach(function (m) {
          var el = m.getTooltip().getElement(), r = el.getBoundingClientRect();
          var hit = placed.some(function (p) {
            return r.left < p.right + 2 && r.right + 2 > p.left && r.top < p.bottom && r.bottom > p.top;
          });
          el.classList.toggle("rn-label-hidden", hit);
          if (!hit) placed.push(r);
        });
    }
    return {decorate: decorate, symbolize: symbolize};
  };
})();
