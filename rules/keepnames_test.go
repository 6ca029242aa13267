package rules

import (
	"strings"
	"testing"

	"github.com/prometheus/prometheus/model/labels"
)

// keep_metric_names rolls labels away and keeps each input's own name; it
// takes one aggregation and no output name.
func TestKeepMetricNames(t *testing.T) {
	s, err := Parse("t.yaml", []byte(`
rollup:
  - name: cut-pods
    match: '{__name__=~"http_.+_total"}'
    without: [pod]
    aggregations: [total]
    policies: [10s:1d]
    keep_metric_names: true
`))
	if err != nil {
		t.Fatal(err)
	}
	m := s.Match(labels.FromStrings("__name__", "http_requests_total", "pod", "a", "code", "200"))
	if len(m.Outputs) != 1 || !m.Outputs[0].KeepName || m.Outputs[0].Name != "http_requests_total" ||
		m.Outputs[0].Labels.String() != `{__name__="http_requests_total", code="200"}` {
		t.Fatalf("outputs %+v: want one, named http_requests_total, without pod", m.Outputs)
	}
	for _, tc := range []struct{ name, src, want string }{
		{"output too", "    output: x\n    aggregations: [total]\n", "output together with keep_metric_names"},
		{"two aggregations", "    aggregations: [sum, count]\n", "keep_metric_names wants exactly one aggregation"},
	} {
		_, err := Parse("t.yaml", []byte("rollup:\n  - name: r\n    match: m\n"+tc.src+"    policies: [10s:1d]\n    keep_metric_names: true\n"))
		if err == nil || !strings.Contains(err.Error(), tc.want) {
			t.Errorf("%s: error %v, want one saying %q", tc.name, err, tc.want)
		}
	}
}
