package ingest

// Reason is why a data point yielded no sample.Point.
type Reason uint8

// The reasons a MetricConverter yields nothing for a data point.
const (
	// ReasonNaN: a gauge or sum whose value is NaN (Prometheus reads NaN
	// as a staleness marker).
	ReasonNaN Reason = iota
	// ReasonNoRecordedValue: the point is flagged "no recorded value" (the
	// SDK's end of a series); it also ends the series' cumulative state.
	ReasonNoRecordedValue
	// ReasonUnspecifiedTemporality: a sum or histogram whose aggregation
	// temporality is neither delta nor cumulative.
	ReasonUnspecifiedTemporality
	// ReasonMalformedHistogram: an explicit-bucket histogram whose bucket
	// counts are neither len(bounds)+1 nor none.
	ReasonMalformedHistogram
	// ReasonCumulativeBaseline: the first point of a cumulative series (or
	// the first after its state was forgotten) is the baseline the next
	// point's increase is taken from: its own value is not an increase.
	ReasonCumulativeBaseline
	// ReasonCumulativeReplay: a cumulative point not newer than the series'
	// previous point of the same start: read before, already counted.
	ReasonCumulativeReplay
	// NumReasons is the number of reasons, for arrays indexed by Reason.
	NumReasons
)

var reasonNames = [NumReasons]string{
	ReasonNaN:                    "nan",
	ReasonNoRecordedValue:        "no_recorded_value",
	ReasonUnspecifiedTemporality: "unspecified_temporality",
	ReasonMalformedHistogram:     "malformed_histogram",
	ReasonCumulativeBaseline:     "cumulative_baseline",
	ReasonCumulativeReplay:       "cumulative_replay",
}

// String returns the reason's name, as a metric label carries it.
func (r Reason) String() string {
	if r < NumReasons {
		return reasonNames[r]
	}
	return "unknown"
}

// ConvertStats counts the data points a MetricConverter read: each either
// yielded sample.Points (one, or a summary's several) or is dropped under
// one reason, so Points == Emitted + the sum of Dropped. A record refused
// as undecodable counts nothing: it is dead-lettered whole.
type ConvertStats struct {
	Points, Emitted uint64
	Dropped         [NumReasons]uint64
}

// TakeStats returns what the converter counted since the last call, and
// starts counting afresh.
func (c *MetricConverter) TakeStats() ConvertStats {
	s := c.stats
	c.stats = ConvertStats{}
	return s
}

// drop counts a data point that yields nothing.
func (c *MetricConverter) drop(r Reason) { c.stats.Dropped[r]++ }

// dropAll counts n data points dropped for r.
func (c *MetricConverter) dropAll(n int, r Reason) {
	c.stats.Points += uint64(n)
	c.stats.Dropped[r] += uint64(n)
}
