package ingest

import (
	"encoding/binary"
	"errors"
	"fmt"
	"math"
	"strings"
	"testing"
	"time"

	"github.com/prometheus/prometheus/model/labels"
	"go.opentelemetry.io/collector/pdata/ptrace"

	"github.com/weirdev/weir/sample"
)

// Hand-made protobuf, for the records the pdata marshaler cannot write:
// repeated singular fields, unknown fields, groups, bad lengths.
func pbTag(num uint64, wt int) []byte { return binary.AppendUvarint(nil, num<<3|uint64(wt)) }

func pbLen(num uint64, parts ...[]byte) []byte {
	payload := pbCat(parts...)
	return pbCat(pbTag(num, wireLen), binary.AppendUvarint(nil, uint64(len(payload))), payload)
}

func pbStr(num uint64, s string) []byte { return pbLen(num, []byte(s)) }

func pbVarint(num, v uint64) []byte {
	return pbCat(pbTag(num, wireVarint), binary.AppendUvarint(nil, v))
}

func pbI64(num, v uint64) []byte { return binary.LittleEndian.AppendUint64(pbTag(num, wireI64), v) }

func pbCat(parts ...[]byte) []byte {
	var b []byte
	for _, p := range parts {
		b = append(b, p...)
	}
	return b
}

// pbKV is a KeyValue; value is the AnyValue's fields.
func pbKV(key string, value ...[]byte) []byte {
	return pbCat(pbStr(1, key), pbLen(2, value...))
}

// pbSpan is a span of trace n with the given extra fields.
func pbSpan(n int, name string, start, end time.Duration, extra ...[]byte) []byte {
	tid, sid := traceID(n), spanID(n, 1)
	return pbCat(append([][]byte{pbLen(1, tid[:]), pbLen(2, sid[:]), pbStr(5, name), pbVarint(6, 2),
		pbI64(7, uint64(ts(start))), pbI64(8, uint64(ts(end)))}, extra...)...)
}

// pbRecord is a TracesData of one resource (its attributes) with one scope
// of spans.
func pbRecord(resAttrs [][]byte, spans ...[]byte) []byte {
	var ss [][]byte
	for _, s := range spans {
		ss = append(ss, pbLen(2, s))
	}
	var attrs [][]byte
	for _, a := range resAttrs {
		attrs = append(attrs, pbLen(1, a))
	}
	return pbLen(1, pbLen(1, attrs...), pbLen(2, ss...))
}

// convertRun is what one converter made of a record.
type convertRun struct {
	points []sample.Point
	traces []traceSum
}

// viaPdata is the reference: DecodeTraces and Convert, with the trace
// summaries taken from the decoded spans.
func viaPdata(c *SpanConverter, raw []byte, tenant string) (convertRun, error) {
	td, err := DecodeTraces(EncodingProto, raw)
	if err != nil {
		return convertRun{}, err
	}
	var r convertRun
	c.Convert(td, 3, tenant, collect(&r.points))
	index := map[sample.TraceID]int{}
	eachSpan(td, func(_, _ int, _ ptrace.ResourceSpans, _ ptrace.ScopeSpans, s ptrace.Span) {
		id := sample.TraceID(s.TraceID())
		i, ok := index[id]
		if !ok {
			i = len(r.traces)
			index[id] = i
			r.traces = append(r.traces, traceSum{id: id})
		}
		t := &r.traces[i]
		t.spans++
		t.hasErr = t.hasErr || s.Status().Code() == ptrace.StatusCodeError
		if s.EndTimestamp() > s.StartTimestamp() {
			t.maxDur = max(t.maxDur, time.Duration(min(uint64(s.EndTimestamp()-s.StartTimestamp()), math.MaxInt64)))
		}
	})
	return r, nil
}

func viaProto(c *SpanConverter, raw []byte, tenant string) (convertRun, error) {
	var r convertRun
	err := c.ConvertProto(raw, 3, tenant, collect(&r.points), func(id sample.TraceID, spans int, hasError bool, maxDur time.Duration) {
		r.traces = append(r.traces, traceSum{id: id, spans: spans, hasErr: hasError, maxDur: maxDur})
	})
	return r, err
}

func samePoint(a, b sample.Point) bool {
	return labels.Equal(a.Labels, b.Labels) && a.Tenant == b.Tenant && a.Kind == b.Kind && a.T == b.T &&
		math.Float64bits(a.V) == math.Float64bits(b.V) && a.Count == b.Count && a.Exemplar == b.Exemplar &&
		a.Hist == nil && b.Hist == nil && a.Exp == nil && b.Exp == nil
}

// compareRuns reports how got (ConvertProto) differs from want (pdata).
func compareRuns(got, want convertRun) error {
	if len(got.points) != len(want.points) {
		return fmt.Errorf("%d points, pdata made %d:\n  %s\nwant\n  %s", len(got.points), len(want.points),
			join(pointStrings(got.points)), join(pointStrings(want.points)))
	}
	for i := range got.points {
		if !samePoint(got.points[i], want.points[i]) {
			return fmt.Errorf("point %d = %s, pdata made %s", i, pointString(got.points[i]), pointString(want.points[i]))
		}
	}
	if len(got.traces) != len(want.traces) {
		return fmt.Errorf("%d traces %+v, pdata's spans make %d %+v", len(got.traces), got.traces, len(want.traces), want.traces)
	}
	for i := range got.traces {
		if got.traces[i] != want.traces[i] {
			return fmt.Errorf("trace %d = %+v, pdata's spans make %+v", i, got.traces[i], want.traces[i])
		}
	}
	return nil
}

// The options every comparison runs with: dimensions of each value type,
// one of them a resource attribute, and tenants from an attribute.
var protoTestOpts = []ConvertOpt{
	SpanDimensions("http.request.method", "http.response.status_code", "deployment.environment", "x", "service.name"),
	TenantAttribute("tenant"), FallbackTenant("fallback"),
}

// checkAgainstPdata converts raw both ways, twice on the same converters
// (the second time through their caches), with and without a record tenant.
func checkAgainstPdata(t testing.TB, raw []byte) (convertRun, error) {
	t.Helper()
	ref, fast := NewSpanConverter(protoTestOpts...), NewSpanConverter(protoTestOpts...)
	var first convertRun
	var firstErr error
	for i, tenant := range []string{"", "", "acme"} {
		want, wantErr := viaPdata(ref, raw, tenant)
		got, err := viaProto(fast, raw, tenant)
		if (err == nil) != (wantErr == nil) {
			t.Fatalf("ConvertProto error %v, pdata error %v, on %x", err, wantErr, raw)
		}
		if err != nil {
			var pe *protoError
			if len(raw) > 0 && !errors.As(err, &pe) {
				t.Fatalf("error %q names no byte offset", err)
			}
			if len(got.points)+len(got.traces) > 0 {
				t.Fatalf("refused record yielded %d points and %d traces", len(got.points), len(got.traces))
			}
		} else if d := compareRuns(got, want); d != nil {
			t.Fatalf("tenant %q: %v\nrecord %x", tenant, d, raw)
		}
		if i == 0 {
			first, firstErr = got, err
		}
	}
	return first, firstErr
}

func TestConvertProtoMatchesConvert(t *testing.T) {
	for _, perTrace := range []bool{false, true} {
		for _, r := range traceRecords(t, EncodingProto, []int{1, 2, 3, 4, 5, 6}, 4, 3, perTrace) {
			got, err := checkAgainstPdata(t, r.value)
			if err != nil || len(got.points) == 0 {
				t.Fatalf("perTrace=%v: %d points, error %v", perTrace, len(got.points), err)
			}
		}
	}
}

// Records the pdata marshaler never writes but pdata reads: every one must
// come out of ConvertProto as pdata would have it.
func TestConvertProtoEdgeCases(t *testing.T) {
	svc := pbKV("service.name", pbStr(1, "checkout"))
	for _, tc := range []struct {
		name   string
		raw    []byte
		points int
		check  func(t *testing.T, r convertRun)
	}{
		{"resource after its spans, in two parts", pbLen(1,
			pbLen(2, pbLen(2, pbSpan(1, "a", 0, time.Second))),
			pbLen(1, pbLen(1, pbKV("deployment.environment", pbStr(1, "prod")))),
			pbLen(1, pbLen(1, svc), pbLen(1, pbKV("service.name", pbStr(1, "second"))))), 1,
			wantLabel("service_name", "checkout")},
		{"span attribute wins over resource, first key wins", pbRecord([][]byte{svc, pbKV("x", pbStr(1, "res"))},
			pbSpan(1, "a", 0, time.Second, pbLen(9, pbKV("x", pbStr(1, "first"))), pbLen(9, pbKV("x", pbStr(1, "second"))))), 1,
			wantLabel("x", "first")},
		{"empty span attribute hides the resource's", pbRecord([][]byte{svc, pbKV("x", pbStr(1, "res"))},
			pbSpan(1, "a", 0, time.Second, pbLen(9, pbStr(1, "x")))), 1, wantLabel("x", "")},
		{"later oneof field wins, value fields merge", pbRecord([][]byte{svc},
			pbSpan(1, "a", 0, time.Second, pbLen(9, pbStr(1, "x"), pbLen(2, pbStr(1, "s")), pbLen(2, pbVarint(3, 42)), pbLen(2)))), 1,
			wantLabel("x", "42")},
		{"string table index renders empty", pbRecord([][]byte{svc},
			pbSpan(1, "a", 0, time.Second, pbLen(9, pbKV("x", pbStr(1, "s"), pbVarint(8, 3))))), 1, wantLabel("x", "")},
		{"value types", pbCat(
			pbRecord([][]byte{svc}, pbSpan(1, "bool", 0, time.Second, pbLen(9, pbKV("x", pbVarint(2, 7))))),
			pbRecord([][]byte{svc}, pbSpan(1, "int", 0, time.Second, pbLen(9, pbKV("x", pbVarint(3, uint64(1<<64-5)))))),
			pbRecord([][]byte{svc}, pbSpan(1, "double", 0, time.Second, pbLen(9, pbKV("x", pbI64(4, math.Float64bits(1.5e-7)))))),
			pbRecord([][]byte{svc}, pbSpan(1, "bytes", 0, time.Second, pbLen(9, pbKV("x", pbStr(7, "\x00\xff"))))),
			pbRecord([][]byte{svc}, pbSpan(1, "array", 0, time.Second, pbLen(9, pbKV("x", pbLen(5, pbLen(1, pbStr(1, "<a>")), pbLen(1, pbVarint(3, 2)), pbLen(1)))))),
			pbRecord([][]byte{svc}, pbSpan(1, "map", 0, time.Second, pbLen(9, pbKV("x", pbLen(6, pbLen(1, pbKV("k", pbVarint(2, 1))), pbLen(1, pbKV("k", pbStr(1, "v")))))))),
			pbRecord([][]byte{pbKV("service.name", pbVarint(3, 7))}, pbSpan(1, "int service", 0, time.Second)),
		), 7, func(t *testing.T, r convertRun) {
			want := []string{"true", "-5", "1.5e-7", "AP8=", `["<a>",2,null]`, `{"k":"v"}`, ""}
			for i, w := range want {
				if got := r.points[i].Labels.Get("x"); got != w {
					t.Errorf("%s: x=%q, want %q", r.points[i].Labels.Get("span_name"), got, w)
				}
			}
			if got := r.points[6].Labels.Get("service_name"); got != "7" {
				t.Errorf("int service.name = %q, want 7", got)
			}
		}},
		{"status messages merge, code stays", pbRecord([][]byte{svc},
			pbSpan(1, "a", 0, time.Second, pbLen(15, pbVarint(3, 2)), pbLen(15, pbStr(2, "boom")))), 1,
			func(t *testing.T, r convertRun) {
				if !r.traces[0].hasErr || r.points[0].Labels.Get("status_code") != "STATUS_CODE_ERROR" {
					t.Errorf("status lost: %+v %s", r.traces[0], r.points[0].Labels)
				}
			}},
		{"kind and code beyond the enums", pbRecord([][]byte{svc},
			pbSpan(1, "a", 0, time.Second, pbVarint(6, 1<<32|9), pbLen(15, pbVarint(3, 1<<40)))), 1, nil},
		{"deprecated instrumentation_library_spans are not spans", pbLen(1, pbLen(1, pbLen(1, svc)),
			pbLen(1000, pbLen(2, pbSpan(9, "old", 0, time.Second)))), 0, nil},
		{"field number past 32 bits wraps to resource_spans", pbCat(pbTag(1<<32|1, wireLen), lenPrefixed(pbCat(pbLen(1, pbLen(1, svc)), pbLen(2, pbLen(2, pbSpan(1, "a", 0, time.Second)))))), 1, nil},
		{"unknown fields and groups are skipped", pbRecord([][]byte{svc},
			pbSpan(1, "a", 0, time.Second, pbVarint(99, 1), pbTag(20, wireStartGroup), pbTag(20, wireEndGroup), pbI64(98, 1),
				pbCat(pbTag(97, wireI32), []byte{1, 2, 3, 4}),
				// pdata's skipping of a group ends with the group's first
				// field: what follows is read as fields of the span.
				pbTag(21, wireStartGroup), pbVarint(1, 5), pbStr(5, "after group"))), 1, wantLabel("span_name", "after group")},
		{"IDs may be empty, fields repeat", pbRecord([][]byte{svc},
			pbSpan(1, "a", 0, time.Second, pbLen(1), pbLen(4), pbLen(13, pbLen(1), pbLen(2)), pbStr(5, "renamed"))), 1,
			func(t *testing.T, r convertRun) {
				if r.points[0].Exemplar.TraceID != (sample.TraceID{}) || r.points[0].Labels.Get("span_name") != "renamed" {
					t.Errorf("got %s", pointString(r.points[0]))
				}
			}},
		{"end before start, no name, no resource", pbLen(1, pbLen(2, pbLen(2, pbLen(1, tidBytes(2)),
			pbI64(7, uint64(ts(time.Second))), pbI64(8, uint64(ts(0)))))), 1,
			func(t *testing.T, r convertRun) {
				if r.points[0].V != 0 || r.traces[0].maxDur != 0 || r.points[0].Tenant != "fallback" {
					t.Errorf("got %s, trace %+v", pointString(r.points[0]), r.traces[0])
				}
			}},
		{"tenant attribute", pbRecord([][]byte{svc, pbKV("tenant", pbStr(1, "t1"))}, pbSpan(1, "a", 0, time.Second)), 1,
			func(t *testing.T, r convertRun) {
				if r.points[0].Tenant != "t1" {
					t.Errorf("tenant %q, want t1", r.points[0].Tenant)
				}
			}},
		{"many traces in one record", manyTraces(20), 20, func(t *testing.T, r convertRun) {
			if len(r.traces) != 10 || r.traces[9].spans != 2 {
				t.Errorf("traces %+v, want 10 of 2 spans", r.traces)
			}
		}},
		{"attribute values 100 levels deep", pbRecord([][]byte{svc, pbKV("deep", nested(49))}, pbSpan(1, "a", 0, time.Second)), 1, nil},
		// pdata writes a KeyValue's value before its key: the fast read
		// takes both orders, and leaves to the walk what it does not know.
		{"value before key", pbCat(
			pbRecord([][]byte{svc}, pbSpan(1, "str", 0, time.Second, pbLen(9, pbLen(2, pbStr(1, "v")), pbStr(1, "x")))),
			pbRecord([][]byte{svc}, pbSpan(1, "int", 0, time.Second, pbLen(9, pbLen(2, pbVarint(3, 300)), pbStr(1, "x")))),
			pbRecord([][]byte{svc}, pbSpan(1, "empty value", 0, time.Second, pbLen(9, pbLen(2), pbStr(1, "x")))),
			pbRecord([][]byte{svc}, pbSpan(1, "long key", 0, time.Second, pbLen(9, pbLen(2, pbStr(1, "v")), pbStr(1, "x"+strings.Repeat("y", 200))))),
			pbRecord([][]byte{svc}, pbSpan(1, "key twice", 0, time.Second, pbLen(9, pbLen(2, pbStr(1, "v")), pbStr(1, "y"), pbStr(1, "x")))),
			pbRecord([][]byte{svc}, pbSpan(1, "bool", 0, time.Second, pbLen(9, pbLen(2, pbVarint(2, 1)), pbStr(1, "x")))),
		), 6, func(t *testing.T, r convertRun) {
			want := []string{"v", "300", "", "", "v", "true"}
			for i, w := range want {
				if got := r.points[i].Labels.Get("x"); got != w {
					t.Errorf("%s: x=%q, want %q", r.points[i].Labels.Get("span_name"), got, w)
				}
			}
		}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			r, err := checkAgainstPdata(t, tc.raw)
			if err != nil {
				t.Fatal(err)
			}
			if len(r.points) != tc.points {
				t.Fatalf("%d points, want %d", len(r.points), tc.points)
			}
			if tc.check != nil {
				tc.check(t, r)
			}
		})
	}
}

func wantLabel(name, value string) func(t *testing.T, r convertRun) {
	return func(t *testing.T, r convertRun) {
		if got := r.points[0].Labels.Get(name); got != value {
			t.Errorf("%s = %q, want %q in %s", name, got, value, r.points[0].Labels)
		}
	}
}

func tidBytes(n int) []byte {
	id := traceID(n)
	return id[:]
}

func lenPrefixed(b []byte) []byte { return append(binary.AppendUvarint(nil, uint64(len(b))), b...) }

// nested is an AnyValue of arrays n deep: with its KeyValue, 2n+2 levels
// (KeyValue, AnyValue and ArrayValue count one each; pdata allows 100).
func nested(n int) []byte {
	v := pbStr(1, "leaf")
	for range n {
		v = pbLen(5, pbLen(1, v))
	}
	return v
}

// manyTraces is one resource with n spans of n/2 traces, interleaved.
func manyTraces(n int) []byte {
	var spans [][]byte
	for i := range n {
		spans = append(spans, pbSpan(i%(n/2), fmt.Sprint("op", i%3), 0, time.Duration(i)*time.Millisecond))
	}
	return pbRecord([][]byte{pbKV("service.name", pbStr(1, "s"))}, spans...)
}

func TestConvertProtoRefuses(t *testing.T) {
	good := pbSpan(1, "a", 0, time.Second)
	inSpan := func(extra ...[]byte) []byte { return pbRecord(nil, pbCat(append([][]byte{good}, extra...)...)) }
	spanAt := len(pbRecord(nil, good)) - len(good) // Where the span's fields start.
	for _, tc := range []struct {
		name string
		raw  []byte
		want string
	}{
		{"empty", nil, "empty record value"},
		{"truncated length", []byte{0x0a, 0x80}, "at byte 0, field resource_spans[0]: unexpected EOF"},
		{"field number 0", []byte{0x02, 0x00}, "at byte 0, field (tag): field number is not positive"},
		{"short trace_id", inSpan(pbStr(1, "abc")), fmt.Sprintf("at byte %d, field resource_spans[0].scope_spans[0].spans[0].trace_id: length 3, want 16 or 0", spanAt+len(good))},
		{"kind as bytes", inSpan(pbStr(6, "x")), "spans[0].kind: wrong wire type 2"},
		{"start time as varint", inSpan(pbVarint(7, 1)), "spans[0].start_time_unix_nano: wrong wire type 0"},
		{"status code as bytes", inSpan(pbLen(15, pbStr(3, "x"))), "spans[0].status.code: wrong wire type 2"},
		{"link span_id of 5 bytes", inSpan(pbLen(13, pbStr(2, "12345"))), "spans[0].links[0].span_id: length 5"},
		{"event attribute cut short", inSpan(pbLen(11, pbLen(3, []byte{0x0a, 0x05}))), "spans[0].events[0].attributes[0].key: unexpected EOF"},
		{"end group without start", inSpan(pbTag(20, wireEndGroup), pbVarint(1, 1)), "spans[0].(unknown field 20): end of group without a start"},
		{"group cut short", inSpan(pbTag(20, wireStartGroup)), "spans[0].(unknown field 20): unexpected EOF"},
		{"wire type 7", inSpan(pbTag(20, 7), []byte{0}), "spans[0].(unknown field 20): illegal wire type 7"},
		{"varint of 11 bytes", inSpan(pbCat(pbTag(10, wireVarint), []byte{0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0x01})),
			"spans[0].dropped_attributes_count: varint overflows 64 bits"},
		{"attribute values 101 levels deep", pbRecord([][]byte{pbKV("deep", nested(50))}, good), "attribute values nested deeper than 100 levels"},
		{"resource entity ref id_keys as varint", pbLen(1, pbLen(1, pbLen(3, pbVarint(3, 1)))), "resource_spans[0].resource.entity_refs[0].id_keys: wrong wire type 0"},
		{"scope attribute value as varint", pbLen(1, pbLen(2, pbLen(1, pbLen(3, pbVarint(2, 1))))), "scope_spans[0].scope.attributes[0].value: wrong wire type 0"},
		{"deprecated scope spans are checked too", pbLen(1, pbLen(1000, pbLen(2, pbStr(1, "ab")))), "resource_spans[0].instrumentation_library_spans[0].spans[0].trace_id: length 2"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			if _, err := DecodeTraces(EncodingProto, tc.raw); err == nil {
				t.Fatal("pdata accepts the record: the case is wrong")
			}
			c := NewSpanConverter(protoTestOpts...)
			n := 0
			err := c.ConvertProto(tc.raw, 0, "", func(*sample.Point) { n++ }, func(sample.TraceID, int, bool, time.Duration) { n++ })
			if err == nil || !strings.Contains(err.Error(), tc.want) {
				t.Fatalf("error %v, want one containing %q", err, tc.want)
			}
			if n != 0 {
				t.Fatalf("%d calls before the error", n)
			}
			checkAgainstPdata(t, tc.raw)
		})
	}
}

// Points and their labels must not depend on the record's memory, which the
// consumer may reuse.
func TestConvertProtoKeepsNoView(t *testing.T) {
	raw := pbRecord([][]byte{pbKV("service.name", pbStr(1, "checkout")), pbKV("tenant", pbStr(1, "t1"))},
		pbSpan(1, "GET /cart", 0, time.Second, pbLen(9, pbKV("x", pbStr(1, "v1"))), pbLen(9, pbKV("http.response.status_code", pbVarint(3, 200)))))
	c := NewSpanConverter(protoTestOpts...)
	var got []sample.Point
	for range 2 {
		if err := c.ConvertProto(raw, 0, "", collect(&got), nil); err != nil {
			t.Fatal(err)
		}
	}
	for i := range raw {
		raw[i] = 'Z'
	}
	want := labels.FromStrings("__name__", "span_duration_seconds", "service_name", "checkout", "span_name", "GET /cart",
		"span_kind", "SPAN_KIND_SERVER", "status_code", "STATUS_CODE_UNSET", "x", "v1", "http_response_status_code", "200")
	for _, p := range got {
		if !labels.Equal(p.Labels, want) || p.Tenant != "t1" {
			t.Fatalf("after the record changed: %s tenant %q, want %s tenant t1", p.Labels, p.Tenant, want)
		}
	}
}

// A record of known operations costs no allocation, with dimensions of
// string and integer values and the tenant from an attribute.
func TestConvertProtoAllocs(t *testing.T) {
	raw := traceRecords(t, EncodingProto, benchTraceIDs, 10, 3, false)[0].value
	c := NewSpanConverter(protoTestOpts...)
	n := 0
	emit := func(*sample.Point) { n++ }
	traces := func(sample.TraceID, int, bool, time.Duration) {}
	if err := c.ConvertProto(raw, 0, "", emit, traces); err != nil {
		t.Fatal(err)
	}
	n = 0
	allocs := testing.AllocsPerRun(20, func() {
		if err := c.ConvertProto(raw, 0, "", emit, traces); err != nil {
			t.Fatal(err)
		}
	})
	if allocs != 0 || n != 21*100 { // AllocsPerRun runs once more to warm up.
		t.Fatalf("%v allocations per record, %d points; want 0 and %d", allocs, n, 21*100)
	}
}

func BenchmarkConvertProto(b *testing.B) {
	for _, tc := range []struct {
		name     string
		perTrace bool
		dims     []string
	}{{"batch_of_10", false, nil}, {"one_trace", true, nil}, {"batch_of_10/dims=2", false, []string{"http.request.method", "deployment.environment"}}} {
		b.Run(tc.name, func(b *testing.B) {
			raw := traceRecords(b, EncodingProto, benchTraceIDs, 10, 3, tc.perTrace)[0].value
			spans := 100
			if tc.perTrace {
				spans = 10
			}
			c := NewSpanConverter(SpanDimensions(tc.dims...))
			emit := func(*sample.Point) {}
			b.SetBytes(int64(len(raw)))
			b.ReportAllocs()
			for b.Loop() {
				if err := c.ConvertProto(raw, 0, "", emit, nil); err != nil {
					b.Fatal(err)
				}
			}
			reportRate(b, spans, "spans/s")
		})
	}
}
