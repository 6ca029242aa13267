package tailsampling

import (
	"bytes"
	"testing"
)

func TestDecisionRoundTrip(t *testing.T) {
	for _, d := range []Decision{
		{TraceID: id(1), Reason: KeepExemplar},
		{TraceID: id(2), Reason: KeepError},
		{TraceID: id(3), Reason: KeepLatency, Broadcast: true},
	} {
		got, err := ParseDecision(AppendDecision(nil, d))
		if err != nil || got != d {
			t.Errorf("%+v: parsed back as %+v, %v", d, got, err)
		}
	}
	// The format before the version byte: a bare trace ID, an exemplar.
	old := id(4)
	if got, err := ParseDecision(old[:]); err != nil || got != (Decision{TraceID: old, Reason: KeepExemplar}) {
		t.Errorf("bare trace ID: %+v, %v", got, err)
	}
	good := AppendDecision(nil, Decision{TraceID: id(5)})
	for name, b := range map[string][]byte{
		"empty":    nil,
		"short":    good[:10],
		"long":     append(bytes.Clone(good), 0),
		"version":  append([]byte{9}, good[1:]...),
		"flags":    append([]byte{good[0], 0x80}, good[2:]...),
		"reason":   append([]byte{good[0], 0, byte(KeepBaseline)}, good[3:]...),
		"zero ID":  AppendDecision(nil, Decision{}),
		"zero old": make([]byte, 16),
	} {
		if d, err := ParseDecision(b); err == nil {
			t.Errorf("%s: parsed as %+v", name, d)
		}
	}
}

func FuzzParseDecision(f *testing.F) {
	f.Add(AppendDecision(nil, Decision{TraceID: id(1), Reason: KeepError}))
	f.Add([]byte("0123456789abcdef"))
	f.Fuzz(func(t *testing.T, b []byte) {
		d, err := ParseDecision(b)
		if err != nil {
			return
		}
		if d.TraceID.IsZero() || d.Reason >= KeepBaseline {
			t.Fatalf("%x parsed as %+v", b, d)
		}
		if len(b) != 16 && !bytes.Equal(AppendDecision(nil, d), b) {
			t.Fatalf("%x parsed as %+v, which encodes as %x", b, d, AppendDecision(nil, d))
		}
	})
}
