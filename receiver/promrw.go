package receiver

import (
	"errors"
	"fmt"
	"io"
	"net/http"

	remoteapi "github.com/prometheus/client_golang/exp/api/remote"
	"github.com/prometheus/prometheus/prompb"
	writev2 "github.com/prometheus/prometheus/prompb/io/prometheus/write/v2"
)

// RemoteWritePath is where remote write is taken, as by Prometheus and
// vmagent.
const RemoteWritePath = "/api/v1/write"

// remoteWriteHandler is client_golang's remote-write handler (content
// negotiation, snappy, the 2.0 written-count headers) over rwStore.
func (r *Receiver) remoteWriteHandler() http.Handler {
	h := remoteapi.NewWriteHandler(rwStore{r}, remoteapi.MessageTypes{remoteapi.WriteV1MessageType, remoteapi.WriteV2MessageType},
		remoteapi.WithWriteHandlerLogger(r.log))
	mux := http.NewServeMux()
	mux.Handle(RemoteWritePath, http.MaxBytesHandler(h, r.cfg.MaxRequestBytes))
	return mux
}

type rwStore struct{ r *Receiver }

// Store converts a decompressed request to OTLP metrics and writes them.
func (s rwStore) Store(req *http.Request, msgType remoteapi.WriteMessageType) (*remoteapi.WriteResponse, error) {
	r := s.r
	resp := remoteapi.NewWriteResponse()
	fail := func(code int, outcome string, err error) (*remoteapi.WriteResponse, error) {
		r.m.request(protoRemoteWrite, signalMetrics, outcome)
		resp.SetStatusCode(code)
		return resp, err
	}
	body, err := io.ReadAll(req.Body)
	if err != nil {
		return fail(http.StatusBadRequest, outcomeInvalid, fmt.Errorf("reading the request body: %w", err))
	}
	var c rwConverted
	v2 := msgType == remoteapi.WriteV2MessageType
	if v2 {
		var wr writev2.Request
		if err := wr.Unmarshal(body); err != nil {
			return fail(http.StatusBadRequest, outcomeInvalid, fmt.Errorf("remote write 2.0 request does not decode: %w", err))
		}
		c = convertV2(&wr)
	} else {
		var wr prompb.WriteRequest
		if err := wr.Unmarshal(body); err != nil {
			return fail(http.StatusBadRequest, outcomeInvalid, fmt.Errorf("remote write 1.0 request does not decode: %w", err))
		}
		c = convertV1(&wr)
	}
	r.m.refused(protoRemoteWrite, signalMetrics, reasonInvalid, int64(c.invalid))
	r.m.refused(protoRemoteWrite, signalMetrics, reasonUnsupported, int64(c.histograms))
	if c.histograms > 0 {
		r.log.Debug("remote write: native histograms are not converted", "samples", c.histograms)
	}
	t, err := r.exportMetrics(protoRemoteWrite, req.Header.Get(r.cfg.TenantHeader), c.md)
	if err != nil {
		var rf *refusal
		if errors.As(err, &rf) && rf.kind == refuseInvalid {
			return fail(http.StatusBadRequest, outcomeInvalid, err)
		}
		// Prometheus and vmagent retry 5xx, and 429 only when told to.
		resp.SetExtraHeader("Retry-After", retryAfter(r.cfg.RetryDelay.Seconds()))
		kind := refuseUnavailable
		if rf != nil {
			kind = rf.kind
		}
		return fail(http.StatusServiceUnavailable, kind.outcome(), err)
	}
	if v2 {
		written := remoteapi.WriteResponseStats{Samples: int(t.accepted)}
		if t.rejected == 0 {
			written.Exemplars = c.exemplars
		}
		resp.Add(written)
	}
	switch {
	case t.rejected > 0:
		return fail(http.StatusBadRequest, outcomeInvalid, fmt.Errorf("%d samples not written: %s", t.rejected, t.msg))
	case v2 && len(c.errs) > 0:
		// As Prometheus: the valid series are written, the sender is told
		// (400) that the rest will never be.
		return fail(http.StatusBadRequest, outcomeInvalid, errors.Join(c.errs...))
	}
	// A 1.0 request's invalid series are left out silently, as Prometheus
	// does; they are counted.
	r.m.request(protoRemoteWrite, signalMetrics, outcomeOK)
	return resp, nil
}
