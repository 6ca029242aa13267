// Package rules is weir's rule model: which input series are dropped, which
// are rolled up into new series and at which resolutions they are kept, which
// span attributes become dimensions, and how much each tenant may send. The
// model is M3's mapping and rollup rules and Chronosphere's drop rules, written
// with Prometheus selectors and label conventions.
//
// # File format
//
// A rules file is YAML with up to five sections; unknown fields are errors:
//
//	drop:                      # the series is discarded before anything else
//	  - name: drop-debug
//	    match: '{__name__=~"debug_.*"}'
//	rollup:                    # aggregate into a new series
//	  - name: http-latency-by-service
//	    match: 'http_server_request_duration_seconds{env!="dev"}'
//	    output: http_server_request_duration_seconds:by_service
//	    by: [job]              # or without: [instance, pod]; never both
//	    aggregations: [count, sum, p50, p99]
//	    policies: [10s:2d, 1m:40d]
//	    keep_original: false   # also write the input series as it came
//	    priority: 10           # over a tenant's limit, lower is shed first
//	    max_series: 1000       # per input partition and window; beyond, otel_metric_overflow="true"
//	mapping:                   # keep the series, at these resolutions only
//	  - name: downsample-node
//	    match: '{__name__=~"node_.*"}'
//	    policies: [1m:40d]
//	spans:
//	  dimensions: [http.route]
//	  services:
//	    checkout: {dimensions: [payment.method]}
//	  forbidden: [http.url, user.id]
//	limits:
//	  default: {samples_per_second: 100000, burst: 10s}
//	  tenants:
//	    team-a: {samples_per_second: 5000, burst: 5s, max_series: 20000}
//
// match is a Prometheus series selector (metric name and =, !=, =~, !~ label
// matchers, with labels.Matcher semantics: a missing label reads as "").
// Storage policies are resolution:retention in Prometheus duration syntax.
// Rule names are unique across all files loaded together. A rollup with
// neither by nor without aggregates across all labels, as sum(x) does.
//
// # Matching
//
// Set.Match applies, in order: the first matching drop rule discards the
// series; otherwise every matching rollup and mapping rule yields an Output
// (in file order; files in load order). The input series is also written as
// is when no rule matched it or a matching rollup sets keep_original; a
// mapping rule replaces it with the same series at the mapping's policies.
//
// # Output naming
//
// Aggregations are the aggregator's vocabulary (aggregator.ParseAggregation).
// A rollup with output name N writes, per aggregation (named in
// aggregator/naming.go, the one place this is decided):
//
//	pNN        N{quantile="0.NN"}      quantile label as strconv.FormatFloat(q, 'f', -1, 64): p50 -> "0.5", p999 -> "0.999"
//	sum        N_sum
//	count      N_count
//	min        N_min
//	max        N_max
//	last       N_last
//	mean       N_mean
//	rate       N_rate                  per second over the window
//	increase   N_increase              over the window
//	buckets    N_bucket{le="..."}      plus N_sum and N_count
//	stddev     N_stddev                population standard deviation
//
// so percentiles follow the Prometheus summary convention beside _sum and
// _count. Every output series carries the input labels regrouped by the
// rule's by or without clause. Two rollups whose series could share a name
// (the same output, or one's N_sum being the other's N) are refused. A mapping
// rule keeps the input series name and labels unchanged.
//
// # Errors
//
// Parse and Load report every problem at once as Errors, each "FILE:LINE:COL:
// message" pointing at the offending YAML node. Watcher reloads files when they
// change and keeps the running Set when the new files are refused.
package rules
