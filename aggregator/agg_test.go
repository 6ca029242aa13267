package aggregator

import (
	"strings"
	"testing"

	"github.com/prometheus/prometheus/model/labels"
)

func TestParseAggregation(t *testing.T) {
	for _, tc := range []struct {
		in   string
		want Aggregation
		err  string // substring of the error; "" = valid
	}{
		{in: "sum", want: Aggregation{Agg: Sum}},
		{in: "count", want: Aggregation{Agg: Count}},
		{in: "min", want: Aggregation{Agg: Min}},
		{in: "max", want: Aggregation{Agg: Max}},
		{in: "last", want: Aggregation{Agg: Last}},
		{in: "mean", want: Aggregation{Agg: Mean}},
		{in: "rate", want: Aggregation{Agg: Rate}},
		{in: "increase", want: Aggregation{Agg: Increase}},
		{in: "buckets", want: Aggregation{Agg: Buckets}},
		{in: "p50", want: Aggregation{Agg: Quantile, Q: 0.5}},
		{in: "p75", want: Aggregation{Agg: Quantile, Q: 0.75}},
		{in: "p90", want: Aggregation{Agg: Quantile, Q: 0.9}},
		{in: "p99", want: Aggregation{Agg: Quantile, Q: 0.99}},
		{in: "p999", want: Aggregation{Agg: Quantile, Q: 0.999}},
		{in: "p9999", want: Aggregation{Agg: Quantile, Q: 0.9999}},
		{in: "p05", want: Aggregation{Agg: Quantile, Q: 0.05}},
		{in: "p01", want: Aggregation{Agg: Quantile, Q: 0.01}},
		{in: "quantile", err: `unknown aggregation "quantile"`},
		{in: "Sum", err: `unknown aggregation "Sum"`},
		{in: "p", err: `unknown aggregation "p"`},
		{in: "p9.9", err: `unknown aggregation "p9.9"`},
		{in: "p-5", err: `unknown aggregation "p-5"`},
		{in: "p5", err: "at least two digits"},
		{in: "p100", err: "drop the trailing zero (write p10)"},
		{in: "p9990", err: "drop the trailing zero (write p999)"},
		{in: "p00", err: "use min"},
		{in: "p0000000000000001", err: "at most 15 digits"},
		{in: "", err: `unknown aggregation ""`},
	} {
		got, err := ParseAggregation(tc.in)
		switch {
		case tc.err == "" && err != nil:
			t.Errorf("ParseAggregation(%q): %v", tc.in, err)
		case tc.err != "" && (err == nil || !strings.Contains(err.Error(), tc.err)):
			t.Errorf("ParseAggregation(%q) = %v, %v; want error containing %q", tc.in, got, err, tc.err)
		case tc.err == "" && got != tc.want:
			t.Errorf("ParseAggregation(%q) = %+v, want %+v", tc.in, got, tc.want)
		case tc.err == "" && got.String() != tc.in:
			t.Errorf("ParseAggregation(%q).String() = %q", tc.in, got.String())
		}
	}
}

func TestSeriesNaming(t *testing.T) {
	base := labels.FromStrings("__name__", "lat", "service", "a")
	for _, tc := range []struct {
		agg        string
		name       string
		wantLabels labels.Labels
	}{
		{"p50", "lat", labels.FromStrings("__name__", "lat", "service", "a", "quantile", "0.5")},
		{"p99", "lat", labels.FromStrings("__name__", "lat", "service", "a", "quantile", "0.99")},
		{"p999", "lat", labels.FromStrings("__name__", "lat", "service", "a", "quantile", "0.999")},
		{"p9999", "lat", labels.FromStrings("__name__", "lat", "service", "a", "quantile", "0.9999")},
		{"sum", "lat_sum", labels.FromStrings("__name__", "lat_sum", "service", "a")},
		{"count", "lat_count", labels.FromStrings("__name__", "lat_count", "service", "a")},
		{"min", "lat_min", labels.FromStrings("__name__", "lat_min", "service", "a")},
		{"max", "lat_max", labels.FromStrings("__name__", "lat_max", "service", "a")},
		{"last", "lat_last", labels.FromStrings("__name__", "lat_last", "service", "a")},
		{"mean", "lat_mean", labels.FromStrings("__name__", "lat_mean", "service", "a")},
		{"rate", "lat_rate", labels.FromStrings("__name__", "lat_rate", "service", "a")},
		{"increase", "lat_increase", labels.FromStrings("__name__", "lat_increase", "service", "a")},
		{"buckets", "lat_bucket", labels.FromStrings("__name__", "lat_bucket", "service", "a")},
	} {
		a, err := ParseAggregation(tc.agg)
		if err != nil {
			t.Fatal(err)
		}
		if got := a.SeriesName("lat"); got != tc.name {
			t.Errorf("%s.SeriesName(lat) = %q, want %q", tc.agg, got, tc.name)
		}
		if got := SeriesLabels(base, a); !labels.Equal(got, tc.wantLabels) {
			t.Errorf("SeriesLabels(%s, %s) = %s, want %s", base, tc.agg, got, tc.wantLabels)
		}
	}
	// Buckets reserve _sum and _count beside _bucket.
	got := SeriesNames("lat", []Aggregation{{Agg: Buckets}, {Agg: Quantile, Q: 0.5}})
	if strings.Join(got, " ") != "lat lat_bucket lat_sum lat_count" {
		t.Errorf("SeriesNames(lat, [buckets p50]) = %v", got)
	}
}

func FuzzParseAggregation(f *testing.F) {
	for _, s := range []string{"sum", "p99", "p999", "p05", "p5", "p990", "buckets", "p9999999"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		a, err := ParseAggregation(s)
		if err != nil {
			return
		}
		if a.Agg == Quantile && (a.Q <= 0 || a.Q >= 1) {
			t.Fatalf("ParseAggregation(%q) = quantile %v outside (0, 1)", s, a.Q)
		}
		if a.String() != s {
			t.Fatalf("ParseAggregation(%q).String() = %q: two spellings of one aggregation", s, a.String())
		}
	})
}
