package ingest

import (
	"math"
	"time"

	"go.opentelemetry.io/collector/pdata/pmetric"

	"github.com/weirdev/weir/sample"
)

// metricScan walks an otlp_proto metrics record of gauges and sums once,
// checking every field pdata's unmarshaler checks, and keeps, without
// copying, what their points need. It reuses spanScan's walkers of
// resources, scopes and attributes: dims are the promoted resource
// attributes.
type metricScan struct {
	*spanScan
	metrics []scanMetric
	points  []scanNumber
	attrs   []scanAttr // The points' attributes, each point's in a run.
}

// scanMetric is one metric: a gauge or a sum read in place, or any other
// metric decoded by pdata (pd).
type scanMetric struct {
	name       scanValue // valStr, or valAbsent for no name.
	unit       scanValue
	res        int
	sum        bool
	temporal   int32 // AggregationTemporality of a sum.
	monotonic  bool
	prom       bool // Of a RemoteWriteScope scope.
	first, end int  // Its points: metricScan.points[first:end].
	pd         *pmetric.Metric
}

// scanNumber is one NumberDataPoint.
type scanNumber struct {
	attrs, attrsEnd int // metricScan.attrs[attrs:attrsEnd].
	start, t        uint64
	value           uint64 // Bits of the double, or the int64.
	isInt           bool
	flags           uint32
	ex              sample.Exemplar // The first one with a trace ID.
}

type scanAttr struct {
	key string // A view into the record.
	val scanValue
}

func (d *metricScan) reset(raw []byte) {
	d.spanScan.reset(raw)
	clear(d.attrs) // Their keys are views into the last record.
	d.metrics, d.points, d.attrs = d.metrics[:0], d.points[:0], d.attrs[:0]
}

// walk reads the record: MetricsData, wire-identical to
// ExportMetricsServiceRequest.
func (d *metricScan) walk() error { return d.record("resource_metrics", d.resourceMetrics) }

func (d *metricScan) resourceMetrics(start, end int) error {
	ri := len(d.res)
	d.res = append(d.res, scanResource{})
	for range d.dims {
		d.resDims = append(d.resDims, scanValue{})
	}
	b := d.raw[:end]
	nScope := 0
	for pos := start; pos < end; {
		num, wt, v := tagAt(b, pos)
		if v < 0 {
			if num, wt, v = tagSlow(b, pos); v < 0 {
				return tagError(b, pos)
			}
		}
		var (
			s, e int
			err  error
		)
		switch num {
		case 1:
			if s, e = lenAt(b, v); wt != wireLen || e < 0 {
				return fieldError(b, pos, "resource", -1, wireLen)
			}
			err = within(d.resource(s, e, ri), "resource", -1)
		case 2:
			if s, e = lenAt(b, v); wt != wireLen || e < 0 {
				return fieldError(b, pos, "scope_metrics", nScope, wireLen)
			}
			err = within(d.scopeMetrics(s, e, ri), "scope_metrics", nScope)
			nScope++
		case 3:
			if _, e = lenAt(b, v); wt != wireLen || e < 0 {
				return fieldError(b, pos, "schema_url", -1, wireLen)
			}
		case 1000:
			return ErrNeedsPdata // deprecated instrumentation_library_metrics
		default:
			e, err = skipUnknown(b, pos, v, num, wt)
		}
		if err != nil {
			return err
		}
		pos = e
	}
	return nil
}

func (d *metricScan) scopeMetrics(start, end, ri int) error {
	b := d.raw[:end]
	n, first := 0, len(d.metrics)
	var scope scanValue
	for pos := start; pos < end; {
		num, wt, v := tagAt(b, pos)
		if v < 0 {
			if num, wt, v = tagSlow(b, pos); v < 0 {
				return tagError(b, pos)
			}
		}
		var (
			s, e int
			err  error
		)
		switch num {
		case 1:
			if s, e = lenAt(b, v); wt != wireLen || e < 0 {
				return fieldError(b, pos, "scope", -1, wireLen)
			}
			if err = within(d.scope(s, e), "scope", -1); err == nil {
				scope = d.scopeName(s, e)
			}
		case 2:
			if s, e = lenAt(b, v); wt != wireLen || e < 0 {
				return fieldError(b, pos, "metrics", n, wireLen)
			}
			err = within(d.metric(s, e, ri), "metrics", n)
			n++
		case 3:
			if _, e = lenAt(b, v); wt != wireLen || e < 0 {
				return fieldError(b, pos, "schema_url", -1, wireLen)
			}
		default:
			e, err = skipUnknown(b, pos, v, num, wt)
		}
		if err != nil {
			return err
		}
		pos = e
	}
	if d.view(scope.off, scope.end) == RemoteWriteScope {
		for i := first; i < len(d.metrics); i++ {
			d.metrics[i].prom = true
		}
	}
	return nil
}

func (d *metricScan) metric(start, end, ri int) error {
	b := d.raw[:end]
	m := scanMetric{res: ri, first: len(d.points)}
	attrs := len(d.attrs)
	data, nMeta := false, 0
	// Histograms, exponential histograms and summaries, and a second data
	// field (pdata keeps the last only), are pdata's: it decodes the
	// metric alone, as it would within the record.
	byPdata := func() error {
		d.points, d.attrs = d.points[:m.first], d.attrs[:attrs]
		pd, err := d.pdataMetric(start, end)
		if err != nil {
			return err
		}
		m.pd = pd
		m.end = m.first
		d.metrics = append(d.metrics, m)
		return nil
	}
	for pos := start; pos < end; {
		num, wt, v := tagAt(b, pos)
		if v < 0 {
			if num, wt, v = tagSlow(b, pos); v < 0 {
				return tagError(b, pos)
			}
		}
		var (
			s, e int
			err  error
		)
		switch num {
		case 1:
			if s, e = lenAt(b, v); wt != wireLen || e < 0 {
				return fieldError(b, pos, "name", -1, wireLen)
			}
			m.name = scanValue{kind: valStr, off: s, end: e}
		case 2, 3:
			if s, e = lenAt(b, v); wt != wireLen || e < 0 {
				return fieldError(b, pos, metricStringFields[num], -1, wireLen)
			}
			if num == 3 {
				m.unit = scanValue{kind: valStr, off: s, end: e}
			}
		case 5, 7:
			if data {
				return byPdata()
			}
			data = true
			if s, e = lenAt(b, v); wt != wireLen || e < 0 {
				return fieldError(b, pos, metricDataFields[num], -1, wireLen)
			}
			m.sum = num == 7
			err = within(d.numbers(s, e, &m), metricDataFields[num], -1)
		case 9, 10, 11:
			return byPdata()
		case 12:
			e, err = d.attributeNamed(b, pos, v, wt, "metadata", nMeta)
			nMeta++
		default:
			e, err = skipUnknown(b, pos, v, num, wt)
		}
		if err != nil {
			return err
		}
		pos = e
	}
	m.end = len(d.points)
	d.metrics = append(d.metrics, m)
	return nil
}

// scopeName returns the name of the InstrumentationScope at raw[start:end],
// which scope checked: its last name field, as pdata keeps.
func (d *metricScan) scopeName(start, end int) scanValue {
	var name scanValue
	b := d.raw[:end]
	for pos := start; pos < end; {
		num, wt, v := tagAt(b, pos)
		if v < 0 {
			num, wt, v = tagSlow(b, pos)
		}
		var e int
		if num == 1 && wt == wireLen {
			var s int
			s, e = lenAt(b, v)
			name = scanValue{kind: valStr, off: s, end: e}
		} else {
			e, _ = skipUnknown(b, pos, v, num, wt)
		}
		if e <= pos { // scope checked the message: this only guards the loop.
			break
		}
		pos = e
	}
	return name
}

// pdataMetric decodes the Metric at raw[start:end] with pdata, wrapped in a
// record of its own; an error is pdata's refusal of it, and so of the record.
func (d *metricScan) pdataMetric(start, end int) (*pmetric.Metric, error) {
	w := appendLenField(nil, 2, d.raw[start:end]) // ScopeMetrics.metrics
	w = appendLenField(nil, 2, w)                 // ResourceMetrics.scope_metrics
	w = appendLenField(nil, 1, w)                 // MetricsData.resource_metrics
	md, err := (&pmetric.ProtoUnmarshaler{}).UnmarshalMetrics(w)
	if err != nil {
		return nil, fail(start, "", err)
	}
	m := md.ResourceMetrics().At(0).ScopeMetrics().At(0).Metrics().At(0)
	return &m, nil
}

var (
	metricStringFields = [...]string{2: "description", 3: "unit"}
	metricDataFields   = [...]string{5: "gauge", 7: "sum"}
)

// numbers walks a Gauge or a Sum (the Gauge's one field is the Sum's first).
func (d *metricScan) numbers(start, end int, m *scanMetric) error {
	b := d.raw[:end]
	n := 0
	for pos := start; pos < end; {
		num, wt, v := tagAt(b, pos)
		if v < 0 {
			if num, wt, v = tagSlow(b, pos); v < 0 {
				return tagError(b, pos)
			}
		}
		var (
			s, e int
			x    uint64
			err  error
		)
		switch {
		case num == 1:
			if s, e = lenAt(b, v); wt != wireLen || e < 0 {
				return fieldError(b, pos, "data_points", n, wireLen)
			}
			err = within(d.number(s, e), "data_points", n)
			n++
		case num == 2 && m.sum:
			if x, e = varintAt(b, v); wt != wireVarint || e < 0 {
				return fieldError(b, pos, "aggregation_temporality", -1, wireVarint)
			}
			m.temporal = int32(x)
		case num == 3 && m.sum:
			if x, e = varintAt(b, v); wt != wireVarint || e < 0 {
				return fieldError(b, pos, "is_monotonic", -1, wireVarint)
			}
			m.monotonic = x != 0
		default:
			e, err = skipUnknown(b, pos, v, num, wt)
		}
		if err != nil {
			return err
		}
		pos = e
	}
	return nil
}

// number walks one NumberDataPoint.
func (d *metricScan) number(start, end int) error {
	b := d.raw[:end]
	p := scanNumber{attrs: len(d.attrs)}
	nAttr, nEx := 0, 0
	for pos := start; pos < end; {
		num, wt, v := tagAt(b, pos)
		if v < 0 {
			if num, wt, v = tagSlow(b, pos); v < 0 {
				return tagError(b, pos)
			}
		}
		var (
			s, e int
			x    uint64
			err  error
		)
		switch num {
		case 7:
			if s, e = lenAt(b, v); wt != wireLen || e < 0 {
				return fieldError(b, pos, "attributes", nAttr, wireLen)
			}
			key, val, err := d.keyValue(s, e, 0)
			if err != nil {
				return within(err, "attributes", nAttr)
			}
			nAttr++
			d.attrs = append(d.attrs, scanAttr{key: key, val: val})
		case 2:
			if p.start, e = i64At(b, v); wt != wireI64 || e < 0 {
				return fieldError(b, pos, "start_time_unix_nano", -1, wireI64)
			}
		case 3:
			if p.t, e = i64At(b, v); wt != wireI64 || e < 0 {
				return fieldError(b, pos, "time_unix_nano", -1, wireI64)
			}
		case 4, 6:
			if p.value, e = i64At(b, v); wt != wireI64 || e < 0 {
				return fieldError(b, pos, numberValueFields[num], -1, wireI64)
			}
			p.isInt = num == 6
		case 5:
			if s, e = lenAt(b, v); wt != wireLen || e < 0 {
				return fieldError(b, pos, "exemplars", nEx, wireLen)
			}
			ex, err := d.exemplar(s, e)
			if err != nil {
				return within(err, "exemplars", nEx)
			}
			if !p.ex.Valid() && ex.Valid() {
				p.ex = ex
			}
			nEx++
		case 8:
			if x, e = varintAt(b, v); wt != wireVarint || e < 0 {
				return fieldError(b, pos, "flags", -1, wireVarint)
			}
			p.flags = uint32(x)
		default:
			e, err = skipUnknown(b, pos, v, num, wt)
		}
		if err != nil {
			return err
		}
		pos = e
	}
	p.attrsEnd = len(d.attrs)
	d.points = append(d.points, p)
	return nil
}

var numberValueFields = [...]string{4: "as_double", 6: "as_int"}

// exemplar walks one Exemplar and returns it as firstExemplar would take
// it: invalid (zero trace ID) when it links to no trace.
func (d *metricScan) exemplar(start, end int) (sample.Exemplar, error) {
	b := d.raw[:end]
	var (
		ex    sample.Exemplar
		value uint64
		isInt bool
	)
	nAttr := 0
	for pos := start; pos < end; {
		num, wt, v := tagAt(b, pos)
		if v < 0 {
			if num, wt, v = tagSlow(b, pos); v < 0 {
				return sample.Exemplar{}, tagError(b, pos)
			}
		}
		var (
			s, e int
			t    uint64
			err  error
		)
		switch num {
		case 7:
			e, err = d.attributeNamed(b, pos, v, wt, "filtered_attributes", nAttr)
			nAttr++
		case 2:
			if t, e = i64At(b, v); wt != wireI64 || e < 0 {
				return sample.Exemplar{}, fieldError(b, pos, "time_unix_nano", -1, wireI64)
			}
			ex.T = int64(t) / int64(time.Millisecond)
		case 3, 6:
			if value, e = i64At(b, v); wt != wireI64 || e < 0 {
				return sample.Exemplar{}, fieldError(b, pos, exemplarValueFields[num], -1, wireI64)
			}
			isInt = num == 6
		case 4:
			if s, e = lenAt(b, v); wt != wireLen || e < 0 {
				return sample.Exemplar{}, fieldError(b, pos, "span_id", -1, wireLen)
			}
			if !readID(ex.SpanID[:], b, s, e) {
				return sample.Exemplar{}, idError(pos, "span_id", e-s, len(ex.SpanID))
			}
		case 5:
			if s, e = lenAt(b, v); wt != wireLen || e < 0 {
				return sample.Exemplar{}, fieldError(b, pos, "trace_id", -1, wireLen)
			}
			if !readID(ex.TraceID[:], b, s, e) {
				return sample.Exemplar{}, idError(pos, "trace_id", e-s, len(ex.TraceID))
			}
		default:
			e, err = skipUnknown(b, pos, v, num, wt)
		}
		if err != nil {
			return sample.Exemplar{}, err
		}
		pos = e
	}
	ex.Value = math.Float64frombits(value)
	if isInt {
		ex.Value = float64(int64(value))
	}
	ex.Partition = -1
	if !ex.Valid() {
		return sample.Exemplar{}, nil
	}
	return ex, nil
}

var exemplarValueFields = [...]string{3: "as_double", 6: "as_int"}

// attributeNamed checks one KeyValue field nobody looks up, named name.
func (d *metricScan) attributeNamed(b []byte, at, v int, wt int8, name string, index int) (int, error) {
	s, e := lenAt(b, v)
	if wt != wireLen || e < 0 {
		return 0, fieldError(b, at, name, index, wireLen)
	}
	if _, _, err := d.keyValue(s, e, 0); err != nil {
		return 0, within(err, name, index)
	}
	return e, nil
}
