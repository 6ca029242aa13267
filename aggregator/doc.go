// Package aggregator computes windowed rollups of sample.Points.
//
// It is built in the two stages DESIGN.md describes. A Partition (stage 1)
// pre-aggregates the points of one input partition into open windows and
// tracks that partition's watermark; when the watermark passes a window's end
// it hands the window over as a Partial. A Merger (stage 2) merges the
// partials of every input partition and closes a window once the watermarks of
// all partitions have passed its end (or a timeout expires), emitting the
// output samples with their exemplars.
//
// Everything a window emits is a deterministic function of the points that
// landed in it: sums are exact (order-independent) float sums, sketches count
// integers, and exemplar and "last" ties break on the data alone. Merging
// partials in any order, from any partitioning, gives the same output.
package aggregator
