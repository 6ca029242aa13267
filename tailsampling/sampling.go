package tailsampling

import (
	"encoding/binary"

	"github.com/weirdev/weir/sample"
)

// Baseline reports whether the trace is in the deterministic baseline sample
// of the given rate (a probability in [0, 1]).
//
// It is a pure function of the trace ID and the rate, so every node, every
// restart and every replay agrees on it. The rule is the one of the
// OpenTelemetry SDKs' TraceIDRatioBased sampler (go.opentelemetry.io/otel/sdk/trace):
// bytes 8 to 15 of the trace ID (its low 64 bits, the part W3C Trace Context
// level 2 requires to be random) are read big-endian, shifted right by one
// bit, and the trace is in the sample when that 63-bit number is below
// rate·2^63. Hence traces that passed such a head sampler at rate h reach the
// baseline at rate r ≤ h with probability r/h, and a lower rate always
// selects a subset of a higher one.
//
// A rate of 1 or more selects every trace; 0, a negative rate or NaN selects
// none.
func Baseline(id sample.TraceID, rate float64) bool {
	return baselineIn(id, baselineBound(rate))
}

// baselineBound returns the exclusive upper bound of the 63-bit value that
// Baseline compares.
func baselineBound(rate float64) uint64 {
	switch {
	case rate >= 1:
		return 1 << 63
	case rate > 0: // Also false for NaN.
		return uint64(rate * (1 << 63))
	default:
		return 0
	}
}

// baselineIn is Baseline with the bound already computed.
func baselineIn(id sample.TraceID, bound uint64) bool {
	return binary.BigEndian.Uint64(id[8:16])>>1 < bound
}
