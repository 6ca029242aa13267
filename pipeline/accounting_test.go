package pipeline_test

import (
	"context"
	"math/rand/v2"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"go.opentelemetry.io/collector/pdata/pmetric"

	"github.com/weirdev/weir/ingest/ingesttest"
	"github.com/weirdev/weir/pipeline"
	"github.com/weirdev/weir/plan"
	"github.com/weirdev/weir/rules"
)

// TestEveryPointAccountedFor is the accounting identity on generated OTLP
// (ingesttest.RandomMetrics: every kind and temporality, NaN and
// infinities, malformed histograms, replays, points with no recorded value)
// at event times in order, late beyond their window's close and far in
// the future, among records that do not decode: every data point read is
// dropped by the converter under a reason, or yields points, each of which
// is taken into a window or dropped by the aggregator under a reason.
func TestEveryPointAccountedFor(t *testing.T) {
	reg := prometheus.NewRegistry()
	h, _ := testPipeline(t, mustRules(t, ""), plan.Unmatched{Policies: []rules.StoragePolicy{{Resolution: 10 * time.Second, Retention: 48 * time.Hour}}}, reg, "10s:2d")
	r := rand.New(rand.NewPCG(7, 7))
	start := time.Now().Add(-time.Hour)
	var dataPoints, extra, undecodable uint64
	for i := range 3000 {
		written := start.Add(time.Duration(i) * time.Second) // the record's own time
		at := written
		switch r.IntN(20) {
		case 0:
			at = at.Add(-10 * time.Minute) // late: its window closed
		case 1:
			at = written.Add(time.Hour) // too far ahead of its record
		}
		md := ingesttest.RandomMetrics(r, at, false)
		raw, err := (&pmetric.ProtoMarshaler{}).MarshalMetrics(md)
		if err != nil {
			t.Fatal(err)
		}
		if r.IntN(50) == 0 {
			raw = raw[:len(raw)/2+1] // cut short
		}
		if err := h.Handle(pipeline.Record{Offset: h.offset, Time: written, Value: raw}); err != nil {
			undecodable++
		} else if got, err := (&pmetric.ProtoUnmarshaler{}).UnmarshalMetrics(raw); err != nil {
			t.Fatalf("record %d was taken, but pdata refuses it: %v", i, err)
		} else { // what was read: a record cut at a field's end still decodes
			dataPoints += uint64(got.DataPointCount())
			extra += ingesttest.SummaryExtra(got)
		}
		h.offset++
		if i%100 == 99 { // a poll's end: windows the watermark passed close
			if err := h.Advance(context.Background(), time.Now()); err != nil {
				t.Fatal(err)
			}
		}
	}
	flush(t, h)
	read := counter(t, reg, "weir_ingest_data_points_total")
	convDropped := counter(t, reg, "weir_ingest_dropped_points_total")
	taken := counter(t, reg, "weir_aggregator_points_total")
	aggDropped := counter(t, reg, "weir_aggregator_dropped_points_total") + counter(t, reg, "weir_aggregator_replayed_points_total")
	if read != float64(dataPoints) {
		t.Errorf("the converter read %v data points of the %d in the records taken", read, dataPoints)
	}
	// The converter yields one point per data point it does not drop, and
	// a summary's sum and quantiles beside its count.
	if yielded := read - convDropped + float64(extra); yielded != taken+aggDropped {
		t.Errorf("%v data points read, %v dropped by the converter: %v points yielded, but %v taken into windows + %v dropped by the aggregator",
			read, convDropped, yielded, taken, aggDropped)
	}
	for _, reason := range []string{"future", "window_closed", "invalid"} {
		if counter(t, reg, "weir_aggregator_dropped_points_total", "reason", reason) == 0 {
			t.Errorf("no point dropped as %s: the input does not reach it", reason)
		}
	}
	if undecodable == 0 {
		t.Error("every cut record decoded")
	}
	t.Logf("%v data points read: %v dropped by the converter; %v taken, %v dropped by the aggregator; %d records undecodable", read, convDropped, taken, aggDropped, undecodable)
}
