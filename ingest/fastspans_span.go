package ingest

import "fmt"

// The Span half of spanScan: spans, their events, links and status, and
// attribute values at any depth.

// span walks one Span and, when keep is set, records it.
func (d *spanScan) span(start, end int, keep bool) error {
	b := d.raw[:end]
	s := scanSpan{res: len(d.res) - 1}
	nd := len(d.dims)
	vi := len(d.dimVals)
	for range nd {
		d.dimVals = append(d.dimVals, scanValue{})
	}
	nAttr, nEvent, nLink := 0, 0, 0
	for pos := start; pos < end; {
		num, wt, v := tagAt(b, pos)
		if v < 0 {
			if num, wt, v = tagSlow(b, pos); v < 0 {
				return tagError(b, pos)
			}
		}
		var (
			vs, e int
			x     uint64
			err   error
		)
		switch num {
		case 1:
			if vs, e = lenAt(b, v); wt != wireLen || e < 0 {
				return fieldError(b, pos, "trace_id", -1, wireLen)
			}
			if !readID(s.trace[:], b, vs, e) {
				return idError(pos, "trace_id", e-vs, len(s.trace))
			}
		case 2:
			if vs, e = lenAt(b, v); wt != wireLen || e < 0 {
				return fieldError(b, pos, "span_id", -1, wireLen)
			}
			if !readID(s.span[:], b, vs, e) {
				return idError(pos, "span_id", e-vs, len(s.span))
			}
		case 3:
			if _, e = lenAt(b, v); wt != wireLen || e < 0 {
				return fieldError(b, pos, "trace_state", -1, wireLen)
			}
		case 4:
			if vs, e = lenAt(b, v); wt != wireLen || e < 0 {
				return fieldError(b, pos, "parent_span_id", -1, wireLen)
			}
			if e-vs != 0 && e-vs != 8 {
				return idError(pos, "parent_span_id", e-vs, 8)
			}
		case 5:
			if vs, e = lenAt(b, v); wt != wireLen || e < 0 {
				return fieldError(b, pos, "name", -1, wireLen)
			}
			s.name = scanValue{kind: valStr, off: vs, end: e}
		case 6:
			if x, e = varintAt(b, v); wt != wireVarint || e < 0 {
				return fieldError(b, pos, "kind", -1, wireVarint)
			}
			s.kind = int32(x)
		case 7:
			if s.start, e = i64At(b, v); wt != wireI64 || e < 0 {
				return fieldError(b, pos, "start_time_unix_nano", -1, wireI64)
			}
		case 8:
			if s.end, e = i64At(b, v); wt != wireI64 || e < 0 {
				return fieldError(b, pos, "end_time_unix_nano", -1, wireI64)
			}
		case 9:
			if vs, e = lenAt(b, v); wt != wireLen || e < 0 {
				return fieldError(b, pos, "attributes", nAttr, wireLen)
			}
			key, val, err := d.keyValue(vs, e, 0)
			if err != nil {
				return within(err, "attributes", nAttr)
			}
			nAttr++
			if nd > 0 {
				matchDims(d.dims, key, val, d.dimVals[vi:vi+nd])
			}
		case 10, 12, 14:
			if _, e = varintAt(b, v); wt != wireVarint || e < 0 {
				return fieldError(b, pos, spanCountFields[num], -1, wireVarint)
			}
		case 11:
			if vs, e = lenAt(b, v); wt != wireLen || e < 0 {
				return fieldError(b, pos, "events", nEvent, wireLen)
			}
			err = within(d.event(vs, e), "events", nEvent)
			nEvent++
		case 13:
			if vs, e = lenAt(b, v); wt != wireLen || e < 0 {
				return fieldError(b, pos, "links", nLink, wireLen)
			}
			err = within(d.link(vs, e), "links", nLink)
			nLink++
		case 15:
			if vs, e = lenAt(b, v); wt != wireLen || e < 0 {
				return fieldError(b, pos, "status", -1, wireLen)
			}
			err = within(d.status(vs, e, &s.status), "status", -1)
		case 16:
			if e = i32At(b, v); wt != wireI32 || e < 0 {
				return fieldError(b, pos, "flags", -1, wireI32)
			}
		default:
			e, err = skipUnknown(b, pos, v, num, wt)
		}
		if err != nil {
			return err
		}
		pos = e
	}
	if keep {
		d.spans = append(d.spans, s)
	} else {
		d.dimVals = d.dimVals[:vi]
	}
	return nil
}

var spanCountFields = [...]string{10: "dropped_attributes_count", 12: "dropped_events_count", 14: "dropped_links_count"}

// readID copies the ID at b[start:end] into dst, whose length is the ID's
// size, and reports whether pdata takes it: the exact size, or nothing (a
// zero ID). The caller makes the error (idError), so that this inlines.
func readID(dst, b []byte, start, end int) bool {
	switch end - start {
	case len(dst):
		copy(dst, b[start:end])
	case 0:
		clear(dst)
	default:
		return false
	}
	return true
}

// idError refuses an ID of the wrong length: pdata takes the exact size or
// nothing.
func idError(at int, name string, n, size int) error {
	return fail(at, name, fmt.Errorf("length %d, want %d or 0", n, size))
}

func (d *spanScan) event(start, end int) error {
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
			if _, e = i64At(b, v); wt != wireI64 || e < 0 {
				return fieldError(b, pos, "time_unix_nano", -1, wireI64)
			}
		case 2:
			if _, e = lenAt(b, v); wt != wireLen || e < 0 {
				return fieldError(b, pos, "name", -1, wireLen)
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

func (d *spanScan) link(start, end int) error {
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
			vs, e int
			err   error
		)
		switch num {
		case 1:
			if vs, e = lenAt(b, v); wt != wireLen || e < 0 {
				return fieldError(b, pos, "trace_id", -1, wireLen)
			}
			if e-vs != 0 && e-vs != 16 {
				return idError(pos, "trace_id", e-vs, 16)
			}
		case 2:
			if vs, e = lenAt(b, v); wt != wireLen || e < 0 {
				return fieldError(b, pos, "span_id", -1, wireLen)
			}
			if e-vs != 0 && e-vs != 8 {
				return idError(pos, "span_id", e-vs, 8)
			}
		case 3:
			if _, e = lenAt(b, v); wt != wireLen || e < 0 {
				return fieldError(b, pos, "trace_state", -1, wireLen)
			}
		case 4:
			e, err = d.attribute(b, pos, v, wt, n)
			n++
		case 5:
			if _, e = varintAt(b, v); wt != wireVarint || e < 0 {
				return fieldError(b, pos, "dropped_attributes_count", -1, wireVarint)
			}
		case 6:
			if e = i32At(b, v); wt != wireI32 || e < 0 {
				return fieldError(b, pos, "flags", -1, wireI32)
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

// status walks a Status into code: a repeated status merges, so a later one
// without a code keeps the earlier code.
func (d *spanScan) status(start, end int, code *int32) error {
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
			x   uint64
			err error
		)
		switch num {
		case 2:
			if _, e = lenAt(b, v); wt != wireLen || e < 0 {
				return fieldError(b, pos, "message", -1, wireLen)
			}
		case 3:
			if x, e = varintAt(b, v); wt != wireVarint || e < 0 {
				return fieldError(b, pos, "code", -1, wireVarint)
			}
			*code = int32(x)
		default:
			if e, err = skipUnknown(b, pos, v, num, wt); err != nil {
				return err
			}
		}
		pos = e
	}
	return nil
}

// keyValue walks one KeyValue at the given nesting depth and returns its key
// (a view into raw) and where its value is. Repeated value fields merge: the
// last value set wins.
func (d *spanScan) keyValue(start, end, depth int) (string, scanValue, error) {
	if key, val, ok := d.plainKeyValue(start, end); ok {
		return key, val, nil
	}
	if depth >= maxAttrDepth {
		return "", scanValue{}, fail(start, "", errAttrDepth)
	}
	depth++
	b := d.raw[:end]
	var key string
	val := scanValue{kind: valEmpty}
	for pos := start; pos < end; {
		num, wt, v := tagAt(b, pos)
		if v < 0 {
			if num, wt, v = tagSlow(b, pos); v < 0 {
				return "", scanValue{}, tagError(b, pos)
			}
		}
		var (
			s, e int
			err  error
		)
		switch num {
		case 1:
			if s, e = lenAt(b, v); wt != wireLen || e < 0 {
				return "", scanValue{}, fieldError(b, pos, "key", -1, wireLen)
			}
			key = d.view(s, e)
		case 2:
			if s, e = lenAt(b, v); wt != wireLen || e < 0 {
				return "", scanValue{}, fieldError(b, pos, "value", -1, wireLen)
			}
			av, err := d.anyValue(s, e, depth)
			if err != nil {
				return "", scanValue{}, within(err, "value", -1)
			}
			if av.kind != valAbsent {
				val = av
			}
		case 3:
			if _, e = varintAt(b, v); wt != wireVarint || e < 0 {
				return "", scanValue{}, fieldError(b, pos, "key_strindex", -1, wireVarint)
			}
		default:
			if e, err = skipUnknown(b, pos, v, num, wt); err != nil {
				return "", scanValue{}, err
			}
		}
		pos = e
	}
	if val.kind == valOther {
		val.off, val.end = start, end
	}
	return key, val, nil
}

// plainKeyValue reads, in one run of byte tests, the KeyValue nearly every
// encoder writes: a key and a value holding one string or integer, every
// length under 128 bytes, in either order — key first as protobuf-go writes
// (the SDKs' exporters), value first as pdata writes (the collector, its
// kafkaexporter above all). Anything else (other fields, longer lengths,
// repeated fields) it leaves to keyValue's walk, reporting false; what it
// accepts the walk would accept and read alike. Attributes are most of a
// span's bytes, and the walk's loop and switch per field cost more.
func (d *spanScan) plainKeyValue(start, end int) (string, scanValue, bool) {
	b := d.raw[:end]
	if start+4 > end || b[start+1] >= 0x80 {
		return "", scanValue{}, false
	}
	n := start + 2 + int(b[start+1]) // End of the first field.
	if n+2 > end || b[n+1] >= 0x80 || n+2+int(b[n+1]) != end {
		return "", scanValue{}, false
	}
	switch {
	case b[start] == 0x0a && b[n] == 0x12: // key, value
		if v, ok := plainAnyValue(b, n+2, end); ok {
			return d.view(start+2, n), v, true
		}
	case b[start] == 0x12 && b[n] == 0x0a: // value, key
		if v, ok := plainAnyValue(b, start+2, n); ok {
			return d.view(n+2, end), v, true
		}
	}
	return "", scanValue{}, false
}

// plainAnyValue reads the AnyValue in b[start:end] if it holds exactly one
// string (under 128 bytes) or one integer.
func plainAnyValue(b []byte, start, end int) (scanValue, bool) {
	if end-start < 2 {
		return scanValue{}, false
	}
	switch b[start] {
	case 0x0a: // string_value
		if b[start+1] < 0x80 && start+2+int(b[start+1]) == end {
			return scanValue{kind: valStr, off: start + 2, end: end}, true
		}
	case 0x18: // int_value
		if x, e := varintAt(b[:end], start+1); e == end {
			return scanValue{kind: valInt, num: x}, true
		}
	}
	return scanValue{}, false
}

// anyValue walks one AnyValue and returns the last of its oneof fields, or
// valAbsent when it has none.
func (d *spanScan) anyValue(start, end, depth int) (scanValue, error) {
	if depth >= maxAttrDepth {
		return scanValue{}, fail(start, "", errAttrDepth)
	}
	depth++
	b := d.raw[:end]
	var val scanValue
	for pos := start; pos < end; {
		num, wt, v := tagAt(b, pos)
		if v < 0 {
			if num, wt, v = tagSlow(b, pos); v < 0 {
				return scanValue{}, tagError(b, pos)
			}
		}
		var (
			s, e int
			x    uint64
			err  error
		)
		switch num {
		case 1:
			if s, e = lenAt(b, v); wt != wireLen || e < 0 {
				return scanValue{}, fieldError(b, pos, "string_value", -1, wireLen)
			}
			val = scanValue{kind: valStr, off: s, end: e}
		case 2:
			if x, e = varintAt(b, v); wt != wireVarint || e < 0 {
				return scanValue{}, fieldError(b, pos, "bool_value", -1, wireVarint)
			}
			val = scanValue{kind: valBool, num: x}
		case 3:
			if x, e = varintAt(b, v); wt != wireVarint || e < 0 {
				return scanValue{}, fieldError(b, pos, "int_value", -1, wireVarint)
			}
			val = scanValue{kind: valInt, num: x}
		case 4:
			if _, e = i64At(b, v); wt != wireI64 || e < 0 {
				return scanValue{}, fieldError(b, pos, "double_value", -1, wireI64)
			}
			val = scanValue{kind: valOther}
		case 5:
			if s, e = lenAt(b, v); wt != wireLen || e < 0 {
				return scanValue{}, fieldError(b, pos, "array_value", -1, wireLen)
			}
			if err = d.arrayValue(s, e, depth); err != nil {
				return scanValue{}, within(err, "array_value", -1)
			}
			val = scanValue{kind: valOther}
		case 6:
			if s, e = lenAt(b, v); wt != wireLen || e < 0 {
				return scanValue{}, fieldError(b, pos, "kvlist_value", -1, wireLen)
			}
			if err = d.kvList(s, e, depth); err != nil {
				return scanValue{}, within(err, "kvlist_value", -1)
			}
			val = scanValue{kind: valOther}
		case 7:
			if _, e = lenAt(b, v); wt != wireLen || e < 0 {
				return scanValue{}, fieldError(b, pos, "bytes_value", -1, wireLen)
			}
			val = scanValue{kind: valOther}
		case 8:
			if _, e = varintAt(b, v); wt != wireVarint || e < 0 {
				return scanValue{}, fieldError(b, pos, "string_value_strindex", -1, wireVarint)
			}
			val = scanValue{kind: valEmpty}
		default:
			if e, err = skipUnknown(b, pos, v, num, wt); err != nil {
				return scanValue{}, err
			}
		}
		pos = e
	}
	return val, nil
}

func (d *spanScan) arrayValue(start, end, depth int) error {
	if depth >= maxAttrDepth {
		return fail(start, "", errAttrDepth)
	}
	depth++
	b := d.raw[:end]
	n := 0
	for pos := start; pos < end; {
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
			return fieldError(b, pos, "values", n, wireLen)
		}
		if _, err := d.anyValue(s, e, depth); err != nil {
			return within(err, "values", n)
		}
		n++
		pos = e
	}
	return nil
}

func (d *spanScan) kvList(start, end, depth int) error {
	if depth >= maxAttrDepth {
		return fail(start, "", errAttrDepth)
	}
	depth++
	b := d.raw[:end]
	n := 0
	for pos := start; pos < end; {
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
			return fieldError(b, pos, "values", n, wireLen)
		}
		if _, _, err := d.keyValue(s, e, depth); err != nil {
			return within(err, "values", n)
		}
		n++
		pos = e
	}
	return nil
}
