package rules

import (
	"strings"
	"testing"
	"time"

	"github.com/prometheus/prometheus/model/labels"
)

func TestParseAggregation(t *testing.T) {
	for _, tc := range []struct {
		in   string
		want Aggregation
		err  string // substring of the error; "" = valid
	}{
		{in: "sum", want: Aggregation{Kind: Sum}},
		{in: "count", want: Aggregation{Kind: Count}},
		{in: "min", want: Aggregation{Kind: Min}},
		{in: "max", want: Aggregation{Kind: Max}},
		{in: "last", want: Aggregation{Kind: Last}},
		{in: "mean", want: Aggregation{Kind: Mean}},
		{in: "rate", want: Aggregation{Kind: Rate}},
		{in: "increase", want: Aggregation{Kind: Increase}},
		{in: "buckets", want: Aggregation{Kind: Buckets}},
		{in: "p50", want: Aggregation{Kind: Quantile, Q: 0.5}},
		{in: "p75", want: Aggregation{Kind: Quantile, Q: 0.75}},
		{in: "p90", want: Aggregation{Kind: Quantile, Q: 0.9}},
		{in: "p99", want: Aggregation{Kind: Quantile, Q: 0.99}},
		{in: "p999", want: Aggregation{Kind: Quantile, Q: 0.999}},
		{in: "p9999", want: Aggregation{Kind: Quantile, Q: 0.9999}},
		{in: "p05", want: Aggregation{Kind: Quantile, Q: 0.05}},
		{in: "p01", want: Aggregation{Kind: Quantile, Q: 0.01}},
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
	base := lbls("__name__", "lat", "service", "a")
	for _, tc := range []struct {
		agg        string
		name       string
		wantLabels labels.Labels
	}{
		{"p50", "lat", lbls("__name__", "lat", "service", "a", "quantile", "0.5")},
		{"p99", "lat", lbls("__name__", "lat", "service", "a", "quantile", "0.99")},
		{"p999", "lat", lbls("__name__", "lat", "service", "a", "quantile", "0.999")},
		{"p9999", "lat", lbls("__name__", "lat", "service", "a", "quantile", "0.9999")},
		{"sum", "lat_sum", lbls("__name__", "lat_sum", "service", "a")},
		{"count", "lat_count", lbls("__name__", "lat_count", "service", "a")},
		{"min", "lat_min", lbls("__name__", "lat_min", "service", "a")},
		{"max", "lat_max", lbls("__name__", "lat_max", "service", "a")},
		{"last", "lat_last", lbls("__name__", "lat_last", "service", "a")},
		{"mean", "lat_mean", lbls("__name__", "lat_mean", "service", "a")},
		{"rate", "lat_rate", lbls("__name__", "lat_rate", "service", "a")},
		{"increase", "lat_increase", lbls("__name__", "lat_increase", "service", "a")},
		{"buckets", "lat_bucket", lbls("__name__", "lat_bucket", "service", "a")},
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
	got := seriesNames("lat", []Aggregation{{Kind: Buckets}, {Kind: Quantile, Q: 0.5}})
	if strings.Join(got, " ") != "lat lat_bucket lat_sum lat_count" {
		t.Errorf("seriesNames(lat, [buckets p50]) = %v", got)
	}
}

func TestParseStoragePolicy(t *testing.T) {
	day := 24 * time.Hour
	for _, tc := range []struct {
		in     string
		want   StoragePolicy
		str    string // String() of the result
		errMsg string
	}{
		{in: "10s:2d", want: StoragePolicy{10 * time.Second, 2 * day}, str: "10s:2d"},
		{in: "1m:40d", want: StoragePolicy{time.Minute, 40 * day}, str: "1m:40d"},
		{in: "1m:1w", want: StoragePolicy{time.Minute, 7 * day}, str: "1m:7d"},
		{in: "1h30m:1y", want: StoragePolicy{90 * time.Minute, 365 * day}, str: "1h30m:365d"},
		{in: "500ms:1h", want: StoragePolicy{500 * time.Millisecond, time.Hour}, str: "500ms:1h"},
		{in: "1m:1m", want: StoragePolicy{time.Minute, time.Minute}, str: "1m:1m"},
		{in: "10s", errMsg: "want resolution:retention"},
		{in: "10s:", errMsg: `bad retention "" in storage policy "10s:": empty duration string`},
		{in: ":2d", errMsg: `bad resolution "" in storage policy ":2d": empty duration string`},
		{in: "10x:2d", errMsg: `bad resolution "10x"`},
		{in: "1.5s:2d", errMsg: `bad resolution "1.5s"`},
		{in: "0:2d", errMsg: "resolution must be positive"},
		{in: "1h:30m", errMsg: "retention 30m is shorter than resolution 1h"},
		{in: "10s:2d:3d", errMsg: `bad retention "2d:3d"`},
	} {
		got, err := ParseStoragePolicy(tc.in)
		switch {
		case tc.errMsg == "" && err != nil:
			t.Errorf("ParseStoragePolicy(%q): %v", tc.in, err)
		case tc.errMsg != "" && (err == nil || !strings.Contains(err.Error(), tc.errMsg)):
			t.Errorf("ParseStoragePolicy(%q) = %v, %v; want error containing %q", tc.in, got, err, tc.errMsg)
		case tc.errMsg == "" && (got != tc.want || got.String() != tc.str):
			t.Errorf("ParseStoragePolicy(%q) = %+v %q, want %+v %q", tc.in, got, got.String(), tc.want, tc.str)
		}
	}
}

func TestFormatDuration(t *testing.T) {
	for d, want := range map[time.Duration]string{
		0:                                  "0s",
		1500 * time.Millisecond:            "1s500ms",
		25 * time.Hour:                     "1d1h",
		-time.Minute:                       "-1m",
		time.Millisecond + time.Nanosecond: "1.000001ms",
	} {
		if got := formatDuration(d); got != want {
			t.Errorf("formatDuration(%v) = %q, want %q", d, got, want)
		}
	}
}
