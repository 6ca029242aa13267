package tailsampling

import (
	"fmt"
	"testing"
	"time"
)

// Oldest follows the first offset of each partition's oldest undecided
// trace, whatever decides the traces (keep, error, expiry, eviction), and
// Release forgets a partition's traces without deciding them.
func TestBufferOldest(t *testing.T) {
	b := NewBuffer(BaselineRate(0), DecisionWait(time.Minute))
	add := func(id byte, part int32, off int64, hasErr bool, at time.Duration) {
		b.Add(sbID(id), part, off, "otlp_proto", []byte("spans"), 1, hasErr, 0, sbT0.Add(at))
	}
	check := func(step string, part int32, want int64, wantOK bool) {
		t.Helper()
		got, ok := b.Oldest(part)
		if ok != wantOK || (ok && got != want) {
			t.Errorf("%s: Oldest(%d) = %d, %v; want %d, %v", step, part, got, ok, want, wantOK)
		}
	}
	add(1, 1, 10, false, 0)
	add(2, 1, 11, false, time.Second)
	add(3, 2, 5, false, time.Second)
	add(4, 1, -1, false, time.Second) // untracked
	check("start", 1, 10, true)
	check("start", 2, 5, true)
	check("start", 3, 0, false)

	add(1, 1, 12, false, 2*time.Second) // a later chunk of trace 1
	check("second chunk", 1, 10, true)
	b.Keep(sbID(1), KeepExemplar, sbT0.Add(3*time.Second))
	check("trace 1 kept", 1, 11, true)
	add(5, 1, 13, true, 3*time.Second) // kept at once: never pending
	check("error trace", 1, 11, true)

	b.Tick(sbT0.Add(time.Minute + time.Second)) // 2, 3 and 4 expire
	check("expired", 1, 0, false)
	check("expired", 2, 0, false)
	if len(b.pending) != 0 {
		t.Errorf("%d pending queues left with nothing buffered", len(b.pending))
	}

	add(6, 1, 20, false, 2*time.Minute)
	add(7, 1, 21, false, 2*time.Minute)
	add(8, 2, 22, false, 2*time.Minute)
	if n := b.Release(1); n != 2 {
		t.Errorf("Release(1) = %d, want 2", n)
	}
	check("released", 1, 0, false)
	check("released", 2, 22, true)
	if st := b.Stats(); st.Traces != 1 || st.Spans != 1 {
		t.Errorf("after the release: %d traces of %d spans buffered, want 1 of 1", st.Traces, st.Spans)
	}
	// Released traces were not decided: read again, they are buffered again.
	add(6, 1, 30, false, 3*time.Minute)
	check("read again", 1, 30, true)
}

// A full buffer evicts its oldest traces; Oldest moves past them (their
// spans are lost by design: the buffer sheds a flood).
func TestBufferOldestAfterEviction(t *testing.T) {
	b := NewBuffer(BaselineRate(0), MaxBytes(3*(traceOverhead+chunkOverhead+5)))
	for i := range 5 {
		b.Add(sbID(byte(i+1)), 0, int64(100+i), "otlp_proto", []byte("spans"), 1, false, 0, sbT0)
	}
	if got, ok := b.Oldest(0); !ok || got != 102 {
		t.Errorf("Oldest(0) = %d, %v after evicting two of five traces; want 102", got, ok)
	}
}

// Entries of decided traces do not pile up: a queue whose front is read
// reuses its room.
func TestPendingStaysSmall(t *testing.T) {
	b := NewBuffer(BaselineRate(0))
	for i := range 100_000 {
		var id [16]byte
		id[0], id[1], id[2] = byte(i), byte(i>>8), byte(i>>16)
		id[15] = 1
		b.Add(id, 0, int64(i), "otlp_proto", []byte("spans"), 1, false, 0, sbT0)
		if i >= 10 {
			var old [16]byte
			old[0], old[1], old[2] = byte(i-10), byte((i-10)>>8), byte((i-10)>>16)
			old[15] = 1
			b.Keep(old, KeepExemplar, sbT0)
		}
		if got, ok := b.Oldest(0); !ok || got != int64(max(i-9, 0)) {
			t.Fatalf("after trace %d: Oldest(0) = %d, %v", i, got, ok)
		}
	}
	if c := cap(b.pending[0].q); c > 1024 {
		t.Errorf("the queue holds room for %d entries with 10 traces buffered", c)
	}
}

// After a partition comes back (Release, then the records read again from
// the committed offset), a kept trace's chunks read before are not exported
// a second time; chunks newer than its export are, and a released
// undecided trace is buffered again.
func TestBufferReplayExportsOnce(t *testing.T) {
	var exported []string
	b := NewBuffer(BaselineRate(0), OnKeep(func(k Kept) {
		for _, c := range k.Chunks {
			exported = append(exported, fmt.Sprintf("%d:%s", k.TraceID[0], c))
		}
	}))
	add := func(id byte, off int64, chunk string, hasErr bool) {
		b.Add(sbID(id), 1, off, "otlp_proto", []byte(chunk), 1, hasErr, 0, sbT0)
	}
	add(1, 10, "a10", true) // an error: kept and exported at once
	add(2, 11, "b11", false)
	b.Keep(sbID(2), KeepExemplar, sbT0)
	add(3, 12, "c12", false)
	if n := b.Release(1); n != 1 {
		t.Fatalf("released %d traces, want 1 (trace 3)", n)
	}
	// Read again from offset 10, and on.
	add(1, 10, "a10", true)
	add(2, 11, "b11", false)
	add(3, 12, "c12", false)
	add(2, 13, "b13", false)
	add(1, 14, "a14", false)
	want := []string{"1:a10", "2:b11", "2:b13", "1:a14"}
	if fmt.Sprint(exported) != fmt.Sprint(want) {
		t.Errorf("exported %v, want %v", exported, want)
	}
	if got, ok := b.Oldest(1); !ok || got != 12 {
		t.Errorf("Oldest(1) = %d, %v; want trace 3 buffered again at 12", got, ok)
	}
}
