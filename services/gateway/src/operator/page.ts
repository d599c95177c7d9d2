/**
 * The operator page served at `/` on the admin port (SPEC §11): the slowest connections of this
 * gateway and the busiest channels of the cluster, refreshed every 2 s, with a disconnect button.
 * It holds no data: it reads `/v1/` with the admin token the operator types, kept in
 * sessionStorage (this tab only). Everything from the API is put in the page as text, never HTML.
 * One self-contained document, so the admin port needs no static files.
 */
export const OPERATOR_PAGE = `<!doctype html>
<html lang="en">
<head>
<meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<title>Megaphone operator</title>
<style>
  body { font: 14px/1.4 system-ui, sans-serif; margin: 0; background: #111418; color: #e6e6e6; }
  header { display: flex; gap: 1rem; align-items: center; padding: .6rem 1rem; background: #1b2027; border-bottom: 1px solid #2c333d; }
  h1 { font-size: 1rem; margin: 0; }
  h2 { font-size: .95rem; margin: 1rem 0 .4rem; }
  main { padding: 0 1rem 1rem; display: grid; gap: 1rem; grid-template-columns: minmax(0, 3fr) minmax(0, 2fr); }
  @media (max-width: 900px) { main { grid-template-columns: 1fr; } }
  table { width: 100%; border-collapse: collapse; font-variant-numeric: tabular-nums; }
  th, td { text-align: left; padding: .25rem .4rem; border-bottom: 1px solid #2c333d; vertical-align: top; }
  th { color: #9aa4b2; font-weight: 600; }
  td.num, th.num { text-align: right; }
  .state-paused { color: #ff8a65; } .state-catching_up { color: #ffd54f; } .state-live { color: #81c784; }
  button { background: #2c333d; color: #e6e6e6; border: 1px solid #3c4450; border-radius: 4px; padding: .2rem .6rem; cursor: pointer; }
  button.danger { border-color: #a33; }
  input, select { background: #0c0f12; color: #e6e6e6; border: 1px solid #3c4450; border-radius: 4px; padding: .2rem .4rem; }
  #status { margin-left: auto; color: #9aa4b2; }
  #status.error { color: #ff8a65; }
  #login { padding: 2rem 1rem; }
  .muted { color: #9aa4b2; }
  [hidden] { display: none !important; }
</style>
</head>
<body>
<header>
  <h1>Megaphone operator</h1>
  <label>sort <select id="sort" data-testid="sort"><option value="queue">queue</option><option value="lag">lag</option><option value="age">age</option></select></label>
  <span id="status" data-testid="status" role="status">…</span>
  <button id="logout" type="button" hidden>forget token</button>
</header>
<section id="login" data-testid="login" hidden>
  <form id="login-form">
    <p>This page reads the gateway's operator API. Enter the <code>ADMIN_TOKEN</code> (kept in this tab only), or leave it empty on a gateway without one (loopback only).</p>
    <input id="token" data-testid="token" type="password" autocomplete="off" size="40" aria-label="admin token">
    <button type="submit" data-testid="login-submit">open</button>
  </form>
</section>
<main id="view" hidden>
  <section>
    <h2>Slowest connections on this gateway</h2>
    <table data-testid="connections">
      <thead><tr><th>id</th><th>sub</th><th>remote</th><th>transport</th><th>state</th><th class="num">queued</th><th>channels (offset, lag)</th><th class="num">age</th><th></th></tr></thead>
      <tbody></tbody>
    </table>
    <form id="disconnect-sub" style="margin-top:.8rem">
      <label>disconnect every connection of a user (cluster-wide): <input id="sub" data-testid="sub" placeholder="sub" size="20"></label>
      <button type="submit" class="danger">disconnect</button>
    </form>
  </section>
  <section>
    <h2>Busiest channels in the cluster</h2>
    <table data-testid="channels">
      <thead><tr><th>channel</th><th class="num">subscribers</th><th>per gateway</th></tr></thead>
      <tbody></tbody>
    </table>
  </section>
</main>
<script>
(function () {
  'use strict';
  var KEY = 'megaphone.adminToken';
  var REFRESH_MS = 2000;
  var timer = null;
  var $ = function (id) { return document.getElementById(id); };

  function token() { return sessionStorage.getItem(KEY); }
  function setStatus(text, error) { var s = $('status'); s.textContent = text; s.className = error ? 'error' : ''; }

  function api(method, path, body) {
    var headers = {};
    var t = token();
    if (t) headers.authorization = 'Bearer ' + t;
    if (body !== undefined) headers['content-type'] = 'application/json';
    return fetch(path, { method: method, headers: headers, body: body === undefined ? undefined : JSON.stringify(body) }).then(function (res) {
      return res.text().then(function (text) {
        var data = text ? JSON.parse(text) : null;
        if (res.status === 401 || res.status === 403) { showLogin(data && data.error ? data.error.message : 'not authorized'); throw new Error('not authorized'); }
        if (!res.ok) throw new Error(data && data.error ? data.error.message : 'HTTP ' + res.status);
        return data;
      });
    });
  }

  function cell(tr, text, cls) { var td = document.createElement('td'); td.textContent = text; if (cls) td.className = cls; tr.appendChild(td); return td; }
  function bytes(n) { return n < 1024 ? n + ' B' : n < 1048576 ? (n / 1024).toFixed(1) + ' KiB' : (n / 1048576).toFixed(1) + ' MiB'; }
  function age(ms) { var s = Math.max(0, Math.round((Date.now() - ms) / 1000)); return s < 120 ? s + ' s' : s < 7200 ? Math.round(s / 60) + ' min' : Math.round(s / 3600) + ' h'; }

  function renderConnections(rows) {
    var body = document.querySelector('[data-testid="connections"] tbody');
    body.replaceChildren();
    rows.forEach(function (r) {
      var tr = document.createElement('tr');
      tr.dataset.id = r.id;
      cell(tr, r.id);
      cell(tr, r.sub === null ? '—' : r.sub, r.sub === null ? 'muted' : '');
      cell(tr, r.remote);
      cell(tr, r.transport);
      cell(tr, r.state.replace('_', ' '), 'state-' + r.state);
      cell(tr, bytes(r.queueBytes), 'num');
      cell(tr, r.channels.map(function (c) { return c.channel + ' @' + c.offset + (c.lag > 0 ? ' (−' + c.lag + ')' : ''); }).join(', '));
      cell(tr, age(r.connectedAt), 'num');
      var b = document.createElement('button');
      b.type = 'button'; b.className = 'danger'; b.textContent = 'disconnect'; b.dataset.testid = 'disconnect';
      b.addEventListener('click', function () {
        b.disabled = true;
        api('DELETE', '/v1/connections/' + encodeURIComponent(r.id)).then(function () { setStatus('disconnected ' + r.id + ' (4403)'); refresh(); }, function (e) { setStatus(e.message, true); b.disabled = false; });
      });
      cell(tr, '').appendChild(b);
      body.appendChild(tr);
    });
    if (rows.length === 0) { var tr = document.createElement('tr'); cell(tr, 'no connections', 'muted').colSpan = 9; body.appendChild(tr); }
  }

  function renderChannels(rows) {
    var body = document.querySelector('[data-testid="channels"] tbody');
    body.replaceChildren();
    rows.forEach(function (r) {
      var tr = document.createElement('tr');
      tr.dataset.channel = r.channel;
      cell(tr, r.channel);
      cell(tr, String(r.subscribers), 'num');
      cell(tr, Object.keys(r.nodes).sort().map(function (n) { return n + ': ' + r.nodes[n]; }).join(', '), 'muted');
      body.appendChild(tr);
    });
    if (rows.length === 0) { var tr = document.createElement('tr'); cell(tr, 'no subscribers', 'muted').colSpan = 3; body.appendChild(tr); }
  }

  function refresh() {
    var sort = $('sort').value;
    return Promise.all([api('GET', '/v1/connections?sort=' + sort + '&limit=50'), api('GET', '/v1/channels?limit=50')]).then(function (r) {
      renderConnections(r[0]);
      renderChannels(r[1]);
      setStatus('updated ' + new Date().toLocaleTimeString());
    }, function (e) { if (e.message !== 'not authorized') setStatus(e.message, true); });
  }

  function start() {
    $('login').hidden = true; $('view').hidden = false; $('logout').hidden = token() === null;
    if (timer === null) timer = setInterval(refresh, REFRESH_MS);
    refresh();
  }

  function showLogin(message) {
    if (timer !== null) { clearInterval(timer); timer = null; }
    $('view').hidden = true; $('login').hidden = false;
    setStatus(message || 'token needed', Boolean(message));
    $('token').focus();
  }

  $('login-form').addEventListener('submit', function (ev) {
    ev.preventDefault();
    var t = $('token').value.trim();
    if (t) sessionStorage.setItem(KEY, t); else sessionStorage.removeItem(KEY);
    $('token').value = '';
    start();
  });
  $('logout').addEventListener('click', function () { sessionStorage.removeItem(KEY); showLogin(); });
  $('sort').addEventListener('change', refresh);
  $('disconnect-sub').addEventListener('submit', function (ev) {
    ev.preventDefault();
    var sub = $('sub').value.trim();
    if (!sub) return;
    api('POST', '/v1/disconnect', { sub: sub }).then(function (r) { setStatus('disconnected ' + sub + ': ' + r.closed + ' here, the other gateways told'); $('sub').value = ''; refresh(); }, function (e) { setStatus(e.message, true); });
  });
  start();
})();
</script>
</body>
</html>
`;
