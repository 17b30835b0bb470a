/* What if: planned facilities on an area's map (issue #13).

   "添加规划设施" + "设施类型" + a click on the map adds a planned facility there; the server
   recomputes the area's services report with it (POST /analysis/services/{area}/what-if,
   nothing saved) and the panel shows the gaps after, and before → after per category.
   "保存为规划" stores the unsaved ones (POST /planned-services, editor token from "令牌",
   kept in this tab's sessionStorage and sent as "Authorization: Bearer"); a planned marker's
   "删除" drops it, or deletes it through the API once saved
   (DELETE /collections/planned_services/items/{id}).

   With ?with_planned=true the stored plans are drawn and counted in "before" (as in
   GET /analysis/services/{area}?with_planned=true); without, they are ignored and "before"
   is the existing facilities only. Runs after renewalInit (renewal.js), from the page
   config's "whatif" section; coordinates are sent in the page's datum (GCJ-02 on Amap). */
(function () {
  "use strict";
  var TOKEN_KEY = "renewal.editToken";  /* the same key as edit.js: one typed token serves both */
  var LAYERS = ".rn-whatif-map .leaflet-control-layers-expanded";
  var CSS = [
    ".rn-whatif{margin-top:6px;border-top:1px solid #ddd;padding-top:6px}",
    ".rn-whatif button{font:inherit;padding:2px 8px;cursor:pointer}",
    ".rn-wi-pick{margin-top:6px}.rn-wi-pick select{max-width:100%;font:inherit}",
    ".rn-wi-hint{color:#a50f15;font-size:12px;margin-top:2px}",
    ".rn-wi-status{font-size:12px;color:#444;margin-top:4px}.rn-wi-status:empty{display:none}",
    ".rn-wi-status .rn-wi-error{color:#a50f15}",
    ".rn-wi-compare{margin-top:4px}.rn-wi-compare summary{cursor:pointer;font-weight:bold}",
    ".rn-wi-table{border-collapse:collapse;font-size:12px;width:100%}",
    ".rn-wi-table th,.rn-wi-table td{border-bottom:1px solid #eee;padding:1px 4px 1px 0;",
    "text-align:left;vertical-align:top}",
    ".rn-wi-table tr.rn-wi-changed td{background:#fff7bc}",
    ".rn-wi-save{margin-top:6px}.rn-wi-save input{width:100px;max-width:40%;font:inherit}",
    ".rn-placing,.rn-placing .leaflet-interactive{cursor:crosshair!important}",
    /* While placing, overlays let the click through to the map (no popup opens). */
    ".rn-placing .leaflet-pane>svg path.leaflet-interactive,.rn-placing .leaflet-rnTiles-pane canvas,",
    ".rn-placing .leaflet-marker-icon.leaflet-interactive{pointer-events:none!important}",
    ".rn-wi-marker{position:relative;width:28px;height:28px;box-sizing:border-box;",
    "border-radius:4px;color:#fff;text-align:center;font:bold 13px/24px sans-serif;",
    "border:2px dashed #111;box-shadow:0 0 0 2px #fff}",
    ".rn-wi-marker.rn-wi-saved{border-style:solid}",
    ".rn-wi-marker sup{font-size:9px;position:absolute;top:-8px;right:-8px;background:#111;",
    "color:#fff;border-radius:6px;padding:0 2px;line-height:12px}",
    ".rn-wi-popup button{margin-top:4px}",
    /* Phones: the panel keeps to a corner, and the layer list and the legend fold to a button
       and a heading (shown on tap or hover) so that the map stays visible. */
    "@media (max-width:600px){",
    ".rn-panel.rn-has-whatif{max-width:min(62vw,260px);max-height:42vh;font-size:12px}",
    ".rn-panel.rn-has-whatif h4{font-size:13px}",
    LAYERS + "{padding:0}",
    LAYERS + " .leaflet-control-layers-list{display:none}",
    LAYERS + " .leaflet-control-layers-toggle{display:block}",
    LAYERS + ":hover," + LAYERS + ":focus-within{padding:6px 10px 6px 6px}",
    LAYERS + ":hover .leaflet-control-layers-list,",
    LAYERS + ":focus-within .leaflet-control-layers-list{display:block}",
    LAYERS + ":hover .leaflet-control-layers-toggle,",
    LAYERS + ":focus-within .leaflet-control-layers-toggle{display:none}",
    ".rn-whatif-map .leaflet-bottom.leaflet-right .rn-panel .rn-legend{display:none}",
    ".rn-whatif-map .leaflet-bottom.leaflet-right .rn-panel:hover .rn-legend{display:block}}"
  ].join("");
  var ENTITIES = {"&": "&amp;", "<": "&lt;", ">": "&gt;", '"': "&quot;", "'": "&#39;"};

  function esc(v) { return String(v).replace(/[&<>"']/g, function (c) { return ENTITIES[c]; }); }
  function metres(v) { return v === null || v === undefined ? "—" : String(Math.round(v)); }
  function yes(v) { return v ? "✓" : "✗"; }
  function fill(text, values) {
    return text.replace(/\{(\w+)\}/g, function (m, k) { return k in values ? values[k] : m; });
  }
  function setBody(name, value) { document.body.setAttribute(name, value); }

  function init() {
    var C = window.RENEWAL_STATE, map = window.__rnMap;
    var root = document.querySelector(".rn-whatif");
    if (!C || !C.whatif || !map || !root) return;
    var W = C.whatif, T = W.text, en = C.lang === "en";
    var style = document.createElement("style");
    style.textContent = CSS;
    document.head.appendChild(style);
    var panel = root.closest(".rn-panel");
    if (panel) panel.classList.add("rn-has-whatif");
    map.getContainer().classList.add("rn-whatif-map");
    var q = function (sel) { return root.querySelector(sel); };
    var addBtn = q(".rn-wi-add"), pick = q(".rn-wi-pick"), select = q("#rn-wi-category");
    var status = q(".rn-wi-status"), compare = q(".rn-wi-compare");
    var tbody = q(".rn-wi-table tbody"), saveRow = q(".rn-wi-save");
    var tokenInput = q("#rn-wi-token"), saveBtn = q(".rn-wi-save-btn");
    var gapList = panel ? panel.querySelector(".rn-gaps") : null;
    var initialGaps = gapList ? gapList.innerHTML : "";
    var flag = new URLSearchParams(window.location.search).get("with_planned");
    var withPlanned = !!W.withPlanned || flag === "true" || flag === "1";
    var datum = C.datum || "cgcs2000";
    var collection = "planned_services";
    var layer = L.layerGroup().addTo(map);
    var items = [];  /* {category, name, saved, fid, marker} */
    var placing = false, ticket = 0, message = null;
    try {
      tokenInput.value = window.sessionStorage.getItem(TOKEN_KEY) || "";
    } catch (e) { /* storage disabled: the field starts empty */ }

    function unsavedItems() { return items.filter(function (i) { return !i.saved; }); }
    function say(text, error) {
      message = text ? {text: text, error: !!error} : null;
      showStatus();
    }
    function showStatus() {
      var unsaved = unsavedItems().length, parts = [];
      if (items.length) parts.push(esc(fill(T.wi_count, {n: items.length, u: unsaved})));
      if (withPlanned) parts.push(esc(T.wi_with_planned));
      if (unsaved) parts.push(esc(T.wi_not_saved));
      if (message) {
        parts.push(message.error ? '<span class="rn-wi-error">' + esc(message.text) + "</span>"
                                 : esc(message.text));
      }
      if (!withPlanned) {
        var url = new URL(window.location.href);
        url.searchParams.set("with_planned", "true");
        var href = esc(url.pathname + url.search);
        parts.push('<a href="' + href + '">' + esc(T.wi_show_saved) + "</a>");
      }
      status.innerHTML = parts.join("<br>");
      /* The token serves saving the unsaved plans and deleting saved ones. */
      saveRow.hidden = items.length === 0;
      saveBtn.hidden = unsaved === 0;
    }

    function icon(item) {
      var g = (W.glyphs || {})[item.category] || ["•", "#555"];
      var cls = "rn-wi-marker " + (item.saved ? "rn-wi-saved" : "rn-wi-unsaved");
      return L.divIcon({className: "", iconSize: [28, 28], popupAnchor: [0, -12],
        html: '<div class="' + cls + '" style="background:' + g[1] + '">' + esc(g[0]) +
              "<sup>" + (en ? "P" : "规") + "</sup></div>"});
    }
    function popup(item) {
      var div = document.createElement("div");
      div.className = "rn-popup rn-wi-popup";
      div.innerHTML = "<b>" + esc(item.name) + "</b><div>" + esc(T.wi_planned) + " · " +
        esc(W.categories[item.category] || item.category) + " · " +
        esc(item.saved ? T.wi_saved : T.wi_unsaved) + "</div>";
      var del = document.createElement("button");
      del.type = "button";
      del.textContent = T.wi_delete;
      del.className = "rn-wi-delete";
      del.addEventListener("click", function () { remove(item); });
      div.appendChild(del);
      return div;
    }
    function place(item, latlng) {
      item.marker = L.marker(latlng, {icon: icon(item), title: item.name, zIndexOffset: 1000});
      item.marker.bindPopup(function () { return popup(item); });
      layer.addLayer(item.marker);
      items.push(item);
    }

    function setPlacing(on) {
      placing = on;
      pick.hidden = !on;
      map.getContainer().classList.toggle("rn-placing", on);
      if (on) select.focus();
    }
    addBtn.addEventListener("click", function () { setPlacing(!placing || pick.hidden); });
    document.addEventListener("keydown", function (e) {
      if (e.key === "Escape" && placing) setPlacing(false);
    });
    map.on("click", function (e) {
      if (!placing) return;
      setPlacing(false);
      var category = select.value, name = W.categories[category] || category;
      place({category: category, name: name, saved: false, fid: null}, e.latlng);
      say(null);
      recompute();
    });

    function feature(item) {
      var ll = item.marker.getLatLng();
      return {type: "Feature",
              geometry: {type: "Point", coordinates: [+ll.lng.toFixed(7), +ll.lat.toFixed(7)]},
              /* No name: the server names a plan after its category, in Chinese. */
              properties: {category: item.category, area_id: W.area}};
    }
    function collectionOf(list) { return {type: "FeatureCollection", features: list.map(feature)}; }
    function query(extra) {
      var p = new URLSearchParams(extra || {});
      if (datum !== "cgcs2000") p.set("datum", datum);
      var s = p.toString();
      return s ? "?" + s : "";
    }
    function problemText(body, code) {
      if (body && body.problems && body.problems.length) {
        return body.detail + ": " + body.problems.map(function (p) {
          return (p.field ? p.field + " " : "") + p.message;
        }).join("; ");
      }
      return (body && body.detail) || (T.wi_failed + " (" + code + ")");
    }
    /* fetch → {status, body}; a non-2xx answer rejects with the problem's text and status. */
    function call(method, url, body, token) {
      var headers = {"Accept": "application/json"};
      if (body) headers["Content-Type"] = "application/geo+json";
      if (token) headers.Authorization = "Bearer " + token;
      var options = {method: method, headers: headers};
      if (body) options.body = JSON.stringify(body);
      return fetch(url, options).then(function (r) {
        if (r.status === 204) return {status: 204, body: null};
        return r.json().catch(function () { return null; }).then(function (b) {
          if (r.ok) return {status: r.status, body: b};
          var err = new Error(problemText(b, r.status));
          err.status = r.status;
          throw err;
        });
      });
    }

    /* The stored plans count in "before" with ?with_planned=true; the rest is what if. */
    function posted() { return items.filter(function (i) { return !(withPlanned && i.saved); }); }
    function recompute() {
      var sent = posted(), mine = ++ticket;
      if (!sent.length && !withPlanned) { restore(); return Promise.resolve(); }
      status.setAttribute("aria-busy", "true");
      setBody("data-whatif", "busy");
      var url = "/analysis/services/" + encodeURIComponent(W.area) + "/what-if" +
                query(withPlanned ? {with_planned: "true"} : null);
      return call("POST", url, collectionOf(sent))
        .then(function (res) { if (mine === ticket) render(res.body, sent.length > 0); })
        .catch(function (err) { if (mine === ticket) say(T.wi_failed + ": " + err.message, true); })
        .then(function () {
          if (mine !== ticket) return;
          status.removeAttribute("aria-busy");
          setBody("data-whatif", "done");
        });
    }
    function restore() {
      if (gapList) gapList.innerHTML = initialGaps;
      compare.hidden = true;
      tbody.innerHTML = "";
      showStatus();
      setBody("data-whatif", "done");
    }
    function gapsHtml(doc) {
      var gaps = doc.categories.map(function (c) { return en ? c.gap_en : c.gap_zh; })
        .filter(function (g) { return g; });
      if (!gaps.length) return "<li>" + esc(W.noGaps) + "</li>";
      return gaps.map(function (g) { return "<li>" + esc(g) + "</li>"; }).join("");
    }
    function pair(a, b, f) { return a === b ? esc(f(a)) : esc(f(a)) + " → " + esc(f(b)); }
    function gapCell(b, a) {
      var before = en ? b.gap_en : b.gap_zh, after = en ? a.gap_en : a.gap_zh;
      if (before === after) return esc(after || "—");
      if (!after) {  /* the old gap stays readable as the cell's tooltip */
        return '<span class="rn-wi-resolved" title="' + esc(before) + '">' + esc(T.wi_resolved) +
               "</span>";
      }
      return esc(before || "—") + " → " + esc(after);
    }
    function row(c) {
      var b = c.before, a = c.after, name = en ? c.category.replace(/_/g, " ") : c.category_zh;
      return '<tr class="' + (c.changed ? "rn-wi-changed" : "") + '" data-category="' +
        esc(c.category) + '"><td>' + esc(name) + "</td><td>" + pair(b.walk_m, a.walk_m, metres) +
        "</td><td>" + pair(b.meets_standard, a.meets_standard, yes) + "</td><td>" + gapCell(b, a) +
        "</td></tr>";
    }
    function render(res, showTable) {
      if (gapList) gapList.innerHTML = gapsHtml(res.after);
      var changedFirst = res.changes.slice().sort(function (x, y) {
        return (y.changed ? 1 : 0) - (x.changed ? 1 : 0);
      });
      tbody.innerHTML = changedFirst.map(row).join("");
      compare.hidden = !showTable;
      showStatus();
      reveal();
    }
    /* On a small screen the grown panel may cover what was just placed: pan it into view. */
    function reveal() {
      var last = unsavedItems().pop();
      if (!last || !panel) return;
      var box = panel.getBoundingClientRect(), mapBox = map.getContainer().getBoundingClientRect();
      var pt = map.latLngToContainerPoint(last.marker.getLatLng());
      var x = pt.x + mapBox.left, y = pt.y + mapBox.top, pad = 24;
      var covered = x >= box.left - pad && x <= box.right + pad && y >= box.top - pad &&
                    y <= box.bottom + pad;
      if (!covered) return;
      var target = mapBox.bottom - box.bottom >= 120
        ? L.point(x - mapBox.left, (box.bottom + mapBox.bottom) / 2 - mapBox.top)
        : L.point((box.right + mapBox.right) / 2 - mapBox.left, y - mapBox.top);
      map.panBy(pt.subtract(target), {animate: false});
    }

    function drop(item) {
      layer.removeLayer(item.marker);
      items = items.filter(function (i) { return i !== item; });
    }
    function currentToken() {
      var token = tokenInput.value.trim();
      if (token) {
        try { window.sessionStorage.setItem(TOKEN_KEY, token); } catch (e) { /* storage off */ }
      }
      return token;
    }
    function askToken(text) {
      say(text, true);
      saveRow.hidden = false;
      tokenInput.focus();
    }
    function failed(err) {
      if (err.status === 401) askToken(T.wi_need_token);
      else if (err.status === 403) askToken(T.wi_no_role);
      else say(T.wi_failed + ": " + err.message, true);
    }
    function remove(item) {
      map.closePopup();
      if (!item.saved) {
        drop(item);
        recompute();
        return;
      }
      var token = currentToken();
      if (!token) { askToken(T.wi_need_token); return; }
      var url = "/collections/" + encodeURIComponent(collection) + "/items/" +
                encodeURIComponent(item.fid);
      call("DELETE", url, null, token)
        .then(function () { drop(item); say(T.wi_deleted); recompute(); })
        .catch(function (err) {
          if (err.status === 404) { drop(item); recompute(); return; }  /* deleted meanwhile */
          failed(err);
        });
    }
    saveBtn.addEventListener("click", function () {
      var unsaved = unsavedItems();
      if (!unsaved.length) return;
      var token = currentToken();
      if (!token) { askToken(T.wi_need_token); return; }
      saveBtn.disabled = true;
      setBody("data-whatif-save", "busy");
      call("POST", "/planned-services" + query(), collectionOf(unsaved), token)
        .then(function (res) {
          collection = res.body.collection || collection;
          unsaved.forEach(function (item, k) {
            item.saved = true;
            item.fid = res.body.created[k];
            item.marker.setIcon(icon(item));
          });
          say(fill(T.wi_saved_n, {n: unsaved.length}));
          setBody("data-whatif-save", "done");
          if (withPlanned) recompute();  /* they are part of "before" now */
        })
        .catch(function (err) { failed(err); setBody("data-whatif-save", "failed"); })
        .then(function () { saveBtn.disabled = false; });
    });

    if (withPlanned) {
      call("GET", "/planned-services" + query())
        .then(function (res) {
          res.body.features.forEach(function (f) {
            var c = f.geometry.coordinates, p = f.properties;
            var item = {category: p.category, name: p.name, saved: true, fid: f.id};
            place(item, L.latLng(c[1], c[0]));
          });
          return recompute();
        })
        .catch(function (err) { say(T.wi_failed + ": " + err.message, true); });
    } else {
      showStatus();
    }
    /* For scripts and tests: the planned facilities on the page. */
    window.RENEWAL_WHATIF = {items: function () {
      return items.map(function (i) {
        var ll = i.marker.getLatLng();
        return {category: i.category, saved: i.saved, fid: i.fid, lon: ll.lng, lat: ll.lat};
      });
    }};
  }

  /* The panel is one of the map's controls, which renewal.js builds once the first features
     are on screen. */
  if (document.body && document.body.getAttribute("data-controls")) init();
  else document.addEventListener("renewal:controls", init, {once: true});
})();
