package promstore

import (
	"context"
	"errors"
	"fmt"
	"math"
	"os"
	"strings"
	"testing"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/testutil"
	"github.com/prometheus/common/model"
	"github.com/prometheus/prometheus/model/labels"
	"github.com/prometheus/prometheus/prompb"
	"github.com/prometheus/prometheus/storage"
	"github.com/prometheus/prometheus/tsdb/chunkenc"
)

// base is the first timestamp of the test data, in milliseconds.
const base = int64(1_700_000_000_000)

func openStore(t testing.TB, opts ...Opt) *Store {
	t.Helper()
	s, err := Open("", opts...)
	if err != nil {
		t.Fatalf("Open: %v", err)
	}
	t.Cleanup(func() {
		if err := s.Close(); err != nil {
			t.Errorf("Close: %v", err)
		}
	})
	return s
}

func series(lbls map[string]string, samples ...prompb.Sample) prompb.TimeSeries {
	ts := prompb.TimeSeries{Samples: samples}
	labels.FromMap(lbls).Range(func(l labels.Label) {
		ts.Labels = append(ts.Labels, prompb.Label{Name: l.Name, Value: l.Value})
	})
	return ts
}

func withExemplar(ts prompb.TimeSeries, traceID, spanID string, v float64, t int64) prompb.TimeSeries {
	ts.Exemplars = append(ts.Exemplars, prompb.Exemplar{
		Labels:    []prompb.Label{{Name: "trace_id", Value: traceID}, {Name: "span_id", Value: spanID}},
		Value:     v,
		Timestamp: t,
	})
	return ts
}

// readAll returns every float sample of the series matching ms.
func readAll(t *testing.T, s *Store, ms ...*labels.Matcher) map[string][]prompb.Sample {
	t.Helper()
	q, err := s.Querier(math.MinInt64, math.MaxInt64)
	if err != nil {
		t.Fatalf("Querier: %v", err)
	}
	defer q.Close()
	out := map[string][]prompb.Sample{}
	set := q.Select(context.Background(), true, nil, ms...)
	for set.Next() {
		it := set.At().Iterator(nil)
		key := set.At().Labels().String()
		for it.Next() == chunkenc.ValFloat {
			ts, v := it.At()
			out[key] = append(out[key], prompb.Sample{Timestamp: ts, Value: v})
		}
		if err := it.Err(); err != nil {
			t.Fatalf("iterating %s: %v", key, err)
		}
	}
	if err := set.Err(); err != nil {
		t.Fatalf("Select: %v", err)
	}
	return out
}

func nameIs(name string) *labels.Matcher {
	return labels.MustNewMatcher(labels.MatchEqual, model.MetricNameLabel, name)
}

func TestWriteOutOfOrderAccepted(t *testing.T) {
	s := openStore(t)
	ctx := context.Background()
	lbls := map[string]string{"__name__": "late_total", "job": "x"}

	// The newest window first, then two older ones: windows close out of order.
	for _, ts := range []int64{base + 60_000, base, base + 30_000} {
		if err := s.Write(ctx, []prompb.TimeSeries{series(lbls, prompb.Sample{Timestamp: ts, Value: float64(ts - base)})}); err != nil {
			t.Fatalf("Write at %d: %v", ts, err)
		}
	}
	got := readAll(t, s, nameIs("late_total"))[`{__name__="late_total", job="x"}`]
	want := []prompb.Sample{{Timestamp: base, Value: 0}, {Timestamp: base + 30_000, Value: 30_000}, {Timestamp: base + 60_000, Value: 60_000}}
	if fmt.Sprint(got) != fmt.Sprint(want) {
		t.Fatalf("samples = %v, want %v", got, want)
	}
}

func TestWriteBeyondWindowRejectedAsAWhole(t *testing.T) {
	s := openStore(t, WithOutOfOrderWindow(0))
	ctx := context.Background()
	a := map[string]string{"__name__": "a"}
	b := map[string]string{"__name__": "b"}
	if err := s.Write(ctx, []prompb.TimeSeries{series(a, prompb.Sample{Timestamp: base + 1000, Value: 1})}); err != nil {
		t.Fatalf("first Write: %v", err)
	}
	err := s.Write(ctx, []prompb.TimeSeries{
		series(b, prompb.Sample{Timestamp: base + 2000, Value: 2}),
		series(a, prompb.Sample{Timestamp: base, Value: 0}),
	})
	if !errors.Is(err, storage.ErrOutOfOrderSample) {
		t.Fatalf("err = %v, want %v", err, storage.ErrOutOfOrderSample)
	}
	if !strings.Contains(err.Error(), `series 1 {__name__="a"}`) || !strings.Contains(err.Error(), fmt.Sprint(base)) {
		t.Errorf("error %q does not name the series and the timestamp", err)
	}
	if got := readAll(t, s, nameIs("b")); len(got) != 0 {
		t.Errorf("series b was written by a failed Write: %v", got)
	}
}

func TestWriteIdempotent(t *testing.T) {
	s := openStore(t)
	ctx := context.Background()
	lbls := map[string]string{"__name__": "rollup", "quantile": "0.99"}
	batch := []prompb.TimeSeries{withExemplar(series(lbls,
		prompb.Sample{Timestamp: base, Value: 0.5},
		prompb.Sample{Timestamp: base + 10_000, Value: 0.7},
	), "0af7651916cd43dd8448eb211c80319c", "b7ad6b7169203331", 0.69, base+10_000)}

	for i := range 3 {
		if err := s.Write(ctx, batch); err != nil {
			t.Fatalf("Write #%d: %v", i+1, err)
		}
	}
	got := readAll(t, s, nameIs("rollup"))[`{__name__="rollup", quantile="0.99"}`]
	if fmt.Sprint(got) != fmt.Sprint(batch[0].Samples) {
		t.Errorf("samples after 3 writes = %v, want %v", got, batch[0].Samples)
	}
	eq, err := s.ExemplarQuerier(ctx)
	if err != nil {
		t.Fatal(err)
	}
	res, err := eq.Select(math.MinInt64, math.MaxInt64, []*labels.Matcher{nameIs("rollup")})
	if err != nil {
		t.Fatal(err)
	}
	if len(res) != 1 || len(res[0].Exemplars) != 1 {
		t.Errorf("exemplars after 3 writes = %+v, want the one exemplar once", res)
	}

	// The same timestamp with another value is a conflict, not a replay.
	conflict := []prompb.TimeSeries{series(lbls, prompb.Sample{Timestamp: base + 10_000, Value: 0.8})}
	err = s.Write(ctx, conflict)
	if !errors.Is(err, storage.ErrDuplicateSampleForTimestamp) {
		t.Fatalf("conflicting Write: err = %v, want %v", err, storage.ErrDuplicateSampleForTimestamp)
	}
	if !strings.Contains(err.Error(), `quantile="0.99"`) {
		t.Errorf("error %q does not name the series", err)
	}
}

func TestWriteRefusesBadSeries(t *testing.T) {
	tests := []struct {
		name   string
		series prompb.TimeSeries
		want   string
	}{
		{"no name", series(map[string]string{"job": "x"}, prompb.Sample{Timestamp: base, Value: 1}), "has no __name__"},
		{"no samples", withExemplar(series(map[string]string{"__name__": "x"}), "0af7651916cd43dd8448eb211c80319c", "b7ad6b7169203331", 1, base), "has no sample"},
		{"repeated label", prompb.TimeSeries{
			Labels:  []prompb.Label{{Name: "__name__", Value: "x"}, {Name: "a", Value: "1"}, {Name: "a", Value: "2"}},
			Samples: []prompb.Sample{{Timestamp: base, Value: 1}},
		}, `repeats label "a"`},
		{"invalid utf-8", series(map[string]string{"__name__": "x", "a": "\xff"}, prompb.Sample{Timestamp: base, Value: 1}), "invalid label"},
	}
	s := openStore(t)
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			good := series(map[string]string{"__name__": "good"}, prompb.Sample{Timestamp: base, Value: 1})
			err := s.Write(context.Background(), []prompb.TimeSeries{good, tt.series})
			if err == nil || !strings.Contains(err.Error(), "series 1 ") || !strings.Contains(err.Error(), tt.want) {
				t.Fatalf("err = %v, want one naming series 1 and saying %q", err, tt.want)
			}
			if got := readAll(t, s, nameIs("good")); len(got) != 0 {
				t.Errorf("the good series of a refused batch was written: %v", got)
			}
		})
	}
}

func TestWriteCanceledContext(t *testing.T) {
	s := openStore(t)
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	err := s.Write(ctx, []prompb.TimeSeries{series(map[string]string{"__name__": "x"}, prompb.Sample{Timestamp: base, Value: 1})})
	if !errors.Is(err, context.Canceled) {
		t.Fatalf("err = %v, want context.Canceled", err)
	}
}

func TestWriteNativeHistogram(t *testing.T) {
	s := openStore(t)
	h := prompb.Histogram{
		Count:          &prompb.Histogram_CountInt{CountInt: 3},
		Sum:            1.5,
		Schema:         0,
		ZeroThreshold:  1e-128,
		ZeroCount:      &prompb.Histogram_ZeroCountInt{ZeroCountInt: 0},
		PositiveSpans:  []prompb.BucketSpan{{Offset: 0, Length: 2}},
		PositiveDeltas: []int64{1, 1},
		Timestamp:      base,
	}
	ts := series(map[string]string{"__name__": "latency"})
	ts.Histograms = []prompb.Histogram{h}
	if err := s.Write(context.Background(), []prompb.TimeSeries{ts}); err != nil {
		t.Fatalf("Write: %v", err)
	}
	q, err := s.Querier(math.MinInt64, math.MaxInt64)
	if err != nil {
		t.Fatal(err)
	}
	defer q.Close()
	set := q.Select(context.Background(), false, nil, nameIs("latency"))
	if !set.Next() {
		t.Fatalf("histogram series not found (err %v)", set.Err())
	}
	it := set.At().Iterator(nil)
	if typ := it.Next(); typ != chunkenc.ValHistogram {
		t.Fatalf("value type = %v, want histogram", typ)
	}
	gotT, got := it.AtHistogram(nil)
	if gotT != base || got.Count != 3 || got.Sum != 1.5 {
		t.Errorf("histogram at %d = %v, want count 3 sum 1.5 at %d", gotT, got, base)
	}
}

func TestTempDirRemovedOnClose(t *testing.T) {
	s, err := Open("")
	if err != nil {
		t.Fatal(err)
	}
	dir := s.Dir()
	if _, err := os.Stat(dir); err != nil {
		t.Fatalf("store directory: %v", err)
	}
	if err := s.Close(); err != nil {
		t.Fatalf("Close: %v", err)
	}
	if _, err := os.Stat(dir); !os.IsNotExist(err) {
		t.Errorf("temporary directory %s still there after Close (stat err %v)", dir, err)
	}
}

func TestGivenDirKeptAndReopened(t *testing.T) {
	dir := t.TempDir()
	s, err := Open(dir)
	if err != nil {
		t.Fatal(err)
	}
	ts := series(map[string]string{"__name__": "kept"}, prompb.Sample{Timestamp: base, Value: 42})
	if err := s.Write(context.Background(), []prompb.TimeSeries{ts}); err != nil {
		t.Fatal(err)
	}
	if err := s.Close(); err != nil {
		t.Fatal(err)
	}
	// The WAL brings the sample back.
	s = openStoreIn(t, dir)
	got := readAll(t, s, nameIs("kept"))[`{__name__="kept"}`]
	if fmt.Sprint(got) != fmt.Sprint(ts.Samples) {
		t.Errorf("after reopening: %v, want %v", got, ts.Samples)
	}
}

func openStoreIn(t *testing.T, dir string) *Store {
	t.Helper()
	s, err := Open(dir)
	if err != nil {
		t.Fatalf("Open(%s): %v", dir, err)
	}
	t.Cleanup(func() { _ = s.Close() })
	return s
}

func TestMetricsRegistered(t *testing.T) {
	reg := prometheus.NewRegistry()
	s := openStore(t, WithRegisterer(reg))
	ts := withExemplar(series(map[string]string{"__name__": "x"},
		prompb.Sample{Timestamp: base, Value: 1}, prompb.Sample{Timestamp: base + 1, Value: 2}),
		"0af7651916cd43dd8448eb211c80319c", "b7ad6b7169203331", 2, base+1)
	if err := s.Write(context.Background(), []prompb.TimeSeries{ts}); err != nil {
		t.Fatal(err)
	}
	if got := testutil.ToFloat64(s.m.samples); got != 2 {
		t.Errorf("samples written = %v, want 2", got)
	}
	if got := testutil.ToFloat64(s.m.exemplars); got != 1 {
		t.Errorf("exemplars written = %v, want 1", got)
	}
	n, err := testutil.GatherAndCount(reg, "weir_promstore_samples_written_total", "prometheus_tsdb_head_series", "prometheus_engine_queries")
	if err != nil {
		t.Fatal(err)
	}
	if n != 3 {
		t.Errorf("found %d of the store's, the TSDB's and the engine's metrics on the registerer, want 3", n)
	}
	if _, err := Open("", WithRegisterer(reg)); err == nil {
		t.Error("a second store on the same registerer opened without error")
	}
	// The refused store took none of the first store's metrics with it.
	if n, err := testutil.GatherAndCount(reg, "weir_promstore_samples_written_total"); err != nil || n != 1 {
		t.Errorf("after the refused Open: %d of the first store's metric (err %v), want 1", n, err)
	}
}
