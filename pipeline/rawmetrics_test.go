package pipeline_test

import (
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"go.opentelemetry.io/collector/pdata/pcommon"
	"go.opentelemetry.io/collector/pdata/pmetric"
	"google.golang.org/protobuf/encoding/protowire"

	"github.com/weirdev/weir/ingest"
	"github.com/weirdev/weir/pipeline"
	"github.com/weirdev/weir/plan"
)

// Stage 1 reads otlp_proto records with the fast decoder (gauges and sums in
// place, histograms by pdata one by one) and the few it leaves to pdata
// whole, with the output pdata gives (here through otlp_json); a record
// neither decodes is refused, with nothing aggregated.
func TestStage1MetricsRecords(t *testing.T) {
	at := pcommon.NewTimestampFromTime(time.Now().Add(-time.Minute))
	gauges := pmetric.NewMetrics()
	rm := gauges.ResourceMetrics().AppendEmpty()
	rm.Resource().Attributes().PutStr("service.name", "checkout")
	ms := rm.ScopeMetrics().AppendEmpty().Metrics()
	g := ms.AppendEmpty()
	g.SetName("queue.depth")
	gauge := g.SetEmptyGauge()
	for i := range 5 {
		dp := gauge.DataPoints().AppendEmpty()
		dp.SetTimestamp(at)
		dp.SetIntValue(int64(i))
		dp.Attributes().PutStr("queue", "q")
	}
	hists := pmetric.NewMetrics()
	h := hists.ResourceMetrics().AppendEmpty().ScopeMetrics().AppendEmpty().Metrics().AppendEmpty()
	h.SetName("latency")
	hp := h.SetEmptyHistogram().DataPoints().AppendEmpty()
	h.Histogram().SetAggregationTemporality(pmetric.AggregationTemporalityDelta)
	hp.SetTimestamp(at)
	hp.ExplicitBounds().FromRaw([]float64{1})
	hp.BucketCounts().FromRaw([]uint64{2, 3})
	hp.SetCount(5)
	var recs [][]byte
	for _, md := range []pmetric.Metrics{gauges, hists} {
		raw, err := (&pmetric.ProtoMarshaler{}).MarshalMetrics(md)
		if err != nil {
			t.Fatal(err)
		}
		recs = append(recs, raw)
	}
	// A gauge under the deprecated instrumentation_library_metrics (field
	// 1000 of ResourceMetrics), which pdata reads and ignores.
	metric := protowire.AppendString(protowire.AppendTag(nil, 1, protowire.BytesType), "old")
	scope := protowire.AppendBytes(protowire.AppendTag(nil, 2, protowire.BytesType), metric)
	res := protowire.AppendBytes(protowire.AppendTag(nil, 1000, protowire.BytesType), scope)
	recs = append(recs, protowire.AppendBytes(protowire.AppendTag(nil, 1, protowire.BytesType), res))

	reg := prometheus.NewRegistry()
	raw, rawOut := testPipeline(t, nil, plan.Unmatched{}, reg, "")
	ref, refOut := testPipelineWith(t, pipeline.Config{MetricsEncoding: ingest.EncodingJSON}, "")
	for i, b := range recs {
		if err := raw.Handle(pipeline.Record{Offset: int64(i), Value: b}); err != nil {
			t.Fatalf("record %d: %v", i, err)
		}
		md, err := ingest.DecodeMetrics(ingest.EncodingProto, b)
		if err != nil {
			t.Fatal(err)
		}
		js, err := (&pmetric.JSONMarshaler{}).MarshalMetrics(md)
		if err != nil {
			t.Fatal(err)
		}
		if err := ref.Handle(pipeline.Record{Offset: int64(i), Value: js}); err != nil {
			t.Fatalf("record %d as JSON: %v", i, err)
		}
	}
	if err := raw.Handle(pipeline.Record{Offset: 3, Value: []byte{0x0f, 0x01}}); err == nil {
		t.Error("a record pdata refuses was accepted")
	}
	flush(t, raw)
	flush(t, ref)
	if len(refOut.samples) == 0 || len(rawOut.samples) != len(refOut.samples) {
		t.Fatalf("%d samples out, want the %d of pdata's", len(rawOut.samples), len(refOut.samples))
	}
	for k, v := range refOut.samples {
		if got, ok := rawOut.samples[k]; !ok || got != v {
			t.Errorf("sample %s: got %v (%v), want %v", k, got, ok, v)
		}
	}
	fast, pdata := counter(t, reg, "weir_pipeline_metrics_records_total", "decoder", "fast"), counter(t, reg, "weir_pipeline_metrics_records_total", "decoder", "pdata")
	if fast != 2 || pdata != 1 {
		t.Errorf("records read by the fast decoder: %v, by pdata: %v; want 2 and 1", fast, pdata)
	}
}
