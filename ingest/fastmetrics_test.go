package ingest

import (
	"errors"
	"fmt"
	"math"
	"math/rand/v2"
	"testing"
	"time"

	"go.opentelemetry.io/collector/pdata/pcommon"
	"go.opentelemetry.io/collector/pdata/pmetric"

	"github.com/weirdev/weir/sample"
)

// pointText prints every field of a point ConvertProto and Convert fill.
func pointText(p *sample.Point) string {
	return fmt.Sprintf("%s hash=%x tenant=%q kind=%v t=%d v=%v count=%v ex=%+v base=%v/%d hist=%v exp=%v",
		p.Labels, p.Hash, p.Tenant, p.Kind, p.T, math.Float64bits(p.V), p.Count, p.Exemplar, p.HasBase, p.BaseOffset, p.Hist != nil, p.Exp != nil)
}

// convertBoth converts raw (at offset) with fast, through ConvertProto (or
// pdata when it answers ErrNeedsPdata, as the pipeline does), and with ref
// through DecodeMetrics + Convert, and returns what each emitted, whether
// the fast path took the record, and how the two decoders disagreed (in
// the points or in the records their cumulative state holds).
func convertBoth(fast, ref *MetricConverter, raw []byte, offset int64, tenant string) (got, want []string, took bool, err error) {
	fast.SetOffset(offset)
	ref.SetOffset(offset)
	collect := func(dst *[]string) func(*sample.Point) {
		return func(p *sample.Point) {
			if p.Hash != 0 && p.Hash != p.Labels.Hash() {
				*dst = append(*dst, "WRONG HASH "+pointText(p))
			}
			*dst = append(*dst, pointText(p))
		}
	}
	err = fast.ConvertProto(raw, tenant, collect(&got))
	took = err == nil
	md, derr := DecodeMetrics(EncodingProto, raw)
	if errors.Is(err, ErrNeedsPdata) && derr == nil {
		fast.Convert(md, tenant, collect(&got))
	}
	if derr == nil {
		ref.Convert(md, tenant, collect(&want))
	}
	if err != nil && !errors.Is(err, ErrNeedsPdata) && derr == nil {
		err = fmt.Errorf("fast decoder refused what pdata accepts: %w", err)
	} else if err == nil && derr != nil {
		err = fmt.Errorf("fast decoder accepted what pdata refuses: %v", derr)
	} else if errors.Is(err, ErrNeedsPdata) || derr != nil {
		err = nil
	}
	fo, fok := fast.OldestBase()
	ro, rok := ref.OldestBase()
	if err == nil && derr == nil && (fo != ro || fok != rok) {
		err = fmt.Errorf("oldest base %d, %v; pdata's %d, %v", fo, fok, ro, rok)
	}
	return got, want, took, err
}

// fastMetricsCorpus builds records of gauges and sums in every shape
// ConvertProto takes, step by step so that cumulative sums make deltas,
// resets and replays, plus records it leaves to pdata.
func fastMetricsCorpus(steps int) [][]byte {
	var out [][]byte
	m := &pmetric.ProtoMarshaler{}
	for step := range steps {
		md := pmetric.NewMetrics()
		for r := range 3 {
			rm := md.ResourceMetrics().AppendEmpty()
			ra := rm.Resource().Attributes()
			switch r {
			case 0:
				ra.PutStr("service.name", "checkout")
				ra.PutStr("service.namespace", "shop")
				ra.PutStr("service.instance.id", "pod-1")
				ra.PutStr("deployment.environment", "prod")
				ra.PutStr("tenant", "team-a")
			case 1:
				ra.PutInt("service.instance.id", 3)
				ra.PutInt("service.name", 7)
				ra.PutBool("deployment.environment", true)
				ra.PutStr("service.name", "second") // Get takes the first
			}
			sm := rm.ScopeMetrics().AppendEmpty()
			sm.Scope().SetName("scope")
			sm.Scope().Attributes().PutStr("a", "b")
			ms := sm.Metrics()
			at := ts(time.Duration(step+1) * time.Second)
			g := ms.AppendEmpty()
			g.SetName("process.memory.usage")
			g.SetUnit("By")
			g.Metadata().PutStr("m", "d")
			gauge := g.SetEmptyGauge()
			for i := range 6 {
				dp := gauge.DataPoints().AppendEmpty()
				dp.SetTimestamp(at + pcommon.Timestamp(i))
				switch i {
				case 0:
					dp.SetDoubleValue(1.5 + float64(step))
					dp.Attributes().PutStr("http.method", "GET")
					dp.Attributes().PutStr("http_method", "get") // The same label name: joined.
					dp.Attributes().PutInt("code", 200)
					dp.Attributes().PutStr("job", "a point's job") // job is the resource's.
				case 1:
					dp.SetIntValue(int64(-3 * step))
					dp.Attributes().PutDouble("ratio", 0.25)
					dp.Attributes().PutBool("ok", step%2 == 0)
					dp.Attributes().PutEmptyBytes("raw").FromRaw([]byte{1, 2, 3})
				case 2:
					dp.SetDoubleValue(math.NaN())
				case 3:
					dp.SetDoubleValue(2)
					dp.SetFlags(pmetric.DefaultDataPointFlags.WithNoRecordedValue(true))
				case 4:
					dp.SetDoubleValue(3)
					dp.Attributes().PutEmptySlice("list").AppendEmpty().SetStr("x")
					dp.Attributes().PutEmptyMap("map").PutInt("k", 1)
					dp.Attributes().PutEmpty("empty")
					dp.Attributes().PutStr("service_name", "override")
					dp.Attributes().PutStr("1st", "digit")
					ex := dp.Exemplars().AppendEmpty()
					ex.SetDoubleValue(9) // no trace: not taken
					ex = dp.Exemplars().AppendEmpty()
					ex.SetTraceID(pcommon.TraceID{1, 2, 3, byte(step)})
					ex.SetSpanID(pcommon.SpanID{4, 5})
					ex.SetIntValue(12)
					ex.SetTimestamp(at)
					ex.FilteredAttributes().PutStr("f", "v")
				case 5:
					// No value at all: pdata's DoubleValue is 0.
				}
			}
			names := []string{"requests_total", "http.server.requests", "1bad", ""}
			temps := []pmetric.AggregationTemporality{pmetric.AggregationTemporalityCumulative, pmetric.AggregationTemporalityDelta,
				pmetric.AggregationTemporalityCumulative, pmetric.AggregationTemporalityUnspecified}
			for j, name := range names {
				s := ms.AppendEmpty()
				s.SetName(name)
				s.SetUnit([]string{"{request}", "s", "By", ""}[j])
				sum := s.SetEmptySum()
				sum.SetAggregationTemporality(temps[j])
				sum.SetIsMonotonic(j != 2)
				for k := range 3 {
					dp := sum.DataPoints().AppendEmpty()
					dp.SetStartTimestamp(ts(0))
					if step >= 4 && k == 1 {
						dp.SetStartTimestamp(ts(time.Duration(step) * time.Second)) // a restart
					}
					dp.SetTimestamp(at)
					if step == 3 && k == 2 {
						dp.SetTimestamp(ts(time.Second)) // a replay
					}
					v := float64((step + 1) * (k + 1))
					if step == 2 && k == 0 {
						v = 0.5 // a decrease: a reset
					}
					if k == 2 {
						dp.SetIntValue(int64(v))
					} else {
						dp.SetDoubleValue(v)
					}
					dp.Attributes().PutStr("route", fmt.Sprintf("/r%d", k))
					if step == 5 && k == 0 {
						dp.SetFlags(pmetric.DefaultDataPointFlags.WithNoRecordedValue(true))
					}
				}
			}
		}
		b, err := m.MarshalMetrics(md)
		if err != nil {
			panic(err)
		}
		out = append(out, b)
	}
	// Metrics pdata decodes alone: a histogram among gauges; histograms,
	// exponential histograms and a summary; a gauge written twice, of which
	// pdata keeps the second.
	md := metricBatch(1)
	h := md.ResourceMetrics().At(0).ScopeMetrics().At(0).Metrics().AppendEmpty()
	h.SetName("h")
	h.SetEmptyHistogram().SetAggregationTemporality(pmetric.AggregationTemporalityDelta)
	hp := h.Histogram().DataPoints().AppendEmpty()
	hp.BucketCounts().FromRaw([]uint64{1})
	hp.SetCount(1)
	b, _ := m.MarshalMetrics(md)
	out = append(out, b)
	b, _ = m.MarshalMetrics(cumulativeSeed())
	out = append(out, b)
	dp := func(v float64) []byte {
		return pbLen(1, pbI64(3, uint64(time.Second)), pbI64(4, math.Float64bits(v)), pbLen(7, pbKV("k", pbStr(1, "v"))))
	}
	svc := pbLen(1, pbLen(1, pbKV("service.name", pbStr(1, "dup"))))
	out = append(out, pbLen(1, svc, pbLen(2, pbLen(2, pbStr(1, "twice"), pbLen(5, dp(1)), pbLen(5, dp(2), dp(3))))))
	// Left to pdata whole: the deprecated instrumentation_library_metrics.
	return append(out, pbLen(1, svc, pbLen(1000, pbLen(2, pbStr(1, "old"), pbLen(5, dp(4))))))
}

// ConvertProto makes the points DecodeMetrics + Convert make, every field,
// through cumulative deltas, resets, replays and the end of series, with
// promoted resource attributes, a tenant attribute and attributes of every
// value type; records it leaves to pdata say so and yield nothing.
func TestMetricsConvertProtoEqualsPdata(t *testing.T) {
	opts := []ConvertOpt{PromoteResourceAttributes("deployment.environment", "k8s.namespace.name"), TenantAttribute("tenant")}
	fast, ref := NewMetricConverter(opts...), NewMetricConverter(opts...)
	corpus := fastMetricsCorpus(7)
	fastRecords, points := 0, 0
	for i, raw := range corpus {
		got, want, took, err := convertBoth(fast, ref, raw, int64(i), "")
		if err != nil {
			t.Fatalf("record %d: %v", i, err)
		}
		if took {
			fastRecords++
		}
		if len(got) != len(want) {
			t.Fatalf("record %d: %d points, want %d", i, len(got), len(want))
		}
		for j := range got {
			if got[j] != want[j] {
				t.Fatalf("record %d, point %d:\n got %s\nwant %s", i, j, got[j], want[j])
			}
		}
		points += len(got)
	}
	if fastRecords != len(corpus)-1 || points < 100 {
		t.Fatalf("%d of %d records took the fast path (want all but the deprecated one), %d points", fastRecords, len(corpus), points)
	}
	t.Logf("%d records, %d through the fast path, %d points equal", len(corpus), fastRecords, points)
	if err := fast.ConvertProto(nil, "", func(*sample.Point) {}); err == nil {
		t.Error("an empty record was accepted")
	}
	// Every resource attribute promoted: the scan does not keep them all.
	all := NewMetricConverter(PromoteAllResourceAttributes("tenant"))
	if err := all.ConvertProto(corpus[0], "", func(*sample.Point) { t.Fatal("a point") }); !errors.Is(err, ErrNeedsPdata) {
		t.Errorf("PromoteAllResourceAttributes: ConvertProto answered %v, want ErrNeedsPdata", err)
	}
}

// FuzzMetricsConvertProto holds ConvertProto to pdata: what it accepts,
// pdata accepts and converts to the same points; what it refuses (other than
// ErrNeedsPdata), pdata refuses.
func FuzzMetricsConvertProto(f *testing.F) {
	for _, raw := range fastMetricsCorpus(3) {
		f.Add(raw)
	}
	f.Add([]byte{0x0a, 0x02, 0x12, 0x00})
	f.Fuzz(func(t *testing.T, raw []byte) {
		opts := []ConvertOpt{PromoteResourceAttributes("deployment.environment"), TenantAttribute("tenant")}
		fast, ref := NewMetricConverter(opts...), NewMetricConverter(opts...)
		for round := range 2 { // twice: the second round hits the caches
			got, want, _, err := convertBoth(fast, ref, raw, int64(round), "")
			if err != nil {
				t.Fatal(err)
			}
			if fmt.Sprint(got) != fmt.Sprint(want) {
				t.Fatalf("round %d:\n got %v\nwant %v", round, got, want)
			}
		}
	})
}

// Mutants of the corpus (bits flipped, bytes replaced, inserted, cut): the
// fast decoder agrees with pdata on each, as FuzzMetricsConvertProto checks
// over a longer run (2M mutants agreed when it was written).
func TestMetricsConvertProtoMutants(t *testing.T) {
	corpus := fastMetricsCorpus(3)
	r := rand.New(rand.NewPCG(1, 2))
	opts := []ConvertOpt{PromoteResourceAttributes("deployment.environment"), TenantAttribute("tenant")}
	taken := 0
	const n = 30_000
	for it := range n {
		b := mutate(r, corpus[r.IntN(len(corpus))])
		fast, ref := NewMetricConverter(opts...), NewMetricConverter(opts...)
		got, want, took, err := convertBoth(fast, ref, b, 0, "")
		if err != nil {
			t.Fatalf("mutant %d: %v\ninput %x", it, err, b)
		}
		if fmt.Sprint(got) != fmt.Sprint(want) {
			t.Fatalf("mutant %d:\n got %v\nwant %v\ninput %x", it, got, want, b)
		}
		if took {
			taken++
		}
	}
	if taken < n/50 {
		t.Errorf("only %d of %d mutants reached the fast path's emission", taken, n)
	}
}

// mutate returns a copy of src with one to four random edits.
func mutate(r *rand.Rand, src []byte) []byte {
	b := append([]byte(nil), src...)
	for range 1 + r.IntN(4) {
		switch r.IntN(5) {
		case 0:
			if len(b) > 0 {
				b[r.IntN(len(b))] ^= byte(1 << r.IntN(8))
			}
		case 1:
			if len(b) > 0 {
				b[r.IntN(len(b))] = byte(r.IntN(256))
			}
		case 2:
			if len(b) > 1 {
				b = b[:r.IntN(len(b))]
			}
		case 3:
			i := r.IntN(len(b) + 1)
			b = append(b[:i], append([]byte{byte(r.IntN(256))}, b[i:]...)...)
		case 4:
			if len(b) > 4 {
				i, j := r.IntN(len(b)), r.IntN(len(b))
				b = append(b[:min(i, j)], b[max(i, j):]...)
			}
		}
	}
	return b
}
