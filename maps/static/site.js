/* The site-selection workplace: the form asks POST /analysis/site-selection (the same API a
   script uses), the answer fills a table and the map (numbered candidates, the surface of
   the asked weights, the scored extent); the AHP panel asks POST /analysis/weights as the
   planner types. No request leaves the server. */
(function () {
  "use strict";
  var C = window.SITE_CONFIG, T = C.text;
  var $ = function (s, root) { return (root || document).querySelector(s); };
  var $$ = function (s, root) { return Array.prototype.slice.call((root || document).querySelectorAll(s)); };
  var state = {answer: null, selected: null, layers: {}, unitsTouched: !!C.prefill.units};
  window.SITE_STATE = state;

  function esc(v) {
    return String(v).replace(/[&<>"']/g, function (c) { return {"&": "&amp;", "<": "&lt;", ">": "&gt;", '"': "&quot;", "'": "&#39;"}[c]; });
  }
  function num(v, digits) {
    if (v === null || v === undefined || v !== v) return "—";
    return Number(v).toLocaleString("zh-CN", {minimumFractionDigits: digits, maximumFractionDigits: digits});
  }
  function criterionLabel(name) {
    var c = C.criteria.filter(function (x) { return x.name === name; })[0];
    return c ? c.label : name;
  }
  function ruleLabel(rule) {
    if (rule.indexOf("require_") === 0) {
      var cat = rule.slice(8), row = $$(".require").filter(function (r) { return $(".req-category", r).value === cat; })[0];
      return C.rules.require.replace("{category}", C.categories[cat] || cat).replace("{metres}", row ? $(".req-metres", row).value : "?");
    }
    return C.rules[rule] || rule;
  }
  function problemText(body, status) {
    if (!body) return T.failed + " (" + status + ")";
    var lines = [body.detail || body.title || T.failed];
    (body.problems || []).forEach(function (p) { lines.push((p.field ? p.field + ": " : "") + (p.message || JSON.stringify(p))); });
    return lines.join("\n");
  }
  function post(url, body) {
    return fetch(url, {method: "POST", headers: {"Content-Type": "application/json", "Accept": "application/json"}, body: JSON.stringify(body)})
      .then(function (r) { return r.json().catch(function () { return null; }).then(function (b) { return {ok: r.ok, status: r.status, body: b}; }); });
  }

  /* ---------- map ---------- */
  var map = L.map("map", {maxZoom: 19, zoomSnap: 0.5});
  window.__rnMap = map;
  map.setView([35.2, 113.2], 12);
  L.control.scale({imperial: false}).addTo(map);
  var over = {};
  var districts = L.geoJSON(null, {style: {color: "#555", weight: 1.2, fill: false, dashArray: "4 3"}, interactive: false});
  var areas = L.geoJSON(null, {style: function (f) { return f.id === Number($("#f-area").value) ? {color: "#000", weight: 3, fillColor: "#fd8d3c", fillOpacity: 0.4} : {color: "#666", weight: 1, fillOpacity: 0.1}; },
                               onEachFeature: function (f, l) { l.bindTooltip(String(f.properties.name)); }});
  var extent = L.layerGroup(), candidates = L.geoJSON(null), ranks = L.layerGroup(), surface = L.layerGroup();
  over[T.districts] = districts; over[T.areas || "areas"] = areas; over[T.surface] = surface;
  over[T.legend_extent] = extent; over[T.candidates] = candidates; over[T.ranks] = ranks;
  [districts, surface, areas, extent, candidates, ranks].forEach(function (l) { l.addTo(map); });
  L.control.layers(null, over, {collapsed: window.innerWidth < 700, position: "topright"}).addTo(map);
  var Legend = L.Control.extend({onAdd: function () {
    var d = L.DomUtil.create("div", "rn-legend-box");
    d.innerHTML = "<b>" + esc(T.surface) + "</b><div><i class=\"ramp\"></i>0 – 1</div>" +
      "<div><i style=\"background:#fafafa\"></i>" + esc(T.legend_grey) + "</div>" +
      "<div><i class=\"extent\"></i>" + esc(T.legend_extent) + "</div>" +
      "<div><i style=\"background:#fff;border:3px solid #b2182b\"></i>" + esc(T.candidates) + "</div>";
    L.DomEvent.disableClickPropagation(d); return d; }});
  new Legend({position: "bottomright"}).addTo(map);

  function loadBase() {
    return Promise.all([
      fetch("/maps/data/districts?properties=name").then(function (r) { return r.ok ? r.json() : null; }),
      fetch("/maps/data/renewal_areas?properties=name,units").then(function (r) { return r.ok ? r.json() : null; }),
    ]).then(function (got) {
      if (got[0]) districts.addData(got[0]);
      if (got[1]) areas.addData(got[1]);
      focusArea();
      document.body.setAttribute("data-base-loaded", "1");
    });
  }
  function focusArea() {
    var id = Number($("#f-area").value), hit = null;
    areas.eachLayer(function (l) { if (l.feature.id === id) hit = l; });
    areas.setStyle(areas.options.style);
    if (hit) map.fitBounds(hit.getBounds().pad(4), {animate: false});
  }

  /* ---------- form ---------- */
  function weightsSum() {
    var total = $$(".weight").reduce(function (s, i) { return s + (Number(i.value) || 0); }, 0);
    $("#weights-sum").textContent = "Σ = " + num(total, 1) + " %";
  }
  function syncUnits() {
    var opt = $("#f-area").selectedOptions[0];
    if (!state.unitsTouched && opt && opt.dataset.units) $("#f-units").value = opt.dataset.units;
  }
  var reqCount = 0;
  function addRequire(category, metres) {
    var node = $("#require-row").content.firstElementChild.cloneNode(true);
    reqCount += 1;
    var labels = $$("label", node), sel = $(".req-category", node), inp = $(".req-metres", node);
    sel.id = "req-cat-" + reqCount; inp.id = "req-m-" + reqCount;
    labels[0].htmlFor = sel.id; labels[1].htmlFor = inp.id;
    if (category) sel.value = category;
    if (metres) inp.value = metres;
    $(".req-remove", node).addEventListener("click", function () { node.remove(); });
    $("#require-rows").appendChild(node);
  }
  function request() {
    var criteria = {};
    $$(".weight").forEach(function (i) { criteria[i.dataset.criterion] = {weight: Number(i.value) || 0}; });
    var require = {};
    $$(".require").forEach(function (r) { require[$(".req-category", r).value] = Number($(".req-metres", r).value); });
    var lands = $$("input[name=land_status]"), checked = lands.filter(function (i) { return i.checked; });
    var body = {"for": $("#f-area").value, top: Number($("#f-top").value) || 10,
                weights: {method: $("#f-method").value, criteria: criteria}, sensitivity: $("#f-sensitivity").checked};
    if ($("#f-units").value) body.units = Number($("#f-units").value);
    if ($("#f-distance").value) body.max_distance = Number($("#f-distance").value);
    if (Object.keys(require).length) body.require = require;
    if (checked.length < lands.length) body.land_status = checked.map(function (i) { return i.value; });
    return body;
  }
  function run(ev) {
    if (ev) ev.preventDefault();
    var started = performance.now();
    $("#status").textContent = T.running; $("#run").disabled = true;
    document.body.removeAttribute("data-answered");
    post("/analysis/site-selection", request()).then(function (res) {
      $("#run").disabled = false;
      if (!res.ok) { $("#status").textContent = problemText(res.body, res.status); $("#answer").innerHTML = ""; state.answer = null; $("#export").disabled = true; return; }
      state.answer = res.body;
      showAnswer(res.body);
      var ms = Math.round(performance.now() - started);
      $("#status").textContent = res.body.features.length + " " + T.candidates + " · " + ms + " ms";
      document.body.setAttribute("data-answered", String(ms));
    }).catch(function (e) { $("#run").disabled = false; $("#status").textContent = T.failed + ": " + e; });
  }

  /* ---------- answer ---------- */
  function topContributions(p) {
    return Object.keys(p.contributions || {}).map(function (k) { return [k, p.contributions[k]]; })
      .sort(function (a, b) { return b[1] - a[1]; }).slice(0, 3)
      .map(function (kv) { return esc(criterionLabel(kv[0])) + " " + num(kv[1], 3); }).join("；");
  }
  function popupHtml(p) {
    var rows = [[T.score, num(p.score, 4)], [T.parcel_area, num(p.area_mu, 1) + " " + T.mu], [T.required_mu_h, num(p.required_mu, 1)],
                [T.capacity_units, num(p.capacity_units, 0)], [T.to_origin_m, num(p.origin_network_m, 0)], [T.land_status, (C.landStatuses || {})[p.land_status] || p.land_status || "—"],
                [T.binding_h, p.binding || "—"]];
    var contrib = Object.keys(p.contributions || {}).map(function (k) { return ["+ " + criterionLabel(k), num(p.contributions[k], 4)]; });
    return '<div class="rn-popup"><b>' + esc(p.rank + ". " + (p.name || "")) + "</b><table>" +
      rows.concat([[T.contributions, ""]], contrib).map(function (r) { return "<tr><td>" + esc(r[0]) + "</td><td>" + esc(r[1]) + "</td></tr>"; }).join("") + "</table></div>";
  }
  function showAnswer(a) {
    candidates.clearLayers(); ranks.clearLayers(); surface.clearLayers(); extent.clearLayers();
    state.selected = null; state.byRank = {};
    if (a.tiles) L.tileLayer(a.tiles, {opacity: 0.65, maxZoom: 19}).addTo(surface);
    if (a.extent) L.rectangle([[a.extent[1], a.extent[0]], [a.extent[3], a.extent[2]]], {color: "#333", weight: 2, dashArray: "8 6", fill: false, interactive: false}).addTo(extent);
    a.features.forEach(function (f) {
      var p = f.properties;
      var poly = L.geoJSON(f, {style: {color: "#b2182b", weight: 3, fillOpacity: 0.08}}).bindPopup(popupHtml(p), {maxWidth: 360});
      poly.addTo(candidates);
      var center = poly.getBounds().getCenter();
      var icon = L.divIcon({className: "", html: '<div class="rn-rank" data-rank="' + p.rank + '">' + p.rank + "</div>", iconSize: [28, 28]});
      var marker = L.marker(center, {icon: icon, title: T.candidate + " " + p.rank}).bindPopup(popupHtml(p), {maxWidth: 360});
      marker.on("click", function () { select(p.rank, false); });
      marker.addTo(ranks);
      state.byRank[p.rank] = {poly: poly, marker: marker};
    });
    var html = "";
    if (a.mode === "regions") html += "<p class=\"muted\">" + esc(T.site_no_parcels) + "</p>";
    if (a.features.length) {
      html += '<div class="table-wrap"><table class="data" id="candidates"><thead><tr><th>' + [T.rank, T.candidate, T.score, T.area_mu_h, T.required_mu_h, T.to_origin_m, T.top_contributions, T.binding_h].map(esc).join("</th><th>") + "</th></tr></thead><tbody>";
      a.features.forEach(function (f) {
        var p = f.properties;
        html += '<tr data-rank="' + p.rank + '"><td class="num">' + p.rank + "</td><td>" + esc(p.name || (T.candidate + p.rank)) + '</td><td class="num">' + num(p.score, 4) +
          '</td><td class="num">' + num(p.area_mu, 1) + '</td><td class="num">' + num(p.required_mu, 1) + '</td><td class="num">' + num(p.origin_network_m, 0) +
          "</td><td>" + topContributions(p) + "</td><td>" + esc(p.binding || "—") + "</td></tr>";
      });
      html += "</tbody></table></div>";
    } else {
      html += '<p role="alert">' + esc(a.message ? T.empty_answer : T.empty_answer) + " " + esc(T.emptied_by) + "：" + esc(emptiedBy(a)) + "</p>";
    }
    if (a.removed_by_rule) {
      html += "<h2>" + esc(T.removed_h) + '</h2><div class="table-wrap"><table class="data" id="removed"><tbody>' +
        Object.keys(a.removed_by_rule).map(function (k) { return "<tr><td>" + esc(ruleLabel(k)) + '</td><td class="num">' + a.removed_by_rule[k] + "</td></tr>"; }).join("") + "</tbody></table></div>";
    }
    if (a.sensitivity) {
      html += "<h2>" + esc(T.sensitivity_h) + '</h2><div class="table-wrap"><table class="data" id="sensitivity"><thead><tr><th>' + esc(T.candidate) + "</th><th>" + esc(T.stable) + "</th></tr></thead><tbody>" +
        a.sensitivity.slice(0, 3).map(function (s) { return "<tr><td>" + esc(s.name) + '</td><td class="num">' + num(s.mc_top * 100, 0) + " %</td></tr>"; }).join("") + "</tbody></table></div>";
    }
    $("#answer").innerHTML = html;
    $$("#candidates tbody tr").forEach(function (tr) { tr.addEventListener("click", function () { select(Number(tr.dataset.rank), true); }); });
    $("#export").disabled = !a.features.length;
    if (a.features.length) map.fitBounds(candidates.getBounds().extend(areaBounds()).pad(0.15));
  }
  function areaBounds() {
    var id = Number($("#f-area").value), b = null;
    areas.eachLayer(function (l) { if (l.feature.id === id) b = l.getBounds(); });
    return b || candidates.getBounds();
  }
  function emptiedBy(a) {
    var all = Object.keys(a.removed_by_rule || {}).filter(function (k) { return a.removed_by_rule[k] >= a.parcels_considered && a.parcels_considered > 0; });
    if (all.length) return all.map(ruleLabel).join("、");
    var some = Object.keys(a.removed_by_rule || {}).filter(function (k) { return a.removed_by_rule[k] > 0; });
    return T.together + "（" + some.map(function (k) { return ruleLabel(k) + " " + a.removed_by_rule[k]; }).join("、") + "）";
  }
  function select(rank, fromTable) {
    var hit = state.byRank[rank];
    if (!hit) return;
    state.selected = rank;
    $$("#candidates tbody tr").forEach(function (tr) { tr.classList.toggle("selected", Number(tr.dataset.rank) === rank); });
    $$(".rn-rank").forEach(function (d) { d.classList.toggle("selected", Number(d.dataset.rank) === rank); });
    if (fromTable) { map.fitBounds(hit.poly.getBounds().pad(1.5), {maxZoom: 17}); hit.marker.openPopup(); }
    document.body.setAttribute("data-selected", String(rank));
  }
  function exportGeojson() {
    if (!state.answer) return;
    var a = document.createElement("a");
    a.href = URL.createObjectURL(new Blob([JSON.stringify(state.answer)], {type: "application/geo+json"}));
    a.download = "site-selection-" + ($("#f-area").selectedOptions[0] || {}).text + ".geojson";
    document.body.appendChild(a); a.click(); a.remove();
  }

  /* ---------- AHP ---------- */
  var SAATY = [9, 8, 7, 6, 5, 4, 3, 2, 1, 1 / 2, 1 / 3, 1 / 4, 1 / 5, 1 / 6, 1 / 7, 1 / 8, 1 / 9];
  function saatyText(v) { return v >= 1 ? String(Math.round(v)) : "1/" + Math.round(1 / v); }
  var ahp = {weights: null, timer: null, ticket: 0};
  function buildAhp() {
    var names = C.criteria.map(function (c) { return c.name; });
    var head = "<thead><tr><th></th>" + C.criteria.map(function (c) { return "<th>" + esc(c.label) + "</th>"; }).join("") + "</tr></thead>";
    var body = C.criteria.map(function (ci, i) {
      return "<tr><th>" + esc(ci.label) + "</th>" + names.map(function (_, j) {
        if (i === j) return "<td>1</td>";
        if (j < i) return '<td class="recip" data-i="' + i + '" data-j="' + j + '">1</td>';
        var id = "ahp-" + i + "-" + j;
        return '<td><label class="visually-hidden" for="' + id + '">' + esc(ci.label + " : " + C.criteria[j].label) + '</label><select id="' + id + '" data-i="' + i + '" data-j="' + j + '">' +
          SAATY.map(function (v) { return '<option value="' + v + '"' + (v === 1 ? " selected" : "") + ">" + saatyText(v) + "</option>"; }).join("") + "</select></td>";
      }).join("") + "</tr>";
    }).join("");
    $("#ahp-matrix").innerHTML = head + "<tbody>" + body + "</tbody>";
    $$("#ahp-matrix select").forEach(function (s) { s.addEventListener("change", scheduleAhp); });
    scheduleAhp();
  }
  function ahpMatrix() {
    var n = C.criteria.length, m = [];
    for (var i = 0; i < n; i++) { m.push([]); for (var j = 0; j < n; j++) m[i].push(1); }
    $$("#ahp-matrix select").forEach(function (s) {
      var i = Number(s.dataset.i), j = Number(s.dataset.j), v = Number(s.value);
      m[i][j] = v; m[j][i] = 1 / v;
    });
    $$("#ahp-matrix td.recip").forEach(function (td) { td.textContent = saatyText(m[Number(td.dataset.i)][Number(td.dataset.j)]); });
    return m;
  }
  function scheduleAhp() { clearTimeout(ahp.timer); ahp.timer = setTimeout(askAhp, 150); }
  function askAhp() {
    var names = C.criteria.map(function (c) { return c.name; }), ticket = ++ahp.ticket;
    post("/analysis/weights", {names: names, matrix: ahpMatrix(), allow_inconsistent: true}).then(function (res) {
      if (ticket !== ahp.ticket) return;
      if (!res.ok) { $("#ahp-result").textContent = problemText(res.body, res.status); $("#ahp-use").disabled = true; return; }
      var r = res.body, ok = r.cr < 0.1;
      ahp.weights = ok ? r.weights : null;
      var html = '<table class="data" id="ahp-weights"><tbody>' + names.map(function (n) { return "<tr><td>" + esc(criterionLabel(n)) + '</td><td class="num">' + num(r.weights[n] * 100, 1) + " %</td></tr>"; }).join("") +
        "</tbody></table><p>λmax = " + num(r.lambda_max, 3) + "，CI = " + num(r.ci, 3) + "，CR = <b id=\"ahp-cr\">" + num(r.cr, 3) + "</b></p>";
      html += ok ? '<p class="muted">' + esc(T.ahp_ok) + "</p>" : '<p role="alert" id="ahp-refused">' + esc(T.ahp_refused) + "。" + esc(T.ahp_worst) + "：" +
        esc((r.most_inconsistent_pair || []).map(criterionLabel).join(" — ")) + "</p>";
      $("#ahp-result").innerHTML = html;
      $("#ahp-use").disabled = !ok;
      document.body.setAttribute("data-ahp-cr", String(r.cr));
    });
  }
  function useAhp() {
    if (!ahp.weights) return;
    $$(".weight").forEach(function (i) { i.value = (Math.round(ahp.weights[i.dataset.criterion] * 1000) / 10).toFixed(1); });
    weightsSum();
  }

  /* ---------- wiring ---------- */
  $("#site-form").addEventListener("submit", run);
  $("#f-area").addEventListener("change", function () { state.unitsTouched = false; syncUnits(); focusArea(); });
  $("#f-units").addEventListener("input", function () { state.unitsTouched = true; });
  $$(".weight").forEach(function (i) { i.addEventListener("input", weightsSum); });
  $("#require-add").addEventListener("click", function () { addRequire(); });
  $("#export").addEventListener("click", exportGeojson);
  $("#ahp-use").addEventListener("click", useAhp);
  Object.keys(C.prefill.require || {}).forEach(function (k) { addRequire(k, C.prefill.require[k]); });
  syncUnits(); weightsSum(); buildAhp();
  loadBase().then(function () { if (C.prefill.run) run(); });
})();
