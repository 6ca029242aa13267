// weir's page. Plain JavaScript, no build step, no dependencies: it reads the
// Prometheus HTTP API (/api/v1/...) and the Jaeger HTTP API (/api/traces/...)
// on the same origin and draws with SVG and DOM elements.
//
// Text from the APIs is only ever set as textContent or attribute values,
// never parsed as HTML.
'use strict';
(() => {
  const $ = (id) => document.getElementById(id);
  const SVGNS = 'http://www.w3.org/2000/svg';

  // Series and service colours: each has a contrast of at least 3:1 against
  // the white background (checked by ui_test.go).
  const PALETTE = ['#1d4ed8', '#c2410c', '#15803d', '#7e22ce', '#0e7490',
    '#a16207', '#be185d', '#4d7c0f', '#3730a3', '#475569'];
  const OTHER = '#475569';
  const MAX_SERIES = 50;
  const MAX_EXEMPLARS = 3000;
  const CHART_HEIGHT = 320;
  const MARGIN = { top: 12, right: 16, bottom: 30, left: 68 };

  const state = {
    cfg: { jaegerUIURL: '' },
    metric: '',
    range: 15, // minutes
    filters: {}, // label name -> value ('' = any)
    trace: '',
    chartGen: 0,
    traceGen: 0,
    last: null, // what the chart last drew, for redraws on resize
    legendFor: '', // the query whose legend was last folded or unfolded
    timer: 0,
  };

  // ---- small helpers --------------------------------------------------

  function el(tag, attrs, ...children) {
    const e = document.createElement(tag);
    for (const [k, v] of Object.entries(attrs || {})) {
      if (k === 'class') e.className = v;
      else if (k === 'text') e.textContent = v;
      else e.setAttribute(k, v);
    }
    for (const c of children) if (c != null) e.append(c);
    return e;
  }

  function svg(tag, attrs) {
    const e = document.createElementNS(SVGNS, tag);
    for (const [k, v] of Object.entries(attrs || {})) e.setAttribute(k, v);
    return e;
  }

  function setStatus(text, isError) {
    const s = $('status');
    s.textContent = text;
    s.classList.toggle('error', !!isError);
  }

  function sig(x) { return String(+x.toPrecision(3)); }

  function fmtDuration(sec) {
    const a = Math.abs(sec);
    if (a === 0) return '0';
    if (a < 1e-3) return sig(sec * 1e6) + ' µs';
    if (a < 1) return sig(sec * 1e3) + ' ms';
    if (a < 120) return sig(sec) + ' s';
    return sig(sec / 60) + ' min';
  }

  function fmtNumber(v) {
    const a = Math.abs(v);
    if (a === 0) return '0';
    if (a >= 1e9) return sig(v / 1e9) + 'G';
    if (a >= 1e6) return sig(v / 1e6) + 'M';
    if (a >= 1e4) return sig(v / 1e3) + 'k';
    if (a < 1e-3) return v.toExponential(2);
    return sig(v);
  }

  // unitOf guesses the unit from the metric name, the Prometheus way.
  function unitOf(metric) {
    return /_seconds(_(sum|min|max|mean|last))?$/.test(metric) ? 's' : '';
  }

  function fmtValue(v, unit) { return unit === 's' ? fmtDuration(v) : fmtNumber(v); }

  const pad = (n) => String(n).padStart(2, '0');
  function fmtTime(sec, withSeconds) {
    const d = new Date(sec * 1000);
    const hm = pad(d.getHours()) + ':' + pad(d.getMinutes());
    return withSeconds ? hm + ':' + pad(d.getSeconds()) : hm;
  }

  // promString quotes s as a PromQL string (PromQL takes Go's escapes, which
  // include JSON's).
  const promString = (s) => JSON.stringify(s);
  const promIdent = /^[a-zA-Z_:][a-zA-Z0-9_:]*$/;

  function selector(metric, filters) {
    const ms = Object.keys(filters).sort().filter((k) => filters[k] !== '')
      .map((k) => k + '=' + promString(filters[k]));
    if (promIdent.test(metric)) return ms.length ? metric + '{' + ms.join(',') + '}' : metric;
    return '{' + ['__name__=' + promString(metric), ...ms].join(',') + '}';
  }

  function labelKey(labels) {
    return Object.keys(labels).sort().map((k) => k + '=' + labels[k]).join('\u0000');
  }

  function labelText(labels, only) {
    const keys = Object.keys(labels).filter((k) => k !== '__name__' && (!only || only.has(k))).sort();
    return '{' + keys.map((k) => k + '=' + promString(labels[k])).join(', ') + '}';
  }

  // ---- API ------------------------------------------------------------

  async function api(path, params) {
    const q = new URLSearchParams();
    for (const [k, v] of Object.entries(params || {})) {
      for (const x of Array.isArray(v) ? v : [v]) q.append(k, x);
    }
    const qs = q.toString();
    const res = await fetch(path + (qs ? '?' + qs : ''), { headers: { Accept: 'application/json' } });
    let body;
    try {
      body = await res.json();
    } catch {
      throw new Error(path + ': HTTP ' + res.status + ', not JSON');
    }
    if (body.status !== 'success') throw new Error(path + ': ' + (body.error || 'HTTP ' + res.status));
    return body.data;
  }

  function timeRange() {
    const end = Date.now() / 1000;
    const start = end - state.range * 60;
    // weir writes windows of 10 s: a finer step only repeats samples.
    const step = Math.max(10, Math.ceil((end - start) / 300));
    return { start, end, step };
  }

  // ---- state in the address, so that a view can be shared -------------

  function writeHash() {
    const p = new URLSearchParams();
    if (state.metric) p.set('metric', state.metric);
    p.set('range', state.range);
    for (const k of Object.keys(state.filters).sort()) if (state.filters[k]) p.set('l.' + k, state.filters[k]);
    if (state.trace) p.set('trace', state.trace);
    history.replaceState(null, '', '#' + p);
  }

  function readHash() {
    const p = new URLSearchParams(location.hash.slice(1));
    const h = { metric: p.get('metric') || '', range: +p.get('range') || 0, filters: {}, trace: p.get('trace') || '' };
    for (const [k, v] of p) if (k.startsWith('l.')) h.filters[k.slice(2)] = v;
    return h;
  }

  // ---- metric and label pickers ---------------------------------------

  async function loadMetrics(wanted) {
    const sel = $('metric');
    let names;
    try {
      names = await api('/api/v1/label/__name__/values', { start: Date.now() / 1000 - 6 * 3600 });
    } catch (e) {
      setStatus('Could not list metrics: ' + e.message, true);
      setTimeout(() => loadMetrics(wanted), 5000);
      return false;
    }
    if (!names.length) {
      setStatus('No metrics in the store yet (weir writes its first windows about 20 s after start); retrying…');
      setTimeout(() => loadMetrics(wanted), 5000);
      return false;
    }
    sel.replaceChildren(...names.map((n) => el('option', { value: n, text: n })));
    sel.disabled = false;
    const pick = [wanted, state.metric, 'span_duration_seconds'].find((m) => m && names.includes(m)) || names[0];
    sel.value = pick;
    await selectMetric(pick, wantedFilters);
    return true;
  }

  let wantedFilters = {};

  async function selectMetric(metric, filters) {
    state.metric = metric;
    state.filters = {};
    const fs = $('filters');
    fs.querySelectorAll('.field').forEach((f) => f.remove());
    $('filters-empty').hidden = false;
    $('filters-empty').textContent = 'Loading labels of ' + metric + '…';
    const { start, end } = timeRange();
    let series = [];
    try {
      series = await api('/api/v1/series', { 'match[]': selector(metric, {}), start, end });
    } catch (e) {
      setStatus('Could not list the series of ' + metric + ': ' + e.message, true);
    }
    if (metric !== state.metric) return; // another metric was picked meanwhile
    const values = new Map();
    for (const s of series) {
      for (const [k, v] of Object.entries(s)) {
        if (k === '__name__') continue;
        if (!values.has(k)) values.set(k, new Set());
        values.get(k).add(v);
      }
    }
    const names = [...values.keys()].sort();
    $('filters-empty').hidden = names.length > 0;
    $('filters-empty').textContent = 'This metric has no labels to filter by.';
    for (const name of names) {
      const id = 'filter-' + name;
      const s = el('select', { id, 'data-label': name, class: 'filter' },
        el('option', { value: '', text: 'any' }),
        ...[...values.get(name)].sort(numericFirst).map((v) => el('option', { value: v, text: v })));
      const want = filters && filters[name];
      if (want && values.get(name).has(want)) {
        s.value = want;
        state.filters[name] = want;
      }
      fs.append(el('div', { class: 'field' }, el('label', { for: id, text: name }), s));
    }
    writeHash();
    await refresh();
  }

  function numericFirst(a, b) {
    const x = Number(a), y = Number(b);
    if (!isNaN(x) && !isNaN(y)) return x - y;
    return a < b ? -1 : a > b ? 1 : 0;
  }

  // ---- the chart ------------------------------------------------------

  async function refresh() {
    if (!state.metric) return;
    const gen = ++state.chartGen;
    const sel = selector(state.metric, state.filters);
    const { start, end, step } = timeRange();
    const chart = $('chart');
    chart.dataset.state = 'loading';
    chart.setAttribute('aria-busy', 'true');
    $('chart-title').replaceChildren('Last ' + state.range + ' minutes of ', el('code', { text: sel }));
    setStatus('Querying ' + sel + '…');
    let matrix, exemplars;
    try {
      [matrix, exemplars] = await Promise.all([
        api('/api/v1/query_range', { query: sel, start, end, step }),
        api('/api/v1/query_exemplars', { query: sel, start, end }).catch(() => []),
      ]);
    } catch (e) {
      if (gen !== state.chartGen) return;
      chart.dataset.state = 'error';
      chart.removeAttribute('aria-busy');
      setStatus('Query failed: ' + e.message, true);
      return;
    }
    if (gen !== state.chartGen) return;
    state.last = { sel, range: state.range, start, end, step, series: matrix.result || [], exemplars: exemplars || [] };
    draw();
  }

  function draw() {
    const d = state.last;
    if (!d) return;
    const chart = $('chart');
    const tip = $('tooltip');
    tip.hidden = true;
    const unit = unitOf(state.metric);
    const all = d.series;
    const series = all.slice(0, MAX_SERIES).map((s, i) => ({
      labels: s.metric,
      key: labelKey(s.metric),
      color: PALETTE[i % PALETTE.length],
      points: (s.values || []).map(([t, v]) => [t, parseFloat(v)]).filter(([, v]) => Number.isFinite(v)),
    }));
    const colorOf = new Map(series.map((s) => [s.key, s.color]));

    const points = [];
    for (const es of d.exemplars) {
      const key = labelKey(es.seriesLabels || {});
      for (const ex of es.exemplars || []) {
        const v = parseFloat(ex.value);
        const t = ex.timestamp;
        const traceID = (ex.labels || {}).trace_id || (ex.labels || {}).traceID || '';
        if (!Number.isFinite(v) || t < d.start || t > d.end || !traceID) continue;
        points.push({ t, v, traceID, spanID: (ex.labels || {}).span_id || '', labels: es.seriesLabels || {}, color: colorOf.get(key) || OTHER });
      }
    }
    points.sort((a, b) => a.t - b.t || a.v - b.v);
    points.splice(MAX_EXEMPLARS);

    // Labels that tell the series apart name them in the legend.
    const varying = new Set();
    if (series.length > 1) {
      for (const s of series) {
        for (const [k, v] of Object.entries(s.labels)) if (series.some((o) => o.labels[k] !== v)) varying.add(k);
      }
    }

    const W = Math.max(320, chart.clientWidth || 800);
    const H = CHART_HEIGHT;
    const iw = W - MARGIN.left - MARGIN.right;
    const ih = H - MARGIN.top - MARGIN.bottom;
    let lo = Infinity, hi = -Infinity;
    for (const s of series) for (const [, v] of s.points) { lo = Math.min(lo, v); hi = Math.max(hi, v); }
    for (const p of points) { lo = Math.min(lo, p.v); hi = Math.max(hi, p.v); }
    if (!Number.isFinite(lo)) { lo = 0; hi = 1; }
    const y = niceScale(Math.min(0, lo), hi > lo ? hi : lo + 1, 5);
    const X = (t) => MARGIN.left + ((t - d.start) / (d.end - d.start)) * iw;
    const Y = (v) => MARGIN.top + ih - ((v - y.lo) / (y.hi - y.lo)) * ih;

    const root = svg('svg', {
      width: W, height: H, viewBox: `0 0 ${W} ${H}`, role: 'group', id: 'chart-svg',
      'aria-label': `${d.sel} over the last ${d.range} minutes: ${series.length} series, ${points.length} exemplars`,
    });
    const grid = svg('g', { class: 'grid', 'aria-hidden': 'true' });
    for (const v of y.ticks) {
      grid.append(svg('line', { x1: MARGIN.left, x2: W - MARGIN.right, y1: Y(v), y2: Y(v) }));
      const tx = svg('text', { x: MARGIN.left - 6, y: Y(v) + 4, 'text-anchor': 'end', class: 'tick' });
      tx.textContent = fmtValue(v, unit);
      grid.append(tx);
    }
    const tstep = timeStep(d.end - d.start);
    for (let t = Math.ceil(d.start / tstep) * tstep; t <= d.end; t += tstep) {
      grid.append(svg('line', { x1: X(t), x2: X(t), y1: MARGIN.top, y2: MARGIN.top + ih, class: 'vgrid' }));
      const tx = svg('text', { x: X(t), y: H - 8, 'text-anchor': 'middle', class: 'tick' });
      tx.textContent = fmtTime(t, tstep < 60);
      grid.append(tx);
    }
    root.append(grid);

    const lines = svg('g', { class: 'lines', 'aria-hidden': 'true' });
    for (const s of series) {
      let path = '';
      let prev = -Infinity;
      for (const [t, v] of s.points) {
        // A gap longer than two steps breaks the line: no sample there.
        path += (t - prev > 2 * d.step ? 'M' : 'L') + X(t).toFixed(1) + ',' + Y(v).toFixed(1);
        prev = t;
      }
      if (!path) continue;
      lines.append(svg('path', { d: path, class: 'series-line', stroke: s.color, 'data-series': labelText(s.labels) }));
    }
    root.append(lines);

    const exg = svg('g', { class: 'exemplars', role: 'group', 'aria-label': 'Exemplars' });
    points.forEach((p, i) => {
      const c = svg('circle', {
        class: 'exemplar', cx: X(p.t).toFixed(1), cy: Y(p.v).toFixed(1), r: 5, fill: p.color,
        tabindex: i === 0 ? 0 : -1, role: 'button',
        'data-trace-id': p.traceID, 'data-span-id': p.spanID, 'data-value': p.v, 'data-timestamp': p.t,
        'data-series': labelText(p.labels), 'data-index': i,
        'aria-label': `Exemplar ${fmtValue(p.v, unit)} at ${fmtTime(p.t, true)}, trace ${p.traceID}, series ${labelText(p.labels, varying.size ? varying : null)}. Press Enter to open the trace.`,
      });
      if (p.labels.quantile) c.setAttribute('data-quantile', p.labels.quantile);
      if (p.traceID === state.trace) c.classList.add('selected');
      exg.append(c);
    });
    root.append(exg);
    // A redraw (refresh, resize) keeps the keyboard on the exemplar it was on.
    const had = document.activeElement && document.activeElement.classList &&
      document.activeElement.classList.contains('exemplar') ? document.activeElement.dataset : null;
    chart.replaceChildren(root);
    if (had) {
      const same = [...exg.children].find((c) => c.dataset.traceId === had.traceId && c.dataset.timestamp === had.timestamp);
      if (same) {
        exg.querySelectorAll('[tabindex="0"]').forEach((c) => c.setAttribute('tabindex', -1));
        same.setAttribute('tabindex', 0);
        same.focus();
      }
    }

    // A long legend starts folded, so that the chart and the waterfall stay in view.
    if (state.legendFor !== d.sel) {
      state.legendFor = d.sel;
      $('legend-box').open = series.length <= 12;
    }
    $('legend-summary').textContent = series.length === 1 ? '1 series' : series.length + ' series';
    const legend = $('legend');
    legend.replaceChildren(...series.map((s) => {
      const sw = el('span', { class: 'swatch', 'aria-hidden': 'true' });
      sw.style.background = s.color;
      return el('li', {}, sw, el('span', { text: labelText(s.labels, varying.size ? varying : null) }));
    }));

    chart.dataset.query = d.sel;
    chart.dataset.range = d.range;
    chart.dataset.seriesCount = series.length;
    chart.dataset.exemplarCount = points.length;
    chart.dataset.state = series.length ? 'ready' : 'empty';
    chart.removeAttribute('aria-busy');
    if (!all.length) {
      setStatus(`No samples of ${d.sel} in the last ${d.range} minutes.`);
    } else {
      const more = all.length > series.length ? ` (showing ${series.length} of ${all.length}: narrow it with label filters)` : '';
      setStatus(`${all.length} series${more}, ${points.length} exemplars. Updated ${fmtTime(d.end, true)}.`);
    }
  }

  function niceScale(lo, hi, n) {
    const raw = (hi - lo) / n;
    const mag = 10 ** Math.floor(Math.log10(raw));
    const f = raw / mag;
    const step = (f <= 1 ? 1 : f <= 2 ? 2 : f <= 2.5 ? 2.5 : f <= 5 ? 5 : 10) * mag;
    const a = Math.floor(lo / step) * step;
    const b = Math.ceil(hi / step) * step;
    const ticks = [];
    for (let v = a; v <= b + step / 2; v += step) ticks.push(+v.toPrecision(12));
    return { lo: a, hi: b, ticks };
  }

  function timeStep(span) {
    for (const s of [10, 15, 30, 60, 120, 300, 600, 900, 1800, 3600, 7200, 10800, 21600]) {
      if (span / s <= 8) return s;
    }
    return 43200;
  }

  // ---- exemplar interaction -------------------------------------------

  function exemplarOf(e) {
    const t = e.target;
    return t && t.classList && t.classList.contains('exemplar') ? t : null;
  }

  function showTip(c) {
    const tip = $('tooltip');
    const unit = unitOf(state.metric);
    const v = +c.dataset.value;
    tip.replaceChildren(
      el('div', { class: 'tip-value' }, el('strong', { text: fmtValue(v, unit) }), ' at ' + fmtTime(+c.dataset.timestamp, true)),
      el('div', {}, 'trace ', el('code', { id: 'tooltip-trace-id', text: c.dataset.traceId })),
      el('div', { class: 'tip-series', text: c.dataset.series }),
      el('div', { class: 'tip-hint', text: 'Click or press Enter to open the trace' }));
    tip.dataset.traceId = c.dataset.traceId;
    tip.hidden = false;
    const chart = $('chart');
    const x = +c.getAttribute('cx') + chart.offsetLeft;
    const y = +c.getAttribute('cy') + chart.offsetTop;
    const w = tip.offsetWidth;
    tip.style.left = (x + 14 + w > chart.offsetLeft + chart.clientWidth ? x - 14 - w : x + 14) + 'px';
    tip.style.top = Math.max(0, y - tip.offsetHeight - 8) + 'px';
    c.classList.add('active');
  }

  function hideTip(c) {
    $('tooltip').hidden = true;
    if (c) c.classList.remove('active');
  }

  function moveFocus(c, delta) {
    const all = [...document.querySelectorAll('#chart .exemplar')];
    const i = all.indexOf(c);
    const j = delta === Infinity ? all.length - 1 : delta === -Infinity ? 0 : Math.min(all.length - 1, Math.max(0, i + delta));
    if (j === i || !all[j]) return;
    c.setAttribute('tabindex', -1);
    all[j].setAttribute('tabindex', 0);
    all[j].focus();
  }

  function wireChart() {
    const chart = $('chart');
    chart.addEventListener('mouseover', (e) => { const c = exemplarOf(e); if (c) showTip(c); });
    chart.addEventListener('mouseout', (e) => { const c = exemplarOf(e); if (c && c !== document.activeElement) hideTip(c); });
    chart.addEventListener('focusin', (e) => {
      const c = exemplarOf(e);
      if (!c) return;
      // Roving tabindex: the focused exemplar is the one Tab comes back to.
      chart.querySelectorAll('.exemplar[tabindex="0"]').forEach((o) => o !== c && o.setAttribute('tabindex', -1));
      c.setAttribute('tabindex', 0);
      showTip(c);
    });
    chart.addEventListener('focusout', (e) => { const c = exemplarOf(e); if (c) hideTip(c); });
    chart.addEventListener('click', (e) => { const c = exemplarOf(e); if (c) openExemplar(c); });
    chart.addEventListener('keydown', (e) => {
      const c = exemplarOf(e);
      if (!c) return;
      const moves = { ArrowRight: 1, ArrowDown: 1, ArrowLeft: -1, ArrowUp: -1, PageDown: 10, PageUp: -10, Home: -Infinity, End: Infinity };
      if (e.key === 'Enter' || e.key === ' ') {
        e.preventDefault();
        openExemplar(c);
      } else if (e.key in moves) {
        e.preventDefault();
        moveFocus(c, moves[e.key]);
      } else if (e.key === 'Escape') {
        hideTip(c);
      }
    });
  }

  function openExemplar(c) {
    document.querySelectorAll('#chart .exemplar.selected').forEach((o) => o.classList.remove('selected'));
    c.classList.add('selected');
    openTrace(c.dataset.traceId, c.dataset.spanId);
  }

  // ---- the waterfall --------------------------------------------------

  async function openTrace(id, exemplarSpanID) {
    const gen = ++state.traceGen;
    state.trace = id;
    writeHash();
    const wf = $('waterfall');
    wf.hidden = false;
    wf.dataset.traceId = id;
    wf.dataset.state = 'loading';
    wf.setAttribute('aria-busy', 'true');
    delete wf.dataset.spanCount;
    $('waterfall-title').replaceChildren('Trace ', el('code', { text: id }));
    $('trace-meta').textContent = 'Loading…';
    $('trace-error').hidden = true;
    $('spans').replaceChildren();
    $('wf-ticks').replaceChildren();
    const link = $('jaeger-link');
    const base = jaegerBase();
    link.hidden = !base;
    if (base) link.href = base + '/trace/' + encodeURIComponent(id);
    wf.scrollIntoView({ block: 'start' });
    $('waterfall-title').focus({ preventScroll: true });

    let trace;
    try {
      const res = await fetch('/api/traces/' + encodeURIComponent(id), { headers: { Accept: 'application/json' } });
      if (res.status === 404) throw new Error('the trace store does not have trace ' + id + ' (yet: kept traces reach it after the decision wait)');
      if (!res.ok) throw new Error('/api/traces/' + id + ': HTTP ' + res.status);
      const body = await res.json();
      trace = (body.data || []).find((t) => t.traceID === id) || (body.data || [])[0];
      if (!trace || !(trace.spans || []).length) throw new Error('trace ' + id + ' has no spans');
    } catch (e) {
      if (gen !== state.traceGen) return;
      wf.dataset.state = 'error';
      wf.removeAttribute('aria-busy');
      $('trace-meta').textContent = '';
      $('trace-error').textContent = 'Could not open the trace: ' + e.message;
      $('trace-error').hidden = false;
      return;
    }
    if (gen !== state.traceGen) return;
    renderWaterfall(trace, exemplarSpanID);
  }

  function jaegerBase() {
    const u = state.cfg.jaegerUIURL;
    if (!u) return '';
    try {
      const p = new URL(u);
      return p.protocol === 'http:' || p.protocol === 'https:' ? u.replace(/\/+$/, '') : '';
    } catch {
      return '';
    }
  }

  function isError(span) {
    return (span.tags || []).some((t) => (t.key === 'error' && (t.value === true || t.value === 'true')) ||
      (t.key === 'otel.status_code' && t.value === 'ERROR'));
  }

  // order returns the spans depth first, each parent before its children,
  // siblings by start time. A span whose parent is not in the trace (or that
  // sits in a reference cycle) starts a tree of its own.
  function order(spans) {
    const byID = new Map();
    for (const s of spans) if (!byID.has(s.spanID)) byID.set(s.spanID, s);
    const parentOf = new Map();
    const children = new Map();
    for (const s of spans) {
      const ref = (s.references || []).find((r) => r.traceID === s.traceID) || null;
      const p = ref && ref.spanID !== s.spanID ? byID.get(ref.spanID) : undefined;
      parentOf.set(s, p);
      if (p) {
        if (!children.has(p)) children.set(p, []);
        children.get(p).push(s);
      }
    }
    const byStart = (a, b) => a.startTime - b.startTime || (a.spanID < b.spanID ? -1 : 1);
    const out = [];
    const seen = new Set();
    const walk = (roots) => {
      const stack = roots.slice().sort(byStart).reverse().map((s) => [s, 0]);
      while (stack.length) {
        const [s, depth] = stack.pop();
        if (seen.has(s)) continue;
        seen.add(s);
        out.push({ span: s, depth, parent: parentOf.get(s) });
        const kids = (children.get(s) || []).slice().sort(byStart);
        for (let i = kids.length - 1; i >= 0; i--) stack.push([kids[i], depth + 1]);
      }
    };
    walk(spans.filter((s) => !parentOf.get(s)));
    const rest = spans.filter((s) => !seen.has(s));
    if (rest.length) walk(rest);
    return out;
  }

  function renderWaterfall(trace, exemplarSpanID) {
    const wf = $('waterfall');
    const spans = trace.spans;
    const procs = trace.processes || {};
    const service = (s) => (procs[s.processID] || {}).serviceName || s.processID || 'unknown';
    let t0 = Infinity, t1 = -Infinity;
    for (const s of spans) { t0 = Math.min(t0, s.startTime); t1 = Math.max(t1, s.startTime + s.duration); }
    const total = Math.max(1, t1 - t0);

    const services = [];
    const colors = new Map();
    for (const s of spans) {
      const name = service(s);
      if (!colors.has(name)) { colors.set(name, PALETTE[colors.size % PALETTE.length]); services.push(name); }
    }

    const rows = order(spans).map(({ span: s, depth, parent }, i) => {
      const err = isError(s);
      const svc = service(s);
      const chip = el('span', { class: 'svc-chip', 'aria-hidden': 'true' });
      chip.style.background = colors.get(svc);
      const tagsID = 'span-tags-' + i;
      const toggle = el('button', { type: 'button', class: 'span-toggle', 'aria-expanded': 'false', 'aria-controls': tagsID },
        chip, el('span', { class: 'svc', text: svc }), ' ', el('span', { class: 'op', text: s.operationName }),
        err ? el('span', { class: 'badge err-badge', text: 'error' }) : null,
        s.spanID === exemplarSpanID ? el('span', { class: 'badge ex-badge', text: 'exemplar' }) : null);
      const name = el('div', { class: 'span-name' }, toggle);
      name.style.paddingLeft = (0.25 + depth * 0.9) + 'rem';
      const bar = el('div', { class: 'span-bar' });
      bar.style.left = ((s.startTime - t0) / total * 100) + '%';
      bar.style.width = Math.max(0.25, s.duration / total * 100) + '%';
      bar.style.background = colors.get(svc);
      const track = el('div', { class: 'span-track', 'aria-hidden': 'true' }, bar);
      const dur = el('div', { class: 'span-dur' }, fmtDuration(s.duration / 1e6),
        el('span', { class: 'sr-only', text: ', starts at +' + fmtDuration((s.startTime - t0) / 1e6) }));
      const tags = el('dl', { class: 'span-tags', id: tagsID, hidden: '' });
      const kv = [['span ID', s.spanID], ['start', '+' + fmtDuration((s.startTime - t0) / 1e6)]];
      for (const t of s.tags || []) kv.push([t.key, typeof t.value === 'object' ? JSON.stringify(t.value) : String(t.value)]);
      for (const [k, v] of kv) tags.append(el('dt', { text: k }), el('dd', { text: v }));
      toggle.addEventListener('click', () => {
        const open = toggle.getAttribute('aria-expanded') !== 'true';
        toggle.setAttribute('aria-expanded', String(open));
        tags.hidden = !open;
      });
      const li = el('li', {
        class: 'span wf-grid' + (err ? ' error' : '') + (s.spanID === exemplarSpanID ? ' exemplar-span' : ''),
        'data-span-id': s.spanID, 'data-parent-span-id': parent ? parent.spanID : '', 'data-depth': depth,
        'data-service': svc, 'data-error': String(err), 'data-start-us': s.startTime, 'data-duration-us': s.duration,
      }, name, track, dur, tags);
      return li;
    });
    $('spans').replaceChildren(...rows);

    $('wf-ticks').replaceChildren(...[0, 0.25, 0.5, 0.75, 1].map((f) => {
      const t = el('span', { text: fmtDuration(total * f / 1e6) });
      t.style.left = f * 100 + '%';
      return t;
    }));

    const errors = spans.filter(isError).length;
    $('trace-meta').textContent = `${spans.length} spans · ${services.length} services (${services.join(', ')}) · ` +
      `${fmtDuration(total / 1e6)} · ${errors} ${errors === 1 ? 'error' : 'errors'} · started ${fmtTime(t0 / 1e6, true)}`;
    wf.dataset.spanCount = spans.length;
    wf.dataset.state = 'ready';
    wf.removeAttribute('aria-busy');
  }

  function closeTrace() {
    state.traceGen++;
    state.trace = '';
    writeHash();
    const wf = $('waterfall');
    wf.hidden = true;
    wf.dataset.state = 'closed';
    document.querySelectorAll('#chart .exemplar.selected').forEach((o) => o.classList.remove('selected'));
    const back = document.querySelector('#chart .exemplar[tabindex="0"]');
    (back || $('chart-panel')).focus();
  }

  // ---- start ----------------------------------------------------------

  function setAuto(on) {
    clearInterval(state.timer);
    state.timer = on ? setInterval(refresh, 10000) : 0;
  }

  async function init() {
    try {
      const res = await fetch('/ui/config.json');
      if (res.ok) state.cfg = Object.assign(state.cfg, await res.json());
    } catch {
      // No config: no Jaeger UI link.
    }
    const h = readHash();
    if ([5, 15, 30, 60, 180].includes(h.range)) state.range = h.range;
    $('range').value = String(state.range);
    wantedFilters = h.filters;

    $('metric').addEventListener('change', (e) => { wantedFilters = {}; selectMetric(e.target.value, {}); });
    $('range').addEventListener('change', (e) => { state.range = +e.target.value; writeHash(); refresh(); });
    $('filters').addEventListener('change', (e) => {
      const name = e.target.dataset.label;
      if (!name) return;
      state.filters[name] = e.target.value;
      writeHash();
      refresh();
    });
    $('refresh').addEventListener('click', refresh);
    $('auto').addEventListener('change', (e) => setAuto(e.target.checked));
    $('controls').addEventListener('submit', (e) => e.preventDefault());
    $('close-waterfall').addEventListener('click', closeTrace);
    $('waterfall').addEventListener('keydown', (e) => { if (e.key === 'Escape') closeTrace(); });
    let resize = 0;
    window.addEventListener('resize', () => { clearTimeout(resize); resize = setTimeout(draw, 150); });
    wireChart();

    if (h.trace) openTrace(h.trace, '');
    await loadMetrics(h.metric);
  }

  init();
})();
