package main

import (
	"context"
	"fmt"
	"log/slog"
	"maps"
	"strings"
	"time"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/weirdev/weir/internal/config"
	"github.com/weirdev/weir/pipeline"
	"github.com/weirdev/weir/plan"
	"github.com/weirdev/weir/rules"
	"github.com/weirdev/weir/sinks/remotewrite"
)

// seriesSinks builds a remote-write client per destination of cfg and routes
// the storage policies to them: the pipeline's Series map. A destination with
// m3_storage_policy_headers gets one queue per policy, each sending that
// policy's M3 headers (see config.M3Headers), so that no request mixes two
// policies. The Kafka sinks of cfg join the routes of the policies they take
// (see kafkaSinks). The queues and sinks are returned for closing, on error
// too (the ones built so far).
func seriesSinks(ctx context.Context, cfg *config.Config, log *slog.Logger, reg prometheus.Registerer) (map[string]pipeline.SeriesSink, []closer, error) {
	series := map[string]pipeline.SeriesSink{}
	var queues []closer
	for i, rw := range cfg.RemoteWrite {
		newQueue := func(name string, headers map[string]string) (*remotewrite.Client, error) {
			c, err := remotewrite.New(rw.URL, remoteWriteOpts(rw, name, headers, log, reg)...)
			if err != nil {
				// The error names the URL without its credentials.
				return nil, fmt.Errorf("remote_write[%d]: %w", i, err)
			}
			queues = append(queues, c)
			return c, nil
		}
		if rw.M3StoragePolicyHeaders {
			for _, p := range rw.Policies { // validated and normalized by config
				sp, err := rules.ParseStoragePolicy(p)
				if err != nil {
					return nil, queues, err
				}
				headers := maps.Clone(rw.Headers)
				if headers == nil {
					headers = map[string]string{}
				}
				maps.Copy(headers, config.M3Headers(sp))
				q, err := newQueue(p, headers)
				if err != nil {
					return nil, queues, err
				}
				series[p] = q
			}
			continue
		}
		// The name tells apart the metrics of destinations that share a URL.
		q, err := newQueue(strings.Join(rw.Policies, ","), rw.Headers)
		if err != nil {
			return nil, queues, err
		}
		if len(rw.Policies) == 0 {
			series[""] = q
		}
		for _, p := range rw.Policies {
			series[p] = q
		}
	}
	kafka, err := kafkaSinks(ctx, cfg, series, log, reg)
	queues = append(queues, kafka...)
	if err != nil {
		return nil, queues, err
	}
	return series, queues, nil
}

// remoteWriteOpts are the client options of one remote_write entry; zero
// settings keep the client's defaults.
func remoteWriteOpts(rw config.RemoteWrite, name string, headers map[string]string, log *slog.Logger, reg prometheus.Registerer) []remotewrite.Opt {
	opts := []remotewrite.Opt{
		remotewrite.WithHTTPClientConfig(rw.HTTPClientConfig), remotewrite.WithHeaders(headers),
		remotewrite.WithName(name), remotewrite.WithLogger(log), remotewrite.WithRegisterer(reg),
	}
	if rw.TenantHeader != "" {
		opts = append(opts, remotewrite.WithTenantHeader(rw.TenantHeader, plan.TenantLabel))
	}
	q := rw.QueueConfig
	for _, o := range []struct {
		set bool
		opt remotewrite.Opt
	}{
		{rw.Timeout > 0, remotewrite.WithTimeout(time.Duration(rw.Timeout))},
		{q.MaxShards > 0, remotewrite.WithShards(q.MaxShards)},
		{q.Capacity > 0, remotewrite.WithCapacity(q.Capacity)},
		{q.MaxSamplesPerSend > 0, remotewrite.WithMaxSamplesPerSend(q.MaxSamplesPerSend)},
		{q.BatchSendDeadline > 0, remotewrite.WithBatchSendDeadline(time.Duration(q.BatchSendDeadline))},
		{true, remotewrite.WithBackoff(time.Duration(q.MinBackoff), time.Duration(q.MaxBackoff))}, // 0 keeps the default
	} {
		if o.set {
			opts = append(opts, o.opt)
		}
	}
	return opts
}
