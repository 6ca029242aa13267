package aggregator

import "github.com/weirdev/weir/sample"

// Source is the kind of input a window's points were, as weir's exemplar
// coverage figures tell them apart: what a percentile's exemplar can come
// from depends on it.
type Source uint8

// The sources; their String is the source label of weir's coverage metrics.
const (
	// SourceNone: a sample outside the coverage, or a window whose points'
	// kinds are not known (a partial of an encoder before them).
	SourceNone Source = iota
	// SourceSpans: span durations (Observation points), each its own
	// exemplar.
	SourceSpans
	// SourceExpHistogram: exponential histograms, with the few exemplars an
	// SDK's reservoir keeps per collection.
	SourceExpHistogram
	// SourceHistogram: explicit-bucket histograms, an exemplar per bucket
	// at most.
	SourceHistogram
	// SourceSummary: a summary's quantiles, which carry no exemplars: none
	// is possible.
	SourceSummary
	// SourceGauge: gauges and deltas.
	SourceGauge
	// SourceMixed: points of more than one of the above.
	SourceMixed

	numSources
)

var sourceNames = [numSources]string{"none", "spans", "exponential_histogram", "explicit_histogram", "summary", "gauge", "mixed"}

func (s Source) String() string {
	if s < numSources {
		return sourceNames[s]
	}
	return "unknown"
}

// ExemplarsPossible reports whether a sample of the source can carry an
// exemplar at all.
func (s Source) ExemplarsPossible() bool { return s != SourceNone && s != SourceSummary }

// knownKinds are the bits a window's kinds may have: one per sample.Kind.
const knownKinds = 1<<(sample.ExponentialHistogram+1) - 1

// source returns the Source of the window's points.
func (w *window) source() Source {
	switch w.kinds {
	case 0:
		return SourceNone
	case 1 << sample.Observation:
		return SourceSpans
	case 1 << sample.ExponentialHistogram:
		return SourceExpHistogram
	case 1 << sample.Histogram:
		return SourceHistogram
	}
	if w.kinds&^(1<<sample.Gauge|1<<sample.Delta) == 0 {
		return SourceGauge
	}
	return SourceMixed
}
