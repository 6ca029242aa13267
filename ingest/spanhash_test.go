package ingest

import (
	"testing"

	"go.opentelemetry.io/collector/pdata/ptrace"

	"github.com/weirdev/weir/sample"
)

// TestSpanPointHash: span points carry their labels' hash, from both
// decoders, so the pipeline need not hash every point.
func TestSpanPointHash(t *testing.T) {
	td := ptrace.NewTraces()
	rs := td.ResourceSpans().AppendEmpty()
	rs.Resource().Attributes().PutStr("service.name", "svc")
	for i, name := range []string{"a", "b", "a"} {
		sp := rs.ScopeSpans().AppendEmpty().Spans().AppendEmpty()
		sp.SetName(name)
		sp.SetTraceID([16]byte{1, byte(i)})
		sp.SetSpanID([8]byte{2, byte(i)})
		sp.SetStartTimestamp(1e9)
		sp.SetEndTimestamp(2e9)
		sp.Attributes().PutStr("http.route", "/x")
	}
	c := NewSpanConverter(SpanDimensions("http.route"))
	n := 0
	check := func(p *sample.Point) {
		n++
		if p.Hash == 0 || p.Hash != p.Labels.Hash() {
			t.Errorf("%s: Hash %d, want %d", p.Labels, p.Hash, p.Labels.Hash())
		}
	}
	c.Convert(td, 0, "", check)
	raw, err := (&ptrace.ProtoMarshaler{}).MarshalTraces(td)
	if err != nil {
		t.Fatal(err)
	}
	if err := c.ConvertProto(raw, 0, "", check, nil); err != nil {
		t.Fatal(err)
	}
	if n != 6 {
		t.Fatalf("%d points, want 6", n)
	}
}
