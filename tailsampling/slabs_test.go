package tailsampling

import (
	"encoding/binary"
	"fmt"
	"math/rand/v2"
	"testing"
	"time"

	"github.com/weirdev/weir/sample"
)

// selfChunk returns a chunk of n bytes (n ≥ 12) whose content is derived
// from seq, written in its first 8 bytes, so that checkChunk can tell it was
// not overwritten.
func selfChunk(seq uint64, n int) []byte {
	c := make([]byte, n)
	binary.LittleEndian.PutUint64(c, seq)
	x := seq*0x9e3779b97f4a7c15 + 1
	for i := 8; i < n; i++ {
		x ^= x << 13
		x ^= x >> 7
		x ^= x << 17
		c[i] = byte(x)
	}
	return c
}

func checkChunk(t *testing.T, what string, c []byte) {
	t.Helper()
	if len(c) < 12 {
		t.Fatalf("%s: chunk of %d bytes", what, len(c))
	}
	want := selfChunk(binary.LittleEndian.Uint64(c), len(c))
	if string(c) != string(want) {
		t.Fatalf("%s: chunk %d was overwritten (its slab reused while it was held)", what, binary.LittleEndian.Uint64(c))
	}
}

// TestSlabReuseNeverTouchesHeldChunks runs a buffer through every way a
// chunk leaves it — expired, evicted when full, released with its
// partition, kept (by error, exemplar, baseline, latency) and handed out
// until Release — with slabs recycled through a pool, and checks after every
// step that no chunk still held, buffered or handed out, was written over.
func TestSlabReuseNeverTouchesHeldChunks(t *testing.T) {
	pool := NewSlabPool(64 << 20)
	var out []Kept // Handed out, not yet released.
	b := NewBuffer(Slabs(pool), MaxBytes(6<<20), DecisionWait(10*time.Second), BaselineRate(0.2),
		LatencyThreshold(900*time.Millisecond), OnKeep(func(k Kept) { out = append(out, k) }))
	r := rand.New(rand.NewPCG(7, 7))
	now := sbT0
	var seq uint64
	id := func() sample.TraceID { return sbID(byte(1 + r.IntN(250))) }
	var added int64
	for step := range 30000 {
		switch op := r.IntN(100); {
		case op < 70:
			seq++
			n := 12 + r.IntN(40_000)
			if r.IntN(200) == 0 {
				n = slabAlone + 1 + r.IntN(1000) // allocated alone
			}
			added += int64(n)
			tid := id()
			tid[1] = byte(seq >> 8) // many distinct traces over the run
			b.Add(tid, int32(r.IntN(3)), int64(seq), "otlp_proto", selfChunk(seq, n), 1+r.IntN(100),
				r.IntN(50) == 0, time.Duration(r.IntN(1000))*time.Millisecond, now)
		case op < 78:
			b.Keep(id(), KeepExemplar, now)
		case op < 88:
			now = now.Add(time.Duration(r.IntN(2000)) * time.Millisecond)
			b.Tick(now)
		case op < 90:
			b.Release(int32(r.IntN(3)))
		default:
			// Release some of what was handed out, keep holding the rest;
			// sometimes twice, which must do nothing more.
			for len(out) > 0 && r.IntN(3) != 0 {
				i := r.IntN(len(out))
				for _, c := range out[i].Chunks {
					checkChunk(t, "kept before its release", c)
				}
				out[i].Release()
				if r.IntN(4) == 0 {
					out[i].Release()
				}
				out[i] = out[len(out)-1]
				out = out[:len(out)-1]
			}
		}
		if step%50 == 0 {
			for _, k := range out {
				for _, c := range k.Chunks {
					checkChunk(t, "kept", c)
				}
			}
			for _, tr := range b.traces {
				for _, c := range tr.chunks {
					checkChunk(t, "buffered", c.b)
				}
			}
		}
	}
	// Decide and release everything: every slab is free again.
	b.Tick(now.Add(time.Hour))
	for _, k := range out {
		k.Release()
	}
	if b.slab != nil && b.slab.live != 0 {
		t.Errorf("the slab being filled holds %d chunks after every trace left", b.slab.live)
	}
	slabs := int(added / slabSize)
	if fresh := pool.Fresh(); fresh*3 > slabs {
		t.Errorf("%d of about %d slabs filled were allocated fresh: the pool did not recycle", fresh, slabs)
	}
	t.Logf("%d MB copied, %d slabs allocated", added>>20, pool.Fresh())
}

// TestSlabPoolBound checks that the pool keeps at most its bound of free
// slabs, and none when the bound is 0.
func TestSlabPoolBound(t *testing.T) {
	for _, tc := range []struct {
		bytes int64
		want  int
	}{{0, 0}, {-1, 0}, {slabSize - 1, 0}, {3 * slabSize, 3}} {
		p := NewSlabPool(tc.bytes)
		for range 5 {
			p.put(&slab{buf: make([]byte, 0, slabSize)})
		}
		if got := len(p.free); got != tc.want {
			t.Errorf("NewSlabPool(%d) keeps %d free slabs, want %d", tc.bytes, got, tc.want)
		}
		for range 5 {
			p.get()
		}
		if got := p.Fresh(); got != 5-tc.want {
			t.Errorf("NewSlabPool(%d): %d fresh slabs for 5 gets, want %d", tc.bytes, got, 5-tc.want)
		}
	}
}

// TestKeptReleasedByAnotherGoroutine has an exporter goroutine check and
// release what the buffer keeps while Add goes on copying into recycled
// slabs: Release takes the buffer's lock (run with -race).
func TestKeptReleasedByAnotherGoroutine(t *testing.T) {
	kept := make(chan Kept, 64)
	b := NewBuffer(Slabs(NewSlabPool(16<<20)), BaselineRate(1), OnKeep(func(k Kept) { kept <- k }))
	done := make(chan error)
	go func() {
		// Hold each Kept while a thousand more come (megabytes of Adds),
		// as a slow exporter would, then check and release it.
		var err error
		var held []Kept
		release := func(k Kept) {
			for _, c := range k.Chunks {
				want := selfChunk(binary.LittleEndian.Uint64(c), len(c))
				if err == nil && string(c) != string(want) {
					err = fmt.Errorf("chunk %d overwritten before its release", binary.LittleEndian.Uint64(c))
				}
			}
			k.Release()
		}
		for k := range kept {
			if held = append(held, k); len(held) > 1000 {
				release(held[0])
				held = held[1:]
			}
		}
		for _, k := range held {
			release(k)
		}
		done <- err
	}()
	now := sbT0
	for seq := range uint64(20_000) {
		tid := sbID(byte(seq))
		tid[1], tid[2] = byte(seq>>8), byte(seq>>16)
		b.Add(tid, 0, int64(seq), "otlp_proto", selfChunk(seq, 100+int(seq%5000)), 1, false, 0, now)
		if seq%100 == 99 {
			now = now.Add(time.Second)
			b.Tick(now) // the baseline keeps every expiring trace
		}
	}
	b.Tick(now.Add(time.Hour))
	close(kept)
	if err := <-done; err != nil {
		t.Fatal(err)
	}
}
