// Package yamlpos places the syntax errors of gopkg.in/yaml.v3, which names
// at most a line (and for some errors the line before the problem, or none),
// at the line and column where the parser gave up.
package yamlpos

import (
	"bytes"
	"errors"
	"io"
	"regexp"
	"strconv"
	"strings"
	"unicode/utf8"

	"gopkg.in/yaml.v3"
)

// maxWork bounds the bytes Syntax parses again in its search, so that a
// large file with an error far from the line yaml names still answers at
// once; beyond it the search narrows by halves.
const maxWork = 2 << 20

var lineRE = regexp.MustCompile(`^line (\d+): `)

// Syntax returns where, in data, the syntax error err that decoding data's
// documents with yaml.v3 returned was found, and its message without the
// "yaml: line N:" prefix. Line and column are 1-based; the column counts
// characters, as yaml.Node.Column does.
//
// yaml.v3 keeps the column to itself; the parser reads left to right, so
// the shortest prefix of data on which it fails with the same message ends
// at the character it failed on. Syntax finds that prefix. When none is
// found (err did not come from data), the line yaml names is returned with
// column 1, or line 1 when it names none.
func Syntax(data []byte, err error) (line, col int, msg string) {
	full := err.Error()
	msg = strings.TrimPrefix(full, "yaml: ")
	named := 0
	if m := lineRE.FindStringSubmatch(msg); m != nil {
		named, _ = strconv.Atoi(m[1])
		msg = msg[len(m[0]):]
	}
	// yaml names the line of the problem, the line after it (scanner
	// errors count from the context's line) or, for parser errors, the
	// line before the context: the problem is no earlier than named-1.
	lo := lineStart(data, named-1)
	if end, ok := shortestFailing(data, lo, full); ok {
		line, col = position(data, end-1)
		return line, col, msg
	}
	return max(named, 1), 1, msg
}

// shortestFailing returns the length of the shortest prefix of data, no
// shorter than lo, on which decoding fails with the message want.
func shortestFailing(data []byte, lo int, want string) (int, bool) {
	work := 0
	for k := lo + 1; k <= len(data); k++ {
		if !utf8.RuneStart(data[k-1]) || (k < len(data) && !utf8.RuneStart(data[k])) {
			continue
		}
		if work += k; work > maxWork {
			return bisect(data, k, want)
		}
		if failure(data[:k]) == want {
			return k, true
		}
	}
	return 0, false
}

// bisect narrows, by halves, the prefixes from lo on to the shortest one
// failing with want, taking failure as monotonic beyond lo.
func bisect(data []byte, lo int, want string) (int, bool) {
	hi := len(data)
	if failure(data) != want {
		return 0, false
	}
	for lo < hi {
		mid := lo + (hi-lo)/2
		if failure(data[:mid]) == want {
			hi = mid
		} else {
			lo = mid + 1
		}
	}
	return hi, true
}

// failure decodes every document of b and returns the first error's text,
// or "" when there is none.
func failure(b []byte) string {
	dec := yaml.NewDecoder(bytes.NewReader(b))
	for {
		var n yaml.Node
		err := dec.Decode(&n)
		if errors.Is(err, io.EOF) {
			return ""
		}
		if err != nil {
			return err.Error()
		}
	}
}

// lineStart returns the offset of the 1-based line in data (0 for a line
// before the first, len(data) past the last).
func lineStart(data []byte, line int) int {
	off := 0
	for l := 1; l < line && off < len(data); l++ {
		off = nextLine(data, off)
	}
	return off
}

// nextLine returns the offset of the line after the one at off: past the
// next break, as YAML counts them (CR LF, CR, LF, NEL, LS, PS), or len(data).
func nextLine(data []byte, off int) int {
	for off < len(data) {
		r, n := utf8.DecodeRune(data[off:])
		off += n
		switch r {
		case '\r':
			if off < len(data) && data[off] == '\n' {
				off++
			}
			return off
		case '\n', '\u0085', '\u2028', '\u2029':
			return off
		}
	}
	return off
}

// position returns the 1-based line and column of the character at offset
// off. A line break is placed at the end of the line it ends.
func position(data []byte, off int) (line, col int) {
	start := 0
	for line = 1; ; line++ {
		next := nextLine(data, start)
		if next > off || next >= len(data) {
			break
		}
		start = next
	}
	return line, utf8.RuneCount(data[start:max(start, off)]) + 1
}
