// The dashboard: one hash route per page, data from /v1/lightning/dashboard/*
// and the store API, fetched with the token the user gave (sessionStorage).
import { el, fmtTime, fmtNum, card, table } from '/ui/dom.js';
import { lineChart, legend } from '/ui/chart.js';
import { lineDiff } from '/ui/diff.js';

const API = '/v1/lightning/dashboard';
const TOKEN_KEY = 'lightning.token';
const view = document.getElementById('view');
const loginForm = document.getElementById('login');

class AuthError extends Error {}

function authHeaders() {
  const t = sessionStorage.getItem(TOKEN_KEY);
  return t ? { Authorization: 'Bearer ' + t } : {};
}

async function api(path, init = {}) {
  const resp = await fetch(path, { ...init, headers: { ...authHeaders(), ...(init.headers || {}) } });
  if (resp.status === 401) throw new AuthError('token required');
  if (!resp.ok) {
    let detail = resp.statusText;
    try { detail = (await resp.json()).detail || detail; } catch (_) { /* not JSON */ }
    const err = new Error(`${path}: ${resp.status} ${typeof detail === 'string' ? detail : JSON.stringify(detail)}`);
    err.status = resp.status;
    throw err;
  }
  return resp;
}
const getJSON = async (path, init) => (await api(path, init)).json();

function showLogin(message) {
  view.replaceChildren();
  loginForm.hidden = false;
  document.getElementById('login-error').textContent = message || '';
  document.getElementById('token').focus();
}

loginForm.addEventListener('submit', (ev) => {
  ev.preventDefault();
  sessionStorage.setItem(TOKEN_KEY, document.getElementById('token').value);
  loginForm.hidden = true;
  render();
});
document.getElementById('logout').addEventListener('click', () => { sessionStorage.removeItem(TOKEN_KEY); render(); });

// ---- routing and live updates ----

function route() {
  const hash = location.hash.replace(/^#/, '') || '/overview';
  const [path, query] = hash.split('?');
  return { parts: path.split('/').filter(Boolean).map(decodeURIComponent), params: new URLSearchParams(query || '') };
}

const pages = { overview, rollouts, rollout, resources, algorithm, workers, export: exportPage };
let generation = 0;

async function render(live = false) {
  const gen = ++generation;
  const { parts, params } = route();
  const page = pages[parts[0]] || overview;
  document.getElementById('logout').hidden = !sessionStorage.getItem(TOKEN_KEY);
  for (const a of document.querySelectorAll('header nav a')) {
    a.classList.toggle('active', a.getAttribute('href') === '#/' + (parts[0] === 'rollout' ? 'rollouts' : parts[0] || 'overview'));
  }
  try {
    const node = await page(parts.slice(1), params, live);
    if (gen !== generation || !node) return; // a newer render started, or nothing to refresh
    loginForm.hidden = true;
    view.replaceChildren(node);
    view.dataset.ready = String(gen);
  } catch (err) {
    if (gen !== generation) return;
    if (err instanceof AuthError) {
      showLogin(sessionStorage.getItem(TOKEN_KEY) ? 'That token was refused.' : '');
      return;
    }
    view.replaceChildren(el('p', { class: 'bad', 'data-k': 'error' }, String(err.message || err)));
  }
}

window.addEventListener('hashchange', () => render());
setInterval(() => {
  const live = document.getElementById('live').checked;
  const busy = document.activeElement && ['INPUT', 'SELECT', 'TEXTAREA'].includes(document.activeElement.tagName);
  const { parts, params } = route();
  // Pages a reader is working in (a deep page, a diff) are not refreshed.
  const refreshable = ['overview', 'workers', 'algorithm', 'rollout'].includes(parts[0] || 'overview') ||
    (parts[0] === 'rollouts' && !params.get('after'));
  if (live && !busy && loginForm.hidden && refreshable && document.visibilityState === 'visible') render(true);
}, 5000);

// ---- Overview ----

async function overview() {
  const d = await getJSON(`${API}/overview`);
  const st = d.statistics || {};
  const statuses = Object.entries(d.statuses).sort();
  const curve = d.reward_curve.points;
  const byVersion = {};
  for (const p of curve) (byVersion[p.resources_id || '(none)'] ||= []).push([p.bucket, p.mean]);
  const series = Object.entries(byVersion).map(([name, points]) => ({ name, points }));
  const diag = d.diagnostics;
  return el('section', {},
    el('h1', {}, 'Overview'),
    el('h2', {}, 'Rollouts by status'),
    el('div', { class: 'cards' }, statuses.length ? statuses.map(([s, n]) => card(s, fmtNum(n), 'status-' + s)) : el('p', { class: 'muted' }, 'No rollouts yet.')),
    el('h2', {}, 'Stored'),
    el('div', { class: 'cards' },
      card('rollouts', fmtNum(st.total_rollouts), 'total_rollouts'), card('attempts', fmtNum(st.total_attempts), 'total_attempts'),
      card('spans', fmtNum(st.total_spans), 'total_spans'), card('triplets', fmtNum(st.total_triplets), 'total_triplets'),
      card('chat records', fmtNum(st.total_messages), 'total_messages'), card('resources', fmtNum(st.total_resources), 'total_resources'),
      card('workers', fmtNum(st.total_workers), 'total_workers')),
    el('h2', {}, `Mean reward per ${fmtSeconds(d.reward_curve.bucket_seconds)} of rollout start, by resources version`),
    el('p', { class: 'muted' }, `Computed at ${fmtTime(d.reward_curve.computed_at)} (at most every 30 s).`),
    lineChart(series, { xLabel: x => fmtTime(x).slice(5, 19), key: 'reward-curve' }), legend(series),
    metricsSection(d.metrics),
    el('h2', {}, `Why data is missing (latest attempt of the ${diag.sampled} most recent rollouts)`),
    Object.keys(diag.causes).length === 0
      ? el('p', { class: 'ok' }, `${diag.healthy} of ${diag.sampled} have triplets with rewards and token ids.`)
      : table([
          { label: 'cause', cell: ([c]) => el('span', { 'data-cause': c }, c) },
          { label: 'rollouts', cell: ([c, n]) => el('span', { 'data-k': 'cause-' + c }, n) },
          { label: 'example', cell: ([c]) => rolloutLink(diag.examples[c]) },
        ], Object.entries(diag.causes).sort((a, b) => b[1] - a[1]), { 'data-k': 'diagnosis-summary' }),
  );
}

function fmtSeconds(s) {
  if (s >= 86400) return `${s / 86400} day`;
  if (s >= 3600) return `${s / 3600} hour`;
  if (s >= 60) return `${s / 60} minute`;
  return `${s} second`;
}

const previousIngest = {};
function metricsSection(m) {
  const rows = [];
  for (const x of m.ingest) {
    const prev = previousIngest[x.name];
    const rate = prev && m.time > prev.time ? (x.value - prev.value) / (m.time - prev.time) : null;
    previousIngest[x.name] = { value: x.value, time: m.time };
    rows.push({ kind: 'ingest', name: x.name, value: x.value, rate });
  }
  for (const x of m.fill) rows.push({ kind: 'queue / buffer', name: x.name, value: x.value });
  for (const x of m.problems) rows.push({ kind: 'errors and rejections', name: x.name, value: x.value, series: x.series, fix: x.fix });
  return el('div', {},
    el('h2', {}, 'Collector telemetry'),
    el('p', { class: 'muted' }, 'From the collector\'s own metrics endpoint ', el('code', {}, m.source || '(none)'),
      ', summed over components; rates between two refreshes.'),
    m.error ? el('p', { class: 'warn', 'data-k': 'metrics-error' }, m.error) : null,
    table([
      { label: 'kind', cell: r => r.kind },
      { label: 'metric', cell: r => r.name },
      { label: 'value', cell: r => el('span', { 'data-metric': r.name }, fmtNum(r.value)) },
      { label: 'rate /s', cell: r => r.rate === undefined ? '' : (r.rate === null ? '…' : fmtNum(r.rate, 1)) },
      { label: 'by series', cell: r => r.series ? Object.entries(r.series).filter(([, v]) => v).map(([k, v]) => `${k || '-'}: ${v}`).join('; ') : '' },
      { label: 'fix', cell: r => r.fix || '' },
    ], rows, { 'data-k': 'metrics' }));
}

function rolloutLink(id) {
  return id ? el('a', { href: '#/rollout/' + encodeURIComponent(id), 'data-rollout': id }, id) : '';
}

// ---- Rollouts ----

const FILTERS = ['status', 'mode', 'resources_id', 'q', 'started_after', 'started_before', 'min_reward', 'max_reward', 'sort', 'order', 'limit'];

async function rollouts(_, params) {
  const q = new URLSearchParams();
  for (const k of [...FILTERS, 'after']) if (params.get(k)) q.set(k, params.get(k));
  sessionStorage.setItem('lightning.filter', q.toString());
  const d = await getJSON(`${API}/rollouts?${q}`);
  const form = el('form', { class: 'filters', id: 'filters' },
    field('status', select('status', ['', 'queuing', 'preparing', 'running', 'succeeded', 'failed', 'requeuing', 'cancelled'], params.get('status'))),
    field('mode', select('mode', ['', 'train', 'val', 'test'], params.get('mode'))),
    field('resources version', el('input', { name: 'resources_id', value: params.get('resources_id') || '', size: 12 })),
    field('id starts with', el('input', { name: 'q', value: params.get('q') || '', size: 14 })),
    field('started after', el('input', { name: 'started_after', type: 'datetime-local', step: 1, value: toLocalInput(params.get('started_after')) })),
    field('started before', el('input', { name: 'started_before', type: 'datetime-local', step: 1, value: toLocalInput(params.get('started_before')) })),
    field('reward ≥', el('input', { name: 'min_reward', type: 'number', step: 'any', value: params.get('min_reward') || '', size: 6 })),
    field('reward ≤', el('input', { name: 'max_reward', type: 'number', step: 'any', value: params.get('max_reward') || '', size: 6 })),
    field('sort', select('sort', ['start_time', 'reward'], params.get('sort'))),
    field('order', select('order', ['desc', 'asc'], params.get('order'))),
    field('per page', select('limit', ['50', '20', '100', '500'], params.get('limit'))),
    el('button', { type: 'submit' }, 'Apply'),
    el('button', { type: 'button', onclick: () => { location.hash = '#/rollouts'; } }, 'Reset'));
  form.addEventListener('submit', (ev) => {
    ev.preventDefault();
    const out = new URLSearchParams();
    for (const [k, v] of new FormData(form)) {
      if (!v) continue;
      out.set(k, k.startsWith('started_') ? String(Date.parse(v) / 1000) : v);
    }
    location.hash = '#/rollouts?' + out;
  });
  const trail = (params.get('trail') || '').split('.').filter(Boolean);
  const pageTo = (after, nextTrail) => {
    const p = new URLSearchParams(params);
    after ? p.set('after', after) : p.delete('after');
    nextTrail.length ? p.set('trail', nextTrail.join('.')) : p.delete('trail');
    location.hash = '#/rollouts?' + p;
  };
  return el('section', {},
    el('h1', {}, 'Rollouts'), form,
    params.get('sort') === 'reward' ? el('p', { class: 'muted' }, 'Sorting by reward lists rollouts that have a reward.') : null,
    table([
      { label: 'rollout', cell: r => rolloutLink(r.rollout_id) },
      { label: 'status', cell: r => el('span', { class: r.status === 'failed' ? 'bad' : (r.status === 'succeeded' ? 'ok' : '') }, r.status) },
      { label: 'mode', cell: r => r.mode || '—' },
      { label: 'resources', cell: r => r.resources_id || '—' },
      { label: 'started', cell: r => fmtTime(r.start_time) },
      { label: 'ended', cell: r => fmtTime(r.end_time) },
      { label: 'reward', cell: r => el('span', { 'data-reward': r.rollout_id }, fmtNum(r.reward)) },
      { label: 'attempts', cell: r => r.attempts ? `${r.attempts} (${r.attempt_status})` : '—' },
      { label: 'worker', cell: r => r.worker_id || '—' },
    ], d.items, { 'data-k': 'rollouts' }),
    d.items.length === 0 ? el('p', { class: 'muted', 'data-k': 'empty' }, 'No rollout matches.') : null,
    el('div', { class: 'pager' },
      el('button', { id: 'prev', disabled: !params.get('after'), onclick: () => pageTo(trail[trail.length - 1] === '-' ? '' : trail[trail.length - 1], trail.slice(0, -1)) }, '← Previous'),
      el('button', { id: 'next', disabled: !d.next, onclick: () => pageTo(d.next, [...trail, params.get('after') || '-']) }, 'Next →'),
      el('a', { href: '#/export' }, 'Export this selection')));
}

function field(label, input) { return el('label', {}, label, input); }
function select(name, options, value) {
  return el('select', { name }, options.map(o => el('option', { value: o, selected: o === (value || options[0]) }, o || 'any')));
}
function toLocalInput(sec) {
  if (!sec) return '';
  const d = new Date(Number(sec) * 1000);
  return new Date(d.getTime() - d.getTimezoneOffset() * 60000).toISOString().slice(0, 19);
}

// ---- Rollout ----

async function rollout([id], params) {
  const q = params.get('attempt') ? '?attempt_id=' + encodeURIComponent(params.get('attempt')) : '';
  const d = await getJSON(`${API}/rollouts/${encodeURIComponent(id)}${q}`);
  const r = d.rollout;
  const t0 = Math.min(r.start_time, ...d.attempts.map(a => a.start_time));
  const tEnd = Math.max(r.end_time || 0, ...d.attempts.map(a => a.end_time || a.last_heartbeat_time || a.start_time), t0 + 1e-3);
  return el('section', {},
    el('h1', {}, 'Rollout ', el('span', { 'data-k': 'rollout-id' }, r.rollout_id)),
    el('div', { class: 'cards' },
      card('status', r.status, 'rollout-status'), card('mode', r.mode || '—', 'rollout-mode'),
      card('resources', r.resources_id || '—', 'rollout-resources'), card('started', fmtTime(r.start_time)),
      card('spans (attempt)', fmtNum(d.spans.length), 'span-count'), card('LLM calls', fmtNum(d.call_total), 'call-count'),
      card('triplets', fmtNum(d.triplets.length), 'triplet-count')),
    el('h2', {}, 'Input'), el('pre', { 'data-k': 'input' }, JSON.stringify(r.input, null, 2)),
    el('h2', {}, 'Attempts'),
    table([
      { label: 'attempt', cell: a => el('a', { href: `#/rollout/${encodeURIComponent(r.rollout_id)}?attempt=${encodeURIComponent(a.attempt_id)}`,
        class: a.attempt_id === d.attempt_id ? 'active' : '' }, `#${a.sequence_id} ${a.attempt_id}`) },
      { label: 'status', cell: a => el('span', { 'data-attempt-status': a.attempt_id }, a.status) },
      { label: 'worker', cell: a => a.worker_id || '—' },
      { label: 'timeline', cell: a => timeline(a, t0, tEnd) },
      { label: 'last heartbeat', cell: a => fmtTime(a.last_heartbeat_time) },
    ], d.attempts, { 'data-k': 'attempts' }),
    el('h2', {}, 'Diagnostics', d.attempt_id ? ` of ${d.attempt_id}` : ''),
    diagnostics(d.diagnostics),
    el('h2', {}, 'Spans'), d.truncated ? el('p', { class: 'warn' }, 'Only the first spans are shown.') : null,
    waterfall(d, r.rollout_id),
    el('div', { id: 'span-detail' }),
    el('h2', {}, 'LLM calls'),
    d.calls.length ? el('div', { id: 'calls' }, d.calls.map(callView)) : el('p', { class: 'muted' }, 'No LLM call recognised.'),
    d.call_total > d.calls.length ? moreCalls(r.rollout_id, d) : null,
    el('h2', {}, 'Triplets'),
    table([
      { label: '#', cell: t => t.index },
      { label: 'span', cell: t => t.span_id },
      { label: 'reward', cell: t => el('span', { 'data-triplet-reward': t.index }, fmtNum(t.reward)) },
      { label: 'prompt tokens', cell: t => (t.prompt?.token_ids || []).length },
      { label: 'response tokens', cell: t => (t.response?.token_ids || []).length },
      { label: 'response', cell: t => contentText(t.response?.message?.content) },
    ], d.triplets, { 'data-k': 'triplets' }));
}

// moreCalls loads the next window of transcripts (the page gets 50 at a
// time: they are most of a big attempt's bytes).
function moreCalls(rolloutID, d) {
  let offset = d.calls.length;
  const button = el('button', { id: 'more-calls' }, `Show more calls (${d.call_total - offset} left)`);
  button.addEventListener('click', async () => {
    const q = new URLSearchParams({ attempt_id: d.attempt_id, calls_offset: offset, calls_limit: 50 });
    const next = await getJSON(`${API}/rollouts/${encodeURIComponent(rolloutID)}?${q}`);
    document.getElementById('calls').append(...next.calls.map(callView));
    offset += next.calls.length;
    if (offset >= next.call_total || next.calls.length === 0) button.remove();
    else button.textContent = `Show more calls (${next.call_total - offset} left)`;
  });
  return button;
}

function timeline(a, t0, t1) {
  const end = a.end_time || a.last_heartbeat_time || a.start_time;
  const left = (a.start_time - t0) / (t1 - t0) * 100;
  const width = Math.max(0.5, (end - a.start_time) / (t1 - t0) * 100);
  const bar = el('span', {});
  bar.style.left = left + '%';
  bar.style.width = width + '%';
  return el('div', { class: 'timeline', title: `${fmtTime(a.start_time)} → ${fmtTime(a.end_time)}` }, bar);
}

export function diagnostics(findings) {
  if (!findings.length) return el('p', { class: 'ok', 'data-k': 'diagnostics' }, 'Triplets with rewards and token ids: nothing missing.');
  return el('div', { 'data-k': 'diagnostics' }, findings.map(f => el('div', { class: 'finding ' + f.severity, 'data-cause': f.cause },
    el('strong', {}, f.title), ' ', el('code', {}, f.cause),
    el('p', {}, f.detail),
    f.names ? el('p', {}, 'Span names seen: ', f.names.map(n => `${n.name} ×${n.count}`).join(', ')) : null,
    f.families ? el('p', {}, 'Attribute families seen: ', f.families.length ? f.families.join(', ') : 'none of the known ones') : null,
    el('p', { class: 'fix' }, 'Fix: ', f.fix))));
}

function waterfall(d, rolloutID) {
  const spans = d.spans;
  if (!spans.length) return el('p', { class: 'muted' }, 'No spans.');
  const starts = spans.map(s => s.start_time).filter(v => v != null);
  const ends = spans.map(s => s.end_time ?? s.start_time).filter(v => v != null);
  const t0 = Math.min(...starts), t1 = Math.max(...ends, t0 + 1e-6);
  // Depth from the parent chain, children listed under their parent.
  const byID = new Map(spans.map(s => [s.span_id, s]));
  const kids = new Map();
  const roots = [];
  for (const s of spans) {
    if (s.parent_id && byID.has(s.parent_id)) (kids.get(s.parent_id) || kids.set(s.parent_id, []).get(s.parent_id)).push(s);
    else roots.push(s);
  }
  const order = [];
  const walk = (s, depth) => { order.push([s, depth]); for (const k of kids.get(s.span_id) || []) walk(k, depth + 1); };
  roots.forEach(s => walk(s, 0));
  const rows = order.map(([s, depth]) => {
    const bar = el('div', { class: 'wf-bar' });
    const st = s.start_time ?? t0, en = s.end_time ?? st;
    bar.style.left = ((st - t0) / (t1 - t0) * 100) + '%';
    bar.style.width = Math.max(0.2, (en - st) / (t1 - t0) * 100) + '%';
    const name = el('div', { class: 'wf-name', title: s.name }, s.name, s.llm ? ` [LLM · ${s.rule}]` : '', s.reward != null ? ` [reward ${fmtNum(s.reward)}]` : '');
    name.style.paddingLeft = (4 + depth * 12) + 'px';
    return el('div', { class: 'wf-row' + (s.llm ? ' llm' : '') + (s.reward != null ? ' reward' : ''), 'data-span': s.span_id,
      onclick: () => showRawSpan(rolloutID, d.attempt_id, s.span_id) }, name, el('div', { class: 'wf-track' }, bar));
  });
  return el('div', { class: 'waterfall', 'data-k': 'waterfall' }, rows);
}

async function showRawSpan(rolloutID, attemptID, spanID) {
  const target = document.getElementById('span-detail');
  const body = JSON.stringify({ rollout_id: rolloutID, attempt_id: attemptID, span_id: spanID });
  const d = await getJSON('/v1/agl/spans/search', { method: 'POST', headers: { 'Content-Type': 'application/json' }, body });
  target.replaceChildren(el('h2', {}, 'Raw span ', spanID), el('pre', { 'data-k': 'raw-span' }, JSON.stringify(d.items[0] || null, null, 2)));
  target.scrollIntoView();
}

function contentText(c) {
  if (c === null || c === undefined) return '';
  if (typeof c === 'string') return c;
  if (Array.isArray(c)) return c.map(p => p.type === 'text' ? p.text : JSON.stringify(p)).join('\n');
  return JSON.stringify(c);
}

function messageView(m) {
  return el('div', { class: 'msg ' + m.role, 'data-role': m.role },
    el('span', { class: 'role' }, m.role, m.name ? ` (${m.name})` : '', m.tool_call_id ? ` → result of ${m.tool_call_id}` : ''),
    m.reasoning_content ? el('div', { class: 'muted' }, 'reasoning: ', m.reasoning_content) : null,
    contentText(m.content),
    (m.tool_calls || []).map(tc => el('div', { class: 'tool-call' }, `tool call ${tc.id || ''}: ${tc.function?.name}(${tc.function?.arguments ?? ''})`)));
}

function callView(c) {
  const completion = c.chat.completion;
  return el('div', { class: 'call', 'data-call': c.span_id },
    el('div', {}, el('strong', {}, c.name), ` · ${c.model || 'model?'} · convention ${c.convention || '—'} · `,
      'reward ', el('span', { 'data-call-reward': c.span_id }, fmtNum(c.reward)),
      c.triplet_index != null ? ` · triplet #${c.triplet_index}` : ' · no triplet',
      ` · tokens in/out ${c.usage?.input_tokens ?? '—'}/${c.usage?.output_tokens ?? '—'}`),
    (c.chat.messages || []).map(messageView),
    completion ? messageView({ ...completion, role: completion.role || 'assistant' }) : el('p', { class: 'muted' }, 'No completion recorded.'),
    el('details', {}, el('summary', {}, `token ids: prompt ${(c.prompt_token_ids || []).length}, response ${(c.response_token_ids || []).length}`),
      el('pre', { 'data-k': 'prompt-token-ids' }, JSON.stringify(c.prompt_token_ids || [])),
      el('pre', { 'data-k': 'response-token-ids' }, JSON.stringify(c.response_token_ids || []))),
    c.logprobs ? el('details', {}, el('summary', {}, 'log-probs'), logprobTable(c.logprobs)) : null,
    (c.problems || []).length ? el('p', { class: 'warn' }, 'Skipped values: ', c.problems.map(p => `${p.key}: ${p.problem}`).join('; ')) : null);
}

function logprobTable(lp) {
  const items = Array.isArray(lp) ? lp : (lp.content || []);
  return table([
    { label: 'token', cell: x => x.token ?? '' },
    { label: 'logprob', cell: x => fmtNum(x.logprob, 4) },
  ], items.slice(0, 500));
}

// ---- Resources ----

async function resources(_, params) {
  const d = await getJSON(`${API}/resources`);
  const items = d.items;
  const a = params.get('a') || items[1]?.resources_id || '';
  const b = params.get('b') || items[0]?.resources_id || '';
  const ra = items.find(x => x.resources_id === a), rb = items.find(x => x.resources_id === b);
  const names = [...new Set([...Object.keys(ra?.resources || {}), ...Object.keys(rb?.resources || {})])].sort();
  const name = params.get('name') || names[0] || '';
  const pick = (sel, value) => select(sel, items.map(x => x.resources_id), value);
  const form = el('form', { class: 'filters' },
    field('from', pick('a', a)), field('to', pick('b', b)), field('resource', select('name', names, name)),
    el('button', { type: 'submit' }, 'Diff'));
  form.addEventListener('submit', ev => { ev.preventDefault(); location.hash = '#/resources?' + new URLSearchParams(new FormData(form)); });
  const text = r => { const v = r?.resources?.[name]; return v == null ? '' : (typeof v.template === 'string' ? v.template : JSON.stringify(v, null, 2)); };
  return el('section', {},
    el('h1', {}, 'Resources'),
    table([
      { label: 'resources id', cell: r => r.resources_id },
      { label: 'version', cell: r => r.version },
      { label: 'updated', cell: r => fmtTime(r.update_time) },
      { label: 'resources', cell: r => Object.entries(r.resources).map(([k, v]) => `${k} (${v.resource_type || 'resource'})`).join(', ') },
    ], items, { 'data-k': 'resources' }),
    el('h2', {}, 'Diff between two versions'), items.length ? form : el('p', { class: 'muted' }, 'No resources stored.'),
    items.length ? el('div', { class: 'diff', 'data-k': 'diff' }, lineDiff(text(ra), text(rb)).map(([op, line]) =>
      el('div', { class: op === '+' ? 'add' : op === '-' ? 'del' : '' }, `${op} ${line}`))) : null);
}

// ---- Algorithm ----

async function algorithm() {
  let d;
  try {
    d = await getJSON('/v1/lightning/algorithm');
  } catch (err) {
    if (err.status === 404) return el('section', {}, el('h1', {}, 'Algorithm'), el('p', { class: 'muted', 'data-k': 'no-algorithm' }, 'No algorithm report: the trainer extension is not running an algorithm on this collector.'));
    throw err;
  }
  const kinds = {};
  for (const h of d.history || []) (kinds[h.kind || 'score'] ||= []).push([h.round, h.score]);
  const series = Object.entries(kinds).map(([name, points]) => ({ name, points }));
  return el('section', {},
    el('h1', {}, 'Algorithm ', el('span', { 'data-k': 'algorithm-name' }, d.name)),
    el('div', { class: 'cards' }, card('state', d.state, 'algorithm-state'), card('round', `${d.round} / ${d.rounds}`, 'algorithm-round'),
      card('best score', fmtNum(d.best_score), 'best-score'), card('baseline', fmtNum(d.baseline_score), 'baseline-score'),
      card('rollouts done', fmtNum(d.rollouts_done), 'rollouts-done')),
    el('h2', {}, 'Scores by round'), lineChart(series, { xLabel: x => 'round ' + Math.round(x), key: 'algorithm-chart' }), legend(series),
    d.best_prompt ? el('div', {}, el('h2', {}, 'Best prompt'), el('pre', {}, d.best_prompt)) : null,
    d.error ? el('p', { class: 'bad' }, d.error) : null,
    table([
      { label: 'round', cell: h => h.round }, { label: 'kind', cell: h => h.kind }, { label: 'resources', cell: h => h.resources_id },
      { label: 'mode', cell: h => h.mode }, { label: 'rollouts', cell: h => `${h.finished}/${h.rollouts}` },
      { label: 'score', cell: h => el('span', { 'data-score': `${h.round}:${h.resources_id}` }, fmtNum(h.score)) },
    ], d.history || [], { 'data-k': 'history' }));
}

// ---- Workers ----

async function workers() {
  const d = await getJSON(`${API}/workers`);
  return el('section', {}, el('h1', {}, 'Workers'),
    d.items.length === 0 ? el('p', { class: 'muted' }, 'No worker has reported yet.') : null,
    table([
      { label: 'worker', cell: w => w.worker_id },
      { label: 'status', cell: w => el('span', { 'data-worker-status': w.worker_id }, w.status) },
      { label: 'current rollout', cell: w => rolloutLink(w.current_rollout_id) },
      { label: 'current attempt', cell: w => w.current_attempt_id || '—' },
      { label: 'last heartbeat', cell: w => w.last_heartbeat_time ? `${fmtTime(w.last_heartbeat_time)} (${Math.round(d.now - w.last_heartbeat_time)} s ago)` : '—' },
    ], d.items, { 'data-k': 'workers' }));
}

// ---- Export ----

async function exportPage() {
  const filter = new URLSearchParams(sessionStorage.getItem('lightning.filter') || '');
  const q = new URLSearchParams();
  // The export route's filters: what it cannot express is named below.
  for (const k of ['status', 'mode', 'resources_id', 'started_after', 'started_before', 'min_reward']) if (filter.get(k)) q.set(k, filter.get(k));
  const unsupported = ['q', 'max_reward'].filter(k => filter.get(k));
  const form = el('form', { class: 'filters' },
    field('format', select('format', ['sft', 'triplets', 'trajectories'])),
    field('attempts', select('attempts', ['latest', 'all'])),
    el('button', { type: 'submit', id: 'download' }, 'Download'));
  const status = el('p', { 'data-k': 'export-status' });
  form.addEventListener('submit', async ev => {
    ev.preventDefault();
    const fd = new FormData(form);
    const p = new URLSearchParams(q);
    p.set('format', fd.get('format'));
    p.set('attempts', fd.get('attempts'));
    status.textContent = 'exporting…';
    try {
      const resp = await api('/v1/lightning/export?' + p);
      const blob = await resp.blob();
      const a = el('a', { href: URL.createObjectURL(blob), download: `lightning-${fd.get('format')}.jsonl` });
      document.body.appendChild(a);
      a.click();
      a.remove();
      status.textContent = `downloaded ${blob.size} bytes (${(await blob.text()).split('\n').filter(Boolean).length} lines)`;
    } catch (err) {
      status.textContent = String(err.message || err);
    }
  });
  return el('section', {}, el('h1', {}, 'Export'),
    el('p', {}, 'The rollouts page\'s current filter: ', el('code', { 'data-k': 'export-filter' }, q.toString() || '(everything)')),
    unsupported.length ? el('p', { class: 'warn' }, `Not applied by the export route: ${unsupported.join(', ')}.`) : null,
    el('p', { class: 'muted' }, 'Formats are described in docs/exports.md.'), form, status);
}

render();
