// weir's page: what to chart (a metric and its labels, or any PromQL), over
// which time range, and the trace an exemplar opens. Every view lives in the
// address (#metric=…&l.quantile=0.99&from=…&to=…&trace=…): the back button
// steps through zooms and opened traces, and a link shows the same view.
'use strict';
(() => {
  const weir = window.weir;
  const { $, el, setStatus, selector, fmtTime, fmtLocal, api } = weir;

  const RANGES = [5, 15, 30, 60, 180, 360, 720, 1440, 2880, 10080]; // minutes, as index.html offers them
  const MAX_LEGEND = 300;

  const state = {
    cfg: { jaegerUIURL: '', decisionWaitSeconds: 0 },
    metric: '',
    filters: {}, // label name -> value ('' = any)
    q: '', // the user's own PromQL; '' = the metric and filters'
    range: 15, // minutes back from now, unless from and to are set
    from: 0,
    to: 0, // Unix seconds
    trace: '',
    span: '',
    at: 0, // the opened exemplar's time, Unix seconds
    search: '',
    hidden: new Set(),
  };
  let last = null; // the last query's results, for redraws
  let labelsOf = ''; // the metric whose label filters are shown
  let legendFor = ''; // the query whose legend was last folded or unfolded
  let gen = 0;
  let timer = 0;
  let redrawLater = 0; // a redraw waiting for a drag to end

  const query = () => state.q || (state.metric ? selector(state.metric, state.filters) : '');

  function timeRange() {
    let start, end;
    if (state.from && state.to > state.from) {
      start = state.from;
      end = state.to;
    } else {
      end = Date.now() / 1000;
      start = end - state.range * 60;
    }
    // weir writes windows of 10 s: a finer step only repeats samples. The
    // steps fall on multiples of it, where weir's samples are (each at its
    // window's end), so that each step shows the window ending there.
    const step = Math.max(10, Math.ceil((end - start) / 300 / 10) * 10);
    return { start: Math.floor(start / step) * step, end: Math.ceil(end / step) * step, step };
  }

  // ---- the address ------------------------------------------------------

  function writeHash(push) {
    const p = new URLSearchParams();
    if (state.metric) p.set('metric', state.metric);
    for (const k of Object.keys(state.filters).sort()) if (state.filters[k]) p.set('l.' + k, state.filters[k]);
    if (state.q) p.set('q', state.q);
    if (state.from && state.to) {
      p.set('from', state.from);
      p.set('to', state.to);
    } else {
      p.set('range', state.range);
    }
    if (state.search) p.set('s', state.search);
    for (const h of [...state.hidden].sort()) p.append('h', h);
    if (state.trace) {
      p.set('trace', state.trace);
      if (state.span) p.set('span', state.span);
      if (state.at) p.set('at', state.at);
    }
    const url = '#' + p;
    if (url === location.hash) return;
    if (push) history.pushState(null, '', url);
    else history.replaceState(null, '', url);
  }

  function readHash() {
    const p = new URLSearchParams(location.hash.slice(1));
    const filters = {};
    for (const [k, v] of p) if (k.startsWith('l.')) filters[k.slice(2)] = v;
    const range = +p.get('range');
    Object.assign(state, {
      metric: p.get('metric') || '', filters, q: p.get('q') || '',
      range: range > 0 ? range : 15, from: +p.get('from') || 0, to: +p.get('to') || 0,
      trace: p.get('trace') || '', span: p.get('span') || '', at: +p.get('at') || 0,
      search: p.get('s') || '', hidden: new Set(p.getAll('h')),
    });
  }

  // navigate changes the view: patch is folded into the state, the address
  // follows (a new history entry when push), and the page shows it.
  function navigate(patch, push) {
    const before = query() + ' ' + JSON.stringify(timeKey());
    Object.assign(state, patch);
    writeHash(push);
    apply(before !== query() + ' ' + JSON.stringify(timeKey()));
  }

  const timeKey = () => (state.from && state.to ? [state.from, state.to] : [state.range]);

  // apply shows the state: controls, chart (queried again when requery),
  // trace.
  async function apply(requery) {
    syncControls();
    const wf = $('waterfall');
    if (state.trace) {
      if (wf.hidden || wf.dataset.traceId !== state.trace) weir.trace.open(state.trace, state.span, state.at, state.cfg);
    } else if (!wf.hidden) {
      weir.trace.close();
    }
    if (state.metric && labelsOf !== state.metric) await loadLabels(state.metric);
    if (requery || !last) await refresh();
    else redraw();
  }

  // ---- controls ---------------------------------------------------------

  function syncControls() {
    const sel = $('metric');
    if (state.metric && [...sel.options].some((o) => o.value === state.metric)) sel.value = state.metric;
    const absolute = state.from && state.to;
    $('range').value = absolute ? 'custom' : String(state.range);
    const { start, end } = timeRange();
    $('from').value = fmtLocal(Math.floor(start));
    $('to').value = fmtLocal(Math.floor(end));
    $('live').hidden = !absolute;
    if (document.activeElement !== $('query')) $('query').value = query();
    $('query-own').hidden = !state.q;
    if (document.activeElement !== $('series-search')) $('series-search').value = state.search;
    for (const s of document.querySelectorAll('#filters select.filter')) s.value = state.filters[s.dataset.label] || '';
    $('filters').disabled = !!state.q;
  }

  async function loadMetrics() {
    const sel = $('metric');
    let names;
    try {
      names = await api('/api/v1/label/__name__/values', { start: Date.now() / 1000 - 6 * 3600 });
    } catch (e) {
      setStatus('Could not list metrics: ' + e.message, true);
      setTimeout(loadMetrics, 5000);
      return;
    }
    if (!names.length) {
      setStatus('No metrics in the store yet (weir writes its first windows about 20 s after start); retrying…');
      setTimeout(loadMetrics, 5000);
      return;
    }
    sel.replaceChildren(...names.map((n) => el('option', { value: n, text: n })));
    sel.disabled = false;
    setTimeout(refreshMetrics, 10000);
    if (!state.metric && !state.q) {
      state.metric = names.includes('span_duration_seconds') ? 'span_duration_seconds' : names[0];
      writeHash(false);
    } else if (state.metric && !names.includes(state.metric)) {
      sel.append(el('option', { value: state.metric, text: state.metric + ' (no samples in the last 6 h)' }));
    }
    await apply(true);
  }

  // refreshMetrics keeps the metric list current while the page stays
  // open: outputs whose first windows close later (a histogram's after its
  // SDK's second collection) join it, the chosen metric stays chosen.
  async function refreshMetrics() {
    const sel = $('metric');
    try {
      const names = await api('/api/v1/label/__name__/values', { start: Date.now() / 1000 - 6 * 3600 });
      const have = [...sel.options].map((o) => o.value);
      if (names.some((n) => !have.includes(n))) {
        const cur = sel.value;
        sel.replaceChildren(...names.map((n) => el('option', { value: n, text: n })));
        if (cur && !names.includes(cur)) sel.append(el('option', { value: cur, text: cur + ' (no samples in the last 6 h)' }));
        sel.value = cur;
      }
    } catch (e) {
      // The next refresh tries again; the chart says what failed.
    }
    setTimeout(refreshMetrics, 10000);
  }

  async function loadLabels(metric) {
    labelsOf = metric;
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
    if (metric !== labelsOf) return; // another metric was picked meanwhile
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
      const want = state.filters[name];
      if (want) values.get(name).add(want);
      const s = el('select', { id, 'data-label': name, class: 'filter' },
        el('option', { value: '', text: 'any' }),
        ...[...values.get(name)].sort(numericFirst).map((v) => el('option', { value: v, text: v })));
      s.value = want || '';
      fs.append(el('div', { class: 'field' }, el('label', { for: id, text: name }), s));
    }
  }

  function numericFirst(a, b) {
    const x = Number(a), y = Number(b);
    if (!isNaN(x) && !isNaN(y)) return x - y;
    return a < b ? -1 : a > b ? 1 : 0;
  }

  // ---- the chart ----------------------------------------------------------

  async function refresh() {
    const q = query();
    if (!q) return;
    const g = ++gen;
    const { start, end, step } = timeRange();
    const chart = $('chart');
    chart.dataset.state = 'loading';
    chart.setAttribute('aria-busy', 'true');
    $('chart-title').replaceChildren(rangeText(start, end) + ' of ', el('code', { text: q }));
    setStatus('Querying ' + q + '…');
    weir.coverage.refresh();
    let matrix, exemplars;
    try {
      [matrix, exemplars] = await Promise.all([
        api('/api/v1/query_range', { query: q, start, end, step }),
        api('/api/v1/query_exemplars', { query: q, start, end }).catch(() => []),
      ]);
    } catch (e) {
      if (g !== gen) return;
      chart.dataset.state = 'error';
      chart.removeAttribute('aria-busy');
      setStatus('Query failed: ' + e.message, true);
      return;
    }
    if (g !== gen) return;
    if (matrix.resultType && matrix.resultType !== 'matrix') {
      chart.dataset.state = 'error';
      chart.removeAttribute('aria-busy');
      setStatus(`Query answered a ${matrix.resultType}, not series over time: chart an expression of series.`, true);
      return;
    }
    last = { query: q, start, end, step, series: matrix.result || [], exemplars: exemplars || [] };
    redraw();
  }

  function rangeText(start, end) {
    if (state.from && state.to) return `${weir.fmtDate(start)} ${fmtTime(start, true)} – ${fmtTime(end, true)}`;
    return state.range >= 1440 && state.range % 1440 === 0 ? `Last ${state.range / 1440} days` :
      state.range >= 60 && state.range % 60 === 0 ? `Last ${state.range / 60} hours` : `Last ${state.range} minutes`;
  }

  function redraw() {
    const d = last;
    if (!d) return;
    if (weir.chart.dragging()) {
      clearTimeout(redrawLater);
      redrawLater = setTimeout(redraw, 100);
      return;
    }
    const chart = $('chart');
    $('tooltip').hidden = true;
    const m = weir.chart.build(d, state.hidden, state.search);
    weir.chart.draw(chart, m, {
      selected: state.trace,
      zoom: (from, to) => navigate({ from, to }, true),
      zoomOut: () => {
        const span = d.end - d.start, mid = (d.start + d.end) / 2;
        const now = Date.now() / 1000;
        if (mid + span >= now) navigate({ from: 0, to: 0, range: nearestRange(2 * span / 60) }, true);
        else navigate({ from: Math.floor(mid - span), to: Math.ceil(mid + span) }, true);
      },
    });
    legend(m);
    chart.dataset.query = d.query;
    chart.dataset.range = state.from && state.to ? 'custom' : String(state.range);
    chart.dataset.from = Math.floor(d.start);
    chart.dataset.to = Math.ceil(d.end);
    chart.dataset.seriesCount = m.shown.length;
    chart.dataset.exemplarCount = m.points.length;
    chart.dataset.state = m.shown.length ? 'ready' : 'empty';
    chart.removeAttribute('aria-busy');
    if (!m.all.length) {
      setStatus(`No samples of ${d.query} in this time range.`);
      return;
    }
    const parts = [`${m.all.length} series`];
    if (m.matched.length < m.all.length) parts.push(`${m.matched.length} match “${state.search}”`);
    if (m.drawn.length < m.matched.length) parts.push(`drawing the first ${m.drawn.length}: narrow the search`);
    if (m.shown.length < m.drawn.length) parts.push(`${m.drawn.length - m.shown.length} hidden`);
    const ex = m.capped ? `the newest ${m.points.length} of ${m.capped} exemplars` : `${m.points.length} exemplars`;
    setStatus(`${parts.join(', ')}; ${ex}. Updated ${fmtTime(Date.now() / 1000, true)}.`);
  }

  function nearestRange(minutes) {
    return RANGES.find((r) => r >= minutes) || RANGES[RANGES.length - 1];
  }

  function legend(m) {
    const list = $('legend');
    const items = m.matched.slice(0, Math.min(MAX_LEGEND, m.drawn.length)).map((s) => {
      const sw = el('span', { class: 'swatch', 'aria-hidden': 'true' });
      sw.style.background = s.color;
      const on = !state.hidden.has(s.key);
      return el('li', {}, el('button', {
        type: 'button', class: 'legend-item', 'aria-pressed': String(on), 'data-series': s.key,
        title: 'Click to hide or show; Ctrl- or Alt-click to show only this series',
      }, sw, el('span', { text: s.name })));
    });
    list.replaceChildren(...items);
    // A long legend starts folded, so that the chart and the waterfall stay in view.
    if (legendFor !== m.d.query) {
      legendFor = m.d.query;
      $('legend-box').open = m.all.length <= 12;
    }
    const more = m.matched.length - items.length;
    $('legend-more').textContent = more > 0 ? `and ${more} more: narrow the search to see them` : '';
    $('legend-summary').textContent = `${m.shown.length} of ${m.all.length} series shown`;
  }

  function toggleSeries(key, only) {
    const hidden = new Set(state.hidden);
    if (only) {
      const drawn = weir.chart.build(last, new Set(), state.search).drawn.map((s) => s.key);
      const alone = drawn.every((k) => k === key || hidden.has(k)) && !hidden.has(key);
      hidden.clear();
      if (!alone) for (const k of drawn) if (k !== key) hidden.add(k);
    } else if (hidden.has(key)) {
      hidden.delete(key);
    } else {
      hidden.add(key);
    }
    navigate({ hidden }, false);
  }

  // ---- exemplar interaction ------------------------------------------------

  function exemplarOf(e) {
    const t = e.target;
    return t && t.classList && t.classList.contains('exemplar') ? t : null;
  }

  function showTip(c) {
    const tip = $('tooltip');
    const v = +c.dataset.value;
    const placed = c.dataset.placement === 'series' ? ` (drawn on its series at ${weir.fmtNumber(+c.dataset.y)})` : '';
    tip.replaceChildren(
      el('div', { class: 'tip-value' }, el('strong', { text: weir.fmtValue(v, 's') }), ' at ' + fmtTime(+c.dataset.timestamp, true) + placed),
      el('div', {}, 'trace ', el('code', { id: 'tooltip-trace-id', text: c.dataset.traceId })),
      el('div', { class: 'tip-series', text: c.dataset.series }),
      el('div', { class: 'tip-hint', text: 'Click or press Enter to open the trace' }));
    tip.dataset.kind = 'exemplar';
    tip.dataset.traceId = c.dataset.traceId;
    tip.hidden = false;
    weir.chart.place(tip, $('chart'), +c.getAttribute('cx'), +c.getAttribute('cy'));
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

  function openExemplar(c) {
    navigate({ trace: c.dataset.traceId, span: c.dataset.spanId, at: +c.dataset.timestamp }, true);
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

  function closeTrace() {
    navigate({ trace: '', span: '', at: 0 }, true);
    const back = document.querySelector('#chart .exemplar[tabindex="0"]');
    (back || $('chart-panel')).focus();
  }

  // ---- start ----------------------------------------------------------------

  function wire() {
    $('metric').addEventListener('change', (e) => navigate({ metric: e.target.value, filters: {}, q: '', hidden: new Set() }, true));
    $('range').addEventListener('change', (e) => {
      if (e.target.value === 'custom') return;
      navigate({ range: +e.target.value, from: 0, to: 0 }, true);
    });
    $('apply-range').addEventListener('click', () => {
      const from = Date.parse($('from').value) / 1000, to = Date.parse($('to').value) / 1000;
      if (!(from < to)) {
        setStatus('The time range needs a start before its end.', true);
        return;
      }
      navigate({ from: Math.floor(from), to: Math.ceil(to) }, true);
    });
    $('live').addEventListener('click', () => navigate({ from: 0, to: 0 }, true));
    $('filters').addEventListener('change', (e) => {
      const name = e.target.dataset.label;
      if (!name) return;
      navigate({ filters: { ...state.filters, [name]: e.target.value } }, true);
    });
    $('query-form').addEventListener('submit', (e) => {
      e.preventDefault();
      const q = $('query').value.trim();
      if (!q) return;
      const own = q !== (state.metric ? selector(state.metric, state.filters) : '');
      navigate({ q: own ? q : '', hidden: new Set() }, true);
      if (!own) refresh();
    });
    $('query-reset').addEventListener('click', () => navigate({ q: '' }, true));
    $('series-search').addEventListener('input', (e) => navigate({ search: e.target.value }, false));
    $('legend').addEventListener('click', (e) => {
      const b = e.target.closest('.legend-item');
      if (b) toggleSeries(b.dataset.series, e.ctrlKey || e.altKey || e.metaKey);
    });
    $('legend-all').addEventListener('click', () => navigate({ hidden: new Set() }, false));
    $('refresh').addEventListener('click', refresh);
    $('auto').addEventListener('change', (e) => {
      clearInterval(timer);
      timer = e.target.checked ? setInterval(refresh, 10000) : 0;
    });
    $('controls').addEventListener('submit', (e) => e.preventDefault());
    $('close-waterfall').addEventListener('click', closeTrace);
    $('waterfall').addEventListener('keydown', (e) => { if (e.key === 'Escape') closeTrace(); });
    window.addEventListener('popstate', () => {
      const before = query() + ' ' + JSON.stringify(timeKey());
      readHash();
      apply(before !== query() + ' ' + JSON.stringify(timeKey()));
    });
    let resize = 0;
    window.addEventListener('resize', () => { clearTimeout(resize); resize = setTimeout(redraw, 150); });
    wireChart();
  }

  async function init() {
    try {
      const res = await fetch('/ui/config.json');
      if (res.ok) Object.assign(state.cfg, await res.json());
    } catch {
      // No config: no Jaeger UI link, no decision wait to judge by.
    }
    readHash();
    wire();
    syncControls();
    if (state.trace) weir.trace.open(state.trace, state.span, state.at, state.cfg);
    await loadMetrics();
  }

  init();
})();
