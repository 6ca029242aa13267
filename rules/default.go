package rules

// defaultRules are the rules of Default, in the same language users write so
// that they go through the same checks.
const defaultRules = `
rollup:
  - name: span-red
    match: '{__name__="span_duration_seconds"}'
    output: span_duration_seconds
    by: [service_name, span_name, span_kind, status_code]
    aggregations: [count, sum, p50, p90, p99, p999]
    policies: [10s:2d]
`

// Default returns the built-in rules used when no rules file is given: one
// rollup, "span-red", turning the span durations ingest derives
// (span_duration_seconds) into the RED metrics of every operation, per
// service, span name, kind and status, at 10s kept for 2 days.
func Default() *Set {
	s, err := Parse("<default>", []byte(defaultRules))
	if err != nil {
		panic("rules: built-in default rules do not compile: " + err.Error())
	}
	return s
}
