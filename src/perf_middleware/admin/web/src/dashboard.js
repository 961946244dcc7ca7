/* perf-middleware dashboard: draws the admin API's JSON (embedded in the page, then
   refreshed from data-source) as plots. Time series use uPlot (window.uPlot, loaded before
   this module); categories are plain proportional bars. The same file renders the
   self-contained report, which has no data-source and so never refreshes. */

const root = document.getElementById('dashboard');
const plots = {};

function readEmbedded() {
  const tag = document.getElementById('perf-data');
  return tag ? JSON.parse(tag.textContent) : null;
}

const fmtBytes = (n) => {
  if (n == null) return '–';
  const units = ['B', 'KiB', 'MiB', 'GiB'];
  let i = 0;
  let v = Math.abs(n);
  while (v >= 1024 && i < units.length - 1) { v /= 1024; i += 1; }
  return (n < 0 ? '-' : '') + (i ? v.toFixed(1) : v) + ' ' + units[i];
};
const fmtMs = (s) => (s == null ? '–' : s < 1 ? (s * 1000).toFixed(s < 0.01 ? 2 : 0) + ' ms' : s.toFixed(2) + ' s');
const fmtPct = (r) => (r == null ? '–' : (r * 100).toFixed(1) + ' %');

function el(tag, attrs, ...children) {
  const node = document.createElement(tag);
  for (const [k, v] of Object.entries(attrs || {})) {
    if (k === 'class') node.className = v; else node.setAttribute(k, v);
  }
  for (const child of children) node.append(child);
  return node;
}

function panel(id) {
  return root.querySelector(`[data-panel="${id}"] .body`);
}

/* rows: [{label, value, text, cls}] drawn as bars proportional to `scale` (default: the
   largest value) */
function bars(target, rows, empty, scale) {
  target.replaceChildren();
  if (!rows.length) {
    target.append(el('p', { class: 'empty' }, empty));
    return;
  }
  const max = scale || Math.max(...rows.map((r) => r.value), 1e-12);
  const grid = el('div', { class: 'bars' });
  for (const row of rows) {
    const bar = el('div', { class: 'bar ' + (row.cls || '') });
    bar.style.width = Math.min(100, Math.max(0, (row.value / max) * 100)).toFixed(2) + '%';
    grid.append(
      el('span', { class: 'label', title: row.label }, row.label),
      el('div', { class: 'track' }, bar),
      el('span', { class: 'value' }, row.text),
    );
  }
  target.append(grid);
}

function quantile(bounds, counts, q) {
  const total = counts.reduce((a, b) => a + b, 0);
  if (!total) return null;
  const rank = q * total;
  let running = 0;
  let lower = 0;
  for (let i = 0; i < bounds.length; i += 1) {
    if (counts[i] && running + counts[i] >= rank) {
      return lower + ((bounds[i] - lower) * (rank - running)) / counts[i];
    }
    running += counts[i];
    lower = bounds[i];
  }
  return bounds[bounds.length - 1];
}

/* per-interval series from neighbouring cumulative snapshots */
function series(history, bounds) {
  const t = [], ratio = [], rps = [], p50 = [], p95 = [], p99 = [];
  for (let i = 1; i < history.length; i += 1) {
    const a = history[i - 1], b = history[i];
    const d = (k) => (b.cache[k] || 0) - (a.cache[k] || 0);
    const served = d('hit') + d('stale');
    const lookups = served + d('miss');
    const counts = b.latency_counts.map((c, j) => c - (a.latency_counts[j] || 0));
    t.push(b.t);
    ratio.push(lookups ? served / lookups : null);
    rps.push((b.requests - a.requests) / Math.max(b.t - a.t, 1e-3));
    p50.push(quantile(bounds, counts, 0.5));
    p95.push(quantile(bounds, counts, 0.95));
    p99.push(quantile(bounds, counts, 0.99));
  }
  return { t, ratio, rps, p50, p95, p99 };
}

function timePlot(id, opts, data) {
  const target = panel(id);
  if (plots[id]) {
    plots[id].setData(data);
    return;
  }
  target.replaceChildren();
  const width = Math.max(target.clientWidth || 400, 280);
  plots[id] = new window.uPlot({ width, height: 220, ...opts }, data, target);
}

function renderSeries(data) {
  const s = series(data.history || [], data.latency_bounds || []);
  timePlot('hit-ratio', {
    scales: { y: { range: [0, 1] } },
    series: [{}, { label: 'hit ratio', stroke: '#2f5fd0', width: 2, value: (u, v) => fmtPct(v) },
      { label: 'requests/s', stroke: '#9aa3b5', width: 1, scale: 'rps', value: (u, v) => (v == null ? '–' : v.toFixed(1)) }],
    axes: [{}, { size: 60, values: (u, vals) => vals.map((v) => (v * 100).toFixed(0) + '%') },
      { scale: 'rps', side: 1, grid: { show: false } }],
  }, [s.t, s.ratio, s.rps]);
  timePlot('latency', {
    series: [{},
      { label: 'p50', stroke: '#0c8f5a', width: 2, value: (u, v) => fmtMs(v) },
      { label: 'p95', stroke: '#c77700', width: 2, value: (u, v) => fmtMs(v) },
      { label: 'p99', stroke: '#c62a2a', width: 2, value: (u, v) => fmtMs(v) }],
    axes: [{}, { size: 70, values: (u, vals) => vals.map((v) => fmtMs(v)) }],
  }, [s.t, s.p50, s.p95, s.p99]);
}

function renderCache(metrics) {
  const totals = {};
  for (const events of Object.values(metrics.cache || {})) {
    for (const [k, v] of Object.entries(events)) if (typeof v === 'number' && k !== 'hit_ratio') totals[k] = (totals[k] || 0) + v;
  }
  /* lookups by outcome and reason: fresh hits, then why the others were not */
  const reasons = {};
  for (const byOutcome of Object.values(metrics.cache_reasons || {})) {
    for (const [outcome, byReason] of Object.entries(byOutcome)) {
      for (const [reason, n] of Object.entries(byReason)) {
        const key = `${outcome} · ${reason}`;
        reasons[key] = (reasons[key] || 0) + n;
      }
    }
  }
  const cls = { hit: 'good', stale: 'good', miss: 'needs-improvement', bypass: '', error: 'poor', revalidation_error: 'poor' };
  const rows = [];
  if (totals.hit) rows.push({ label: 'hit · fresh', value: totals.hit, text: String(totals.hit), cls: 'good' });
  for (const outcome of ['stale', 'miss', 'bypass']) {
    for (const [key, n] of Object.entries(reasons)) {
      if (n && key.startsWith(outcome + ' ')) rows.push({ label: key, value: n, text: String(n), cls: cls[outcome] });
    }
  }
  for (const k of ['store', 'coalesced', 'revalidation', 'revalidation_error', 'eviction', 'invalidation', 'error']) {
    if (totals[k]) rows.push({ label: k, value: totals[k], text: String(totals[k]), cls: cls[k] || '' });
  }
  bars(panel('outcomes'), rows, 'No cache lookups yet (or no response cache configured).');
}

function renderCompression(metrics) {
  const rows = Object.entries(metrics.compression || {}).map(([name, c]) => ({
    label: name, value: Math.max(c.bytes_saved, 0), text: `${fmtBytes(c.bytes_saved)} saved (${c.responses} responses, ${fmtPct(c.ratio == null ? null : 1 - c.ratio)})`,
  }));
  bars(panel('compression'), rows, 'No response compressed yet.');
}

function renderVitals(metrics) {
  const target = panel('vitals');
  const vitals = metrics.web_vitals;
  target.replaceChildren();
  if (!vitals) {
    target.append(el('p', { class: 'empty' }, 'Web Vitals beacons are off. Switch them on with AdminConfig(web_vitals=True).'));
    return;
  }
  const routes = Object.entries(vitals.routes || {});
  if (!routes.length) {
    target.append(el('p', { class: 'empty' }, 'No beacons received yet.'));
  }
  /* a full bar is the metric's "poor" threshold of web.dev */
  const poor = { LCP: 4, FCP: 3, TTFB: 1.8, INP: 0.5, CLS: 0.25 };
  for (const [route, byServed] of routes) {
    for (const [served, byMetric] of Object.entries(byServed)) {
      const box = el('div', { class: 'vitals' });
      box.append(el('h3', {}, `${route}  ·  ${served}`));
      const rows = ['LCP', 'INP', 'CLS', 'FCP', 'TTFB'].filter((m) => byMetric[m]).map((m) => {
        const v = byMetric[m];
        const text = (m === 'CLS' ? v.p75.toFixed(3) : fmtMs(v.p75)) + ` p75 · n=${v.count}`;
        return { label: m, value: v.p75 / poor[m], text, cls: v.rating };
      });
      const inner = el('div');
      bars(inner, rows, 'no values', 1);
      box.append(inner);
      target.append(box);
    }
  }
  const dropped = Object.entries(vitals.dropped || {}).filter(([, n]) => n);
  const legend = el('p', { class: 'legend' }, 'p75 rating:');
  for (const [name, color] of [['good', 'var(--good)'], ['needs improvement', 'var(--warn)'], ['poor', 'var(--poor)']]) {
    const swatch = el('i');
    swatch.style.background = color;
    legend.append(swatch, name);
  }
  if (dropped.length) legend.append(' · dropped beacons: ' + dropped.map(([k, n]) => `${k} ${n}`).join(', '));
  target.append(legend);
}

function renderLargest(data) {
  const rows = (data.largest || []).map((e) => ({ label: e.url, value: e.size, text: `${fmtBytes(e.size)} · ${e.variants.join(', ')}` }));
  bars(panel('largest'), rows, data.largest == null ? 'This cache backend cannot list its entries (only the in-process memory backend does).' : 'The response cache is empty.');
}

function renderBuild(data) {
  const target = panel('build');
  const build = data.build;
  target.replaceChildren();
  if (!build) {
    target.append(el('p', { class: 'empty' }, 'No asset build is served by StaticAssets.'));
    return;
  }
  const figures = el('div', { class: 'figures' });
  for (const [value, label] of [[String(build.files), 'files'], [fmtBytes(build.bytes), 'bytes'], [fmtBytes(build.smallest_bytes), 'sent to a br/gzip client'], [build.build_id || '–', 'build']]) {
    figures.append(el('div', {}, el('strong', {}, value), el('span', {}, label)));
  }
  target.append(figures);
  const inner = el('div');
  bars(inner, Object.entries(build.by_type).map(([type, t]) => ({
    label: type, value: t.bytes, text: `${t.files} files · ${fmtBytes(t.bytes)} → ${fmtBytes(t.smallest_bytes)}`,
  })), 'empty build');
  target.append(inner);
  const formats = Object.entries(build.image_formats || {});
  if (formats.length) target.append(el('p', { class: 'legend' }, 'image renditions: ' + formats.map(([f, n]) => `${f} ${n}`).join(', ')));
}

function render(data) {
  const metrics = data.metrics;
  root.querySelector('.meta').textContent = `${metrics.requests.total} responses · up ${Math.round(metrics.uptime_seconds)} s · updated ${new Date(data.generated_at * 1000).toLocaleTimeString()}`;
  renderSeries(data);
  renderCache(metrics);
  renderCompression(metrics);
  renderVitals(metrics);
  renderLargest(data);
  renderBuild(data);
  document.body.dataset.renders = String(Number(document.body.dataset.renders || 0) + 1);
}

async function refresh(source) {
  try {
    const response = await fetch(source, { credentials: 'same-origin', cache: 'no-store' });
    if (response.ok) render(await response.json());
  } catch (error) {
    root.querySelector('.meta').textContent = `refresh failed: ${error}`;
  }
}

const initial = readEmbedded();
if (initial) render(initial);
const source = root.dataset.source;
if (source) setInterval(() => refresh(source), Number(root.dataset.refresh || 5000));
