// Package tailsampling keeps the traces that aggregated windows link to: a
// span buffer per trace ID that holds each trace's raw OTLP bytes until a
// keep decision (an exemplar of a window, an error, a latency threshold or
// the deterministic baseline) or the decision wait's expiry.
package tailsampling
