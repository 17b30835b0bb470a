/* Targets and progress (/maps/progress): the page asks GET /analysis/progress (the same
   answer a script gets) for the chosen city, year and as-of day, and draws it: counties
   coloured by their share of the chosen metric (regions matching no district listed beside
   the map with their note), a bar chart of target against actual per metric (vendored
   Chart.js), the table of every row, and the overdue projects linking to their area pages.
   The choices are kept in the URL (?city=&year=&metric=&as_of=). No request leaves the server. */
(function () {
  "use strict";
  var C = window.PROGRESS_CONFIG, T = C.text;
  var $ = function (id) { return document.getElementById(id); };
  var DAY = 86400000;
  /* Share done → fill: a sequential ramp from 0 to 100 % and over; no target row: grey. */
  var RAMP = [[0, "#ffffcc"], [0.2, "#d9f0a3"], [0.4, "#addd8e"], [0.6, "#78c679"], [0.8, "#31a354"], [1, "#006837"]];
  var GREY = "#d0d0d0";
  var state = {city: C.city, year: C.year, metric: C.metric, asOf: C.asOf, planStart: C.planStart, span: null, report: null,
               seq: 0, charts: {}, fills: {}, features: null};
  window.PROGRESS_STATE = state;

  function esc(v) {
    return String(v).replace(/[&<>"']/g, function (c) { return {"&": "&amp;", "<": "&lt;", ">": "&gt;", '"': "&quot;", "'": "&#39;"}[c]; });
  }
  function fill(template, values) {
    return template.replace(/\{(\w+)\}/g, function (m, key) { return key in values ? values[key] : m; });
  }
  function num(v) {
    if (v === null || v === undefined || v !== v) return "—";
    return Number(v).toLocaleString("en-US", {maximumFractionDigits: 2});
  }
  function pct(v) {
    if (v === null || v === undefined || v !== v) return "—";
    return (v * 100).toFixed(1) + "%";
  }
  function colorFor(share) {
    if (share === null || share === undefined || share !== share) return GREY;
    var color = RAMP[0][1];
    RAMP.forEach(function (step) { if (share >= step[0]) color = step[1]; });
    return color;
  }
  function metricLabel(m) {
    var r = state.report;
    if (C.lang !== "en" && r && r.labels && r.labels[m]) return r.labels[m];
    return C.metricLabels[m] || m;
  }
  function stateLabel(s) { return C.states[s] || s || "—"; }
  function rowFor(region, metric) {
    var rows = state.report ? state.report.rows : [];
    for (var i = 0; i < rows.length; i += 1) if (rows[i].region === region && rows[i].metric === metric) return rows[i];
    return null;
  }
  /* Days as UTC midnights, so no time zone moves a date. */
  function parseDay(s) { var p = s.split("-"); return Date.UTC(+p[0], +p[1] - 1, +p[2]); }
  function dayText(ms) { return new Date(ms).toISOString().slice(0, 10); }

  /* ---------- form ---------- */
  var citySel = $("f-city"), yearSel = $("f-year"), metricSel = $("f-metric"), slider = $("f-as-of");
  var planInput = $("f-plan-start");
  /* The days the slider spans: the year's, or for plan years (Y1…) those of the calendar years
     they are once the year of Y1 is given (until then the current year, and no request). */
  function spanFor(city, year) {
    var y = (C.years[city] || []).filter(function (e) { return e.year === year; })[0];
    if (y && y.start) return y;
    var first = Number(C.today.slice(0, 4)), last = first;
    if (y && y.plan && state.planStart) { first = state.planStart + y.plan[0] - 1; last = state.planStart + y.plan[1] - 1; }
    return {year: year, start: first + "-01-01", end: last + "-12-31", plan: y ? y.plan : null};
  }
  function needsPlanStart() { return !!(state.span && state.span.plan); }
  function showAsOf(day) {
    $("as-of-text").textContent = day;
    slider.setAttribute("aria-valuetext", day);
  }
  function setSlider() {
    state.span = spanFor(state.city, state.year);
    var start = parseDay(state.span.start), end = parseDay(state.span.end);
    var days = Math.round((end - start) / DAY);
    var at = Math.round((parseDay(state.asOf || C.today) - start) / DAY);
    slider.min = "0"; slider.max = String(days);
    slider.value = String(Math.min(days, Math.max(0, at)));
    $("as-of-range").textContent = fill(T.pg_range, {start: state.span.start, end: state.span.end});
    $("plan-start-field").hidden = !needsPlanStart();
    slider.disabled = needsPlanStart() && !state.planStart;
    showAsOf(state.asOf || C.today);
  }
  function sliderDay() { return dayText(parseDay(state.span.start) + Number(slider.value) * DAY); }
  function fillYears() {
    yearSel.innerHTML = "";
    (C.years[state.city] || []).forEach(function (y) {
      var o = document.createElement("option");
      o.value = o.textContent = y.year;
      yearSel.appendChild(o);
    });
    yearSel.value = state.year;
  }
  function fillMetrics(metrics) {
    if (metrics.indexOf(state.metric) < 0)
      state.metric = metrics.indexOf("delivered_units") >= 0 ? "delivered_units" : metrics[0];
    metricSel.innerHTML = "";
    metrics.forEach(function (m) {
      var o = document.createElement("option");
      o.value = m; o.textContent = metricLabel(m);
      metricSel.appendChild(o);
    });
    metricSel.value = state.metric;
  }
  function remember() {
    var params = new URLSearchParams(window.location.search);
    params.set("city", state.city); params.set("year", state.year);
    if (state.metric) params.set("metric", state.metric);
    if (state.asOf) params.set("as_of", state.asOf); else params.delete("as_of");
    if (needsPlanStart() && state.planStart) params.set("plan_start", String(state.planStart)); else params.delete("plan_start");
    window.history.replaceState(null, "", window.location.pathname + "?" + params.toString());
  }

  /* ---------- map ---------- */
  var map = L.map("map", {zoomSnap: 0.25, scrollWheelZoom: false});
  window.__pgMap = map;
  map.setView([35.2, 113.2], 9);
  L.control.scale({imperial: false}).addTo(map);
  var counties = L.geoJSON(null, {style: countyStyle, onEachFeature: function (f, layer) {
    layer.bindTooltip("", {sticky: true}); layer.bindPopup("", {maxWidth: 300});
  }}).addTo(map);
  function countyStyle(f) {
    var row = rowFor(f.properties.name, state.metric);
    // A zero target is met by definition (share 1.0): grey like no target, not dark green.
    return {color: "#444", weight: 1, fillOpacity: 0.85, fillColor: row && row.target > 0 ? colorFor(row.share) : GREY};
  }
  function countyHtml(name) {
    var row = rowFor(name, state.metric), lines;
    if (!row) lines = [[T.pg_state, C.text.pg_no_target]];
    else lines = [[T.pg_target, num(row.target)], [T.pg_actual, num(row.actual)], [T.pg_share, pct(row.share)],
                  [T.pg_state, stateLabel(row.state)], [T.pg_due, row.due || T.pg_no_due]];
    return '<div class="pg-popup"><b>' + esc(name) + "</b><div>" + esc(metricLabel(state.metric)) + "</div><table>" +
      lines.map(function (l) { return "<tr><td>" + esc(l[0]) + "</td><td>" + esc(l[1]) + "</td></tr>"; }).join("") +
      "</table></div>";
  }
  var Legend = L.Control.extend({onAdd: function () {
    var d = L.DomUtil.create("div", "pg-legend");
    L.DomEvent.disableClickPropagation(d);
    return d;
  }});
  var legend = new Legend({position: "bottomright"});
  legend.addTo(map);
  function drawLegend() {
    var box = legend.getContainer();
    var items = RAMP.map(function (step, i) {
      var next = RAMP[i + 1];
      var text = next ? Math.round(step[0] * 100) + "–" + Math.round(next[0] * 100) + "%" : "≥ 100%";
      return '<div><i style="background:' + step[1] + '"></i>' + text + "</div>";
    });
    items.push('<div><i style="background:' + GREY + '"></i>' + esc(T.pg_no_target) + "</div>");
    box.innerHTML = "<b>" + esc(T.pg_legend) + "</b><div class=\"muted\">" + esc(metricLabel(state.metric)) + "</div>" + items.join("");
  }
  function drawCounties(refit) {
    if (!state.features) return;
    counties.clearLayers();
    /* The city's counties; a boundary layer without a city field: all of them. */
    var hasCity = state.features.some(function (f) { return f.properties.city; });
    counties.addData(state.features.filter(function (f) { return !hasCity || f.properties.city === state.city; }));
    if (refit && counties.getLayers().length) map.fitBounds(counties.getBounds(), {padding: [8, 8], animate: false});
    paintCounties();
  }
  function paintCounties() {
    state.fills = {};
    counties.eachLayer(function (layer) {
      var name = layer.feature.properties.name;
      layer.setStyle(countyStyle(layer.feature));
      layer.setTooltipContent(countyHtml(name));
      layer.setPopupContent(countyHtml(name));
      state.fills[name] = layer.options.fillColor;
    });
    drawLegend();
  }
  function loadDistricts() {
    if (!C.districts) return Promise.resolve();
    return fetch(C.districts, {headers: {Accept: "application/geo+json"}})
      .then(function (r) { return r.ok ? r.json() : null; })
      .then(function (g) {
        state.features = g ? g.features : [];
        drawCounties(true);
        document.body.setAttribute("data-districts", String(counties.getLayers().length));
      });
  }

  /* ---------- beside the map: regions that match no district ---------- */
  function drawUnmatched() {
    var r = state.report, list = $("unmatched");
    var rows = r.rows.filter(function (row) {
      return row.metric === state.metric && !row.district_match && row.region !== C.total;
    });
    list.innerHTML = rows.length ? rows.map(function (row) {
      return '<li data-region="' + esc(row.region) + '"><b>' + esc(row.region) + "</b> " +
        '<i class="sw" style="background:' + colorFor(row.share) + '"></i>' +
        esc(T.pg_share) + " " + pct(row.share) + "（" + esc(T.pg_target) + " " + num(row.target) + "，" +
        esc(T.pg_actual) + " " + num(row.actual) + "，" + esc(stateLabel(row.state)) + "）" +
        (row.note ? '<div class="muted note">' + esc(row.note) + "</div>" : "") + "</li>";
    }).join("") : '<li class="muted">' + esc(T.pg_unmatched_none) + "</li>";
  }

  /* ---------- charts ---------- */
  function drawCharts() {
    var r = state.report, box = $("charts");
    var regions = r.regions.filter(function (g) { return g !== C.total; });
    Object.keys(state.charts).forEach(function (m) {
      if (r.metrics.indexOf(m) < 0) { state.charts[m].chart.destroy(); state.charts[m].figure.remove(); delete state.charts[m]; }
    });
    r.metrics.forEach(function (m) {
      var targets = regions.map(function (g) { var row = rowFor(g, m); return row ? row.target : null; });
      var actuals = regions.map(function (g) { var row = rowFor(g, m); return row ? row.actual : null; });
      var label = metricLabel(m), entry = state.charts[m];
      if (!entry) {
        var figure = document.createElement("figure"), holder = document.createElement("div");
        var canvas = document.createElement("canvas");
        figure.className = "chart"; figure.setAttribute("data-metric", m);
        figure.innerHTML = "<figcaption>" + esc(label) + "</figcaption>";
        holder.className = "chart-box";
        canvas.setAttribute("role", "img");
        canvas.setAttribute("aria-label", fill(T.pg_chart_alt, {metric: label}));
        holder.appendChild(canvas); figure.appendChild(holder); box.appendChild(figure);
        entry = state.charts[m] = {figure: figure, chart: new window.Chart(canvas, {
          type: "bar",
          data: {labels: regions, datasets: [
            {label: T.pg_target, data: targets, backgroundColor: "#9ecae1", borderColor: "#4292c6", borderWidth: 1},
            {label: T.pg_actual, data: actuals, backgroundColor: "#fd8d3c", borderColor: "#d94701", borderWidth: 1}]},
          options: {animation: false, responsive: true, maintainAspectRatio: false,
                    plugins: {legend: {position: "bottom"},
                              tooltip: {callbacks: {label: function (c) { return c.dataset.label + ": " + num(c.raw); }}}},
                    scales: {x: {ticks: {autoSkip: false, maxRotation: 60}}, y: {beginAtZero: true}}}})};
      } else {
        entry.chart.data.labels = regions;
        entry.chart.data.datasets[0].data = targets;
        entry.chart.data.datasets[1].data = actuals;
        entry.chart.update("none");
      }
      box.appendChild(entry.figure);  /* in the report's order */
    });
  }

  /* ---------- tables ---------- */
  function drawTable() {
    var r = state.report, table = $("progress-table");
    var head1 = '<tr><th scope="col" rowspan="2">' + esc(T.pg_region) + "</th>" + r.metrics.map(function (m) {
      return '<th scope="colgroup" colspan="4" data-metric="' + esc(m) + '">' + esc(metricLabel(m)) + "</th>";
    }).join("") + "</tr>";
    var head2 = "<tr>" + r.metrics.map(function () {
      return '<th scope="col" class="num">' + esc(T.pg_target) + '</th><th scope="col" class="num">' + esc(T.pg_actual) +
        '</th><th scope="col" class="num">' + esc(T.pg_share) + '</th><th scope="col">' + esc(T.pg_state) + "</th>";
    }).join("") + "</tr>";
    table.tHead.innerHTML = head1 + head2;
    table.tBodies[0].innerHTML = r.regions.map(function (g) {
      var total = g === C.total;
      return "<tr" + (total ? ' class="total"' : "") + ' data-region="' + esc(g) + '"><th scope="row">' + esc(g) + "</th>" +
        r.metrics.map(function (m) {
          var row = rowFor(g, m);
          if (!row) return '<td class="num">—</td><td class="num">—</td><td class="num">—</td><td>—</td>';
          return '<td class="num" data-metric="' + esc(m) + '" data-field="target">' + num(row.target) + "</td>" +
            '<td class="num" data-metric="' + esc(m) + '" data-field="actual">' + num(row.actual) + "</td>" +
            '<td class="num" data-metric="' + esc(m) + '" data-field="share">' + pct(row.share) + "</td>" +
            '<td data-metric="' + esc(m) + '" data-field="state"><span class="state state-' + esc(row.state) + '">' +
            esc(stateLabel(row.state)) + "</span></td>";
        }).join("") + "</tr>";
    }).join("");
  }
  function drawOverdue() {
    var items = state.report.overdue || [];
    $("overdue").tBodies[0].innerHTML = items.map(function (o) {
      var name = o.area_id === null || o.area_id === undefined ? esc(o.area)
        : '<a href="/maps/areas/' + encodeURIComponent(o.area_id) + "?lang=" + C.lang + '">' + esc(o.area) + "</a>";
      return "<tr><td>" + name + "</td><td>" + esc(o.county || "—") + "</td><td>" +
        esc(C.milestones[o.milestone] || o.milestone) + "</td><td>" + esc(o.due || "—") +
        '</td><td class="num">' + esc(o.days_late) + "</td></tr>";
    }).join("");
    $("overdue-wrap").hidden = items.length === 0;
    $("overdue-none").hidden = items.length > 0;
  }
  function drawNotes() {
    var r = state.report, notes = r.notes || [], mismatches = r.status_mismatches || [];
    $("notes").innerHTML = notes.map(function (n) { return "<li>" + esc(n) + "</li>"; }).join("");
    $("mismatch-count").textContent = String(mismatches.length);
    $("mismatch-list").innerHTML = mismatches.map(function (m) {
      var text = fill(T.pg_mismatch_row, {area: m.area, stored: C.statuses[m.stored] || m.stored,
                                          derived: C.statuses[m.derived] || m.derived, date: m.date || "—"});
      return "<li>" + (m.area_id === null || m.area_id === undefined ? esc(text)
        : '<a href="/maps/areas/' + encodeURIComponent(m.area_id) + "?lang=" + C.lang + '">' + esc(text) + "</a>") + "</li>";
    }).join("");
    $("mismatches").hidden = mismatches.length === 0;
    $("notes-section").hidden = notes.length === 0 && mismatches.length === 0;
  }
  function render() {
    var r = state.report;
    fillMetrics(r.metrics);
    $("status-text").textContent = fill(T.pg_status, {as_of: r.as_of, city: r.city, year: r.year, events: r.events});
    $("status").classList.remove("error");
    $("synthetic").hidden = !r.synthetic;
    showAsOf(r.as_of);
    paintCounties();
    drawUnmatched(); drawCharts(); drawTable(); drawOverdue(); drawNotes();
  }

  function clearReport() {  /* nothing to show: no answer drawn from another city or year */
    state.report = null;
    Object.keys(state.charts).forEach(function (m) { state.charts[m].chart.destroy(); state.charts[m].figure.remove(); });
    state.charts = {};
    $("progress-table").tHead.innerHTML = ""; $("progress-table").tBodies[0].innerHTML = "";
    $("overdue").tBodies[0].innerHTML = ""; $("unmatched").innerHTML = "";
    $("overdue-wrap").hidden = true; $("overdue-none").hidden = true; $("notes-section").hidden = true;
    $("synthetic").hidden = true;
    paintCounties();
  }

  /* ---------- asking the API ---------- */
  var pending = null;
  function load() {
    if (pending) { clearTimeout(pending); pending = null; }
    var seq = ++state.seq;
    var params = new URLSearchParams({city: state.city, year: state.year});
    if (state.asOf) params.set("as_of", state.asOf);
    remember();
    if (needsPlanStart() && !state.planStart) {  /* the API cannot place Y1 in the calendar */
      clearReport();
      $("status-text").textContent = T.pg_plan_start_needed;
      document.body.setAttribute("data-failed", "plan_start");
      return Promise.resolve();
    }
    if (needsPlanStart()) params.set("plan_start", String(state.planStart));
    document.body.removeAttribute("data-failed");
    document.body.removeAttribute("data-loaded");
    $("status-text").textContent = T.pg_loading;
    return fetch("/analysis/progress?" + params.toString(), {headers: {Accept: "application/json"}})
      .then(function (r) {
        return r.json().catch(function () { return null; }).then(function (b) { return {ok: r.ok, status: r.status, body: b}; });
      })
      .then(function (res) {
        if (seq !== state.seq) return;  /* a later request is on its way */
        if (!res.ok || !res.body) {
          $("status-text").textContent = T.pg_failed + "：" + ((res.body && (res.body.detail || res.body.title)) || res.status);
          $("status").classList.add("error");
          document.body.setAttribute("data-failed", String(res.status));
          return;
        }
        state.report = res.body;
        render();
        document.body.setAttribute("data-loaded", res.body.as_of);
      })
      .catch(function (e) {
        if (seq !== state.seq) return;
        $("status-text").textContent = T.pg_failed + "：" + e;
        $("status").classList.add("error");
      });
  }

  citySel.addEventListener("change", function () {
    state.city = citySel.value; state.year = C.latest[state.city]; state.asOf = null;
    fillYears(); setSlider(); drawCounties(true); load();
  });
  yearSel.addEventListener("change", function () {
    state.year = yearSel.value; state.asOf = null;
    setSlider(); load();
  });
  planInput.addEventListener("change", function () {
    var value = Number(planInput.value);
    state.planStart = value >= 1949 && value <= 2100 ? Math.round(value) : null;
    state.asOf = null;
    setSlider(); load();
  });
  metricSel.addEventListener("change", function () {
    state.metric = metricSel.value;
    remember();
    if (state.report) { paintCounties(); drawUnmatched(); }
  });
  slider.addEventListener("input", function () {  /* dragging: ask once the hand rests */
    state.asOf = sliderDay(); showAsOf(state.asOf);
    if (pending) clearTimeout(pending);
    pending = setTimeout(load, 250);
  });
  slider.addEventListener("change", function () { state.asOf = sliderDay(); showAsOf(state.asOf); load(); });
  $("progress-form").addEventListener("submit", function (e) { e.preventDefault(); load(); });

  setSlider();
  Promise.all([loadDistricts(), load()]).then(function () { if (state.report) paintCounties(); });
})();
