package kafkaotlp

import (
	"errors"
	"fmt"
	"time"

	"github.com/prometheus/common/model"
	"github.com/prometheus/prometheus/model/labels"
	"github.com/prometheus/prometheus/model/value"
	"github.com/prometheus/prometheus/prompb"
	"go.opentelemetry.io/collector/pdata/pcommon"
	"go.opentelemetry.io/collector/pdata/pmetric"
)

// ScopeName is the instrumentation scope of every metric the sink writes.
const ScopeName = "github.com/weirdev/weir"

// Exemplar labels that become OTLP trace and span IDs (lowercase or
// uppercase hex, 32 and 16 digits). Any other exemplar label, or one of these
// that is not such hex, becomes a filtered attribute.
const (
	TraceIDLabel = "trace_id"
	SpanIDLabel  = "span_id"
)

// Reasons a series is not written, the values of the reason label of
// weir_kafka_sink_dropped_series_total.
const (
	reasonNoName    = "no_name"    // no __name__ label, or an empty one
	reasonHistogram = "histogram"  // native histogram samples, which weir never writes
	reasonTooLarge  = "too_large"  // one series encodes larger than the record limit
	reasonNoSamples = "no_samples" // nothing to write
)

// DroppedError describes a series that has no OTLP form in this mapping.
type DroppedError struct {
	Labels string // the series' labels, as Prometheus prints them
	Reason string // no_name, histogram, too_large or no_samples
	Msg    string
}

func (e *DroppedError) Error() string {
	return fmt.Sprintf("series %s: %s", e.Labels, e.Msg)
}

// ToMetrics converts series as the Sink does (see the package documentation
// for the mapping) into one MetricsData. Series that have no OTLP form are
// left out and described in the returned error (a join of *DroppedError);
// the others are converted all the same.
func ToMetrics(series []prompb.TimeSeries) (pmetric.Metrics, error) {
	var errs []error
	md := newBatch().add(series, func(e *DroppedError) { errs = append(errs, e) }).md
	return md, errors.Join(errs...)
}

// batch builds one MetricsData: one resource, one scope, one Metric per
// metric name in order of first appearance.
type batch struct {
	md      pmetric.Metrics
	metrics pmetric.MetricSlice
	byName  map[string]pmetric.NumberDataPointSlice
	points  int
}

func newBatch() *batch {
	md := pmetric.NewMetrics()
	sm := md.ResourceMetrics().AppendEmpty().ScopeMetrics().AppendEmpty()
	sm.Scope().SetName(ScopeName)
	return &batch{md: md, metrics: sm.Metrics(), byName: map[string]pmetric.NumberDataPointSlice{}}
}

// setResource puts attrs on the batch's resource.
func (b *batch) setResource(attrs map[string]string) *batch {
	ra := b.md.ResourceMetrics().At(0).Resource().Attributes()
	for k, v := range attrs {
		ra.PutStr(k, v)
	}
	return b
}

// add converts series into the batch, telling drop about each one left out.
func (b *batch) add(series []prompb.TimeSeries, drop func(*DroppedError)) *batch {
	for i := range series {
		if err := b.addSeries(&series[i]); err != nil {
			drop(err)
		}
	}
	return b
}

// check returns why ts has no OTLP form, or nil.
func check(ts *prompb.TimeSeries) *DroppedError {
	switch {
	case metricName(ts) == "":
		return dropped(ts, reasonNoName, "no __name__ label: an OTLP metric needs a name")
	case len(ts.Histograms) > 0:
		return dropped(ts, reasonHistogram, fmt.Sprintf("%d native histogram samples: the Kafka sink writes float samples only", len(ts.Histograms)))
	case len(ts.Samples) == 0:
		return dropped(ts, reasonNoSamples, "no samples")
	}
	return nil
}

func metricName(ts *prompb.TimeSeries) string {
	for _, l := range ts.Labels {
		if l.Name == model.MetricNameLabel {
			return l.Value
		}
	}
	return ""
}

// addSeries converts ts into the batch, or returns why it cannot.
func (b *batch) addSeries(ts *prompb.TimeSeries) *DroppedError {
	if err := check(ts); err != nil {
		return err
	}
	name := metricName(ts)
	dps, ok := b.byName[name]
	if !ok {
		m := b.metrics.AppendEmpty()
		m.SetName(name)
		dps = m.SetEmptyGauge().DataPoints()
		b.byName[name] = dps
	}
	for i, s := range ts.Samples {
		dp := dps.AppendEmpty()
		attrs := dp.Attributes()
		attrs.EnsureCapacity(len(ts.Labels) - 1)
		for _, l := range ts.Labels {
			if l.Name != model.MetricNameLabel {
				attrs.PutStr(l.Name, l.Value)
			}
		}
		dp.SetTimestamp(nanos(s.Timestamp))
		if value.IsStaleNaN(s.Value) {
			// Prometheus' end-of-series marker; OTLP's equivalent is the
			// flag, as the collector's prometheusreceiver writes it.
			dp.SetFlags(pmetric.DefaultDataPointFlags.WithNoRecordedValue(true))
		} else {
			dp.SetDoubleValue(s.Value)
		}
		// Remote write ties exemplars to the series, not to a sample: they
		// go with the last sample (weir writes one sample per series).
		if i == len(ts.Samples)-1 {
			addExemplars(dp.Exemplars(), ts.Exemplars)
		}
		b.points++
	}
	return nil
}

func addExemplars(dst pmetric.ExemplarSlice, src []prompb.Exemplar) {
	if len(src) == 0 {
		return
	}
	dst.EnsureCapacity(len(src))
	for _, pe := range src {
		e := dst.AppendEmpty()
		e.SetTimestamp(nanos(pe.Timestamp))
		e.SetDoubleValue(pe.Value)
		for _, l := range pe.Labels {
			var tid pcommon.TraceID
			var sid pcommon.SpanID
			switch {
			case l.Name == TraceIDLabel && parseID(tid[:], l.Value):
				e.SetTraceID(tid)
			case l.Name == SpanIDLabel && parseID(sid[:], l.Value):
				e.SetSpanID(sid)
			default:
				e.FilteredAttributes().PutStr(l.Name, l.Value)
			}
		}
	}
}

// parseID fills id from s, exactly 2*len(id) hex digits; it reports false
// otherwise, leaving id in an unspecified state.
func parseID(id []byte, s string) bool {
	if len(s) != 2*len(id) {
		return false
	}
	for i := range id {
		hi, ok1 := unhex(s[2*i])
		lo, ok2 := unhex(s[2*i+1])
		if !ok1 || !ok2 {
			return false
		}
		id[i] = hi<<4 | lo
	}
	return true
}

func unhex(c byte) (byte, bool) {
	switch {
	case '0' <= c && c <= '9':
		return c - '0', true
	case 'a' <= c && c <= 'f':
		return c - 'a' + 10, true
	case 'A' <= c && c <= 'F':
		return c - 'A' + 10, true
	}
	return 0, false
}

func dropped(ts *prompb.TimeSeries, reason, msg string) *DroppedError {
	return &DroppedError{Labels: labelString(ts.Labels), Reason: reason, Msg: msg}
}

func labelString(ls []prompb.Label) string {
	b := labels.NewScratchBuilder(len(ls))
	for _, l := range ls {
		b.Add(l.Name, l.Value)
	}
	b.Sort()
	return b.Labels().String()
}

func nanos(ms int64) pcommon.Timestamp {
	return pcommon.Timestamp(ms * int64(time.Millisecond))
}
