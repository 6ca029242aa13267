package ingest

import (
	"testing"
	"time"

	"go.opentelemetry.io/collector/pdata/pmetric"
	"go.opentelemetry.io/collector/pdata/ptrace"

	"github.com/weirdev/weir/sample"
)

var encodings = [...]Encoding{EncodingProto, EncodingJSON}

// cumulativeSeed has a cumulative sum, histogram and exponential histogram
// with two points of one series each, so that fuzzed variants reach the delta
// and reset paths within one batch.
func cumulativeSeed() pmetric.Metrics {
	md := metricBatch(1)
	ms := md.ResourceMetrics().At(0).ScopeMetrics().At(0).Metrics()
	for step := range 2 {
		at := ts(time.Duration(step+1) * time.Second)
		s := ms.At(1).Sum().DataPoints().AppendEmpty()
		s.SetTimestamp(at)
		s.SetDoubleValue(float64(5 - step*3))
		s.Attributes().PutStr("http.route", "/cart")
	}
	h := ms.AppendEmpty()
	h.SetName("h")
	hist := h.SetEmptyHistogram()
	hist.SetAggregationTemporality(pmetric.AggregationTemporalityCumulative)
	e := ms.AppendEmpty()
	e.SetName("e")
	exp := e.SetEmptyExponentialHistogram()
	exp.SetAggregationTemporality(pmetric.AggregationTemporalityCumulative)
	for step := range 2 {
		at := ts(time.Duration(step+1) * time.Second)
		dp := hist.DataPoints().AppendEmpty()
		dp.SetTimestamp(at)
		dp.ExplicitBounds().FromRaw([]float64{1})
		dp.BucketCounts().FromRaw([]uint64{uint64(1 + step), 2})
		dp.SetCount(uint64(3 + step))
		ep := exp.DataPoints().AppendEmpty()
		ep.SetTimestamp(at)
		ep.SetScale(int32(2 - step))
		ep.Positive().SetOffset(int32(-1 - step))
		ep.Positive().BucketCounts().FromRaw([]uint64{1, 2, uint64(3 + step)})
		ep.SetCount(uint64(6 + step))
	}
	q := ms.AppendEmpty()
	q.SetName("s")
	qp := q.SetEmptySummary().DataPoints().AppendEmpty()
	qp.QuantileValues().AppendEmpty().SetQuantile(0.5)
	return md
}

func addMetricSeeds(f *testing.F) {
	for _, md := range []pmetric.Metrics{metricBatch(1), cumulativeSeed()} {
		p, _ := (&pmetric.ProtoMarshaler{}).MarshalMetrics(md)
		j, _ := (&pmetric.JSONMarshaler{}).MarshalMetrics(md)
		f.Add(false, p)
		f.Add(true, j)
	}
	f.Add(false, []byte{0x0a, 0x80})
	f.Add(true, []byte(`{"resourceMetrics":[{}]}`))
}

func addTraceSeeds(f *testing.F) {
	for _, enc := range encodings {
		for _, perTrace := range []bool{false, true} {
			for _, r := range traceRecords(f, enc, []int{1, 2, 3}, 3, 2, perTrace) {
				f.Add(enc == EncodingJSON, r.value)
			}
		}
	}
	f.Add(false, []byte{0x0a, 0x02, 0x12, 0x00})
	f.Add(true, []byte(`{"resourceSpans":[{"scopeSpans":[{"spans":[{"traceId":"zz"}]}]}]}`))
}

func encodingOf(json bool) Encoding {
	if json {
		return EncodingJSON
	}
	return EncodingProto
}

// FuzzDecodeTraces: no input may panic, and what decodes survives a
// re-encode in the same encoding with its span count.
func FuzzDecodeTraces(f *testing.F) {
	addTraceSeeds(f)
	f.Fuzz(func(t *testing.T, json bool, b []byte) {
		enc := encodingOf(json)
		td, err := DecodeTraces(enc, b)
		if err != nil {
			return
		}
		var m ptrace.Marshaler = &ptrace.ProtoMarshaler{}
		if json {
			m = &ptrace.JSONMarshaler{}
		}
		again, err := m.MarshalTraces(td)
		if err != nil {
			t.Fatalf("re-encode: %v", err)
		}
		if len(again) == 0 {
			return // An empty batch encodes to nothing, which is refused.
		}
		td2, err := DecodeTraces(enc, again)
		if err != nil || td2.SpanCount() != td.SpanCount() {
			t.Fatalf("re-encoded batch decodes to %d spans (error %v), want %d", td2.SpanCount(), err, td.SpanCount())
		}
	})
}

// FuzzDecodeMetrics: no input may panic, and what decodes survives a
// re-encode in the same encoding with its data point count.
func FuzzDecodeMetrics(f *testing.F) {
	addMetricSeeds(f)
	f.Fuzz(func(t *testing.T, json bool, b []byte) {
		enc := encodingOf(json)
		md, err := DecodeMetrics(enc, b)
		if err != nil {
			return
		}
		var m pmetric.Marshaler = &pmetric.ProtoMarshaler{}
		if json {
			m = &pmetric.JSONMarshaler{}
		}
		again, err := m.MarshalMetrics(md)
		if err != nil {
			t.Fatalf("re-encode: %v", err)
		}
		if len(again) == 0 {
			return
		}
		md2, err := DecodeMetrics(enc, again)
		if err != nil || md2.DataPointCount() != md.DataPointCount() {
			t.Fatalf("re-encoded batch decodes to %d points (error %v), want %d", md2.DataPointCount(), err, md.DataPointCount())
		}
	})
}

// FuzzConvert feeds whatever decodes, as metrics and as traces, to the
// converters and ForEachTrace: none may panic, and ForEachTrace must account
// for every span in parts that decode again.
func FuzzConvert(f *testing.F) {
	addMetricSeeds(f)
	addTraceSeeds(f)
	f.Fuzz(func(t *testing.T, json bool, b []byte) {
		enc := encodingOf(json)
		emit := func(p *sample.Point) {
			if p.Kind == sample.Histogram && (p.Hist == nil || len(p.Hist.Counts) != len(p.Hist.Bounds)+1) {
				t.Fatalf("histogram point %s has %d counts for %d bounds", p.Labels, len(p.Hist.Counts), len(p.Hist.Bounds))
			}
		}
		if md, err := DecodeMetrics(enc, b); err == nil {
			c := NewMetricConverter(PromoteResourceAttributes("k8s.namespace.name"), TenantAttribute("tenant"))
			c.Convert(md, "", emit)
			c.Convert(md, "", emit)
		}
		td, err := DecodeTraces(enc, b)
		if err != nil {
			return
		}
		NewSpanConverter(SpanDimensions("http.route", "service.version")).Convert(td, 3, "", emit)
		total := 0
		err = ForEachTrace(enc, b, td, func(_ sample.TraceID, raw []byte, spans int, _ bool) {
			part, err := DecodeTraces(enc, raw)
			if err != nil || part.SpanCount() != spans {
				t.Fatalf("part of %d spans decodes to %d spans, error %v", spans, part.SpanCount(), err)
			}
			total += spans
		})
		if err != nil || total != td.SpanCount() {
			t.Fatalf("ForEachTrace covered %d of %d spans, error %v", total, td.SpanCount(), err)
		}
	})
}
