package ui_test

import (
	"context"
	"encoding/json"
	"fmt"
	"net/http"
	"net/http/httptest"
	"net/http/httputil"
	"net/url"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/chromedp/cdproto/cdp"
	cdplog "github.com/chromedp/cdproto/log"
	"github.com/chromedp/cdproto/runtime"
	"github.com/chromedp/chromedp"
	"github.com/chromedp/chromedp/kb"

	"github.com/weirdev/weir/internal/demo"
	"github.com/weirdev/weir/internal/server"
	"github.com/weirdev/weir/internal/testenv"
	"github.com/weirdev/weir/ui"
)

// p99 is what the test charts: the demo's span p99s, one series per operation.
const (
	p99Metric   = "span_duration_seconds"
	p99Selector = `span_duration_seconds{quantile="0.99"}`
)

var hex32 = regexp.MustCompile(`^[0-9a-f]{32}$`)

// TestBrowserExemplarToWaterfall is what a person does with `weir demo` in
// real Chromium: pick the p99 of span durations, see the chart with its
// exemplar points, hover one (its value and trace ID show), click it, and get
// the waterfall of that very trace with every span the trace store holds.
// The screenshot goes to docs/ui-waterfall.png and test/artifacts/.
func TestBrowserExemplarToWaterfall(t *testing.T) {
	chromium := testenv.Chromium(t) // fails, never skips, pointing at test/chromium/install.sh
	root := testenv.Root(t)

	ctx, cancel := context.WithCancel(context.Background())
	d, err := demo.Start(ctx, demo.Config{Listen: "127.0.0.1:0", Seed: 7})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		cancel()
		if err := d.Wait(); err != nil {
			t.Errorf("demo shutdown: %v", err)
		}
	})
	base := "http://" + d.Addr()
	waitForKeptExemplar(t, base, 90*time.Second)

	b := newBrowser(t, chromium)
	b.do(chromedp.EmulateViewport(1280, 900))
	b.do(chromedp.Navigate(base + "/"))

	// Pick the metric, then quantile 0.99, as a person does with the two selects.
	b.poll(fmt.Sprintf(`(() => { const s = document.getElementById('metric');
		return !s.disabled && [...s.options].some(o => o.value === %q); })()`, p99Metric))
	b.choose("metric", p99Metric)
	b.poll(`(() => { const s = document.getElementById('filter-quantile');
		return !!s && [...s.options].some(o => o.value === '0.99'); })()`)
	b.choose("filter-quantile", "0.99")
	b.choose("range", "5")
	b.poll(fmt.Sprintf(`(() => { const c = document.getElementById('chart');
		return c.dataset.state === 'ready' && c.dataset.query === %q && c.dataset.range === '5' && +c.dataset.exemplarCount > 0; })()`, p99Selector))

	type chartInfo struct {
		Lines, Exemplars, Declared int
		Quantiles, TraceIDs        []string
		Focusable                  int
	}
	ci := evalJS[chartInfo](b, `(() => {
		const ex = [...document.querySelectorAll('#chart svg .exemplar')];
		return {
			Lines: document.querySelectorAll('#chart svg path.series-line').length,
			Exemplars: ex.length,
			Declared: +document.getElementById('chart').dataset.exemplarCount,
			Quantiles: [...new Set(ex.map(e => e.dataset.quantile || ''))],
			TraceIDs: ex.map(e => e.dataset.traceId),
			Focusable: ex.filter(e => e.getAttribute('tabindex') !== null && e.getAttribute('role') === 'button' && e.getAttribute('aria-label')).length,
		};
	})()`)
	if ci.Lines == 0 || ci.Exemplars == 0 || ci.Exemplars != ci.Declared {
		t.Fatalf("chart: %d lines, %d exemplar points (declared %d); want lines and exemplar points", ci.Lines, ci.Exemplars, ci.Declared)
	}
	if len(ci.Quantiles) != 1 || ci.Quantiles[0] != "0.99" {
		t.Fatalf("exemplar points of quantiles %q, want only 0.99", ci.Quantiles)
	}
	for _, id := range ci.TraceIDs {
		if !hex32.MatchString(id) {
			t.Fatalf("exemplar point with data-trace-id %q, want 32 lowercase hex digits", id)
		}
	}
	if ci.Focusable != ci.Exemplars {
		t.Errorf("%d of %d exemplar points are keyboard-reachable buttons with a label", ci.Focusable, ci.Exemplars)
	}
	t.Logf("chart: %d series lines, %d p99 exemplar points", ci.Lines, ci.Exemplars)

	checkKeyboard(t, b)

	// The exemplar to click: one drawn on top at its centre (so that the click
	// lands on it, not on a neighbour) whose trace the store already holds.
	type point struct {
		TraceID, SpanID, Value string
		X, Y                   float64
	}
	cands := evalJS[[]point](b, `(() => {
		document.getElementById('chart').scrollIntoView({block: 'center'});
		const out = [];
		for (const e of document.querySelectorAll('#chart svg .exemplar')) {
			const r = e.getBoundingClientRect();
			const x = r.left + r.width / 2, y = r.top + r.height / 2;
			if (document.elementFromPoint(x, y) === e) out.push({TraceID: e.dataset.traceId, SpanID: e.dataset.spanId, Value: e.dataset.value, X: x, Y: y});
		}
		return out.reverse(); // newest first: its trace is the likeliest to be kept already
	})()`)
	var pick point
	var want jaegerTrace
	for _, c := range cands {
		if tr, ok := storeTrace(t, base, c.TraceID); ok {
			pick, want = c, tr
			break
		}
	}
	if pick.TraceID == "" {
		t.Fatalf("none of the %d clickable exemplar points has its trace in the trace store", len(cands))
	}

	b.do(chromedp.MouseEvent(chromedp.MouseMoved, pick.X, pick.Y))
	b.poll(fmt.Sprintf(`(() => { const t = document.getElementById('tooltip');
		return t.checkVisibility() && t.dataset.traceId === %q; })()`, pick.TraceID))
	tip := evalJS[string](b, `document.getElementById('tooltip').textContent`)
	if !strings.Contains(tip, pick.TraceID) {
		t.Errorf("hover tooltip %q does not show trace ID %s", tip, pick.TraceID)
	}

	b.do(chromedp.MouseClickXY(pick.X, pick.Y))
	b.poll(fmt.Sprintf(`(() => { const w = document.getElementById('waterfall');
		return w.checkVisibility() && w.dataset.traceId === %q && w.dataset.state !== 'loading'; })()`, pick.TraceID))
	checkWaterfall(t, b, pick.TraceID, pick.SpanID, want)

	// The page's JavaScript must not have failed anywhere on the way.
	b.checkErrors()

	png := b.run(chromedp.FullScreenshot(100))
	for _, p := range []string{filepath.Join(root, "docs", "ui-waterfall.png"), filepath.Join(root, "test", "artifacts", "ui-waterfall.png")} {
		if err := os.MkdirAll(filepath.Dir(p), 0o755); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(p, png, 0o644); err != nil {
			t.Fatal(err)
		}
		t.Logf("screenshot: %s (%d bytes)", p, len(png))
	}

	checkZoomAndBack(t, b, base)
	checkHoverLegendSearch(t, b)
	checkBuckets(t, b, base)
	checkJaegerLink(t, b, base, pick.TraceID, len(want.Spans))
}

// checkKeyboard reaches an exemplar point with the keyboard, moves to the
// next with an arrow key and opens it with Enter.
func checkKeyboard(t *testing.T, b *browser) {
	b.do(chromedp.Focus(chromedp.CSS(`#chart svg .exemplar[tabindex="0"]`)))
	first := evalJS[string](b, `document.activeElement.dataset.index || ''`)
	b.do(chromedp.KeyEvent(kb.ArrowRight))
	type active struct{ Index, TraceID, Tip string }
	a := evalJS[active](b, `({Index: document.activeElement.dataset.index || '', TraceID: document.activeElement.dataset.traceId || '',
		Tip: document.getElementById('tooltip').checkVisibility() ? document.getElementById('tooltip').dataset.traceId : ''})`)
	if first == "" || a.Index == "" || a.Index == first {
		t.Fatalf("ArrowRight on exemplar %q focused %q: want the next exemplar point", first, a.Index)
	}
	if a.Tip != a.TraceID {
		t.Errorf("focused exemplar of trace %s shows a tooltip for %q", a.TraceID, a.Tip)
	}
	b.do(chromedp.KeyEvent(kb.Enter))
	b.poll(fmt.Sprintf(`(() => { const w = document.getElementById('waterfall');
		return w.checkVisibility() && w.dataset.traceId === %q && w.dataset.state !== 'loading'; })()`, a.TraceID))
	b.do(chromedp.Click(chromedp.ID("close-waterfall")))
	if evalJS[bool](b, `document.getElementById('waterfall').checkVisibility()`) {
		t.Errorf("Close did not close the waterfall")
	}
}

type spanRow struct {
	SpanID, ParentSpanID, Service, Error, Depth string
	Exemplar                                    bool
}

// checkWaterfall compares the open waterfall with the trace store's trace:
// same trace ID, one row per span, services, error marks, nesting by parent.
func checkWaterfall(t *testing.T, b *browser, traceID, exemplarSpanID string, want jaegerTrace) {
	t.Helper()
	type wf struct {
		State, TraceID, SpanCount, Error, Title string
		Rows                                    []spanRow
		JaegerLinkShown                         bool
	}
	got := evalJS[wf](b, `(() => {
		const w = document.getElementById('waterfall');
		return {
			State: w.dataset.state, TraceID: w.dataset.traceId, SpanCount: w.dataset.spanCount || '',
			Error: document.getElementById('trace-error').textContent, Title: document.getElementById('waterfall-title').textContent,
			Rows: [...w.querySelectorAll('#spans > li.span')].map(li => ({SpanID: li.dataset.spanId, ParentSpanID: li.dataset.parentSpanId,
				Service: li.dataset.service, Error: li.dataset.error, Depth: li.dataset.depth, Exemplar: li.classList.contains('exemplar-span')})),
			JaegerLinkShown: document.getElementById('jaeger-link').checkVisibility(),
		};
	})()`)
	if got.State != "ready" {
		t.Fatalf("waterfall of %s: state %q, error %q", traceID, got.State, got.Error)
	}
	if got.TraceID != traceID || !strings.Contains(got.Title, traceID) {
		t.Fatalf("clicked the exemplar of trace %s, the waterfall shows %q (title %q)", traceID, got.TraceID, got.Title)
	}
	if len(got.Rows) != len(want.Spans) || got.SpanCount != fmt.Sprint(len(want.Spans)) {
		t.Fatalf("waterfall of %s: %d span rows (data-span-count %q), the trace store has %d spans", traceID, len(got.Rows), got.SpanCount, len(want.Spans))
	}
	if got.JaegerLinkShown {
		t.Errorf("Jaeger UI link shown although no Jaeger UI address is configured")
	}

	type wantSpan struct {
		parent, service string
		err             bool
	}
	spans := map[string]wantSpan{}
	for _, s := range want.Spans {
		ws := wantSpan{service: want.Processes[s.ProcessID].ServiceName}
		if len(s.References) > 0 {
			ws.parent = s.References[0].SpanID
		}
		for _, tag := range s.Tags {
			if tag.Key == "error" && tag.Value == true {
				ws.err = true
			}
		}
		spans[s.SpanID] = ws
	}
	depth := map[string]string{}
	errors, exemplarRows := 0, 0
	for i, r := range got.Rows {
		w, ok := spans[r.SpanID]
		if !ok {
			t.Errorf("row %d: span %s is not in trace %s", i, r.SpanID, traceID)
			continue
		}
		delete(spans, r.SpanID)
		if r.Service != w.service {
			t.Errorf("span %s: service %q, the store says %q", r.SpanID, r.Service, w.service)
		}
		if r.Error != fmt.Sprint(w.err) {
			t.Errorf("span %s: marked error=%s, the store says %v", r.SpanID, r.Error, w.err)
		}
		if w.err {
			errors++
		}
		if r.Exemplar {
			exemplarRows++
			if r.SpanID != exemplarSpanID {
				t.Errorf("span %s marked as the exemplar's span, the exemplar names %s", r.SpanID, exemplarSpanID)
			}
		}
		// A span is nested under its parent when the parent is in the trace.
		if pd, ok := depth[w.parent]; ok {
			if r.ParentSpanID != w.parent || r.Depth != fmt.Sprint(atoi(pd)+1) {
				t.Errorf("span %s: parent %q depth %s, want parent %s depth %d", r.SpanID, r.ParentSpanID, r.Depth, w.parent, atoi(pd)+1)
			}
		} else if _, inTrace := spans[w.parent]; inTrace {
			t.Errorf("span %s is drawn before its parent %s", r.SpanID, w.parent)
		}
		depth[r.SpanID] = r.Depth
	}
	if len(spans) > 0 {
		t.Errorf("%d spans of the trace store have no row in the waterfall", len(spans))
	}
	if exemplarRows != 1 {
		t.Errorf("%d rows marked as the exemplar's span %s, want 1", exemplarRows, exemplarSpanID)
	}
	t.Logf("waterfall of %s: %d spans (%d errors), as in the trace store", traceID, len(got.Rows), errors)
}

// checkJaegerLink serves the same page with a Jaeger UI address configured,
// the APIs proxied to the demo, and opens a trace from the address alone.
func checkJaegerLink(t *testing.T, b *browser, demoBase, traceID string, spans int) {
	const jaegerUI = "http://127.0.0.1:16686/jaeger/"
	prom, err := server.PrometheusProxy(demoBase)
	if err != nil {
		t.Fatal(err)
	}
	jaeger, err := server.JaegerProxy(demoBase)
	if err != nil {
		t.Fatal(err)
	}
	demoURL, err := url.Parse(demoBase)
	if err != nil {
		t.Fatal(err)
	}
	// The read-only proxies of weir run: the UI needs nothing else (and
	// weir's own /metrics).
	mux := http.NewServeMux()
	mux.Handle("/api/v1/", prom)
	mux.Handle("/api/", jaeger)
	mux.Handle("/metrics", httputil.NewSingleHostReverseProxy(demoURL))
	mux.Handle("/", ui.Handler(ui.Config{JaegerUIURL: jaegerUI}))
	srv := httptest.NewServer(mux)
	defer srv.Close()

	b.do(chromedp.Navigate(srv.URL + "/#" + url.Values{"metric": {p99Metric}, "l.quantile": {"0.99"}, "trace": {traceID}}.Encode()))
	b.poll(fmt.Sprintf(`(() => { const w = document.getElementById('waterfall');
		return w.dataset.traceId === %q && w.dataset.state === 'ready'; })()`, traceID))
	type link struct {
		Href   string
		Hidden bool
		Spans  int
		Filter string
	}
	l := evalJS[link](b, `({Href: document.getElementById('jaeger-link').href, Hidden: !document.getElementById('jaeger-link').checkVisibility(),
		Spans: document.querySelectorAll('#spans > li.span').length,
		Filter: (document.getElementById('filter-quantile') || {}).value || ''})`)
	if want := "http://127.0.0.1:16686/jaeger/trace/" + traceID; l.Hidden || l.Href != want {
		t.Errorf("Jaeger UI link %q (hidden %v), want %q", l.Href, l.Hidden, want)
	}
	if l.Spans != spans {
		t.Errorf("waterfall opened from the address has %d spans, want %d", l.Spans, spans)
	}
	b.poll(`document.getElementById('chart').dataset.state === 'ready'`)
	if l := evalJS[string](b, `(document.getElementById('filter-quantile') || {}).value || ''`); l != "0.99" {
		t.Errorf("quantile filter from the address: %q, want 0.99", l)
	}
	b.checkErrors()
}

// ---- the demo's APIs ----------------------------------------------------

type jaegerTrace struct {
	TraceID string `json:"traceID"`
	Spans   []struct {
		SpanID     string `json:"spanID"`
		ProcessID  string `json:"processID"`
		References []struct {
			SpanID string `json:"spanID"`
		} `json:"references"`
		Tags []struct {
			Key   string `json:"key"`
			Value any    `json:"value"`
		} `json:"tags"`
	} `json:"spans"`
	Processes map[string]struct {
		ServiceName string `json:"serviceName"`
	} `json:"processes"`
}

// storeTrace reads a trace from the trace store; ok is false when the store
// does not have it (yet).
func storeTrace(t *testing.T, base, traceID string) (jaegerTrace, bool) {
	t.Helper()
	resp, err := http.Get(base + "/api/traces/" + traceID)
	if err != nil {
		t.Fatalf("GET /api/traces/%s: %v", traceID, err)
	}
	defer resp.Body.Close()
	if resp.StatusCode == http.StatusNotFound {
		return jaegerTrace{}, false
	}
	var body struct{ Data []jaegerTrace }
	if resp.StatusCode != http.StatusOK {
		t.Fatalf("GET /api/traces/%s: HTTP %d", traceID, resp.StatusCode)
	}
	if err := json.NewDecoder(resp.Body).Decode(&body); err != nil {
		t.Fatalf("GET /api/traces/%s: %v", traceID, err)
	}
	if len(body.Data) != 1 || body.Data[0].TraceID != traceID || len(body.Data[0].Spans) == 0 {
		t.Fatalf("GET /api/traces/%s: %d traces, want the one trace with spans", traceID, len(body.Data))
	}
	return body.Data[0], true
}

// waitForKeptExemplar waits until the demo has a p99 exemplar whose trace the
// trace store holds: before that the page would have nothing to open.
func waitForKeptExemplar(t *testing.T, base string, within time.Duration) {
	t.Helper()
	start := time.Now()
	for time.Since(start) < within {
		q := url.Values{"query": {p99Selector}, "start": {fmt.Sprint(start.Add(-time.Hour).Unix())}, "end": {fmt.Sprint(time.Now().Add(time.Minute).Unix())}}
		resp, err := http.Get(base + "/api/v1/query_exemplars?" + q.Encode())
		if err != nil {
			t.Fatalf("query_exemplars: %v", err)
		}
		var body struct {
			Data []struct {
				Exemplars []struct {
					Labels map[string]string `json:"labels"`
				} `json:"exemplars"`
			} `json:"data"`
		}
		err = json.NewDecoder(resp.Body).Decode(&body)
		resp.Body.Close()
		if err != nil {
			t.Fatalf("query_exemplars: %v", err)
		}
		for _, s := range body.Data {
			for _, e := range s.Exemplars {
				if _, ok := storeTrace(t, base, e.Labels["trace_id"]); ok {
					t.Logf("first kept p99 exemplar after %v", time.Since(start).Round(time.Millisecond))
					return
				}
			}
		}
		time.Sleep(500 * time.Millisecond)
	}
	t.Fatalf("no p99 exemplar with its trace in the store within %v of the demo's start", within)
}

func atoi(s string) int {
	var n int
	fmt.Sscan(s, &n)
	return n
}

// ---- the browser ----------------------------------------------------------

// browser is one headless Chromium tab, with the page's errors collected.
type browser struct {
	t   *testing.T
	ctx context.Context

	mu     sync.Mutex
	errors []string
}

func newBrowser(t *testing.T, chromium string) *browser {
	t.Helper()
	opts := append(chromedp.DefaultExecAllocatorOptions[:],
		chromedp.ExecPath(chromium),
		chromedp.Headless, chromedp.NoSandbox, chromedp.DisableGPU, chromedp.NoFirstRun,
		chromedp.Flag("disable-quic", true),
		chromedp.Flag("disable-background-networking", true),
		chromedp.Flag("disable-component-update", true),
		chromedp.Flag("disable-sync", true),
		chromedp.UserDataDir(t.TempDir()),
		chromedp.WindowSize(1280, 900),
	)
	allocCtx, cancelAlloc := chromedp.NewExecAllocator(context.Background(), opts...)
	tabCtx, cancelTab := chromedp.NewContext(allocCtx)
	t.Cleanup(func() { cancelTab(); cancelAlloc() })
	// The first action starts the browser and binds its life to tabCtx; the
	// test's own deadline applies to the actions after it.
	if err := chromedp.Do(tabCtx); err != nil {
		t.Fatalf("starting %s: %v", chromium, err)
	}
	ctx, cancel := context.WithTimeout(tabCtx, 90*time.Second)
	t.Cleanup(cancel)
	b := &browser{t: t, ctx: ctx}

	if _, err := chromedp.Run(ctx, chromedp.Func(func(ctx context.Context, tg *chromedp.Target) error {
		_, err := cdp.Call(ctx, tg, cdplog.Enable, cdp.Empty{})
		return err
	})); err != nil {
		t.Fatalf("enabling the browser log: %v", err)
	}
	exceptions := chromedp.Events(ctx, runtime.ExceptionThrown)
	console := chromedp.Events(ctx, runtime.ConsoleAPICalled)
	logs := chromedp.Events(ctx, cdplog.EntryAdded)
	go func() {
		for ev, err := range exceptions {
			if err != nil {
				return
			}
			msg := ev.ExceptionDetails.Text
			if ex := ev.ExceptionDetails.Exception; ex != nil {
				msg += " " + ex.Description
			}
			b.addError(fmt.Sprintf("exception at %s:%d: %s", ev.ExceptionDetails.URL, ev.ExceptionDetails.LineNumber+1, msg))
		}
	}()
	go func() {
		for ev, err := range console {
			if err != nil {
				return
			}
			if ev.Type == runtime.ConsoleAPICalledTypeError {
				var args []string
				for _, a := range ev.Args {
					args = append(args, string(a.Value)+a.Description)
				}
				b.addError("console.error: " + strings.Join(args, " "))
			}
		}
	}()
	go func() {
		for ev, err := range logs {
			if err != nil {
				return
			}
			// Errors of the browser itself: a blocked resource, a violated
			// Content-Security-Policy, a failed load.
			if e := ev.Entry; e != nil && e.Level == cdplog.EntryLevelError {
				b.addError(fmt.Sprintf("%s error: %s %s", e.Source, e.Text, e.URL))
			}
		}
	}()
	return b
}

func (b *browser) addError(s string) {
	b.mu.Lock()
	b.errors = append(b.errors, s)
	b.mu.Unlock()
}

// checkErrors fails the test with every error the page raised so far.
func (b *browser) checkErrors() {
	b.t.Helper()
	b.mu.Lock()
	defer b.mu.Unlock()
	for _, e := range b.errors {
		b.t.Errorf("page: %s", e)
	}
	b.errors = nil
}

func (b *browser) do(actions ...chromedp.Action[chromedp.Void]) {
	b.t.Helper()
	if err := chromedp.Do(b.ctx, actions...); err != nil {
		b.checkErrors()
		b.t.Fatalf("browser: %v", err)
	}
}

func (b *browser) run(a chromedp.Action[[]byte]) []byte {
	b.t.Helper()
	v, err := chromedp.Run(b.ctx, a)
	if err != nil {
		b.t.Fatalf("browser: %v", err)
	}
	return v
}

// poll waits for a JavaScript expression to be true; on timeout it fails
// with the expression and the page's status line.
func (b *browser) poll(expr string) {
	b.t.Helper()
	b.pollFor(expr, 30*time.Second)
}

// pollFor is poll with a deadline of its own.
func (b *browser) pollFor(expr string, within time.Duration) {
	b.t.Helper()
	ctx, cancel := context.WithTimeout(b.ctx, within+5*time.Second)
	defer cancel()
	if _, err := chromedp.Run(ctx, chromedp.Poll[chromedp.Void](expr, chromedp.WithPollingInterval(50*time.Millisecond), chromedp.WithPollingTimeout(within))); err != nil {
		status, _ := chromedp.Run(b.ctx, chromedp.Evaluate[string](`document.getElementById('status').textContent + ' | ' + document.getElementById('trace-error').textContent +
			' | chart ' + JSON.stringify(document.getElementById('chart').dataset)`))
		b.checkErrors()
		b.t.Fatalf("browser: waiting for %s: %v (page says: %q)", expr, err, status)
	}
}

// choose picks value in the select element id, as a person's choice does:
// the value changes and a change event bubbles.
func (b *browser) choose(id, value string) {
	b.t.Helper()
	ok := evalJS[bool](b, fmt.Sprintf(`(() => { const s = document.getElementById(%q);
		if (!s || ![...s.options].some(o => o.value === %q)) return false;
		s.focus(); s.value = %q; s.dispatchEvent(new Event('input', {bubbles: true})); s.dispatchEvent(new Event('change', {bubbles: true}));
		return true; })()`, id, value, value))
	if !ok {
		b.t.Fatalf("browser: select #%s has no option %q", id, value)
	}
}

// exec runs statements in the page.
func (b *browser) exec(js string) {
	b.t.Helper()
	evalJS[bool](b, "(() => { "+js+"; return true; })()")
}

func evalJS[T any](b *browser, expr string) T {
	b.t.Helper()
	v, err := chromedp.Run(b.ctx, chromedp.Evaluate[T](expr))
	if err != nil {
		b.checkErrors()
		b.t.Fatalf("browser: evaluating %s: %v", expr, err)
	}
	return v
}
