package aggregator

import (
	"math"

	"github.com/weirdev/weir/sample"
)

// stddevOutput is the population standard deviation of the window's values
// (gauges, deltas and observations weighted by their count; histograms
// carry no values and do not count). Its state is exact sums, so that the
// result does not depend on how the points were partitioned or merged.
type stddevOutput struct{}

func (stddevOutput) newExtra() extra { return &moments{} }

func (stddevOutput) emit(w *window, t *Target, s *Spec, out *emitter) {
	m, _ := w.extraOf(t, Stddev).(*moments)
	if m == nil || m.n == 0 {
		return
	}
	mean := m.sum.value() / m.n
	v := m.sumsq.value()/m.n - mean*mean
	out.put(t.SeriesLabels(s), math.Sqrt(max(v, 0)), sample.Exemplar{})
}

// moments are the count, sum and sum of squares of a window's values.
type moments struct {
	n          float64
	sum, sumsq exactSum
}

func (m *moments) add(p *sample.Point) {
	c := 1.0
	switch p.Kind {
	case sample.Gauge, sample.Delta:
	case sample.Observation:
		if p.Count > 0 {
			c = p.Count
		}
	default:
		return
	}
	m.n += c
	m.sum.add(p.V * c)
	m.sumsq.add(p.V * p.V * c)
}

func (m *moments) merge(o extra) {
	om := o.(*moments)
	m.n += om.n
	m.sum.merge(&om.sum)
	m.sumsq.merge(&om.sumsq)
}

func (m *moments) appendTo(b []byte) []byte {
	b = appendF64(b, m.n)
	b = m.sum.appendTo(b)
	return m.sumsq.appendTo(b)
}

func (m *moments) read(d *decoder) {
	m.n = d.count64()
	m.sum = d.xsum()
	m.sumsq = d.xsum()
}
