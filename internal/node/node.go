// Package node assembles a weir process from its configuration: its
// workers (package pipeline: the record handling; package plan: the rules
// in force), their Kafka protocol (package cluster) and their readiness.
// `weir run` and `weir demo` both build their process here; they differ in
// the sinks and the brokers they hand over.
package node

import (
	"context"
	"fmt"
	"log/slog"
	"maps"
	"net/http"
	"slices"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/twmb/franz-go/pkg/kgo"
	"golang.org/x/sync/errgroup"

	"github.com/weirdev/weir/aggregator"
	"github.com/weirdev/weir/cardinality"
	"github.com/weirdev/weir/ingest"
	"github.com/weirdev/weir/internal/cluster"
	"github.com/weirdev/weir/internal/config"
	"github.com/weirdev/weir/pipeline"
	"github.com/weirdev/weir/plan"
	"github.com/weirdev/weir/receiver"
	"github.com/weirdev/weir/rules"
)

// Sinks are where a node's workers write.
type Sinks struct {
	// Series routes outputs by storage policy; "" takes the rest.
	Series map[string]pipeline.SeriesSink
	// Traces receives kept traces; nil drops them (counted).
	Traces pipeline.TraceSink
}

// Node is a weir process: kafka.workers workers, each a member of weir's
// groups with its own partitions and state.
type Node struct {
	cfg     *config.Config
	log     *slog.Logger
	workers []*pipeline.Worker
	cc      cluster.Config
	ready   readiness
	// recv takes OTLP and remote write into the input topics, through its
	// own producer recvCl (nil without receivers).
	recv   *receiver.Receiver
	recvCl *kgo.Client
	// stopped is why the node is not healthy: a worker whose passes ended
	// ("" while every worker runs).
	stopped atomic.Pointer[string]
}

// New builds a node from cfg and the rules in force. It fails when an
// option is invalid or a file of kafka's tls or auth cannot be read (the
// messages name the setting).
func New(cfg *config.Config, set *rules.Set, sinks Sinks, clientOpts []kgo.Opt, log *slog.Logger, reg prometheus.Registerer) (*Node, error) {
	if log == nil {
		log = slog.New(slog.DiscardHandler)
	}
	n := &Node{cfg: cfg, log: log}
	n.ready.parts = map[string]string{}
	k, a, ts := cfg.Kafka, cfg.Aggregation, cfg.TailSampling
	aggOpts := []aggregator.Opt{
		aggregator.AllowedLateness(time.Duration(a.AllowedLateness)),
		aggregator.IdleTimeout(time.Duration(a.IdleTimeout)),
		aggregator.CloseTimeout(time.Duration(a.CloseTimeout)),
		aggregator.MaxFuture(time.Duration(a.MaxFuture)),
		aggregator.RelativeAccuracy(a.RelativeAccuracy),
	}
	if a.ExemplarTolerance != nil {
		aggOpts = append(aggOpts, aggregator.ExemplarTolerance(*a.ExemplarTolerance))
	}
	var convOpts []ingest.ConvertOpt
	if k.TenantAttribute != "" {
		convOpts = append(convOpts, ingest.TenantAttribute(k.TenantAttribute))
	}
	workers := max(k.Workers, 1)
	for i := range workers {
		id := strconv.Itoa(i)
		wlog, wreg := log, reg
		if workers > 1 {
			wlog = log.With("worker", id)
			wreg = prometheus.WrapRegistererWith(prometheus.Labels{"worker": id}, reg)
		}
		w, err := pipeline.New(pipeline.Config{
			Plan: plan.Config{
				Rules:     set,
				Unmatched: plan.Unmatched{Drop: cfg.Unmatched.Drop, Policies: cfg.UnmatchedPolicies()},
			},
			Aggregator:       aggOpts,
			MetricConvert:    append(cfg.OTLP.ConvertOpts(), convOpts...),
			SpanConvert:      append(slices.Clone(convOpts), ingest.SpanDimensions(set.AllSpanDimensions()...)),
			MetricsEncoding:  ingest.Encoding(k.MetricsEncoding),
			TracesEncoding:   ingest.Encoding(k.TracesEncoding),
			LatencyThreshold: time.Duration(ts.LatencyThreshold),
			Series:           sinks.Series,
			Traces:           sinks.Traces,
			Profile:          cfg.Profiler.Config(),
			Logger:           wlog,
			Reg:              wreg,
		})
		if err != nil {
			return nil, fmt.Errorf("worker %d: %w", i, err)
		}
		n.workers = append(n.workers, w)
	}
	opts := slices.Clone(clientOpts)
	if k.SessionTimeout > 0 {
		opts = append(opts, kgo.SessionTimeout(time.Duration(k.SessionTimeout)))
	}
	clients, err := cluster.NewClients(k.Brokers, k.Security, log, opts...)
	if err != nil {
		return nil, fmt.Errorf("kafka.%w", err)
	}
	n.cc = cluster.Config{
		Client:             clients,
		Group:              k.Group,
		MetricsTopic:       k.MetricsTopic,
		SpansTopic:         k.SpansTopic,
		PartialsTopic:      k.PartialsTopic,
		DecisionsTopic:     k.DecisionsTopic,
		DeadLetterTopic:    k.DeadLetterTopic,
		StateTopic:         k.StateTopic,
		ProfileTopic:       cfg.Profiler.Topic,
		ProfileInterval:    time.Duration(cfg.Profiler.Interval),
		PartialsPartitions: k.PartialsPartitions,
		TransactionalID:    k.TransactionalID,
		TenantHeader:       k.TenantHeader,
		DecisionWait:       time.Duration(ts.DecisionWait),
		BaselineRate:       *ts.BaselineRate,
		MaxKeptTraces:      ts.MaxKeptTraces,
		Ready:              n.ready.set,
	}
	if cfg.Receivers.Enabled() {
		cl, err := n.cc.Client.New(receiver.ProducerOpts()...)
		if err != nil {
			return nil, fmt.Errorf("receivers: %w", err)
		}
		rc := cfg.ReceiverConfig()
		rc.Logger, rc.Reg = log.With("component", "receiver"), reg
		r, err := receiver.New(cl, rc)
		if err != nil {
			cl.Close()
			return nil, err
		}
		n.recv, n.recvCl = r, cl
	}
	return n, nil
}

// Receiver returns the node's receivers, nil when none is configured.
func (n *Node) Receiver() *receiver.Receiver { return n.recv }

// ProfileHandler serves the group's cardinality profiles
// (cardinality.Handler) from the profile topic, which it reads until ctx
// ends. Mount it at cardinality.TSDBPath and cardinality.CardinalityPath,
// ahead of any proxy of /api/v1/.
func (n *Node) ProfileHandler(ctx context.Context) (http.Handler, error) {
	cc := n.cc
	cc.Logger = n.log
	p, err := cluster.NewProfiles(cc, 0)
	if err != nil {
		return nil, err
	}
	go func() { _ = p.Run(ctx) }()
	return cardinality.Handler(p.View), nil
}

// SetRules puts s in force on every worker (see plan.Plan.SetRules).
func (n *Node) SetRules(s *rules.Set) {
	for _, w := range n.workers {
		w.Plan.SetRules(s)
	}
}

// Workers returns the node's workers, for tests and benchmarks.
func (n *Node) Workers() []*pipeline.Worker { return n.workers }

// Ready reports whether every worker has joined its groups and no sink is
// failing, and if not, why.
func (n *Node) Ready() (bool, string) { return n.ready.get() }

// Healthy reports whether every worker is running: false, and why, once a
// worker's passes ended (it failed, or Run returned), so that /-/healthy
// says the process is going down while its sinks flush.
func (n *Node) Healthy() (bool, string) {
	if why := n.stopped.Load(); why != nil {
		return false, *why
	}
	return true, ""
}

// Run runs every worker and the receivers until ctx ends or one of them
// fails, which stops the others; the receivers answer the requests under
// way before their producer closes. Workers of a process with a fixed transactional ID get that
// ID with their number appended, so that each fences its own predecessor
// after a restart.
func (n *Node) Run(ctx context.Context, reg prometheus.Registerer) error {
	g, gctx := errgroup.WithContext(ctx)
	if n.recv != nil {
		defer n.recvCl.Close()
		g.Go(func() error { return n.recv.Run(gctx) })
	}
	for i, w := range n.workers {
		cc := n.cc
		cc.Logger = n.log
		cc.Reg = reg
		if len(n.workers) > 1 {
			cc.Logger = n.log.With("worker", strconv.Itoa(i))
			cc.Reg = prometheus.WrapRegistererWith(prometheus.Labels{"worker": strconv.Itoa(i)}, reg)
			if cc.TransactionalID != "" {
				cc.TransactionalID = fmt.Sprintf("%s-%d", cc.TransactionalID, i)
			}
		}
		part := "worker " + strconv.Itoa(i)
		ready := cc.Ready
		ready(part+" stage1", false, "joining group "+cc.Group)
		ready(part+" stage2", false, "joining group "+cc.Group+".partials")
		cc.Ready = func(what string, ok bool, why string) { ready(part+" "+what, ok, why) }
		g.Go(func() error {
			err := cluster.Run(gctx, cc, w)
			why := part + " stopped"
			if err != nil {
				err = fmt.Errorf("%s: %w", part, err)
				why = err.Error()
			}
			n.stopped.CompareAndSwap(nil, &why)
			return err
		})
	}
	return g.Wait()
}

// readiness collects what each part of the node says of itself.
type readiness struct {
	mu    sync.Mutex
	parts map[string]string // part → why it is not ready ("" when it is)
}

func (r *readiness) set(part string, ok bool, why string) {
	r.mu.Lock()
	defer r.mu.Unlock()
	if ok {
		why = ""
	} else if why == "" {
		why = "not ready"
	}
	r.parts[part] = why
}

// get is ready once some part reported and none is failing (Run first
// reports every worker's stages as joining their groups).
func (r *readiness) get() (bool, string) {
	r.mu.Lock()
	defer r.mu.Unlock()
	if len(r.parts) == 0 {
		return false, "starting"
	}
	var why []string
	for _, p := range slices.Sorted(maps.Keys(r.parts)) {
		if w := r.parts[p]; w != "" {
			why = append(why, p+": "+w)
		}
	}
	return len(why) == 0, strings.Join(why, "; ")
}
