/* Drawing and editing renewal areas (/maps/edit), with the sign-in and requests of work.js
   (loaded before this file).

   Every change goes through the API: POST, PUT and DELETE /collections/{areas}/items with the
   ETag read with the feature as If-Match, so a change someone else saved first is refused (412)
   and never overwritten. Areas (亩) are the server's: the page reads a feature again after
   saving it. Text from the server is only ever set as textContent. */
(function () {
  'use strict';

  var W = window.RenewalWork;
  var Auth = W.Auth, request = W.request, fill = W.fill, readConfig = W.readConfig;
  var failureText = W.failureText, setupSignin = W.setupSignin;

  // ---------------------------------------------------------------- the area editor

  function initEditor(cfg) {
    var T = cfg.text;
    var $ = function (id) { return document.getElementById(id); };
    var itemsUrl = '/collections/' + encodeURIComponent(cfg.collection) + '/items';
    var itemUrl = function (id) { return itemsUrl + '/' + encodeURIComponent(id); };
    var LIMIT = 2000;
    var form = $('rn-area'), pick = $('rn-pick'), drawBtn = $('rn-draw'), saveBtn = $('rn-save');
    var reshapeBtn = $('rn-reshape'), deleteBtn = $('rn-delete'), cancelBtn = $('rn-cancel');
    var fields = Array.prototype.slice.call(form.querySelectorAll('[data-field]'));

    var map = L.map('rn-edit-map', {maxZoom: 20});
    window.__rnMap = map;
    map.fitBounds(cfg.bounds, {maxZoom: 16});
    L.control.scale({imperial: false}).addTo(map);
    map.pm.setLang(cfg.lang === 'en' ? 'en' : 'zh');
    map.pm.setGlobalOptions({
      allowSelfIntersection: false, snappable: true, snapDistance: 12,
      templineStyle: {color: '#d7301f'}, hintlineStyle: {color: '#d7301f', dashArray: '5,5'},
      pathOptions: {color: '#d7301f', weight: 3, fillColor: '#fdae6b', fillOpacity: 0.35}
    });

    var areas = new Map();   // id → {feature, layer}
    var group = L.featureGroup().addTo(map);
    var current = null;      // {id, feature, etag, layer, isNew}
    var drawing = false, reshaping = false, busy = false, selectSeq = 0, loadSeq = 0;

    // ---- messages
    function hint(text) { $('rn-hint').textContent = text || ''; $('rn-hint').hidden = !text; }
    function message(text) { $('rn-message').textContent = text || ''; hideAlert(); }
    function hideAlert() { $('rn-alert').hidden = true; $('rn-reload').hidden = true; }
    function showAlert(text, lines, reload) {
      $('rn-message').textContent = '';
      $('rn-alert-text').textContent = text;
      var list = $('rn-alert-list');
      list.textContent = '';
      (lines || []).forEach(function (line) {
        var li = document.createElement('li');
        li.textContent = line;
        list.appendChild(li);
      });
      $('rn-reload').hidden = !reload;
      $('rn-alert').hidden = false;
    }
    function clearProblems() {
      form.querySelectorAll('.problem').forEach(function (el) { el.textContent = ''; });
      fields.forEach(function (el) { el.removeAttribute('aria-invalid'); });
    }

    // ---- the areas on the map
    function muText(mu) {
      if (mu === null || mu === undefined) return '—';
      return Number(mu).toLocaleString(cfg.lang === 'en' ? 'en' : 'zh-CN',
                                       {minimumFractionDigits: 2, maximumFractionDigits: 2});
    }
    function styleFor(feature, selected) {
      var fillColor = cfg.statusColors[feature.properties.status] || '#9e9e9e';
      return {color: selected ? '#d7301f' : '#333', weight: selected ? 4 : 1.5, fillColor: fillColor,
              fillOpacity: selected ? 0.3 : 0.5};
    }
    function makeLayer(feature) {
      var layer = L.GeoJSON.geometryToLayer(feature);
      layer.feature = feature;
      layer.setStyle(styleFor(feature, current !== null && current.id === feature.id));
      var p = feature.properties, tip = document.createElement('span');  // names are text, never HTML
      tip.textContent = (p.name || '') + ' · ' + muText(p.area_mu) + ' ' + (cfg.lang === 'en' ? 'mu' : '亩');
      layer.bindTooltip(tip, {sticky: true});
      layer.on('click', function () { onAreaClick(feature.id); });
      return layer;
    }
    /** Add or replace an area as the server has it; its layer. */
    function putFeature(feature) {
      var known = areas.get(feature.id);
      if (known) group.removeLayer(known.layer);
      var layer = makeLayer(feature);
      group.addLayer(layer);
      areas.set(feature.id, {feature: feature, layer: layer});
      return layer;
    }
    function dropFeature(id) {
      var known = areas.get(id);
      if (known) group.removeLayer(known.layer);
      areas.delete(id);
    }
    function sameContent(a, b) {
      return JSON.stringify([a.geometry, a.properties]) === JSON.stringify([b.geometry, b.properties]);
    }
    function refreshLists() {
      var items = Array.from(areas.values()).map(function (a) { return a.feature; });
      items.sort(function (a, b) {
        return String(a.properties.name).localeCompare(String(b.properties.name), 'zh');
      });
      var keep = current && !current.isNew ? String(current.id) : '';
      pick.length = 1;
      items.forEach(function (f) {
        var label = f.properties.name + (f.properties.county ? '（' + f.properties.county + '）' : '');
        pick.add(new Option(label, String(f.id)));
      });
      pick.value = keep;
      var counties = new Set(items.map(function (f) { return f.properties.county; }).filter(Boolean));
      var list = $('rn-counties');
      list.textContent = '';
      Array.from(counties).sort().forEach(function (c) { list.appendChild(new Option(c, c)); });
      document.body.setAttribute('data-loaded-areas', String(areas.size));
    }

    function bboxParam() {
      var b = map.getBounds();
      return [b.getWest(), b.getSouth(), b.getEast(), b.getNorth()]
        .map(function (v) { return v.toFixed(6); }).join(',');
    }
    function loadAreas() {
      var seq = ++loadSeq;
      var view = map.getBounds();
      return request('GET', itemsUrl + '?bbox=' + bboxParam() + '&limit=' + LIMIT).then(function (r) {
        if (seq !== loadSeq) return;
        if (!r.ok || !r.data) {
          showAlert(failureText(r, T));
          return;
        }
        var seen = new Set();
        r.data.features.forEach(function (f) {
          seen.add(f.id);
          if (current && current.id === f.id) return;  // the one being edited stays as it was read
          var known = areas.get(f.id);
          if (!known || !sameContent(known.feature, f)) putFeature(f);
        });
        if (r.data.numberMatched === r.data.numberReturned) {  // whole view: drop areas deleted elsewhere
          Array.from(areas.entries()).forEach(function (entry) {
            var id = entry[0], layer = entry[1].layer;
            var editing = current && current.id === id;
            if (!seen.has(id) && !editing && view.intersects(layer.getBounds())) dropFeature(id);
          });
          if (!drawing && !reshaping) hint('');
        } else {
          hint(fill(T.ed_truncated, {n: r.data.numberReturned}));
        }
        refreshLists();
      });
    }

    function loadContext(spec) {
      var styles = {districts: {color: '#555', weight: 1.5, dashArray: '6 4', fill: false},
                    roads: {color: '#a0a0a0', weight: 1.2}};
      var layer = L.geoJSON(null, {pmIgnore: true, interactive: false,
                                   style: styles[spec.id] || {color: '#888', weight: 1}});
      layer.addTo(map);
      layer.bringToBack();
      var seq = 0;
      function load() {
        var mine = ++seq;
        if (map.getZoom() < spec.minZoom) {
          layer.clearLayers();
          return;
        }
        request('GET', spec.url + '&bbox=' + bboxParam() + '&limit=5000').then(function (r) {
          if (mine !== seq || !r.ok || !r.data) return;
          layer.clearLayers();
          layer.addData(r.data);
          layer.bringToBack();
        });
      }
      map.on('moveend', load);
      load();
    }

    // ---- the form
    function controlsState() {
      var signed = !!Auth.user;
      drawBtn.disabled = !signed || busy;
      [saveBtn, reshapeBtn, deleteBtn].forEach(function (b) { b.disabled = !signed || busy; });
      cancelBtn.disabled = busy;
      deleteBtn.hidden = !current || current.isNew;
      if (!signed && !drawing && !reshaping) hint(T.ed_sign_in_first);
      else if ($('rn-hint').textContent === T.ed_sign_in_first) hint('');
    }
    function setBusy(value) { busy = value; controlsState(); }

    function openForm() {
      var p = current.feature ? current.feature.properties : {status: 'planned'};
      fields.forEach(function (el) {
        var v = p[el.dataset.field];
        el.value = v === null || v === undefined ? '' : String(v);
      });
      if (!$('f-status').value) $('f-status').value = 'planned';
      $('rn-area-title').textContent = current.isNew ? T.ed_new_area : p.name;
      $('rn-area-mu').textContent = current.isNew ? T.ed_area_pending
                                                  : fill(T.ed_area_value, {mu: muText(p.area_mu)});
      clearProblems();
      form.hidden = false;
      setReshaping(false);
      controlsState();
    }
    function formValues() {
      var out = {};
      fields.forEach(function (el) {
        var v = el.value.trim();
        if (v === '') out[el.dataset.field] = null;
        else if (el.dataset.type === 'int') out[el.dataset.field] = isFinite(Number(v)) ? Number(v) : v;
        else out[el.dataset.field] = v;
      });
      return out;
    }
    function setReshaping(on) {
      reshaping = !!on && !!current;
      if (current && current.layer && current.layer.pm) {
        if (reshaping) current.layer.pm.enable({allowSelfIntersection: false, snappable: true});
        else current.layer.pm.disable();
      }
      reshapeBtn.setAttribute('aria-pressed', reshaping ? 'true' : 'false');
      hint(reshaping ? T.ed_reshape_hint : '');
    }
    /** Leave the area being edited: a draft is dropped, an existing area drawn as it was read. */
    function release() {
      if (!current) return;
      setReshaping(false);
      var was = current;
      current = null;
      if (was.isNew) map.removeLayer(was.layer);
      else if (areas.has(was.id)) putFeature(was.feature);
      form.hidden = true;
      clearProblems();
      pick.value = '';
      controlsState();
    }

    function select(id, fit) {
      var seq = ++selectSeq;
      release();
      return request('GET', itemUrl(id)).then(function (r) {
        if (seq !== selectSeq) return;
        if (r.status === 404) {
          dropFeature(id);
          refreshLists();
          showAlert(T.ed_gone);
          return;
        }
        if (!r.ok) {
          showAlert(failureText(r, T));
          return;
        }
        current = {id: r.data.id, feature: r.data, etag: r.headers.get('ETag'), isNew: false};
        current.layer = putFeature(r.data);
        refreshLists();
        openForm();
        if (fit) map.fitBounds(current.layer.getBounds(), {maxZoom: 17});
      });
    }
    function onAreaClick(id) {
      if (drawing || (current && (current.isNew || reshaping))) return;  // keep the work in hand
      if (current && current.id === id) return;
      hideAlert();
      select(id, false);
    }

    function showProblems(problems) {
      var first = null;
      var lines = problems.map(function (p) {
        var field = p.field || '';
        var el = fields.filter(function (f) { return f.dataset.field === field; })[0];
        var shape = field === '' || field.indexOf('geometry') === 0;
        var span = el ? $('p-' + field) : (shape ? $('p-geometry') : null);
        var label = el ? form.querySelector('label[for="' + el.id + '"]').textContent
                       : (field.indexOf('geometry') === 0 ? T.ed_shape : field);
        var where = p.row !== null && p.row !== undefined && !el && !label ? '#' + p.row : '';
        if (span) span.textContent = (span.textContent ? span.textContent + '; ' : '') + p.message;
        if (el) {
          el.setAttribute('aria-invalid', 'true');
          first = first || el;
        }
        return (label || where) ? (label || where) + ': ' + p.message : p.message;
      });
      showAlert(fill(T.ed_problems, {n: problems.length}), lines);
      if (first) first.focus();
    }
    function failed(r) {
      if (r.status === 412) showAlert(T.ed_stale, [], true);
      else if (r.status === 404) showAlert(T.ed_gone);
      else if (r.data && r.data.problems && r.data.problems.length) showProblems(r.data.problems);
      else showAlert(failureText(r, T));
    }

    function save() {
      if (!current || busy) return;
      clearProblems();
      hideAlert();
      if (!current.isNew && !current.etag) {  // never write without the version it was read at
        showAlert(T.ed_stale, [], true);
        return;
      }
      var props = Object.assign({}, current.feature ? current.feature.properties : {}, formValues());
      delete props.area_m2;  // computed by the server from the shape
      delete props.area_mu;
      var body = {type: 'Feature', geometry: current.layer.toGeoJSON(7).geometry, properties: props};
      var editing = current;
      setBusy(true);
      var sent = editing.isNew
        ? request('POST', itemsUrl, {json: body})
        : request('PUT', itemUrl(editing.id), {json: body, headers: {'If-Match': editing.etag}});
      return sent.then(function (r) {
        if (!r.ok) {
          setBusy(false);
          failed(r);
          return;
        }
        var id = editing.isNew ? r.data.created[0] : editing.id;
        return request('GET', itemUrl(id)).then(function (g) {
          setBusy(false);
          setReshaping(false);
          if (editing.isNew) map.removeLayer(editing.layer);
          if (!g.ok) {  // saved; the new version could not be read back
            current = null;
            form.hidden = true;
            showAlert(failureText(g, T));
            return;
          }
          current = {id: id, feature: g.data, etag: g.headers.get('ETag'), isNew: false};
          current.layer = putFeature(g.data);
          refreshLists();
          openForm();
          message(fill(T.ed_saved, {name: g.data.properties.name, mu: muText(g.data.properties.area_mu)}));
        });
      });
    }

    function remove() {
      if (!current || current.isNew || busy) return;
      var name = current.feature.properties.name;
      if (!window.confirm(fill(T.ed_confirm_delete, {name: name}))) return;
      var doomed = current;
      setBusy(true);
      return request('DELETE', itemUrl(doomed.id), {headers: {'If-Match': doomed.etag}}).then(function (r) {
        setBusy(false);
        if (!r.ok) {
          failed(r);
          return;
        }
        setReshaping(false);
        current = null;
        dropFeature(doomed.id);
        form.hidden = true;
        refreshLists();
        controlsState();
        message(fill(T.ed_deleted, {name: name}));
      });
    }

    function reload() {
      if (!current || current.isNew) return;
      var id = current.id, name = current.feature.properties.name;
      return select(id, false).then(function () {
        if (current && current.id === id) {
          message(fill(T.ed_reloaded, {name: current.feature.properties.name || name}));
        }
      });
    }

    // ---- drawing
    drawBtn.addEventListener('click', function () {
      if (drawing) {
        map.pm.disableDraw();
        return;
      }
      release();
      message('');
      map.pm.enableDraw('Polygon', {snappable: true, allowSelfIntersection: false});
      drawing = true;
      drawBtn.setAttribute('aria-pressed', 'true');
      hint(T.ed_draw_hint);
    });
    map.on('pm:drawend', function () {
      drawing = false;
      drawBtn.setAttribute('aria-pressed', 'false');
      if (!reshaping) hint('');
      controlsState();
    });
    map.on('pm:create', function (e) {
      if (e.shape !== 'Polygon') return;
      current = {id: null, feature: null, etag: null, layer: e.layer, isNew: true};
      openForm();
      $('f-name').focus();
    });
    document.addEventListener('keydown', function (ev) {
      if (ev.key === 'Escape' && drawing) map.pm.disableDraw();
    });

    form.addEventListener('submit', function (ev) { ev.preventDefault(); save(); });
    reshapeBtn.addEventListener('click', function () { setReshaping(!reshaping); });
    deleteBtn.addEventListener('click', remove);
    cancelBtn.addEventListener('click', function () { release(); message(''); });
    $('rn-reload').addEventListener('click', reload);
    pick.addEventListener('change', function () {
      if (drawing) map.pm.disableDraw();
      if (pick.value) select(Number(pick.value), true);
      else release();
    });

    Auth.onChange(controlsState);
    cfg.context.forEach(loadContext);
    map.on('moveend', loadAreas);
    loadAreas();
  }

  document.addEventListener('DOMContentLoaded', function () {
    var cfg = readConfig('rn-edit-config');
    if (cfg) {
      initEditor(cfg);
      setupSignin(cfg.text);
    }
  });
}());
