package tailsampling

import (
	"fmt"

	"github.com/weirdev/weir/sample"
)

// Reason says why a trace is kept.
type Reason uint8

// Keep reasons; the numbers are part of the weir.decisions format.
const (
	// KeepExemplar: a window picked the trace as the exemplar of one of its
	// outputs (a percentile, a max, a bucket).
	KeepExemplar Reason = iota
	// KeepError: the trace has a span with an error status.
	KeepError
	// KeepLatency: the trace has a span at least as long as the latency
	// threshold.
	KeepLatency
	// KeepBaseline: the trace is in the deterministic baseline sample (see
	// Baseline). Never written to weir.decisions: every node computes it.
	KeepBaseline

	numReasons = int(KeepBaseline) + 1
)

var reasonNames = [numReasons]string{"exemplar", "error", "latency", "baseline"}

// String returns the reason's metric label value, or "unknown" for a value
// outside the constants above.
func (r Reason) String() string {
	if int(r) < numReasons {
		return reasonNames[r]
	}
	return "unknown"
}

// Decision is one keep decision about a trace.
type Decision struct {
	TraceID sample.TraceID
	Reason  Reason
	// Broadcast marks a decision sent to every spans partition because the
	// one holding the trace is not known (an SDK's exemplar on a metric
	// point): all but one of its copies name a trace their partition never
	// had, so they are not counted as unresolved deep links.
	Broadcast bool
}

// The wire format of weir.decisions records (the value; the key is the
// trace ID, unused by readers):
//
//	version 1 = version:byte(1) flags:byte reason:byte trace:16
//	flags     = bit 0: broadcast
//
// A 16-byte value without a version byte is the format before it: a bare
// trace ID, an exemplar decision.
const (
	decisionVersion = 1
	decisionLen     = 3 + len(sample.TraceID{})
	flagBroadcast   = 1
)

// AppendDecision appends the record value of d to b.
func AppendDecision(b []byte, d Decision) []byte {
	var flags byte
	if d.Broadcast {
		flags |= flagBroadcast
	}
	b = append(b, decisionVersion, flags, byte(d.Reason))
	return append(b, d.TraceID[:]...)
}

// ParseDecision decodes a weir.decisions record value. It refuses unknown
// versions, flags and reasons, other lengths, the zero trace ID and the
// baseline reason (computed, never sent).
func ParseDecision(b []byte) (Decision, error) {
	var d Decision
	switch {
	case len(b) == len(d.TraceID):
		copy(d.TraceID[:], b)
	case len(b) != decisionLen:
		return Decision{}, fmt.Errorf("tailsampling: decision record of %d bytes, want %d", len(b), decisionLen)
	case b[0] != decisionVersion:
		return Decision{}, fmt.Errorf("tailsampling: decision record version %d, want %d", b[0], decisionVersion)
	case b[1]&^flagBroadcast != 0:
		return Decision{}, fmt.Errorf("tailsampling: decision record flags %#x", b[1])
	case Reason(b[2]) >= KeepBaseline:
		return Decision{}, fmt.Errorf("tailsampling: decision record reason %d", b[2])
	default:
		d.Broadcast = b[1]&flagBroadcast != 0
		d.Reason = Reason(b[2])
		copy(d.TraceID[:], b[3:])
	}
	if d.TraceID.IsZero() {
		return Decision{}, fmt.Errorf("tailsampling: decision record names the zero trace ID")
	}
	return d, nil
}
