package loadgen

import (
	"context"
	"errors"
	"sync"
	"sync/atomic"
	"time"

	"github.com/twmb/franz-go/pkg/kgo"

	"github.com/weirdev/weir/receiver"
)

// pacePeriod is how often Run catches up with the trace rate.
const pacePeriod = 10 * time.Millisecond

// Run publishes, until ctx is done, traces at the configured rate to
// spansTopic (receiver.TraceRecords: one record per service and trace) and a metrics
// batch every metrics interval to metricsTopic (receiver.MetricsRecord), through cl,
// which should be built with receiver.PartitionerOpt to partition as kafkaexporter
// does. Data is stamped with the configured clock; pacing follows the real
// clock, and after a stall of more than a second the backlog beyond one
// second is skipped rather than burst out.
//
// Records are produced asynchronously; failures are counted and logged (at
// most once per metrics interval) and do not stop Run. Run never flushes or
// closes cl and never waits for outstanding records: when ctx is done it
// returns nil at once, and records still buffered in cl are the caller's to
// flush or abandon. It fails only on bad arguments (nil client, empty topic).
func (g *Generator) Run(ctx context.Context, cl *kgo.Client, spansTopic, metricsTopic string) error {
	switch {
	case cl == nil:
		return errors.New("loadgen: Run needs a client, got nil")
	case spansTopic == "":
		return errors.New("loadgen: Run needs a spans topic, got an empty name")
	case metricsTopic == "":
		return errors.New("loadgen: Run needs a metrics topic, got an empty name")
	}
	g.log.Info("load generator started", "trace_rate", g.traceRate, "error_rate", g.errorRate,
		"metrics_interval", g.metricsInterval, "spans_topic", spansTopic, "metrics_topic", metricsTopic)

	var (
		produced, failed atomic.Int64
		errMu            sync.Mutex
		lastErr          error
		reported         int64
		traces           int64 // generated
		paced            int64 // traces the pacing has accounted for
	)
	promise := func(_ *kgo.Record, err error) {
		if err == nil {
			produced.Add(1)
			return
		}
		if ctx.Err() != nil && errors.Is(err, context.Canceled) {
			return // abandoned at shutdown, not a failure
		}
		failed.Add(1)
		errMu.Lock()
		lastErr = err
		errMu.Unlock()
	}
	produce := func(r *kgo.Record) { cl.Produce(ctx, r, promise) }

	pace := time.NewTicker(pacePeriod)
	defer pace.Stop()
	collect := time.NewTicker(g.metricsInterval)
	defer collect.Stop()
	begin := time.Now()
	for {
		select {
		case <-ctx.Done():
			g.log.Info("load generator stopped", "traces", traces, "records_produced", produced.Load(), "records_failed", failed.Load())
			return nil

		case <-collect.C:
			rec, err := receiver.MetricsRecord(metricsTopic, g.Metrics(g.clock()))
			if err != nil {
				g.log.Warn("load generator: metrics batch dropped", "err", err)
			} else {
				produce(rec)
			}
			if f := failed.Load(); f > reported {
				errMu.Lock()
				err := lastErr
				errMu.Unlock()
				g.log.Warn("load generator: producing records failed", "failed_since_last_report", f-reported, "last_err", err)
				reported = f
			}

		case <-pace.C:
			target := int64(g.traceRate * time.Since(begin).Seconds())
			if target-paced > int64(g.traceRate)+1 {
				paced = target - int64(g.traceRate) // skip the backlog beyond a second
			}
			for ; paced < target && ctx.Err() == nil; paced++ {
				traces++
				recs, err := receiver.TraceRecords(spansTopic, g.NextTrace(g.clock()))
				if err != nil { // cannot happen with generated traces; never stop the demo for it
					g.log.Warn("load generator: trace dropped", "err", err)
					continue
				}
				for _, r := range recs {
					produce(r)
				}
			}
		}
	}
}
