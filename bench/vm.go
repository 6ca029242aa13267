package main

import (
	"fmt"
	"sync/atomic"

	vmprompb "github.com/VictoriaMetrics/VictoriaMetrics/lib/prompb"
	"github.com/VictoriaMetrics/VictoriaMetrics/lib/streamaggr"
)

// vmAggr is the peer of the points scenario: lib/streamaggr as vmagent uses
// it, fed the batch as VictoriaMetrics' own benchmark does.
type vmAggr struct {
	a      *streamaggr.Aggregators
	series atomic.Int64 // output series flushed
	match  []uint32
}

func newVMAggr() (*vmAggr, error) {
	v := &vmAggr{}
	a, err := streamaggr.LoadFromData([]byte(vmPointConfig), func(tss []vmprompb.TimeSeries) {
		v.series.Add(int64(len(tss)))
	}, nil, "bench")
	if err != nil {
		return nil, fmt.Errorf("streamaggr config: %w", err)
	}
	v.a = a
	return v, nil
}

func (v *vmAggr) push(tss []vmprompb.TimeSeries) { v.match = v.a.Push(tss, v.match) }

// stop flushes the open interval (flush_on_shutdown) and stops the flushers.
func (v *vmAggr) stop() { v.a.MustStop() }
