package main

import (
	"bytes"
	"regexp"
	"strings"
	"testing"
)

// TestRunReportsTheFourLines runs every contender once on a tiny input: the
// run's own checks (every span counted, every window emitted) must pass and
// the report must end with the four headline lines, with positive figures.
func TestRunReportsTheFourLines(t *testing.T) {
	var out bytes.Buffer
	if err := run(&out, options{rounds: 1, spans: 3000, spansPerTrace: 100, pointLoops: 2, seed: 7, peers: true}); err != nil {
		t.Fatalf("run: %v\n%s", err, out.String())
	}
	lines := strings.Split(strings.TrimSpace(out.String()), "\n")
	if len(lines) < 4 {
		t.Fatalf("report too short:\n%s", out.String())
	}
	n := `[1-9][0-9]*`
	r := `[0-9]+\.[0-9]{2}`
	want := []*regexp.Regexp{
		regexp.MustCompile(`^spans_per_sec_per_core weir=` + n + ` otelcol=` + n + ` ratio=` + r + `$`),
		regexp.MustCompile(`^points_per_sec_per_core weir=` + n + ` vmstreamaggr=` + n + ` ratio=` + r + `$`),
		regexp.MustCompile(`^bytes_per_series_window weir=` + n + `$`),
		regexp.MustCompile(`^bytes_per_kept_trace weir=` + n + `$`),
	}
	for i, re := range want {
		if got := lines[len(lines)-4+i]; !re.MatchString(got) {
			t.Errorf("line %d = %q, want it to match %s", len(lines)-4+i, got, re)
		}
	}
	// The stage breakdown: marginal costs can come out negative on a run
	// this short, the decoding floor cannot.
	stages := regexp.MustCompile(`(?m)^# weir spans, CPU ns per span: decode and labels ` + n +
		`, \+ rules and aggregation -?[0-9]+, \+ the second pass \(tail sampling\) -?[0-9]+ = ` + n + `$`)
	if !stages.MatchString(out.String()) {
		t.Errorf("no stage breakdown matching %s in:\n%s", stages, out.String())
	}
	// The profiler's cost, on vs off in the same run, and its memory.
	for _, re := range []*regexp.Regexp{
		regexp.MustCompile(`(?m)^profiler_throughput_ratio spans=` + r + ` points=` + r + `$`),
		regexp.MustCompile(`(?m)^profiler_bytes_per_metric heap=` + n + ` accounted=` + n + `$`),
	} {
		if !re.MatchString(out.String()) {
			t.Errorf("no line matching %s in:\n%s", re, out.String())
		}
	}
}

// TestInputIsDeterministic: the same seed gives the same records.
func TestInputIsDeterministic(t *testing.T) {
	a, err := genSpans(3, 2000, 50)
	if err != nil {
		t.Fatal(err)
	}
	b, err := genSpans(3, 2000, 50)
	if err != nil {
		t.Fatal(err)
	}
	if len(a.records) != len(b.records) || a.spans != b.spans {
		t.Fatalf("sizes differ: %d/%d records, %d/%d spans", len(a.records), len(b.records), a.spans, b.spans)
	}
	for i := range a.records {
		if !bytes.Equal(a.records[i], b.records[i]) {
			t.Fatalf("record %d differs", i)
		}
	}
	c, err := genSpans(4, 2000, 50)
	if err != nil {
		t.Fatal(err)
	}
	if bytes.Equal(a.records[0], c.records[0]) {
		t.Fatal("another seed gave the same first record")
	}
}
