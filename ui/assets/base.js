// weir's page, shared helpers. Plain JavaScript, no build step, no
// dependencies; each script of the page adds its part to window.weir.
//
// Text from the APIs is only ever set as textContent or attribute values,
// never parsed as HTML.
'use strict';
(() => {
  const weir = (window.weir = window.weir || {});
  const $ = (id) => document.getElementById(id);
  const SVGNS = 'http://www.w3.org/2000/svg';

  // Series and service colours: each has a contrast of at least 3:1 against
  // the white background (checked by ui_test.go).
  const PALETTE = ['#1d4ed8', '#c2410c', '#15803d', '#7e22ce', '#0e7490',
    '#a16207', '#be185d', '#4d7c0f', '#3730a3', '#475569'];

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

  // unitOf tells a series' unit from its name, the Prometheus way: 's' for
  // seconds (percentiles and the other aggregations of a *_seconds output),
  // '' for counts (_count, _bucket, rates) and everything else.
  function unitOf(name) {
    return /_seconds(_(sum|min|max|mean|last))?$/.test(name || '') ? 's' : '';
  }

  function fmtValue(v, unit) { return unit === 's' ? fmtDuration(v) : fmtNumber(v); }

  const pad = (n) => String(n).padStart(2, '0');
  function fmtTime(sec, withSeconds) {
    const d = new Date(sec * 1000);
    const hm = pad(d.getHours()) + ':' + pad(d.getMinutes());
    return withSeconds ? hm + ':' + pad(d.getSeconds()) : hm;
  }
  function fmtDate(sec) {
    const d = new Date(sec * 1000);
    return d.getFullYear() + '-' + pad(d.getMonth() + 1) + '-' + pad(d.getDate());
  }
  // fmtLocal is the value of a datetime-local input for sec.
  function fmtLocal(sec) { return fmtDate(sec) + 'T' + fmtTime(sec, true); }

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

  function labelKey(labels, without) {
    return Object.keys(labels).filter((k) => k !== without).sort().map((k) => k + '=' + labels[k]).join('\u0000');
  }

  function labelText(labels, only) {
    const keys = Object.keys(labels).filter((k) => k !== '__name__' && (!only || only.has(k))).sort();
    const name = !only && labels.__name__ ? labels.__name__ : '';
    return name + '{' + keys.map((k) => k + '=' + promString(labels[k])).join(', ') + '}';
  }

  // api reads a Prometheus HTTP API answer; it throws an Error saying what
  // the server said.
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

  Object.assign(weir, {
    $, el, svg, setStatus, fmtDuration, fmtNumber, unitOf, fmtValue, fmtTime, fmtDate, fmtLocal,
    promString, selector, labelKey, labelText, api, PALETTE, OTHER: '#475569',
  });
})();
