package ingest

import (
	"strings"
	"testing"

	"go.opentelemetry.io/collector/pdata/pmetric"
	"go.opentelemetry.io/collector/pdata/ptrace"
)

func TestParseEncoding(t *testing.T) {
	for _, tc := range []struct {
		in      string
		want    Encoding
		wantErr bool
	}{
		{"otlp_proto", EncodingProto, false},
		{"otlp_json", EncodingJSON, false},
		{"", "", true},
		{"OTLP_PROTO", "", true},
		{"jaeger_proto", "", true},
	} {
		got, err := ParseEncoding(tc.in)
		if (err != nil) != tc.wantErr || got != tc.want {
			t.Errorf("ParseEncoding(%q) = %q, %v; want %q, error %v", tc.in, got, err, tc.want, tc.wantErr)
		}
		if err != nil && !strings.Contains(err.Error(), `"`+tc.in+`"`) {
			t.Errorf("ParseEncoding(%q) error %q does not name the input", tc.in, err)
		}
	}
}

func TestDecodeRoundTrip(t *testing.T) {
	td := traceBatch([]int{1, 2, 3}, 4, 2)
	md := metricBatch(1)
	for _, enc := range []Encoding{EncodingProto, EncodingJSON} {
		t.Run(string(enc), func(t *testing.T) {
			var (
				tb, mb []byte
				err    error
			)
			if enc == EncodingProto {
				tb, _ = (&ptrace.ProtoMarshaler{}).MarshalTraces(td)
				mb, err = (&pmetric.ProtoMarshaler{}).MarshalMetrics(md)
			} else {
				tb, _ = (&ptrace.JSONMarshaler{}).MarshalTraces(td)
				mb, err = (&pmetric.JSONMarshaler{}).MarshalMetrics(md)
			}
			if err != nil {
				t.Fatal(err)
			}
			gotT, err := DecodeTraces(enc, tb)
			if err != nil {
				t.Fatal(err)
			}
			if gotT.SpanCount() != 12 || gotT.ResourceSpans().Len() != 2 {
				t.Fatalf("decoded %d spans in %d resources, want 12 in 2", gotT.SpanCount(), gotT.ResourceSpans().Len())
			}
			if gotT.ResourceSpans().At(0).ScopeSpans().At(0).Spans().At(0).TraceID() != traceID(2) { // svc-0 holds the even traces.
				t.Error("first span's trace ID changed in the round trip")
			}
			gotM, err := DecodeMetrics(enc, mb)
			if err != nil {
				t.Fatal(err)
			}
			if gotM.DataPointCount() != md.DataPointCount() {
				t.Fatalf("decoded %d data points, want %d", gotM.DataPointCount(), md.DataPointCount())
			}
		})
	}
}

func TestDecodeErrors(t *testing.T) {
	for _, tc := range []struct {
		name string
		enc  Encoding
		in   []byte
		want []string // substrings of the error
	}{
		{"empty proto", EncodingProto, nil, []string{"otlp_proto", "empty record value"}},
		{"empty json", EncodingJSON, []byte{}, []string{"otlp_json", "empty record value"}},
		{"bad proto wire type", EncodingProto, []byte{0x0f, 0x01}, []string{"otlp_proto", "2 bytes"}},
		{"truncated proto", EncodingProto, []byte{0x0a, 0x10, 0x0a}, []string{"otlp_proto"}},
		{"not json", EncodingJSON, []byte("not json"), []string{"otlp_json", "8 bytes"}},
		{"unknown encoding", Encoding("zipkin"), []byte("x"), []string{`"zipkin"`}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			_, errT := DecodeTraces(tc.enc, tc.in)
			_, errM := DecodeMetrics(tc.enc, tc.in)
			for what, err := range map[string]error{"traces": errT, "metrics": errM} {
				if err == nil {
					t.Fatalf("Decode%s(%s, %q) succeeded, want an error", what, tc.enc, tc.in)
				}
				for _, w := range append(tc.want, what) {
					if !strings.Contains(err.Error(), w) {
						t.Errorf("Decode%s error %q does not mention %q", what, err, w)
					}
				}
			}
		})
	}
}
