// weir's exemplar coverage, from this process's /metrics: per output,
// quantile and source, the share of percentile points that carry an
// exemplar, and the share of exemplar traces that were exported.
'use strict';
(() => {
  const weir = window.weir;
  const { $, el } = weir;

  // parse reads the samples of the named metrics from Prometheus' text
  // format: [{name, labels, value}].
  function parse(text, names) {
    const out = [];
    const line = /^([a-zA-Z_:][a-zA-Z0-9_:]*)(\{(.*)\})?\s+(\S+)/;
    const label = /([a-zA-Z_][a-zA-Z0-9_]*)="((?:[^"\\]|\\.)*)"/g;
    for (const l of text.split('\n')) {
      const m = line.exec(l);
      if (!m || !names.has(m[1])) continue;
      const labels = {};
      for (const lm of (m[3] || '').matchAll(label)) labels[lm[1]] = JSON.parse('"' + lm[2] + '"');
      out.push({ name: m[1], labels, value: parseFloat(m[4]) });
    }
    return out;
  }

  const COVERAGE = 'weir_exemplar_coverage_points_total';
  const EMITTED = 'weir_exemplars_emitted_total';
  const EXPORTED = 'weir_exemplar_traces_exported_total';
  const UNRESOLVED = 'weir_exemplar_traces_unresolved_total';

  // rows sums the coverage counters over workers: one row per output,
  // quantile and source.
  function rows(samples) {
    const by = new Map();
    for (const s of samples) {
      if (s.name !== COVERAGE) continue;
      const { output = '', quantile = '', source = '', exemplar = '' } = s.labels;
      const k = [output, quantile, source].join('\u0000');
      if (!by.has(k)) by.set(k, { output, quantile, source, attached: 0, missing: 0, impossible: 0 });
      const r = by.get(k);
      if (exemplar in r) r[exemplar] += s.value;
    }
    return [...by.values()].filter((r) => r.attached + r.missing + r.impossible > 0)
      .sort((a, b) => a.output.localeCompare(b.output) || a.quantile.localeCompare(b.quantile) || a.source.localeCompare(b.source));
  }

  const pct = (n, d) => (d > 0 ? (100 * n / d).toFixed(1) + '%' : '–');
  const sum = (samples, name, source) => samples.filter((s) => s.name === name && (!source || s.labels.source === source)).reduce((a, s) => a + s.value, 0);

  async function refresh() {
    const box = $('coverage');
    let text;
    try {
      const res = await fetch('/metrics', { headers: { Accept: 'text/plain' } });
      if (!res.ok) throw new Error('HTTP ' + res.status);
      text = await res.text();
    } catch (e) {
      box.dataset.state = 'error';
      $('coverage-summary').textContent = 'Exemplar coverage: /metrics unavailable (' + e.message + ')';
      return;
    }
    const samples = parse(text, new Set([COVERAGE, EMITTED, EXPORTED, UNRESOLVED]));
    const rs = rows(samples);
    const body = $('coverage-rows');
    body.replaceChildren(...rs.map((r) => {
      const n = r.attached + r.missing + r.impossible;
      const cells = r.source === 'summary' || (r.impossible > 0 && r.attached + r.missing === 0)
        ? [el('td', { class: 'impossible', colspan: 2, text: 'no exemplars possible (a summary carries none)' })]
        : [el('td', { class: 'num', text: pct(r.attached, n) }), el('td', { class: 'num', text: String(r.missing) })];
      return el('tr', { 'data-output': r.output, 'data-quantile': r.quantile, 'data-source': r.source, 'data-share': n ? r.attached / n : 0 },
        el('td', {}, el('code', { text: r.output })), el('td', { text: r.quantile || (r.output.endsWith('_bucket') ? 'buckets' : '') }),
        el('td', { text: r.source.replace(/_/g, ' ') }), el('td', { class: 'num', text: String(n) }), ...cells);
    }));
    const spans = { emitted: sum(samples, EMITTED, 'spans'), exported: sum(samples, EXPORTED, 'spans') };
    const sdk = { emitted: sum(samples, EMITTED, 'sdk'), exported: sum(samples, EXPORTED, 'sdk') };
    const unresolved = sum(samples, UNRESOLVED);
    $('coverage-export').textContent = `Traces exported: ${pct(spans.exported, spans.emitted)} of ${spans.emitted} span exemplars` +
      ` (${unresolved} never found by the second pass), ${pct(sdk.exported, sdk.emitted)} of ${sdk.emitted} SDK exemplars` +
      ' (an SDK exemplar\'s trace is exported only when weir reads its spans). Counted since this process started; exports trail by the decision wait.';
    const all = rs.filter((r) => r.source !== 'summary').reduce((a, r) => [a[0] + r.attached, a[1] + r.attached + r.missing], [0, 0]);
    $('coverage-summary').textContent = `Exemplar coverage: ${pct(all[0], all[1])} of percentile points linked, ${rs.length} outputs`;
    box.dataset.state = 'ready';
    box.dataset.rows = rs.length;
  }

  weir.coverage = { refresh, parse, rows };
})();
