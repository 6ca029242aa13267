// weir's chart: series as SVG lines on a time axis, their exemplars as
// points, one y axis per unit (seconds on the left, counts on the right when
// both are shown). Drag across the plot to zoom into a time range,
// double-click to zoom out; hovering the plot shows every shown series'
// value at that time, hovering an exemplar its value and trace.
'use strict';
(() => {
  const weir = window.weir;
  const { svg, labelKey, labelText, fmtValue, fmtTime, unitOf, PALETTE, OTHER } = weir;

  const MAX_DRAWN = 500; // series drawn at once; the search narrows the rest
  const MAX_EXEMPLARS = 3000; // the newest are kept
  const HEIGHT = 340;
  const MARGIN = { top: 12, right: 16, bottom: 30, left: 72 };
  const RIGHT_AXIS = 64;
  // dragging is set while a drag to zoom is under way: a redraw then would
  // replace the plot under the pointer and lose the drag.
  let dragging = false;

  // seriesUnit is the unit of a result series: by its name, or for an
  // expression's result without one, by the query (a histogram_quantile of
  // *_seconds_bucket is in seconds).
  function seriesUnit(labels, query) {
    if (labels.__name__) return unitOf(labels.__name__);
    if (/histogram_quantile\s*\(/.test(query) && /_seconds_bucket\b/.test(query)) return 's';
    const m = /^\s*([a-zA-Z_:][a-zA-Z0-9_:]*)\s*(\{[^}]*\})?\s*$/.exec(query);
    return m ? unitOf(m[1]) : '';
  }

  function matcher(search) {
    const s = (search || '').trim();
    if (!s) return () => true;
    const re = /^\/(.+)\/$/.exec(s);
    if (re) {
      try {
        const r = new RegExp(re[1], 'i');
        return (text) => r.test(text);
      } catch {
        // Not a regular expression after all: match it as text.
      }
    }
    const low = s.toLowerCase();
    return (text) => text.toLowerCase().includes(low);
  }

  // build turns query results into what draw shows: the series that match
  // the search (at most MAX_DRAWN), which of them are hidden, and the
  // newest MAX_EXEMPLARS exemplars of the shown ones, each placed by its
  // own value where its series is in its unit, else on its series' line at
  // its window (a _bucket series counts; its exemplar's value is seconds).
  function build(d, hidden, search) {
    const all = d.series.map((s, i) => ({
      labels: s.metric,
      key: labelText(s.metric),
      unit: seriesUnit(s.metric, d.query),
      color: PALETTE[i % PALETTE.length],
      points: (s.values || []).map(([t, v]) => [t, parseFloat(v)]).filter(([, v]) => Number.isFinite(v)),
    }));
    // Labels that tell the series apart name them in the legend.
    const varying = new Set();
    for (const s of all) {
      for (const [k, v] of Object.entries(s.labels)) if (!varying.has(k) && all.some((o) => o.labels[k] !== v)) varying.add(k);
    }
    for (const s of all) {
      s.name = (varying.has('__name__') ? s.labels.__name__ || '' : '') + (varying.size ? labelText(s.labels, varying) : s.key);
    }
    const match = matcher(search);
    const matched = all.filter((s) => match(s.key));
    const drawn = matched.slice(0, MAX_DRAWN);
    const shown = drawn.filter((s) => !hidden.has(s.key));
    const byKey = new Map();
    const byKeyNoName = new Map();
    for (const s of shown) {
      byKey.set(labelKey(s.labels), s);
      byKeyNoName.set(labelKey(s.labels, '__name__'), s);
    }
    let points = [];
    let capped = 0;
    for (const es of d.exemplars) {
      const ls = es.seriesLabels || {};
      const s = byKey.get(labelKey(ls)) || byKeyNoName.get(labelKey(ls, '__name__'));
      if (!s) continue;
      for (const ex of es.exemplars || []) {
        const v = parseFloat(ex.value);
        const t = ex.timestamp;
        const l = ex.labels || {};
        const traceID = l.trace_id || l.traceID || '';
        if (!Number.isFinite(v) || t < d.start || t > d.end || !traceID) continue;
        points.push({ t, v, traceID, spanID: l.span_id || l.spanID || '', series: s });
      }
    }
    // The newest first when there are too many: those are the ones an SRE
    // looks at, and whose traces the store still holds.
    points.sort((a, b) => b.t - a.t || b.v - a.v);
    if (points.length > MAX_EXEMPLARS) {
      capped = points.length;
      points = points.slice(0, MAX_EXEMPLARS);
    }
    for (const p of points) {
      if (p.series.unit === 's') {
        p.y = p.v;
        p.placement = 'value';
      } else {
        p.y = valueAtWindow(p.series.points, p.t, d.step);
        p.placement = 'series';
      }
    }
    points = points.filter((p) => Number.isFinite(p.y));
    points.reverse(); // drawn and walked by the keyboard oldest first: the newest on top
    return { d, all, matched, drawn, shown, points, capped, hidden };
  }

  // valueAtWindow returns the series' sample of the window that holds t:
  // the first sample after t (a sample stands for the window ending at its
  // time), within two steps.
  function valueAtWindow(pts, t, step) {
    let lo = 0, hi = pts.length;
    while (lo < hi) {
      const m = (lo + hi) >> 1;
      if (pts[m][0] <= t) lo = m + 1; else hi = m;
    }
    return lo < pts.length && pts[lo][0] - t <= 2 * step ? pts[lo][1] : NaN;
  }

  // nearestSample returns the sample of pts closest to t, within half a step.
  function nearestSample(pts, t, step) {
    let lo = 0, hi = pts.length;
    while (lo < hi) {
      const m = (lo + hi) >> 1;
      if (pts[m][0] < t) lo = m + 1; else hi = m;
    }
    let best = null;
    for (const i of [lo - 1, lo]) {
      if (i >= 0 && i < pts.length && Math.abs(pts[i][0] - t) <= step / 2 && (!best || Math.abs(pts[i][0] - t) < Math.abs(best[0] - t))) best = pts[i];
    }
    return best;
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
    for (const s of [10, 15, 30, 60, 120, 300, 600, 900, 1800, 3600, 7200, 10800, 21600, 43200, 86400, 172800, 604800]) {
      if (span / s <= 8) return s;
    }
    return 2592000;
  }

  function fmtTick(t, step) {
    if (step >= 86400) return weir.fmtDate(t);
    return fmtTime(t, step < 60);
  }

  // axes returns one scale per unit shown: the left one for seconds when
  // any series or exemplar is in seconds, counts on the right beside it.
  function axes(m, ih) {
    const units = [...new Set(m.shown.map((s) => s.unit))].sort().reverse(); // 's' before ''
    if (!units.length) units.push('');
    return units.map((unit, i) => {
      let lo = Infinity, hi = -Infinity;
      for (const s of m.shown) if (s.unit === unit) for (const [, v] of s.points) { lo = Math.min(lo, v); hi = Math.max(hi, v); }
      for (const p of m.points) if ((p.series.unit === unit)) { lo = Math.min(lo, p.y); hi = Math.max(hi, p.y); }
      if (!Number.isFinite(lo)) { lo = 0; hi = 1; }
      const sc = niceScale(Math.min(0, lo), hi > lo ? hi : lo + 1, 5);
      const Y = (v) => MARGIN.top + ih - ((v - sc.lo) / (sc.hi - sc.lo)) * ih;
      return { unit, side: i === 0 ? 'left' : 'right', ...sc, Y };
    });
  }

  // draw renders m into the chart element; h holds the callbacks of the
  // chart's interactions (zoom, zoomOut).
  function draw(chart, m, h) {
    const d = m.d;
    const W = Math.max(360, chart.clientWidth || 800);
    const iw = W - MARGIN.left - MARGIN.right - (new Set(m.shown.map((s) => s.unit)).size > 1 ? RIGHT_AXIS : 0);
    const ih = HEIGHT - MARGIN.top - MARGIN.bottom;
    const ax = axes(m, ih);
    const axisOf = new Map(ax.map((a) => [a.unit, a]));
    const X = (t) => MARGIN.left + ((t - d.start) / (d.end - d.start)) * iw;
    const T = (x) => d.start + ((x - MARGIN.left) / iw) * (d.end - d.start);
    const x1 = MARGIN.left + iw;

    const root = svg('svg', {
      width: W, height: HEIGHT, viewBox: `0 0 ${W} ${HEIGHT}`, role: 'group', id: 'chart-svg',
      'aria-label': `${d.query}: ${m.shown.length} series, ${m.points.length} exemplars`,
      'data-plot-top': MARGIN.top, 'data-plot-bottom': MARGIN.top + ih, 'data-plot-left': MARGIN.left, 'data-plot-right': x1,
    });
    const grid = svg('g', { class: 'grid', 'aria-hidden': 'true' });
    for (const a of ax) {
      root.setAttribute(`data-${a.side}-unit`, a.unit || 'count');
      root.setAttribute(`data-${a.side}-lo`, a.lo);
      root.setAttribute(`data-${a.side}-hi`, a.hi);
      for (const v of a.ticks) {
        if (a.side === 'left') grid.append(svg('line', { x1: MARGIN.left, x2: x1, y1: a.Y(v), y2: a.Y(v) }));
        const tx = svg('text', {
          x: a.side === 'left' ? MARGIN.left - 6 : x1 + 6, y: a.Y(v) + 4,
          'text-anchor': a.side === 'left' ? 'end' : 'start', class: 'tick y-tick ' + a.side,
        });
        tx.textContent = fmtValue(v, a.unit);
        grid.append(tx);
      }
    }
    const tstep = timeStep(d.end - d.start);
    for (let t = Math.ceil(d.start / tstep) * tstep; t <= d.end; t += tstep) {
      grid.append(svg('line', { x1: X(t), x2: X(t), y1: MARGIN.top, y2: MARGIN.top + ih, class: 'vgrid' }));
      const tx = svg('text', { x: X(t), y: HEIGHT - 8, 'text-anchor': 'middle', class: 'tick' });
      tx.textContent = fmtTick(t, tstep);
      grid.append(tx);
    }
    root.append(grid);

    const lines = svg('g', { class: 'lines', 'aria-hidden': 'true' });
    for (const s of m.shown) {
      const Y = axisOf.get(s.unit).Y;
      let path = '';
      let prev = -Infinity;
      for (const [t, v] of s.points) {
        // A gap longer than two steps breaks the line: no sample there.
        path += (t - prev > 2 * d.step ? 'M' : 'L') + X(t).toFixed(1) + ',' + Y(v).toFixed(1);
        prev = t;
      }
      if (path) lines.append(svg('path', { d: path, class: 'series-line', stroke: s.color, 'data-series': s.key, 'data-unit': s.unit || 'count' }));
    }
    root.append(lines);

    const cross = svg('g', { class: 'crosshair', 'aria-hidden': 'true', visibility: 'hidden' });
    const vline = svg('line', { y1: MARGIN.top, y2: MARGIN.top + ih });
    cross.append(vline);
    root.append(cross);
    const sel = svg('rect', { class: 'zoom-select', y: MARGIN.top, height: ih, width: 0, visibility: 'hidden' });
    root.append(sel);
    const overlay = svg('rect', { class: 'overlay', x: MARGIN.left, y: MARGIN.top, width: iw, height: ih, fill: 'transparent' });
    root.append(overlay);

    const exg = svg('g', { class: 'exemplars', role: 'group', 'aria-label': 'Exemplars' });
    m.points.forEach((p, i) => {
      const a = axisOf.get(p.series.unit);
      const c = svg('circle', {
        class: 'exemplar', cx: X(p.t).toFixed(1), cy: a.Y(p.y).toFixed(1), r: 5, fill: p.series.color,
        tabindex: i === 0 ? 0 : -1, role: 'button',
        'data-trace-id': p.traceID, 'data-span-id': p.spanID, 'data-value': p.v, 'data-timestamp': p.t,
        'data-y': p.y, 'data-placement': p.placement, 'data-series': p.series.key, 'data-index': i,
        'aria-label': `Exemplar ${fmtValue(p.v, 's')} at ${fmtTime(p.t, true)}, trace ${p.traceID}, series ${p.series.key}. Press Enter to open the trace.`,
      });
      if (p.series.labels.quantile) c.setAttribute('data-quantile', p.series.labels.quantile);
      if (p.series.labels.le) c.setAttribute('data-le', p.series.labels.le);
      if (p.traceID === h.selected) c.classList.add('selected');
      exg.append(c);
    });
    root.append(exg);
    chart.replaceChildren(root);

    // ---- hover values on the lines ----
    const tip = weir.$('tooltip');
    const showValues = (ev) => {
      const r = root.getBoundingClientRect();
      const x = ev.clientX - r.left, y = ev.clientY - r.top;
      const t = T(x);
      const rows = [];
      for (const s of m.shown) {
        const smp = nearestSample(s.points, t, d.step);
        if (smp) rows.push({ s, t: smp[0], v: smp[1], dy: Math.abs(axisOf.get(s.unit).Y(smp[1]) - y) });
      }
      if (!rows.length) { hideValues(); return; }
      const at = rows.reduce((a, b) => (Math.abs(b.t - t) < Math.abs(a.t - t) ? b : a)).t;
      const near = rows.reduce((a, b) => (b.dy < a.dy ? b : a));
      vline.setAttribute('x1', X(at));
      vline.setAttribute('x2', X(at));
      cross.setAttribute('visibility', 'visible');
      rows.sort((a, b) => b.v - a.v);
      const list = rows.slice(0, 10);
      if (!list.includes(near)) list[list.length - 1] = near;
      tip.replaceChildren(weir.el('div', { class: 'tip-value', text: fmtTime(at, true) + (rows.length > list.length ? ` · ${list.length} of ${rows.length} series` : '') }),
        ...list.map((row) => {
          const sw = weir.el('span', { class: 'swatch', 'aria-hidden': 'true' });
          sw.style.background = row.s.color;
          return weir.el('div', { class: 'tip-row' + (row === near ? ' near' : ''), 'data-series': row.s.key, 'data-value': row.v },
            sw, weir.el('strong', { text: fmtValue(row.v, row.s.unit) }), ' ' + row.s.key);
        }));
      tip.dataset.kind = 'values';
      tip.dataset.time = at;
      tip.dataset.near = near.s.key;
      delete tip.dataset.traceId;
      tip.hidden = false;
      place(tip, chart, X(at), y);
    };
    const hideValues = () => {
      cross.setAttribute('visibility', 'hidden');
      if (tip.dataset.kind === 'values') tip.hidden = true;
    };

    // ---- zoom by drag ----
    let drag = null;
    overlay.addEventListener('pointerdown', (ev) => {
      if (ev.button !== 0) return;
      const r = root.getBoundingClientRect();
      drag = { x0: Math.min(Math.max(ev.clientX - r.left, MARGIN.left), x1) };
      dragging = true;
      overlay.setPointerCapture(ev.pointerId);
      ev.preventDefault();
    });
    overlay.addEventListener('pointermove', (ev) => {
      if (!drag) { showValues(ev); return; }
      const r = root.getBoundingClientRect();
      drag.x1 = Math.min(Math.max(ev.clientX - r.left, MARGIN.left), x1);
      sel.setAttribute('x', Math.min(drag.x0, drag.x1));
      sel.setAttribute('width', Math.abs(drag.x1 - drag.x0));
      sel.setAttribute('visibility', 'visible');
    });
    overlay.addEventListener('pointercancel', () => { drag = null; dragging = false; sel.setAttribute('visibility', 'hidden'); });
    overlay.addEventListener('pointerup', () => {
      const g = drag;
      drag = null;
      dragging = false;
      sel.setAttribute('visibility', 'hidden');
      if (g && g.x1 !== undefined && Math.abs(g.x1 - g.x0) >= 6) {
        const a = T(Math.min(g.x0, g.x1)), b = T(Math.max(g.x0, g.x1));
        h.zoom(Math.floor(a), Math.ceil(b));
      }
    });
    overlay.addEventListener('pointerleave', () => { if (!drag) hideValues(); });
    overlay.addEventListener('dblclick', () => h.zoomOut());
  }

  // place puts the tooltip beside point (x, y) of the chart, inside it.
  function place(tip, chart, x, y) {
    const cx = x + chart.offsetLeft, cy = y + chart.offsetTop;
    const w = tip.offsetWidth;
    tip.style.left = (cx + 14 + w > chart.offsetLeft + chart.clientWidth ? cx - 14 - w : cx + 14) + 'px';
    tip.style.top = Math.max(0, cy - tip.offsetHeight - 8) + 'px';
  }

  weir.chart = { build, draw, place, dragging: () => dragging, seriesUnit, valueAtWindow, niceScale, matcher, MAX_DRAWN, MAX_EXEMPLARS };
})();
