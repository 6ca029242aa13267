// Package pipelinetest runs a pipeline.Worker in one process, without
// Kafka: the single-process reference that tests compare the cluster's
// output with, and a way to feed a worker records in a test.
package pipelinetest

import (
	"context"
	"time"

	"github.com/weirdev/weir/pipeline"
	"github.com/weirdev/weir/sample"
	"github.com/weirdev/weir/tailsampling"
)

// endOfTime is when Flush says the input ends: every watermark passes
// every window then.
var endOfTime = time.Unix(1<<40, 0)

// Local drives a worker's passes in one process, in the order the cluster
// does: every record goes to Stage1, the partial windows and watermarks it
// hands on go to Stage2 (as one weir.partials partition) through their
// encoded records, and the closed windows go to the worker's sinks.
type Local struct {
	W *pipeline.Worker
	// Keeps are the keep decisions stage 1 reported; Exemplars the
	// exemplars of the samples stage 2 emitted.
	Keeps     []tailsampling.Decision
	Exemplars []sample.Exemplar
	offset    int64
}

// New builds the worker of cfg and readies its stage 2.
func New(cfg pipeline.Config) (*Local, error) {
	w, err := pipeline.New(cfg)
	if err != nil {
		return nil, err
	}
	w.Stage2.Assigned(0, 0, false, nil, time.Now())
	return &Local{W: w}, nil
}

// Handle hands one record to stage 1; its error is Stage1.Handle's (the
// record does not decode).
func (l *Local) Handle(r pipeline.Record) error {
	return l.W.Stage1.Handle(r, func(d tailsampling.Decision) { l.Keeps = append(l.Keeps, d) })
}

// Advance ends a poll at now: the windows the watermarks passed go to stage
// 2, which closes what it can and writes it to the sinks.
func (l *Local) Advance(ctx context.Context, now time.Time) error {
	merge := func(value []byte) {
		// A record Stage1 encoded always decodes.
		if err := l.W.Stage2.Handle(0, l.offset, value, now); err != nil {
			panic("pipelinetest: a partials record stage 1 wrote does not decode: " + err.Error())
		}
		l.offset++
	}
	l.W.Stage1.Advance(now, func(_ uint64, v []byte) { merge(v) }, func(_ int32, v []byte) { merge(v) })
	l.W.Stage2.Close(now, func(ex sample.Exemplar) { l.Exemplars = append(l.Exemplars, ex) })
	return l.W.Stage2.Flush(ctx)
}

// Flush ends the input: every window is handed on, closed and written.
func (l *Local) Flush(ctx context.Context) error { return l.Advance(ctx, endOfTime) }
