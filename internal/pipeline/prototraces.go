package pipeline

import (
	"time"

	"go.opentelemetry.io/collector/pdata/ptrace"

	"github.com/weirdev/weir/ingest"
	"github.com/weirdev/weir/sample"
)

// spanTrace is one trace of a record, as ingest.SpanConverter.ConvertProto
// reports it.
type spanTrace struct {
	id     sample.TraceID
	spans  int
	hasErr bool
	maxDur time.Duration
}

// handleProtoTraces is HandleTraces for an otlp_proto record: ConvertProto
// reads the span series' fields straight from the record bytes, without
// pdata. A record of one trace (kafkaexporter's partition_traces_by_id
// layout) goes to the span buffer as it is; only a record of several traces
// is decoded by pdata (decode) and split. The error is ConvertProto's: the
// record is bad, and nothing was aggregated or buffered.
func (p *Pipeline) handleProtoTraces(src ingest.Source, decode func() (ptrace.Traces, error)) error {
	p.refreshRules()
	p.now = time.Now()
	part := p.agg.Partition(aggPartition(src.Topic, false, src.Partition), p.now)
	p.spanTraces = p.spanTraces[:0]
	err := p.spanConv.ConvertProto(src.Value, src.Partition, src.Tenant,
		func(pt *sample.Point) { p.addPoint(part, pt) },
		func(id sample.TraceID, spans int, hasError bool, maxDur time.Duration) {
			p.spanTraces = append(p.spanTraces, spanTrace{id: id, spans: spans, hasErr: hasError, maxDur: maxDur})
		})
	if err != nil {
		return err
	}
	if !p.bufferOnce(src) || len(p.spanTraces) == 0 {
		return nil
	}
	enc := string(ingest.EncodingProto)
	if len(p.spanTraces) == 1 {
		t := p.spanTraces[0]
		p.buffer.Add(t.id, src.Partition, src.Offset, enc, src.Value, t.spans, t.hasErr, t.maxDur, p.now)
		return nil
	}
	td, err := decode()
	if err == nil {
		next := 0
		err = ingest.ForEachTrace(ingest.EncodingProto, src.Value, td, func(id sample.TraceID, raw []byte, spans int, hasError bool) {
			p.buffer.Add(id, src.Partition, src.Offset, enc, raw, spans, hasError, p.maxDur(id, &next), p.now)
		})
	}
	if err != nil {
		// The points are in: the spans are lost to tail sampling only.
		p.log.Warn("cannot split record into traces", "topic", src.Topic, "partition", src.Partition, "offset", src.Offset, "err", err)
	}
	return nil
}

// maxDur returns the max span duration ConvertProto reported for id.
// ForEachTrace goes through the traces in the order ConvertProto did, so
// *next is where to look first.
func (p *Pipeline) maxDur(id sample.TraceID, next *int) time.Duration {
	if i := *next; i < len(p.spanTraces) && p.spanTraces[i].id == id {
		*next = i + 1
		return p.spanTraces[i].maxDur
	}
	for _, t := range p.spanTraces {
		if t.id == id {
			return t.maxDur
		}
	}
	return 0
}
