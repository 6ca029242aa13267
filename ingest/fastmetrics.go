package ingest

import (
	"encoding/binary"
	"errors"
	"fmt"
	"math"
	"strings"
	"time"

	"github.com/prometheus/otlptranslator"
	"go.opentelemetry.io/collector/pdata/pmetric"

	"github.com/weirdev/weir/sample"
)

// ErrNeedsPdata is ConvertProto's answer for a record it leaves to
// DecodeMetrics + Convert: one holding the deprecated
// instrumentation_library_metrics, or any record of a converter with
// PromoteAllResourceAttributes. It says nothing of the record's validity.
var ErrNeedsPdata = errors.New("ingest: metrics record needs pdata")

// metricProtoState is what MetricConverter.ConvertProto reuses from record
// to record.
type metricProtoState struct {
	protoState // Renders values (str) and tenants, over ms's record.
	ms         metricScan
}

// ConvertProto converts otlp_proto MetricsData bytes straight to points, as
// DecodeMetrics + Convert would (same points in the same order, same
// cumulative state): gauges and sums are read in place instead of building
// pdata objects; any other metric (histograms, exponential histograms,
// summaries, or one with two data fields) is decoded by pdata on its own. A
// record with the deprecated instrumentation_library_metrics yields
// ErrNeedsPdata; bytes pdata would refuse yield an error naming the byte
// offset and field (or ErrNeedsPdata, when the walk gave up first). Either
// way no point was emitted: the whole record is checked first, and the
// caller decodes the record with DecodeMetrics, the reference, and converts
// it with Convert.
// emit gets the same reused Point as with Convert. The converter keeps no
// reference to raw after it returns.
func (c *MetricConverter) ConvertProto(raw []byte, tenant string, emit func(*sample.Point)) error {
	if len(raw) == 0 {
		return fmt.Errorf("ingest: decode %s metrics (0 bytes): %w", EncodingProto, errEmpty)
	}
	if c.cfg.promoteAll {
		return ErrNeedsPdata // The scan keeps only the attributes it is told of.
	}
	f := c.metricProto()
	d := &f.ms
	d.reset(raw)
	defer func() {
		// Drop the views into raw, so that the record is not kept alive.
		d.reset(nil)
		clear(c.res)
		c.res = c.res[:0]
	}()
	if err := d.walk(); err != nil {
		if err == ErrNeedsPdata {
			return err
		}
		return fmt.Errorf("ingest: decode %s metrics (%d bytes): %w", EncodingProto, len(raw), err)
	}
	c.stamp = c.now().UnixNano()
	c.sweepStale()
	f.arena = f.arena[:0]
	nd := len(d.dims)
	res, t := -1, ""
	for _, m := range d.metrics {
		if m.res != res {
			// Copies: Convert's labels (the pdata metrics') keep them.
			res = m.res
			r := d.res[res]
			dims := d.resDims[res*nd : res*nd+nd]
			ns, inst := dims[0], dims[1] // metricProto's identity dims.
			c.res = appendIdentity(c.res[:0], f.str(ns), f.str(r.svc), f.str(inst), ns.kind != valAbsent, r.svc.kind != valAbsent, inst.kind != valAbsent)
			for j := range c.res {
				c.res[j].value = strings.Clone(c.res[j].value)
			}
			for j, k := range d.dims[identityDims:] {
				if v := dims[identityDims+j]; v.kind != valAbsent {
					c.res = append(c.res, resourceLabel{name: c.names.label(k), value: strings.Clone(f.str(v))})
				}
			}
			t = f.resolveTenant(&c.cfg, tenant, r.tenant)
		}
		c.prom = m.prom
		if m.pd != nil {
			c.metric(*m.pd, t, emit)
			continue
		}
		if m.first == m.end {
			continue
		}
		kind, cumulative := sample.Gauge, false
		if m.sum {
			switch pmetric.AggregationTemporality(m.temporal) {
			case pmetric.AggregationTemporalityDelta:
				kind = sample.Delta
			case pmetric.AggregationTemporalityCumulative:
				if m.monotonic {
					kind, cumulative = sample.Delta, true
				}
			default:
				c.dropAll(m.end-m.first, ReasonUnspecifiedTemporality)
				continue
			}
		}
		var typ otlptranslator.MetricType = otlptranslator.MetricTypeGauge
		if m.sum {
			typ = otlptranslator.MetricTypeNonMonotonicCounter
			if m.monotonic {
				typ = otlptranslator.MetricTypeMonotonicCounter
			}
		}
		name := c.names.metric(d.view(m.name.off, m.name.end), d.view(m.unit.off, m.unit.end), typ, m.prom)
		for i := m.first; i < m.end; i++ {
			p := &d.points[i]
			attrs := d.attrs[p.attrs:p.attrsEnd]
			c.stats.Points++
			if p.flags&1 != 0 { // No recorded value: it ends the series.
				if cumulative {
					c.endNum(seriesKey{t, c.scanLabels(f, name, attrs).hash})
				}
				c.drop(ReasonNoRecordedValue)
				continue
			}
			v := math.Float64frombits(p.value)
			if p.isInt {
				v = float64(int64(p.value))
			}
			if math.IsNaN(v) {
				c.drop(ReasonNaN)
				continue
			}
			e := c.scanLabels(f, name, attrs)
			if cumulative {
				var ok bool
				if v, ok = c.cumulative(seriesKey{t, e.hash}, p.start, p.t, v); !ok {
					c.drop(c.why)
					continue
				}
			}
			c.p = sample.Point{Labels: e.lbls, Hash: e.hash, Series: &e.series, Tenant: t, Kind: kind, T: int64(p.t) / int64(time.Millisecond), V: v,
				Exemplar: p.ex, HasBase: cumulative, BaseOffset: c.base}
			c.stats.Emitted++
			emit(&c.p)
		}
	}
	return nil
}

// identityDims are the resource attributes metricProto's scan looks up
// before the promoted ones: service.namespace and service.instance.id (the
// scan keeps service.name of its own).
const identityDims = 2

func (c *MetricConverter) metricProto() *metricProtoState {
	if c.fast == nil {
		f := &metricProtoState{protoState: protoState{tenants: map[string]string{}}}
		f.protoState.scan.dims = append([]string{serviceNamespaceAttr, serviceInstanceIDAttr}, c.cfg.promote...)
		f.protoState.scan.tenantAttr = c.cfg.tenantAttr
		f.ms.spanScan = &f.protoState.scan
		c.fast = f
	}
	return c.fast
}

// scanLabels is labels for a point of ConvertProto: the same key from views
// into the record (name may be one too), and on a miss the same label set
// built from copies.
func (c *MetricConverter) scanLabels(f *metricProtoState, name string, attrs []scanAttr) *cachedLabels {
	k := c.keyHead(name, "", "")
	for _, a := range attrs {
		k = appendKeyString(k, a.key)
		switch a.val.kind {
		case valStr:
			k = appendKeyString(append(k, 's'), f.ms.view(a.val.off, a.val.end))
		case valInt:
			k = binary.LittleEndian.AppendUint64(append(k, 'i'), a.val.num)
		case valBool:
			k = appendKeyBool(k, a.val.num != 0)
		default:
			k = appendKeyString(append(k, 'o'), f.str(a.val))
		}
	}
	e, h := c.lcache.cached(k)
	if e != nil {
		return e
	}
	for _, a := range attrs {
		c.attrs = append(c.attrs, attrLabel{strings.Clone(a.key), c.labelName(a.key), strings.Clone(f.str(a.val))})
	}
	return c.build(h, k, name, "", "")
}
