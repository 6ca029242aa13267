// Package loadgen is the load generator of `weir demo`: a small microservice
// shop, instrumented the way OpenTelemetry SDKs instrument real services, whose
// Collector publishes to Kafka with the contrib kafkaexporter (otlp_proto
// encoding, partition_traces_by_id on).
//
// # The app
//
// Seven services, each with two or three instances (host.name differs):
//
//	frontend ─► search ─► inventory ─► db (postgresql)
//	        ├─► cart ─► db (redis)
//	        └─► checkout ─► cart
//	                    ├─► payment ─► fraud      (gRPC)
//	                    ├─► inventory ─► db
//	                    └─► db (orders)
//
// A trace is one request to the frontend (GET /api/search, GET /api/cart,
// POST /api/checkout, GET /api/orders/{id}) with 4 to 15 spans: a server span
// per service hop, a client span for each outgoing call, database client spans
// and an internal span or two. Every child lies inside its parent's interval
// and every parent is at least as long as the extent of its children. All
// times are whole microseconds, so a duration in seconds converts exactly to
// the microseconds Jaeger shows.
//
// Latency is lognormal per operation; about 1.5% of traces have one slow
// dependency (its whole subtree 5-20x slower) and about 0.1% are outliers
// (the whole request 30-120x slower). A configurable share of traces (default
// 1.5%) fails: one span fails with an exception event and Error status, and
// the failure propagates up its ancestors to the root (HTTP 500); calls the
// failing parents had not made yet are not made.
//
// Everything is a deterministic function of the seed and of the sequence of
// calls: the random numbers come from PCG sources owned by the Generator.
//
// # Metrics
//
// Every instance exports, with cumulative temporality as an SDK does:
// http.server.request.duration (exponential histogram, seconds, scale 5
// downscaled as an SDK does to stay within 160 buckets, with exemplars of real
// server spans), http.server.requests (monotonic sum per route and status),
// db.client.operation.duration (explicit-bucket histogram with exemplars of
// real database spans), rpc.legacy.latency (summary of the gRPC services) and
// process.memory.usage (gauge).
//
// # Records
//
// Run writes through package receiver's TraceRecords and MetricsRecord, which
// shape records exactly as kafkaexporter v0.165.1 does (one record per
// resource, scope and trace keyed by the trace ID; one record per metrics
// batch), and expects a producer built with receiver.PartitionerOpt, the
// exporter's default partitioner.
package loadgen
