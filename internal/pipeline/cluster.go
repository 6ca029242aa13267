package pipeline

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"errors"
	"fmt"
	"strconv"
	"strings"
	"time"

	"github.com/twmb/franz-go/pkg/kadm"
	"github.com/twmb/franz-go/pkg/kerr"
	"github.com/twmb/franz-go/pkg/kgo"
	"golang.org/x/sync/errgroup"

	"github.com/weirdev/weir/ingest"
)

// ClusterConfig says how the two stages of DESIGN.md meet over Kafka. Every
// weir process of a deployment runs both stages with the same config; Kafka's
// consumer groups spread the partitions.
type ClusterConfig struct {
	Brokers []string
	// Group is stage 1's consumer group; stage 2 uses Group + ".partials".
	Group           string
	MetricsTopic    string
	SpansTopic      string
	PartialsTopic   string // default weir.partials
	DecisionsTopic  string // default weir.decisions
	DeadLetterTopic string // default weir.dlq
	MetricsEncoding ingest.Encoding
	// PartialsPartitions is used when weir creates weir.partials (default 16).
	PartialsPartitions int32
	// TransactionalID must be unique per process (default: random).
	TransactionalID string
	// PollInterval bounds how long a poll waits (default 250ms); a stage-1
	// transaction spans one poll.
	PollInterval time.Duration
	// TenantHeader names the record header holding the tenant, if any;
	// DefaultTenant applies when it is absent.
	TenantHeader, DefaultTenant string
	ClientOpts                  []kgo.Opt
}

// tenant returns a record's tenant: its tenant header (matched without
// regard to case), else the default.
func (c *ClusterConfig) tenant(r *kgo.Record) string {
	if c.TenantHeader != "" {
		for _, h := range r.Headers {
			if strings.EqualFold(h.Key, c.TenantHeader) {
				return string(h.Value)
			}
		}
	}
	return c.DefaultTenant
}

func (c *ClusterConfig) defaults() {
	def := func(s *string, v string) {
		if *s == "" {
			*s = v
		}
	}
	def(&c.Group, "weir")
	def(&c.MetricsTopic, "otlp_metrics")
	def(&c.SpansTopic, "otlp_spans")
	def(&c.PartialsTopic, "weir.partials")
	def(&c.DecisionsTopic, "weir.decisions")
	def(&c.DeadLetterTopic, "weir.dlq")
	if c.MetricsEncoding == "" {
		c.MetricsEncoding = ingest.EncodingProto
	}
	if c.PartialsPartitions <= 0 {
		c.PartialsPartitions = 16
	}
	if c.TransactionalID == "" {
		var b [8]byte
		_, _ = rand.Read(b[:])
		c.TransactionalID = "weir-" + hex.EncodeToString(b[:])
	}
	if c.PollInterval <= 0 {
		c.PollInterval = 250 * time.Millisecond
	}
}

// topology is what the stages learn from the brokers at start.
type topology struct {
	metricsParts, spansParts, partialsParts int32
}

// sources lists the stage-1 input partitions that stage 2 waits for.
func (t topology) sources() []int32 {
	var s []int32
	for p := range t.spansParts {
		s = append(s, aggPartition("", false, p))
	}
	for p := range t.metricsParts {
		s = append(s, aggPartition("", true, p))
	}
	return s
}

// RunCluster runs stage 1 (consume, pre-aggregate, produce partials and
// commit in one Kafka transaction), stage 2 (merge partials, close windows,
// write the sinks, then commit) and the decisions reader until ctx ends, then
// shuts down: the last transaction is committed, sinks are flushed and the
// groups are left. Missing weir topics are created; when the broker refuses,
// the error names the topics to create by hand.
func (p *Pipeline) RunCluster(ctx context.Context, cfg ClusterConfig) error {
	cfg.defaults()
	admin, err := kgo.NewClient(append([]kgo.Opt{kgo.SeedBrokers(cfg.Brokers...)}, cfg.ClientOpts...)...)
	if err != nil {
		return fmt.Errorf("pipeline: Kafka client for %v: %w", cfg.Brokers, err)
	}
	topo, err := ensureTopics(ctx, kadm.NewClient(admin), cfg)
	admin.Close()
	if err != nil {
		return err
	}
	p.log.Info("cluster topology", "metrics_partitions", topo.metricsParts, "spans_partitions", topo.spansParts, "partials_partitions", topo.partialsParts)

	dec, err := newDecisions(p, cfg)
	if err != nil {
		return err
	}
	defer dec.close()
	p.decide = dec.produce
	p.spansBuffered = map[int32]int64{}

	g, gctx := errgroup.WithContext(ctx)
	g.Go(func() error { return p.runStage1(gctx, cfg, topo, dec) })
	g.Go(func() error { return p.runStage2(gctx, cfg, topo) })
	g.Go(func() error { return dec.run(gctx) })
	err = g.Wait()
	if ctx.Err() != nil && errors.Is(err, context.Canceled) {
		return nil
	}
	return err
}

// ensureTopics checks the input topics and creates weir's own when missing.
func ensureTopics(ctx context.Context, adm *kadm.Client, cfg ClusterConfig) (topology, error) {
	var topo topology
	var md kadm.TopicDetails
	var err error
	// The brokers may be starting, or the input topics being created right
	// now: wait up to ten seconds for both to answer before giving up.
	for attempt := 0; ; attempt++ {
		md, err = adm.ListTopics(ctx, cfg.MetricsTopic, cfg.SpansTopic, cfg.PartialsTopic, cfg.DecisionsTopic, cfg.DeadLetterTopic)
		ready := err == nil && len(md[cfg.MetricsTopic].Partitions) > 0 && len(md[cfg.SpansTopic].Partitions) > 0
		if ready || attempt == 20 || ctx.Err() != nil {
			break
		}
		time.Sleep(500 * time.Millisecond)
	}
	if err != nil {
		return topo, fmt.Errorf("pipeline: list topics on %v: %w", cfg.Brokers, err)
	}
	parts := func(t string) int32 {
		if d, ok := md[t]; ok && d.Err == nil {
			return int32(len(d.Partitions))
		}
		return 0
	}
	topo.metricsParts, topo.spansParts = parts(cfg.MetricsTopic), parts(cfg.SpansTopic)
	if topo.metricsParts == 0 || topo.spansParts == 0 {
		return topo, fmt.Errorf("pipeline: input topics %q (%d partitions) and %q (%d partitions) must exist",
			cfg.MetricsTopic, topo.metricsParts, cfg.SpansTopic, topo.spansParts)
	}
	want := map[string]int32{
		cfg.PartialsTopic:   cfg.PartialsPartitions,
		cfg.DecisionsTopic:  topo.spansParts, // decisions partition p goes to the owner of spans partition p
		cfg.DeadLetterTopic: 1,
	}
	var missing []string
	for t, n := range want {
		have := parts(t)
		if have == 0 {
			if _, err := adm.CreateTopic(ctx, n, -1, nil, t); err != nil && !errors.Is(err, kerr.TopicAlreadyExists) {
				missing = append(missing, fmt.Sprintf("%s (%d partitions): %v", t, n, err))
				continue
			}
			have = n
		}
		if t == cfg.DecisionsTopic && have < topo.spansParts {
			return topo, fmt.Errorf("pipeline: topic %s has %d partitions, needs %d (one per %s partition)", t, have, topo.spansParts, cfg.SpansTopic)
		}
		if t == cfg.PartialsTopic {
			topo.partialsParts = have
		}
	}
	if len(missing) > 0 {
		return topo, fmt.Errorf("pipeline: cannot create topics, create them by hand: %s", strings.Join(missing, "; "))
	}
	return topo, nil
}

// commitMeta is the offset-commit metadata of weir's groups: the partition's
// flushed-through time (stage 1) or closed-through time (stage 2).
func commitMeta(t int64) string { return "weir1 " + strconv.FormatInt(t, 10) }

func parseCommitMeta(s string) (int64, bool) {
	v, ok := strings.CutPrefix(s, "weir1 ")
	if !ok {
		return 0, false
	}
	t, err := strconv.ParseInt(v, 10, 64)
	return t, err == nil
}

// committedMeta fetches the group's committed metadata for topic's
// partitions.
//
// A partition resumed without its committed time would emit its replayed
// windows a second time, so a failure is retried for up to half a minute
// (brokers restart) and then returned: the caller must not consume.
func committedMeta(ctx context.Context, cl *kgo.Client, group, topic string) (map[int32]int64, error) {
	var err error
	for attempt := 0; attempt < 60 && ctx.Err() == nil; attempt++ {
		if attempt > 0 {
			time.Sleep(500 * time.Millisecond)
		}
		var resp kadm.OffsetResponses
		if resp, err = kadm.NewClient(cl).FetchOffsets(ctx, group); err != nil {
			err = fmt.Errorf("pipeline: fetch committed offsets of group %s: %w", group, err)
			continue
		}
		if err = resp.Error(); err != nil {
			err = fmt.Errorf("pipeline: fetch committed offsets of group %s: %w", group, err)
			continue
		}
		out := map[int32]int64{}
		for part, o := range resp[topic] {
			if t, ok := parseCommitMeta(o.Metadata); ok {
				out[part] = t
			}
		}
		return out, nil
	}
	if err == nil {
		err = ctx.Err()
	}
	return nil, err
}
