package main

import (
	"context"
	"fmt"
	"sync/atomic"

	"github.com/open-telemetry/opentelemetry-collector-contrib/connector/spanmetricsconnector"
	"github.com/open-telemetry/opentelemetry-collector-contrib/processor/tailsamplingprocessor"
	"go.opentelemetry.io/collector/component"
	"go.opentelemetry.io/collector/confmap"
	"go.opentelemetry.io/collector/connector"
	"go.opentelemetry.io/collector/consumer"
	"go.opentelemetry.io/collector/pdata/pcommon"
	"go.opentelemetry.io/collector/pdata/pmetric"
	"go.opentelemetry.io/collector/pdata/ptrace"
	"go.opentelemetry.io/collector/processor"
	noopmetric "go.opentelemetry.io/otel/metric/noop"
	nooptrace "go.opentelemetry.io/otel/trace/noop"
	"go.uber.org/zap"

	"github.com/weirdev/weir/ingest"
)

// The collector's configuration: the closest equivalent of weir's span path.
// spanmetrics writes delta RED metrics per (service, span name, kind,
// status) with an exponential histogram (quantiles can be read from it) and
// exemplars; tail sampling keeps traces with an error and a 1% baseline after
// the same 30s decision wait as weir's buffer, with room for every trace of
// a run.
var (
	spanmetricsConfig = map[string]any{
		"aggregation_temporality": "AGGREGATION_TEMPORALITY_DELTA",
		"metrics_flush_interval":  "10s",
		"histogram":               map[string]any{"exponential": map[string]any{"max_size": 160}},
		"exemplars":               map[string]any{"enabled": true},
	}
	tailSamplingConfig = map[string]any{
		"decision_wait": "30s",
		"num_traces":    1_000_000,
		"policies": []any{
			map[string]any{"name": "errors", "type": "status_code", "status_code": map[string]any{"status_codes": []any{"ERROR"}}},
			map[string]any{"name": "baseline", "type": "probabilistic", "probabilistic": map[string]any{"sampling_percentage": 1}},
		},
	}
)

// otelcol is the peer: records decoded with pdata (as the collector's Kafka
// receiver does), handed to the spanmetrics connector and then to the tail
// sampling processor, the two consumers of a traces pipeline that exports to
// spanmetrics and samples. Neither mutates the data, so they share it.
type otelcol struct {
	spanmetrics connector.Traces
	tail        processor.Traces
	sampled     atomic.Int64 // spans the tail sampler let through
	metrics     atomic.Int64 // data points spanmetrics exported
}

type nopHost struct{}

func (nopHost) GetExtensions() map[component.ID]component.Component { return nil }

func telemetry() component.TelemetrySettings {
	return component.TelemetrySettings{
		Logger:         zap.NewNop(),
		TracerProvider: nooptrace.NewTracerProvider(),
		MeterProvider:  noopmetric.NewMeterProvider(),
		Resource:       pcommon.NewResource(),
	}
}

func newOtelcol(ctx context.Context) (*otelcol, error) {
	o := &otelcol{}
	smf := spanmetricsconnector.NewFactory()
	smCfg := smf.CreateDefaultConfig()
	if err := confmap.NewFromStringMap(spanmetricsConfig).Unmarshal(smCfg); err != nil {
		return nil, fmt.Errorf("spanmetrics config: %w", err)
	}
	sink, err := consumer.NewMetrics(func(_ context.Context, md pmetric.Metrics) error {
		o.metrics.Add(int64(md.DataPointCount()))
		return nil
	})
	if err != nil {
		return nil, err
	}
	o.spanmetrics, err = smf.CreateTracesToMetrics(ctx, connector.Settings{
		ID: component.NewID(smf.Type()), TelemetrySettings: telemetry(), BuildInfo: component.NewDefaultBuildInfo(),
	}, smCfg, sink)
	if err != nil {
		return nil, fmt.Errorf("spanmetrics: %w", err)
	}

	tsf := tailsamplingprocessor.NewFactory()
	tsCfg := tsf.CreateDefaultConfig()
	if err := confmap.NewFromStringMap(tailSamplingConfig).Unmarshal(tsCfg); err != nil {
		return nil, fmt.Errorf("tail sampling config: %w", err)
	}
	next, err := consumer.NewTraces(func(_ context.Context, td ptrace.Traces) error {
		o.sampled.Add(int64(td.SpanCount()))
		return nil
	})
	if err != nil {
		return nil, err
	}
	o.tail, err = tsf.CreateTraces(ctx, processor.Settings{
		ID: component.NewID(tsf.Type()), TelemetrySettings: telemetry(), BuildInfo: component.NewDefaultBuildInfo(),
	}, tsCfg, next)
	if err != nil {
		return nil, fmt.Errorf("tail sampling: %w", err)
	}
	if err := o.spanmetrics.Start(ctx, nopHost{}); err != nil {
		return nil, err
	}
	if err := o.tail.Start(ctx, nopHost{}); err != nil {
		return nil, err
	}
	return o, nil
}

func (o *otelcol) record(ctx context.Context, rec []byte) error {
	td, err := ingest.DecodeTraces(ingest.EncodingProto, rec)
	if err != nil {
		return err
	}
	if err := o.spanmetrics.ConsumeTraces(ctx, td); err != nil {
		return err
	}
	return o.tail.ConsumeTraces(ctx, td)
}

// shutdown drains the tail sampler's queue and decides every trace it holds
// (what its Shutdown does), and stops spanmetrics.
func (o *otelcol) shutdown(ctx context.Context) error {
	if err := o.tail.Shutdown(ctx); err != nil {
		return err
	}
	return o.spanmetrics.Shutdown(ctx)
}
