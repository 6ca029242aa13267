package pipeline_test

import (
	"context"
	"fmt"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	dto "github.com/prometheus/client_model/go"
	"github.com/prometheus/prometheus/model/labels"
	"github.com/prometheus/prometheus/prompb"
	"go.opentelemetry.io/collector/pdata/pcommon"
	"go.opentelemetry.io/collector/pdata/pmetric"

	"github.com/weirdev/weir/pipeline"
	"github.com/weirdev/weir/pipeline/pipelinetest"
	"github.com/weirdev/weir/plan"
	"github.com/weirdev/weir/rules"
)

// sampleLog is a fake SeriesSink per route: it keeps every sample and
// reports a (route, series, timestamp) written twice, which is what two
// half-windows of one output would look like.
type sampleLog struct {
	mu      sync.Mutex
	samples map[string]float64 // "route series@t" -> value
	dups    []string
}

type routeSink struct {
	l     *sampleLog
	route string
}

func (r routeSink) Enqueue(_ context.Context, series []prompb.TimeSeries) error {
	l := r.l
	l.mu.Lock()
	defer l.mu.Unlock()
	for _, ts := range series {
		var b labels.ScratchBuilder
		for _, lb := range ts.Labels {
			b.Add(lb.Name, lb.Value)
		}
		b.Sort()
		for _, s := range ts.Samples {
			k := fmt.Sprintf("%s %s@%d", r.route, b.Labels(), s.Timestamp)
			if _, dup := l.samples[k]; dup {
				l.dups = append(l.dups, k)
			}
			l.samples[k] = s.Value
		}
	}
	return nil
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

// harness is a worker run in one process, its records numbered.
type harness struct {
	*pipelinetest.Local
	offset int64
}

// testPipeline returns a worker whose routes each go to log.
func testPipeline(t testing.TB, s *rules.Set, u plan.Unmatched, reg prometheus.Registerer, routes ...string) (*harness, *sampleLog) {
	t.Helper()
	log := &sampleLog{samples: map[string]float64{}}
	series := map[string]pipeline.SeriesSink{}
	for _, r := range routes {
		series[r] = routeSink{log, r}
	}
	l, err := pipelinetest.New(pipeline.Config{Plan: plan.Config{Rules: s, Unmatched: u}, Series: series, Reg: reg})
	if err != nil {
		t.Fatal(err)
	}
	return &harness{Local: l}, log
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

// send feeds gauge points to h as one otlp_proto record of metrics
// partition 0.
func send(t testing.TB, h *harness, pts ...gaugePoint) {
	t.Helper()
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
	raw, err := (&pmetric.ProtoMarshaler{}).MarshalMetrics(md)
	if err != nil {
		t.Fatal(err)
	}
	if err := h.Handle(pipeline.Record{Offset: h.offset, Value: raw}); err != nil {
		t.Fatal(err)
	}
	h.offset++
}

// sendEach feeds one point of metric name per second from..to (inclusive),
// each its own record, value 1.
func sendEach(t testing.TB, h *harness, name string, from, to int64) {
	t.Helper()
	for s := from; s <= to; s++ {
		send(t, h, gaugePoint{name: name, sec: s, v: 1})
	}
}

func flush(t testing.TB, h *harness) {
	t.Helper()
	if err := h.Flush(context.Background()); err != nil {
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

// counter returns the value of a counter (or the sum of a counter vector's
// series whose labels include the given name=value pairs) in reg.
func counter(t testing.TB, reg prometheus.Gatherer, name string, lv ...string) float64 {
	t.Helper()
	mfs, err := reg.Gather()
	if err != nil {
		t.Fatal(err)
	}
	sum := 0.0
	for _, mf := range mfs {
		if mf.GetName() != name {
			continue
		}
		for _, m := range mf.GetMetric() {
			if hasLabels(m, lv) {
				sum += m.GetCounter().GetValue() + m.GetGauge().GetValue()
			}
		}
	}
	return sum
}

func hasLabels(m *dto.Metric, lv []string) bool {
	for i := 0; i+1 < len(lv); i += 2 {
		found := false
		for _, l := range m.GetLabel() {
			if l.GetName() == lv[i] && l.GetValue() == lv[i+1] {
				found = true
			}
		}
		if !found {
			return false
		}
	}
	return true
}

// testPipelineWith is testPipeline for a config of the test's own, its
// series sinks set to the routes.
func testPipelineWith(t testing.TB, cfg pipeline.Config, routes ...string) (*harness, *sampleLog) {
	t.Helper()
	log := &sampleLog{samples: map[string]float64{}}
	cfg.Series = map[string]pipeline.SeriesSink{}
	for _, r := range routes {
		cfg.Series[r] = routeSink{log, r}
	}
	l, err := pipelinetest.New(cfg)
	if err != nil {
		t.Fatal(err)
	}
	return &harness{Local: l}, log
}
