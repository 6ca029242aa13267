// Package receiver takes telemetry over the network and writes it into
// weir's Kafka input topics exactly as the OpenTelemetry Collector's
// kafkaexporter (contrib v0.165.1) would, so that weir reads everything back
// from Kafka and the aggregation path stays one.
//
// Three protocols are served, each on a listen address of its own:
//
//   - OTLP/gRPC (the collector's otlpreceiver default port 4317): the
//     TraceService and MetricsService of ptraceotlp and pmetricotlp, gzip
//     compression included.
//   - OTLP/HTTP (4318): POST /v1/traces and /v1/metrics, protobuf
//     (application/x-protobuf) or JSON (application/json), optionally gzip
//     (Content-Encoding: gzip).
//   - Prometheus remote write 1.0 and 2.0 (POST /api/v1/write, snappy), as
//     vmagent takes it; each request becomes OTLP metrics (see
//     RemoteWriteMetrics).
//
// # Records
//
// Spans are split as kafkaexporter's partition_traces_by_id splits them: one
// record per resource, scope and trace, keyed by the lowercase hex trace ID
// (TraceRecords), partitioned by the exporter's default partitioner
// (PartitionerOpt), so that every trace lands whole in one partition. Metrics
// are one record per request with a nil key, as the exporter writes a batch
// (MetricsRecord); a request whose record would exceed Config.MaxRecordBytes
// is written as one record per resource instead. Values are in the encoding
// weir reads (Config.TracesEncoding, Config.MetricsEncoding: otlp_proto or
// otlp_json). With Config.TenantHeader set, every record carries that header
// with the value of the request's HTTP header or gRPC metadata of the same
// name, as the exporter's include_metadata_keys does.
//
// # Acknowledgement and backpressure
//
// A request is answered only once Kafka acknowledged every record of it
// (acks=all, idempotent producer). The answers follow the OTLP
// specification:
//
//   - a body that does not decode: HTTP 400 with a google.rpc.Status body,
//     gRPC INVALID_ARGUMENT; not retried;
//   - more than Config.MaxInflightBytes of records waiting for Kafka: HTTP 429
//     with Retry-After, gRPC RESOURCE_EXHAUSTED with RetryInfo;
//   - Kafka unreachable, failing or slower than Config.Timeout: HTTP 503 with
//     Retry-After, gRPC UNAVAILABLE with RetryInfo;
//   - a body larger than Config.MaxRequestBytes (HTTP) or
//     Config.MaxGRPCMessageBytes: HTTP 413, gRPC RESOURCE_EXHAUSTED without
//     RetryInfo (not retried);
//   - spans with an all-zero trace ID, and records Kafka refuses for good
//     (larger than the topic takes), are left out and reported as OTLP
//     partial success (rejected_spans, rejected_data_points); the rest is
//     written.
//
// A request refused as retryable may have had some of its records written
// already: the client's retry writes them again. That is the collector's
// at-least-once contract too.
//
// Remote write answers as Prometheus' own receiver does: 204 on success, 400
// for a body that does not decode (and, for 2.0, for invalid series, after
// writing the valid ones), 415 for an unknown Content-Type or encoding, 503
// with Retry-After when Kafka is slow, unavailable or the in-flight limit is
// reached (Prometheus and vmagent retry 5xx).
//
// Every item refused is counted in weir_receiver_refused_items_total by
// reason.
package receiver
