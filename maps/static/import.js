/* Importing a file as a layer (/maps/import): POST /imports as multipart form data with the
   editor's token (signed in with the form work.js provides). A file with problems is not
   imported at all; its problems are listed in a table (row, field, what to fix). */
(function () {
  'use strict';

  document.addEventListener('DOMContentLoaded', function () {
    var W = window.RenewalWork;
    var cfg = W.readConfig('rn-import-config');
    if (!cfg) return;
    var T = cfg.text;
    var $ = function (id) { return document.getElementById(id); };
    var form = $('rn-import'), submit = $('rn-import-submit'), result = $('rn-import-result');
    var busy = false;

    function status(text) { $('rn-import-status').textContent = text || ''; }
    function alertText(text) {
      $('rn-import-alert-text').textContent = text || '';
      $('rn-import-alert').hidden = !text;
    }
    function controls() { submit.disabled = !W.Auth.user || busy; }

    function cell(row, text, className) {
      var td = document.createElement('td');
      td.textContent = text === null || text === undefined || text === '' ? '—' : String(text);
      if (className) td.className = className;
      row.appendChild(td);
    }
    /** A table.data in a scrolling wrapper: head labels, then one row of cells per item. */
    function table(caption, head, rows, classes) {
      var wrap = document.createElement('div');
      wrap.className = 'table-wrap';
      var t = document.createElement('table');
      t.className = 'data ' + (classes || '');
      if (caption) {
        var cap = document.createElement('caption');
        cap.textContent = caption;
        t.appendChild(cap);
      }
      var thead = t.createTHead().insertRow();
      head.forEach(function (h) {
        var th = document.createElement('th');
        th.scope = 'col';
        th.textContent = h;
        thead.appendChild(th);
      });
      var body = t.createTBody();
      rows.forEach(function (cells) {
        var tr = body.insertRow();
        cells.forEach(function (c) { cell(tr, c[0], c[1]); });
      });
      wrap.appendChild(t);
      return wrap;
    }
    function list(title, lines) {
      if (!lines || !lines.length) return null;
      var box = document.createElement('div');
      var h = document.createElement('h2');
      h.textContent = title;
      var ul = document.createElement('ul');
      lines.forEach(function (line) {
        var li = document.createElement('li');
        li.textContent = line;
        ul.appendChild(li);
      });
      box.appendChild(h);
      box.appendChild(ul);
      return box;
    }
    function show(nodes) {
      result.textContent = '';
      nodes.filter(Boolean).forEach(function (n) { result.appendChild(n); });
      result.hidden = !result.childNodes.length;
    }

    function kindLabel(kind) {
      var option = Array.prototype.filter.call(form.elements.kind.options,
                                               function (o) { return o.value === kind; })[0];
      return option && kind ? option.textContent : kind;
    }
    function imported(data) {
      var infos = data.layer ? [data.layer]  // an OSM extract answers with its layers
                             : Object.keys(data.layers || {}).map(function (k) { return data.layers[k]; });
      var rows = infos.map(function (info) {
        var count = data.layer ? data.imported : info.feature_count;
        return [[info.name], [kindLabel(info.kind)], [count, 'num'], [info.original_crs], [info.encoding]];
      });
      status(T.im_done);
      alertText('');
      show([table('', [T.im_layer, T.im_kind, T.im_count, T.im_source_crs, T.im_encoding], rows,
                  'rn-imported'),
            list(T.im_repaired, data.repaired),
            list(T.im_notices, (data.notices || []).concat(data.summary || []))]);
      var known = document.querySelector('.rn-layer-list');
      infos.forEach(function (info) {
        var listed = known && Array.prototype.some.call(known.children,
                                                        function (s) { return s.dataset.layer === info.name; });
        if (!known || listed) return;
        var span = document.createElement('span');
        span.dataset.layer = info.name;
        span.textContent = info.name + '（' + info.kind + '）';
        known.appendChild(span);
      });
    }
    function refused(r) {
      status('');
      var problems = (r.data && r.data.problems) || [];
      if (!problems.length) {
        alertText(T.im_failed + ': ' + W.failureText(r, T));
        show([]);
        return;
      }
      alertText(W.fill(T.im_problems, {n: problems.length}) + (r.data.detail ? ' — ' + r.data.detail : ''));
      var kind = form.elements.kind.value || form.elements.layer.value.trim();
      var labels = (cfg.fieldLabels || {})[kind] || {};
      var rows = problems.map(function (p) {
        var field = p.field && labels[p.field] ? p.field + '（' + labels[p.field] + '）' : p.field;
        return [[p.row, 'num'], [field], [p.message, 'msg']];
      });
      show([table(T.im_failed, [T.im_row, T.im_field, T.im_problem], rows, 'rn-problems')]);
    }

    form.addEventListener('submit', function (ev) {
      ev.preventDefault();
      if (busy || !W.Auth.user) return;
      var file = $('i-file').files[0];
      if (!file) {
        alertText(T.im_file_missing);
        $('i-file').focus();
        return;
      }
      var osm = /\.osm(\.pbf)?$/i.test(file.name);
      if (!osm && !form.elements.layer.value.trim()) {
        alertText(T.im_layer_missing);
        $('i-layer').focus();
        return;
      }
      var data = new FormData();
      data.append('file', file, file.name);
      ['layer', 'kind', 'crs', 'encoding', 'mode'].forEach(function (name) {
        var value = form.elements[name].value.trim();
        if (value) data.append(name, value);
      });
      busy = true;
      controls();
      alertText('');
      show([]);
      status(T.im_running);
      W.request('POST', '/imports', {body: data}).then(function (r) {
        busy = false;
        controls();
        if (r.ok && r.data) imported(r.data);
        else refused(r);
      });
    });
    W.Auth.onChange(function (user) {
      controls();
      if (!user) status(T.im_sign_in_first);
      else if ($('rn-import-status').textContent === T.im_sign_in_first) status('');
    });
    W.setupSignin(T);
  });
}());
