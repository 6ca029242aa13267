package aggregator

import (
	"encoding/binary"
	"errors"
	"fmt"
	"math"

	"github.com/DataDog/sketches-go/ddsketch/mapping"

	"github.com/weirdev/weir/sample"
)

// sketch is a window's distribution: the bucket counts of a DDSketch over
// sketches-go's logarithmic index mapping and, per bucket, one exemplar
// candidate, in one table.
//
// Why not sketches-go's own stores beside a candidate container: every span
// landed in a bucket twice then (a count in the store, a candidate in a
// sorted container), a window paid for both layouts (about 70 bytes per
// non-empty bucket). Here a bucket costs 44 bytes (key 4, count 4, candidate
// 36); an insert shifts all three tables. Quantiles are computed exactly as
// DDSketch.GetValueAtQuantile computes them (sketch_test.go checks this
// against a real ddsketch.DDSketch).
type sketch struct {
	m *mapping.LogarithmicMapping
	// keys is sorted (packKey orders buckets by value); counts, cands and
	// parts are parallel to it. An insert shifts them all: at a hundred
	// buckets that is cheaper than the index an unsorted layout would need,
	// and 4 bytes a bucket smaller.
	keys []int32
	// counts holds the buckets' counts while they are whole numbers below
	// 2^32 (observations, histogram buckets); fcounts replaces it, for good,
	// once one is not.
	counts  []uint32
	fcounts []float64
	// cands is nil until the first candidate: a sketch fed by histograms
	// without exemplars never pays for it. An empty candidate has a zero
	// trace ID.
	cands []cand
	// The candidates' partition is part, unless parts says otherwise: a
	// stage-1 window's exemplars all come from its own input partition, a
	// merged window's from many.
	part  int32
	parts []int32
	// tBase is the timestamp candidates' t are relative to (the first
	// candidate's); wideT holds, by bucket key, the rare ones that do not
	// fit.
	tBase int64
	wideT map[int32]int64
}

// cand is a sample.Exemplar without its partition, in 36 bytes: the value is
// kept as its bits so that the struct needs no 8-byte alignment padding.
type cand struct {
	traceID sample.TraceID
	spanID  sample.SpanID
	value   [8]byte
	t       int32 // Milliseconds after tBase, or tWide.
}

func (c *cand) val() float64 { return math.Float64frombits(binary.LittleEndian.Uint64(c.value[:])) }

const tWide = math.MinInt32

// keyBias places positive buckets above zero and negative ones below it in
// packKey's order. Indexes stay within ±maxSketchIndex (New refuses
// accuracies that index further).
const keyBias = 1 << 29

// packKey orders buckets by the values they hold: negative buckets (larger
// index, more negative value) first, then zero, then positive buckets.
func packKey(sign int8, idx int) int32 {
	switch sign {
	case Positive:
		return int32(keyBias + idx)
	case Negative:
		return int32(-keyBias - idx)
	}
	return 0
}

func unpackKey(k int32) (sign int8, idx int) {
	switch {
	case k > 0:
		return Positive, int(k) - keyBias
	case k < 0:
		return Negative, -int(k) - keyBias
	}
	return Zero, 0
}

func newSketch(m *mapping.LogarithmicMapping) *sketch { return &sketch{m: m} }

// reserve gives an empty sketch room for n buckets (the candidates follow
// the keys' capacity when the first one comes).
func (s *sketch) reserve(n int) {
	if n <= 0 {
		return
	}
	s.keys = make([]int32, 0, n)
	s.counts = make([]uint32, 0, n)
}

var (
	errNaN           = errors.New("NaN cannot be observed")
	errNegativeCount = errors.New("negative count")
)

// key returns the bucket of v, as DDSketch.AddWithCount maps it.
func (s *sketch) key(v float64) (int32, error) {
	min := s.m.MinIndexableValue()
	switch {
	case v > min:
		if v > s.m.MaxIndexableValue() {
			return 0, fmt.Errorf("value %v is above the sketch's range", v)
		}
		return packKey(Positive, s.m.Index(v)), nil
	case v < -min:
		if v < -s.m.MaxIndexableValue() {
			return 0, fmt.Errorf("value %v is below the sketch's range", v)
		}
		return packKey(Negative, s.m.Index(-v)), nil
	case math.IsNaN(v):
		return 0, errNaN
	}
	return 0, nil
}

// search returns where k is or would be in s.keys.
func (s *sketch) search(k int32) (int, bool) {
	// A hand-written binary search: slices.BinarySearch's generic compare
	// does not inline, and this runs once per observation.
	lo, hi := 0, len(s.keys)
	for lo < hi {
		h := int(uint(lo+hi) >> 1)
		if s.keys[h] < k {
			lo = h + 1
		} else {
			hi = h
		}
	}
	return lo, lo < len(s.keys) && s.keys[lo] == k
}

// entry returns the position of bucket k in keys, adding an empty bucket if
// there is none. Positions move when buckets are added.
func (s *sketch) entry(k int32) int {
	i, found := s.search(k)
	if found {
		return i
	}
	s.keys = insert(s.keys, i, k)
	if s.fcounts != nil {
		s.fcounts = insert(s.fcounts, i, 0)
	} else {
		s.counts = insert(s.counts, i, 0)
	}
	if s.cands != nil {
		s.cands = insert(s.cands, i, cand{})
	}
	if s.parts != nil {
		s.parts = insert(s.parts, i, s.part)
	}
	return i
}

// count returns the count of the bucket at e.
func (s *sketch) count(e int) float64 {
	if s.fcounts != nil {
		return s.fcounts[e]
	}
	return float64(s.counts[e])
}

// addCount adds c to the count of the bucket at e.
func (s *sketch) addCount(e int, c float64) {
	if s.fcounts == nil {
		if n := float64(s.counts[e]) + c; n == math.Trunc(n) && n >= 0 && n <= math.MaxUint32 {
			s.counts[e] = uint32(n)
			return
		}
		s.fcounts = make([]float64, len(s.counts), cap(s.counts))
		for i, n := range s.counts {
			s.fcounts[i] = float64(n)
		}
		s.counts = nil
	}
	s.fcounts[e] += c
}

// add records count observations of v; it fails for values the sketch cannot
// index (NaN, out of range) and negative counts, which the caller counts as
// invalid. A valid exemplar becomes a candidate of its own value's bucket.
func (s *sketch) add(v, count float64, ex sample.Exemplar) error {
	if count < 0 {
		return errNegativeCount
	}
	k, err := s.key(v)
	if err != nil {
		return err
	}
	if count == 0 && !ex.Valid() {
		return nil
	}
	e := s.entry(k)
	if count == 1 && s.fcounts == nil && s.counts[e] < math.MaxUint32 {
		s.counts[e]++
	} else {
		s.addCount(e, count)
	}
	if ex.Valid() {
		if ex.Value == v {
			s.propose(e, ex)
		} else {
			s.offer(ex)
		}
	}
	return nil
}

// offer proposes ex as the candidate of its value's bucket; exemplars whose
// value the sketch cannot index are not candidates.
func (s *sketch) offer(ex sample.Exemplar) {
	if k, err := s.key(ex.Value); err == nil {
		s.propose(s.entry(k), ex)
	}
}

// propose makes ex the candidate of the bucket at e, which must be
// ex.Value's, if it is Better than the current one.
func (s *sketch) propose(e int, ex sample.Exemplar) {
	if s.cands == nil {
		s.cands = make([]cand, len(s.keys), cap(s.keys))
		s.tBase, s.part = ex.T, ex.Partition
	}
	c := &s.cands[e]
	if !c.traceID.IsZero() {
		// Better's first test on the stored value, so that the usual loser
		// costs no rebuilt exemplar.
		if v := c.val(); ex.Value != v {
			if ex.Value < v {
				return
			}
		} else if !Better(ex, s.candAt(e)) {
			return
		}
	}
	*c = cand{traceID: ex.TraceID, spanID: ex.SpanID}
	binary.LittleEndian.PutUint64(c.value[:], math.Float64bits(ex.Value))
	if ex.Partition != s.part && s.parts == nil {
		s.parts = make([]int32, len(s.keys), cap(s.keys))
		for i := range s.parts {
			s.parts[i] = s.part
		}
	}
	if s.parts != nil {
		s.parts[e] = ex.Partition
	}
	if d := ex.T - s.tBase; d > tWide && d <= math.MaxInt32 {
		c.t = int32(d)
		if s.wideT != nil {
			delete(s.wideT, s.keys[e])
		}
		return
	}
	c.t = tWide
	if s.wideT == nil {
		s.wideT = map[int32]int64{}
	}
	s.wideT[s.keys[e]] = ex.T
}

// candAt returns the candidate of the bucket at e (invalid when it has
// none).
func (s *sketch) candAt(e int) sample.Exemplar {
	if s.cands == nil {
		return sample.Exemplar{}
	}
	c := &s.cands[e]
	if c.traceID.IsZero() {
		return sample.Exemplar{}
	}
	ex := sample.Exemplar{TraceID: c.traceID, SpanID: c.spanID, Value: c.val(), T: s.tBase + int64(c.t), Partition: s.part}
	if c.t == tWide {
		ex.T = s.wideT[s.keys[e]]
	}
	if s.parts != nil {
		ex.Partition = s.parts[e]
	}
	return ex
}

// maxExemplar returns the Better of all candidates: the exemplar of the
// largest value, found in the highest bucket that has one.
func (s *sketch) maxExemplar() sample.Exemplar {
	if s.cands == nil {
		return sample.Exemplar{}
	}
	for i := len(s.keys) - 1; i >= 0; i-- {
		if ex := s.candAt(i); ex.Valid() {
			return ex
		}
	}
	return sample.Exemplar{}
}

// candidate returns the candidate of bucket k.
func (s *sketch) candidate(k int32) (sample.Exemplar, bool) {
	i, found := s.search(k)
	if !found {
		return sample.Exemplar{}, false
	}
	ex := s.candAt(i)
	return ex, ex.Valid()
}

// addExp maps an exponential histogram onto the sketch: each OTLP bucket's
// count is added at the bucket's geometric midpoint, which the sketch then
// places in its own (1% wide) bucket.
func (s *sketch) addExp(h *sample.ExpHistogram) error {
	base := math.Exp2(math.Exp2(-float64(h.Scale)))
	lb := math.Log(base)
	for i, c := range h.Pos {
		if c == 0 {
			continue
		}
		v := math.Exp(lb * (float64(h.PosOffset+int32(i)) + 0.5))
		if err := s.add(v, float64(c), sample.Exemplar{}); err != nil {
			return err
		}
	}
	for i, c := range h.Neg {
		if c == 0 {
			continue
		}
		v := -math.Exp(lb * (float64(h.NegOffset+int32(i)) + 0.5))
		if err := s.add(v, float64(c), sample.Exemplar{}); err != nil {
			return err
		}
	}
	if h.ZeroCount > 0 {
		if err := s.add(0, float64(h.ZeroCount), sample.Exemplar{}); err != nil {
			return err
		}
	}
	for _, ex := range h.Exemplars {
		if ex.Valid() {
			s.offer(ex)
		}
	}
	return nil
}

// merge folds o into s bucket by bucket: counts add up, candidates keep the
// Better one, whatever the order of merges.
func (s *sketch) merge(o *sketch) {
	for i, k := range o.keys {
		e := s.entry(k)
		s.addCount(e, o.count(i))
		if ex := o.candAt(i); ex.Valid() {
			s.propose(e, ex)
		}
	}
}

// totals returns the counts of the negative buckets, the zero bucket and the
// positive buckets, each summed in index order as sketches-go's stores sum
// them.
func (s *sketch) totals() (neg, zero, pos float64, nNeg int) {
	nNeg, _ = s.search(0)
	for i := nNeg - 1; i >= 0; i-- {
		neg += s.count(i)
	}
	i := nNeg
	if i < len(s.keys) && s.keys[i] == 0 {
		zero = s.count(i)
		i++
	}
	for ; i < len(s.keys); i++ {
		pos += s.count(i)
	}
	return neg, zero, pos, nNeg
}

// quantile returns the sketch's q-quantile and the bucket holding it. It
// follows DDSketch.GetValueAtQuantile and its stores' KeyAtRank step for
// step, so that the value is the one sketches-go reports and the key is the
// bucket it came from.
func (s *sketch) quantile(q float64) (float64, int32, bool) {
	neg, zero, pos, nNeg := s.totals()
	count := zero + neg + pos
	if count == 0 || q < 0 || q > 1 {
		return 0, 0, false
	}
	rank := float64(q * (count - 1))
	switch {
	case rank < neg:
		// The negative store ranks by ascending index: descending keys.
		last := s.keyAtRank(max(neg-1-rank, 0), nNeg-1, -1, -1, 0)
		_, idx := unpackKey(last)
		return -s.m.Value(idx), last, true
	case rank < zero+neg:
		return 0, 0, true
	default:
		start, _ := s.search(1)
		last := s.keyAtRank(max(rank-zero-neg, 0), start, len(s.keys), 1, packKey(Positive, 0))
		_, idx := unpackKey(last)
		return s.m.Value(idx), last, true
	}
}

// keyAtRank is a store's KeyAtRank over positions from, from+step, … up to
// (not including) to: the key of the first bucket whose cumulative count
// passes r, else the last non-empty one, else last.
func (s *sketch) keyAtRank(r float64, from, to, step int, last int32) int32 {
	cum := 0.0
	for i := from; i != to; i += step {
		c := s.count(i)
		if c == 0 {
			continue
		}
		cum += c
		last = s.keys[i]
		if cum > r {
			break
		}
	}
	return last
}

// eachBin calls fn for every bucket of the given sign with a count, in
// ascending index order (the order of sketches-go's stores).
func (s *sketch) eachBin(sign int8, fn func(idx int, count float64)) {
	nNeg, _ := s.search(0)
	visit := func(i int) {
		if c := s.count(i); c != 0 {
			_, idx := unpackKey(s.keys[i])
			fn(idx, c)
		}
	}
	switch sign {
	case Negative:
		for i := nNeg - 1; i >= 0; i-- {
			visit(i)
		}
	case Positive:
		start, _ := s.search(1)
		for i := start; i < len(s.keys); i++ {
			visit(i)
		}
	}
}

// zeroCount returns the count of the zero bucket.
func (s *sketch) zeroCount() float64 {
	if i, found := s.search(0); found {
		return s.count(i)
	}
	return 0
}

// eachCandidate calls fn for every bucket's candidate, in bucket order.
func (s *sketch) eachCandidate(fn func(Key, sample.Exemplar)) {
	for i, k := range s.keys {
		if ex := s.candAt(i); ex.Valid() {
			sign, idx := unpackKey(k)
			fn(MakeKey(sign, idx), ex)
		}
	}
}

// candidates returns the number of buckets holding a candidate.
func (s *sketch) candidates() int {
	n := 0
	for i := range s.cands {
		if !s.cands[i].traceID.IsZero() {
			n++
		}
	}
	return n
}

// insert is slices.Insert of one element, growing a full slice by a
// sixteenth rather than append's doubling: windows are many and live long,
// so spare capacity costs more than the extra copies.
func insert[T any](s []T, i int, v T) []T {
	s = push(s, v)
	copy(s[i+1:], s[i:len(s)-1])
	s[i] = v
	return s
}

// push is append with insert's growth.
func push[T any](s []T, v T) []T {
	if len(s) == cap(s) {
		// Appending to nil rounds the capacity up to the allocator's size
		// class, which make would allocate but not let us use.
		g := append([]T(nil), make([]T, len(s)+len(s)/16+2)...)
		copy(g, s)
		s = g[:len(s)]
	}
	return append(s, v)
}

// sketchKey converts a wire bucket key (Key) to the table's, or
// fails for a sign or index no encoder writes.
func sketchKey(k Key) (int32, error) {
	sign, idx := k.Sign(), k.Index()
	switch {
	case MakeKey(sign, idx) != k, sign < Negative, sign > Positive,
		sign == Zero && idx != 0, idx < -maxSketchIndex, idx > maxSketchIndex:
		return 0, fmt.Errorf("bucket key %d", int64(k))
	}
	return packKey(sign, idx), nil
}
