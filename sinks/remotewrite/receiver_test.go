package remotewrite

import (
	"crypto/tls"
	"fmt"
	"io"
	"log"
	"net/http"
	"net/http/httptest"
	"slices"
	"sync"
	"testing"

	"github.com/golang/snappy"
	"github.com/prometheus/prometheus/prompb"
)

// received is one request as the test receiver decoded it.
type received struct {
	header http.Header
	peer   string // the common name of the client's certificate, over mutual TLS
	code   int    // the status answered (0 when respond wrote the answer itself)
	uri    string // the request's path and query
	raw    []byte // uncompressed protobuf
	req    prompb.WriteRequest
}

// receiver is a remote-write endpoint for tests: it decodes every request the
// way Prometheus does (snappy block, then protobuf), records it, and answers
// with what respond says (204 when respond is nil or returns 0; respond may
// write a body after the status, which serve then leaves alone).
type receiver struct {
	t       *testing.T
	srv     *httptest.Server
	respond func(n int, r *received, w http.ResponseWriter) int

	mu   sync.Mutex
	reqs []received
}

func newReceiver(t *testing.T, respond func(n int, r *received, w http.ResponseWriter) int) *receiver {
	t.Helper()
	return startReceiver(t, respond, nil)
}

// startReceiver starts a receiver, over TLS with tlsCfg when it is not nil.
func startReceiver(t *testing.T, respond func(n int, r *received, w http.ResponseWriter) int, tlsCfg *tls.Config) *receiver {
	t.Helper()
	rc := &receiver{t: t, respond: respond}
	rc.srv = httptest.NewUnstartedServer(http.HandlerFunc(rc.serve))
	if tlsCfg != nil {
		rc.srv.TLS = tlsCfg
		rc.srv.Config.ErrorLog = log.New(io.Discard, "", 0) // refused handshakes are what the tests try
		rc.srv.StartTLS()
	} else {
		rc.srv.Start()
	}
	t.Cleanup(rc.srv.Close)
	return rc
}

// answering is a respond function that gives each request the status of
// codes in turn, then 204.
func answering(codes ...int) func(int, *received, http.ResponseWriter) int {
	return func(n int, _ *received, _ http.ResponseWriter) int {
		if n < len(codes) {
			return codes[n]
		}
		return 0
	}
}

func (rc *receiver) serve(w http.ResponseWriter, r *http.Request) {
	body, err := io.ReadAll(r.Body)
	if err != nil {
		rc.t.Errorf("receiver: reading body: %v", err)
		w.WriteHeader(http.StatusBadRequest)
		return
	}
	raw, err := snappy.Decode(nil, body)
	if err != nil {
		rc.t.Errorf("receiver: snappy: %v", err)
		w.WriteHeader(http.StatusBadRequest)
		return
	}
	var wr prompb.WriteRequest
	if err := wr.Unmarshal(raw); err != nil {
		rc.t.Errorf("receiver: protobuf: %v", err)
		w.WriteHeader(http.StatusBadRequest)
		return
	}
	rec := received{header: r.Header.Clone(), raw: raw, req: wr, uri: r.RequestURI}
	if r.TLS != nil && len(r.TLS.PeerCertificates) > 0 {
		rec.peer = r.TLS.PeerCertificates[0].Subject.CommonName
	}
	rc.mu.Lock()
	n := len(rc.reqs)
	rc.reqs = append(rc.reqs, rec)
	rc.mu.Unlock()
	code := 0
	if rc.respond != nil {
		code = rc.respond(n, &rec, w)
	}
	if code < 0 { // respond wrote the answer
		return
	}
	if code == 0 {
		code = http.StatusNoContent
	}
	rc.mu.Lock()
	rc.reqs[n].code = code
	rc.mu.Unlock()
	w.WriteHeader(code)
	if code/100 != 2 {
		fmt.Fprintf(w, "answer %d to request %d", code, n)
	}
}

func (rc *receiver) requests() []received {
	rc.mu.Lock()
	defer rc.mu.Unlock()
	return append([]received(nil), rc.reqs...)
}

func (rc *receiver) url() string { return rc.srv.URL + "/api/v1/write" }

// series builds a series named name with n samples at t=start.. and, when
// withExemplar, one exemplar linking the last sample to a trace.
func series(name string, start int64, n int, withExemplar bool) prompb.TimeSeries {
	ts := prompb.TimeSeries{Labels: []prompb.Label{
		{Name: "__name__", Value: name}, {Name: "service", Value: "checkout"},
	}}
	for i := range n {
		ts.Samples = append(ts.Samples, prompb.Sample{Value: float64(start) + float64(i)/2, Timestamp: start + int64(i)})
	}
	if withExemplar {
		ts.Exemplars = append(ts.Exemplars, prompb.Exemplar{
			Labels: []prompb.Label{
				{Name: "trace_id", Value: "4bf92f3577b34da6a3ce929d0e0e4736"},
				{Name: "span_id", Value: "00f067aa0ba902b7"},
			},
			Value:     0.25,
			Timestamp: start + int64(n) - 1,
		})
	}
	return ts
}

func labelsEqual(a, b []prompb.Label) bool {
	return slices.EqualFunc(a, b, func(x, y prompb.Label) bool { return x.Name == y.Name && x.Value == y.Value })
}

func samplesEqual(a, b []prompb.Sample) bool {
	return slices.EqualFunc(a, b, func(x, y prompb.Sample) bool { return x.Value == y.Value && x.Timestamp == y.Timestamp })
}
