package ingest

import (
	"fmt"
	"testing"
	"time"

	"go.opentelemetry.io/collector/pdata/pmetric"

	"github.com/weirdev/weir/sample"
)

// cumPoint is one cumulative sum point of a series; want is the Delta it
// must yield, or nil for none.
type cumPoint struct {
	start, at time.Duration
	v         float64
	noValue   bool
	want      *float64
}

func f(v float64) *float64 { return &v }

func cumulativeSum(p cumPoint, route string) pmetric.Metrics {
	return oneMetric("requests", func(m pmetric.Metric) {
		s := m.SetEmptySum()
		s.SetIsMonotonic(true)
		s.SetAggregationTemporality(pmetric.AggregationTemporalityCumulative)
		dp := s.DataPoints().AppendEmpty()
		dp.SetStartTimestamp(ts(p.start))
		dp.SetTimestamp(ts(p.at))
		dp.SetDoubleValue(p.v)
		dp.Attributes().PutStr("route", route)
		if p.noValue {
			dp.SetFlags(pmetric.DefaultDataPointFlags.WithNoRecordedValue(true))
		}
	})
}

func TestCumulativeSumToDelta(t *testing.T) {
	for _, tc := range []struct {
		name   string
		points []cumPoint
	}{
		{"first point is a baseline", []cumPoint{{0, 10 * time.Second, 5, false, nil}}},
		{"increase", []cumPoint{
			{0, 10 * time.Second, 5, false, nil},
			{0, 20 * time.Second, 8, false, f(3)},
			{0, 30 * time.Second, 8, false, f(0)},
			{0, 40 * time.Second, 20.5, false, f(12.5)},
		}},
		{"reset by decrease", []cumPoint{
			{0, 10 * time.Second, 100, false, nil},
			{0, 20 * time.Second, 4, false, f(4)},
			{0, 30 * time.Second, 6, false, f(2)},
		}},
		{"reset by new start time", []cumPoint{
			{0, 10 * time.Second, 100, false, nil},
			{15 * time.Second, 20 * time.Second, 150, false, f(150)},
			{15 * time.Second, 30 * time.Second, 160, false, f(10)},
		}},
		{"replay and out of order yield nothing", []cumPoint{
			{0, 10 * time.Second, 5, false, nil},
			{0, 20 * time.Second, 8, false, f(3)},
			{0, 20 * time.Second, 8, false, nil},
			{0, 15 * time.Second, 6, false, nil},
			{0, 30 * time.Second, 9, false, f(1)},
		}},
		{"no recorded value ends the series", []cumPoint{
			{0, 10 * time.Second, 5, false, nil},
			{0, 20 * time.Second, 0, true, nil},
			{0, 30 * time.Second, 9, false, nil},
			{0, 40 * time.Second, 10, false, f(1)},
		}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			c := NewMetricConverter()
			for i, p := range tc.points {
				var got []sample.Point
				c.Convert(cumulativeSum(p, "/cart"), "acme", collect(&got))
				if p.want == nil {
					if len(got) != 0 {
						t.Fatalf("point %d: got %v, want nothing", i, pointStrings(got))
					}
					continue
				}
				if len(got) != 1 || got[0].Kind != sample.Delta || got[0].V != *p.want || got[0].T != ms(p.at) || got[0].Tenant != "acme" {
					t.Fatalf("point %d: got %v, want one Delta %g at %d", i, pointStrings(got), *p.want, ms(p.at))
				}
			}
		})
	}
}

// Series are told apart by labels and tenant.
func TestCumulativeSeriesAreSeparate(t *testing.T) {
	c := NewMetricConverter()
	var got []sample.Point
	for step, v := range []float64{10, 15} {
		at := time.Duration(step+1) * time.Second
		c.Convert(cumulativeSum(cumPoint{at: at, v: v}, "/a"), "t1", collect(&got))
		c.Convert(cumulativeSum(cumPoint{at: at, v: 100 * v}, "/b"), "t1", collect(&got))
		c.Convert(cumulativeSum(cumPoint{at: at, v: 1000 * v}, "/a"), "t2", collect(&got))
	}
	want := []string{"t1 5", "t1 500", "t2 5000"}
	if len(got) != len(want) {
		t.Fatalf("got %v", pointStrings(got))
	}
	for i, p := range got {
		if s := fmt.Sprintf("%s %g", p.Tenant, p.V); s != want[i] {
			t.Errorf("point %d = %q, want %q", i, s, want[i])
		}
	}
	if c.Series() != 3 {
		t.Errorf("Series() = %d, want 3", c.Series())
	}
}

func TestStaleStateIsDropped(t *testing.T) {
	now := t0
	c := NewMetricConverter(StaleAfter(time.Minute))
	c.now = func() time.Time { return now }
	var got []sample.Point
	c.Convert(cumulativeSum(cumPoint{at: time.Second, v: 1}, "/a"), "", collect(&got))
	c.Convert(cumulativeSum(cumPoint{at: time.Second, v: 1}, "/b"), "", collect(&got))
	now = now.Add(45 * time.Second)
	c.Convert(cumulativeSum(cumPoint{at: 2 * time.Second, v: 2}, "/b"), "", collect(&got))
	now = now.Add(45 * time.Second) // /a unseen for 90s, /b for 45s.
	c.Convert(cumulativeSum(cumPoint{at: 3 * time.Second, v: 3}, "/a"), "", collect(&got))
	if c.Series() != 2 {
		t.Errorf("Series() = %d, want 2 (/a dropped then new baseline, /b kept)", c.Series())
	}
	if len(got) != 1 || got[0].V != 1 {
		t.Errorf("got %v, want only /b's delta 1 (/a's state was dropped)", pointStrings(got))
	}
}
