// Package ingest consumes the Kafka topics the OpenTelemetry Collector's
// kafkaexporter writes, decodes OTLP, and flattens it into sample.Point values.
//
// The package has three layers that can be used on their own:
//
//   - DecodeTraces and DecodeMetrics turn one record value into pdata.
//   - MetricConverter and SpanConverter flatten pdata into sample.Points;
//     ForEachTrace groups a batch per trace ID for the tail-sampling buffer.
//     SpanConverter.ConvertProto does DecodeTraces and Convert in one pass
//     over an otlp_proto record, without pdata, for the spans topic's hot path.
//   - Consumer reads the topics as a group member, dead-letters what does not
//     decode, and hands decoded batches to a Handler.
package ingest

import (
	"errors"
	"fmt"

	"go.opentelemetry.io/collector/pdata/pmetric"
	"go.opentelemetry.io/collector/pdata/ptrace"
)

// Encoding names a kafkaexporter payload encoding.
type Encoding string

const (
	// EncodingProto is the kafkaexporter's otlp_proto: a serialized
	// TracesData/MetricsData, wire-identical to Export*ServiceRequest.
	EncodingProto Encoding = "otlp_proto"
	// EncodingJSON is the kafkaexporter's otlp_json: OTLP/JSON as the pdata
	// JSON marshalers write it.
	EncodingJSON Encoding = "otlp_json"
)

// errEmpty is returned for zero-length values: the exporter never writes
// them, and a proto decoder would accept them as an empty batch.
var errEmpty = errors.New("empty record value")

// ParseEncoding returns the Encoding named s, or an error naming s when it is
// neither otlp_proto nor otlp_json.
func ParseEncoding(s string) (Encoding, error) {
	switch e := Encoding(s); e {
	case EncodingProto, EncodingJSON:
		return e, nil
	}
	return "", fmt.Errorf("ingest: unknown encoding %q (want %q or %q)", s, EncodingProto, EncodingJSON)
}

// DecodeTraces decodes one kafkaexporter traces record value. The error names
// the encoding and what failed; an empty value is an error.
func DecodeTraces(enc Encoding, b []byte) (ptrace.Traces, error) {
	var (
		td  ptrace.Traces
		err error
	)
	switch enc {
	case EncodingProto:
		td, err = (&ptrace.ProtoUnmarshaler{}).UnmarshalTraces(b)
	case EncodingJSON:
		if err = strictJSON(b); err == nil {
			td, err = (&ptrace.JSONUnmarshaler{}).UnmarshalTraces(b)
		}
	default:
		return ptrace.Traces{}, fmt.Errorf("ingest: decode traces: unknown encoding %q", enc)
	}
	if len(b) == 0 {
		err = errEmpty
	}
	if err != nil {
		return ptrace.Traces{}, fmt.Errorf("ingest: decode %s traces (%d bytes): %w", enc, len(b), err)
	}
	return td, nil
}

// DecodeMetrics decodes one kafkaexporter metrics record value. The error
// names the encoding and what failed; an empty value is an error.
func DecodeMetrics(enc Encoding, b []byte) (pmetric.Metrics, error) {
	var (
		md  pmetric.Metrics
		err error
	)
	switch enc {
	case EncodingProto:
		md, err = (&pmetric.ProtoUnmarshaler{}).UnmarshalMetrics(b)
	case EncodingJSON:
		if err = strictJSON(b); err == nil {
			md, err = (&pmetric.JSONUnmarshaler{}).UnmarshalMetrics(b)
		}
	default:
		return pmetric.Metrics{}, fmt.Errorf("ingest: decode metrics: unknown encoding %q", enc)
	}
	if len(b) == 0 {
		err = errEmpty
	}
	if err != nil {
		return pmetric.Metrics{}, fmt.Errorf("ingest: decode %s metrics (%d bytes): %w", enc, len(b), err)
	}
	return md, nil
}
