package pipeline

import (
	"context"
	"fmt"
	"log/slog"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/testutil"
	"github.com/prometheus/prometheus/model/labels"
	"github.com/prometheus/prometheus/prompb"
	"go.opentelemetry.io/collector/pdata/pcommon"
	"go.opentelemetry.io/collector/pdata/pmetric"

	"github.com/weirdev/weir/ingest"
	"github.com/weirdev/weir/rules"
	"github.com/weirdev/weir/sample"
)

// sampleLog is a fake SeriesSink per route: it keeps every sample in
// arrival order and reports a (route, series, timestamp) written twice, which
// is what two half-windows of one output would look like.
type sampleLog struct {
	mu      sync.Mutex
	samples map[string]float64 // "route series@t" -> value
	dups    []string
}

func (l *sampleLog) sink(route string) SeriesSink {
	return SeriesSinkFunc(func(_ context.Context, series []prompb.TimeSeries) error {
		l.mu.Lock()
		defer l.mu.Unlock()
		for _, ts := range series {
			var b labels.ScratchBuilder
			for _, lb := range ts.Labels {
				b.Add(lb.Name, lb.Value)
			}
			b.Sort()
			for _, s := range ts.Samples {
				k := fmt.Sprintf("%s %s@%d", route, b.Labels(), s.Timestamp)
				if _, dup := l.samples[k]; dup {
					l.dups = append(l.dups, k)
				}
				l.samples[k] = s.Value
			}
		}
		return nil
	})
}

// got returns the samples as sorted "route series@t=v" lines.
func (l *sampleLog) got() []string {
	l.mu.Lock()
	defer l.mu.Unlock()
	var out []string
	for k, v := range l.samples {
		out = append(out, fmt.Sprintf("%s=%g", k, v))
	}
	slices.Sort(out)
	return out
}

func mustRules(t testing.TB, src string) *rules.Set {
	t.Helper()
	s, err := rules.Parse("test.yaml", []byte(src))
	if err != nil {
		t.Fatal(err)
	}
	return s
}

// testPipeline returns a pipeline whose routes each go to log.
func testPipeline(t testing.TB, s *rules.Set, u Unmatched, reg prometheus.Registerer, routes ...string) (*Pipeline, *sampleLog) {
	t.Helper()
	log := &sampleLog{samples: map[string]float64{}}
	series := map[string]SeriesSink{}
	for _, r := range routes {
		series[r] = log.sink(r)
	}
	p, err := New(Config{Rules: s, Series: series, Unmatched: u, Reg: reg})
	if err != nil {
		t.Fatal(err)
	}
	return p, log
}

// base is a minute boundary an hour ago: old enough to be accepted, aligned
// so that the expected window ends are easy to read.
var base = time.Now().Add(-time.Hour).Truncate(time.Minute).UnixMilli()

// at formats the timestamp base+sec seconds as the sample keys do.
func at(sec int64) string { return fmt.Sprint(base + sec*1000) }

type gaugePoint struct {
	name   string
	labels []string // name, value pairs
	sec    int64    // event time in seconds after base
	v      float64
	delta  bool // a delta sum instead of a gauge
}

// send feeds gauge points to p as one record of partition 0.
func send(p *Pipeline, pts ...gaugePoint) {
	md := pmetric.NewMetrics()
	sm := md.ResourceMetrics().AppendEmpty().ScopeMetrics().AppendEmpty()
	for _, pt := range pts {
		m := sm.Metrics().AppendEmpty()
		m.SetName(pt.name)
		var dp pmetric.NumberDataPoint
		if pt.delta {
			sum := m.SetEmptySum()
			sum.SetAggregationTemporality(pmetric.AggregationTemporalityDelta)
			sum.SetIsMonotonic(true)
			dp = sum.DataPoints().AppendEmpty()
		} else {
			dp = m.SetEmptyGauge().DataPoints().AppendEmpty()
		}
		dp.SetTimestamp(pcommon.Timestamp((base + pt.sec*1000) * int64(time.Millisecond)))
		dp.SetDoubleValue(pt.v)
		for i := 0; i+1 < len(pt.labels); i += 2 {
			dp.Attributes().PutStr(pt.labels[i], pt.labels[i+1])
		}
	}
	p.HandleMetrics(ingest.Source{Topic: "otlp_metrics"}, md)
}

// sendEach feeds one point of metric name per second from..to (inclusive),
// each its own record, value 1.
func sendEach(p *Pipeline, name string, from, to int64) {
	for s := from; s <= to; s++ {
		send(p, gaugePoint{name: name, sec: s, v: 1})
	}
}

func flush(t testing.TB, p *Pipeline) {
	t.Helper()
	if err := p.Flush(context.Background()); err != nil {
		t.Fatal(err)
	}
}

func checkSamples(t *testing.T, log *sampleLog, want []string) {
	t.Helper()
	slices.Sort(want)
	if got := log.got(); !slices.Equal(got, want) {
		t.Errorf("samples:\n%s\nwant:\n%s", strings.Join(got, "\n"), strings.Join(want, "\n"))
	}
	if len(log.dups) > 0 {
		t.Errorf("samples written twice (half windows):\n%s", strings.Join(log.dups, "\n"))
	}
}

const reloadV1 = `
rollup:
  - name: r
    match: m
    output: out
    aggregations: [sum]
    policies: [10s:1d, 30s:1d]
`

// reloadV2 changes rule r: it also counts.
var reloadV2 = strings.Replace(reloadV1, "[sum]", "[sum, count]", 1)

func TestReloadChangedRuleStartsAtWindowBoundary(t *testing.T) {
	reg := prometheus.NewRegistry()
	p, log := testPipeline(t, mustRules(t, reloadV1), Unmatched{}, reg, "10s:1d", "30s:1d")
	sendEach(p, "m", 0, 15)
	// The newest event time is 15s: the 10s windows switch at 20s, the 30s
	// windows at 30s.
	p.SetRules(mustRules(t, reloadV2))
	sendEach(p, "m", 16, 25)
	// Late for the new set but before the boundaries: old version, both
	// resolutions.
	send(p, gaugePoint{name: "m", sec: 12, v: 1})
	sendEach(p, "m", 26, 59)
	flush(t, p)

	checkSamples(t, log, []string{
		`10s:1d {__name__="out_sum"}@` + at(10) + `=10`,
		`10s:1d {__name__="out_sum"}@` + at(20) + `=11`, // whole window of v1, the late point included
		`10s:1d {__name__="out_sum"}@` + at(30) + `=10`,
		`10s:1d {__name__="out_count"}@` + at(30) + `=10`,
		`10s:1d {__name__="out_sum"}@` + at(40) + `=10`,
		`10s:1d {__name__="out_count"}@` + at(40) + `=10`,
		`10s:1d {__name__="out_sum"}@` + at(50) + `=10`,
		`10s:1d {__name__="out_count"}@` + at(50) + `=10`,
		`10s:1d {__name__="out_sum"}@` + at(60) + `=10`,
		`10s:1d {__name__="out_count"}@` + at(60) + `=10`,
		`30s:1d {__name__="out_sum"}@` + at(30) + `=31`, // v1 until 30s
		`30s:1d {__name__="out_sum"}@` + at(60) + `=30`,
		`30s:1d {__name__="out_count"}@` + at(60) + `=30`,
	})
	if got := testutil.ToFloat64(p.m.ruleSwaps); got != 1 {
		t.Errorf("weir_pipeline_rule_swaps_total = %v, want 1", got)
	}
}

func TestReloadKeepsWindowsOfUnchangedRules(t *testing.T) {
	const v1 = `
rollup:
  - {name: a, match: m, output: a, aggregations: [sum], policies: [10s:1d]}
`
	v2 := v1 + "  - {name: b, match: m, output: b, aggregations: [count], policies: [10s:1d]}\n"
	p, log := testPipeline(t, mustRules(t, v1), Unmatched{}, nil, "10s:1d")
	sendEach(p, "m", 0, 4)
	p.SetRules(mustRules(t, v2))
	sendEach(p, "m", 5, 14)
	flush(t, p)
	checkSamples(t, log, []string{
		`10s:1d {__name__="a_sum"}@` + at(10) + `=10`, // one window across the reload, not two halves
		`10s:1d {__name__="a_sum"}@` + at(20) + `=5`,
		`10s:1d {__name__="b_count"}@` + at(20) + `=5`, // the new rule starts at the boundary
	})
}

func TestReloadBeforeAnyPointTakesEffectAtOnce(t *testing.T) {
	p, log := testPipeline(t, mustRules(t, reloadV1), Unmatched{}, nil, "10s:1d", "30s:1d")
	p.SetRules(mustRules(t, reloadV2))
	sendEach(p, "m", 0, 9)
	flush(t, p)
	checkSamples(t, log, []string{
		`10s:1d {__name__="out_sum"}@` + at(10) + `=10`,
		`10s:1d {__name__="out_count"}@` + at(10) + `=10`,
		`30s:1d {__name__="out_sum"}@` + at(30) + `=10`,
		`30s:1d {__name__="out_count"}@` + at(30) + `=10`,
	})
}

func TestReloadWaitsForTheSwitchUnderWay(t *testing.T) {
	const v1 = "rollup:\n  - {name: r, match: m, output: o, aggregations: [sum], policies: [10s:1d]}\n"
	v2 := strings.Replace(v1, "[sum]", "[max]", 1)
	v3 := strings.Replace(v1, "[sum]", "[min]", 1)
	p, log := testPipeline(t, mustRules(t, v1), Unmatched{}, nil, "10s:1d")
	sendEach(p, "m", 0, 3)
	p.SetRules(mustRules(t, v2)) // switches at 10s
	sendEach(p, "m", 4, 5)
	p.SetRules(mustRules(t, v3)) // waits for 10s, then switches at 20s
	sendEach(p, "m", 6, 29)
	flush(t, p)
	checkSamples(t, log, []string{
		`10s:1d {__name__="o_sum"}@` + at(10) + `=10`,
		`10s:1d {__name__="o_max"}@` + at(20) + `=1`,
		`10s:1d {__name__="o_min"}@` + at(30) + `=1`,
	})
}

func TestReloadRefusesBadFileAndKeepsRules(t *testing.T) {
	path := filepath.Join(t.TempDir(), "rules.yaml")
	write := func(s string) {
		t.Helper()
		if err := os.WriteFile(path, []byte(s), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	write(reloadV1)
	reg := prometheus.NewRegistry()
	w := rules.NewWatcher([]string{path}, rules.WatcherInterval(time.Hour), rules.WatcherRegisterer(reg),
		rules.WatcherLogger(slog.New(slog.DiscardHandler)))
	p, log := testPipeline(t, w.Current(), Unmatched{}, nil, "10s:1d", "30s:1d")
	sendEach(p, "m", 0, 4)

	write(strings.Replace(reloadV2, "policies: [10s:1d, 30s:1d]", "policies: [10s:1x]", 1))
	err := w.Reload()
	if err == nil || !strings.Contains(err.Error(), path+":7:16: ") {
		t.Fatalf("Reload of a bad file = %v, want an error at %s:7:16", err, path)
	}
	p.SetRules(w.Current()) // what Watcher.Run would never do; the set in force is still v1
	sendEach(p, "m", 5, 9)
	flush(t, p)
	checkSamples(t, log, []string{
		`10s:1d {__name__="out_sum"}@` + at(10) + `=10`,
		`30s:1d {__name__="out_sum"}@` + at(30) + `=10`,
	})
	if got := testutil.ToFloat64(p.m.ruleSwaps); got != 0 {
		t.Errorf("weir_pipeline_rule_swaps_total = %v, want 0", got)
	}
	n, err := testutil.GatherAndCount(reg, "weir_rules_reload_failures_total")
	if err != nil || n != 1 {
		t.Fatalf("weir_rules_reload_failures_total not exposed: %d series, %v", n, err)
	}
	if err := testutil.GatherAndCompare(reg, strings.NewReader(`
# HELP weir_rules_reload_failures_total Reloads of the rules files refused because the files did not compile; the previous rules stayed in force.
# TYPE weir_rules_reload_failures_total counter
weir_rules_reload_failures_total 1
`), "weir_rules_reload_failures_total"); err != nil {
		t.Error(err)
	}
}

// TestSeriesStateFollowsTheMatchCache checks the match lookup leaves in a
// point's sample.Series: it stands for the cache entry, so it goes when the
// entry goes (a full cache emptied, a rule switch).
func TestSeriesStateFollowsTheMatchCache(t *testing.T) {
	p, _ := testPipeline(t, mustRules(t, reloadV1), Unmatched{}, nil, "10s:1d", "30s:1d")
	p.cfg.MaxCachedSeries = 1
	point := func(x string) *sample.Point {
		return &sample.Point{Labels: labels.FromStrings("__name__", "m", "x", x), Kind: sample.Gauge, T: base, Series: &sample.Series{}}
	}
	a, b := point("a"), point("b")
	ma := p.lookup(a)
	if a.Series.State != ma {
		t.Fatalf("lookup left %v in the series, want its match", a.Series.State)
	}
	if got := p.lookup(a); got != ma {
		t.Errorf("second lookup of a series found another match")
	}
	p.lookup(b) // The cache is full: emptied first.
	if got := p.lookup(a); got == ma {
		t.Errorf("a series found the match the emptied cache dropped")
	}
	if _, ok := p.cache[a.Labels.Hash()^uint64(a.Kind)<<56]; !ok {
		t.Errorf("a series' match is not in the cache after the lookup")
	}
}
