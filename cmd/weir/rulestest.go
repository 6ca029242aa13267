package main

import (
	"bytes"
	"errors"
	"fmt"
	"io"
	"path/filepath"
	"slices"
	"strings"

	"github.com/prometheus/common/model"
	"github.com/prometheus/prometheus/model/labels"
	"github.com/prometheus/prometheus/model/textparse"
	"go.opentelemetry.io/collector/pdata/pmetric"

	"github.com/weirdev/weir/ingest"
	"github.com/weirdev/weir/internal/config"
	"github.com/weirdev/weir/plan"
	"github.com/weirdev/weir/rules"
	"github.com/weirdev/weir/sample"
)

// pointsError is a line of a text-format input that does not parse.
type pointsError struct {
	File string
	Line int
	Err  error
}

func (e *pointsError) Error() string { return fmt.Sprintf("%s:%d: %v", e.File, e.Line, e.Err) }

// readPoints decodes the input of weir rules test into the points weir
// would see, one per distinct input series, in input order. cfg, when not
// nil, supplies the conversion settings of OTLP input.
func readPoints(name string, data []byte, format string, cfg *config.Config) ([]sample.Point, error) {
	if format == "auto" {
		format = "text"
		if filepath.Ext(name) == ".json" || bytes.HasPrefix(bytes.TrimSpace(data), []byte("{")) {
			format = "otlp_json"
		}
	}
	var pts []sample.Point
	switch format {
	case "text":
		var err error
		if pts, err = parseText(name, data); err != nil {
			return nil, err
		}
	case "otlp_json":
		md, err := ingest.DecodeMetrics(ingest.EncodingJSON, data)
		if err != nil {
			return nil, err
		}
		pts = convertOTLP(md, cfg)
	default:
		return nil, fmt.Errorf("unknown -format %q: want text, otlp_json or auto", format)
	}
	// A series listed twice (several samples, or several data points) is
	// shown once.
	seen := make(map[string]bool)
	out := pts[:0]
	for _, p := range pts {
		k := p.Kind.String() + p.Tenant + p.Labels.String()
		if !seen[k] {
			seen[k] = true
			out = append(out, p)
		}
	}
	return out, nil
}

// convertOTLP turns OTLP metrics into points with ingest's converter, as the
// pipeline does. Cumulative sums and histograms are read as deltas first:
// the converter takes a series' first cumulative point as its baseline and
// yields nothing for it, and a test file often holds one point per series.
func convertOTLP(md pmetric.Metrics, cfg *config.Config) []sample.Point {
	for _, rm := range md.ResourceMetrics().All() {
		for _, sm := range rm.ScopeMetrics().All() {
			for _, m := range sm.Metrics().All() {
				switch m.Type() {
				case pmetric.MetricTypeSum:
					if m.Sum().IsMonotonic() {
						m.Sum().SetAggregationTemporality(pmetric.AggregationTemporalityDelta)
					}
				case pmetric.MetricTypeHistogram:
					m.Histogram().SetAggregationTemporality(pmetric.AggregationTemporalityDelta)
				case pmetric.MetricTypeExponentialHistogram:
					m.ExponentialHistogram().SetAggregationTemporality(pmetric.AggregationTemporalityDelta)
				}
			}
		}
	}
	var opts []ingest.ConvertOpt
	if cfg != nil {
		opts = append(opts, cfg.OTLP.ConvertOpts()...)
		if cfg.Kafka.TenantAttribute != "" {
			opts = append(opts, ingest.TenantAttribute(cfg.Kafka.TenantAttribute))
		}
	}
	var pts []sample.Point
	ingest.NewMetricConverter(opts...).Convert(md, "", func(p *sample.Point) { pts = append(pts, *p) })
	return pts
}

// parseText reads the Prometheus text exposition format line by line (so
// that an error names its line) with Prometheus' own parser. The # TYPE of a
// family decides the kind weir gives its series: counters are deltas,
// histograms one histogram point per bucket set (their _sum and _count are
// part of it), summaries, gauges and untyped series gauges.
func parseText(name string, data []byte) ([]sample.Point, error) {
	types := make(map[string]model.MetricType)
	st := labels.NewSymbolTable()
	var pts []sample.Point
	for i, line := range bytes.SplitAfter(data, []byte("\n")) {
		if len(bytes.TrimSpace(line)) == 0 {
			continue
		}
		if !bytes.HasSuffix(line, []byte("\n")) {
			line = append(slices.Clip(line), '\n')
		}
		p := textparse.NewPromParser(line, st, false)
		for {
			e, err := p.Next()
			if errors.Is(err, io.EOF) {
				break
			}
			if err != nil {
				return nil, &pointsError{File: name, Line: i + 1, Err: err}
			}
			switch e {
			case textparse.EntryType:
				n, t := p.Type()
				types[string(n)] = t
			case textparse.EntrySeries:
				var l labels.Labels
				p.Labels(&l)
				if pt, ok := textPoint(l, types); ok {
					pts = append(pts, pt)
				}
			}
		}
	}
	return pts, nil
}

// textPoint is the point weir would see for a text-format series; ok is
// false for the _sum and _count series of a histogram.
func textPoint(l labels.Labels, types map[string]model.MetricType) (sample.Point, bool) {
	name := l.Get(model.MetricNameLabel)
	typ, family, suffix := model.MetricTypeUnknown, name, ""
	if t, ok := types[name]; ok {
		typ = t
	} else {
		for _, s := range []string{"_bucket", "_sum", "_count", "_total", "_created"} {
			if t, ok := types[strings.TrimSuffix(name, s)]; ok && strings.HasSuffix(name, s) {
				typ, family, suffix = t, strings.TrimSuffix(name, s), s
				break
			}
		}
	}
	switch typ {
	case model.MetricTypeCounter:
		return sample.Point{Labels: l, Kind: sample.Delta}, true
	case model.MetricTypeHistogram, model.MetricTypeGaugeHistogram:
		if suffix != "_bucket" {
			return sample.Point{}, false
		}
		b := labels.NewBuilder(l).Del(labels.BucketLabel).Set(model.MetricNameLabel, family)
		return sample.Point{Labels: b.Labels(), Kind: sample.Histogram}, true
	}
	return sample.Point{Labels: l, Kind: sample.Gauge}, true
}

// describe prints what the rules make of one input series.
func describe(w io.Writer, s *rules.Set, u plan.Unmatched, pt *sample.Point) {
	fmt.Fprintf(w, "%s (%s)\n", seriesString(pt.Labels), pt.Kind)
	drop, outs := plan.Explain(s, u, pt)
	switch {
	case drop != "":
		fmt.Fprintf(w, "  dropped by drop rule %q\n", drop)
		return
	case len(outs) == 0 && u.Drop:
		fmt.Fprintln(w, "  no rule matches: dropped (unmatched: drop)")
		return
	case len(outs) == 0:
		fmt.Fprintln(w, "  no rule matches, and the rules use no storage policy to pass it through at: dropped")
		return
	}
	kinds := make(map[string]rules.RuleKind)
	for _, r := range s.Rules() {
		kinds[r.Name] = r.Kind
	}
	for _, o := range outs {
		var head string
		switch {
		case !o.PassThrough:
			head = fmt.Sprintf("rollup %q", o.Rules[0])
		case len(o.Rules) == 0:
			head = "no rule matches: passes through"
		default:
			var by []string
			for _, r := range o.Rules {
				if kinds[r] == rules.MappingRule {
					by = append(by, fmt.Sprintf("mapping %q", r))
				} else {
					by = append(by, fmt.Sprintf("keep_original of rollup %q", r))
				}
			}
			head = "passes through (" + strings.Join(by, ", ") + ")"
		}
		var pols []string
		for _, p := range o.Policies {
			pols = append(pols, p.String())
		}
		fmt.Fprintf(w, "  %s at %s:\n", head, strings.Join(pols, ", "))
		for _, l := range o.Series {
			fmt.Fprintf(w, "    %s\n", seriesString(l))
		}
	}
}

// seriesString writes a series as Prometheus does: name{label="value", ...}.
// A bucket series, listed without its le label, says so.
func seriesString(l labels.Labels) string {
	name := l.Get(model.MetricNameLabel)
	rest := labels.NewBuilder(l).Del(model.MetricNameLabel).Labels()
	s := name
	if rest.Len() > 0 || name == "" {
		s += rest.String()
	}
	if strings.HasSuffix(name, "_bucket") && !l.Has(labels.BucketLabel) {
		s += " (one series per le)"
	}
	return s
}
