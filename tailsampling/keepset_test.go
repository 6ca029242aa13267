package tailsampling

import (
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/testutil"

	"github.com/weirdev/weir/sample"
)

func id(n byte) sample.TraceID {
	return sample.TraceID{n, 1, 2, 3, 4, 5, 6, 7, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff}
}

// A keep set holds the decisions of its traces, resolves exemplar decisions
// when their trace is exported (at once for a trace exported before), counts
// those it forgets unresolved, and answers the baseline for the rest.
func TestKeepSet(t *testing.T) {
	m := NewKeepMetrics(prometheus.NewRegistry())
	s := NewKeepSet(KeepSetConfig{BaselineRate: 0, Linger: time.Minute, MaxTraces: 3, Metrics: m})
	t0 := time.Unix(1_700_000_000, 0)
	s.Add(Decision{TraceID: id(1), Reason: KeepError}, t0)
	s.Add(Decision{TraceID: id(1), Reason: KeepExemplar}, t0.Add(time.Second)) // keeps its first reason
	s.Add(Decision{TraceID: id(2), Reason: KeepExemplar}, t0)
	s.Add(Decision{TraceID: id(3), Reason: KeepExemplar, Broadcast: true}, t0)
	if why, at, ok := s.Kept(id(1)); !ok || why != KeepError || !at.Equal(t0) {
		t.Fatalf("trace 1: %v %v %v, want kept for its error since t0", why, at, ok)
	}
	if _, _, ok := s.Kept(id(9)); ok {
		t.Fatal("a trace no decision names is kept at baseline rate 0")
	}
	s.Exported(id(1))
	s.Add(Decision{TraceID: id(1), Reason: KeepExemplar}, t0.Add(2*time.Second)) // resolves at once
	if got := testutil.ToFloat64(m.resolved); got != 2 {
		t.Fatalf("resolved %v exemplar decisions, want 2 (trace 1's, before and after its export)", got)
	}
	s.Exported(id(3)) // an SDK exemplar's trace, held by this partition
	if got := testutil.ToFloat64(m.resolvedSDK); got != 1 {
		t.Fatalf("resolved %v SDK exemplar decisions, want 1 (trace 3's)", got)
	}
	s.Add(Decision{TraceID: id(4), Reason: KeepLatency}, t0) // over the bound: trace 1, the oldest, goes
	if _, _, ok := s.Kept(id(1)); ok || testutil.ToFloat64(m.evicted) != 1 {
		t.Fatalf("over the bound, the oldest decision was not evicted (evicted %v)", testutil.ToFloat64(m.evicted))
	}
	s.Expire(t0.Add(2 * time.Minute))
	if s.Len() != 0 {
		t.Fatalf("%d decisions left after their linger passed", s.Len())
	}
	// Trace 2's exemplar decision never found its trace; trace 3's was a
	// broadcast, not counted.
	if got := testutil.ToFloat64(m.unresolved); got != 1 {
		t.Fatalf("unresolved %v, want 1", got)
	}
	all := NewKeepSet(KeepSetConfig{BaselineRate: 1})
	if why, _, ok := all.Kept(id(9)); !ok || why != KeepBaseline {
		t.Fatalf("baseline rate 1: %v %v", why, ok)
	}
}
