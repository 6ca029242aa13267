package yamlpos

import (
	"errors"
	"fmt"
	"regexp"
	"strings"
	"testing"
	"unicode/utf8"
)

// TestSyntax: each error is placed at the character yaml.v3 failed on,
// whatever line its own message names (the one before, the one after, or
// none).
func TestSyntax(t *testing.T) {
	for _, tc := range []struct {
		in, want string
	}{
		{"drop:\n  - name: x\n    match: a: b\n", "3:13: mapping values are not allowed in this context"},
		{"kafka:\n  brokers: [a]\n   topic: y\n", "3:4: did not find expected key"},
		{"a:\n  b: 1\n c: 2\n", "3:2: did not find expected key"},
		{"a: 1\n\tb: 2\n", "2:1: found a tab character that violates indentation"},
		{"a: @x\n", "1:4: found character that cannot start any token"},
		{"a: 1\nb: *nope\n", "2:8: unknown anchor 'nope' referenced"},
		{"a: {b: 1\n", "1:5: did not find expected ',' or '}'"},
		{"a: 1\nb: [1, 2\nc: 3\n", "2:5: did not find expected ',' or ']'"},
		{"a: b\nc: 'é' x\n", "2:8: did not find expected key"},
		{"a: 1\n---\nb: [\n", "3:4: did not find expected node content"},
	} {
		_, err := decodeAll([]byte(tc.in))
		if err == nil {
			t.Errorf("%q: decoded", tc.in)
			continue
		}
		line, col, msg := Syntax([]byte(tc.in), err)
		if got := fmt.Sprintf("%d:%d: %s", line, col, msg); got != tc.want {
			t.Errorf("%q (%v): got %s, want %s", tc.in, err, got, tc.want)
		}
	}
}

// TestSyntaxLargeFile: an error far below the line yaml names (an
// unterminated quote) is still placed, by halves once the linear search
// has parsed maxWork bytes.
func TestSyntaxLargeFile(t *testing.T) {
	in := "a: \"open\n" + strings.Repeat("b: 1\n", 20000)
	_, err := decodeAll([]byte(in))
	if err == nil {
		t.Fatal("decoded")
	}
	line, col, msg := Syntax([]byte(in), err)
	if line != 20001 || col != 5 || msg != "found unexpected end of stream" {
		t.Errorf("got %d:%d: %s", line, col, msg)
	}
}

// decodeAll returns the first error of decoding every document of b.
func decodeAll(b []byte) (struct{}, error) {
	if e := failure(b); e != "" {
		return struct{}{}, errors.New(e)
	}
	return struct{}{}, nil
}

// breaks are YAML's line breaks.
var breaks = regexp.MustCompile("\r\n|[\r\n\u0085\u2028\u2029]")

// FuzzSyntax: for any input yaml refuses, Syntax names a line and column
// inside it and a message without yaml's own prefix.
func FuzzSyntax(f *testing.F) {
	for _, s := range []string{"a: b: c\n", "a:\n  b: 1\n c: 2\n", "a: \"x\n", "a: [1,\n", "a: 1\n\tb: 2\n", "a: *x\n", "é: @\n", "a: 1\n---\nb: [\n"} {
		f.Add([]byte(s))
	}
	f.Fuzz(func(t *testing.T, b []byte) {
		e := failure(b)
		if e == "" {
			return
		}
		line, col, msg := Syntax(b, fmt.Errorf("%s", e))
		lines := breaks.Split(string(b), -1)
		if line < 1 || line > len(lines) || col < 1 || col > utf8.RuneCountInString(lines[line-1])+1 {
			t.Fatalf("%d:%d is outside the input (%d lines): %q", line, col, len(lines), b)
		}
		if strings.HasPrefix(msg, "yaml: ") || lineRE.MatchString(msg) || msg == "" {
			t.Fatalf("message %q", msg)
		}
	})
}
