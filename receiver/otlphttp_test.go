package receiver

import (
	"bytes"
	"net/http"
	"strings"
	"testing"

	"github.com/twmb/franz-go/pkg/kerr"
	"github.com/twmb/franz-go/pkg/kgo"
	"go.opentelemetry.io/collector/pdata/pcommon"
	"go.opentelemetry.io/collector/pdata/pmetric"
	"go.opentelemetry.io/collector/pdata/pmetric/pmetricotlp"
	"go.opentelemetry.io/collector/pdata/ptrace"
	"go.opentelemetry.io/collector/pdata/ptrace/ptraceotlp"
	spb "google.golang.org/genproto/googleapis/rpc/status"
	"google.golang.org/grpc/codes"
	"google.golang.org/protobuf/encoding/protojson"
	"google.golang.org/protobuf/proto"

	"github.com/weirdev/weir/ingest"
)

// TestOTLPHTTPTraces: protobuf, JSON and gzip bodies become the records
// kafkaexporter writes (one per resource, scope and trace, keyed by the
// trace ID, in the configured encoding), with the tenant header copied, and
// the answer is an ExportTraceServiceResponse in the request's encoding.
func TestOTLPHTTPTraces(t *testing.T) {
	for _, tc := range []struct {
		name     string
		json     bool
		gzip     bool
		encoding ingest.Encoding
	}{
		{"protobuf", false, false, ingest.EncodingProto},
		{"json", true, false, ingest.EncodingProto},
		{"gzip protobuf to otlp_json records", false, true, ingest.EncodingJSON},
	} {
		t.Run(tc.name, func(t *testing.T) {
			f := &fakeKafka{}
			r, reg := start(t, f, Config{TracesEncoding: tc.encoding, TenantHeader: "X-Scope-OrgID"})
			req := ptraceotlp.NewExportRequestFromTraces(twoServices())
			body, ct := mustMarshal(t, req.MarshalProto, req.MarshalJSON, tc.json)
			hdr := map[string]string{"X-Scope-OrgID": "team-a"}
			if tc.gzip {
				body, hdr["Content-Encoding"] = gzipped(t, body), "gzip"
			}
			resp, b := post(t, "http://"+r.HTTPAddr()+TracesPath, ct, hdr, body)
			if resp.StatusCode != http.StatusOK || resp.Header.Get("Content-Type") != ct {
				t.Fatalf("status %d, content type %q: %s", resp.StatusCode, resp.Header.Get("Content-Type"), b)
			}
			out := ptraceotlp.NewExportResponse()
			if err := unmarshalRequest(out.UnmarshalProto, out.UnmarshalJSON, b, tc.json); err != nil {
				t.Fatalf("response does not decode: %v", err)
			}
			if out.PartialSuccess().RejectedSpans() != 0 {
				t.Fatalf("partial success %d", out.PartialSuccess().RejectedSpans())
			}
			recs := f.records()
			want := []struct {
				key, service string
				spans        int
			}{{hexID(traceID(1)), "A", 2}, {hexID(traceID(2)), "A", 1}, {hexID(traceID(1)), "B", 1}}
			if len(recs) != len(want) {
				t.Fatalf("%d records, want %d", len(recs), len(want))
			}
			var u ptrace.Unmarshaler = &ptrace.ProtoUnmarshaler{}
			if tc.encoding == ingest.EncodingJSON {
				u = &ptrace.JSONUnmarshaler{}
			}
			for i, rec := range recs {
				td, err := u.UnmarshalTraces(rec.Value)
				if err != nil {
					t.Fatalf("record %d is not %s: %v", i, tc.encoding, err)
				}
				svc, _ := td.ResourceSpans().At(0).Resource().Attributes().Get("service.name")
				if rec.Topic != "spans" || string(rec.Key) != want[i].key || svc.Str() != want[i].service || td.SpanCount() != want[i].spans {
					t.Errorf("record %d: topic %s key %s service %s spans %d, want %+v", i, rec.Topic, rec.Key, svc.Str(), td.SpanCount(), want[i])
				}
				if len(rec.Headers) != 1 || rec.Headers[0].Key != "X-Scope-OrgID" || string(rec.Headers[0].Value) != "team-a" {
					t.Errorf("record %d headers %v, want X-Scope-OrgID: team-a", i, rec.Headers)
				}
			}
			if got := counter(t, reg, "weir_receiver_accepted_items_total", "protocol", protoHTTP, "signal", signalTraces); got != 4 {
				t.Errorf("accepted spans %v, want 4", got)
			}
		})
	}
}

func mustMarshal(t *testing.T, toProto, toJSON func() ([]byte, error), json bool) ([]byte, string) {
	t.Helper()
	b, err := marshalResponse(toProto, toJSON, json)
	if err != nil {
		t.Fatal(err)
	}
	if json {
		return b, contentJSON
	}
	return b, contentProto
}

// TestOTLPHTTPMetrics: one record per request with a nil key, as the
// exporter writes a batch; one per resource when it would be too large.
func TestOTLPHTTPMetrics(t *testing.T) {
	f := &fakeKafka{}
	r, _ := start(t, f, Config{MaxRecordBytes: 600})
	md := gauges(3)
	req := pmetricotlp.NewExportRequestFromMetrics(md)
	body, _ := req.MarshalProto()
	if resp, b := post(t, "http://"+r.HTTPAddr()+MetricsPath, contentProto, nil, body); resp.StatusCode != http.StatusOK {
		t.Fatalf("status %d: %s", resp.StatusCode, b)
	}
	recs := f.records()
	want, _ := (&pmetric.ProtoMarshaler{}).MarshalMetrics(md)
	if len(recs) != 1 || recs[0].Key != nil || recs[0].Topic != "metrics" || !bytes.Equal(recs[0].Value, want) {
		t.Fatalf("got %d records, want one unkeyed record equal to the request's metrics", len(recs))
	}

	big := gauges(40)
	gauges(40).ResourceMetrics().At(0).CopyTo(big.ResourceMetrics().AppendEmpty())
	req = pmetricotlp.NewExportRequestFromMetrics(big)
	body, _ = req.MarshalProto()
	if resp, b := post(t, "http://"+r.HTTPAddr()+MetricsPath, contentProto, nil, body); resp.StatusCode != http.StatusOK {
		t.Fatalf("status %d: %s", resp.StatusCode, b)
	}
	recs = f.records()[1:]
	if len(recs) != 2 {
		t.Fatalf("a request over MaxRecordBytes with 2 resources gave %d records, want 2", len(recs))
	}
	for i, rec := range recs {
		md, err := (&pmetric.ProtoUnmarshaler{}).UnmarshalMetrics(rec.Value)
		if err != nil || md.ResourceMetrics().Len() != 1 || md.DataPointCount() != 40 {
			t.Fatalf("record %d: %v, %d resources", i, err, md.ResourceMetrics().Len())
		}
	}
}

// TestOTLPHTTPRefusals: every failure is answered as the OTLP/HTTP
// specification says, with a google.rpc.Status body where one is due, and
// counted.
func TestOTLPHTTPRefusals(t *testing.T) {
	tracesBody, _ := ptraceotlp.NewExportRequestFromTraces(twoServices()).MarshalProto()
	zeroID := twoServices()
	zeroID.ResourceSpans().At(1).ScopeSpans().At(0).Spans().At(0).SetTraceID(pcommon.TraceID{})
	zeroBody, _ := ptraceotlp.NewExportRequestFromTraces(zeroID).MarshalProto()
	bomb := gzipped(t, make([]byte, 4<<20))
	for _, tc := range []struct {
		name        string
		fail        func(*kgo.Record) error
		ct          string
		headers     map[string]string
		body        []byte
		code        int
		grpcCode    codes.Code // of the Status body; 0: no Status body
		retryAfter  bool
		rejected    int64 // partial success
		outcome     string
		msgContains string
	}{
		{name: "undecodable protobuf", ct: contentProto, body: []byte{0xff, 0xff, 0xff}, code: 400, grpcCode: codes.InvalidArgument, outcome: outcomeInvalid, msgContains: "does not decode"},
		{name: "undecodable json", ct: contentJSON, body: []byte(`{"resourceSpans": 7}`), code: 400, grpcCode: codes.InvalidArgument, outcome: outcomeInvalid, msgContains: "does not decode"},
		{name: "unknown content type", ct: "text/plain", body: tracesBody, code: 415, outcome: outcomeUnsupported},
		{name: "unknown content encoding", ct: contentProto, headers: map[string]string{"Content-Encoding": "br"}, body: tracesBody, code: 415, grpcCode: codes.InvalidArgument, outcome: outcomeUnsupported},
		{name: "bad gzip", ct: contentProto, headers: map[string]string{"Content-Encoding": "gzip"}, body: tracesBody, code: 400, grpcCode: codes.InvalidArgument, outcome: outcomeInvalid},
		{name: "body too large", ct: contentProto, body: make([]byte, 2<<20), code: 413, grpcCode: codes.InvalidArgument, outcome: outcomeTooLarge},
		{name: "gzip bomb", ct: contentProto, headers: map[string]string{"Content-Encoding": "gzip"}, body: bomb, code: 413, grpcCode: codes.InvalidArgument, outcome: outcomeTooLarge, msgContains: "decompressed"},
		{name: "kafka unavailable", fail: func(*kgo.Record) error { return kerr.NotEnoughReplicas }, ct: contentProto, body: tracesBody, code: 503, grpcCode: codes.Unavailable, retryAfter: true, outcome: outcomeUnavailable, msgContains: "NOT_ENOUGH_REPLICAS"},
		{name: "zero trace ID", ct: contentProto, body: zeroBody, code: 200, rejected: 1, outcome: outcomePartial, msgContains: "empty trace ID"},
		{name: "record too large for kafka", fail: func(r *kgo.Record) error {
			if string(r.Key) == hexID(traceID(2)) {
				return kerr.MessageTooLarge
			}
			return nil
		}, ct: contentProto, body: tracesBody, code: 200, rejected: 1, outcome: outcomePartial, msgContains: "larger than Kafka takes"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			r, reg := start(t, &fakeKafka{fail: tc.fail}, Config{MaxRequestBytes: 1 << 20})
			resp, b := post(t, "http://"+r.HTTPAddr()+TracesPath, tc.ct, tc.headers, tc.body)
			if resp.StatusCode != tc.code {
				t.Fatalf("status %d, want %d: %s", resp.StatusCode, tc.code, b)
			}
			if got := resp.Header.Get("Retry-After"); (got == "1") != tc.retryAfter {
				t.Errorf("Retry-After %q, want it set: %v", got, tc.retryAfter)
			}
			msg := ""
			switch {
			case tc.code == 200:
				out := ptraceotlp.NewExportResponse()
				if err := out.UnmarshalProto(b); err != nil {
					t.Fatal(err)
				}
				if got := out.PartialSuccess().RejectedSpans(); got != tc.rejected {
					t.Errorf("rejected spans %d, want %d", got, tc.rejected)
				}
				msg = out.PartialSuccess().ErrorMessage()
			case tc.grpcCode != 0:
				var st spb.Status
				if err := proto.Unmarshal(b, &st); err != nil && tc.ct == contentProto {
					t.Fatalf("body is no google.rpc.Status: %v (%q)", err, b)
				}
				if tc.ct == contentJSON {
					if err := protojson.Unmarshal(b, &st); err != nil {
						t.Fatalf("body is no JSON google.rpc.Status: %v (%q)", err, b)
					}
				}
				if codes.Code(st.Code) != tc.grpcCode {
					t.Errorf("status code %v, want %v", codes.Code(st.Code), tc.grpcCode)
				}
				msg = st.Message
			}
			if !strings.Contains(msg, tc.msgContains) {
				t.Errorf("message %q, want it to contain %q", msg, tc.msgContains)
			}
			if got := counter(t, reg, "weir_receiver_requests_total", "outcome", tc.outcome); got != 1 {
				t.Errorf("requests with outcome %s: %v, want 1", tc.outcome, got)
			}
			if tc.rejected > 0 {
				if got := counter(t, reg, "weir_receiver_refused_items_total", "signal", signalTraces); got != float64(tc.rejected) {
					t.Errorf("refused spans %v, want %d", got, tc.rejected)
				}
			}
		})
	}
}

// TestOTLPHTTPOverloaded: with a request's records still waiting for Kafka
// and the in-flight limit used up, the next request is refused with 429 and
// Retry-After, and taken again once Kafka caught up.
func TestOTLPHTTPOverloaded(t *testing.T) {
	f := &fakeKafka{release: make(chan struct{}), entered: make(chan struct{}, 4)}
	r, reg := start(t, f, Config{MaxInflightBytes: 100})
	body, _ := ptraceotlp.NewExportRequestFromTraces(twoServices()).MarshalProto()
	url := "http://" + r.HTTPAddr() + TracesPath
	first := make(chan int, 1)
	go func() {
		resp, _ := post(t, url, contentProto, nil, body)
		first <- resp.StatusCode
	}()
	<-f.entered // the first request's records wait for Kafka
	resp, b := post(t, url, contentProto, nil, body)
	if resp.StatusCode != http.StatusTooManyRequests || resp.Header.Get("Retry-After") != "1" {
		t.Fatalf("second request: status %d Retry-After %q, want 429 and 1: %s", resp.StatusCode, resp.Header.Get("Retry-After"), b)
	}
	select {
	case code := <-first:
		t.Fatalf("the first request was answered (%d) before Kafka acknowledged its records", code)
	default:
	}
	close(f.release)
	if code := <-first; code != http.StatusOK {
		t.Fatalf("first request: status %d", code)
	}
	f.entered = nil
	if resp, b := post(t, url, contentProto, nil, body); resp.StatusCode != http.StatusOK {
		t.Fatalf("after Kafka caught up: status %d: %s", resp.StatusCode, b)
	}
	if got := counter(t, reg, "weir_receiver_refused_items_total", "reason", reasonOverloaded); got != 4 {
		t.Errorf("spans refused as overloaded: %v, want 4", got)
	}
}
