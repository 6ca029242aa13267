// Package cluster is weir's Kafka protocol: the passes of DESIGN.md over
// Kafka topics, for one worker of one process, driving the record handling
// of package pipeline. Scale-out is Kafka's consumer groups: every worker
// of every process runs Run with the same Config (but its transactional
// ID), and the groups spread the partitions.
//
//   - Stage 1 (group G) consumes the input topics, hands each record to
//     pipeline.Stage1, and produces the partial windows, watermarks and
//     keep decisions it returns, with the offset commit, in one Kafka
//     transaction. The committed offset is the first that still feeds an
//     open window, its metadata the partition's flushed-through time.
//   - Stage 2 (group G.partials) consumes weir.partials into
//     pipeline.Stage2, writes the windows that closed to the sinks, and
//     commits once they acknowledged; exemplars' keep decisions go to
//     weir.decisions, partition p for a trace read from spans partition p.
//   - The decisions reader reads the weir.decisions partitions of the spans
//     partitions stage 1 owns into their keep sets.
//   - The second pass re-reads those spans partitions a decision wait
//     behind, exports the kept traces through pipeline.Traces and commits
//     its position (group G.traces) once the trace sink acknowledged.
//
// A record that does not decode goes to the dead-letter topic; its produce
// is part of the transaction (stage 1) or awaited before the commit (stage
// 2), so that a dead letter is never lost.
package cluster

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"errors"
	"log/slog"
	"strings"
	"sync"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/twmb/franz-go/pkg/kgo"
	"golang.org/x/sync/errgroup"

	"github.com/weirdev/weir/pipeline"
	"github.com/weirdev/weir/tailsampling"
)

// Topic and group defaults.
const (
	DefaultGroup           = "weir"
	DefaultMetricsTopic    = "otlp_metrics"
	DefaultSpansTopic      = "otlp_spans"
	DefaultPartialsTopic   = "weir.partials"
	DefaultDecisionsTopic  = "weir.decisions"
	DefaultDeadLetterTopic = "weir.dlq"
	DefaultStateTopic      = "weir.state"
	DefaultProfileTopic    = "weir.profile"
	// DefaultProfileInterval is how often stage 1 publishes its profiles.
	DefaultProfileInterval = 10 * time.Second
	// DefaultPartialsPartitions is used when weir creates weir.partials.
	DefaultPartialsPartitions = 16
	// DefaultPollInterval bounds how long a poll waits; a stage-1
	// transaction spans one poll.
	DefaultPollInterval = 250 * time.Millisecond
	// DefaultDecisionWait is how far the second pass over the spans stays
	// behind the records' timestamps.
	DefaultDecisionWait = 30 * time.Second
	// DefaultBaselineRate is the share of traces kept whatever the windows
	// say (tailsampling.Baseline).
	DefaultBaselineRate = 0.01
)

// Config says how the passes meet over Kafka.
type Config struct {
	// Client builds every Kafka client: the seed brokers and the security
	// settings, shared by all. Required.
	Client *Clients
	// Group is stage 1's consumer group; stage 2 uses Group + ".partials",
	// the second pass commits as Group + ".traces".
	Group           string
	MetricsTopic    string
	SpansTopic      string
	PartialsTopic   string
	DecisionsTopic  string
	DeadLetterTopic string
	// StateTopic holds stage 2's running totals (compacted, one partition
	// per weir.partials partition).
	StateTopic string
	// ProfileTopic receives the cardinality profiles of the worker's input
	// partitions (compacted, one partition), every ProfileInterval, when
	// the worker profiles (pipeline.Config.Profile).
	ProfileTopic    string
	ProfileInterval time.Duration
	// PartialsPartitions is used when weir creates weir.partials.
	PartialsPartitions int32
	// TransactionalID must be unique per worker (default: random).
	TransactionalID string
	PollInterval    time.Duration
	// TenantHeader names the record header holding the tenant, if any
	// (matched without regard to case; an empty value counts as absent).
	TenantHeader string
	// DecisionWait is how far behind the records' timestamps the second
	// pass reads the spans: it must cover the longest window with
	// exemplars, the allowed lateness and the decisions' way back.
	DecisionWait time.Duration
	BaselineRate float64
	// MaxKeptTraces bounds each spans partition's keep set.
	MaxKeptTraces int
	// Ready, when set, is told whether the worker is ready: its clients
	// connected and its groups joined (true), or a sink failing so that
	// nothing is committed (false).
	Ready  func(part string, ready bool, why string)
	Logger *slog.Logger
	Reg    prometheus.Registerer
}

func (c *Config) defaults() error {
	if c.Client == nil {
		return errors.New("cluster: no Kafka client settings")
	}
	def := func(s *string, v string) {
		if *s == "" {
			*s = v
		}
	}
	def(&c.Group, DefaultGroup)
	def(&c.MetricsTopic, DefaultMetricsTopic)
	def(&c.SpansTopic, DefaultSpansTopic)
	def(&c.PartialsTopic, DefaultPartialsTopic)
	def(&c.DecisionsTopic, DefaultDecisionsTopic)
	def(&c.DeadLetterTopic, DefaultDeadLetterTopic)
	def(&c.StateTopic, DefaultStateTopic)
	def(&c.ProfileTopic, DefaultProfileTopic)
	if c.ProfileInterval <= 0 {
		c.ProfileInterval = DefaultProfileInterval
	}
	if c.PartialsPartitions <= 0 {
		c.PartialsPartitions = DefaultPartialsPartitions
	}
	if c.TransactionalID == "" {
		var b [8]byte
		_, _ = rand.Read(b[:])
		c.TransactionalID = "weir-" + hex.EncodeToString(b[:])
	}
	if c.PollInterval <= 0 {
		c.PollInterval = DefaultPollInterval
	}
	if c.DecisionWait <= 0 {
		c.DecisionWait = DefaultDecisionWait
	}
	if c.Logger == nil {
		c.Logger = slog.New(slog.DiscardHandler)
	}
	if c.Ready == nil {
		c.Ready = func(string, bool, string) {}
	}
	return nil
}

// Run runs the passes of one worker until ctx ends, then shuts down: the
// last transaction is committed, the sinks are flushed and the groups are
// left. Missing weir topics are created; when the broker refuses, the error
// names the topics to create by hand. It waits for the brokers, retrying
// with backoff and saying what it waits for, until ctx ends.
func Run(ctx context.Context, cfg Config, w *pipeline.Worker) error {
	if err := cfg.defaults(); err != nil {
		return err
	}
	topo, err := ensureTopics(ctx, cfg)
	if err != nil {
		if ctx.Err() != nil && errors.Is(err, context.Canceled) {
			cfg.Logger.Info("stopped while waiting for Kafka", "err", err)
			return nil
		}
		return err
	}
	cfg.Logger.Info("cluster topology", "metrics_partitions", topo.metricsParts, "spans_partitions", topo.spansParts,
		"partials_partitions", topo.partialsParts, "transactional_id", cfg.TransactionalID)
	// Each input partition admits its share of the tenants' limits.
	w.Plan.SetInputPartitions(topo.metricsParts, topo.spansParts)
	m := newMetrics(cfg.Reg)
	keeps := newKeepSets(cfg)
	dec, err := newDecisions(cfg, topo, keeps, m)
	if err != nil {
		return err
	}
	defer dec.close()
	second, err := newSecondPass(cfg, w.Traces, keeps, dec, m)
	if err != nil {
		return err
	}
	defer second.close()

	g, gctx := errgroup.WithContext(ctx)
	g.Go(func() error { return runStage1(gctx, cfg, topo, w.Stage1, dec, second, m) })
	g.Go(func() error { return runStage2(gctx, cfg, topo, w.Stage2, dec, m) })
	g.Go(func() error { return dec.run(gctx) })
	g.Go(func() error { return second.run(gctx) })
	err = g.Wait()
	if ctx.Err() != nil && errors.Is(err, context.Canceled) {
		return nil
	}
	return err
}

// topology is what the passes learn from the brokers at start.
type topology struct {
	metricsParts, spansParts, partialsParts int32
	// dlqMaxBytes is the dead-letter topic's max.message.bytes.
	dlqMaxBytes int32
}

func (t topology) sources() []int32 { return pipeline.Sources(t.metricsParts, t.spansParts) }

// backoff returns the wait before attempt n (from 0) of a retry loop that
// starts fast and settles at max.
func backoff(n int, max time.Duration) time.Duration {
	d := 250 * time.Millisecond << min(n, 10)
	return min(d, max)
}

// sleep waits d or until ctx ends, reporting whether it waited.
func sleep(ctx context.Context, d time.Duration) bool {
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case <-ctx.Done():
		return false
	case <-t.C:
		return true
	}
}

// tenant returns a record's tenant: its tenant header's non-empty value.
func tenant(name string, r *kgo.Record) string {
	if name == "" {
		return ""
	}
	for _, h := range r.Headers {
		if strings.EqualFold(h.Key, name) && len(h.Value) > 0 {
			return string(h.Value)
		}
	}
	return ""
}

// keepSets holds the keep set of each spans partition of a worker.
type keepSets struct {
	cfg tailsampling.KeepSetConfig
	mu  sync.Mutex
	m   map[int32]*tailsampling.KeepSet
}

func newKeepSets(cfg Config) *keepSets {
	rate := cfg.BaselineRate
	return &keepSets{
		cfg: tailsampling.KeepSetConfig{BaselineRate: rate, Linger: cfg.DecisionWait, MaxTraces: cfg.MaxKeptTraces,
			Metrics: tailsampling.NewKeepMetrics(cfg.Reg)},
		m: map[int32]*tailsampling.KeepSet{},
	}
}

// get returns partition p's set, creating it.
func (k *keepSets) get(p int32) *tailsampling.KeepSet {
	k.mu.Lock()
	defer k.mu.Unlock()
	s := k.m[p]
	if s == nil {
		s = tailsampling.NewKeepSet(k.cfg)
		k.m[p] = s
	}
	return s
}

// drop forgets partition p's set.
func (k *keepSets) drop(p int32) {
	k.mu.Lock()
	delete(k.m, p)
	k.mu.Unlock()
}
