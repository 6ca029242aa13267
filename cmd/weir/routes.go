package main

import (
	"fmt"
	"log/slog"
	"maps"
	"strings"
	"time"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/weirdev/weir/internal/config"
	"github.com/weirdev/weir/pipeline"
	"github.com/weirdev/weir/rules"
	"github.com/weirdev/weir/sinks/remotewrite"
)

// seriesSinks builds a remote-write queue per destination of cfg and routes
// the storage policies to them: the pipeline's Series map. A destination with
// m3_storage_policy_headers gets one queue per policy, each sending that
// policy's M3 headers (see config.M3Headers), so that no request mixes two
// policies. The Kafka sinks of cfg join the routes of the policies they take
// (see kafkaSinks). The queues and sinks are returned for closing, on error
// too (the ones built so far).
func seriesSinks(cfg *config.Config, log *slog.Logger, reg prometheus.Registerer) (map[string]pipeline.SeriesSink, []closer, error) {
	series := map[string]pipeline.SeriesSink{}
	var queues []closer
	newQueue := func(rw config.RemoteWrite, name string, headers map[string]string) (*remotewrite.Queue, error) {
		opts := []remotewrite.Opt{remotewrite.WithHeaders(headers), remotewrite.WithName(name),
			remotewrite.WithLogger(log), remotewrite.WithRegisterer(reg)}
		if rw.Timeout > 0 {
			opts = append(opts, remotewrite.WithTimeout(time.Duration(rw.Timeout)))
		}
		c, err := remotewrite.New(rw.URL, opts...)
		if err != nil {
			return nil, fmt.Errorf("remote_write %s: %w", rw.URL, err)
		}
		q := remotewrite.NewQueue(c)
		queues = append(queues, q)
		return q, nil
	}
	for _, rw := range cfg.RemoteWrite {
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
				q, err := newQueue(rw, p, headers)
				if err != nil {
					return nil, queues, err
				}
				series[p] = q
			}
			continue
		}
		// The name tells apart the metrics of destinations that share a URL.
		q, err := newQueue(rw, strings.Join(rw.Policies, ","), rw.Headers)
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
	kafka, err := kafkaSinks(cfg, series, log, reg)
	queues = append(queues, kafka...)
	if err != nil {
		return nil, queues, err
	}
	return series, queues, nil
}
