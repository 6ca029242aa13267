package receiver

import (
	"fmt"

	"github.com/twmb/franz-go/pkg/kgo"
	"go.opentelemetry.io/collector/pdata/pmetric"
	"go.opentelemetry.io/collector/pdata/ptrace"
)

// taken is what became of a request that was not refused whole: items
// written, and items left out for good (OTLP partial success) with the
// first reason.
type taken struct {
	accepted, rejected int64
	msg                string
}

// exportTraces writes td's spans, split per trace (traceRecords). Spans with
// the all-zero trace ID cannot be keyed and are rejected.
func (r *Receiver) exportTraces(proto, tenant string, td ptrace.Traces) (taken, error) {
	var t taken
	recs, spans, err := traceRecords(r.cfg.SpansTopic, td, r.traceEnc, func(i, j, k int, sp ptrace.Span) {
		t.rejected++
		if t.msg == "" {
			t.msg = fmt.Sprintf("span %d (%q) of scope %d of resource %d has an empty trace ID", k, sp.Name(), j, i)
		}
	})
	if err != nil {
		return taken{}, &refusal{refuseInvalid, err}
	}
	r.m.refused(proto, signalTraces, reasonInvalid, t.rejected)
	return r.write(proto, signalTraces, tenant, recs, spans, t)
}

// exportMetrics writes md as one record, or one per resource when that
// record would exceed Config.MaxRecordBytes.
func (r *Receiver) exportMetrics(proto, tenant string, md pmetric.Metrics) (taken, error) {
	if md.ResourceMetrics().Len() == 0 {
		return taken{}, nil
	}
	rec, err := metricsRecord(r.cfg.MetricsTopic, md, r.metricEnc)
	if err != nil {
		return taken{}, &refusal{refuseInvalid, err}
	}
	recs, points := []*kgo.Record{rec}, []int{md.DataPointCount()}
	if rms := md.ResourceMetrics(); len(rec.Value) > r.cfg.MaxRecordBytes && rms.Len() > 1 {
		recs, points = recs[:0], points[:0]
		for i := 0; i < rms.Len(); i++ {
			one := pmetric.NewMetrics()
			rms.At(i).CopyTo(one.ResourceMetrics().AppendEmpty())
			rec, err := metricsRecord(r.cfg.MetricsTopic, one, r.metricEnc)
			if err != nil {
				return taken{}, &refusal{refuseInvalid, err}
			}
			recs, points = append(recs, rec), append(points, one.DataPointCount())
		}
	}
	return r.write(proto, signalMetrics, tenant, recs, points, taken{})
}

// write produces recs, items[i] being the count of spans or points of
// recs[i], and counts what became of them.
func (r *Receiver) write(proto, signal, tenant string, recs []*kgo.Record, items []int, t taken) (taken, error) {
	total := int64(0)
	for _, n := range items {
		total += int64(n)
	}
	failed, err := r.p.produce(tenant, recs)
	if err != nil {
		reason := reasonUnavailable
		if rf, ok := err.(*refusal); ok && rf.kind == refuseOverloaded {
			reason = reasonOverloaded
		}
		r.m.refused(proto, signal, reason, total)
		return taken{}, err
	}
	var tooLarge int64
	for _, i := range failed {
		tooLarge += int64(items[i])
		if t.msg == "" {
			t.msg = fmt.Sprintf("a record of %d bytes holding %d items is larger than Kafka takes", len(recs[i].Value), items[i])
		}
	}
	r.m.refused(proto, signal, reasonTooLarge, tooLarge)
	t.rejected += tooLarge
	t.accepted = total - tooLarge
	r.m.accepted.WithLabelValues(proto, signal).Add(float64(t.accepted))
	return t, nil
}
