package aggregator

import (
	"github.com/prometheus/prometheus/model/labels"
)

// Agg names one aggregation of a window.
type Agg uint8

// The aggregations. Which apply to a point depends on its sample.Kind: see
// window.add.
const (
	Sum Agg = iota
	Count
	Min
	Max
	Last
	Mean
	Rate     // Increase divided by the resolution in seconds.
	Increase // Sum of deltas (Delta points) or observations' count (others).
	Quantile
	Buckets // Explicit-bucket histogram: one series per bucket with an le label.
)

// Spec is one output series of a Target.
type Spec struct {
	Agg Agg
	Q   float64 // Quantile only.
	// Labels of the output series, __name__ included. For Buckets the le label
	// is added at emit time.
	Labels labels.Labels
}

// Target is one output of a rule for one input series: the output series it
// feeds, at one resolution. Targets are built by the caller (the rules decide
// them) and are immutable once handed to a Partition.
type Target struct {
	// Key identifies the window state: equal keys share state. It must cover
	// the output labels, the resolution and the rule's definition, so that a
	// changed rule starts from fresh windows.
	Key uint64
	// Resolution is the window length in milliseconds.
	Resolution int64
	// Route is an opaque tag copied onto every emitted Series, used to route
	// output to a sink (for example a storage policy "10s:2d").
	Route string
	Specs []Spec
	// needs is derived from Specs by Init.
	needs needs
}

type needs struct {
	dist    bool
	buckets bool
}

// Init derives the state a target's windows need. Call it once after filling
// Specs.
func (t *Target) Init() {
	t.needs = needs{}
	for _, s := range t.Specs {
		switch s.Agg {
		case Quantile:
			t.needs.dist = true
		case Buckets:
			t.needs.buckets = true
		}
	}
}
