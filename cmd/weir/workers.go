package main

import (
	"context"
	"fmt"
	"strconv"

	"github.com/prometheus/client_golang/prometheus"
	"golang.org/x/sync/errgroup"

	"github.com/weirdev/weir/internal/pipeline"
	"github.com/weirdev/weir/tailsampling"
)

// newPipelines builds the process' n workers from one config. Each worker is
// a whole pipeline with its own state; what the process is bounded by is
// split between them: the span buffer's bytes (maxBytes, 0 for the default)
// and the rules' per-tenant limits. Their metrics carry a worker label.
func newPipelines(n int, cfg pipeline.Config, maxBytes int64) ([]*pipeline.Pipeline, error) {
	n = max(n, 1)
	if maxBytes <= 0 {
		maxBytes = tailsampling.DefaultMaxBytes
	}
	pipes := make([]*pipeline.Pipeline, n)
	for i := range pipes {
		wc := cfg
		id := strconv.Itoa(i)
		wc.Logger = cfg.Logger.With("worker", id)
		wc.Reg = prometheus.WrapRegistererWith(prometheus.Labels{"worker": id}, cfg.Reg)
		wc.Buffer = append(append([]tailsampling.BufferOpt(nil), cfg.Buffer...), tailsampling.MaxBytes(maxBytes/int64(n)))
		wc.LimitShare = 1 / float64(n)
		p, err := pipeline.New(wc)
		if err != nil {
			return nil, fmt.Errorf("worker %d: %w", i, err)
		}
		pipes[i] = p
	}
	return pipes, nil
}

// runWorkers runs every pipeline as its own member of the cluster until ctx
// ends or one of them fails, which stops the others. Workers of a process
// with a fixed transactional ID get that ID with their number appended,
// so that each fences its own predecessor after a restart.
func runWorkers(ctx context.Context, pipes []*pipeline.Pipeline, cc pipeline.ClusterConfig) error {
	if len(pipes) == 1 {
		return pipes[0].RunCluster(ctx, cc)
	}
	g, gctx := errgroup.WithContext(ctx)
	for i, p := range pipes {
		wc := cc
		if cc.TransactionalID != "" {
			wc.TransactionalID = fmt.Sprintf("%s-%d", cc.TransactionalID, i)
		}
		g.Go(func() error {
			if err := p.RunCluster(gctx, wc); err != nil {
				return fmt.Errorf("worker %d: %w", i, err)
			}
			return nil
		})
	}
	return g.Wait()
}
