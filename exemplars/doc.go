// Package exemplars links aggregated windows to real traces.
//
// It holds two halves of the deep link: per sketch bucket exemplar candidates
// (which trace is the p99 of a window: Key, Better; the aggregator keeps
// one candidate per bucket), and the tail-sampling
// span buffer that keeps the traces those windows point at (see Buffer).
package exemplars
