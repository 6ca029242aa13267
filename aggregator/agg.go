package aggregator

import (
	"cmp"
	"fmt"
	"strconv"
	"strings"

	"github.com/weirdev/weir/sample"
)

// Agg names one aggregation of a window. It is the one vocabulary of
// aggregations: rules files name them (ParseAggregation), targets carry them
// (Spec), windows compute them. Each has an entry in the registry
// (entryOf: its name, series suffix and the window state it reads) and a
// file of its own (agg_*.go) holding how it emits.
type Agg uint8

// The aggregations, in the canonical order in which a rule's aggregations
// are listed and fingerprinted.
const (
	Sum Agg = iota
	Count
	Min
	Max
	Last
	Mean
	Rate     // Increase divided by the resolution in seconds.
	Increase // Sum of deltas (Delta points) or observations' count (others).
	Quantile
	Buckets // Explicit-bucket histogram: one series per bucket with an le label.
	Stddev
	// Total is the increase as a Prometheus counter writes it: a running
	// total across windows (see Spec.Cumulative), which rate() reads.
	Total
	// Histogram is Buckets as a Prometheus histogram writes them: each
	// bucket, _sum and _count a running total across windows, which
	// histogram_quantile(rate(...)) reads.
	Histogram

	numAggs
)

// output is what an aggregation does with a window: it reads only the
// window's shared state (see window) and, where it keeps one (extraKeeper),
// the aggregation's own extra state.
type output interface {
	// emit writes the output's samples of Spec s of a closed window of t,
	// none when the window's points do not define it (the min of a
	// histogram, a quantile of an empty sketch).
	emit(w *window, t *Target, s *Spec, out *emitter)
}

// extraKeeper is an output that keeps state of its own in every window.
type extraKeeper interface {
	// newExtra returns a zero state.
	newExtra() extra
}

// extra is window state an output keeps beyond the shared state: it takes
// the window's points, merges with the partial windows of other input
// partitions and travels in partials (see codec.go).
type extra interface {
	add(p *sample.Point)
	// merge folds o, a state of the same output, into the receiver.
	merge(o extra)
	appendTo(b []byte) []byte
	read(d *decoder)
}

// entry is an aggregation in the registry: how rules files write it
// ("quantile" for Quantile, written pNN by Aggregation.String), the suffix
// of the series it writes, the shared window state its output reads, and
// the output.
type entry struct {
	name, suffix string
	needs        needs
	out          output
}

// entryOf returns a's entry; ok is false for no aggregation. It is the
// registry of aggregations: adding one is a constant above, a case here and
// its agg_*.go file.
func entryOf(a Agg) (e entry, ok bool) {
	switch a {
	case Sum:
		return entry{"sum", "_sum", needs{}, sumOutput{}}, true
	case Count:
		return entry{"count", "_count", needs{}, countOutput{}}, true
	case Min:
		return entry{"min", "_min", needs{scalar: true}, minOutput{}}, true
	case Max:
		return entry{"max", "_max", needs{scalar: true}, maxOutput{}}, true
	case Last:
		return entry{"last", "_last", needs{scalar: true}, lastOutput{}}, true
	case Mean:
		return entry{"mean", "_mean", needs{}, meanOutput{}}, true
	case Rate:
		return entry{"rate", "_rate", needs{}, rateOutput{}}, true
	case Increase:
		return entry{"increase", "_increase", needs{}, increaseOutput{}}, true
	case Quantile:
		return entry{"quantile", "", needs{dist: true}, quantileOutput{}}, true
	case Buckets:
		return entry{"buckets", "_bucket", needs{buckets: true}, bucketsOutput{}}, true
	case Stddev:
		return entry{"stddev", "_stddev", needs{}, stddevOutput{}}, true
	case Total:
		return entry{"total", "_total", needs{}, totalOutput{}}, true
	case Histogram:
		return entry{"histogram", "_bucket", needs{buckets: true}, histogramOutput{}}, true
	}
	return entry{}, false
}

// newExtra returns a zero extra state of a, nil when a keeps none.
func newExtra(a Agg) extra {
	if e, ok := entryOf(a); ok {
		if k, ok := e.out.(extraKeeper); ok {
			return k.newExtra()
		}
	}
	return nil
}

// String returns the aggregation's name in rules files ("quantile" for
// Quantile, whose Aggregation prints as "p99").
func (a Agg) String() string {
	if e, ok := entryOf(a); ok {
		return e.name
	}
	return "Agg(" + strconv.Itoa(int(a)) + ")"
}

// Aggregation is one entry of a rollup rule's aggregations.
type Aggregation struct {
	Agg Agg
	// Q is the quantile in (0, 1) when Agg is Quantile, else 0.
	Q float64
}

// ParseAggregation parses one entry of a rule's aggregations list: the name
// of an aggregation (sum, count, min, max, last, mean, rate, increase,
// buckets, stddev) or a percentile pNN.
//
// pNN reads its digits as the fraction after "0.": p50 is 0.5, p99 0.99,
// p999 0.999, p9999 0.9999, p05 0.05. At least two digits are required (p5
// would read as 0.5, not the 5th percentile), and a zero may end the digits
// only in second place (p990 is refused: it is p99), so that every quantile has
// exactly one spelling. p00 is refused: that is min.
func ParseAggregation(s string) (Aggregation, error) {
	var names []string
	for a := range numAggs {
		if a == Quantile {
			continue
		}
		if n := a.String(); s == n {
			return Aggregation{Agg: a}, nil
		} else {
			names = append(names, n)
		}
	}
	digits, ok := strings.CutPrefix(s, "p")
	if !ok || digits == "" || strings.Trim(digits, "0123456789") != "" {
		return Aggregation{}, fmt.Errorf("unknown aggregation %q: want %s or a percentile pNN (p50, p99, p999)", s, strings.Join(names, ", "))
	}
	switch {
	case len(digits) < 2:
		return Aggregation{}, fmt.Errorf("bad percentile %q: write at least two digits (p50 for the median, p05 for the 5th percentile)", s)
	case len(digits) > 2 && digits[len(digits)-1] == '0':
		return Aggregation{}, fmt.Errorf("bad percentile %q: drop the trailing zero (write %s)", s, "p"+trimQuantileDigits(digits))
	case strings.Trim(digits, "0") == "":
		return Aggregation{}, fmt.Errorf("bad percentile %q: the 0th percentile is the minimum, use min", s)
	case len(digits) > 15:
		return Aggregation{}, fmt.Errorf("bad percentile %q: at most 15 digits", s)
	}
	q, err := strconv.ParseFloat("0."+digits, 64)
	if err != nil { // unreachable with the checks above, kept for safety
		return Aggregation{}, fmt.Errorf("bad percentile %q: %w", s, err)
	}
	return Aggregation{Agg: Quantile, Q: q}, nil
}

func trimQuantileDigits(d string) string {
	for len(d) > 2 && d[len(d)-1] == '0' {
		d = d[:len(d)-1]
	}
	return d
}

// String returns the spelling ParseAggregation accepts: "sum", "p99".
func (a Aggregation) String() string {
	if a.Agg != Quantile {
		return a.Agg.String()
	}
	d := strings.TrimPrefix(FormatQuantile(a.Q), "0.")
	if len(d) < 2 {
		d += "0"
	}
	return "p" + d
}

// CompareAggregations is the canonical order of aggregations: by Agg, then
// quantile.
func CompareAggregations(a, b Aggregation) int {
	return cmp.Or(cmp.Compare(a.Agg, b.Agg), cmp.Compare(a.Q, b.Q))
}

// Exemplars reports whether the aggregation's series carry exemplars.
func (a Aggregation) Exemplars() bool {
	return a.Agg == Quantile || a.Agg == Max || a.Agg == Buckets || a.Agg == Histogram
}

// Cumulative reports whether the aggregation's series are running totals
// across windows rather than one value per window.
func (a Aggregation) Cumulative() bool { return a.Agg == Total || a.Agg == Histogram }
