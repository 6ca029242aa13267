// Package sample holds the decoded form of one input data point, the unit that
// flows from ingest through the rules into the aggregator.
//
// A Point is deliberately flat: every OTLP metric data point and every span is
// turned into one or more Points by ingest, so that the rules and the aggregator
// see a single shape regardless of where the data came from.
package sample

import (
	"encoding/hex"

	"github.com/prometheus/prometheus/model/labels"
)

// Kind says how a Point's value is to be read.
type Kind uint8

const (
	// Gauge is an instantaneous value; windows keep last/min/max/mean of it and
	// may feed it into a sketch.
	Gauge Kind = iota
	// Delta is an increment over the interval ending at T: a delta sum, or the
	// increase ingest derived from a cumulative sum (with resets handled).
	Delta
	// Observation is one or more observations (Count of them) of the value V of
	// a distribution, such as a span's duration in seconds. It feeds sketches.
	Observation
	// Histogram is the delta of an explicit-bucket histogram point; see Point.Hist.
	Histogram
	// ExponentialHistogram is the delta of an exponential histogram point; see Point.Exp.
	ExponentialHistogram
)

var kindNames = [...]string{"gauge", "delta", "observation", "histogram", "exponential_histogram"}

func (k Kind) String() string {
	if int(k) < len(kindNames) {
		return kindNames[k]
	}
	return "unknown"
}

// TraceID is an OTLP trace ID.
type TraceID [16]byte

// SpanID is an OTLP span ID.
type SpanID [8]byte

// IsZero reports whether the ID is all zeros (OTLP's "no trace").
func (t TraceID) IsZero() bool { return t == TraceID{} }

// String returns lowercase hex, as OpenMetrics exemplars and Jaeger expect.
func (t TraceID) String() string { return hex.EncodeToString(t[:]) }

// IsZero reports whether the ID is all zeros.
func (s SpanID) IsZero() bool { return s == SpanID{} }

// String returns lowercase hex.
func (s SpanID) String() string { return hex.EncodeToString(s[:]) }

// Exemplar is one real measurement linked to a trace.
type Exemplar struct {
	TraceID TraceID
	SpanID  SpanID
	Value   float64
	T       int64 // Unix milliseconds.
	// Partition is the input partition of the spans topic the trace was read
	// from, or -1 when unknown (exemplars of metric points). Tail-sampling
	// decisions are addressed to it.
	Partition int32
}

// Valid reports whether the exemplar links to a trace.
func (e Exemplar) Valid() bool { return !e.TraceID.IsZero() }

// Point is one decoded input data point.
type Point struct {
	// Labels are the input series labels, including __name__. Resource and
	// scope attributes have been merged in by ingest.
	Labels labels.Labels
	// Hash, when not 0, is Labels.Hash(), set by a producer that knows it
	// without hashing (ingest's span label cache). Whoever changes Labels
	// resets it to 0.
	Hash uint64
	// Series, when not nil, is the producer's record of Labels (ingest's
	// label caches): the points of one label set from one producer carry
	// the same *Series for as long as the producer caches the set. Whoever
	// changes Labels resets it to nil.
	Series *Series
	// Tenant is the tenant the point belongs to ("" when tenancy is off).
	Tenant string
	Kind   Kind
	// T is the event time in Unix milliseconds.
	T int64
	// V is the value: the gauge value, the delta, or the observed value.
	V float64
	// Count is the number of observations of V for Kind Observation (1 for a span).
	Count float64
	// Exemplar, when Valid, is the trace that produced V (spans), or the SDK
	// exemplar attached to the point.
	Exemplar Exemplar
	// HasBase marks a delta that ingest derived from a cumulative point:
	// BaseOffset is then the input offset of the record holding the previous
	// point it is relative to. A replay must start at or before it to derive
	// the same delta, so the aggregator keeps its windows' commit point there.
	HasBase    bool
	BaseOffset int64
	// Hist is set for Kind Histogram.
	Hist *BucketHistogram
	// Exp is set for Kind ExponentialHistogram.
	Exp *ExpHistogram
}

// Series is where the consumer of a producer's points keeps what it derived
// from one label set (the pipeline: the rules' outcome), to find it again
// per point without looking the labels up, as a Prometheus appender's
// caller keeps its SeriesRef. One consumer per producer: a second one would
// overwrite State, and must check that what it finds there is its own.
type Series struct {
	State any
	// Profile is the cardinality profiler's mark, kept apart from State
	// so that the profiler and the rules runtime each find their own.
	Profile any
}

// BucketHistogram is an explicit-bucket histogram delta.
type BucketHistogram struct {
	// Bounds are the upper bounds of the buckets, ascending, without +Inf.
	Bounds []float64
	// Counts has len(Bounds)+1 entries; the last is the +Inf bucket. Counts are
	// per bucket (not cumulative, unlike Prometheus' le buckets).
	Counts    []uint64
	Sum       float64
	Count     uint64
	Exemplars []Exemplar
}

// ExpHistogram is an OTLP exponential histogram delta. Bucket i of the positive
// range covers (base^(Offset+i), base^(Offset+i+1)] with base = 2^(2^-Scale).
type ExpHistogram struct {
	Scale     int32
	ZeroCount uint64
	PosOffset int32
	Pos       []uint64
	NegOffset int32
	Neg       []uint64
	Sum       float64
	Count     uint64
	Exemplars []Exemplar
}
