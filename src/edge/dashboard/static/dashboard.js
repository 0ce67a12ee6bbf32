// Meridian dashboard: reads the edge's live feed (/dashboard/events, Server-Sent Events over
// fetch so the admin token travels in the Authorization header, not in a URL) and draws each
// snapshot: regions on the map and in cards, flows between regions, steering decisions. The
// buttons call the edge's admin endpoints with the same token. Plain browser JavaScript, served
// as it is: no framework, no build step.
/* global document, window, fetch, history, location, TextDecoder, setTimeout, clearTimeout, AbortController */

const SVG = 'http://www.w3.org/2000/svg';
const W = 1000;
const H = 500;
const STALE_MS = 3000;
const RECONNECT_MS = 2000;
/** Identity colors of regions, in topology order (health has its own colors). */
const PALETTE = ['#38bdf8', '#a78bfa', '#f472b6', '#2dd4bf', '#818cf8', '#e879f9', '#fbbf24', '#94a3b8'];

const $ = (id) => document.getElementById(id);

// ---------- token ----------

/** Token from the URL fragment (#token=…), removed from the address bar at once so it is not left
 *  on screen or in the history. It is kept in this page's memory only, not in sessionStorage or
 *  localStorage: the edge's origin also serves whatever the regions answer under /v1/* (services
 *  included), and a page there could read storage but never this module's variables. A reload
 *  asks for the token again (or open the URL meridian up prints). */
function initialToken() {
  const m = /(?:^#|&)token=([^&]*)/.exec(location.hash);
  if (!m) return '';
  history.replaceState(null, '', location.pathname + location.search);
  try {
    return decodeURIComponent(m[1]);
  } catch {
    return '';
  }
}

let token = initialToken();

function authHeaders() {
  return token === '' ? {} : { authorization: `Bearer ${token}` };
}

function askForToken(message) {
  $('token-form').hidden = false;
  $('token-error').textContent = message ?? '';
  $('token-input').focus();
}

$('token-button').addEventListener('click', () => {
  const form = $('token-form');
  form.hidden = !form.hidden;
  if (!form.hidden) $('token-input').focus();
});

$('token-form').addEventListener('submit', (ev) => {
  ev.preventDefault();
  token = $('token-input').value.trim();
  $('token-input').value = '';
  $('token-form').hidden = true;
  $('token-error').textContent = '';
  restartFeed();
});

function notice(text, kind = 'error') {
  const n = $('notice');
  n.hidden = text === '';
  n.textContent = text;
  n.dataset.kind = kind;
}

// ---------- formatting ----------

const DASH = '–';
const nf1 = new Intl.NumberFormat('en', { maximumFractionDigits: 1 });
const nf0 = new Intl.NumberFormat('en', { maximumFractionDigits: 0 });

function num(v, unit = '') {
  if (v === null || v === undefined || Number.isNaN(v)) return DASH;
  const s = Math.abs(v) >= 100 ? nf0.format(v) : nf1.format(v);
  return unit === '' ? s : `${s} ${unit}`;
}

function ms(v) {
  if (v === null || v === undefined) return DASH;
  return v < 10 ? `${nf1.format(v)}` : nf0.format(v);
}

/** 0.99995 → "99.995 %": as many decimals as the nines need, at most three. */
function availability(v) {
  const p = v * 100;
  if (p === 100) return '100 %';
  const digits = p >= 99.99 ? 3 : p >= 99 ? 2 : 1;
  return `${p.toFixed(digits)} %`;
}

function pct(v) {
  return v === null || v === undefined ? DASH : `${nf0.format(v * 100)} %`;
}

// ---------- map geometry ----------

const project = (lat, lon) => [((lon + 180) / 360) * W, ((90 - lat) / 180) * H];

function el(name, attrs = {}, parent) {
  const e = document.createElementNS(SVG, name);
  for (const [k, v] of Object.entries(attrs)) e.setAttribute(k, String(v));
  if (parent) parent.appendChild(e);
  return e;
}

function html(tag, className, text) {
  const e = document.createElement(tag);
  if (className) e.className = className;
  if (text !== undefined) e.textContent = text;
  return e;
}

function drawGraticule() {
  const g = $('graticule');
  for (let lon = -150; lon <= 150; lon += 30) el('line', { x1: project(0, lon)[0], y1: 0, x2: project(0, lon)[0], y2: H }, g);
  for (let lat = -60; lat <= 60; lat += 30) el('line', { x1: 0, y1: project(lat, 0)[1], x2: W, y2: project(lat, 0)[1] }, g);
}

/** A curved path from a to b; the curve bends to the left of the direction of travel, so the two
 *  directions between a pair of regions are drawn side by side instead of on top of each other. */
function arc([x1, y1], [x2, y2]) {
  const dx = x2 - x1;
  const dy = y2 - y1;
  const len = Math.hypot(dx, dy) || 1;
  const bend = Math.min(90, len * 0.22);
  const cx = (x1 + x2) / 2 + (dy / len) * bend;
  const cy = (y1 + y2) / 2 - (dx / len) * bend;
  return { d: `M${x1.toFixed(1)} ${y1.toFixed(1)} Q${cx.toFixed(1)} ${cy.toFixed(1)} ${x2.toFixed(1)} ${y2.toFixed(1)}`, mid: [(x1 + 2 * cx + x2) / 4, (y1 + 2 * cy + y2) / 4] };
}

/** Width by rate, on a log scale: 1/s and 1000/s both stay readable. */
const flowWidth = (perSec) => Math.max(1.5, Math.min(9, 1.5 + 1.3 * Math.log2(1 + perSec)));

// ---------- rendering ----------

const colors = new Map();
const cards = new Map();
const pending = new Map(); // region → { action, until }
let last = null;

function colorOf(region) {
  return colors.get(region) ?? '#94a3b8';
}

function renderRegionsOnMap(regions, share) {
  const g = $('regions');
  g.replaceChildren();
  for (const r of regions) {
    const [x, y] = project(r.lat, r.lon);
    const m = el('g', { class: 'region', 'data-region': r.name, 'data-state': r.state, transform: `translate(${x.toFixed(1)} ${y.toFixed(1)})` }, g);
    el('circle', { class: 'halo', r: 13 }, m);
    el('circle', { class: 'dot', r: 7 }, m);
    if (r.state === 'down') el('text', { class: 'down-mark', 'text-anchor': 'middle', y: 3 }, m).textContent = '✕';
    el('text', { class: 'name', 'text-anchor': 'middle', y: -17 }, m).textContent = r.name;
    const s = r.stats;
    const line = r.state === 'down' ? 'DOWN' : `${num(s?.messagesPerSec)} msg/s · p95 ${ms(s?.latencyMs?.p95)} ms`;
    el('text', { class: 'metric', 'text-anchor': 'middle', y: 24 }, m).textContent = line;
    el('text', { class: 'metric', 'text-anchor': 'middle', y: 36 }, m).textContent = `steering ${pct(share[r.name] ?? 0)}`;
    // Its conversations taken over: the home no longer writes them, wherever it is.
    if (r.writtenBy) {
      m.setAttribute('data-written-by', r.writtenBy);
      el('text', { class: 'metric taken-over', 'text-anchor': 'middle', y: 48 }, m).textContent = `written by ${r.writtenBy}`;
    }
    const title = el('title', {}, m);
    title.textContent = `${r.name} (${r.city ?? ''}): ${r.state}${r.detail ? ` — ${r.detail}` : ''}`;
  }
}

function renderFlows(regions, flows) {
  const at = new Map(regions.map((r) => [r.name, project(r.lat, r.lon)]));
  const g = $('flows');
  g.replaceChildren();
  for (const f of flows) {
    const a = at.get(f.from);
    const b = at.get(f.to);
    if (!a || !b) continue;
    const { d, mid } = arc(a, b);
    const w = flowWidth(f.perSec);
    const color = colorOf(f.from);
    el('path', { class: 'flow-track', d, stroke: color, 'stroke-width': w }, g);
    const p = el('path', { class: `flow${f.stalled ? ' stalled' : ''}`, d, stroke: color, 'stroke-width': Math.max(1.2, w * 0.5), 'data-from': f.from, 'data-to': f.to, 'data-per-sec': f.perSec }, g);
    // Faster dashes for busier flows: the eye reads speed as volume before width.
    if (!f.stalled) p.style.animationDuration = `${Math.max(0.35, 1.2 - Math.log10(1 + f.perSec) * 0.35).toFixed(2)}s`;
    el('text', { class: 'flow-label', x: mid[0].toFixed(1), y: mid[1].toFixed(1), 'text-anchor': 'middle' }, g).textContent = `${num(f.perSec)}/s`;
  }
}

function renderSteeringOnMap(regions, steering) {
  const at = new Map(regions.map((r) => [r.name, project(r.lat, r.lon)]));
  const lines = $('steer-lines');
  const places = $('places');
  lines.replaceChildren();
  places.replaceChildren();
  for (const p of steering.places) {
    const [x, y] = project(p.lat, p.lon);
    const to = p.region === null ? undefined : at.get(p.region);
    if (to && Math.hypot(to[0] - x, to[1] - y) > 4) {
      el('path', { class: 'steer-line', d: `M${x.toFixed(1)} ${y.toFixed(1)} L${to[0].toFixed(1)} ${to[1].toFixed(1)}`, stroke: colorOf(p.region) }, lines);
    }
    if (p.region === null) el('circle', { class: 'place unserved', cx: x.toFixed(1), cy: y.toFixed(1), r: 3.2 }, places);
    else el('circle', { class: 'place', cx: x.toFixed(1), cy: y.toFixed(1), r: 2.6, fill: colorOf(p.region) }, places);
  }
}

/** The targets as a tooltip: "targets: availability 99.9 % · p95 100 ms · p99 200 ms". */
function sloTargetsText(t) {
  if (t === null || t === undefined) return 'the topology sets no slo: targets (availability, p95Ms, p99Ms, errorRate)';
  const parts = [];
  if (t.availability !== null) parts.push(`availability ${availability(t.availability)}`);
  if (t.errorRate !== null) parts.push(`error rate ≤ ${availability(t.errorRate)}`);
  if (t.p95Ms !== null) parts.push(`p95 ${ms(t.p95Ms)} ms`);
  if (t.p99Ms !== null) parts.push(`p99 ${ms(t.p99Ms)} ms`);
  return `targets: ${parts.join(' · ')}`;
}

function metric(parent, label, cls) {
  const d = html('div', cls);
  d.appendChild(html('dt', '', label));
  const dd = html('dd', '', DASH);
  d.appendChild(dd);
  parent.appendChild(d);
  return dd;
}

function makeCard(r) {
  const card = html('article', 'card');
  card.dataset.region = r.name;
  const head = html('div', 'card-head');
  const sw = html('span', 'swatch');
  sw.style.background = colorOf(r.name);
  head.append(sw, html('h3', '', r.name), html('span', 'where', `${r.city ?? ''} · ${r.jurisdiction}`));
  const pill = html('span', 'pill', r.state);
  head.appendChild(pill);
  const detail = html('p', 'detail');
  const taken = html('p', 'taken-over');
  taken.hidden = true;
  const dl = html('dl', 'metrics');
  const f = {
    connections: metric(dl, 'Connections'),
    msgs: metric(dl, 'Messages / s'),
    deliveries: metric(dl, 'Deliveries / s'),
    edgeLoad: metric(dl, 'Via edge (ws · req/s)'),
    latency: metric(dl, 'Latency p50 / p95 / p99', 'wide'),
    rtt: metric(dl, 'Edge → region'),
    share: metric(dl, 'Steering share'),
    slo: metric(dl, 'SLO', 'wide'),
    replication: metric(dl, 'Replication', 'wide'),
    takeovers: metric(dl, 'Takeovers', 'wide'),
  };
  const actions = html('div', 'actions');
  const down = html('button', '', 'Take down');
  down.type = 'button';
  down.dataset.action = 'down';
  const up = html('button', '', 'Bring up');
  up.type = 'button';
  up.dataset.action = 'up';
  down.addEventListener('click', () => void regionAction(r.name, 'down'));
  up.addEventListener('click', () => void regionAction(r.name, 'up'));
  actions.append(down, up);
  const err = html('div', 'action-error');
  card.append(head, detail, taken, dl, actions, err);
  $('cards').appendChild(card);
  return { card, pill, detail, taken, f, down, up, err };
}

function renderCards(regions, share) {
  for (const r of regions) {
    let c = cards.get(r.name);
    if (!c) {
      c = makeCard(r);
      cards.set(r.name, c);
    }
    const s = r.stats;
    c.card.dataset.state = r.state;
    c.pill.dataset.state = r.state;
    c.pill.textContent = r.state;
    c.detail.textContent = r.state === 'up' ? '' : (r.detail ?? '');
    c.f.connections.textContent = num(s?.connections ?? s?.sessions);
    c.f.msgs.textContent = num(s?.messagesPerSec);
    c.f.deliveries.textContent = num(s?.deliveriesPerSec);
    c.f.edgeLoad.textContent = `${num(r.edge.connections)} · ${num(r.edge.rps)}`;
    const l = s?.latencyMs;
    c.f.latency.textContent = l ? `${ms(l.p50)} / ${ms(l.p95)} / ${ms(l.p99)} ms` : DASH;
    c.f.rtt.textContent = r.edgeRttMs === null ? DASH : `${ms(r.edgeRttMs)} ms`;
    c.f.share.textContent = pct(share[r.name] ?? 0);
    const slo = s?.slo;
    c.f.slo.title = sloTargetsText(r.sloTargets);
    if (r.sloTargets === null) {
      // Without targets a node calls every window "ok": saying "met" would mean nothing.
      c.f.slo.textContent = 'no targets';
      c.f.slo.className = 'slo-none';
    } else if (!slo || slo.ok === null) {
      c.f.slo.textContent = DASH;
      c.f.slo.className = '';
    } else {
      const avail = slo.availability === null ? '' : ` · ${availability(slo.availability)}`;
      const burn = slo.burnRate1h === null ? '' : ` · burn ${num(slo.burnRate1h)}×`;
      c.f.slo.textContent = `${slo.ok ? 'met' : 'breached'}${avail}${burn}`;
      c.f.slo.className = slo.ok ? 'slo-ok' : 'slo-bad';
    }
    renderFailover(c, r);
    const p = pending.get(r.name);
    if (p && (Date.now() > p.until || (p.action === 'down' ? r.state === 'down' : r.state === 'up'))) pending.delete(r.name);
    const now = pending.get(r.name);
    c.down.disabled = now !== undefined || r.state === 'down';
    c.up.disabled = now !== undefined || r.state === 'up';
    c.down.textContent = now?.action === 'down' ? 'Taking down…' : 'Take down';
    c.up.textContent = now?.action === 'up' ? 'Bringing up…' : 'Bring up';
  }
}

/** Replication and takeovers on a card, and the mark of a region whose conversations another writes. */
function renderFailover(c, r) {
  const s = r.stats;
  const rep = s?.replication;
  c.f.replication.textContent = rep ? `lag p99 ${rep.lagP99Ms === null ? DASH : `${ms(rep.lagP99Ms)} ms`} · ${num(rep.failures1m)} failed/min` : DASH;
  c.f.replication.title = rep ? `copies to the replica region: ${num(rep.copies5m)} in the last 5 min, ${num(rep.failures1m)} failed in the last minute (retried)` : '';
  c.f.replication.className = rep && rep.failures1m > 0 ? 'slo-bad' : '';
  // This region writing for others first; else the takeovers it knows of elsewhere.
  const t = s?.takeovers;
  const pairs = t ? t.known.map((k) => `${k.home} → ${k.owner}`).join(', ') : '';
  c.f.takeovers.textContent = !t ? DASH : t.writesFor.length > 0 ? `writes for ${t.writesFor.join(', ')}` : t.known.length === 0 ? 'none' : pairs;
  c.f.takeovers.title = t ? (pairs === '' ? 'no takeover known to this region' : `conversations homed in a region written by another: ${pairs}`) : '';
  if (r.writtenBy) c.card.dataset.writtenBy = r.writtenBy;
  else delete c.card.dataset.writtenBy;
  c.taken.hidden = !r.writtenBy;
  c.taken.textContent = r.writtenBy ? `conversations homed here are written by ${r.writtenBy} (taken over)` : '';
}

function renderSteeringPanel(regions, steering) {
  const bar = $('share-bar');
  const legend = $('share-legend');
  bar.replaceChildren();
  legend.replaceChildren();
  for (const r of regions) {
    const v = steering.share[r.name] ?? 0;
    const seg = html('span');
    seg.dataset.region = r.name;
    seg.style.width = `${(v * 100).toFixed(2)}%`;
    seg.style.background = colorOf(r.name);
    bar.appendChild(seg);
    const li = html('li');
    li.dataset.region = r.name;
    li.dataset.share = v.toFixed(4);
    const sw = html('span', 'swatch');
    sw.style.background = colorOf(r.name);
    li.append(sw, html('span', '', r.name), html('b', '', pct(v)));
    legend.appendChild(li);
  }
  if (steering.unserved > 0) {
    const seg = html('span', 'unserved');
    seg.style.width = `${(steering.unserved * 100).toFixed(2)}%`;
    bar.appendChild(seg);
    const li = html('li', 'none');
    li.append(html('span', 'swatch unserved'), html('span', '', 'no region (503)'), html('b', '', pct(steering.unserved)));
    legend.appendChild(li);
  }
  renderDecisions(regions, steering.decisions ?? {});
  const list = $('places-list');
  list.replaceChildren();
  for (const p of steering.places) {
    const li = html('li');
    const sw = html('span', 'swatch');
    sw.style.background = p.region === null ? 'transparent' : colorOf(p.region);
    li.append(sw, html('span', '', `${p.place} →`));
    li.appendChild(p.region === null ? html('span', 'to none', 'none') : html('span', 'to', p.region));
    li.appendChild(html('span', 'why', p.reason));
    list.appendChild(li);
  }
}

/** What the edge really decided in the last minute (every /v1/route, proxied request and WebSocket). */
function renderDecisions(regions, decisions) {
  const bar = $('decision-bar');
  const legend = $('decision-legend');
  bar.replaceChildren();
  legend.replaceChildren();
  const total = Object.values(decisions).reduce((a, n) => a + n, 0);
  if (total === 0) {
    legend.appendChild(html('li', 'quiet', 'no client was steered in the last minute'));
    return;
  }
  const keys = [...regions.map((r) => r.name), 'none'].filter((k) => (decisions[k] ?? 0) > 0);
  for (const k of keys) {
    const n = decisions[k];
    const seg = html('span', k === 'none' ? 'unserved' : '');
    seg.style.width = `${((n / total) * 100).toFixed(2)}%`;
    if (k !== 'none') seg.style.background = colorOf(k);
    bar.appendChild(seg);
    const li = html('li', k === 'none' ? 'none' : '');
    li.dataset.region = k;
    li.dataset.count = String(n);
    const sw = html('span', k === 'none' ? 'swatch unserved' : 'swatch');
    if (k !== 'none') sw.style.background = colorOf(k);
    li.append(sw, html('span', '', k === 'none' ? 'no region (503)' : k), html('b', '', `${nf0.format(n)}`));
    legend.appendChild(li);
  }
}

function renderFlowTable(regions, flows) {
  const body = $('flows-body');
  body.replaceChildren();
  const rtt = new Map(regions.map((r) => [r.name, r.stats?.bus?.rttMs ?? {}]));
  const rows = [...flows].sort((a, b) => b.perSec - a.perSec);
  if (rows.length === 0) {
    const tr = html('tr');
    const td = html('td', 'empty', regions.some((r) => r.stats) ? 'no cross-region traffic right now' : 'no /stats from the regions yet');
    td.colSpan = 5;
    tr.appendChild(td);
    body.appendChild(tr);
    return;
  }
  for (const f of rows) {
    const tr = html('tr', f.stalled ? 'stalled' : '');
    tr.append(html('td', '', f.from), html('td', '', f.to), html('td', 'num', num(f.perSec)), html('td', 'num', num(f.perSec1m)), html('td', 'num', `${ms(rtt.get(f.from)?.[f.to])} ms`));
    body.appendChild(tr);
  }
}

function renderSummary(regions) {
  const sum = (pick) => regions.reduce((a, r) => a + (pick(r) ?? 0), 0);
  const s = $('summary');
  s.replaceChildren();
  const item = (label, value) => {
    const span = html('span');
    span.append(html('b', '', value), document.createTextNode(` ${label}`));
    s.appendChild(span);
  };
  const count = (state) => regions.filter((r) => r.state === state).length;
  item(`of ${regions.length} regions up`, String(count('up')));
  if (count('degraded') > 0) item('degraded', String(count('degraded')));
  if (count('down') > 0) item('down', String(count('down')));
  item('connections', num(sum((r) => r.stats?.connections ?? r.stats?.sessions)));
  item('msg/s', num(sum((r) => r.stats?.messagesPerSec)));
  item('cross-region/s', num(last ? last.flows.filter((f) => !f.stalled).reduce((a, f) => a + f.perSec, 0) : null));
}

function render(snap) {
  last = snap;
  snap.regions.forEach((r, i) => colors.set(r.name, PALETTE[i % PALETTE.length]));
  renderSummary(snap.regions);
  renderSteeringOnMap(snap.regions, snap.steering);
  renderFlows(snap.regions, snap.flows);
  renderRegionsOnMap(snap.regions, snap.steering.share);
  renderCards(snap.regions, snap.steering.share);
  renderSteeringPanel(snap.regions, snap.steering);
  renderFlowTable(snap.regions, snap.flows);
  document.body.dataset.updated = String(snap.at);
}

// ---------- admin actions ----------

async function regionAction(region, action) {
  const c = cards.get(region);
  c.err.textContent = '';
  pending.set(region, { action, until: Date.now() + 8000 });
  if (last) renderCards(last.regions, last.steering.share);
  let res;
  try {
    // X-Meridian-Admin: an edge without a token (--dev-admin) answers only non-simple requests.
    res = await fetch(`/v1/admin/regions/${encodeURIComponent(region)}/${action}`, { method: 'POST', headers: { ...authHeaders(), 'x-meridian-admin': 'dashboard' } });
  } catch (e) {
    pending.delete(region);
    c.err.textContent = `could not reach the edge: ${e.message}`;
    return;
  }
  if (res.status === 202) return;
  pending.delete(region);
  const body = await res.json().catch(() => ({}));
  const message = body?.error?.message ?? `HTTP ${res.status}`;
  if (res.status === 401) {
    c.err.textContent = token === '' ? 'an admin token is needed' : 'the admin token was refused';
    askForToken(token === '' ? 'Enter the admin token to take regions down and up.' : 'The admin token was refused (401).');
  } else if (res.status === 403) {
    c.err.textContent = `refused: ${message}`;
  } else if (res.status === 404 && body?.error?.code === 'EDGE_NOT_FOUND') {
    c.err.textContent = 'admin is not enabled on this edge (start it with an admin token)';
  } else {
    c.err.textContent = message;
  }
  if (last) renderCards(last.regions, last.steering.share);
}

// ---------- live feed ----------

let feed = null; // AbortController of the current stream
let lastFrameAt = 0;
let retryTimer;

function setLive(state, text) {
  const l = $('live');
  l.dataset.state = state;
  l.textContent = text;
}

function restartFeed() {
  feed?.abort();
  clearTimeout(retryTimer);
  void openFeed();
}

function scheduleReconnect() {
  clearTimeout(retryTimer);
  retryTimer = setTimeout(() => void openFeed(), RECONNECT_MS);
}

async function openFeed() {
  const ctl = new AbortController();
  feed = ctl;
  setLive('connecting', 'connecting…');
  let res;
  try {
    res = await fetch('/dashboard/events', { headers: { accept: 'text/event-stream', ...authHeaders() }, signal: ctl.signal, cache: 'no-store' });
  } catch {
    if (!ctl.signal.aborted) {
      setLive('error', 'edge unreachable, retrying');
      scheduleReconnect();
    }
    return;
  }
  if (res.status === 401) {
    setLive('error', 'admin token needed');
    notice('The live view needs the admin token that meridian up prints (or open the dashboard URL it prints, which carries it).');
    askForToken(token === '' ? '' : 'That token was refused (401).');
    return;
  }
  if (res.status === 403) {
    const body = await res.json().catch(() => ({}));
    setLive('error', 'refused');
    notice(`The edge refused the live view: ${body?.error?.message ?? 'HTTP 403'}`);
    return;
  }
  if (res.status === 404) {
    setLive('error', 'live view off');
    notice('Admin is not enabled on this edge, so the live view is off: start the edge with an admin token.');
    return;
  }
  if (!res.ok || !res.body) {
    setLive('error', `HTTP ${res.status}, retrying`);
    scheduleReconnect();
    return;
  }
  notice('');
  const reader = res.body.getReader();
  const decoder = new TextDecoder();
  let buf = '';
  try {
    for (;;) {
      const { value, done } = await reader.read();
      if (done) break;
      buf += decoder.decode(value, { stream: true });
      let end;
      while ((end = buf.indexOf('\n\n')) >= 0) {
        const block = buf.slice(0, end);
        buf = buf.slice(end + 2);
        onEvent(block);
      }
    }
  } catch {
    // aborted or cut: reconnect below unless we were replaced
  }
  if (feed === ctl && !ctl.signal.aborted) {
    setLive('error', 'feed ended, reconnecting');
    scheduleReconnect();
  }
}

function onEvent(block) {
  let event = 'message';
  let data = '';
  for (const line of block.split('\n')) {
    if (line.startsWith('event:')) event = line.slice(6).trim();
    else if (line.startsWith('data:')) data += line.slice(5).trimStart();
  }
  if (event !== 'snapshot' || data === '') return;
  lastFrameAt = Date.now();
  setLive('live', 'live');
  render(JSON.parse(data));
}

window.setInterval(() => {
  if (lastFrameAt !== 0 && Date.now() - lastFrameAt > STALE_MS && $('live').dataset.state === 'live') setLive('stale', 'no update for 3 s');
}, 1000);

drawGraticule();
void openFeed();
