package ingest

import (
	"math"
	"math/rand/v2"
	"os"
	"strconv"
	"testing"
	"time"
)

// FuzzConvertProto holds ConvertProto to pdata, its reference: on every
// input both accept or both refuse; a refused input yields nothing; an
// accepted one yields the points DecodeTraces + Convert yield (every field,
// labels included, with dimensions of every value type, tenants from an
// attribute and through the label cache) and the traces pdata's spans make.
func FuzzConvertProto(f *testing.F) {
	for _, raw := range fastSpansCorpus(f) {
		f.Add(raw)
	}
	f.Fuzz(func(t *testing.T, raw []byte) {
		checkAgainstPdata(t, raw)
	})
}

// fastSpansCorpus is the fuzz corpus of ConvertProto: pdata's records
// (whose KeyValues put the value first) and hand-made ones (key first), of
// every field and value type.
func fastSpansCorpus(t testing.TB) [][]byte {
	var corpus [][]byte
	for _, perTrace := range []bool{false, true} {
		for _, r := range traceRecords(t, EncodingProto, []int{1, 2, 3}, 3, 2, perTrace) {
			corpus = append(corpus, r.value)
		}
	}
	svc := pbKV("service.name", pbStr(1, "checkout"))
	return append(corpus,
		pbRecord([][]byte{svc, pbKV("tenant", pbStr(1, "t1")), pbKV("x", pbI64(4, math.Float64bits(2.5)))},
			pbSpan(1, "a", 0, time.Second, pbLen(9, pbKV("http.response.status_code", pbVarint(3, 404))),
				pbLen(9, pbKV("deployment.environment", pbVarint(2, 1))), pbLen(15, pbVarint(3, 2)))),
		pbRecord([][]byte{svc}, pbSpan(2, "b", time.Second, 0, pbLen(9, pbKV("x", pbLen(6, pbLen(1, pbKV("k", pbStr(7, "v"))))))),
			pbLen(11, pbI64(1, 5), pbStr(2, "ev"), pbLen(3, pbKV("e", pbLen(5, pbLen(1, pbVarint(3, 1)))))),
			pbLen(13, pbLen(1, tidBytes(4)), pbStr(3, "ts"), pbCat(pbTag(6, wireI32), []byte{1, 0, 0, 0}))),
		pbLen(1, pbLen(1000, pbLen(2, pbSpan(3, "old", 0, time.Second))), pbLen(1, pbLen(1, svc), pbLen(3, pbStr(1, "s")))),
		pbRecord(nil, pbSpan(1, "g", 0, time.Second, pbTag(20, wireStartGroup), pbTag(20, wireEndGroup), pbVarint(99, 1))),
		manyTraces(24),
		[]byte{0x0a, 0x02, 0x12, 0x00},
	)
}

// Mutants of the corpus: the fast decoder agrees with pdata on each, as
// FuzzConvertProto checks over a longer run (1M mutants agreed when the
// value-first KeyValue read was added).
func TestConvertProtoMutants(t *testing.T) {
	corpus := fastSpansCorpus(t)
	r := rand.New(rand.NewPCG(3, 4))
	n := 20_000
	if s := os.Getenv("WEIR_MUTANTS"); s != "" {
		n, _ = strconv.Atoi(s)
	}
	accepted := 0
	for range n {
		if run, err := checkAgainstPdata(t, mutate(r, corpus[r.IntN(len(corpus))])); err == nil && len(run.points) > 0 {
			accepted++
		}
	}
	if accepted < n/50 {
		t.Errorf("only %d of %d mutants decoded to points: the mutants test little", accepted, n)
	}
	t.Logf("%d of %d mutants decoded to points", accepted, n)
}
