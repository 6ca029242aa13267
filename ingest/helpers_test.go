package ingest

import (
	"encoding/hex"
	"fmt"
	"testing"
	"time"

	"go.opentelemetry.io/collector/pdata/pcommon"
	"go.opentelemetry.io/collector/pdata/pmetric"
	"go.opentelemetry.io/collector/pdata/ptrace"

	"github.com/weirdev/weir/sample"
)

// t0 is the event time of the test data.
var t0 = time.Date(2026, 3, 1, 12, 0, 0, 0, time.UTC)

func ts(d time.Duration) pcommon.Timestamp { return pcommon.NewTimestampFromTime(t0.Add(d)) }

func traceID(n int) pcommon.TraceID {
	var id pcommon.TraceID
	id[0], id[15] = 0xab, byte(n)
	id[14] = byte(n >> 8)
	return id
}

func spanID(trace, span int) pcommon.SpanID {
	return pcommon.SpanID{0xcd, byte(trace >> 8), byte(trace), 0, 0, 0, byte(span >> 8), byte(span)}
}

// traceBatch builds what the collector's batch processor hands the
// kafkaexporter: one ResourceSpans per service, the spans of the traces
// interleaved. Trace i belongs to service "svc-(i%services)"; every third
// trace's last span has status Error.
func traceBatch(traces []int, spansPerTrace, services int) ptrace.Traces {
	td := ptrace.NewTraces()
	byService := map[int]ptrace.SpanSlice{}
	for s := 0; s < services; s++ {
		rs := td.ResourceSpans().AppendEmpty()
		rs.SetSchemaUrl("https://opentelemetry.io/schemas/1.26.0")
		rs.Resource().Attributes().PutStr("service.name", fmt.Sprintf("svc-%d", s))
		rs.Resource().Attributes().PutStr("deployment.environment", "prod")
		ss := rs.ScopeSpans().AppendEmpty()
		ss.Scope().SetName("go.opentelemetry.io/contrib/instrumentation/net/http/otelhttp")
		ss.Scope().SetVersion("0.60.0")
		byService[s] = ss.Spans()
	}
	for k := 0; k < spansPerTrace; k++ {
		for _, tr := range traces {
			sp := byService[tr%services].AppendEmpty()
			sp.SetTraceID(traceID(tr))
			sp.SetSpanID(spanID(tr, k))
			if k > 0 {
				sp.SetParentSpanID(spanID(tr, 0))
			}
			sp.SetName(fmt.Sprintf("GET /api/%d", k%3))
			sp.SetKind(ptrace.SpanKindServer)
			start := time.Duration(tr)*time.Second + time.Duration(k)*time.Millisecond
			sp.SetStartTimestamp(ts(start))
			sp.SetEndTimestamp(ts(start + time.Duration(10+k)*time.Millisecond))
			sp.Attributes().PutStr("http.request.method", "GET")
			sp.Attributes().PutInt("http.response.status_code", 200)
			if k == spansPerTrace-1 && tr%3 == 0 {
				sp.Status().SetCode(ptrace.StatusCodeError)
				sp.Status().SetMessage("boom")
			} else {
				sp.Status().SetCode(ptrace.StatusCodeOk)
			}
		}
	}
	return td
}

// exporterRecord is one record as the kafkaexporter writes it.
type exporterRecord struct {
	key, value []byte
}

// traceRecords marshals traces like the kafkaexporter: the whole batch in one
// record, or with partition_traces_by_id one record per trace keyed by the
// lowercase hex trace ID (each trace marshaled from a batch built on its own).
func traceRecords(t testing.TB, enc Encoding, traces []int, spansPerTrace, services int, perTrace bool) []exporterRecord {
	t.Helper()
	var m ptrace.Marshaler = &ptrace.ProtoMarshaler{}
	if enc == EncodingJSON {
		m = &ptrace.JSONMarshaler{}
	}
	var out []exporterRecord
	batches := []ptrace.Traces{traceBatch(traces, spansPerTrace, services)}
	if perTrace {
		batches = batches[:0]
		for _, tr := range traces {
			b := traceBatch([]int{tr}, spansPerTrace, services)
			b.ResourceSpans().RemoveIf(func(rs ptrace.ResourceSpans) bool { return rs.ScopeSpans().At(0).Spans().Len() == 0 })
			batches = append(batches, b)
		}
	}
	for i, b := range batches {
		v, err := m.MarshalTraces(b)
		if err != nil {
			t.Fatal(err)
		}
		r := exporterRecord{value: v}
		if perTrace {
			id := traceID(traces[i])
			r.key = []byte(hex.EncodeToString(id[:]))
		}
		out = append(out, r)
	}
	return out
}

// metricBatch holds one of each metric type, for service "checkout".
func metricBatch(step int) pmetric.Metrics {
	md := pmetric.NewMetrics()
	rm := md.ResourceMetrics().AppendEmpty()
	rm.Resource().Attributes().PutStr("service.name", "checkout")
	rm.Resource().Attributes().PutStr("k8s.namespace.name", "shop")
	ms := rm.ScopeMetrics().AppendEmpty().Metrics()
	at := ts(time.Duration(step) * 10 * time.Second)

	g := ms.AppendEmpty()
	g.SetName("process.memory.usage")
	dp := g.SetEmptyGauge().DataPoints().AppendEmpty()
	dp.SetTimestamp(at)
	dp.SetIntValue(int64(1000 + step))

	s := ms.AppendEmpty()
	s.SetName("http.server.requests")
	sum := s.SetEmptySum()
	sum.SetIsMonotonic(true)
	sum.SetAggregationTemporality(pmetric.AggregationTemporalityCumulative)
	dp = sum.DataPoints().AppendEmpty()
	dp.SetStartTimestamp(ts(0))
	dp.SetTimestamp(at)
	dp.SetDoubleValue(float64(10 * step))
	dp.Attributes().PutStr("http.route", "/cart")

	h := ms.AppendEmpty()
	h.SetName("http.server.duration")
	hist := h.SetEmptyHistogram()
	hist.SetAggregationTemporality(pmetric.AggregationTemporalityDelta)
	hp := hist.DataPoints().AppendEmpty()
	hp.SetStartTimestamp(at - pcommon.Timestamp(10*time.Second))
	hp.SetTimestamp(at)
	hp.ExplicitBounds().FromRaw([]float64{0.1, 0.5, 1})
	hp.BucketCounts().FromRaw([]uint64{3, 2, 1, 0})
	hp.SetCount(6)
	hp.SetSum(1.5)
	ex := hp.Exemplars().AppendEmpty()
	ex.SetTraceID(traceID(step))
	ex.SetSpanID(spanID(step, 0))
	ex.SetDoubleValue(0.7)
	ex.SetTimestamp(at)
	return md
}

// collect returns a copy of every point emit received.
func collect(dst *[]sample.Point) func(*sample.Point) {
	return func(p *sample.Point) { *dst = append(*dst, *p) }
}

func mustMarshalMetrics(t testing.TB, md pmetric.Metrics) []byte {
	t.Helper()
	b, err := (&pmetric.ProtoMarshaler{}).MarshalMetrics(md)
	if err != nil {
		t.Fatal(err)
	}
	return b
}
