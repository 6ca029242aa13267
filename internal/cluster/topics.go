package cluster

import (
	"context"
	"errors"
	"fmt"
	"strconv"
	"strings"
	"time"

	"github.com/twmb/franz-go/pkg/kadm"
	"github.com/twmb/franz-go/pkg/kerr"
	"github.com/twmb/franz-go/pkg/kgo"
)

// defaultMaxMessageBytes is Kafka's default message.max.bytes, for a topic
// whose max.message.bytes the broker does not tell.
const defaultMaxMessageBytes = 1048588

// ensureTopics waits for the brokers and the input topics, creates weir's
// own topics when missing and learns the partition counts. It retries with
// backoff, logging what it waits for, until ctx ends; a topic it cannot
// create is an error that names it. A broker that refuses the TLS or SASL
// settings is an error at once (a *SecurityError naming the broker).
func ensureTopics(ctx context.Context, cfg Config) (topology, error) {
	var faults connFaults
	cl, err := cfg.Client.New(kgo.WithHooks(&faults))
	if err != nil {
		return topology{}, err
	}
	defer cl.Close()
	adm := kadm.NewClient(cl)
	var md kadm.TopicDetails
	for attempt := 0; ; attempt++ {
		md, err = adm.ListTopics(ctx, cfg.MetricsTopic, cfg.SpansTopic, cfg.PartialsTopic, cfg.DecisionsTopic, cfg.DeadLetterTopic, cfg.StateTopic, cfg.ProfileTopic)
		why := ""
		switch {
		case err != nil && faults.check(err, cfg.Client.Brokers) != nil:
			// Credentials refused, a certificate weir does not trust:
			// waiting does not mend these.
			serr := faults.check(err, cfg.Client.Brokers)
			cfg.Ready("kafka", false, serr.Error())
			return topology{}, fmt.Errorf("cluster: %w", serr)
		case err != nil:
			why = fmt.Sprintf("Kafka at %v does not answer: %v", cfg.Client.Brokers, err)
		case partitions(md, cfg.MetricsTopic) == 0 || partitions(md, cfg.SpansTopic) == 0:
			why = fmt.Sprintf("input topics %q (%d partitions) and %q (%d partitions) must exist",
				cfg.MetricsTopic, partitions(md, cfg.MetricsTopic), cfg.SpansTopic, partitions(md, cfg.SpansTopic))
		}
		if why == "" {
			break
		}
		cfg.Ready("kafka", false, why)
		wait := backoff(attempt, 30*time.Second)
		if ctx.Err() == nil {
			cfg.Logger.Warn("waiting for Kafka", "why", why, "retry_in", wait)
		}
		if ctx.Err() != nil || !sleep(ctx, wait) {
			return topology{}, fmt.Errorf("cluster: stopped before the cluster was ready (%s): %w", why, context.Cause(ctx))
		}
	}
	cfg.Ready("kafka", true, "")
	topo := topology{metricsParts: partitions(md, cfg.MetricsTopic), spansParts: partitions(md, cfg.SpansTopic)}
	partials := partitions(md, cfg.PartialsTopic)
	if partials == 0 {
		partials = cfg.PartialsPartitions
	}
	want := map[string]int32{
		cfg.PartialsTopic:   partials,
		cfg.DecisionsTopic:  topo.spansParts, // decisions partition p goes to the owner of spans partition p
		cfg.DeadLetterTopic: 1,
		cfg.StateTopic:      partials, // state partition q goes to the owner of partials partition q
		cfg.ProfileTopic:    1,        // read whole by every process that answers profile queries
	}
	compact := "compact"
	var missing []string
	for t, n := range want {
		have := partitions(md, t)
		if have == 0 {
			var configs map[string]*string
			if t == cfg.StateTopic || t == cfg.ProfileTopic {
				configs = map[string]*string{"cleanup.policy": &compact}
			}
			if _, err := adm.CreateTopic(ctx, n, -1, configs, t); err != nil && !errors.Is(err, kerr.TopicAlreadyExists) {
				missing = append(missing, fmt.Sprintf("%s (%d partitions): %v", t, n, err))
				continue
			}
			have = n
		}
		if t == cfg.StateTopic && have != partials {
			return topo, fmt.Errorf("cluster: topic %s has %d partitions, needs %d (one per %s partition)", t, have, partials, cfg.PartialsTopic)
		}
		if t == cfg.DecisionsTopic && have < topo.spansParts {
			return topo, fmt.Errorf("cluster: topic %s has %d partitions, needs %d (one per %s partition)", t, have, topo.spansParts, cfg.SpansTopic)
		}
		if t == cfg.PartialsTopic {
			topo.partialsParts = have
		}
	}
	if len(missing) > 0 {
		return topo, fmt.Errorf("cluster: cannot create topics, create them by hand: %s", strings.Join(missing, "; "))
	}
	topo.dlqMaxBytes = defaultMaxMessageBytes
	rcs, err := adm.DescribeTopicConfigs(ctx, cfg.DeadLetterTopic, cfg.SpansTopic)
	if err != nil {
		cfg.Logger.Warn("cannot read topic configs; assuming Kafka's defaults", "err", err)
		return topo, nil
	}
	for _, rc := range rcs {
		for _, c := range rc.Configs {
			if c.Value == nil {
				continue
			}
			switch {
			case rc.Name == cfg.DeadLetterTopic && c.Key == "max.message.bytes":
				if v, err := strconv.ParseInt(*c.Value, 10, 32); err == nil && v > 0 {
					topo.dlqMaxBytes = int32(v)
				}
			case rc.Name == cfg.SpansTopic && c.Key == "retention.ms":
				if err := checkRetention(cfg, *c.Value); err != nil {
					return topo, err
				}
			}
		}
	}
	return topo, nil
}

func partitions(md kadm.TopicDetails, t string) int32 {
	if d, ok := md[t]; ok && d.Err == nil {
		return int32(len(d.Partitions))
	}
	return 0
}

// checkRetention refuses a spans topic that keeps its records for less than
// the second pass needs: the decision wait and five minutes for a restart.
// Below an hour it warns: a trace backend down longer than the retention
// minus the decision wait loses the traces of that time.
func checkRetention(cfg Config, ms string) error {
	v, err := strconv.ParseInt(ms, 10, 64)
	if err != nil || v < 0 { // -1: forever
		return nil
	}
	keep := time.Duration(v) * time.Millisecond
	need := cfg.DecisionWait + 5*time.Minute
	if keep < need {
		return fmt.Errorf("cluster: topic %s keeps records for %v (retention.ms): the second pass over the spans needs at least the decision wait (%v) and five minutes; raise retention.ms to %d or more",
			cfg.SpansTopic, keep, cfg.DecisionWait, need.Milliseconds())
	}
	if keep < time.Hour {
		cfg.Logger.Warn("the spans topic's retention is short: kept traces are lost when the trace backend is down longer than the retention minus the decision wait",
			"topic", cfg.SpansTopic, "retention", keep, "decision_wait", cfg.DecisionWait)
	}
	return nil
}
