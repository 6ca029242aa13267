package ingest

import (
	"bytes"
	"encoding/json"
	"errors"
	"strings"
	"testing"
	"unicode/utf8"

	"go.opentelemetry.io/collector/pdata/pmetric"
)

func TestStrictJSON(t *testing.T) {
	for _, tc := range []struct {
		in   string
		want string // "" accepted, else a part of the error
	}{
		{`{}`, ""},
		{" \n{\"a\":[1,{\"b\":\"}\"}]}\r\n\t ", ""},
		{`{"s":"a \"quoted\" } brace and \\"}`, ""},
		{`{"s":"ünïcødé"}`, ""},
		{`{}x`, "1 bytes after the object, from byte 2"},
		{`{} {}`, "2 bytes after the object, from byte 3"},
		{`{"a":{"b":1}}}`, "1 bytes after the object, from byte 13"},
		{`{"a":1`, "does not end"},
		{`{"a":"}`, "does not end"},
		{`[{}]`, "no object at byte 0"},
		{`  null`, "no object at byte 2"},
		{"{\"a\":\"\xff\"}", "invalid UTF-8 at byte 6"},
	} {
		err := strictJSON([]byte(tc.in))
		switch {
		case tc.want == "" && err != nil:
			t.Errorf("strictJSON(%q) = %v, want it accepted", tc.in, err)
		case tc.want != "" && (err == nil || !strings.Contains(err.Error(), tc.want) || !errors.Is(err, errNotOneJSONValue)):
			t.Errorf("strictJSON(%q) = %v, want an error saying %q", tc.in, err, tc.want)
		}
	}
}

// TestDecodeJSONTrailingBytes: an otlp_json record with bytes after its
// message is refused, as pdata alone would accept it.
func TestDecodeJSONTrailingBytes(t *testing.T) {
	md := pmetric.NewMetrics()
	g := md.ResourceMetrics().AppendEmpty().ScopeMetrics().AppendEmpty().Metrics().AppendEmpty()
	g.SetName("g")
	g.SetEmptyGauge().DataPoints().AppendEmpty().SetDoubleValue(1)
	b, err := (&pmetric.JSONMarshaler{}).MarshalMetrics(md)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := DecodeMetrics(EncodingJSON, b); err != nil {
		t.Fatalf("the message alone: %v", err)
	}
	bad := append(append([]byte(nil), b...), `{"resourceMetrics":[]}`...)
	if _, err := (&pmetric.JSONUnmarshaler{}).UnmarshalMetrics(bad); err != nil {
		t.Fatalf("pdata refuses trailing bytes itself now (%v): strictJSON may go", err)
	}
	if _, err := DecodeMetrics(EncodingJSON, bad); err == nil || !strings.Contains(err.Error(), "after the object") {
		t.Errorf("trailing bytes: %v, want refused", err)
	}
	if _, err := DecodeTraces(EncodingJSON, []byte(`{"resourceSpans":[]}garbage`)); err == nil {
		t.Error("traces with trailing bytes accepted")
	}
}

// FuzzStrictJSON: a valid JSON object is never refused, and one followed by
// anything but white space always is. Valid means UTF-8 too (RFC 8259, and
// protobuf's JSON mapping): json.Valid passes invalid UTF-8 in strings,
// strictJSON refuses it.
func FuzzStrictJSON(f *testing.F) {
	f.Add([]byte(`{"a":[1,"}"]}`), []byte("x"))
	f.Add([]byte(`{}`), []byte(" \n"))
	f.Fuzz(func(t *testing.T, b, suffix []byte) {
		obj := bytes.HasPrefix(bytes.TrimLeft(b, " \t\r\n"), []byte("{"))
		if !json.Valid(b) || !utf8.Valid(b) || !obj {
			_ = strictJSON(b)
			return
		}
		if err := strictJSON(b); err != nil {
			t.Fatalf("valid object %q refused: %v", b, err)
		}
		err := strictJSON(append(append([]byte(nil), b...), suffix...))
		if blank := len(bytes.TrimLeft(suffix, " \t\r\n")) == 0; blank != (err == nil) {
			t.Fatalf("%q + %q: %v", b, suffix, err)
		}
	})
}
