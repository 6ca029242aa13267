package ingest_test

import (
	"errors"
	"math/rand/v2"
	"testing"
	"time"

	"go.opentelemetry.io/collector/pdata/pmetric"

	"github.com/weirdev/weir/ingest"
	"github.com/weirdev/weir/ingest/ingesttest"
	"github.com/weirdev/weir/sample"
)

// TestConvertAccountsForEveryPoint: on generated input, every data point
// the converter reads is emitted or dropped under one reason, alike on the
// pdata path and weir's own decoder, and emits happen exactly for the
// points counted as emitted.
func TestConvertAccountsForEveryPoint(t *testing.T) {
	r := rand.New(rand.NewPCG(1, 2))
	t0 := time.Now().Truncate(time.Minute)
	viaPdata, viaProto := ingest.NewMetricConverter(), ingest.NewMetricConverter()
	var total ingest.ConvertStats
	var inPoints, emits, summaryPoints uint64
	for i := range 2000 {
		md := ingesttest.RandomMetrics(r, t0.Add(time.Duration(i)*time.Second), false)
		inPoints += uint64(md.DataPointCount())
		raw, err := (&pmetric.ProtoMarshaler{}).MarshalMetrics(md)
		if err != nil {
			t.Fatal(err)
		}
		viaPdata.SetOffset(int64(i))
		viaPdata.Convert(md, "", func(p *sample.Point) { emits++ })
		summaryPoints += ingesttest.SummaryExtra(md)
		a := viaPdata.TakeStats()
		viaProto.SetOffset(int64(i))
		if err := viaProto.ConvertProto(raw, "", func(*sample.Point) {}); errors.Is(err, ingest.ErrNeedsPdata) {
			viaProto.Convert(md, "", func(*sample.Point) {})
		} else if err != nil {
			t.Fatalf("record %d: %v", i, err)
		}
		if b := viaProto.TakeStats(); a != b {
			t.Fatalf("record %d: pdata path counted %+v, weir's decoder %+v", i, a, b)
		}
		total.Points += a.Points
		total.Emitted += a.Emitted
		for j, n := range a.Dropped {
			total.Dropped[j] += n
		}
	}
	var dropped uint64
	for j, n := range total.Dropped {
		dropped += n
		if n == 0 {
			t.Errorf("no point dropped as %s: the generator does not reach it", ingest.Reason(j))
		}
	}
	if total.Points != inPoints || total.Points != total.Emitted+dropped {
		t.Errorf("input %d data points; converter read %d = %d emitted + %d dropped %v", inPoints, total.Points, total.Emitted, dropped, total.Dropped)
	}
	if emits != total.Emitted+summaryPoints {
		t.Errorf("%d emits for %d points counted emitted (+%d more of summaries)", emits, total.Emitted, summaryPoints)
	}
	t.Logf("%d data points: %d emitted, dropped %v", total.Points, total.Emitted, total.Dropped)
}
