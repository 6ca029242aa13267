// Package pipeline is what weir does with a record, for the Kafka protocol
// that drives it (internal/cluster) and for anything else that feeds it
// records in order (the benchmark harness, the tests' reference).
//
// A worker has three parts, one per pass over Kafka:
//
//   - Stage1 takes input records: it decodes them (ingest), routes each
//     point to its targets (plan), folds it into its partition's windows
//     (aggregator), reports the keep decisions a spans record settles at
//     once (tailsampling), and hands on the windows its watermark passed
//     as weir.partials records.
//   - Stage2 takes weir.partials records: it merges the partial windows of
//     every input partition, closes a window once every partition's
//     watermark passed it, writes its samples to the series sinks, and
//     reports the keep decision of each exemplar.
//   - Traces takes spans records again, a decision wait behind Stage1, and
//     sends the kept traces' spans to the trace sink.
//
// A point's path reads top to bottom: Stage1.Handle → plan.Route →
// aggregator.Partition.Add → Stage1.Advance → Stage2.Handle → Stage2.Close →
// Stage2.Flush → sinks.
package pipeline
