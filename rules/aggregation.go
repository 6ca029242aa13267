package rules

import (
	"cmp"
	"fmt"
	"strconv"
	"strings"
)

// AggKind is what a rollup computes over a window.
type AggKind uint8

// The aggregations a rollup rule can ask for. The order is the canonical
// order used when a rule's aggregations are listed or fingerprinted.
const (
	Sum AggKind = iota
	Count
	Min
	Max
	Last
	Mean
	Rate
	Increase
	Quantile
	Buckets
)

var aggNames = [...]string{
	Sum:      "sum",
	Count:    "count",
	Min:      "min",
	Max:      "max",
	Last:     "last",
	Mean:     "mean",
	Rate:     "rate",
	Increase: "increase",
	Quantile: "quantile",
	Buckets:  "buckets",
}

// String returns the kind's YAML name; Quantile is "quantile" (a single
// Aggregation prints as "p99").
func (k AggKind) String() string {
	if int(k) < len(aggNames) {
		return aggNames[k]
	}
	return "AggKind(" + strconv.Itoa(int(k)) + ")"
}

// Aggregation is one aggregation of a rollup rule.
type Aggregation struct {
	Kind AggKind
	// Q is the quantile in (0, 1) when Kind is Quantile, else 0.
	Q float64
}

// ParseAggregation parses one entry of a rule's aggregations list: sum,
// count, min, max, last, mean, rate, increase, buckets, or pNN.
//
// pNN reads its digits as the fraction after "0.": p50 is 0.5, p99 0.99,
// p999 0.999, p9999 0.9999, p05 0.05. At least two digits are required (p5
// would read as 0.5, not the 5th percentile), and a zero may end the digits
// only in second place (p990 is refused: it is p99), so that every quantile has
// exactly one spelling. p00 is refused: that is min.
func ParseAggregation(s string) (Aggregation, error) {
	for k, name := range aggNames {
		if s == name && AggKind(k) != Quantile {
			return Aggregation{Kind: AggKind(k)}, nil
		}
	}
	digits, ok := strings.CutPrefix(s, "p")
	if !ok || digits == "" || strings.Trim(digits, "0123456789") != "" {
		return Aggregation{}, fmt.Errorf("unknown aggregation %q: want sum, count, min, max, last, mean, rate, increase, buckets or a percentile pNN (p50, p99, p999)", s)
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
	return Aggregation{Kind: Quantile, Q: q}, nil
}

func trimQuantileDigits(d string) string {
	for len(d) > 2 && d[len(d)-1] == '0' {
		d = d[:len(d)-1]
	}
	return d
}

// String returns the YAML spelling ParseAggregation accepts: "sum", "p99".
func (a Aggregation) String() string {
	if a.Kind != Quantile {
		return a.Kind.String()
	}
	d := strings.TrimPrefix(quantileValue(a.Q), "0.")
	if len(d) < 2 {
		d += "0"
	}
	return "p" + d
}

// compareAgg is the canonical order of aggregations: by kind, then quantile.
func compareAgg(a, b Aggregation) int {
	return cmp.Or(cmp.Compare(a.Kind, b.Kind), cmp.Compare(a.Q, b.Q))
}
