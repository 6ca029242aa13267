package kafkaotlp

import (
	"errors"
	"fmt"
	"math"
	"slices"
	"sort"
	"strings"
	"testing"

	"github.com/prometheus/prometheus/model/value"
	"github.com/prometheus/prometheus/prompb"
	"go.opentelemetry.io/collector/pdata/pcommon"
	"go.opentelemetry.io/collector/pdata/pmetric"
)

const (
	tid1 = "0af7651916cd43dd8448eb211c80319c"
	sid1 = "b7ad6b7169203331"
)

func lbls(kv ...string) []prompb.Label {
	var out []prompb.Label
	for i := 0; i < len(kv); i += 2 {
		out = append(out, prompb.Label{Name: kv[i], Value: kv[i+1]})
	}
	return out
}

// flatten prints every data point of md as one line:
// name{attrs sorted} @ms value [flags] | exemplars
func flatten(md pmetric.Metrics) []string {
	var out []string
	rms := md.ResourceMetrics()
	for i := 0; i < rms.Len(); i++ {
		sms := rms.At(i).ScopeMetrics()
		for j := 0; j < sms.Len(); j++ {
			ms := sms.At(j).Metrics()
			for k := 0; k < ms.Len(); k++ {
				m := ms.At(k)
				if m.Type() != pmetric.MetricTypeGauge {
					out = append(out, fmt.Sprintf("%s: type %s", m.Name(), m.Type()))
					continue
				}
				dps := m.Gauge().DataPoints()
				for d := 0; d < dps.Len(); d++ {
					out = append(out, pointLine(m.Name(), dps.At(d)))
				}
			}
		}
	}
	sort.Strings(out)
	return out
}

func pointLine(name string, dp pmetric.NumberDataPoint) string {
	var attrs []string
	dp.Attributes().Range(func(k string, v pcommon.Value) bool {
		attrs = append(attrs, k+"="+v.AsString())
		return true
	})
	sort.Strings(attrs)
	v := "no_recorded_value"
	if !dp.Flags().NoRecordedValue() {
		v = fmt.Sprint(dp.DoubleValue())
	}
	line := fmt.Sprintf("%s{%s} @%d %s", name, strings.Join(attrs, ","), int64(dp.Timestamp())/1e6, v)
	es := dp.Exemplars()
	for i := 0; i < es.Len(); i++ {
		e := es.At(i)
		var fa []string
		e.FilteredAttributes().Range(func(k string, v pcommon.Value) bool {
			fa = append(fa, k+"="+v.AsString())
			return true
		})
		line += fmt.Sprintf(" | ex trace=%s span=%s v=%v @%d %s", e.TraceID(), e.SpanID(), e.DoubleValue(),
			int64(e.Timestamp())/1e6, strings.Join(fa, ","))
	}
	return line
}

func TestToMetricsMapping(t *testing.T) {
	tests := []struct {
		name   string
		series []prompb.TimeSeries
		want   []string
		drops  []string // reasons
	}{{
		name: "quantile series keeps its labels as attributes, exemplar IDs become bytes",
		series: []prompb.TimeSeries{{
			Labels:  lbls("__name__", "span_duration_seconds", "quantile", "0.99", "service_name", "cart"),
			Samples: []prompb.Sample{{Value: 0.25, Timestamp: 1_700_000_010_000}},
			Exemplars: []prompb.Exemplar{{
				Labels: lbls("span_id", sid1, "trace_id", tid1), Value: 0.2501, Timestamp: 1_700_000_004_123,
			}},
		}},
		want: []string{"span_duration_seconds{quantile=0.99,service_name=cart} @1700000010000 0.25 | ex trace=" + tid1 +
			" span=" + sid1 + " v=0.2501 @1700000004123 "},
	}, {
		name: "series sharing a name share a metric; others get their own",
		series: []prompb.TimeSeries{
			{Labels: lbls("__name__", "x_sum", "job", "a"), Samples: []prompb.Sample{{Value: 1, Timestamp: 10_000}}},
			{Labels: lbls("__name__", "x_count", "job", "a"), Samples: []prompb.Sample{{Value: 2, Timestamp: 10_000}}},
			{Labels: lbls("__name__", "x_sum", "job", "b"), Samples: []prompb.Sample{{Value: 3, Timestamp: 10_000}, {Value: 4, Timestamp: 20_000}}},
		},
		want: []string{"x_count{job=a} @10000 2", "x_sum{job=a} @10000 1", "x_sum{job=b} @10000 3", "x_sum{job=b} @20000 4"},
	}, {
		name: "stale marker becomes no_recorded_value; ordinary NaN stays a value",
		series: []prompb.TimeSeries{
			{Labels: lbls("__name__", "g"), Samples: []prompb.Sample{{Value: math.Float64frombits(value.StaleNaN), Timestamp: 5}}},
			{Labels: lbls("__name__", "h"), Samples: []prompb.Sample{{Value: math.NaN(), Timestamp: 5}}},
		},
		want: []string{"g{} @5 no_recorded_value", "h{} @5 NaN"},
	}, {
		name: "exemplar labels that are not IDs stay filtered attributes",
		series: []prompb.TimeSeries{{
			Labels:  lbls("__name__", "g"),
			Samples: []prompb.Sample{{Value: 1, Timestamp: 1000}, {Value: 2, Timestamp: 2000}},
			Exemplars: []prompb.Exemplar{{
				Labels: lbls("trace_id", "not-hex", "span_id", "B7AD6B7169203331", "user", "u1"), Value: 7, Timestamp: 1500,
			}},
		}},
		want: []string{"g{} @1000 1",
			"g{} @2000 2 | ex trace= span=b7ad6b7169203331 v=7 @1500 trace_id=not-hex,user=u1"},
	}, {
		name: "series with no OTLP form are dropped, the rest converted",
		series: []prompb.TimeSeries{
			{Labels: lbls("job", "a"), Samples: []prompb.Sample{{Value: 1, Timestamp: 1}}},
			{Labels: lbls("__name__", ""), Samples: []prompb.Sample{{Value: 1, Timestamp: 1}}},
			{Labels: lbls("__name__", "nh"), Histograms: []prompb.Histogram{{Timestamp: 1}}},
			{Labels: lbls("__name__", "empty")},
			{Labels: lbls("__name__", "ok"), Samples: []prompb.Sample{{Value: 1, Timestamp: 1}}},
		},
		want:  []string{"ok{} @1 1"},
		drops: []string{reasonNoName, reasonNoName, reasonHistogram, reasonNoSamples},
	}}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			md, err := ToMetrics(tt.series)
			if got := flatten(md); !slices.Equal(got, tt.want) {
				t.Errorf("got\n%s\nwant\n%s", strings.Join(got, "\n"), strings.Join(tt.want, "\n"))
			}
			var reasons []string
			for _, e := range unjoin(err) {
				var de *DroppedError
				if !errors.As(e, &de) {
					t.Fatalf("error %v is not a *DroppedError", e)
				}
				reasons = append(reasons, de.Reason)
			}
			if !slices.Equal(reasons, tt.drops) {
				t.Errorf("dropped for %v (%v), want %v", reasons, err, tt.drops)
			}
			if sm := md.ResourceMetrics().At(0).ScopeMetrics().At(0); sm.Scope().Name() != ScopeName {
				t.Errorf("scope %q, want %q", sm.Scope().Name(), ScopeName)
			}
		})
	}
}

func unjoin(err error) []error {
	if err == nil {
		return nil
	}
	if j, ok := err.(interface{ Unwrap() []error }); ok {
		return j.Unwrap()
	}
	return []error{err}
}

func TestDroppedErrorNamesTheSeries(t *testing.T) {
	_, err := ToMetrics([]prompb.TimeSeries{{Labels: lbls("job", "a", "instance", "i"), Samples: []prompb.Sample{{Timestamp: 1}}}})
	want := `series {instance="i", job="a"}: no __name__ label`
	if err == nil || !strings.HasPrefix(err.Error(), want) {
		t.Errorf("error %v, want it to start with %q", err, want)
	}
}

func TestParseID(t *testing.T) {
	for _, tt := range []struct {
		in   string
		n    int
		want string
		ok   bool
	}{
		{sid1, 8, sid1, true},
		{strings.ToUpper(sid1), 8, sid1, true},
		{sid1[:15], 8, "", false},
		{sid1 + "00", 8, "", false},
		{"b7ad6b716920333g", 8, "", false},
		{tid1, 16, tid1, true},
		{"", 16, "", false},
	} {
		id := make([]byte, tt.n)
		ok := parseID(id, tt.in)
		if ok != tt.ok || (ok && fmt.Sprintf("%x", id) != tt.want) {
			t.Errorf("parseID(%q) = %x, %v; want %s, %v", tt.in, id, ok, tt.want, tt.ok)
		}
	}
}
