package receiver

import (
	"math"
	"strings"
	"testing"

	"github.com/golang/snappy"
	"github.com/prometheus/prometheus/model/labels"
	"github.com/prometheus/prometheus/model/value"
	"github.com/prometheus/prometheus/prompb"
	writev2 "github.com/prometheus/prometheus/prompb/io/prometheus/write/v2"
	"github.com/twmb/franz-go/pkg/kerr"
	"github.com/twmb/franz-go/pkg/kgo"
	"go.opentelemetry.io/collector/pdata/pcommon"
	"go.opentelemetry.io/collector/pdata/pmetric"
)

const (
	rw1Type = "application/x-protobuf"
	rw2Type = "application/x-protobuf;proto=io.prometheus.write.v2.Request"
)

func rw1Request() *prompb.WriteRequest {
	ls := func(kv ...string) []prompb.Label {
		var out []prompb.Label
		for i := 0; i < len(kv); i += 2 {
			out = append(out, prompb.Label{Name: kv[i], Value: kv[i+1]})
		}
		return out
	}
	return &prompb.WriteRequest{
		Timeseries: []prompb.TimeSeries{
			{Labels: ls("__name__", "http_requests_total", "job", "api", "code", "200"),
				Samples:   []prompb.Sample{{Value: 10, Timestamp: 1000}, {Value: 12, Timestamp: 2000}},
				Exemplars: []prompb.Exemplar{{Labels: ls("trace_id", "0af7651916cd43dd8448eb211c80319c", "span_id", "b7ad6b7169203331"), Value: 0.25, Timestamp: 1900}}},
			{Labels: ls("__name__", "queue_depth", "job", "api"),
				Samples: []prompb.Sample{{Value: 3, Timestamp: 1000}, {Value: math.Float64frombits(value.StaleNaN), Timestamp: 2000}}},
			{Labels: ls("__name__", "build_seconds", "job", "ci"), Samples: []prompb.Sample{{Value: 7, Timestamp: 1000}}},
			{Labels: ls("job", "nameless"), Samples: []prompb.Sample{{Value: 1, Timestamp: 1000}}},
		},
		Metadata: []prompb.MetricMetadata{{MetricFamilyName: "build_seconds", Type: prompb.MetricMetadata_COUNTER, Unit: "seconds"}},
	}
}

// TestRemoteWriteMetrics: the conversion documented on RemoteWriteMetrics.
func TestRemoteWriteMetrics(t *testing.T) {
	c := convertV1(rw1Request())
	if c.samples != 5 || c.invalid != 1 || c.exemplars != 1 || len(c.errs) != 1 {
		t.Fatalf("samples %d invalid %d exemplars %d errs %v; want 5, 1, 1 and the nameless series", c.samples, c.invalid, c.exemplars, c.errs)
	}
	ms := c.md.ResourceMetrics().At(0).ScopeMetrics().At(0).Metrics()
	got := map[string]pmetric.Metric{}
	for i := 0; i < ms.Len(); i++ {
		got[ms.At(i).Name()] = ms.At(i)
	}
	for name, want := range map[string]pmetric.MetricType{"http_requests_total": pmetric.MetricTypeSum, "queue_depth": pmetric.MetricTypeGauge, "build_seconds": pmetric.MetricTypeSum} {
		m, ok := got[name]
		if !ok || m.Type() != want {
			t.Fatalf("%s: %v, want a %v", name, m.Type(), want)
		}
		if want == pmetric.MetricTypeSum && (!m.Sum().IsMonotonic() || m.Sum().AggregationTemporality() != pmetric.AggregationTemporalityCumulative) {
			t.Errorf("%s is not a cumulative monotonic sum", name)
		}
	}
	req := got["http_requests_total"].Sum().DataPoints()
	if req.Len() != 2 || req.At(1).DoubleValue() != 12 || req.At(1).Timestamp() != pcommon.Timestamp(2e9) {
		t.Fatalf("http_requests_total points wrong")
	}
	if v, _ := req.At(0).Attributes().Get("code"); v.Str() != "200" || req.At(0).Attributes().Len() != 2 {
		t.Errorf("attributes %v, want job and code", req.At(0).Attributes().AsRaw())
	}
	ex := req.At(1).Exemplars()
	if ex.Len() != 1 || ex.At(0).TraceID().String() != "0af7651916cd43dd8448eb211c80319c" || ex.At(0).SpanID().String() != "b7ad6b7169203331" || ex.At(0).DoubleValue() != 0.25 {
		t.Errorf("exemplar not carried: %d", ex.Len())
	}
	if got["build_seconds"].Unit() != "seconds" {
		t.Errorf("unit from metadata lost")
	}
	if dp := got["queue_depth"].Gauge().DataPoints().At(1); !dp.Flags().NoRecordedValue() {
		t.Errorf("stale marker not flagged NoRecordedValue")
	}
}

// TestRemoteWrite: both protocol versions over HTTP: 204 and the written
// counts (2.0), 400 for bodies that do not decode and for invalid 2.0
// series (after writing the valid ones), 503 with Retry-After when Kafka
// fails.
func TestRemoteWrite(t *testing.T) {
	v1, err := rw1Request().Marshal()
	if err != nil {
		t.Fatal(err)
	}
	st := writev2.NewSymbolTable()
	v2req := &writev2.Request{Timeseries: []writev2.TimeSeries{
		{LabelsRefs: st.SymbolizeLabels(labels.FromStrings("__name__", "jobs_done", "job", "w"), nil),
			Samples:  []writev2.Sample{{Value: 5, Timestamp: 1000, StartTimestamp: 500}},
			Metadata: writev2.Metadata{Type: writev2.Metadata_METRIC_TYPE_COUNTER}},
		{LabelsRefs: st.SymbolizeLabels(labels.FromStrings("__name__", "temp_celsius"), nil),
			Samples:    []writev2.Sample{{Value: 21.5, Timestamp: 1000}},
			Histograms: []writev2.Histogram{{Timestamp: 1000}}},
	}}
	v2req.Symbols = st.Symbols()
	v2, _ := v2req.Marshal()
	v2bad := *v2req
	v2bad.Timeseries = append(append([]writev2.TimeSeries(nil), v2req.Timeseries...), writev2.TimeSeries{LabelsRefs: []uint32{0, 99}, Samples: []writev2.Sample{{Value: 1}}})
	v2badBody, _ := v2bad.Marshal()
	for _, tc := range []struct {
		name, ct    string
		body        []byte
		fail        func(*kgo.Record) error
		code        int
		points      int
		written     string
		contains    string
		retryAfter  bool
		unsupported float64
	}{
		{name: "1.0", ct: rw1Type, body: snappy.Encode(nil, v1), code: 204, points: 5},
		{name: "2.0", ct: rw2Type, body: snappy.Encode(nil, v2), code: 204, points: 2, written: "2", unsupported: 1},
		{name: "2.0 invalid series", ct: rw2Type, body: snappy.Encode(nil, v2badBody), code: 400, points: 2, written: "2", contains: "outside of symbols", unsupported: 1},
		{name: "not snappy", ct: rw1Type, body: v1, code: 400},
		{name: "not protobuf", ct: rw1Type, body: snappy.Encode(nil, []byte{0xff, 0xff}), code: 400, contains: "does not decode"},
		{name: "unknown message", ct: "application/x-protobuf;proto=foo.Bar", body: snappy.Encode(nil, v1), code: 415},
		{name: "kafka unavailable", ct: rw1Type, body: snappy.Encode(nil, v1), fail: func(*kgo.Record) error { return kerr.NotLeaderForPartition }, code: 503, retryAfter: true},
	} {
		t.Run(tc.name, func(t *testing.T) {
			f := &fakeKafka{fail: tc.fail}
			r, reg := start(t, f, Config{})
			resp, b := post(t, "http://"+r.RemoteWriteAddr()+RemoteWritePath, tc.ct, map[string]string{"Content-Encoding": "snappy"}, tc.body)
			if resp.StatusCode != tc.code || !strings.Contains(string(b), tc.contains) {
				t.Fatalf("status %d %q, want %d containing %q", resp.StatusCode, b, tc.code, tc.contains)
			}
			if got := resp.Header.Get("X-Prometheus-Remote-Write-Samples-Written"); got != tc.written {
				t.Errorf("samples written header %q, want %q", got, tc.written)
			}
			if (resp.Header.Get("Retry-After") != "") != tc.retryAfter {
				t.Errorf("Retry-After %q", resp.Header.Get("Retry-After"))
			}
			points := 0
			for _, rec := range f.records() {
				md, err := (&pmetric.ProtoUnmarshaler{}).UnmarshalMetrics(rec.Value)
				if err != nil {
					t.Fatal(err)
				}
				points += md.DataPointCount()
			}
			if points != tc.points {
				t.Errorf("%d points written, want %d", points, tc.points)
			}
			if got := counter(t, reg, "weir_receiver_refused_items_total", "reason", reasonUnsupported); got != tc.unsupported {
				t.Errorf("native histograms counted %v, want %v", got, tc.unsupported)
			}
		})
	}
}
