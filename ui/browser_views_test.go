package ui_test

import (
	"context"
	"encoding/json"
	"fmt"
	"math"
	"net/http"
	"net/url"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/chromedp/chromedp"

	"github.com/weirdev/weir/internal/demo"
	"github.com/weirdev/weir/internal/testenv"
)

// plotBox is the chart's plot area in the page's coordinates.
type plotBox struct{ Left, Right, Top, Bottom float64 }

func plot(b *browser) plotBox {
	return evalJS[plotBox](b, `(() => {
		const s = document.getElementById('chart-svg');
		s.scrollIntoView({block: 'center'});
		const r = s.getBoundingClientRect();
		return {Left: r.left + +s.dataset.plotLeft, Right: r.left + +s.dataset.plotRight,
			Top: r.top + +s.dataset.plotTop, Bottom: r.top + +s.dataset.plotBottom};
	})()`)
}

type circle struct {
	TraceID, SpanID, Series, Le, Placement string
	Value, Y, T, X, CY                     float64
	OnTop                                  bool
}

const circlesJS = `[...document.querySelectorAll('#chart svg .exemplar')].map(e => {
	const r = e.getBoundingClientRect(), x = r.left + r.width / 2, y = r.top + r.height / 2;
	return {TraceID: e.dataset.traceId, SpanID: e.dataset.spanId, Series: e.dataset.series, Le: e.dataset.le || '',
		Placement: e.dataset.placement, Value: +e.dataset.value, Y: +e.dataset.y, T: +e.dataset.timestamp,
		X: x, CY: +e.getAttribute('cy'), OnTop: document.elementFromPoint(x, y) === e};
})`

// hashParams returns the page address's view state.
func hashParams(b *browser) url.Values {
	v, err := url.ParseQuery(strings.TrimPrefix(evalJS[string](b, `location.hash`), "#"))
	if err != nil {
		b.t.Fatalf("address %v", err)
	}
	return v
}

// checkZoomAndBack drags across the p99 chart to zoom into its newer half,
// clicks the newest exemplar there, expects that very trace (waiting out
// the decision wait if it is that new), and steps back: first to the zoomed
// chart, then to the range before the zoom.
func checkZoomAndBack(t *testing.T, b *browser, base string) {
	if evalJS[bool](b, `document.getElementById('waterfall').checkVisibility()`) {
		b.do(chromedp.Click(chromedp.ID("close-waterfall")))
	}
	b.poll(`document.getElementById('chart').dataset.state === 'ready' && !location.hash.includes('trace=')`)
	before := hashParams(b)
	p := plot(b)
	x0, x1, y := p.Left+0.5*(p.Right-p.Left), p.Right-1, (p.Top+p.Bottom)/2
	b.do(chromedp.MouseEvent(chromedp.MousePressed, x0, y, chromedp.ButtonLeft, chromedp.ClickCount(1)))
	for i := 1; i <= 8; i++ {
		b.do(chromedp.MouseEvent(chromedp.MouseMoved, x0+(x1-x0)*float64(i)/8, y, chromedp.ButtonLeft))
	}
	b.do(chromedp.MouseEvent(chromedp.MouseReleased, x1, y, chromedp.ButtonLeft, chromedp.ClickCount(1)))
	b.poll(`(() => { const c = document.getElementById('chart');
		return c.dataset.range === 'custom' && c.dataset.state === 'ready' && +c.dataset.exemplarCount > 0; })()`)
	zoomed := hashParams(b)
	from, _ := strconv.ParseFloat(zoomed.Get("from"), 64)
	to, _ := strconv.ParseFloat(zoomed.Get("to"), 64)
	if !(from > 0 && to > from) || zoomed.Get("metric") != p99Metric || zoomed.Get("l.quantile") != "0.99" {
		t.Fatalf("after the drag the address is %v: want the metric, its quantile and from < to", zoomed)
	}
	// The chart covered the 5 minutes before: half of it is about 150 s.
	if span := to - from; span < 100 || span > 200 {
		t.Errorf("dragging across half the 5-minute chart zoomed into %v s", span)
	}
	cs := evalJS[[]circle](b, circlesJS)
	newest := cs[0]
	for _, c := range cs {
		if c.T < from-10 || c.T > to+10 {
			t.Errorf("exemplar at %v drawn in the zoomed range [%v, %v]", c.T, from, to)
		}
		if c.T >= newest.T { // of equal times the last drawn, on top
			newest = c
		}
	}
	if !newest.OnTop {
		t.Fatalf("the newest exemplar (trace %s at %v) is covered by another point", newest.TraceID, newest.T)
	}
	t.Logf("zoomed into %v s: %d exemplars, the newest %s at %v (%.0f s old)", to-from, len(cs), newest.TraceID, newest.T, float64(time.Now().Unix())-newest.T)
	b.do(chromedp.MouseClickXY(newest.X, plotY(b, newest)))
	// A fresh exemplar's trace is exported a decision wait after its spans:
	// the page says so and tries again until it is there.
	b.pollFor(fmt.Sprintf(`(() => { const w = document.getElementById('waterfall');
		return w.dataset.traceId === %q && w.dataset.state === 'ready'; })()`, newest.TraceID), demo.DecisionWait+60*time.Second)
	b.allowTraceNotFound()
	want, ok := storeTrace(t, base, newest.TraceID)
	if !ok {
		t.Fatalf("the page shows trace %s, the store does not have it", newest.TraceID)
	}
	checkWaterfall(t, b, newest.TraceID, newest.SpanID, want)
	if h := hashParams(b); h.Get("trace") != newest.TraceID || h.Get("from") != zoomed.Get("from") {
		t.Errorf("address with the trace open: %v", h)
	}

	b.exec(`history.back()`)
	b.poll(fmt.Sprintf(`(() => { const c = document.getElementById('chart'), w = document.getElementById('waterfall');
		return !w.checkVisibility() && !location.hash.includes('trace=') && c.dataset.state === 'ready' &&
			c.dataset.range === 'custom' && new URLSearchParams(location.hash.slice(1)).get('from') === %q; })()`, zoomed.Get("from")))
	if h := hashParams(b); h.Get("to") != zoomed.Get("to") {
		t.Errorf("back from the trace: address %v, want the zoomed view %v", h, zoomed)
	}
	screenshot(t, b, "ui-zoom.png")
	b.exec(`history.back()`)
	b.poll(fmt.Sprintf(`(() => { const c = document.getElementById('chart');
		return c.dataset.state === 'ready' && c.dataset.range === %q && !location.hash.includes('from='); })()`, before.Get("range")))
	b.checkErrors()
}

// plotY is the page y of a circle's centre. The circle is told by its
// series and span as well as its trace and time: two spans of one trace may
// end in the same millisecond, each an exemplar of its own series.
func plotY(b *browser, c circle) float64 {
	return evalJS[float64](b, fmt.Sprintf(`(() => { const e = [...document.querySelectorAll('#chart svg .exemplar')].find(e =>
		e.dataset.traceId === %q && e.dataset.spanId === %q && e.dataset.series === %q && +e.dataset.timestamp === %v);
		const r = e.getBoundingClientRect(); return r.top + r.height / 2; })()`, c.TraceID, c.SpanID, c.Series, c.T))
}

// checkHoverLegendSearch: hovering the plot lists the series' values at that
// time; a legend entry hides and shows its line; the search narrows the
// lines drawn; the PromQL box charts any expression, on a count axis when
// it counts.
func checkHoverLegendSearch(t *testing.T, b *browser) {
	p := plot(b)
	found := false
	for f := 0.95; f > 0.3 && !found; f -= 0.05 {
		x, y := p.Left+f*(p.Right-p.Left), p.Top+5
		if !evalJS[bool](b, fmt.Sprintf(`document.elementFromPoint(%v, %v).classList.contains('overlay')`, x, y)) {
			continue
		}
		b.do(chromedp.MouseEvent(chromedp.MouseMoved, x, y))
		found = evalJS[bool](b, `(() => { const t = document.getElementById('tooltip');
			return t.checkVisibility() && t.dataset.kind === 'values' && t.querySelectorAll('.tip-row').length > 0; })()`)
	}
	if !found {
		t.Errorf("hovering the plot showed no values of the series")
	}
	lines := func() int { return evalJS[int](b, `document.querySelectorAll('#chart svg path.series-line').length`) }
	n := lines()
	b.exec(`document.getElementById('legend-box').open = true`)
	key := evalJS[string](b, `document.querySelector('#legend .legend-item').dataset.series`)
	b.do(chromedp.Click(chromedp.CSS(`#legend .legend-item`)))
	b.poll(fmt.Sprintf(`document.querySelectorAll('#chart svg path.series-line').length === %d && location.hash.includes('h=')`, n-1))
	if evalJS[string](b, `document.querySelector('#legend .legend-item').getAttribute('aria-pressed')`) != "false" {
		t.Errorf("the hidden series' legend entry is not marked as off")
	}
	if evalJS[bool](b, fmt.Sprintf(`[...document.querySelectorAll('#chart svg path.series-line')].some(p => p.dataset.series === %q)`, key)) {
		t.Errorf("series %s still drawn after its legend entry hid it", key)
	}
	b.do(chromedp.Click(chromedp.CSS(`#legend .legend-item`)))
	b.poll(fmt.Sprintf(`document.querySelectorAll('#chart svg path.series-line').length === %d`, n))

	b.exec(`(() => { const s = document.getElementById('series-search');
		s.value = 'checkout'; s.dispatchEvent(new Event('input', {bubbles: true})); })()`)
	b.poll(`location.hash.includes('s=checkout')`)
	shown := evalJS[[]string](b, `[...document.querySelectorAll('#chart svg path.series-line')].map(p => p.dataset.series)`)
	if len(shown) == 0 || len(shown) >= n {
		t.Errorf("search 'checkout' drew %d of %d series", len(shown), n)
	}
	for _, s := range shown {
		if !strings.Contains(s, "checkout") {
			t.Errorf("search 'checkout' drew %s", s)
		}
	}
	b.exec(`(() => { const s = document.getElementById('series-search');
		s.value = ''; s.dispatchEvent(new Event('input', {bubbles: true})); })()`)

	const q = `sum by (service_name) (rate(span_duration_seconds_count[1m]))`
	b.exec(fmt.Sprintf(`(() => { document.getElementById('query').value = %q;
		document.getElementById('query-form').requestSubmit(); })()`, q))
	b.poll(fmt.Sprintf(`(() => { const c = document.getElementById('chart'); return c.dataset.query === %q && c.dataset.state === 'ready'; })()`, q))
	type promql struct {
		Unit, Right string
		Series      []string
	}
	got := evalJS[promql](b, `({Unit: document.getElementById('chart-svg').dataset.leftUnit, Right: document.getElementById('chart-svg').dataset.rightUnit || '',
		Series: [...document.querySelectorAll('#chart svg path.series-line')].map(p => p.dataset.series)})`)
	if got.Unit != "count" || got.Right != "" || len(got.Series) == 0 {
		t.Errorf("PromQL %s: axis %q/%q, %d series; want counts and series", q, got.Unit, got.Right, len(got.Series))
	}
	for _, s := range got.Series {
		if !strings.HasPrefix(s, `{service_name=`) || strings.Contains(s, ",") {
			t.Errorf("PromQL %s drew series %s: want one per service_name", q, s)
		}
	}
	if h := hashParams(b); h.Get("q") != q {
		t.Errorf("address %v does not hold the query", h)
	}
	b.do(chromedp.Click(chromedp.ID("query-reset")))
	b.poll(`(() => { const c = document.getElementById('chart'); return c.dataset.query.startsWith('span_duration_seconds') && c.dataset.state === 'ready'; })()`)
	b.checkErrors()
}

// checkBuckets charts an explicit histogram's _bucket series: counts on
// the axis, and each exemplar (seconds) drawn on its own bucket's line at
// its window, its value within that bucket.
func checkBuckets(t *testing.T, b *browser, base string) {
	const metric = "db_client_operation_duration_seconds_bucket"
	b.poll(fmt.Sprintf(`[...document.getElementById('metric').options].some(o => o.value === %q)`, metric))
	b.choose("metric", metric)
	b.pollFor(fmt.Sprintf(`(() => { const c = document.getElementById('chart');
		return c.dataset.state === 'ready' && c.dataset.query === %q && +c.dataset.exemplarCount > 0; })()`, metric), 60*time.Second)
	type axes struct {
		Left, Right string
		Lo, Hi      float64
		Top, Bottom float64
	}
	a := evalJS[axes](b, `(() => { const s = document.getElementById('chart-svg').dataset;
		return {Left: s.leftUnit, Right: s.rightUnit || '', Lo: +s.leftLo, Hi: +s.leftHi, Top: +s.plotTop, Bottom: +s.plotBottom}; })()`)
	if a.Left != "count" || a.Right != "" {
		t.Fatalf("%s: axes %q and %q, want one of counts", metric, a.Left, a.Right)
	}
	cs := evalJS[[]circle](b, circlesJS)
	checked := 0
	for _, c := range cs {
		if c.Placement != "series" || c.Le == "" {
			t.Fatalf("exemplar %+v of a _bucket series not placed on its bucket", c)
		}
		if le, err := strconv.ParseFloat(c.Le, 64); c.Le != "+Inf" && (err != nil || c.Value > le) {
			t.Errorf("exemplar %v drawn on bucket le=%s", c.Value, c.Le)
		}
		wantCY := a.Top + (a.Bottom-a.Top)*(1-(c.Y-a.Lo)/(a.Hi-a.Lo))
		if math.Abs(c.CY-wantCY) > 0.6 {
			t.Errorf("exemplar of %s drawn at y %v, its count %v is at %v", c.Series, c.CY, c.Y, wantCY)
		}
		if checked < 5 {
			// The count it is drawn at is its bucket's sample of the window
			// it was measured in.
			end := (math.Floor(c.T*1000/10_000) + 1) * 10
			if v := instant(t, base, strings.TrimPrefix(c.Series, metric), metric, end); v != c.Y {
				t.Errorf("exemplar at %v of %s drawn at %v, its window's sample (at %v) is %v", c.T, c.Series, c.Y, end, v)
			}
			checked++
		}
	}
	t.Logf("%s: %d exemplars, each on its bucket", metric, len(cs))
	screenshot(t, b, "ui-buckets.png")
	b.checkErrors()
}

type vectorSample struct {
	Metric map[string]string `json:"metric"`
	Value  [2]any            `json:"value"`
}

type exemplarSeriesJSON struct {
	SeriesLabels map[string]string `json:"seriesLabels"`
	Exemplars    []struct {
		Labels    map[string]string `json:"labels"`
		Value     string            `json:"value"`
		Timestamp float64           `json:"timestamp"`
	} `json:"exemplars"`
}

// promGet reads a Prometheus API answer's data into data.
func promGet(t *testing.T, base, path string, params url.Values, data any) {
	t.Helper()
	resp, err := http.Get(base + path + "?" + params.Encode())
	if err != nil {
		t.Fatalf("GET %s: %v", path, err)
	}
	defer resp.Body.Close()
	var r struct {
		Status string          `json:"status"`
		Data   json.RawMessage `json:"data"`
		Error  string          `json:"error"`
	}
	if err := json.NewDecoder(resp.Body).Decode(&r); err != nil || r.Status != "success" {
		t.Fatalf("GET %s %v: HTTP %d, %v %q", path, params, resp.StatusCode, err, r.Error)
	}
	if err := json.Unmarshal(r.Data, data); err != nil {
		t.Fatalf("%s: data: %v", path, err)
	}
}

// instant returns the value of series name+matchers at time sec.
func instant(t *testing.T, base, matchers, name string, sec float64) float64 {
	t.Helper()
	var r []vectorSample
	sel := name + strings.ReplaceAll(matchers, `", `, `",`)
	promGet(t, base, "/api/v1/query", url.Values{"query": {sel}, "time": {fmt.Sprint(sec)}}, &struct {
		Result *[]vectorSample `json:"result"`
	}{&r})
	if len(r) != 1 {
		t.Fatalf("%s at %v: %d series", sel, sec, len(r))
	}
	v, _ := strconv.ParseFloat(r[0].Value[1].(string), 64)
	return v
}

// TestBrowserTraceErrors opens traces the page cannot show and checks that
// it says why: evicted by the demo's trace store (kept small here, so that
// it evicts within seconds), not decided yet (an exemplar younger than the
// decision wait), or not exported (older, and never stored).
func TestBrowserTraceErrors(t *testing.T) {
	chromium := testenv.Chromium(t)
	ctx, cancel := context.WithCancel(context.Background())
	d, err := demo.Start(ctx, demo.Config{Listen: "127.0.0.1:0", Seed: 11, MaxTraces: 50})
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
	evicted, at := waitForEvicted(t, base, 2*time.Minute)

	b := newBrowser(t, chromium)
	b.do(chromedp.EmulateViewport(1280, 900))
	for _, tc := range []struct {
		id   string
		at   int64
		kind string
		says string
	}{
		{evicted, at, "evicted", "was evicted"},
		{"0123456789abcdef0123456789abcdef", time.Now().Unix(), "pending", "not decided yet"},
		{"fedcba9876543210fedcba9876543210", time.Now().Add(-10 * time.Minute).Unix(), "not-exported", "was not exported"},
	} {
		b.do(chromedp.Navigate(base + "/#" + url.Values{"metric": {p99Metric}, "l.quantile": {"0.99"}, "trace": {tc.id}, "at": {fmt.Sprint(tc.at)}}.Encode()))
		b.poll(fmt.Sprintf(`(() => { const w = document.getElementById('waterfall');
			return w.dataset.traceId === %q && w.dataset.state === 'error'; })()`, tc.id))
		type shown struct{ Kind, Text string }
		s := evalJS[shown](b, `({Kind: document.getElementById('waterfall').dataset.error, Text: document.getElementById('trace-error').textContent})`)
		if s.Kind != tc.kind || !strings.Contains(s.Text, tc.says) || !strings.Contains(s.Text, tc.id) {
			t.Errorf("trace %s: error %q %q, want %s saying %q", tc.id, s.Kind, s.Text, tc.kind, tc.says)
		}
		if tc.kind == "evicted" {
			screenshot(t, b, "ui-evicted.png")
		}
	}
	b.allowTraceNotFound()
	b.checkErrors()
	checkChartModel(t, b)
}

// checkChartModel runs the page's chart model on made-up results: of more
// exemplars than it draws it keeps the newest, and it places an exemplar of
// a count series on the sample of the window it was measured in (the
// sample at a window's end stands for the window before it).
func checkChartModel(t *testing.T, b *browser) {
	type model struct {
		N, Capped    int
		Oldest       float64
		Ys           []float64
		Placements   []string
		Unit, Bucket string
	}
	m := evalJS[model](b, `(() => {
		const ex = [];
		for (let i = 0; i < 5000; i++) ex.push({labels: {trace_id: 't' + i}, value: '0.1', timestamp: 1000 + i / 10});
		const d = {query: 'x_seconds', start: 0, end: 2000, step: 10,
			series: [{metric: {__name__: 'x_seconds'}, values: [[1000, '1']]}], exemplars: [{seriesLabels: {__name__: 'x_seconds'}, exemplars: ex}]};
		const m = weir.chart.build(d, new Set(), '');
		const bd = {query: 'x_bucket', start: 0, end: 2000, step: 10,
			series: [{metric: {__name__: 'x_bucket', le: '0.5'}, values: [[1000, '5'], [1010, '7'], [1020, '9']]}],
			exemplars: [{seriesLabels: {__name__: 'x_bucket', le: '0.5'}, exemplars: [
				{labels: {trace_id: 'a'}, value: '0.2', timestamp: 1000}, {labels: {trace_id: 'b'}, value: '0.3', timestamp: 1009.9},
				{labels: {trace_id: 'c'}, value: '0.4', timestamp: 1010}]}]};
		const bm = weir.chart.build(bd, new Set(), '');
		return {N: m.points.length, Capped: m.capped, Oldest: Math.min(...m.points.map(p => p.t)),
			Ys: bm.points.map(p => p.y), Placements: bm.points.map(p => p.placement), Unit: m.shown[0].unit, Bucket: bm.shown[0].unit};
	})()`)
	if m.N != 3000 || m.Capped != 5000 || m.Oldest != 1200 {
		t.Errorf("of 5000 exemplars the chart keeps %d (capped %d), the oldest at %v: want the newest 3000, from 1200", m.N, m.Capped, m.Oldest)
	}
	if m.Unit != "s" || m.Bucket != "" {
		t.Errorf("units %q and %q, want seconds for x_seconds and counts for x_bucket", m.Unit, m.Bucket)
	}
	if want := []float64{7, 7, 9}; fmt.Sprint(m.Ys) != fmt.Sprint(want) || fmt.Sprint(m.Placements) != "[series series series]" {
		t.Errorf("bucket exemplars at 1000, 1009.9, 1010 drawn at %v (%v), want %v on the series", m.Ys, m.Placements, want)
	}
}

// allowTraceNotFound forgets the browser's reports of /api/traces/ answering
// 404: the answers the page explains (a trace not exported yet, evicted).
func (b *browser) allowTraceNotFound() {
	b.mu.Lock()
	defer b.mu.Unlock()
	var rest []string
	for _, e := range b.errors {
		if !strings.Contains(e, "/api/traces/") || !strings.Contains(e, "404") {
			rest = append(rest, e)
		}
	}
	b.errors = rest
}

// waitForEvicted waits until the trace store evicted the trace of a p99
// exemplar, and returns it and the exemplar's time.
func waitForEvicted(t *testing.T, base string, within time.Duration) (string, int64) {
	t.Helper()
	start := time.Now()
	for time.Since(start) < within {
		var exs []exemplarSeriesJSON
		promGet(t, base, "/api/v1/query_exemplars", url.Values{"query": {p99Selector},
			"start": {fmt.Sprint(start.Add(-time.Hour).Unix())}, "end": {fmt.Sprint(time.Now().Unix())}}, &exs)
		for _, es := range exs {
			for _, e := range es.Exemplars {
				resp, err := http.Get(base + "/api/traces/" + e.Labels["trace_id"])
				if err != nil {
					t.Fatal(err)
				}
				b := make([]byte, 512)
				n, _ := resp.Body.Read(b)
				resp.Body.Close()
				if resp.StatusCode == http.StatusNotFound && strings.Contains(string(b[:n]), "trace evicted") {
					t.Logf("trace %s evicted after %v", e.Labels["trace_id"], time.Since(start).Round(time.Second))
					return e.Labels["trace_id"], int64(e.Timestamp)
				}
			}
		}
		time.Sleep(time.Second)
	}
	t.Fatalf("no p99 exemplar's trace evicted within %v", within)
	return "", 0
}

// screenshot writes the page to docs/ and test/artifacts/.
func screenshot(t *testing.T, b *browser, name string) {
	t.Helper()
	png := b.run(chromedp.CaptureScreenshot())
	root := testenv.Root(t)
	for _, p := range []string{filepath.Join(root, "docs", name), filepath.Join(root, "test", "artifacts", name)} {
		if err := os.MkdirAll(filepath.Dir(p), 0o755); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(p, png, 0o644); err != nil {
			t.Fatal(err)
		}
	}
	t.Logf("screenshot: docs/%s (%d bytes)", name, len(png))
}
