package ingest

import (
	"fmt"
	"unsafe"

	"github.com/weirdev/weir/sample"
)

// spanScan walks an otlp_proto traces record once, checking every field
// pdata's unmarshaler checks (wire types, lengths, ID lengths, attribute
// nesting) and keeping, without copying, only what span series need: per
// span its IDs, name, kind, status code and times, and the values of the
// configured dimensions; per resource service.name, the tenant attribute and
// the dimensions. Its slices are reused from record to record.
//
// Where a field repeats, the outcome is pdata's: a scalar's last value wins,
// a repeated message (resource, status, an attribute's value) merges into
// the one before, attributes append, and an attribute lookup takes the first
// key that matches, as pcommon.Map.Get does. ResourceSpans field 1000 (the
// deprecated instrumentation_library_spans) is checked but its spans are not
// kept: ptrace.ProtoUnmarshaler keeps them out of ScopeSpans too.
type spanScan struct {
	raw        []byte
	dims       []string // Attribute keys of the SpanDimensions.
	tenantAttr string

	res     []scanResource
	resDims []scanValue // len(dims) per resource.
	spans   []scanSpan
	dimVals []scanValue // len(dims) per span.
}

type scanResource struct{ svc, tenant scanValue }

type scanSpan struct {
	trace        sample.TraceID
	span         sample.SpanID
	name         scanValue // valStr, or valAbsent for no name.
	kind, status int32
	start, end   uint64
	res          int // Index in spanScan.res.
}

// valKind says how to read a scanValue.
type valKind uint8

const (
	valAbsent valKind = iota // No attribute of that key.
	valEmpty                 // An attribute whose value renders as "" (none, or a string table index).
	valStr                   // raw[off:end].
	valBool                  // num != 0.
	valInt                   // int64(num).
	valOther                 // Double, bytes, array or map: the whole KeyValue is raw[off:end].
)

// scanValue locates an attribute value in the record.
type scanValue struct {
	kind     valKind
	off, end int
	num      uint64
}

func (d *spanScan) reset(raw []byte) {
	d.raw = raw
	d.res, d.resDims, d.spans, d.dimVals = d.res[:0], d.resDims[:0], d.spans[:0], d.dimVals[:0]
}

// view returns raw[off:end] as a string that shares raw's memory: valid only
// while raw is, so it must be copied before it is kept.
func (d *spanScan) view(off, end int) string {
	if off >= end {
		return ""
	}
	return unsafe.String(&d.raw[off], end-off)
}

// fieldName names a field in an error; index < 0 for a field that does not
// repeat.
func fieldName(name string, index int) string {
	if index < 0 {
		return name
	}
	return fmt.Sprintf("%s[%d]", name, index)
}

// Every walker below reads its message's fields from start to end, with the
// record cut at end so that nothing reads past the message; positions are
// offsets in the record. A field that does not read is explained by
// fieldError or tagError, off the fast path; an error from a nested message
// gains its field's name on the way up (within).

// traces walks the record: TracesData, wire-identical to
// ExportTraceServiceRequest.
func (d *spanScan) traces() error { return d.record("resource_spans", d.resourceSpans) }

// record walks a record whose one known field, 1, repeats a message walked
// by each (TracesData's resource_spans, MetricsData's resource_metrics).
func (d *spanScan) record(name string, each func(start, end int) error) error {
	b := d.raw
	n := 0
	for pos := 0; pos < len(b); {
		num, wt, v := tagAt(b, pos)
		if v < 0 {
			if num, wt, v = tagSlow(b, pos); v < 0 {
				return tagError(b, pos)
			}
		}
		if num != 1 {
			var err error
			if pos, err = skipUnknown(b, pos, v, num, wt); err != nil {
				return err
			}
			continue
		}
		s, e := lenAt(b, v)
		if wt != wireLen || e < 0 {
			return fieldError(b, pos, name, n, wireLen)
		}
		if err := each(s, e); err != nil {
			return within(err, name, n)
		}
		n++
		pos = e
	}
	return nil
}

func (d *spanScan) resourceSpans(start, end int) error {
	ri := len(d.res)
	d.res = append(d.res, scanResource{})
	for range d.dims {
		d.resDims = append(d.resDims, scanValue{})
	}
	b := d.raw[:end]
	nScope, nOld := 0, 0
	for pos := start; pos < end; {
		num, wt, v := tagAt(b, pos)
		if v < 0 {
			if num, wt, v = tagSlow(b, pos); v < 0 {
				return tagError(b, pos)
			}
		}
		var (
			s, e int
			err  error
		)
		switch num {
		case 1:
			if s, e = lenAt(b, v); wt != wireLen || e < 0 {
				return fieldError(b, pos, "resource", -1, wireLen)
			}
			err = within(d.resource(s, e, ri), "resource", -1)
		case 2:
			if s, e = lenAt(b, v); wt != wireLen || e < 0 {
				return fieldError(b, pos, "scope_spans", nScope, wireLen)
			}
			err = within(d.scopeSpans(s, e, true), "scope_spans", nScope)
			nScope++
		case 3:
			if _, e = lenAt(b, v); wt != wireLen || e < 0 {
				return fieldError(b, pos, "schema_url", -1, wireLen)
			}
		case 1000:
			if s, e = lenAt(b, v); wt != wireLen || e < 0 {
				return fieldError(b, pos, "instrumentation_library_spans", nOld, wireLen)
			}
			err = within(d.scopeSpans(s, e, false), "instrumentation_library_spans", nOld)
			nOld++
		default:
			e, err = skipUnknown(b, pos, v, num, wt)
		}
		if err != nil {
			return err
		}
		pos = e
	}
	return nil
}

func (d *spanScan) resource(start, end, ri int) error {
	b := d.raw[:end]
	nd := len(d.dims)
	dims := d.resDims[ri*nd : ri*nd+nd]
	r := &d.res[ri]
	nAttr, nRef := 0, 0
	for pos := start; pos < end; {
		num, wt, v := tagAt(b, pos)
		if v < 0 {
			if num, wt, v = tagSlow(b, pos); v < 0 {
				return tagError(b, pos)
			}
		}
		var (
			s, e int
			err  error
		)
		switch num {
		case 1:
			if s, e = lenAt(b, v); wt != wireLen || e < 0 {
				return fieldError(b, pos, "attributes", nAttr, wireLen)
			}
			key, val, err := d.keyValue(s, e, 0)
			if err != nil {
				return within(err, "attributes", nAttr)
			}
			nAttr++
			if r.svc.kind == valAbsent && key == "service.name" {
				r.svc = val
			}
			if r.tenant.kind == valAbsent && d.tenantAttr != "" && key == d.tenantAttr {
				r.tenant = val
			}
			matchDims(d.dims, key, val, dims)
		case 2:
			if _, e = varintAt(b, v); wt != wireVarint || e < 0 {
				return fieldError(b, pos, "dropped_attributes_count", -1, wireVarint)
			}
		case 3:
			if s, e = lenAt(b, v); wt != wireLen || e < 0 {
				return fieldError(b, pos, "entity_refs", nRef, wireLen)
			}
			err = within(d.entityRef(s, e), "entity_refs", nRef)
			nRef++
		default:
			e, err = skipUnknown(b, pos, v, num, wt)
		}
		if err != nil {
			return err
		}
		pos = e
	}
	return nil
}

// matchDims sets the dimensions named key that no earlier attribute set.
func matchDims(dims []string, key string, v scanValue, dst []scanValue) {
	for i, k := range dims {
		if dst[i].kind == valAbsent && k == key {
			dst[i] = v
		}
	}
}

func (d *spanScan) entityRef(start, end int) error {
	return d.stringFields(start, end, &entityRefFields)
}

// entityRefFields names EntityRef's fields, all strings.
var entityRefFields = [...]string{1: "schema_url", 2: "type", 3: "id_keys", 4: "description_keys"}

// stringFields walks a message whose known fields are the strings named in
// fields (numbered by index); it skips every other field.
func (d *spanScan) stringFields(start, end int, fields *[5]string) error {
	b := d.raw[:end]
	for pos := start; pos < end; {
		num, wt, v := tagAt(b, pos)
		if v < 0 {
			if num, wt, v = tagSlow(b, pos); v < 0 {
				return tagError(b, pos)
			}
		}
		var (
			e   int
			err error
		)
		if num > 0 && int(num) < len(fields) && fields[num] != "" {
			if _, e = lenAt(b, v); wt != wireLen || e < 0 {
				return fieldError(b, pos, fields[num], -1, wireLen)
			}
		} else if e, err = skipUnknown(b, pos, v, num, wt); err != nil {
			return err
		}
		pos = e
	}
	return nil
}

// scopeSpans walks one ScopeSpans; keep says whether its spans are kept.
func (d *spanScan) scopeSpans(start, end int, keep bool) error {
	b := d.raw[:end]
	n := 0
	for pos := start; pos < end; {
		num, wt, v := tagAt(b, pos)
		if v < 0 {
			if num, wt, v = tagSlow(b, pos); v < 0 {
				return tagError(b, pos)
			}
		}
		var (
			s, e int
			err  error
		)
		switch num {
		case 1:
			if s, e = lenAt(b, v); wt != wireLen || e < 0 {
				return fieldError(b, pos, "scope", -1, wireLen)
			}
			err = within(d.scope(s, e), "scope", -1)
		case 2:
			if s, e = lenAt(b, v); wt != wireLen || e < 0 {
				return fieldError(b, pos, "spans", n, wireLen)
			}
			err = within(d.span(s, e, keep), "spans", n)
			n++
		case 3:
			if _, e = lenAt(b, v); wt != wireLen || e < 0 {
				return fieldError(b, pos, "schema_url", -1, wireLen)
			}
		default:
			e, err = skipUnknown(b, pos, v, num, wt)
		}
		if err != nil {
			return err
		}
		pos = e
	}
	return nil
}

func (d *spanScan) scope(start, end int) error {
	b := d.raw[:end]
	n := 0
	for pos := start; pos < end; {
		num, wt, v := tagAt(b, pos)
		if v < 0 {
			if num, wt, v = tagSlow(b, pos); v < 0 {
				return tagError(b, pos)
			}
		}
		var (
			e   int
			err error
		)
		switch num {
		case 1:
			if _, e = lenAt(b, v); wt != wireLen || e < 0 {
				return fieldError(b, pos, "name", -1, wireLen)
			}
		case 2:
			if _, e = lenAt(b, v); wt != wireLen || e < 0 {
				return fieldError(b, pos, "version", -1, wireLen)
			}
		case 3:
			e, err = d.attribute(b, pos, v, wt, n)
			n++
		case 4:
			if _, e = varintAt(b, v); wt != wireVarint || e < 0 {
				return fieldError(b, pos, "dropped_attributes_count", -1, wireVarint)
			}
		default:
			e, err = skipUnknown(b, pos, v, num, wt)
		}
		if err != nil {
			return err
		}
		pos = e
	}
	return nil
}

// attribute checks one attribute nobody looks up: the field whose tag is at
// `at` and whose value starts at v.
func (d *spanScan) attribute(b []byte, at, v int, wt int8, index int) (int, error) {
	s, e := lenAt(b, v)
	if wt != wireLen || e < 0 {
		return 0, fieldError(b, at, "attributes", index, wireLen)
	}
	if _, _, err := d.keyValue(s, e, 0); err != nil {
		return 0, within(err, "attributes", index)
	}
	return e, nil
}
