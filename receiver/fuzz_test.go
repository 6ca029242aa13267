package receiver

import (
	"bytes"
	"net/http"
	"net/http/httptest"
	"testing"

	"github.com/prometheus/prometheus/prompb"
	writev2 "github.com/prometheus/prometheus/prompb/io/prometheus/write/v2"
	"go.opentelemetry.io/collector/pdata/pmetric/pmetricotlp"
	"go.opentelemetry.io/collector/pdata/ptrace/ptraceotlp"
)

func fuzzReceiver(t testing.TB) (*Receiver, *fakeKafka) {
	f := &fakeKafka{}
	r, err := newReceiver(f, Config{SpansTopic: "spans", MetricsTopic: "metrics"})
	if err != nil {
		t.Fatal(err)
	}
	return r, f
}

// FuzzOTLPHTTP: any body to either path in either encoding is answered
// 200 (and then every span or point it held is written or rejected) or 400,
// never anything else, never a panic.
func FuzzOTLPHTTP(f *testing.F) {
	tb, _ := ptraceotlp.NewExportRequestFromTraces(twoServices()).MarshalProto()
	tj, _ := ptraceotlp.NewExportRequestFromTraces(twoServices()).MarshalJSON()
	mb, _ := pmetricotlp.NewExportRequestFromMetrics(gauges(3)).MarshalProto()
	mj, _ := pmetricotlp.NewExportRequestFromMetrics(gauges(3)).MarshalJSON()
	f.Add(false, false, tb)
	f.Add(false, true, tj)
	f.Add(true, false, mb)
	f.Add(true, true, mj)
	f.Add(false, true, []byte(`{"resourceSpans":[{"scopeSpans":[{"spans":[{"traceId":"","name":"x"}]}]}]}`))
	r, _ := fuzzReceiver(f)
	h := r.otlpHandler()
	f.Fuzz(func(t *testing.T, metrics, json bool, body []byte) {
		path, ct := TracesPath, contentProto
		if metrics {
			path = MetricsPath
		}
		if json {
			ct = contentJSON
		}
		req := httptest.NewRequest(http.MethodPost, path, bytes.NewReader(body))
		req.Header.Set("Content-Type", ct)
		w := httptest.NewRecorder()
		h.ServeHTTP(w, req)
		if w.Code != http.StatusOK && w.Code != http.StatusBadRequest {
			t.Fatalf("status %d: %s", w.Code, w.Body.Bytes())
		}
	})
}

// FuzzRemoteWrite: whatever decodes as a remote-write request (either
// version) converts without panicking, and every sample is either a data
// point or counted invalid.
func FuzzRemoteWrite(f *testing.F) {
	v1, _ := rw1Request().Marshal()
	f.Add(false, v1)
	st := writev2.NewSymbolTable()
	v2 := &writev2.Request{Timeseries: []writev2.TimeSeries{{LabelsRefs: []uint32{st.Symbolize("__name__"), st.Symbolize("x_total")}, Samples: []writev2.Sample{{Value: 1, Timestamp: 5}}}}}
	v2.Symbols = st.Symbols()
	b2, _ := v2.Marshal()
	f.Add(true, b2)
	f.Fuzz(func(t *testing.T, version2 bool, body []byte) {
		var c rwConverted
		total := 0
		if version2 {
			var req writev2.Request
			if req.Unmarshal(body) != nil {
				return
			}
			for _, ts := range req.Timeseries {
				total += len(ts.Samples)
			}
			c = convertV2(&req)
		} else {
			var req prompb.WriteRequest
			if req.Unmarshal(body) != nil {
				return
			}
			for _, ts := range req.Timeseries {
				total += len(ts.Samples)
			}
			c = convertV1(&req)
		}
		if got := c.md.DataPointCount(); got != c.samples || c.samples+c.invalid != total {
			t.Fatalf("%d points (counted %d) and %d invalid of %d samples", got, c.samples, c.invalid, total)
		}
	})
}
