package receiver

import (
	"encoding/hex"
	"errors"
	"fmt"

	"github.com/twmb/franz-go/pkg/kgo"
	"go.opentelemetry.io/collector/pdata/pcommon"
	"go.opentelemetry.io/collector/pdata/pmetric"
	"go.opentelemetry.io/collector/pdata/ptrace"
)

var errNoTopic = errors.New("receiver: empty topic name")

// TraceRecords returns the records kafkaexporter (otlp_proto encoding,
// partition_traces_by_id on) writes for td: td is split as the exporter's
// batchpersignal.SplitTraces splits it, into one ptrace.Traces per resource,
// scope and trace ID in order of first appearance, each holding that resource
// and scope (schema URLs included) and its spans of that trace; each becomes
// one record whose value is its ptrace.ProtoMarshaler bytes and whose key is
// the trace ID in lowercase hex. No headers are set. A trace that spans
// several services thus yields one record per service, all with one key.
//
// An empty td yields no records. It fails if topic is empty or a span has the
// all-zero trace ID (which the exporter would key with an empty string), and
// says which span.
func TraceRecords(topic string, td ptrace.Traces) ([]*kgo.Record, error) {
	recs, _, err := traceRecords(topic, td, &ptrace.ProtoMarshaler{}, nil)
	return recs, err
}

// traceRecords is TraceRecords with the encoding's marshaler m. When reject
// is set, a span with the all-zero trace ID is left out and handed to reject
// instead of failing the whole batch. spans[i] is the span count of recs[i].
func traceRecords(topic string, td ptrace.Traces, m ptrace.Marshaler, reject func(resource, scope, span int, sp ptrace.Span)) (recs []*kgo.Record, spans []int, err error) {
	if topic == "" {
		return nil, nil, errNoTopic
	}
	rss := td.ResourceSpans()
	for i := 0; i < rss.Len(); i++ {
		rs := rss.At(i)
		for j := 0; j < rs.ScopeSpans().Len(); j++ {
			ss := rs.ScopeSpans().At(j)
			ssp := ss.Spans()
			var ids []pcommon.TraceID
			var parts []ptrace.SpanSlice
			var whole []ptrace.Traces
			for k := 0; k < ssp.Len(); k++ {
				sp := ssp.At(k)
				id := sp.TraceID()
				if id.IsEmpty() {
					if reject != nil {
						reject(i, j, k, sp)
						continue
					}
					return nil, nil, fmt.Errorf("receiver: span %d (%q) of scope %d of resource %d has an empty trace ID", k, sp.Name(), j, i)
				}
				p := 0
				for p < len(ids) && ids[p] != id {
					p++
				}
				if p == len(ids) {
					one := ptrace.NewTraces()
					nrs := one.ResourceSpans().AppendEmpty()
					rs.Resource().CopyTo(nrs.Resource())
					nrs.SetSchemaUrl(rs.SchemaUrl())
					nss := nrs.ScopeSpans().AppendEmpty()
					ss.Scope().CopyTo(nss.Scope())
					nss.SetSchemaUrl(ss.SchemaUrl())
					ids, parts, whole = append(ids, id), append(parts, nss.Spans()), append(whole, one)
				}
				sp.CopyTo(parts[p].AppendEmpty())
			}
			for p, one := range whole {
				value, err := m.MarshalTraces(one)
				if err != nil {
					return nil, nil, fmt.Errorf("receiver: marshaling trace %s of scope %d of resource %d: %w", hexID(ids[p]), j, i, err)
				}
				recs = append(recs, &kgo.Record{Topic: topic, Key: hexKey(ids[p]), Value: value})
				spans = append(spans, parts[p].Len())
			}
		}
	}
	return recs, spans, nil
}

// MetricsRecord returns md as kafkaexporter (otlp_proto encoding) writes a
// metrics batch: one record, value = pmetric.ProtoMarshaler bytes, nil key
// (so the partitioner picks a sticky partition), no headers. It fails only
// if topic is empty.
func MetricsRecord(topic string, md pmetric.Metrics) (*kgo.Record, error) {
	return metricsRecord(topic, md, &pmetric.ProtoMarshaler{})
}

func metricsRecord(topic string, md pmetric.Metrics, m pmetric.Marshaler) (*kgo.Record, error) {
	if topic == "" {
		return nil, errNoTopic
	}
	value, err := m.MarshalMetrics(md)
	if err != nil {
		return nil, fmt.Errorf("receiver: marshaling %d metric data points: %w", md.DataPointCount(), err)
	}
	return &kgo.Record{Topic: topic, Value: value}, nil
}

// PartitionerOpt returns the producer option of kafkaexporter's default
// partitioner: franz-go's sticky key partitioner with a sarama-compatible
// FNV-1a hasher (keyed records go to |int32(fnv1a(key)) % n|, unkeyed ones
// stick to a random partition per batch).
func PartitionerOpt() kgo.Opt {
	return kgo.RecordPartitioner(kgo.StickyKeyPartitioner(kgo.SaramaCompatHasher(fnv1a32)))
}

// KeyPartition returns the partition, of n, that PartitionerOpt's
// partitioner gives a record keyed key.
func KeyPartition(key []byte, n int) int { return kgo.SaramaCompatHasher(fnv1a32)(key, n) }

// fnv1a32 is 32-bit FNV-1a (hash/fnv's New32a), without its allocation.
func fnv1a32(b []byte) uint32 {
	h := uint32(2166136261)
	for _, c := range b {
		h ^= uint32(c)
		h *= 16777619
	}
	return h
}

func hexKey(id pcommon.TraceID) []byte {
	k := make([]byte, hex.EncodedLen(len(id)))
	hex.Encode(k, id[:])
	return k
}

func hexID(id pcommon.TraceID) string { return hex.EncodeToString(id[:]) }
