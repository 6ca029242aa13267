package aggregator

import (
	"testing"

	"github.com/prometheus/prometheus/model/labels"
)

// TestSeriesLabels checks that a spec named by its target's labels gets the
// labels a labels.Builder would give, with and without labels of its own.
func TestSeriesLabels(t *testing.T) {
	for _, tc := range []struct {
		base labels.Labels
		spec Spec
		want labels.Labels
	}{
		{labels.FromStrings("__name__", "d", "svc", "a"), Spec{Agg: Sum, Name: "d_sum"},
			labels.FromStrings("__name__", "d_sum", "svc", "a")},
		{labels.FromStrings("__name__", "d", "svc", "a"), Spec{Agg: Quantile, Q: 0.999, Name: "d"},
			labels.FromStrings("__name__", "d", "quantile", "0.999", "svc", "a")},
		{labels.FromStrings("A", "1", "quantile", "mine", "z", "2"), Spec{Agg: Quantile, Q: 0.5, Name: "d"},
			labels.FromStrings("A", "1", "__name__", "d", "quantile", "0.5", "z", "2")},
		{labels.FromStrings("A", "1"), Spec{Agg: Count, Name: "d_count"},
			labels.FromStrings("A", "1", "__name__", "d_count")},
		{labels.EmptyLabels(), Spec{Agg: Quantile, Q: 0.9, Name: "d"},
			labels.FromStrings("__name__", "d", "quantile", "0.9")},
		{labels.FromStrings("x", "1"), Spec{Agg: Sum, Name: "ignored", Labels: labels.FromStrings("__name__", "own")},
			labels.FromStrings("__name__", "own")},
	} {
		tg := &Target{Labels: tc.base}
		if got := tg.SeriesLabels(&tc.spec); !labels.Equal(got, tc.want) {
			t.Errorf("SeriesLabels(%s, %+v) = %s, want %s", tc.base, tc.spec, got, tc.want)
		}
		var sb labels.ScratchBuilder
		tg.eachSeriesLabel(&tc.spec, func(n, v string) { sb.Add(n, v) })
		if got := sb.Labels(); !labels.Equal(got, tc.want) || tg.seriesLabelCount(&tc.spec) != tc.want.Len() {
			t.Errorf("eachSeriesLabel(%s, %+v) = %s (count %d), want %s", tc.base, tc.spec, got, tg.seriesLabelCount(&tc.spec), tc.want)
		}
	}
}
