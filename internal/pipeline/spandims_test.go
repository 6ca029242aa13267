package pipeline

import (
	"context"
	"strings"
	"testing"
	"time"

	"github.com/prometheus/prometheus/model/labels"

	"github.com/weirdev/weir/rules"
	"github.com/weirdev/weir/sample"
)

// TestSpanDimensionsPerService: a dimension named for one service stays on
// that service's span series and is dropped from the others'.
func TestSpanDimensionsPerService(t *testing.T) {
	set, err := rules.Parse("spans.yaml", []byte(`
rollup:
  - name: red-by-route
    match: '{__name__="span_duration_seconds"}'
    output: span_duration_seconds
    without: [span_kind]
    aggregations: [count]
    policies: [10s:2d]
spans:
  dimensions: [http.route]
  services:
    checkout: {dimensions: [payment.method]}
`))
	if err != nil {
		t.Fatal(err)
	}
	sink := newCapture()
	p, err := New(Config{Rules: set, Series: map[string]SeriesSink{"": sink}})
	if err != nil {
		t.Fatal(err)
	}
	now := time.Now()
	part := p.agg.Partition(0, now)
	p.now = now
	for _, svc := range []string{"checkout", "cart"} {
		p.addPoint(part, &sample.Point{Kind: sample.Observation, T: now.UnixMilli(), V: 0.1, Count: 1,
			Labels: labels.FromStrings("__name__", "span_duration_seconds", "service_name", svc, "span_name", "op",
				"span_kind", "SPAN_KIND_SERVER", "status_code", "STATUS_CODE_OK", "http_route", "/r", "payment_method", "card")})
	}
	if err := p.Flush(context.Background()); err != nil {
		t.Fatal(err)
	}
	var got []string
	for k := range sink.snapshot() {
		got = append(got, k)
	}
	if len(got) != 2 {
		t.Fatalf("got %d series, want 2: %v", len(got), got)
	}
	for _, k := range got {
		hasPay := strings.Contains(k, "payment_method")
		isCheckout := strings.Contains(k, "checkout")
		if hasPay != isCheckout || !strings.Contains(k, "http_route") {
			t.Errorf("series %s: payment_method kept=%v for checkout=%v; http_route must stay", k, hasPay, isCheckout)
		}
	}
}
