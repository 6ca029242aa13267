// weir's trace view: the waterfall of one trace from the Jaeger HTTP API
// (/api/traces/{id}), each span's status, attributes, events and process,
// and, when a trace cannot be shown, what happened to it.
'use strict';
(() => {
  const weir = window.weir;
  const { $, el, fmtDuration, fmtTime, PALETTE } = weir;

  // After this long past the decision wait an exemplar's trace is no longer
  // on its way: its window closed, its decision was made, the second pass
  // had its spans (windows are 10 s, polls and lateness a few more).
  const DECIDE_MARGIN = 15;

  const tagMap = (tags) => new Map((tags || []).map((t) => [t.key, t.value]));

  function isError(span) {
    return (span.tags || []).some((t) => (t.key === 'error' && (t.value === true || t.value === 'true')) ||
      (t.key === 'otel.status_code' && t.value === 'ERROR'));
  }

  // status is a span's OpenTelemetry status as Jaeger carries it in tags.
  function status(span) {
    const m = tagMap(span.tags);
    const code = m.get('otel.status_code') || (isError(span) ? 'ERROR' : 'UNSET');
    return { code, message: m.get('otel.status_description') || '' };
  }

  // notFound says why the trace of an exemplar seen at (Unix seconds) is
  // not in the store: the store's own answer when it evicted it, else by
  // the exemplar's age against the decision wait.
  function notFound(id, msg, at, cfg) {
    if (/evicted/i.test(msg)) {
      return { kind: 'evicted', text: `Trace ${id} was evicted: weir kept and exported it, but the trace store has since dropped it to make room (${msg}). Newer exemplars still link.` };
    }
    const wait = cfg.decisionWaitSeconds || 0;
    const age = at ? Date.now() / 1000 - at : Infinity;
    if (age < wait + DECIDE_MARGIN) {
      const left = Math.max(1, Math.ceil(wait + DECIDE_MARGIN - age));
      return {
        kind: 'pending', retry: Math.min(left, 5),
        text: `Trace ${id} is not decided yet: weir exports a kept trace a decision wait (${wait} s) after its spans, and this exemplar is ${Math.max(0, Math.round(age))} s old. Trying again within ${left} s…`,
      };
    }
    return {
      kind: 'not-exported',
      text: `Trace ${id} was not exported: its keep decision came after weir's second pass had passed its spans (a decision wait too short), or weir never read its spans (an SDK's exemplar of a service whose spans go elsewhere). weir_exemplar_traces_unresolved_total counts these.`,
    };
  }

  // load fetches trace id; it returns {trace} or {error: {kind, text}}.
  async function load(id, at, cfg) {
    let res;
    try {
      res = await fetch('/api/traces/' + encodeURIComponent(id), { headers: { Accept: 'application/json' } });
    } catch (e) {
      return { error: { kind: 'error', text: 'Could not reach /api/traces/: ' + e.message } };
    }
    let body = null;
    try { body = await res.json(); } catch { /* not JSON: said below */ }
    if (res.status === 404) {
      const msg = ((body && body.errors) || []).map((e) => e.msg).join('; ') || 'trace not found';
      return { error: notFound(id, msg, at, cfg) };
    }
    if (!res.ok || !body) return { error: { kind: 'error', text: `/api/traces/${id}: HTTP ${res.status}` } };
    const trace = (body.data || []).find((t) => t.traceID === id) || (body.data || [])[0];
    if (!trace || !(trace.spans || []).length) return { error: { kind: 'error', text: `trace ${id} has no spans` } };
    return { trace };
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

  const valueText = (v) => (typeof v === 'object' ? JSON.stringify(v) : String(v));

  // details is the unfolded part of a span's row: status, attributes,
  // events and the process (resource) that emitted it.
  function details(s, t0, proc, id) {
    const box = el('div', { class: 'span-details', id, hidden: '' });
    const st = status(s);
    const kv = (pairs) => {
      const dl = el('dl', { class: 'span-tags' });
      for (const [k, v] of pairs) dl.append(el('dt', { text: k }), el('dd', { text: v }));
      return dl;
    };
    box.append(el('p', { class: 'span-status status-' + st.code.toLowerCase(), 'data-status': st.code },
      'status ', el('strong', { text: st.code }), st.message ? ': ' + st.message : ''));
    const tags = (s.tags || []).filter((t) => !['otel.status_code', 'otel.status_description', 'error'].includes(t.key));
    box.append(el('h4', { text: 'Attributes' }), kv([['span ID', s.spanID], ['start', '+' + fmtDuration((s.startTime - t0) / 1e6)],
      ['duration', fmtDuration(s.duration / 1e6)], ...tags.map((t) => [t.key, valueText(t.value)])]));
    const logs = s.logs || [];
    if (logs.length) {
      const ol = el('ol', { class: 'span-events' });
      for (const l of logs) {
        const fields = l.fields || [];
        const name = (fields.find((f) => f.key === 'event') || {}).value || 'event';
        ol.append(el('li', { class: 'span-event', 'data-event': name },
          el('strong', { text: name }), ' at +' + fmtDuration((l.timestamp - t0) / 1e6),
          kv(fields.filter((f) => f.key !== 'event').map((f) => [f.key, valueText(f.value)]))));
      }
      box.append(el('h4', { text: `Events (${logs.length})` }), ol);
    }
    if (proc && (proc.tags || []).length) {
      box.append(el('h4', { text: 'Process' }), kv([['service', proc.serviceName], ...proc.tags.map((t) => [t.key, valueText(t.value)])]));
    }
    return box;
  }

  function render(trace, exemplarSpanID) {
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
      const detailsID = 'span-details-' + i;
      const events = (s.logs || []).length;
      const toggle = el('button', { type: 'button', class: 'span-toggle', 'aria-expanded': 'false', 'aria-controls': detailsID },
        chip, el('span', { class: 'svc', text: svc }), ' ', el('span', { class: 'op', text: s.operationName }),
        err ? el('span', { class: 'badge err-badge', text: 'error' }) : null,
        events ? el('span', { class: 'badge ev-badge', text: events === 1 ? '1 event' : events + ' events' }) : null,
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
      const more = details(s, t0, procs[s.processID], detailsID);
      toggle.addEventListener('click', () => {
        const open = toggle.getAttribute('aria-expanded') !== 'true';
        toggle.setAttribute('aria-expanded', String(open));
        more.hidden = !open;
      });
      return el('li', {
        class: 'span wf-grid' + (err ? ' error' : '') + (s.spanID === exemplarSpanID ? ' exemplar-span' : ''),
        'data-span-id': s.spanID, 'data-parent-span-id': parent ? parent.spanID : '', 'data-depth': depth,
        'data-service': svc, 'data-error': String(err), 'data-status': status(s).code, 'data-events': events,
        'data-start-us': s.startTime, 'data-duration-us': s.duration,
      }, name, track, dur, more);
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
    // The exemplar's own span starts unfolded: its status, attributes and
    // events are what the click was for.
    const own = document.querySelector('#spans > li.exemplar-span .span-toggle');
    if (own) own.click();
  }

  function jaegerBase(cfg) {
    const u = cfg.jaegerUIURL;
    if (!u) return '';
    try {
      const p = new URL(u);
      return p.protocol === 'http:' || p.protocol === 'https:' ? u.replace(/\/+$/, '') : '';
    } catch {
      return '';
    }
  }

  let gen = 0;
  let retry = 0;

  // open shows trace id (the exemplar's span spanID, seen at `at`, Unix
  // seconds, when known); a trace not decided yet is asked for again.
  async function open(id, spanID, at, cfg) {
    const g = ++gen;
    clearTimeout(retry);
    const wf = $('waterfall');
    const fresh = wf.dataset.traceId !== id || wf.hidden;
    wf.hidden = false;
    wf.dataset.traceId = id;
    if (fresh) {
      wf.dataset.state = 'loading';
      wf.setAttribute('aria-busy', 'true');
      delete wf.dataset.spanCount;
      delete wf.dataset.error;
      $('waterfall-title').replaceChildren('Trace ', el('code', { text: id }));
      $('trace-meta').textContent = 'Loading…';
      $('trace-error').hidden = true;
      $('spans').replaceChildren();
      $('wf-ticks').replaceChildren();
      const link = $('jaeger-link');
      const base = jaegerBase(cfg);
      link.hidden = !base;
      if (base) link.href = base + '/trace/' + encodeURIComponent(id);
      wf.scrollIntoView({ block: 'start' });
      $('waterfall-title').focus({ preventScroll: true });
    }
    const r = await load(id, at, cfg);
    if (g !== gen) return;
    if (r.trace) {
      $('trace-error').hidden = true;
      render(r.trace, spanID);
      // The second pass exports a trace's records as each one's decision
      // wait passes: a young trace may still miss the exemplar's own span.
      const age = at ? Date.now() / 1000 - at : Infinity;
      const wait = (cfg.decisionWaitSeconds || 0) + DECIDE_MARGIN;
      if (spanID && age < wait && !(r.trace.spans || []).some((s) => s.spanID === spanID)) {
        wf.dataset.state = 'partial';
        $('trace-error').textContent = `The exemplar's span ${spanID} is not in the trace yet: weir exports each of a trace's records a decision wait after it was written. Trying again…`;
        $('trace-error').hidden = false;
        retry = setTimeout(() => { if (g === gen) open(id, spanID, at, cfg); }, 2000);
      }
      return;
    }
    wf.dataset.state = 'error';
    wf.dataset.error = r.error.kind;
    wf.removeAttribute('aria-busy');
    $('trace-meta').textContent = '';
    $('trace-error').textContent = r.error.text;
    $('trace-error').hidden = false;
    if (r.error.retry) retry = setTimeout(() => { if (g === gen) open(id, spanID, at, cfg); }, r.error.retry * 1000);
  }

  function close() {
    gen++;
    clearTimeout(retry);
    const wf = $('waterfall');
    wf.hidden = true;
    wf.dataset.state = 'closed';
    delete wf.dataset.traceId;
  }

  weir.trace = { open, close, notFound, order, status };
})();
