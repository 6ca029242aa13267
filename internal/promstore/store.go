// Package promstore is the embedded metrics store of `weir demo`: a Prometheus
// TSDB with exemplar storage and out-of-order ingestion, written to by the
// pipeline and read through a subset of the Prometheus HTTP API.
//
// The store owns one tsdb.DB and one promql.Engine. Writes are remote-write
// shaped (prompb.TimeSeries) so that the same output the remote-write sink
// sends to a real Prometheus lands here unchanged. Reads go through Handler,
// which answers with exactly the JSON Prometheus answers with, so that a
// browser UI (or Grafana) cannot tell the difference.
package promstore

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"os"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/prometheus/promql"
	"github.com/prometheus/prometheus/promql/parser"
	"github.com/prometheus/prometheus/storage"
	"github.com/prometheus/prometheus/tsdb"
)

// Defaults of Open.
const (
	// DefaultMaxExemplars is the size of the exemplar ring buffer shared by all
	// series. One exemplar is roughly 100 bytes plus its labels.
	DefaultMaxExemplars = 100000
	// DefaultOutOfOrderWindow is how far behind the newest sample of the store
	// a sample may still be accepted. Windows of different series close at
	// different times, so their results do not arrive in timestamp order.
	DefaultOutOfOrderWindow = time.Hour
	// DefaultRetention is Prometheus' default retention.
	DefaultRetention = 15 * 24 * time.Hour
)

// Opt configures Open.
type Opt func(*config)

type config struct {
	retention    time.Duration
	maxExemplars int64
	oooWindow    time.Duration
	logger       *slog.Logger
	reg          prometheus.Registerer
}

// WithRetention sets how long samples are kept (default 15 days). Values <= 0
// keep the default.
func WithRetention(d time.Duration) Opt {
	return func(c *config) {
		if d > 0 {
			c.retention = d
		}
	}
}

// WithMaxExemplars sets the number of exemplars kept in memory across all
// series (default 100000). 0 disables exemplar storage; negative values keep
// the default.
func WithMaxExemplars(n int64) Opt {
	return func(c *config) {
		if n >= 0 {
			c.maxExemplars = n
		}
	}
}

// WithOutOfOrderWindow sets how far behind the newest sample a sample (and
// an exemplar) is still accepted (default 1h). 0 makes the store reject
// every sample older than the newest one of its series.
func WithOutOfOrderWindow(d time.Duration) Opt {
	return func(c *config) {
		if d >= 0 {
			c.oooWindow = d
		}
	}
}

// WithLogger sets the logger of the store, the TSDB and the query engine
// (default: discard).
func WithLogger(l *slog.Logger) Opt {
	return func(c *config) {
		if l != nil {
			c.logger = l
		}
	}
}

// WithRegisterer registers the store's metrics, the TSDB's (prometheus_tsdb_*)
// and the query engine's (prometheus_engine_*) on r. nil (the default)
// registers nothing. Two stores must not share one registerer.
func WithRegisterer(r prometheus.Registerer) Opt {
	return func(c *config) { c.reg = r }
}

// Store is an embedded Prometheus TSDB with a query engine. It is safe for
// concurrent use.
type Store struct {
	db      *tsdb.DB
	engine  *promql.Engine
	parser  parser.Parser
	logger  *slog.Logger
	dir     string
	tempDir bool
	m       metrics
}

// Open opens (or creates) a TSDB in dir. With dir "" the store lives in a new
// temporary directory that Close removes.
//
// Open fails when the directory cannot be created or locked (another process
// holds it), when the TSDB found there cannot be opened, or when a metric
// cannot be registered on the registerer given by WithRegisterer.
func Open(dir string, opts ...Opt) (*Store, error) {
	cfg := config{
		retention:    DefaultRetention,
		maxExemplars: DefaultMaxExemplars,
		oooWindow:    DefaultOutOfOrderWindow,
		logger:       slog.New(slog.DiscardHandler),
	}
	for _, o := range opts {
		o(&cfg)
	}

	s := &Store{logger: cfg.logger, dir: dir}
	if dir == "" {
		d, err := os.MkdirTemp("", "weir-promstore-*")
		if err != nil {
			return nil, fmt.Errorf("promstore: creating temporary directory: %w", err)
		}
		s.dir, s.tempDir = d, true
	}

	m, err := newMetrics(cfg.reg)
	if err != nil {
		s.removeTemp()
		return nil, err
	}
	s.m = m

	to := tsdb.DefaultOptions()
	to.RetentionDuration = cfg.retention.Milliseconds()
	to.EnableExemplarStorage = cfg.maxExemplars > 0
	to.MaxExemplars = cfg.maxExemplars
	to.OutOfOrderTimeWindow = cfg.oooWindow.Milliseconds()
	db, err := tsdb.Open(s.dir, cfg.logger, cfg.reg, to, nil)
	if err != nil {
		m.unregister(cfg.reg)
		s.removeTemp()
		return nil, fmt.Errorf("promstore: opening TSDB in %s: %w", s.dir, err)
	}
	s.db = db

	s.parser = parser.NewParser(parser.Options{})
	s.engine = promql.NewEngine(promql.EngineOpts{
		Logger:               cfg.logger,
		Reg:                  cfg.reg,
		MaxSamples:           DefaultMaxSamples,
		Timeout:              DefaultQueryTimeout,
		ActiveQueryTracker:   make(slots, DefaultMaxConcurrentQueries),
		EnableAtModifier:     true,
		EnableNegativeOffset: true,
		// Subqueries without a step use Prometheus' default evaluation interval.
		NoStepSubqueryIntervalFn: func(int64) int64 { return defaultSubqueryStep.Milliseconds() },
		Parser:                   s.parser,
	})
	return s, nil
}

// Dir is the directory holding the TSDB.
func (s *Store) Dir() string { return s.dir }

// Querier returns a querier over samples in [mint, maxt] (milliseconds).
// With ExemplarQuerier it makes the Store a storage.Queryable and a
// storage.ExemplarQueryable.
func (s *Store) Querier(mint, maxt int64) (storage.Querier, error) {
	return s.db.Querier(mint, maxt)
}

// ExemplarQuerier returns a querier over the exemplars in memory.
func (s *Store) ExemplarQuerier(ctx context.Context) (storage.ExemplarQuerier, error) {
	return s.db.ExemplarQuerier(ctx)
}

// Close stops the query engine, closes the TSDB and, when Open created a
// temporary directory, removes it. Queries and writes after Close fail.
func (s *Store) Close() error {
	errs := []error{s.engine.Close(), s.db.Close()}
	if s.tempDir {
		if err := os.RemoveAll(s.dir); err != nil {
			errs = append(errs, fmt.Errorf("promstore: removing %s: %w", s.dir, err))
		}
	}
	return errors.Join(errs...)
}

func (s *Store) removeTemp() {
	if s.tempDir {
		_ = os.RemoveAll(s.dir)
	}
}

type metrics struct {
	samples           prometheus.Counter
	exemplars         prometheus.Counter
	exemplarsRejected prometheus.Counter
	writeFailures     prometheus.Counter
}

func (m metrics) collectors() []prometheus.Collector {
	return []prometheus.Collector{m.samples, m.exemplars, m.exemplarsRejected, m.writeFailures}
}

func (m metrics) unregister(reg prometheus.Registerer) {
	if reg != nil {
		for _, c := range m.collectors() {
			reg.Unregister(c)
		}
	}
}

func newMetrics(reg prometheus.Registerer) (metrics, error) {
	m := metrics{
		samples: prometheus.NewCounter(prometheus.CounterOpts{
			Name: "weir_promstore_samples_written_total",
			Help: "Samples (floats and native histograms) committed to the embedded store.",
		}),
		exemplars: prometheus.NewCounter(prometheus.CounterOpts{
			Name: "weir_promstore_exemplars_written_total",
			Help: "Exemplars handed to the embedded store with committed writes (duplicates included).",
		}),
		exemplarsRejected: prometheus.NewCounter(prometheus.CounterOpts{
			Name: "weir_promstore_exemplars_rejected_total",
			Help: "Exemplars the embedded store refused (out of order beyond the window, invalid labels); their samples were still written.",
		}),
		writeFailures: prometheus.NewCounter(prometheus.CounterOpts{
			Name: "weir_promstore_write_failures_total",
			Help: "Write calls that failed and were rolled back as a whole.",
		}),
	}
	if reg != nil {
		cs := m.collectors()
		for i, c := range cs {
			if err := reg.Register(c); err != nil {
				// Only ours: Unregister goes by descriptor, and the one that
				// failed may be another store's.
				for _, done := range cs[:i] {
					reg.Unregister(done)
				}
				return m, fmt.Errorf("promstore: registering metrics: %w", err)
			}
		}
	}
	return m, nil
}
