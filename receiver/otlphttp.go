package receiver

import (
	"compress/gzip"
	"errors"
	"fmt"
	"io"
	"math"
	"mime"
	"net/http"
	"strconv"

	"go.opentelemetry.io/collector/pdata/pmetric/pmetricotlp"
	"go.opentelemetry.io/collector/pdata/ptrace/ptraceotlp"
	spb "google.golang.org/genproto/googleapis/rpc/status"
	"google.golang.org/grpc/codes"
	"google.golang.org/protobuf/encoding/protojson"
	"google.golang.org/protobuf/proto"
)

// OTLP/HTTP paths and content types.
const (
	TracesPath  = "/v1/traces"
	MetricsPath = "/v1/metrics"

	contentProto = "application/x-protobuf"
	contentJSON  = "application/json"
)

func (r *Receiver) otlpHandler() http.Handler {
	mux := http.NewServeMux()
	mux.HandleFunc(TracesPath, func(w http.ResponseWriter, req *http.Request) {
		r.serveOTLP(w, req, signalTraces, r.httpTraces)
	})
	mux.HandleFunc(MetricsPath, func(w http.ResponseWriter, req *http.Request) {
		r.serveOTLP(w, req, signalMetrics, r.httpMetrics)
	})
	return mux
}

// httpExport decodes body in the request's encoding, writes it and returns
// the encoded response.
type httpExport func(body []byte, json bool, tenant string) (resp []byte, partial bool, err error)

func (r *Receiver) httpTraces(body []byte, json bool, tenant string) ([]byte, bool, error) {
	req := ptraceotlp.NewExportRequest()
	if err := unmarshalRequest(req.UnmarshalProto, req.UnmarshalJSON, body, json); err != nil {
		return nil, false, &refusal{refuseInvalid, fmt.Errorf("receiver: traces request does not decode: %w", err)}
	}
	t, err := r.exportTraces(protoHTTP, tenant, req.Traces())
	if err != nil {
		return nil, false, err
	}
	resp := ptraceotlp.NewExportResponse()
	if t.rejected > 0 {
		resp.PartialSuccess().SetRejectedSpans(t.rejected)
		resp.PartialSuccess().SetErrorMessage(t.msg)
	}
	b, err := marshalResponse(resp.MarshalProto, resp.MarshalJSON, json)
	return b, t.rejected > 0, err
}

func (r *Receiver) httpMetrics(body []byte, json bool, tenant string) ([]byte, bool, error) {
	req := pmetricotlp.NewExportRequest()
	if err := unmarshalRequest(req.UnmarshalProto, req.UnmarshalJSON, body, json); err != nil {
		return nil, false, &refusal{refuseInvalid, fmt.Errorf("receiver: metrics request does not decode: %w", err)}
	}
	t, err := r.exportMetrics(protoHTTP, tenant, req.Metrics())
	if err != nil {
		return nil, false, err
	}
	resp := pmetricotlp.NewExportResponse()
	if t.rejected > 0 {
		resp.PartialSuccess().SetRejectedDataPoints(t.rejected)
		resp.PartialSuccess().SetErrorMessage(t.msg)
	}
	b, err := marshalResponse(resp.MarshalProto, resp.MarshalJSON, json)
	return b, t.rejected > 0, err
}

func unmarshalRequest(fromProto, fromJSON func([]byte) error, body []byte, json bool) error {
	if json {
		return fromJSON(body)
	}
	return fromProto(body)
}

func marshalResponse(toProto, toJSON func() ([]byte, error), json bool) ([]byte, error) {
	if json {
		return toJSON()
	}
	return toProto()
}

func (r *Receiver) serveOTLP(w http.ResponseWriter, req *http.Request, signal string, export httpExport) {
	if req.Method != http.MethodPost {
		r.m.request(protoHTTP, signal, outcomeUnsupported)
		w.Header().Set("Allow", http.MethodPost)
		http.Error(w, "only POST is supported", http.StatusMethodNotAllowed)
		return
	}
	mt, _, _ := mime.ParseMediaType(req.Header.Get("Content-Type"))
	json := mt == contentJSON
	if !json && mt != contentProto {
		r.m.request(protoHTTP, signal, outcomeUnsupported)
		http.Error(w, fmt.Sprintf("unsupported Content-Type %q: send %s or %s", req.Header.Get("Content-Type"), contentProto, contentJSON), http.StatusUnsupportedMediaType)
		return
	}
	body, code, err := readBody(w, req, r.cfg.MaxRequestBytes)
	if err != nil {
		r.m.request(protoHTTP, signal, bodyOutcome(code))
		r.writeStatus(w, json, code, codes.InvalidArgument, err)
		return
	}
	resp, partial, err := export(body, json, req.Header.Get(r.cfg.TenantHeader))
	if err != nil {
		kind := refuseUnavailable
		var rf *refusal
		if errors.As(err, &rf) {
			kind = rf.kind
		}
		r.m.request(protoHTTP, signal, kind.outcome())
		switch kind {
		case refuseInvalid:
			r.writeStatus(w, json, http.StatusBadRequest, codes.InvalidArgument, err)
		case refuseOverloaded:
			w.Header().Set("Retry-After", retryAfter(r.cfg.RetryDelay.Seconds()))
			r.writeStatus(w, json, http.StatusTooManyRequests, codes.ResourceExhausted, err)
		default:
			w.Header().Set("Retry-After", retryAfter(r.cfg.RetryDelay.Seconds()))
			r.writeStatus(w, json, http.StatusServiceUnavailable, codes.Unavailable, err)
		}
		return
	}
	outcome, ct := outcomeOK, contentProto
	if partial {
		outcome = outcomePartial
	}
	if json {
		ct = contentJSON
	}
	r.m.request(protoHTTP, signal, outcome)
	w.Header().Set("Content-Type", ct)
	w.WriteHeader(http.StatusOK)
	_, _ = w.Write(resp)
}

// readBody reads a request body of at most limit bytes once decompressed.
// On failure it returns the HTTP status to answer: 413 for a body over the
// limit, 415 for an unknown Content-Encoding, 400 otherwise.
func readBody(w http.ResponseWriter, req *http.Request, limit int64) ([]byte, int, error) {
	var in io.Reader = http.MaxBytesReader(w, req.Body, limit)
	switch enc := req.Header.Get("Content-Encoding"); enc {
	case "", "identity":
	case "gzip":
		zr, err := gzip.NewReader(in)
		if err != nil {
			return badBody(err, limit)
		}
		defer zr.Close()
		in = zr
	default:
		return nil, http.StatusUnsupportedMediaType, fmt.Errorf("unsupported Content-Encoding %q: send gzip or none", enc)
	}
	b, err := io.ReadAll(io.LimitReader(in, limit+1))
	if err != nil {
		return badBody(err, limit)
	}
	if int64(len(b)) > limit {
		return nil, http.StatusRequestEntityTooLarge, fmt.Errorf("request body larger than %d bytes once decompressed", limit)
	}
	return b, 0, nil
}

// bodyOutcome names readBody's failure status in weir_receiver_requests_total.
func bodyOutcome(code int) string {
	switch code {
	case http.StatusRequestEntityTooLarge:
		return outcomeTooLarge
	case http.StatusUnsupportedMediaType:
		return outcomeUnsupported
	}
	return outcomeInvalid
}

func badBody(err error, limit int64) ([]byte, int, error) {
	if _, ok := errors.AsType[*http.MaxBytesError](err); ok {
		return nil, http.StatusRequestEntityTooLarge, fmt.Errorf("request body larger than %d bytes", limit)
	}
	return nil, http.StatusBadRequest, fmt.Errorf("reading the request body: %w", err)
}

// writeStatus answers with a google.rpc.Status in the request's encoding,
// as OTLP/HTTP requires of failures.
func (r *Receiver) writeStatus(w http.ResponseWriter, json bool, httpCode int, code codes.Code, err error) {
	st := &spb.Status{Code: int32(code), Message: err.Error()}
	var b []byte
	var merr error
	ct := contentProto
	if json {
		ct = contentJSON
		b, merr = protojson.Marshal(st)
	} else {
		b, merr = proto.Marshal(st)
	}
	if merr != nil {
		http.Error(w, err.Error(), httpCode)
		return
	}
	w.Header().Set("Content-Type", ct)
	w.WriteHeader(httpCode)
	_, _ = w.Write(b)
}

// retryAfter is a Retry-After value: whole seconds, at least 1.
func retryAfter(seconds float64) string {
	return strconv.Itoa(max(1, int(math.Ceil(seconds))))
}
