/* The sign-in and the requests both work pages share (/maps/edit, /maps/import: this file
   is loaded before edit.js and import.js, which take them from window.RenewalWork).

   The editor's token is kept in sessionStorage (this browser tab only) and sent as an
   Authorization header; it never goes into a URL. Text from the server is only ever set as
   textContent. */
(function () {
  'use strict';

  var TOKEN_KEY = 'renewal.editToken';
  var ACCEPT = 'application/geo+json, application/json, application/problem+json';

  function readConfig(id) {
    var el = document.getElementById(id);
    return el ? JSON.parse(el.textContent) : null;
  }

  /** "已保存「{name}」" with {name} filled in. */
  function fill(template, values) {
    return String(template).replace(/\{(\w+)\}/g, function (m, key) {
      return Object.prototype.hasOwnProperty.call(values, key) ? String(values[key]) : m;
    });
  }

  var Auth = {
    user: null,
    listeners: [],
    token: function () {
      try { return window.sessionStorage.getItem(TOKEN_KEY); } catch (e) { return null; }
    },
    store: function (token) {
      if (token) window.sessionStorage.setItem(TOKEN_KEY, token);
      else window.sessionStorage.removeItem(TOKEN_KEY);
    },
    signedIn: function (user) {
      Auth.user = user;
      Auth.listeners.forEach(function (fn) { fn(user); });
    },
    onChange: function (fn) { Auth.listeners.push(fn); fn(Auth.user); }
  };

  /** fetch with the editor's token once signed in (reads otherwise carry the sign-in cookie);
      resolves to {status, ok, headers, data} with JSON and problem documents decoded, and
      status 0 when the server cannot be reached. */
  function request(method, url, options) {
    var opts = options || {};
    var headers = Object.assign({Accept: ACCEPT}, opts.headers || {});
    var token = opts.token !== undefined ? opts.token : (Auth.user ? Auth.token() : null);
    if (token) headers.Authorization = 'Bearer ' + token;
    var body = opts.body;
    if (opts.json !== undefined) {
      body = JSON.stringify(opts.json);
      headers['Content-Type'] = 'application/geo+json';
    }
    var init = {method: method, headers: headers, body: body, credentials: 'same-origin', cache: 'no-store'};
    return fetch(url, init).then(function (response) {
      var type = response.headers.get('content-type') || '';
      var decoded = /json/.test(type) ? response.json().catch(function () { return null; })
                                      : Promise.resolve(null);
      return decoded.then(function (data) {
        return {status: response.status, ok: response.ok, headers: response.headers, data: data};
      });
    }, function () {
      return {status: 0, ok: false, headers: new Headers(), data: null};
    });
  }

  /** One line saying why a request failed, for answers without field problems. */
  function failureText(r, text) {
    if (r.status === 0) return text.ed_offline;
    if (r.status === 401) return text.ed_token_invalid;
    if (r.status === 403) return text.ed_no_edit_role;
    if (r.status === 413) return text.ed_too_large;
    var detail = r.data && (r.data.detail || r.data.title);
    return text.ed_failed + ' (HTTP ' + r.status + ')' + (detail ? ': ' + detail : '');
  }

  /** The sign-in form ("令牌", "登录"): the token is checked with /whoami before it is kept. */
  function setupSignin(text) {
    var form = document.getElementById('rn-signin');
    if (!form) return;
    var input = document.getElementById('rn-token');
    var message = document.getElementById('rn-signin-message');
    var who = document.getElementById('rn-who');
    var whoName = document.getElementById('rn-who-name');

    function show(user) {
      form.hidden = !!user;
      who.hidden = !user;
      whoName.textContent = user ? fill(text.ed_signed_in, {user: user}) : '';
      Auth.signedIn(user);
    }

    function check(token) {
      return request('GET', '/whoami', {token: token}).then(function (r) {
        if (r.ok && r.data && (r.data.roles || []).indexOf('edit') >= 0) return {user: r.data.user};
        if (r.ok) return {error: text.ed_no_edit_role};
        return {error: r.status === 401 ? text.ed_token_invalid : failureText(r, text)};
      });
    }

    form.addEventListener('submit', function (ev) {
      ev.preventDefault();
      var token = input.value.trim();
      message.textContent = '';
      if (!token) {
        message.textContent = text.ed_token_empty;
        input.focus();
        return;
      }
      check(token).then(function (result) {
        if (result.error) {
          message.textContent = result.error;
          input.select();
          return;
        }
        Auth.store(token);
        input.value = '';
        show(result.user);
      });
    });
    document.getElementById('rn-signout').addEventListener('click', function () {
      Auth.store(null);
      message.textContent = '';
      show(null);
      input.focus();
    });
    var saved = Auth.token();
    if (!saved) {
      show(null);
      return;
    }
    check(saved).then(function (result) {
      if (result.error) {
        Auth.store(null);
        message.textContent = result.error;
      }
      show(result.user || null);
    });
  }

  window.RenewalWork = {Auth: Auth, request: request, fill: fill, readConfig: readConfig,
                        failureText: failureText, setupSignin: setupSignin};
}());
