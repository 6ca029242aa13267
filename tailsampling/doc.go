// Package tailsampling decides which traces weir keeps, and holds those
// decisions while the spans topic is read a second time.
//
// weir keeps no spans in memory. The spans topic itself is the buffer: it
// holds every span, durably, partitioned by trace ID. The first pass over a
// spans partition (stage 1) makes the RED series and the exemplar
// candidates, and writes the keep decisions it can take at once (a span with
// an error, a span over the latency threshold) to weir.decisions; stage 2
// writes there the decisions of the windows it closes (the trace of each
// percentile exemplar). A second pass over the same partition, a decision
// wait behind the first, exports the spans of the traces a decision names
// or the deterministic baseline selects, and commits only what the trace
// backend acknowledged.
//
// This package holds what both passes share: the keep reasons, the
// weir.decisions record format, the per-worker KeepSet the second pass
// consults, and the baseline.
package tailsampling
