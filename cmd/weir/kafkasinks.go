package main

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"maps"
	"slices"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/prometheus/prompb"

	"github.com/weirdev/weir/internal/cluster"
	"github.com/weirdev/weir/internal/config"
	"github.com/weirdev/weir/pipeline"
	"github.com/weirdev/weir/sinks/kafkaotlp"
	"github.com/weirdev/weir/sinks/sendqueue"
)

// closer is a series sink that is closed at shutdown.
type closer interface {
	Close(ctx context.Context) error
}

// kafkaSinks builds a sink per kafka_sinks entry of cfg and adds it to the
// routes of series (built from remote_write) for the policies it takes: a
// policy's samples go to the remote-write destination that takes them, if
// any, and to each Kafka sink that takes them. The route "" (every policy
// without a route of its own) gets the Kafka sinks without policies. The
// sinks are returned for closing, on error too (the ones built so far).
func kafkaSinks(ctx context.Context, cfg *config.Config, series map[string]pipeline.SeriesSink, log *slog.Logger, reg prometheus.Registerer) ([]closer, error) {
	var sinks []*kafkaotlp.Sink
	var out []closer
	for i, ks := range cfg.KafkaSinks {
		clients, err := cluster.NewClients(ks.Brokers, ks.Security, log)
		if err != nil {
			return out, fmt.Errorf("kafka_sinks[%d].%w", i, err)
		}
		if err := checkKafkaSink(ctx, clients); err != nil {
			return out, fmt.Errorf("kafka_sinks[%d]: %w", i, err)
		}
		s, err := kafkaotlp.New(ks.Brokers, ks.Topic, kafkaotlp.WithName(fmt.Sprintf("kafka_sinks[%d]", i)),
			kafkaotlp.WithNewClient(clients.New), kafkaotlp.WithLogger(log), kafkaotlp.WithRegisterer(reg))
		if err != nil {
			return out, fmt.Errorf("kafka_sinks[%d]: %w", i, err)
		}
		sinks = append(sinks, s)
		out = append(out, s)
	}
	if len(sinks) == 0 {
		return nil, nil
	}
	remote := maps.Clone(series) // the routes before Kafka joins them
	routes := slices.Collect(maps.Keys(series))
	routes = append(routes, "")
	for _, ks := range cfg.KafkaSinks {
		routes = append(routes, ks.Policies...)
	}
	slices.Sort(routes)
	for _, p := range slices.Compact(routes) {
		var to fanout
		if base, ok := remote[p]; ok {
			to = append(to, base)
		} else if base, ok := remote[""]; ok {
			to = append(to, base) // where the pipeline sends p without a route of its own
		}
		for i, ks := range cfg.KafkaSinks {
			if len(ks.Policies) == 0 || (p != "" && slices.Contains(ks.Policies, p)) {
				to = append(to, sinks[i])
			}
		}
		switch len(to) {
		case 0:
		case 1:
			series[p] = to[0]
		default:
			series[p] = to
		}
	}
	return out, nil
}

// kafkaSinkCheckTimeout bounds the connection check of a Kafka sink at
// start.
const kafkaSinkCheckTimeout = 30 * time.Second

// checkKafkaSink connects to a sink's brokers once, so that a broker
// refusing its TLS or SASL settings stops weir at start
// (cluster.SecurityError). Brokers that do not answer are no error: the
// sink's records wait for them, and stage 2 commits nothing meanwhile.
func checkKafkaSink(ctx context.Context, c *cluster.Clients) error {
	ctx, cancel := context.WithTimeout(ctx, kafkaSinkCheckTimeout)
	defer cancel()
	err := c.Check(ctx)
	if _, ok := errors.AsType[*cluster.SecurityError](err); ok {
		return err
	}
	if err != nil && c.Logger != nil {
		c.Logger.Warn("a Kafka sink's brokers do not answer yet; its records wait for them", "brokers", c.Brokers, "err", err)
	}
	return nil
}

// fanout hands each batch to several sinks in turn; it flushes those that
// queue. The sinks only read the batch. Its Flush error wraps
// sendqueue.ErrPermanent only when every failing sink's does, so that stage 2
// never moves past a sink that still holds something undelivered.
type fanout []pipeline.SeriesSink

func (f fanout) Enqueue(ctx context.Context, series []prompb.TimeSeries) error {
	for _, s := range f {
		if err := s.Enqueue(ctx, series); err != nil {
			return err
		}
	}
	return nil
}

func (f fanout) Flush(ctx context.Context) error {
	var failures sendqueue.Tally
	for _, s := range f {
		if fl, ok := s.(pipeline.Flusher); ok {
			failures.Add(fl.Flush(ctx))
		}
	}
	return failures.Take()
}
