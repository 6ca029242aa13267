// Package cardinality is weir's metrics profiler: in bounded memory, whatever
// the cardinality of the input, it describes per tenant and metric name the
// active input series, the samples per second, the output series the rules
// make of them, and per label the number of distinct values (HyperLogLog,
// github.com/axiomhq/hyperloglog) and the most frequent values by series
// (Space-Saving, TopK).
//
// A Profiler sits on a worker's stage-1 hot path and profiles the input of
// all its partitions together (a span series is read from every spans
// partition); it describes a series once per period (the series' producer
// record, sample.Series, remembers that it did), so a point costs a counter
// increment. Its profiles encode into records (Profiler.Records) that are
// published to a compacted Kafka topic, keyed by worker, tenant and metric;
// a View merges whatever records it is given, from any number of workers
// and processes, into the figures the HTTP API serves in the shape of
// Prometheus' /api/v1/status/tsdb. Sketches merge without double counting;
// samples per second add up, so for up to a period after a rebalance the
// rate of a partition that changed hands counts with both owners.
package cardinality
