package ingest

import (
	"encoding/binary"
	"errors"
	"fmt"
	"io"
	"strings"
)

// The wire primitives of the fast span decoder. They mirror, quirk for quirk,
// those pdata's generated unmarshalers use (pdata/internal/proto), so that
// ConvertProto refuses exactly the records ptrace.ProtoUnmarshaler refuses:
// the tag's field number is the low 32 bits of tag>>3 and must be positive,
// a varint may not run past 10 bytes, lengths are checked against the
// enclosing message, groups are skipped by depth without matching numbers.

// Protobuf wire types.
const (
	wireVarint     = 0
	wireI64        = 1
	wireLen        = 2
	wireStartGroup = 3
	wireEndGroup   = 4
	wireI32        = 5
)

// maxAttrDepth is pdata's proto.RecursionLimit: KeyValue, AnyValue,
// ArrayValue and KeyValueList each count one level.
const maxAttrDepth = 100

var (
	errVarintOverflow = errors.New("varint overflows 64 bits")
	errNegativeLength = errors.New("negative length")
	errBadFieldNumber = errors.New("field number is not positive")
	errEndGroup       = errors.New("end of group without a start")
	errAttrDepth      = fmt.Errorf("attribute values nested deeper than %d levels", maxAttrDepth)
)

// protoError is a record the fast decoder refuses: where (the absolute byte
// offset of the field's tag), in which field, and why.
type protoError struct {
	off  int
	path []string // Innermost first; Error prints it outermost first.
	err  error
}

func (e *protoError) Error() string {
	var b strings.Builder
	for i := len(e.path) - 1; i >= 0; i-- {
		if e.path[i] == "" {
			continue
		}
		if b.Len() > 0 {
			b.WriteByte('.')
		}
		b.WriteString(e.path[i])
	}
	return fmt.Sprintf("at byte %d, field %s: %v", e.off, b.String(), e.err)
}

func (e *protoError) Unwrap() error { return e.err }

// fail returns the error of the field whose tag is at absolute offset off.
func fail(off int, field string, err error) error {
	return &protoError{off: off, path: []string{field}, err: err}
}

// within adds the enclosing field to an error coming up from a nested
// message; index < 0 for a field that does not repeat.
func within(err error, field string, index int) error {
	if pe, ok := err.(*protoError); ok {
		pe.path = append(pe.path, fieldName(field, index))
	}
	return err
}

// wireTypeError names a known field's wrong wire type.
func wireTypeError(wt int8) error { return fmt.Errorf("wrong wire type %d", wt) }

// The fast primitives read the common encodings inline and return a
// negative position for anything they cannot read; the checked consume*
// functions below them then say what was wrong.

// tagAt reads the one-byte field tag at pos (fields 1 to 15), small enough
// to be inlined in every walker's loop; for any other tag it returns -1 and
// the walker calls tagSlow.
func tagAt(b []byte, pos int) (int32, int8, int) {
	if pos < len(b) {
		if c := b[pos]; c < 0x80 && c >= 8 {
			return int32(c >> 3), int8(c & 7), pos + 1
		}
	}
	return 0, 0, -1
}

// tagSlow reads any tag at pos.
func tagSlow(b []byte, pos int) (int32, int8, int) {
	num, wt, next, err := consumeTag(b, pos)
	if err != nil {
		return 0, 0, -1
	}
	return num, wt, next
}

// varintAt reads the varint at pos.
func varintAt(b []byte, pos int) (uint64, int) {
	if pos < len(b) && b[pos] < 0x80 {
		return uint64(b[pos]), pos + 1
	}
	return varintSlow(b, pos)
}

func varintSlow(b []byte, pos int) (uint64, int) {
	v, next, err := consumeVarintSlow(b, pos)
	if err != nil {
		return 0, -1
	}
	return v, next
}

// lenAt reads the length prefix at pos and returns the payload's bounds.
func lenAt(b []byte, pos int) (int, int) {
	if pos < len(b) && b[pos] < 0x80 && pos+1+int(b[pos]) <= len(b) {
		return pos + 1, pos + 1 + int(b[pos])
	}
	return lenSlow(b, pos)
}

func lenSlow(b []byte, pos int) (int, int) {
	start, end, err := consumeLen(b, pos)
	if err != nil {
		return -1, -1
	}
	return start, end
}

// i64At reads the fixed64 at pos.
func i64At(b []byte, pos int) (uint64, int) {
	if pos+8 <= len(b) {
		return binary.LittleEndian.Uint64(b[pos:]), pos + 8
	}
	return 0, -1
}

// i32At skips the fixed32 at pos.
func i32At(b []byte, pos int) int {
	if pos+4 <= len(b) {
		return pos + 4
	}
	return -1
}

// tagError says why the tag at pos does not read.
func tagError(b []byte, pos int) error {
	_, _, _, err := consumeTag(b, pos)
	if err == nil {
		err = errUnread
	}
	return fail(pos, "(tag)", err)
}

// errUnread is what an error path reports should the fast and the checked
// reading disagree: a bug, but the record is refused rather than misread.
var errUnread = errors.New("field does not read")

// fieldError says why the field whose tag is at `at` does not read: its wire
// type is not want, or its value is cut short or malformed.
func fieldError(b []byte, at int, name string, index int, want int8) error {
	_, wt, pos, err := consumeTag(b, at)
	if err == nil && wt != want {
		err = wireTypeError(wt)
	}
	if err == nil {
		switch want {
		case wireVarint:
			_, _, err = consumeVarint(b, pos)
		case wireI64:
			_, _, err = consumeI64(b, pos)
		case wireLen:
			_, _, err = consumeLen(b, pos)
		case wireI32:
			_, err = consumeI32(b, pos)
		}
	}
	if err == nil {
		err = errUnread
	}
	return fail(at, fieldName(name, index), err)
}

// skipUnknown skips a field this decoder does not know, as pdata's
// proto.ConsumeUnknown does.
func skipUnknown(b []byte, at, pos int, num int32, wt int8) (int, error) {
	next, err := skipField(b, pos, wt)
	if err != nil {
		return 0, fail(at, fmt.Sprintf("(unknown field %d)", num), err)
	}
	return next, nil
}

// consumeTag reads a field tag at pos.
func consumeTag(b []byte, pos int) (field int32, wt int8, next int, err error) {
	var tag uint64
	if pos < len(b) && b[pos] < 0x80 {
		tag, next = uint64(b[pos]), pos+1
	} else if tag, next, err = consumeVarintSlow(b, pos); err != nil {
		return 0, 0, 0, err
	}
	field = int32(tag >> 3)
	if field <= 0 {
		return 0, 0, 0, errBadFieldNumber
	}
	return field, int8(tag & 7), next, nil
}

func consumeVarint(b []byte, pos int) (uint64, int, error) {
	if pos < len(b) && b[pos] < 0x80 {
		return uint64(b[pos]), pos + 1, nil
	}
	return consumeVarintSlow(b, pos)
}

func consumeVarintSlow(b []byte, pos int) (uint64, int, error) {
	var v uint64
	for shift := uint(0); ; shift += 7 {
		if shift >= 64 {
			return 0, 0, errVarintOverflow
		}
		if pos >= len(b) {
			return 0, 0, io.ErrUnexpectedEOF
		}
		c := b[pos]
		pos++
		v |= uint64(c&0x7f) << shift
		if c < 0x80 {
			return v, pos, nil
		}
	}
}

// consumeLen reads a length prefix at pos and returns where the payload
// starts and ends.
func consumeLen(b []byte, pos int) (start, end int, err error) {
	n, pos, err := consumeVarint(b, pos)
	if err != nil {
		return 0, 0, err
	}
	length := int(n)
	if length < 0 {
		return 0, 0, errNegativeLength
	}
	end = pos + length
	if end < 0 || end > len(b) {
		return 0, 0, io.ErrUnexpectedEOF
	}
	return pos, end, nil
}

func consumeI64(b []byte, pos int) (uint64, int, error) {
	if pos+8 > len(b) {
		return 0, 0, io.ErrUnexpectedEOF
	}
	return binary.LittleEndian.Uint64(b[pos:]), pos + 8, nil
}

func consumeI32(b []byte, pos int) (int, error) {
	if pos+4 > len(b) {
		return 0, io.ErrUnexpectedEOF
	}
	return pos + 4, nil
}

// skipField skips the value of a field this decoder does not know, as
// pdata's proto.ConsumeUnknown does.
func skipField(b []byte, pos int, wt int8) (int, error) {
	var err error
	depth := 0
	for pos < len(b) {
		switch wt {
		case wireVarint:
			_, pos, err = consumeVarint(b, pos)
			return pos, err
		case wireI64:
			_, pos, err = consumeI64(b, pos)
			return pos, err
		case wireLen:
			_, pos, err = consumeLen(b, pos)
			return pos, err
		case wireStartGroup:
			depth++
		case wireEndGroup:
			if depth == 0 {
				return 0, errEndGroup
			}
			depth--
		case wireI32:
			return consumeI32(b, pos)
		default:
			return 0, fmt.Errorf("illegal wire type %d", wt)
		}
		if depth == 0 {
			return pos, nil
		}
		if _, wt, pos, err = consumeTag(b, pos); err != nil {
			return 0, err
		}
	}
	return 0, io.ErrUnexpectedEOF
}
