// Package e2e holds the end-to-end tests that run the weir binary against
// real components (Apache Kafka, Prometheus, Jaeger), started by
// internal/testenv. It has no code of its own besides test helpers.
package e2e
