package pipeline_test

import (
	"context"
	"strings"
	"testing"
	"time"

	"github.com/weirdev/weir/ingest"
	"github.com/weirdev/weir/pipeline"
	"github.com/weirdev/weir/pipeline/pipelinetest"
	"github.com/weirdev/weir/plan"
	"github.com/weirdev/weir/rules"
	"go.opentelemetry.io/collector/pdata/pcommon"
	"go.opentelemetry.io/collector/pdata/ptrace"
)

// TestSpanDimensionsPerService: a dimension named for one service stays on
// that service's span series and is dropped from the others'.
func TestSpanDimensionsPerService(t *testing.T) {
	set, err := rules.Parse("spans.yaml", []byte(`
rollup:
  - name: red-by-route
    match: '{__name__="span_duration_seconds"}'
    output: span_duration_seconds
    without: [span_kind]
    aggregations: [count]
    policies: [10s:2d]
spans:
  dimensions: [http.route]
  services:
    checkout: {dimensions: [payment.method]}
`))
	if err != nil {
		t.Fatal(err)
	}
	log := &sampleLog{samples: map[string]float64{}}
	l, err := pipelinetest.New(pipeline.Config{Plan: plan.Config{Rules: set}, SpanConvert: []ingest.ConvertOpt{ingest.SpanDimensions(set.AllSpanDimensions()...)},
		Series: map[string]pipeline.SeriesSink{"": routeSink{log, ""}}})
	if err != nil {
		t.Fatal(err)
	}
	end := time.Now().Add(-time.Minute)
	td := ptrace.NewTraces()
	for _, svc := range []string{"checkout", "cart"} {
		rs := td.ResourceSpans().AppendEmpty()
		rs.Resource().Attributes().PutStr("service.name", svc)
		s := rs.ScopeSpans().AppendEmpty().Spans().AppendEmpty()
		s.SetTraceID(traceID(1))
		s.SetSpanID(pcommon.SpanID{1})
		s.SetName("op")
		s.SetKind(ptrace.SpanKindServer)
		s.SetStartTimestamp(pcommon.NewTimestampFromTime(end.Add(-100 * time.Millisecond)))
		s.SetEndTimestamp(pcommon.NewTimestampFromTime(end))
		s.Attributes().PutStr("http.route", "/r")
		s.Attributes().PutStr("payment.method", "card")
	}
	raw, err := (&ptrace.ProtoMarshaler{}).MarshalTraces(td)
	if err != nil {
		t.Fatal(err)
	}
	if err := l.Handle(pipeline.Record{Spans: true, Value: raw}); err != nil {
		t.Fatal(err)
	}
	if err := l.Flush(context.Background()); err != nil {
		t.Fatal(err)
	}
	var got []string
	for k := range log.samples {
		got = append(got, k)
	}
	if len(got) != 2 {
		t.Fatalf("got %d series, want 2: %v", len(got), got)
	}
	for _, k := range got {
		hasPay := strings.Contains(k, "payment_method")
		isCheckout := strings.Contains(k, "checkout")
		if hasPay != isCheckout || !strings.Contains(k, "http_route") {
			t.Errorf("series %s: payment_method kept=%v for checkout=%v; http_route must stay", k, hasPay, isCheckout)
		}
	}
}
