/* Home page: filter the areas table by name as you type and by county, kind and status;
   the summary line counts what is shown. The filters are kept in the URL (?q=&county=…)
   so a filtered list can be shared or reloaded. */
(function () {
  "use strict";
  var form = document.getElementById("area-filters");
  if (!form) return;
  var names = ["q", "county", "kind", "status"];
  var rows = Array.prototype.slice.call(document.querySelectorAll("#areas tbody tr"));
  var summary = document.getElementById("area-summary"), none = document.getElementById("area-none");
  var whole = new Intl.NumberFormat("en-US");  /* as the server writes them: 33,094 and 3,856.6 */
  var tenths = new Intl.NumberFormat("en-US", {minimumFractionDigits: 1, maximumFractionDigits: 1});

  function fill(template, values) {
    return template.replace(/\{(\w+)\}/g, function (m, key) { return key in values ? values[key] : m; });
  }
  function matches(tr, q) {
    var d = tr.dataset;
    return (!q || d.name.toLowerCase().indexOf(q) >= 0) &&
      ["county", "kind", "status"].every(function (name) {
        var want = form.elements[name].value;
        return !want || d[name] === want;
      });
  }
  function remember() {
    var params = new URLSearchParams(window.location.search);
    names.forEach(function (name) {
      var value = form.elements[name].value.trim();
      if (value) params.set(name, value); else params.delete(name);
    });
    var query = params.toString();
    window.history.replaceState(null, "", window.location.pathname + (query ? "?" + query : ""));
  }
  function apply() {
    var q = form.elements.q.value.trim().toLowerCase(), n = 0, households = 0, mu = 0;
    rows.forEach(function (tr) {
      var show = matches(tr, q);
      tr.hidden = !show;
      if (show) {
        n += 1; households += Number(tr.dataset.households) || 0; mu += Number(tr.dataset.mu) || 0;
      }
    });
    var values = {n: n, total: rows.length, households: whole.format(households), mu: tenths.format(mu)};
    var template = n === rows.length ? summary.dataset.all : summary.dataset.filtered;
    summary.textContent = fill(template, values);
    none.hidden = n > 0 || rows.length === 0;
    remember();
  }

  var params = new URLSearchParams(window.location.search);
  names.forEach(function (name) {
    var value = params.get(name), control = form.elements[name];
    if (value === null) return;
    var known = control.tagName !== "SELECT" ||
      Array.prototype.some.call(control.options, function (o) { return o.value === value; });
    if (known) control.value = value;
  });
  form.addEventListener("input", apply);
  form.addEventListener("change", apply);
  form.addEventListener("submit", function (e) { e.preventDefault(); apply(); });
  if (names.some(function (name) { return form.elements[name].value; })) apply();
})();
