package receiver

import (
	"context"
	"errors"

	"go.opentelemetry.io/collector/pdata/pmetric/pmetricotlp"
	"go.opentelemetry.io/collector/pdata/ptrace/ptraceotlp"
	"google.golang.org/genproto/googleapis/rpc/errdetails"
	"google.golang.org/grpc"
	"google.golang.org/grpc/codes"
	_ "google.golang.org/grpc/encoding/gzip" // the collector's and the SDKs' default compression
	"google.golang.org/grpc/metadata"
	"google.golang.org/grpc/status"
	"google.golang.org/protobuf/types/known/durationpb"
)

func (r *Receiver) newGRPCServer() *grpc.Server {
	s := grpc.NewServer(grpc.MaxRecvMsgSize(int(r.cfg.MaxGRPCMessageBytes)))
	ptraceotlp.RegisterGRPCServer(s, &grpcTraces{r: r})
	pmetricotlp.RegisterGRPCServer(s, &grpcMetrics{r: r})
	return s
}

type grpcTraces struct {
	ptraceotlp.UnimplementedGRPCServer
	r *Receiver
}

func (s *grpcTraces) Export(ctx context.Context, req ptraceotlp.ExportRequest) (ptraceotlp.ExportResponse, error) {
	t, err := s.r.exportTraces(protoGRPC, s.r.grpcTenant(ctx), req.Traces())
	if err != nil {
		return ptraceotlp.ExportResponse{}, s.r.grpcError(signalTraces, err)
	}
	resp := ptraceotlp.NewExportResponse()
	outcome := outcomeOK
	if t.rejected > 0 {
		resp.PartialSuccess().SetRejectedSpans(t.rejected)
		resp.PartialSuccess().SetErrorMessage(t.msg)
		outcome = outcomePartial
	}
	s.r.m.request(protoGRPC, signalTraces, outcome)
	return resp, nil
}

type grpcMetrics struct {
	pmetricotlp.UnimplementedGRPCServer
	r *Receiver
}

func (s *grpcMetrics) Export(ctx context.Context, req pmetricotlp.ExportRequest) (pmetricotlp.ExportResponse, error) {
	t, err := s.r.exportMetrics(protoGRPC, s.r.grpcTenant(ctx), req.Metrics())
	if err != nil {
		return pmetricotlp.ExportResponse{}, s.r.grpcError(signalMetrics, err)
	}
	resp := pmetricotlp.NewExportResponse()
	outcome := outcomeOK
	if t.rejected > 0 {
		resp.PartialSuccess().SetRejectedDataPoints(t.rejected)
		resp.PartialSuccess().SetErrorMessage(t.msg)
		outcome = outcomePartial
	}
	s.r.m.request(protoGRPC, signalMetrics, outcome)
	return resp, nil
}

// grpcTenant is the request's metadata of the tenant header's name.
func (r *Receiver) grpcTenant(ctx context.Context) string {
	if r.cfg.TenantHeader == "" {
		return ""
	}
	md, _ := metadata.FromIncomingContext(ctx)
	if v := md.Get(r.cfg.TenantHeader); len(v) > 0 {
		return v[0]
	}
	return ""
}

// grpcError is a refusal as the OTLP/gRPC specification answers it:
// INVALID_ARGUMENT, or RESOURCE_EXHAUSTED and UNAVAILABLE with a RetryInfo
// that makes the client retry after Config.RetryDelay.
func (r *Receiver) grpcError(signal string, err error) error {
	kind := refuseUnavailable
	var rf *refusal
	if errors.As(err, &rf) {
		kind = rf.kind
	}
	r.m.request(protoGRPC, signal, kind.outcome())
	code := codes.Unavailable
	switch kind {
	case refuseInvalid:
		return status.Error(codes.InvalidArgument, err.Error())
	case refuseOverloaded:
		code = codes.ResourceExhausted
	}
	st, derr := status.New(code, err.Error()).WithDetails(&errdetails.RetryInfo{RetryDelay: durationpb.New(r.cfg.RetryDelay)})
	if derr != nil {
		return status.Error(code, err.Error())
	}
	return st.Err()
}
