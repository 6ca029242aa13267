package ingest

import (
	"encoding/binary"
	"fmt"
	"hash/maphash"
	"math"
	"strconv"
	"strings"
	"time"
	"unsafe"

	"go.opentelemetry.io/collector/pdata/pcommon"
	"go.opentelemetry.io/collector/pdata/ptrace"

	"github.com/weirdev/weir/sample"
)

// maxTenants bounds the copies of tenant attribute values kept between
// records: tenants are few, but the values come from outside.
const maxTenants = 1024

// protoState is what ConvertProto reuses from record to record, so that a
// record of known operations costs no allocation.
type protoState struct {
	scan    spanScan
	svc     []string // Per resource of the record.
	svcHash []uint64 // maphash.String of svc, per resource.
	tenant  []string // Per resource of the record.
	arena   []byte   // Formatted integer attribute values of the record.
	tenants map[string]string
	sums    []traceSum
	last    int                    // Index in sums of the last span's trace.
	byID    map[sample.TraceID]int // Index in sums, once a record holds many traces.
}

// traceSum is what ConvertProto reports of one trace of a record.
type traceSum struct {
	id     sample.TraceID
	spans  int
	hasErr bool
	maxDur time.Duration
}

// ConvertProto converts otlp_proto TracesData bytes straight to points, as
// DecodeTraces + Convert would, and reports each trace's id, span count,
// error flag and max duration via fn (called once per distinct trace id in
// the record, in first-seen order). It returns an error, naming the byte
// offset and field, for bytes pdata would refuse.
//
// It decodes only what the points need, reading strings in place, and checks
// the rest of the record as ptrace.ProtoUnmarshaler does; the whole record is
// checked before the first call to emit, so a refused record yields no point
// and no trace. Like DecodeTraces it refuses an empty record. emit gets the
// same reused Point as with Convert; trace may be nil. A trace's max
// duration is that of its longest span (end before start counts as 0). The
// converter keeps no reference to raw after it returns.
func (c *SpanConverter) ConvertProto(raw []byte, partition int32, tenant string, emit func(*sample.Point), trace func(id sample.TraceID, spans int, hasError bool, maxDur time.Duration)) error {
	if len(raw) == 0 {
		return fmt.Errorf("ingest: decode %s traces (0 bytes): %w", EncodingProto, errEmpty)
	}
	f := c.protoState()
	d := &f.scan
	d.reset(raw)
	defer func() {
		// Drop the views into raw, so that the record is not kept alive.
		d.reset(nil)
		clear(c.dims)
		clear(f.svc)
		clear(f.tenant)
	}()
	if err := d.traces(); err != nil {
		return fmt.Errorf("ingest: decode %s traces (%d bytes): %w", EncodingProto, len(raw), err)
	}
	f.arena = f.arena[:0]
	f.svc, f.svcHash, f.tenant = f.svc[:0], f.svcHash[:0], f.tenant[:0]
	for _, r := range d.res {
		f.svc = append(f.svc, f.str(r.svc))
		f.svcHash = append(f.svcHash, maphash.String(c.seed, f.svc[len(f.svc)-1]))
		f.tenant = append(f.tenant, f.resolveTenant(&c.cfg, tenant, r.tenant))
	}
	f.sums, f.last = f.sums[:0], 0
	if len(f.byID) > 0 {
		clear(f.byID)
	}
	nd := len(c.dims)
	for i := range d.spans {
		s := &d.spans[i]
		for j := range nd {
			v := d.dimVals[i*nd+j]
			if v.kind == valAbsent {
				v = d.resDims[s.res*nd+j]
			}
			c.dims[j] = f.str(v)
		}
		var dur uint64
		if s.end > s.start {
			dur = s.end - s.start
		}
		v := float64(dur) / 1e9
		t := millis(pcommon.Timestamp(s.end))
		e := c.labels(f.svc[s.res], f.svcHash[s.res], d.view(s.name.off, s.name.end), ptrace.SpanKind(s.kind), ptrace.StatusCode(s.status))
		c.p = sample.Point{
			Labels: e.lbls,
			Hash:   e.hash,
			Series: &e.series,
			Tenant: f.tenant[s.res],
			Kind:   sample.Observation,
			T:      t,
			V:      v,
			Count:  1,
			Exemplar: sample.Exemplar{
				TraceID:   s.trace,
				SpanID:    s.span,
				Value:     v,
				T:         t,
				Partition: partition,
			},
		}
		emit(&c.p)
		f.count(s.trace, dur, s.status == int32(ptrace.StatusCodeError))
	}
	if trace != nil {
		for _, t := range f.sums {
			trace(t.id, t.spans, t.hasErr, t.maxDur)
		}
	}
	return nil
}

func (c *SpanConverter) protoState() *protoState {
	if c.fast == nil {
		c.fast = &protoState{tenants: map[string]string{}}
		c.fast.scan.dims = c.cfg.spanDims
		c.fast.scan.tenantAttr = c.cfg.tenantAttr
	}
	return c.fast
}

// str renders a located attribute value as pcommon.Value.AsString would.
// Strings are views into the record; integers are formatted into the arena
// (views too); the rare doubles, bytes, arrays and maps are rendered by pdata.
func (f *protoState) str(v scanValue) string {
	switch v.kind {
	case valStr:
		return f.scan.view(v.off, v.end)
	case valBool:
		return strconv.FormatBool(v.num != 0)
	case valInt:
		// Appends never touch bytes already written, and the arena is
		// reset only per record: the view stays valid while the record's
		// points are made, even if the arena moves.
		start := len(f.arena)
		f.arena = strconv.AppendInt(f.arena, int64(v.num), 10)
		return unsafe.String(&f.arena[start], len(f.arena)-start)
	case valOther:
		return otherAsString(f.scan.raw[v.off:v.end])
	}
	return ""
}

// resolveTenant is convertConfig.tenant for a located tenant attribute: the
// copy it returns is interned, as points keep it.
func (f *protoState) resolveTenant(cfg *convertConfig, record string, attr scanValue) string {
	if record != "" {
		return record
	}
	if attr.kind != valAbsent {
		if s := f.str(attr); s != "" {
			if t, ok := f.tenants[s]; ok {
				return t
			}
			t := strings.Clone(s)
			if len(f.tenants) >= maxTenants {
				clear(f.tenants)
			}
			f.tenants[t] = t
			return t
		}
	}
	return cfg.fallback
}

// count adds a span to its trace's summary.
func (f *protoState) count(id sample.TraceID, dur uint64, isErr bool) {
	i := f.last
	if i >= len(f.sums) || f.sums[i].id != id {
		i = f.find(id)
		f.last = i
	}
	t := &f.sums[i]
	t.spans++
	t.hasErr = t.hasErr || isErr
	if d := time.Duration(min(dur, math.MaxInt64)); d > t.maxDur {
		t.maxDur = d
	}
}

// linearTraces is how many traces a record may hold before their summaries
// are found through a map instead of a scan.
const linearTraces = 8

// find returns the index of id's summary, adding one when id is new.
func (f *protoState) find(id sample.TraceID) int {
	if len(f.sums) <= linearTraces {
		for i := range f.sums {
			if f.sums[i].id == id {
				return i
			}
		}
	} else {
		if f.byID == nil {
			f.byID = map[sample.TraceID]int{}
		}
		if len(f.byID) == 0 {
			for i := range f.sums {
				f.byID[f.sums[i].id] = i
			}
		}
		if i, ok := f.byID[id]; ok {
			return i
		}
		f.byID[id] = len(f.sums)
	}
	f.sums = append(f.sums, traceSum{id: id})
	return len(f.sums) - 1
}

// otherAsString renders the value of a KeyValue (raw bytes that spanScan
// checked) whose value is a double, bytes, array or map, by letting pdata
// decode it as the one attribute of a resource: these renderings (JSON for
// arrays and maps) are pdata's to define. It allocates, but such values are
// rare as span dimensions.
func otherAsString(kv []byte) string {
	var b []byte
	res := appendLenField(nil, 1, kv)
	rs := appendLenField(nil, 1, res)
	b = appendLenField(b, 1, rs)
	td, err := (&ptrace.ProtoUnmarshaler{}).UnmarshalTraces(b)
	if err != nil || td.ResourceSpans().Len() != 1 {
		return ""
	}
	var s string
	td.ResourceSpans().At(0).Resource().Attributes().Range(func(_ string, v pcommon.Value) bool {
		s = v.AsString()
		return false
	})
	return s
}

func appendLenField(b []byte, field int, payload []byte) []byte {
	b = binary.AppendUvarint(b, uint64(field)<<3|wireLen)
	b = binary.AppendUvarint(b, uint64(len(payload)))
	return append(b, payload...)
}
