package otlptrace

import (
	"context"
	"crypto/tls"
	"errors"
	"strings"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus/testutil"
	"go.opentelemetry.io/collector/pdata/ptrace/ptraceotlp"
	"google.golang.org/grpc"
	"google.golang.org/grpc/credentials"
	"google.golang.org/grpc/peer"

	"github.com/weirdev/weir/internal/testenv"
)

func newTLSExporter(t *testing.T, endpoint string, opts ...Opt) *Exporter {
	t.Helper()
	e, err := New(endpoint, append([]Opt{WithBackoff(time.Millisecond, 5*time.Millisecond)}, opts...)...)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { e.Close(context.Background()) })
	return e
}

func TestExportOverTLS(t *testing.T) {
	dir := t.TempDir()
	server := testenv.SelfSigned(t, dir, "weir-server")
	srv := &traceServer{}
	addr := srv.start(t, grpc.Creds(credentials.NewServerTLSFromCert(&server.TLS)))

	for name, opt := range map[string]Opt{
		"WithTLS":       WithTLS(server.CertFile, "", ""),
		"WithTLSConfig": WithTLSConfig(&tls.Config{RootCAs: server.Pool}),
	} {
		t.Run(name, func(t *testing.T) {
			e := newTLSExporter(t, addr, opt)
			if err := e.Export(context.Background(), testTraces(3)); err != nil {
				t.Fatal(err)
			}
		})
	}
	if got := len(srv.requests()); got != 2 {
		t.Errorf("server got %d requests, want 2", got)
	}
}

func TestExportOverMutualTLS(t *testing.T) {
	dir := t.TempDir()
	server := testenv.SelfSigned(t, dir, "weir-server")
	client := testenv.SelfSigned(t, dir, "weir-client")
	peerCN := make(chan string, 10)
	srv := &traceServer{respond: func(ctx context.Context, _ int) (ptraceotlp.ExportResponse, error) {
		if p, ok := peer.FromContext(ctx); ok {
			if info, ok := p.AuthInfo.(credentials.TLSInfo); ok && len(info.State.PeerCertificates) > 0 {
				peerCN <- info.State.PeerCertificates[0].Subject.CommonName
			}
		}
		return ptraceotlp.NewExportResponse(), nil
	}}
	addr := srv.start(t, grpc.Creds(credentials.NewTLS(&tls.Config{
		Certificates: []tls.Certificate{server.TLS},
		ClientAuth:   tls.RequireAndVerifyClientCert,
		ClientCAs:    client.Pool,
	})))

	e := newTLSExporter(t, addr, WithTLS(server.CertFile, client.CertFile, client.KeyFile))
	if err := e.Export(context.Background(), testTraces(2)); err != nil {
		t.Fatal(err)
	}
	select {
	case cn := <-peerCN:
		if cn != "weir-client" {
			t.Errorf("server saw client certificate %q, want weir-client", cn)
		}
	default:
		t.Errorf("server saw no client certificate")
	}

	// Without a client certificate the server refuses the handshake, which
	// gRPC reports as Unavailable: retried until the context ends.
	bare := newTLSExporter(t, addr, WithTLS(server.CertFile, "", ""))
	ctx, cancel := context.WithTimeout(context.Background(), 300*time.Millisecond)
	defer cancel()
	if err := bare.Export(ctx, testTraces(1)); !errors.Is(err, context.DeadlineExceeded) {
		t.Errorf("export without a client certificate: err = %v, want DeadlineExceeded", err)
	}
}

func TestExportRefusesUntrustedServer(t *testing.T) {
	server := testenv.SelfSigned(t, t.TempDir(), "weir-server")
	srv := &traceServer{}
	addr := srv.start(t, grpc.Creds(credentials.NewServerTLSFromCert(&server.TLS)))

	e := newTLSExporter(t, addr) // default: TLS against the system's roots
	ctx, cancel := context.WithTimeout(context.Background(), 300*time.Millisecond)
	defer cancel()
	err := e.Export(ctx, testTraces(1))
	if !errors.Is(err, context.DeadlineExceeded) || !strings.Contains(err.Error(), "certificate") {
		t.Errorf("export to an untrusted server: err = %v, want DeadlineExceeded naming the certificate problem", err)
	}
	if got := len(srv.requests()); got != 0 {
		t.Errorf("server got %d requests over an untrusted connection, want 0", got)
	}
}

// TestExportServerName: the server's certificate names jaeger.internal only,
// so the exporter dialling 127.0.0.1 verifies it only with that server name.
func TestExportServerName(t *testing.T) {
	dir := t.TempDir()
	ca := testenv.SelfSigned(t, dir, "weir-ca")
	server := ca.Sign(t, dir, "jaeger", "jaeger.internal")
	srv := &traceServer{}
	addr := srv.start(t, grpc.Creds(credentials.NewServerTLSFromCert(&server.TLS)))

	e := newTLSExporter(t, addr, WithTLS(ca.CertFile, "", ""), WithServerName("jaeger.internal"))
	if err := e.Export(context.Background(), testTraces(1)); err != nil {
		t.Fatal(err)
	}
	wrong := newTLSExporter(t, addr, WithTLS(ca.CertFile, "", ""))
	ctx, cancel := context.WithCancel(context.Background())
	go func() {
		for testutil.ToFloat64(wrong.m.retries) < 2 {
			time.Sleep(time.Millisecond)
		}
		cancel()
	}()
	if err := wrong.Export(ctx, testTraces(1)); !errors.Is(err, context.Canceled) || !strings.Contains(err.Error(), "127.0.0.1") {
		t.Errorf("export without the server name: err = %v, want retries until cancelled, naming the IP the certificate lacks", err)
	}
	if got := len(srv.requests()); got != 1 {
		t.Errorf("server got %d requests, want 1", got)
	}
}
