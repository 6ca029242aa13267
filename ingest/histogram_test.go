package ingest

import (
	"fmt"
	"testing"
	"time"

	"go.opentelemetry.io/collector/pdata/pmetric"

	"github.com/weirdev/weir/sample"
)

type cumHist struct {
	start, at time.Duration
	bounds    []float64
	counts    []uint64
	sum       float64
	want      *sample.BucketHistogram // nil: nothing
}

func TestCumulativeHistogramToDelta(t *testing.T) {
	b := []float64{0.1, 1}
	for _, tc := range []struct {
		name   string
		points []cumHist
	}{
		{"baseline, deltas", []cumHist{
			{0, 10 * time.Second, b, []uint64{1, 2, 0}, 2, nil},
			{0, 20 * time.Second, b, []uint64{3, 2, 1}, 5.5, &sample.BucketHistogram{Bounds: b, Counts: []uint64{2, 0, 1}, Sum: 3.5, Count: 3}},
			{0, 30 * time.Second, b, []uint64{3, 2, 1}, 5.5, &sample.BucketHistogram{Bounds: b, Counts: []uint64{0, 0, 0}, Sum: 0, Count: 0}},
		}},
		{"reset by a bucket decrease", []cumHist{
			{0, 10 * time.Second, b, []uint64{5, 5, 5}, 10, nil},
			{0, 20 * time.Second, b, []uint64{6, 1, 9}, 11, &sample.BucketHistogram{Bounds: b, Counts: []uint64{6, 1, 9}, Sum: 11, Count: 16}},
		}},
		{"reset by new start", []cumHist{
			{0, 10 * time.Second, b, []uint64{1, 1, 1}, 1, nil},
			{15 * time.Second, 20 * time.Second, b, []uint64{2, 2, 2}, 3, &sample.BucketHistogram{Bounds: b, Counts: []uint64{2, 2, 2}, Sum: 3, Count: 6}},
		}},
		{"reset by new bounds", []cumHist{
			{0, 10 * time.Second, b, []uint64{1, 1, 1}, 1, nil},
			{0, 20 * time.Second, []float64{0.5}, []uint64{3, 4}, 3, &sample.BucketHistogram{Bounds: []float64{0.5}, Counts: []uint64{3, 4}, Sum: 3, Count: 7}},
			{0, 30 * time.Second, []float64{0.5}, []uint64{4, 4}, 3.5, &sample.BucketHistogram{Bounds: []float64{0.5}, Counts: []uint64{1, 0}, Sum: 0.5, Count: 1}},
		}},
		{"replay yields nothing", []cumHist{
			{0, 10 * time.Second, b, []uint64{1, 1, 1}, 1, nil},
			{0, 10 * time.Second, b, []uint64{1, 1, 1}, 1, nil},
			{0, 20 * time.Second, b, []uint64{1, 1, 2}, 2, &sample.BucketHistogram{Bounds: b, Counts: []uint64{0, 0, 1}, Sum: 1, Count: 1}},
		}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			c := NewMetricConverter()
			for i, p := range tc.points {
				md := oneMetric("d", func(m pmetric.Metric) {
					h := m.SetEmptyHistogram()
					h.SetAggregationTemporality(pmetric.AggregationTemporalityCumulative)
					dp := h.DataPoints().AppendEmpty()
					dp.SetStartTimestamp(ts(p.start))
					dp.SetTimestamp(ts(p.at))
					dp.ExplicitBounds().FromRaw(p.bounds)
					dp.BucketCounts().FromRaw(p.counts)
					var n uint64
					for _, x := range p.counts {
						n += x
					}
					dp.SetCount(n)
					dp.SetSum(p.sum)
				})
				var got []sample.Point
				c.Convert(md, "", collect(&got))
				if p.want == nil {
					if len(got) != 0 {
						t.Fatalf("point %d: got %v, want nothing", i, pointStrings(got))
					}
					continue
				}
				if len(got) != 1 || got[0].Kind != sample.Histogram || fmt.Sprintf("%+v", *got[0].Hist) != fmt.Sprintf("%+v", *p.want) {
					t.Fatalf("point %d: got %v, want hist %+v", i, pointStrings(got), *p.want)
				}
			}
		})
	}
}

type cumExp struct {
	start  time.Duration
	scale  int32
	zero   uint64
	posOff int32
	pos    []uint64
	want   *sample.ExpHistogram
}

func TestCumulativeExponentialHistogramToDelta(t *testing.T) {
	for _, tc := range []struct {
		name   string
		points []cumExp
	}{
		{"baseline, then range grows downwards", []cumExp{
			{0, 2, 1, 3, []uint64{1, 2}, nil},
			{0, 2, 2, 1, []uint64{4, 0, 1, 5}, &sample.ExpHistogram{Scale: 2, ZeroCount: 1, PosOffset: 1, Pos: []uint64{4, 0, 0, 3}, Count: 8}},
		}},
		{"downscale of the previous point", []cumExp{
			// Scale 1 buckets 2,3,4,5 hold 1,1,1,1; at scale 0 they are buckets 1,1,2,2.
			{0, 1, 0, 2, []uint64{1, 1, 1, 1}, nil},
			{0, 0, 0, 1, []uint64{3, 5}, &sample.ExpHistogram{Scale: 0, PosOffset: 1, Pos: []uint64{1, 3}, Count: 4}},
		}},
		{"reset by higher scale", []cumExp{
			{0, 0, 0, 1, []uint64{3, 5}, nil},
			{0, 1, 0, 2, []uint64{4, 4, 4, 4}, &sample.ExpHistogram{Scale: 1, PosOffset: 2, Pos: []uint64{4, 4, 4, 4}, Count: 16}},
		}},
		{"reset by a bucket that emptied", []cumExp{
			{0, 0, 0, 0, []uint64{3, 5}, nil},
			{0, 0, 0, 1, []uint64{9}, &sample.ExpHistogram{Scale: 0, PosOffset: 1, Pos: []uint64{9}, Count: 9}},
		}},
		{"reset by new start", []cumExp{
			{0, 0, 5, 0, []uint64{3}, nil},
			{time.Second, 0, 6, 0, []uint64{4}, &sample.ExpHistogram{Scale: 0, ZeroCount: 6, Pos: []uint64{4}, Count: 10}},
		}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			c := NewMetricConverter()
			for i, p := range tc.points {
				md := oneMetric("e", func(m pmetric.Metric) {
					h := m.SetEmptyExponentialHistogram()
					h.SetAggregationTemporality(pmetric.AggregationTemporalityCumulative)
					dp := h.DataPoints().AppendEmpty()
					dp.SetStartTimestamp(ts(p.start))
					dp.SetTimestamp(ts(time.Duration(i+1) * 10 * time.Second))
					dp.SetScale(p.scale)
					dp.SetZeroCount(p.zero)
					dp.Positive().SetOffset(p.posOff)
					dp.Positive().BucketCounts().FromRaw(p.pos)
					n := p.zero
					for _, x := range p.pos {
						n += x
					}
					dp.SetCount(n)
				})
				var got []sample.Point
				c.Convert(md, "", collect(&got))
				if p.want == nil {
					if len(got) != 0 {
						t.Fatalf("point %d: got %v, want nothing", i, pointStrings(got))
					}
					continue
				}
				if p.want.Neg == nil {
					p.want.Neg = []uint64{}
				}
				if len(got) != 1 || got[0].Kind != sample.ExponentialHistogram || fmt.Sprintf("%+v", *got[0].Exp) != fmt.Sprintf("%+v", *p.want) {
					t.Fatalf("point %d: got %v, want exp %+v", i, pointStrings(got), *p.want)
				}
			}
		})
	}
}

func TestDownscale(t *testing.T) {
	for _, tc := range []struct {
		in    buckets
		shift int32
		want  string
	}{
		{buckets{-3, []uint64{1, 2, 3, 4}}, 1, "{off:-2 counts:[1 5 4]}"}, // -3→-2, -2,-1→-1, 0→0: floor division.
		{buckets{-3, []uint64{1, 2, 3, 4}}, 2, "{off:-1 counts:[6 4]}"},
		{buckets{5, nil}, 1, "{off:2 counts:[]}"},
		{buckets{2147483647, []uint64{1, 1}}, 1, "{off:1073741823 counts:[1 1]}"}, // No int32 overflow.
	} {
		got := downscale(tc.in, tc.shift)
		if s := fmt.Sprintf("{off:%d counts:%v}", got.off, got.counts); s != tc.want {
			t.Errorf("downscale(%+v, %d) = %s, want %s", tc.in, tc.shift, s, tc.want)
		}
	}
}
