package receiver

import (
	"encoding/hex"
	"errors"
	"fmt"
	"math"
	"strings"

	"github.com/prometheus/common/model"
	"github.com/prometheus/prometheus/model/exemplar"
	"github.com/prometheus/prometheus/model/labels"
	"github.com/prometheus/prometheus/model/value"
	"github.com/prometheus/prometheus/prompb"
	writev2 "github.com/prometheus/prometheus/prompb/io/prometheus/write/v2"
	"go.opentelemetry.io/collector/pdata/pcommon"
	"go.opentelemetry.io/collector/pdata/pmetric"

	"github.com/weirdev/weir/ingest"
)

// rwSeries is one remote-write series, of either protocol version.
type rwSeries struct {
	labels     labels.Labels
	typ        model.MetricType
	unit, help string
	samples    []rwSample
	exemplars  []exemplar.Exemplar
	histograms int  // native histograms: not converted
	bad        bool // did not decode; its error is reported already
}

type rwSample struct {
	t, start int64 // ms
	v        float64
}

// rwConverted is a remote-write request as OTLP metrics.
type rwConverted struct {
	md         pmetric.Metrics
	samples    int     // data points in md
	exemplars  int     // exemplars in md
	invalid    int     // samples of series without a valid name or labels
	histograms int     // native histogram samples left out
	errs       []error // why series were left out
}

// RemoteWriteMetrics converts the series of a remote-write 1.0 request to
// OTLP metrics: one metric per name and kind, one data point per sample
// (stale markers become points flagged NoRecordedValue), every label but
// __name__ a data-point attribute, exemplars (trace_id, span_id) on the
// series' last point, all in one resource without attributes. A series is a
// cumulative monotonic sum when the request's metadata calls its family a
// counter (or names it a histogram or summary and the series is its
// _bucket, _count or _sum), or, without metadata, when its name ends in
// _total; anything else is a gauge. Series without a valid name or with
// invalid labels are left out; native histograms are not converted.
func RemoteWriteMetrics(req *prompb.WriteRequest) (pmetric.Metrics, error) {
	c := convertV1(req)
	return c.md, errors.Join(c.errs...)
}

// RemoteWrite2Metrics is RemoteWriteMetrics for a remote-write 2.0 request,
// whose series carry their own type, unit, help and start timestamps.
func RemoteWrite2Metrics(req *writev2.Request) (pmetric.Metrics, error) {
	c := convertV2(req)
	return c.md, errors.Join(c.errs...)
}

func convertV1(req *prompb.WriteRequest) rwConverted {
	meta := make(map[string]prompb.MetricMetadata, len(req.Metadata))
	for _, m := range req.Metadata {
		meta[m.MetricFamilyName] = m
	}
	b := labels.NewScratchBuilder(0)
	series := make([]rwSeries, 0, len(req.Timeseries))
	for _, ts := range req.Timeseries {
		s := rwSeries{labels: ts.ToLabels(&b, nil), typ: model.MetricTypeUnknown, histograms: len(ts.Histograms)}
		name := s.labels.Get(model.MetricNameLabel)
		for _, fam := range []string{name, trimAny(name, "_total", "_bucket", "_count", "_sum")} {
			if m, ok := meta[fam]; ok {
				s.typ, s.unit, s.help = v1Type(m.Type), m.Unit, m.Help
				break
			}
		}
		s.samples = make([]rwSample, len(ts.Samples))
		for i, smp := range ts.Samples {
			s.samples[i] = rwSample{t: smp.Timestamp, v: smp.Value}
		}
		for _, e := range ts.Exemplars {
			s.exemplars = append(s.exemplars, e.ToExemplar(&b, nil))
		}
		series = append(series, s)
	}
	return convert(series, nil)
}

func convertV2(req *writev2.Request) rwConverted {
	b := labels.NewScratchBuilder(0)
	series := make([]rwSeries, 0, len(req.Timeseries))
	var errs []error
	for i, ts := range req.Timeseries {
		ls, err := ts.ToLabels(&b, req.Symbols)
		if err != nil {
			errs = append(errs, fmt.Errorf("series %d: labels: %w", i, err))
			series = append(series, rwSeries{bad: true, samples: make([]rwSample, len(ts.Samples))})
			continue
		}
		m, err := ts.ToMetadata(req.Symbols)
		if err != nil {
			errs = append(errs, fmt.Errorf("series %d (%s): metadata: %w", i, ls, err))
			series = append(series, rwSeries{bad: true, samples: make([]rwSample, len(ts.Samples))})
			continue
		}
		s := rwSeries{labels: ls, typ: m.Type, unit: m.Unit, help: m.Help, histograms: len(ts.Histograms)}
		s.samples = make([]rwSample, len(ts.Samples))
		for j, smp := range ts.Samples {
			s.samples[j] = rwSample{t: smp.Timestamp, start: smp.StartTimestamp, v: smp.Value}
		}
		for j, e := range ts.Exemplars {
			ex, err := e.ToExemplar(&b, req.Symbols)
			if err != nil {
				errs = append(errs, fmt.Errorf("series %d (%s): exemplar %d: %w", i, ls, j, err))
				continue
			}
			s.exemplars = append(s.exemplars, ex)
		}
		series = append(series, s)
	}
	return convert(series, errs)
}

func v1Type(t prompb.MetricMetadata_MetricType) model.MetricType {
	switch t {
	case prompb.MetricMetadata_COUNTER:
		return model.MetricTypeCounter
	case prompb.MetricMetadata_GAUGE:
		return model.MetricTypeGauge
	case prompb.MetricMetadata_HISTOGRAM:
		return model.MetricTypeHistogram
	case prompb.MetricMetadata_SUMMARY:
		return model.MetricTypeSummary
	}
	return model.MetricTypeUnknown
}

func trimAny(s string, suffixes ...string) string {
	for _, suf := range suffixes {
		if t, ok := strings.CutSuffix(s, suf); ok {
			return t
		}
	}
	return s
}

// cumulative reports whether a series is a monotonic cumulative sum.
func cumulative(name string, typ model.MetricType) bool {
	switch typ {
	case model.MetricTypeCounter:
		return true
	case model.MetricTypeHistogram, model.MetricTypeSummary:
		return trimAny(name, "_bucket", "_count", "_sum") != name
	case model.MetricTypeUnknown, "":
		return strings.HasSuffix(name, "_total")
	}
	return false
}

func convert(series []rwSeries, errs []error) rwConverted {
	c := rwConverted{md: pmetric.NewMetrics(), errs: errs}
	sm := c.md.ResourceMetrics().AppendEmpty().ScopeMetrics().AppendEmpty()
	sm.Scope().SetName(ingest.RemoteWriteScope) // Prometheus names: ingest keeps them.
	type key struct {
		name string
		sum  bool
	}
	byName := map[key]pmetric.NumberDataPointSlice{}
	for i, s := range series {
		c.histograms += s.histograms
		if s.bad {
			c.invalid += len(s.samples)
			continue
		}
		name := s.labels.Get(model.MetricNameLabel)
		if name == "" || !s.labels.IsValid(model.UTF8Validation) {
			c.invalid += len(s.samples)
			c.errs = append(c.errs, fmt.Errorf("series %d: invalid metric name or labels: %s", i, s.labels))
			continue
		}
		if dup, ok := s.labels.HasDuplicateLabelNames(); ok {
			c.invalid += len(s.samples)
			c.errs = append(c.errs, fmt.Errorf("series %d: label %q twice: %s", i, dup, s.labels))
			continue
		}
		if len(s.samples) == 0 {
			continue
		}
		k := key{name, cumulative(name, s.typ)}
		dps, ok := byName[k]
		if !ok {
			m := sm.Metrics().AppendEmpty()
			m.SetName(name)
			m.SetUnit(s.unit)
			m.SetDescription(s.help)
			if k.sum {
				sum := m.SetEmptySum()
				sum.SetIsMonotonic(true)
				sum.SetAggregationTemporality(pmetric.AggregationTemporalityCumulative)
				dps = sum.DataPoints()
			} else {
				dps = m.SetEmptyGauge().DataPoints()
			}
			byName[k] = dps
		}
		var last pmetric.NumberDataPoint
		for _, smp := range s.samples {
			dp := dps.AppendEmpty()
			s.labels.Range(func(l labels.Label) {
				if l.Name != model.MetricNameLabel {
					dp.Attributes().PutStr(l.Name, l.Value)
				}
			})
			dp.SetTimestamp(msTime(smp.t))
			if smp.start != 0 {
				dp.SetStartTimestamp(msTime(smp.start))
			}
			if value.IsStaleNaN(smp.v) {
				dp.SetFlags(pmetric.DefaultDataPointFlags.WithNoRecordedValue(true))
			} else {
				dp.SetDoubleValue(smp.v)
			}
			last = dp
			c.samples++
		}
		for _, e := range s.exemplars {
			addExemplar(last.Exemplars().AppendEmpty(), e)
			c.exemplars++
		}
	}
	return c
}

func msTime(ms int64) pcommon.Timestamp {
	if ms <= 0 {
		return 0
	}
	if ms > math.MaxInt64/1_000_000 {
		return pcommon.Timestamp(math.MaxInt64)
	}
	return pcommon.Timestamp(ms * 1e6)
}

// addExemplar copies a Prometheus exemplar: trace_id and span_id (hex)
// become its trace and span, other labels its filtered attributes.
func addExemplar(dst pmetric.Exemplar, e exemplar.Exemplar) {
	dst.SetDoubleValue(e.Value)
	if e.HasTs {
		dst.SetTimestamp(msTime(e.Ts))
	}
	e.Labels.Range(func(l labels.Label) {
		switch l.Name {
		case "trace_id":
			var id pcommon.TraceID
			if b, err := hex.DecodeString(l.Value); err == nil && len(b) == len(id) {
				copy(id[:], b)
				dst.SetTraceID(id)
				return
			}
		case "span_id":
			var id pcommon.SpanID
			if b, err := hex.DecodeString(l.Value); err == nil && len(b) == len(id) {
				copy(id[:], b)
				dst.SetSpanID(id)
				return
			}
		}
		dst.FilteredAttributes().PutStr(l.Name, l.Value)
	})
}
