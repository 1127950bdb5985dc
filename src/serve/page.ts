/**
 * The dashboard's page and its script, kept as strings so the server needs no asset folder (and the
 * compiled package none either). The script is plain browser JavaScript: hash routes for the run list,
 * one run, a comparison and an experiment; charts are vega-lite specs from the server drawn by
 * vega-embed; live views follow an EventSource and redraw on each update.
 */

export const INDEX_HTML = `<!doctype html>
<html lang="en">
<head>
<meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<title>droptune dashboard</title>
<link rel="icon" href="data:image/svg+xml,%3Csvg xmlns='http://www.w3.org/2000/svg' viewBox='0 0 16 16'%3E%3Ccircle cx='8' cy='8' r='7' fill='%2323395b'/%3E%3Ccircle cx='8' cy='9' r='3' fill='%23fff'/%3E%3C/svg%3E">
<style>
body { font: 14px/1.4 system-ui, -apple-system, "Segoe UI", sans-serif; margin: 0; color: #222; background: #fafafa; }
header { background: #23395b; color: #fff; padding: 0.6em 1.5em; display: flex; gap: 1.5em; align-items: baseline; }
header a { color: #fff; font-weight: 600; text-decoration: none; }
header .root { color: #c8d3e6; font-size: 12px; }
main { padding: 1em 1.5em 3em; }
h1 { font-size: 20px; margin: 0.3em 0; } h2 { font-size: 16px; margin: 1.4em 0 0.3em; }
table { border-collapse: collapse; margin: 0.4em 0 1em; font: 12.5px ui-monospace, Menlo, Consolas, monospace; background: #fff; }
th, td { padding: 0.25em 0.7em; border-bottom: 1px solid #e3e3e3; white-space: nowrap; text-align: left; }
th { border-bottom: 2px solid #888; } td.r, th.r { text-align: right; }
tr.error td { color: #a40000; background: #fff3f3; white-space: normal; }
.note { color: #666; margin: 0; font-size: 12.5px; }
.warnings { color: #8a5300; font-size: 12.5px; }
.status { padding: 0.05em 0.5em; border-radius: 0.7em; font-size: 11.5px; }
.status.running { background: #d7f5dd; color: #0b6b1f; } .status.finished { background: #e4e9f2; color: #23395b; } .status.interrupted { background: #fde9cf; color: #8a5300; }
.live { font-size: 12px; color: #0b6b1f; margin-left: 0.6em; } .live.off { color: #999; }
.facts { display: flex; gap: 1.6em; flex-wrap: wrap; margin: 0.3em 0 0.8em; font-size: 13px; } .facts b { font-weight: 600; }
.charts { display: flex; flex-wrap: wrap; gap: 1em; }
figure { margin: 0; background: #fff; border: 1px solid #e3e3e3; border-radius: 4px; padding: 0.6em; }
figcaption { font-size: 12.5px; color: #444; margin-bottom: 0.3em; max-width: 560px; }
pre.verdict { background: #fff; border: 1px solid #e3e3e3; padding: 0.8em; white-space: pre-wrap; }
button { font: inherit; padding: 0.3em 0.9em; }
.error-box { color: #a40000; background: #fff3f3; border: 1px solid #f0c0c0; padding: 0.6em 0.9em; }
</style>
</head>
<body>
<header><a href="#/">droptune dashboard</a><span class="root" id="root"></span></header>
<main id="view">loading…</main>
<script src="/vendor/vega.min.js"></script>
<script src="/vendor/vega-lite.min.js"></script>
<script src="/vendor/vega-embed.min.js"></script>
<script src="/app.js"></script>
</body>
</html>
`;

export const APP_JS = String.raw`'use strict';
(() => {
  const view = document.getElementById('view');
  const selected = new Set();
  let cleanup = () => {};
  let embedded = [];
  let updates = 0;

  const esc = (s) => String(s).replace(/[&<>"']/g, (c) => ({ '&': '&amp;', '<': '&lt;', '>': '&gt;', '"': '&quot;', "'": '&#39;' })[c]);
  const acc = (x) => (x === null || x === undefined ? '—' : Number(x).toFixed(4));
  const runLink = (id) => '#/run/' + encodeURIComponent(id);

  async function getJson(url) {
    const res = await fetch(url);
    const body = await res.json().catch(() => ({ error: res.status + ' ' + res.statusText }));
    if (!res.ok) throw new Error(body.error || res.statusText);
    return body;
  }

  function follow(url, onUpdate) {
    const source = new EventSource(url);
    const badge = document.getElementById('live');
    source.addEventListener('update', (e) => onUpdate(JSON.parse(e.data)));
    source.addEventListener('problem', (e) => showProblem(JSON.parse(e.data).error));
    source.onopen = () => badge && (badge.textContent = '● live', badge.className = 'live');
    source.onerror = () => badge && (badge.textContent = '○ reconnecting', badge.className = 'live off');
    return () => source.close();
  }

  function showProblem(message) {
    let box = document.getElementById('problem');
    if (!box) {
      box = document.createElement('p');
      box.id = 'problem';
      box.className = 'error-box';
      view.prepend(box);
    }
    box.textContent = message;
  }

  function finalizeCharts() {
    for (const result of embedded) result.finalize();
    embedded = [];
  }

  /** Draws every plot into #charts, each in a figure named by the plot's id. */
  async function drawCharts(plots) {
    const holder = document.getElementById('charts');
    finalizeCharts();
    holder.innerHTML = plots.map((p) => '<figure data-plot="' + esc(p.id) + '"><figcaption>' + esc(p.title) + '</figcaption><div class="chart"></div></figure>').join('');
    const figures = holder.querySelectorAll('figure');
    await Promise.all(plots.map(async (p, i) => {
      const result = await vegaEmbed(figures[i].querySelector('.chart'), p.spec, { renderer: 'svg', actions: false });
      embedded.push(result);
      figures[i].dataset.rendered = 'true';
    }));
    document.body.dataset.updates = String(++updates);
  }

  function table(t) {
    const cls = (i) => (t.align[i] === 'r' ? ' class="r"' : '');
    return '<h2>' + esc(t.title) + '</h2>' + (t.note ? '<p class="note">' + esc(t.note) + '</p>' : '') +
      '<table><thead><tr>' + t.headers.map((h, i) => '<th' + cls(i) + '>' + esc(h) + '</th>').join('') + '</tr></thead><tbody>' +
      t.rows.map((r) => '<tr>' + r.map((c, i) => '<td' + cls(i) + '>' + esc(c) + '</td>').join('') + '</tr>').join('') + '</tbody></table>';
  }

  const warnings = (ws) => (ws.length ? '<ul class="warnings">' + ws.map((w) => '<li>' + esc(w) + '</li>').join('') + '</ul>' : '');

  // the run list

  function renderList(data) {
    document.getElementById('root').textContent = data.root;
    const experiments = data.experiments.length === 0 ? '' :
      '<h2>Experiments</h2><table id="experiments"><thead><tr><th>experiment</th><th>preset</th><th>dataset</th><th>model</th><th class="r">seeds</th><th class="r">picks</th><th class="r">runs</th></tr></thead><tbody>' +
      data.experiments.map((e) => e.error
        ? '<tr class="error" data-id="' + esc(e.id) + '"><td>' + esc(e.id) + '</td><td colspan="6">' + esc(e.error) + '</td></tr>'
        : '<tr data-id="' + esc(e.id) + '"><td><a href="#/experiment/' + encodeURIComponent(e.id) + '">' + esc(e.id) + '</a></td><td>' + esc(e.preset) + '</td><td>' + esc(e.dataset) + '</td><td>' + esc(e.model) + '</td><td class="r">' + esc(e.seeds ?? '—') + '</td><td class="r">' + e.picks + '</td><td class="r">' + e.runs + '</td></tr>').join('') +
      '</tbody></table>';
    const rows = data.runs.map((r) => r.error
      ? '<tr class="error" data-id="' + esc(r.id) + '"><td></td><td>' + esc(r.id) + '</td><td colspan="9">cannot be read: ' + esc(r.error) + '</td></tr>'
      : '<tr data-id="' + esc(r.id) + '"><td><input type="checkbox" data-pick="' + esc(r.id) + '"' + (selected.has(r.id) ? ' checked' : '') + '></td>' +
        '<td><a href="' + runLink(r.id) + '">' + esc(r.id) + '</a></td><td>' + esc(r.label) + '</td><td>' + esc(r.agent) + '</td><td>' + esc(r.dataset) + '</td><td>' + esc(r.model) + '</td>' +
        '<td><span class="status ' + r.status + '">' + r.status + '</span></td><td class="r">' + r.episodes + '</td><td class="r">' + r.epochs + '</td><td class="r">' + acc(r.bestValAcc) + '</td><td class="r">' + acc(r.bestTestAcc) + '</td></tr>').join('');
    view.innerHTML = '<h1>' + data.runs.length + ' runs' + (data.experiments.length ? ', ' + data.experiments.length + ' experiments' : '') + '<span id="live" class="live off">○ connecting</span></h1>' + experiments +
      '<h2>Runs</h2><p><button id="compare" disabled>Compare selected</button> <span class="note">tick runs to compare them: tables with 95% intervals, overlaid plots</span></p>' +
      '<table id="runs"><thead><tr><th></th><th>run</th><th>label</th><th>agent</th><th>dataset</th><th>model</th><th>status</th><th class="r">episodes</th><th class="r">epochs</th><th class="r">best valAcc</th><th class="r">best testAcc</th></tr></thead><tbody>' + rows + '</tbody></table>';
    const button = document.getElementById('compare');
    const sync = () => (button.disabled = selected.size === 0);
    view.querySelectorAll('input[data-pick]').forEach((box) => box.addEventListener('change', () => {
      box.checked ? selected.add(box.dataset.pick) : selected.delete(box.dataset.pick);
      sync();
    }));
    button.addEventListener('click', () => (location.hash = '#/compare/' + [...selected].map(encodeURIComponent).join(',')));
    sync();
    document.body.dataset.updates = String(++updates);
  }

  async function showList() {
    renderList(await getJson('/api/list'));
    cleanup = follow('/api/events?list', renderList);
  }

  // one run

  function bestSchedule(best) {
    if (!best) return '<p class="note">no finished episode yet</p>';
    const epochs = best.schedule.map((_, e) => '<th class="r">' + (e + 1) + '</th>').join('');
    const rows = best.layerNames.map((name, l) => '<tr><td>' + esc(name) + '</td>' + best.schedule.map((rates) => '<td class="r">' + (rates[l] === null ? '—' : Number(rates[l]).toFixed(2)) + '</td>').join('') + '</tr>').join('');
    return '<p class="note">episode ' + best.episode + ': validation accuracy ' + acc(best.valAcc) + ', test accuracy ' + acc(best.testAcc) + '</p>' +
      '<table id="best-schedule"><thead><tr><th>layer \\ epoch</th>' + epochs + '</tr></thead><tbody>' + rows + '</tbody></table>';
  }

  async function renderRun(data) {
    const r = data.row;
    document.getElementById('facts').innerHTML = [
      ['label', r.label], ['agent', r.agent], ['dataset', r.dataset], ['model', r.model], ['seed', r.seed],
      ['status', '<span class="status ' + r.status + '">' + r.status + '</span>'], ['episodes', r.episodes], ['epochs', r.epochs],
      ['best valAcc', acc(r.bestValAcc)], ['best testAcc', acc(r.bestTestAcc)],
    ].map(([k, v]) => '<span>' + k + ': <b>' + (k === 'status' ? v : esc(v)) + '</b></span>').join('');
    document.getElementById('best').innerHTML = bestSchedule(data.best);
    document.getElementById('run-warnings').innerHTML = warnings(data.warnings);
    await drawCharts(data.plots);
  }

  async function showRun(id) {
    const data = await getJson('/api/run?id=' + encodeURIComponent(id));
    view.innerHTML = '<h1>' + esc(data.name) + '<span id="live" class="live off">○ connecting</span></h1><div class="facts" id="facts"></div><div id="run-warnings"></div>' +
      '<div class="charts" id="charts"></div><h2>Best schedule</h2><div id="best"></div>';
    // draws are queued so an update never races the one before it
    let queue = renderRun(data);
    cleanup = follow('/api/events?run=' + encodeURIComponent(id), (next) => (queue = queue.then(() => renderRun(next))));
  }

  // several runs

  async function showCompare(ids) {
    const data = await getJson('/api/compare?' + ids.map((id) => 'id=' + encodeURIComponent(id)).join('&'));
    view.innerHTML = '<h1>Comparing ' + ids.length + ' runs</h1>' + warnings(data.warnings) + '<div id="tables">' + data.tables.map(table).join('') + '</div><h2>Plots</h2><div class="charts" id="charts"></div>';
    await drawCharts(data.plots);
  }

  // an experiment

  async function showExperiment(id) {
    const data = await getJson('/api/experiment?id=' + encodeURIComponent(id));
    view.innerHTML = '<h1>Experiment ' + esc(id) + ' <small>(' + esc(data.preset) + ')</small></h1><div id="tables">' + table(data.table) + '</div>' +
      '<pre class="verdict" id="verdict">' + esc(data.verdict) + '</pre>' +
      (data.power ? '<pre class="verdict" id="power">' + esc(data.power) + '</pre>' : '') +
      (data.protocols ? '<div id="protocols">' + table(data.protocols) + '</div>' : '') +
      '<div class="charts" id="charts"></div>' +
      '<h2>Its runs</h2><p>' + data.runs.map((r) => '<a href="' + runLink(r) + '">' + esc(r) + '</a>').join(' · ') + '</p>';
    await drawCharts(data.plots);
  }

  async function route() {
    cleanup();
    cleanup = () => {};
    finalizeCharts();
    const hash = location.hash.replace(/^#\/?/, '');
    const [page, ...rest] = hash.split('/');
    const arg = rest.join('/');
    try {
      if (page === 'run') await showRun(decodeURIComponent(arg));
      else if (page === 'compare') await showCompare(arg.split(',').filter(Boolean).map(decodeURIComponent));
      else if (page === 'experiment') await showExperiment(decodeURIComponent(arg));
      else await showList();
    } catch (err) {
      view.innerHTML = '<p class="error-box" id="problem">' + esc(err.message) + '</p><p><a href="#/">all runs</a></p>';
    }
  }

  window.addEventListener('hashchange', route);
  route();
})();
`;
