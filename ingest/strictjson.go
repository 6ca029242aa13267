package ingest

import (
	"errors"
	"fmt"
	"unicode/utf8"
)

// errNotOneJSONValue is an otlp_json record that is not one JSON object:
// pdata's JSON unmarshalers stop at the end of the first value and ignore
// what follows it.
var errNotOneJSONValue = errors.New("not one JSON object")

// strictJSON refuses what pdata's JSON unmarshalers accept though it is not
// one OTLP/JSON message: text that is not UTF-8 (RFC 8259 §8.1), and bytes
// other than white space after the object. It scans once, without
// allocating, and names the offset of what it refuses.
func strictJSON(b []byte) error {
	if !utf8.Valid(b) {
		off := 0
		for off < len(b) {
			r, n := utf8.DecodeRune(b[off:])
			if r == utf8.RuneError && n <= 1 {
				break
			}
			off += n
		}
		return fmt.Errorf("%w: invalid UTF-8 at byte %d", errNotOneJSONValue, off)
	}
	i := skipSpace(b, 0)
	if i == len(b) || b[i] != '{' {
		return fmt.Errorf("%w: no object at byte %d", errNotOneJSONValue, i)
	}
	depth, inString := 0, false
	for ; i < len(b); i++ {
		c := b[i]
		switch {
		case inString && c == '\\':
			i++
		case c == '"':
			inString = !inString
		case inString:
		case c == '{' || c == '[':
			depth++
		case c == '}' || c == ']':
			depth--
		}
		if depth == 0 && !inString {
			break
		}
	}
	if i >= len(b) {
		return fmt.Errorf("%w: the object does not end", errNotOneJSONValue)
	}
	if rest := skipSpace(b, i+1); rest < len(b) {
		return fmt.Errorf("%w: %d bytes after the object, from byte %d", errNotOneJSONValue, len(b)-rest, rest)
	}
	return nil
}

func skipSpace(b []byte, i int) int {
	for i < len(b) && (b[i] == ' ' || b[i] == '\t' || b[i] == '\r' || b[i] == '\n') {
		i++
	}
	return i
}
