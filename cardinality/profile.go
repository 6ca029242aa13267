package cardinality

import (
	"strings"
	"time"

	"github.com/axiomhq/hyperloglog"
	"github.com/cespare/xxhash/v2"
	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/common/model"
	"github.com/prometheus/prometheus/model/labels"

	"github.com/weirdev/weir/aggregator"
	"github.com/weirdev/weir/sample"
)

// The defaults of Config.
const (
	DefaultPeriod    = time.Minute
	DefaultMaxBytes  = 64 << 20
	DefaultTopK      = 16
	DefaultMaxLabels = 48
)

// Sketch precisions: 2^p registers, a relative standard error of 1.04/√(2^p)
// (0.81% for series, 1.6% for label values), at most 2^p bytes each once
// dense (sparse below about 2^p/4 distinct values).
const (
	seriesPrecision = 14
	labelPrecision  = 12
)

// StdError returns the relative standard error of the distinct counts of
// series (label false) or of label values (label true). The counts are within
// three standard errors of the truth with probability 99.7%.
func StdError(label bool) float64 {
	if label {
		return 1.04 / 64 // √(2^12)
	}
	return 1.04 / 128 // √(2^14)
}

// Config configures a Profiler.
type Config struct {
	// Period is how long a series stays active without a point: a profile
	// covers the period before the current one and the current one
	// (default DefaultPeriod).
	Period time.Duration
	// MaxBytes bounds the memory of the profiles (default DefaultMaxBytes).
	// While they hold more, a metric seen first is not tracked and the
	// series of tracked metrics are not described (their samples still
	// count): such points are counted in
	// weir_profiler_untracked_points_total.
	MaxBytes int64
	// TopK is the number of top values kept per label (default
	// DefaultTopK).
	TopK int
	// MaxLabels bounds the labels described per metric (default
	// DefaultMaxLabels); further label names are not profiled.
	MaxLabels int
	Reg       prometheus.Registerer
}

func (c *Config) defaults() {
	if c.Period <= 0 {
		c.Period = DefaultPeriod
	}
	if c.MaxBytes <= 0 {
		c.MaxBytes = DefaultMaxBytes
	}
	if c.TopK <= 0 {
		c.TopK = DefaultTopK
	}
	if c.MaxLabels <= 0 {
		c.MaxLabels = DefaultMaxLabels
	}
}

// Profiler profiles the input of a worker's partitions. It is not safe for
// concurrent use: the worker's stage-1 goroutine drives it.
type Profiler struct {
	cfg     Config
	metrics map[metricKey]*metricProfile
	bytes   int64 // held by every generation alive
	start   time.Time
	m       *metrics
}

type metricKey struct{ tenant, name string }

type metricProfile struct {
	key       metricKey
	cur, prev *generation
}

// generation is what one period saw of a metric.
type generation struct {
	start           time.Time
	retired         bool
	samples         uint64
	nseries         int // series described: bounds the sketches' size estimate
	series, outputs *hyperloglog.Sketch
	labels          map[string]*labelProfile
	bytes           int64
	owner           *Profiler
}

type labelProfile struct {
	values *hyperloglog.Sketch
	top    *TopK
	n      int // series described: bounds the sketch's size estimate
}

// overhead of a generation beside its sketches, and of a label.
const (
	genOverhead   = 256
	labelOverhead = 160
	hllOverhead   = 96
)

// New returns a profiler.
func New(cfg Config) *Profiler {
	cfg.defaults()
	return &Profiler{cfg: cfg, metrics: map[metricKey]*metricProfile{}, m: newMetrics(cfg.Reg)}
}

// Period returns the profiles' period.
func (p *Profiler) Period() time.Duration { return p.cfg.Period }

// Observe counts a point that feeds targets (none when dropped or shed). The first point of a series in a period describes
// it: its hash joins the metric's series sketch, its targets' output series
// the output sketch, and each label value the label's sketch and top values.
func (p *Profiler) Observe(pt *sample.Point, targets []*aggregator.Target, now time.Time) {
	if s := pt.Series; s != nil {
		if g, ok := s.Profile.(*generation); ok && !g.retired && g.owner == p {
			g.samples++
			return
		}
	}
	p.describe(pt, targets, now)
}

func (p *Profiler) describe(pt *sample.Point, targets []*aggregator.Target, now time.Time) {
	k := metricKey{pt.Tenant, pt.Labels.Get(model.MetricNameLabel)}
	mp := p.metrics[k]
	if mp == nil {
		if p.bytes >= p.cfg.MaxBytes {
			p.m.untracked.Inc()
			return
		}
		k = metricKey{strings.Clone(k.tenant), strings.Clone(k.name)}
		mp = &metricProfile{key: k}
		p.metrics[k] = mp
	}
	g := mp.cur
	if g == nil {
		g = p.newGeneration(now)
		mp.cur = g
	}
	g.samples++
	if p.bytes >= p.cfg.MaxBytes {
		// The sketches may not grow: the point counts, its series is not
		// described.
		p.m.untracked.Inc()
		return
	}
	before := g.bytes
	h := pt.Hash
	if h == 0 {
		h = pt.Labels.Hash()
	}
	g.series.InsertHash(h)
	for _, t := range targets {
		for i := range t.Specs {
			g.outputs.InsertHash(mix(t.Key + uint64(i)))
		}
	}
	pt.Labels.Range(func(l labels.Label) {
		if l.Name == model.MetricNameLabel {
			return
		}
		lp := g.labels[l.Name]
		if lp == nil {
			if len(g.labels) >= p.cfg.MaxLabels {
				return
			}
			lp = &labelProfile{values: newSketch(labelPrecision), top: NewTopK(p.cfg.TopK)}
			g.labels[strings.Clone(l.Name)] = lp
			g.bytes += labelOverhead + hllOverhead + int64(len(l.Name))
		}
		lp.values.InsertHash(xxhash.Sum64String(l.Value))
		tb := lp.top.bytes()
		lp.top.Add(l.Value, 1)
		g.bytes += lp.top.bytes() - tb
		if lp.n < 1<<labelPrecision {
			lp.n++
			g.bytes += sketchGrowth(lp.n, labelPrecision)
		}
	})
	if g.nseries < 1<<seriesPrecision {
		g.nseries++
		g.bytes += 2 * sketchGrowth(g.nseries, seriesPrecision) // series and outputs
	}
	p.bytes += g.bytes - before
	p.m.bytes.Set(float64(p.bytes))
	if s := pt.Series; s != nil {
		s.Profile = g
	}
}

// sketchGrowth is what the n-th distinct value adds to a sketch of
// precision prec: about 4 bytes while sparse, until the dense registers'
// 2^prec bytes.
func sketchGrowth(n int, prec uint8) int64 {
	if n*4 <= 1<<prec {
		return 4
	}
	return 0
}

func newSketch(prec uint8) *hyperloglog.Sketch {
	s, err := hyperloglog.NewSketch(prec, true)
	if err != nil {
		panic("cardinality: " + err.Error()) // the precisions are constants in range
	}
	return s
}

func (p *Profiler) newGeneration(now time.Time) *generation {
	g := &generation{start: now, owner: p, series: newSketch(seriesPrecision), outputs: newSketch(seriesPrecision),
		labels: map[string]*labelProfile{}, bytes: genOverhead + 2*hllOverhead}
	p.bytes += g.bytes
	return g
}

// release frees a generation's sketches; series that still point at it see
// it retired.
func (p *Profiler) release(g *generation) {
	if g == nil {
		return
	}
	g.retired = true
	p.bytes -= g.bytes
	g.series, g.outputs, g.labels = nil, nil, nil
}

// Tick starts a new period once the current one is over: the previous
// generation of every metric is released, the current one becomes the
// previous, and series are described again as their points come. Metrics
// that saw no point for two periods are forgotten.
func (p *Profiler) Tick(now time.Time) {
	if p.start.IsZero() {
		p.start = now
	}
	if now.Sub(p.start) < p.cfg.Period {
		return
	}
	p.start = now
	for k, mp := range p.metrics {
		p.release(mp.prev)
		mp.prev, mp.cur = mp.cur, nil
		if mp.prev != nil {
			mp.prev.retired = true
		} else {
			delete(p.metrics, k)
		}
	}
	p.m.bytes.Set(float64(p.bytes))
}

// Bytes returns the memory the profiles hold, as the profiler accounts it.
func (p *Profiler) Bytes() int64 { return p.bytes }

// Tracked returns the number of (tenant, metric) profiles.
func (p *Profiler) Tracked() int { return len(p.metrics) }

// Records encodes every profile as of now, for publication under Key: the
// profile merged over the previous and the current period.
func (p *Profiler) Records(now time.Time, emit func(tenant, metric string, value []byte)) {
	for _, mp := range p.metrics {
		if m := mp.snapshot(now); m != nil {
			emit(mp.key.tenant, mp.key.name, AppendMetric(nil, m))
		}
	}
}

// snapshot merges the metric's two generations.
func (mp *metricProfile) snapshot(now time.Time) *Metric {
	gens := []*generation{mp.prev, mp.cur}
	m := &Metric{Tenant: mp.key.tenant, Name: mp.key.name, Series: newSketch(seriesPrecision), Outputs: newSketch(seriesPrecision), Labels: map[string]*Label{}}
	first := now
	seen := false
	for _, g := range gens {
		if g == nil || g.series == nil {
			continue
		}
		seen = true
		first = minTime(first, g.start)
		m.Samples += g.samples
		_ = m.Series.Merge(g.series)
		_ = m.Outputs.Merge(g.outputs)
		for name, lp := range g.labels {
			l := m.Labels[name]
			if l == nil {
				l = &Label{Values: newSketch(labelPrecision), Top: NewTopK(lp.top.K())}
				m.Labels[name] = l
			}
			_ = l.Values.Merge(lp.values)
			l.Top.Merge(lp.top)
		}
	}
	if !seen {
		return nil
	}
	m.Start, m.End = first.UnixMilli(), now.UnixMilli()
	return m
}

func minTime(a, b time.Time) time.Time {
	if b.Before(a) {
		return b
	}
	return a
}

// mix is splitmix64's finalizer: output keys are hashes already, spec
// indexes added to them are not.
func mix(x uint64) uint64 {
	x ^= x >> 30
	x *= 0xbf58476d1ce4e5b9
	x ^= x >> 27
	x *= 0x94d049bb133111eb
	return x ^ x>>31
}

type metrics struct {
	untracked prometheus.Counter
	bytes     prometheus.Gauge
}

func newMetrics(reg prometheus.Registerer) *metrics {
	m := &metrics{
		untracked: prometheus.NewCounter(prometheus.CounterOpts{
			Name: "weir_profiler_untracked_points_total", Help: "Points of metrics the profiler did not track because its profiles reached their byte limit (profiler.max_bytes).",
		}),
		bytes: prometheus.NewGauge(prometheus.GaugeOpts{
			Name: "weir_profiler_bytes", Help: "Memory the profiler's sketches hold, as it accounts it (bounded by profiler.max_bytes).",
		}),
	}
	if reg != nil {
		reg.MustRegister(m.untracked, m.bytes)
	}
	return m
}
