/* renewal-gis map behaviour: one page config (window RENEWAL_CONFIG) drives layers loaded
   by view from our own API, popups, legend, search, layer control and downloads. No request
   leaves the server unless the user picks an online basemap.
   Small areas are drawn as symbols and places get name labels (labels.js, loaded before this).
   A big layer (spec.tiles) is drawn from our vector tiles (OGC API – Tiles; tiles.js on Leaflet.VectorGrid)
   from the tileset's lowest zoom on, with a hint to zoom in below it; small layers stay GeoJSON.
   A layer loaded by view asks again only when the view leaves what it already holds. */
(function () {
  "use strict";
  function esc(v) {
    return String(v).replace(/[&<>"']/g, function (c) { return {"&": "&amp;", "<": "&lt;", ">": "&gt;", '"': "&quot;", "'": "&#39;"}[c]; });
  }
  function fmt(v) {
    if (v === null || v === undefined || v === "") return "—";
    if (typeof v === "number") {
      if (Number.isInteger(v) && Math.abs(v) < 10000) return String(v);  /* years, counts */
      return Math.abs(v) >= 1000 ? v.toLocaleString("zh-CN", {maximumFractionDigits: 2}) : String(Math.round(v * 100) / 100);
    }
    if (typeof v === "boolean") return v ? "✓" : "✗";
    return esc(v);
  }
  function popupHtml(props, spec) {
    var rows = (spec.popup || []).map(function (p) {
      var value = props[p[0]];
      if (spec.labels && spec.labels[p[0]] && spec.labels[p[0]][value]) value = spec.labels[p[0]][value];
      if (p[2]) value = fmt(value) + " " + p[2]; else value = fmt(value);
      return "<tr><td>" + esc(p[1]) + "</td><td>" + value + "</td></tr>";
    }).join("");
    var title = props[spec.titleField || "name"];
    var link = spec.link ? '<div><a href="' + spec.link.replace("{id}", encodeURIComponent(props.__id)) + '">' + esc(spec.linkLabel) + "</a></div>" : "";
    var extra = props.__html || "";
    return '<div class="rn-popup"><b>' + fmt(title) + "</b><table>" + rows + "</table>" + extra + link + "</div>";
  }
  function styleFor(spec) {
    return function (feature) {
      var s = Object.assign({}, spec.style || {});
      if (spec.styleBy) {
        var v = feature.properties[spec.styleBy.field];
        s.fillColor = s.color = spec.styleBy.colors[v] || spec.styleBy.other || "#888";
        if (spec.styleBy.stroke) s.color = spec.styleBy.stroke;
      }
      return s;
    };
  }
  function iconFor(spec, props) {
    if (spec.rankField) return L.divIcon({className: "", html: '<div class="rn-rank">' + esc(props[spec.rankField]) + "</div>", iconSize: [30, 30]});
    var g = (spec.glyphs || {})[props[spec.glyphField]] || ["•", "#555"];
    return L.divIcon({className: "", html: '<div class="rn-icon" style="background:' + g[1] + '">' + esc(g[0]) + "</div>", iconSize: [24, 24]});
  }
  var labels = window.renewalLabels({esc: esc, styleFor: styleFor, popupHtml: popupHtml});
  /* A big layer from vector tiles: canvas tiles (styled as the GeoJSON version, same popups) in
     their own pane under the GeoJSON overlays; the grid is on the map only from the tileset's
     lowest zoom (spec.minZoom) on. */
  function makeTiled(spec, C, map) {
    var group = L.layerGroup();
    group._rnSpec = spec; group._rnFeatures = [];
    group._rnMake = function () {
      group._rnGrid = window.renewalGrid(spec, C, map, {styleFor: styleFor, popupHtml: popupHtml, drawn: drawn, loaded: loaded});
    };
    return group;
  }
  /* Leaflet.VectorGrid and our grid on it (tiles.js, one file: C.vectorgrid), loaded with the
     page when its first view draws tiles, else here once. */
  function withVectorGrid(C, then) {
    if (window.renewalGrid) { then(); return; }
    if (!C._vgWaiting) {
      C._vgWaiting = [];
      var s = document.createElement("script");
      s.src = C.vectorgrid;
      s.onload = function () { C._vgWaiting.forEach(function (f) { f(); }); C._vgWaiting = []; };
      document.head.appendChild(s);
    }
    C._vgWaiting.push(then);
  }
  /* Tiles below the tileset's lowest zoom would be empty: take the grid off instead. */
  function placeGrid(map, group, C) {
    var on = map.hasLayer(group) && map.getZoom() >= group._rnSpec.minZoom;
    if (on && !group._rnGrid) {
      withVectorGrid(C, function () {
        if (!group._rnGrid) group._rnMake();
        placeGrid(map, group, C);
      });
      return;
    }
    if (on && !group.hasLayer(group._rnGrid)) group.addLayer(group._rnGrid);
    else if (!on && group._rnGrid && group.hasLayer(group._rnGrid)) group.removeLayer(group._rnGrid);
  }
  /* "Zoom in to see …" while a layer that is on shows nothing at this zoom. */
  function hints(map, overlays, C) {
    var box = map.getContainer().querySelector(".rn-zoom-hint");
    if (!box) return;
    var titles = overlays.filter(function (g) {
      var spec = g._rnSpec;
      return spec.hint && spec.minZoom && map.hasLayer(g) && map.getZoom() < spec.minZoom;
    }).map(function (g) { return g._rnSpec.title; });
    box.textContent = titles.length ? (C.text.zoom_hint || "{layers}").replace("{layers}", titles.join(C.lang === "en" ? ", " : "、")) : "";
    box.hidden = !titles.length;
  }
  function drawn(C) {
    if (C.firstDrawn) return;
    C.firstDrawn = performance.now(); document.body.setAttribute("data-first-drawn", String(C.firstDrawn));
  }
  function loaded(C, spec, n) {
    C.loaded[spec.id] = n;
    document.body.setAttribute("data-loaded-" + spec.id, String(n));
  }
  function makeLayer(spec, C, map) {
    if (spec.tiles) return makeTiled(spec, C, map);
    var opts = {style: styleFor(spec), onEachFeature: function (f, layer) {
      f.properties.__id = f.id;
      /* Markers keep their own popup (Enter on a focused marker opens it, a second click closes it). */
      if (spec.popup && layer instanceof L.Marker) layer.bindPopup(function () { return popupHtml(f.properties, spec); }, {maxWidth: 360});
      if (spec.tooltipField) layer.bindTooltip(esc(f.properties[spec.tooltipField]), {sticky: true});
    }};
    if (spec.glyphField || spec.rankField) opts.pointToLayer = function (f, latlng) { return L.marker(latlng, {icon: iconFor(spec, f.properties)}); };
    else opts.pointToLayer = function (f, latlng) { return L.circleMarker(latlng, Object.assign({radius: 5}, styleFor(spec)(f))); };
    var geo = L.geoJSON(null, opts);
    if (spec.popup) geo.on("click", function (e) {
      if (e.layer.getPopup()) return;  /* a marker's own */
      L.DomEvent.stop(e);  /* as a bound popup does: the map's own click handlers do not see it */
      featurePopup(map, e.layer, spec, e.latlng);
    });
    var holder = spec.cluster && L.markerClusterGroup ? L.markerClusterGroup({disableClusteringAtZoom: 17, chunkedLoading: true}) : null;
    if (holder) { holder.addLayer(geo); }
    var extras = null;
    if (!holder && (spec.symbols || spec.labelField)) {  /* labels and symbols beside the features */
      extras = L.layerGroup(); holder = L.featureGroup([geo, extras]);
    }
    var group = holder || geo;
    group._rnSpec = spec; group._rnGeo = geo; group._rnFeatures = [];
    group._rnExtras = extras; group._rnSymbols = [];
    return group;
  }
  /* A feature's popup, made when it is asked for: one bound to each feature was a tenth of
     the first draw (1,000 parcels: 1,000 popups and their handlers, before any was opened). */
  function featurePopup(map, layer, spec, latlng) {
    if (!spec.popup || !map.hasLayer(layer)) return;  /* a layer switched off: as openPopup() did */
    if (layer.getPopup()) { layer.openPopup(); return; }
    var at = latlng || (layer.getCenter ? layer.getCenter() : layer.getLatLng());
    L.popup({maxWidth: 360}).setLatLng(at).setContent(popupHtml(layer.feature.properties, spec)).openOn(map);
  }
  /* ?focus=ID (the parameter named by config.focus.param): fly to that feature, open its popup. */
  function focusFeature(map, group, C) {
    if (C.focused) return;
    C.focused = true;
    var want = new URLSearchParams(window.location.search).get(C.focus.param), hit = null;
    if (!want) return;
    group._rnGeo.eachLayer(function (l) { if (String(l.feature.id) === want) hit = l; });
    if (!hit) { document.body.setAttribute("data-focused", "none"); return; }
    map.once("moveend", function () {
      featurePopup(map, hit, group._rnSpec); document.body.setAttribute("data-focused", want);
    });
    map.flyToBounds(hit.getBounds(), {maxZoom: 16, padding: [40, 40], duration: 1.2});
  }
  function load(map, group, C, fitAfter) {
    var spec = group._rnSpec, geo = group._rnGeo;
    if (spec.geojson) {
      geo.addData(spec.geojson); group._rnFeatures = spec.geojson.features; C.drawn += spec.geojson.features.length;
      if (group._rnExtras) labels.decorate(map, group);
      return;
    }
    if (spec.minZoom && map.getZoom() < spec.minZoom) {
      geo.clearLayers(); if (group.clearLayers && group !== geo) { group.clearLayers(); group.addLayer(geo); }
      group._rnFeatures = []; group._rnHave = group._rnAsked = null; group._rnTicket = (group._rnTicket || 0) + 1;
      return;
    }
    /* The query (limit, properties, datum) comes with the spec (maps/builders.py). */
    var url = spec.url + "?" + spec.query, box = null, asked;
    if (spec.byView) {
      box = viewBox(map);
      /* Already drawn (every feature of a box holding the view), or on its way: no request. */
      if (!fitAfter && group._rnHave && inside(box, group._rnHave)) return;
      if (!fitAfter && group._rnAsked && inside(box, group._rnAsked)) return;
      url += "&bbox=" + box.map(function (x) { return x.toFixed(6); }).join(",");
    }
    /* Written into the page by the server (maps/builders.py), or asked for by the page's
       head before the libraries loaded (once). */
    var inl = inlined(spec, box), pre = (window.RENEWAL_PREFETCH || {})[spec.id];
    if (inl) {
      box = inl.box; asked = Promise.resolve(inl.data);
    } else if (pre && !pre.taken && (!spec.byView || inside(box, pre.box))) {
      pre.taken = true; box = pre.box; asked = pre.data;
    } else {
      asked = fetch(url, {priority: "high"}).then(function (r) { if (!r.ok) throw new Error(url + " → " + r.status); return r.json(); });
    }
    var ticket = (group._rnTicket || 0) + 1, detail = !!(spec.byView && spec.minZoom);
    group._rnTicket = ticket; group._rnAsked = box;
    var show = function (data) {
      if (ticket !== group._rnTicket) return;
      geo.clearLayers(); if (group !== geo) { group.clearLayers(); }
      var parts = detail ? inTwoParts(data.features) : [data.features, []];
      geo.addData(parts[0]); if (group !== geo) group.addLayer(geo);
      group._rnFeatures = data.features; group._rnAsked = null;
      group._rnHave = box && !(data.numberMatched > data.features.length) ? box : null;
      C.drawn += data.features.length;
      if (data.features.length) drawn(C);
      if (!parts[1].length) { finish(data); return; }
      later(function () {
        if (ticket !== group._rnTicket) return;  // a newer view's answer replaced this one
        geo.addData(parts[1]); finish(data);
      }, true);
    };
    /* Once every feature is drawn: the bounds, labels, search and focus read the drawn layers. */
    var finish = function (data) {
      loaded(C, spec, data.features.length);
      if (fitAfter && data.features.length) map.fitBounds(geo.getBounds(), {maxZoom: 16});
      if (group._rnExtras) labels.decorate(map, group);
      if (spec.onLoad === "search") buildSearch(map, group, C);
      if (C.focus && C.focus.layer === spec.id) focusFeature(map, group, C);
    };
    /* The detailed layer the page carries is drawn at once, before the controls are built:
       the view's content first (1,000 parcels: 30–40 ms sooner than a task later). */
    if (inl && detail && !C.initDone) show(inl.data);
    else asked.then(function (data) { later(function () { show(data); }, detail); });
  }
  /* A detailed layer's features in two parts: the first FIRST_PART are drawn and painted
     before the rest (in the next task). The first features a page draws run on cold code
     (Leaflet's first calls in a new page: ~0.1 ms a feature, against ~0.015 once warm), so
     1,000 parcels at once were on screen only after ~80 ms, level with plain folium; the first
     part now shows ~45 ms sooner, the whole view ~10 ms later (bench/bench_maps.py, "first
     s" and "view s"). Data order, not the view's middle first: sorting by distance to
     the centre cost another ~10 ms on both figures, for a difference nobody sees at 0.1 s. */
  var FIRST_PART = 100;
  function inTwoParts(features) {
    if (features.length <= 2 * FIRST_PART) return [features, []];
    return [features.slice(0, FIRST_PART), features.slice(FIRST_PART)];
  }
  /* The first view's answer the server wrote into the page (spec.inline: the element holding
     it and the box it was cut for, null for the whole layer), parsed once; null when the view
     leaves that box. */
  function inlined(spec, box) {
    var inl = spec.inline;
    if (!inl || (inl.box && !(box && inside(box, inl.box)))) return null;
    if (!inl.data) inl.data = JSON.parse(document.getElementById(inl.element).textContent);
    return inl;
  }
  /* Layers are drawn one per task, so the page can paint between them: the detailed layers
     loaded by view (parcels: what the view is about) before the others (districts, areas),
     which arrive at the same moment when the page carries them or its head asked for them. */
  var drawQueue = [[], []], pumping = false;
  function later(draw, first) {
    drawQueue[first ? 0 : 1].push(draw);
    if (!pumping) { pumping = true; afterPaint(pump); }
  }
  function pump() {
    var draw = drawQueue[0].shift() || drawQueue[1].shift();
    if (draw) draw();
    if (drawQueue[0].length || drawQueue[1].length) afterPaint(pump); else pumping = false;
  }
  /* After the next frame is painted: a task of its own (setTimeout alone) often ran before
     the frame, so the parcels drawn at start were on screen only once the districts and the
     areas (with their labels) were drawn too. */
  function afterPaint(f) {
    requestAnimationFrame(function () { setTimeout(f, 0); });
  }
  function viewBox(map) {
    /* Zoomed out, Leaflet's view runs past the antimeridian: the server takes lon/lat boxes only. */
    var b = map.getBounds();
    return [Math.max(b.getWest(), -180), Math.max(b.getSouth(), -90), Math.min(b.getEast(), 180), Math.min(b.getNorth(), 90)];
  }
  function inside(a, b) { return a[0] >= b[0] && a[1] >= b[1] && a[2] <= b[2] && a[3] <= b[3]; }
  function control(position, html, cls) {
    var Ctl = L.Control.extend({onAdd: function () { var d = L.DomUtil.create("div", "rn-panel " + (cls || "")); d.innerHTML = html; L.DomEvent.disableClickPropagation(d); L.DomEvent.disableScrollPropagation(d); return d; }});
    return new Ctl({position: position});
  }
  function buildSearch(map, group, C) {
    var box = document.querySelector(".rn-search");
    if (!box || box._built) return; box._built = true;
    var input = box.querySelector("input"), list = box.querySelector("ul");
    input.addEventListener("input", function () {
      var q = input.value.trim(); list.innerHTML = "";
      if (!q) return;
      group._rnGeo.eachLayer(function (layer) {
        var name = layer.feature.properties[C.search.field];
        if (String(name).indexOf(q) >= 0 && list.children.length < 10) {
          var li = document.createElement("li"); li.textContent = name;
          li.addEventListener("click", function () { map.fitBounds(layer.getBounds ? layer.getBounds() : L.latLngBounds([layer.getLatLng()]), {maxZoom: 16}); featurePopup(map, layer, group._rnSpec); });
          list.appendChild(li);
        }
      });
    });
  }
  function download(C, overlays, map) {
    var visible = overlays.filter(function (g) { return map.hasLayer(g) && g._rnFeatures && g._rnFeatures.length && g._rnSpec.download !== false; });
    if (!visible.length) { alert(C.text.nothing); return; }
    var g = visible[visible.length - 1];
    var fc = {type: "FeatureCollection", features: g._rnFeatures};
    var a = document.createElement("a");
    a.href = URL.createObjectURL(new Blob([JSON.stringify(fc)], {type: "application/geo+json"}));
    a.download = g._rnSpec.id + ".geojson"; document.body.appendChild(a); a.click(); a.remove();
  }
  /* The layer control, always open: Leaflet's expand() measures the page to fit the list
     (offsetTop, clientHeight: a layout forced in the middle of the page's first script, 20 ms
     of it); renewal.css caps the list's height instead. */
  var OpenLayers = L.Control.Layers.extend({
    expand: function () {
      L.DomUtil.addClass(this._container, "leaflet-control-layers-expanded");
      this._checkDisabledLayers();
      return this;
    }
  });
  window.renewalInit = function (map, C) {
    C.drawn = 0; C.loaded = {}; C.firstDrawn = null; window.__rnMap = map;
    if (!map.options.maxZoom) map.setMaxZoom(20);  /* marker clustering needs it; folium sets none without tiles */
    map.createPane("rnPlaces").style.zIndex = 450;  /* place names: above the areas, below symbols' labels */
    map.createPane("rnTiles").style.zIndex = 350;  /* big layers' tiles: above the basemap, below the GeoJSON overlays */
    var base = {}, over = {}, overlays = [], tiled = [];
    /* The page's map is made at the opening zoom when it has one (maps/builders.py). */
    if (C.zoom) { if (map.getZoom() !== C.zoom) map.setView(L.latLngBounds(C.fit).getCenter(), C.zoom, {animate: false}); }
    else if (C.fit) map.fitBounds(C.fit, {animate: false});
    (C.basemaps || []).forEach(function (b, i) {
      var layer = b.url ? L.tileLayer(b.url, {attribution: b.attribution || "", maxZoom: b.maxZoom || 19, subdomains: b.subdomains || "abc"}) : L.layerGroup();
      base[b.name] = layer; if (i === 0) layer.addTo(map);
    });
    (C.rasters || []).forEach(function (r) {
      var layer = L.tileLayer(r.tiles, {opacity: r.opacity || 0.7, maxZoom: 20});
      over[r.title] = layer; layer.addTo(map);
    });
    var starts = [];
    (C.layers || []).forEach(function (spec) {
      var group = makeLayer(spec, C, map);
      over[spec.title] = group; overlays.push(group);
      if (spec.visible !== false) group.addTo(map);
      if (spec.tiles) {  /* placed after the GeoJSON requests are out: a view's tiles fill the connections */
        var place = function () { placeGrid(map, group, C); };
        tiled.push(place); map.on("zoomend", place); map.on("overlayadd", function (e) { if (e.layer === group) place(); });
        return;
      }
      var refresh = function () { if (map.hasLayer(group)) load(map, group, C, false); };
      if (spec.symbols) map.on("zoomend", function () { labels.symbolize(map, group); });
      starts.push(function () {
        if (spec.geojson) load(map, group, C, false);
        else { load(map, group, C, !!spec.fit); if (spec.byView || spec.minZoom) map.on("moveend", refresh); map.on("overlayadd", function (e) { if (e.layer === group) refresh(); }); }
      });
    });
    starts.forEach(function (start) { start(); });
    tiled.forEach(function (place) { place(); });
    /* The controls once the first features are on screen: in the same frame, their layout and
       text (CJK fonts) held the first paint back by ~30 ms (1,000 parcels), a frame on its own
       that plain folium, with no controls, does not have. */
    afterPaint(function () { buildControls(map, C, base, over, overlays); });
    C.initDone = true;
    /* The "zoom in to see" line over the map's top centre. */
    var hint = L.DomUtil.create("div", "rn-zoom-hint", map.getContainer());
    hint.hidden = true; hint.setAttribute("role", "status");
    var rehint = function () { hints(map, overlays, C); };
    map.on("zoomend overlayadd overlayremove", rehint); rehint();
    window.RENEWAL_STATE = C;
  };
  function buildControls(map, C, base, over, overlays) {
    new OpenLayers(base, over, {collapsed: false, position: "topright"}).addTo(map);
    L.control.scale({imperial: false}).addTo(map);
    if (C.legend && C.legend.length) {
      control("bottomright", "<h4>" + esc(C.legendTitle || "") + "</h4>" + C.legend.map(function (l) {
        return '<div class="rn-legend"><i style="background:' + l[0] + '"></i>' + esc(l[1]) + "</div>";
      }).join("") + (C.legendNote ? '<div class="rn-legend-note">' + esc(C.legendNote) + "</div>" : "")).addTo(map);
    }
    if (C.panel) control("topleft", C.panel, "rn-side").addTo(map);
    if (C.search) control("topleft", '<div class="rn-search"><input placeholder="' + esc(C.text.search) + '"><ul></ul></div>').addTo(map);
    var dl = control("bottomleft", '<span class="rn-download">⬇ ' + esc(C.text.download) + "</span>");
    dl.addTo(map); dl.getContainer().addEventListener("click", function () { download(C, overlays, map); });
    overlays.forEach(function (g) {  /* a layer drawn before its search box existed */
      if (g._rnSpec.onLoad === "search" && g._rnFeatures.length) buildSearch(map, g, C);
    });
    document.body.setAttribute("data-controls", "1");
    document.dispatchEvent(new Event("renewal:controls"));
  }
})();
