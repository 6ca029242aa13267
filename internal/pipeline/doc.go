// Package pipeline wires weir together: records from ingest are converted to
// points, matched against the rules, folded into the aggregator's windows, and
// closed windows go to the series sinks while the traces they link to are
// released from the span buffer to the trace sink.
//
// A point's path reads top to bottom in this package: Handle* (decode and
// convert) → addPoint (rules, via a per-series cache) → aggregator → PollDone
// (tick, emit, decisions) → sinks.
package pipeline
