package otlptrace

import (
	"context"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/tls"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/pem"
	"errors"
	"math/big"
	"net"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"go.opentelemetry.io/collector/pdata/ptrace/ptraceotlp"
	"google.golang.org/grpc"
	"google.golang.org/grpc/credentials"
	"google.golang.org/grpc/peer"
)

// selfSigned makes a self-signed certificate for 127.0.0.1 (usable as its own
// root) and writes it and its key as PEM files in dir.
func selfSigned(t *testing.T, dir, cn string) (certFile, keyFile string, cert tls.Certificate, pool *x509.CertPool) {
	t.Helper()
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	tmpl := &x509.Certificate{
		SerialNumber:          big.NewInt(time.Now().UnixNano()),
		Subject:               pkix.Name{CommonName: cn},
		NotBefore:             time.Now().Add(-time.Hour),
		NotAfter:              time.Now().Add(time.Hour),
		KeyUsage:              x509.KeyUsageDigitalSignature | x509.KeyUsageCertSign,
		ExtKeyUsage:           []x509.ExtKeyUsage{x509.ExtKeyUsageServerAuth, x509.ExtKeyUsageClientAuth},
		BasicConstraintsValid: true,
		IsCA:                  true,
		IPAddresses:           []net.IP{net.IPv4(127, 0, 0, 1)},
	}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, tmpl, &key.PublicKey, key)
	if err != nil {
		t.Fatal(err)
	}
	keyDER, err := x509.MarshalECPrivateKey(key)
	if err != nil {
		t.Fatal(err)
	}
	certPEM := pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: der})
	keyPEM := pem.EncodeToMemory(&pem.Block{Type: "EC PRIVATE KEY", Bytes: keyDER})
	certFile, keyFile = filepath.Join(dir, cn+".pem"), filepath.Join(dir, cn+"-key.pem")
	if err := os.WriteFile(certFile, certPEM, 0o600); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(keyFile, keyPEM, 0o600); err != nil {
		t.Fatal(err)
	}
	cert, err = tls.X509KeyPair(certPEM, keyPEM)
	if err != nil {
		t.Fatal(err)
	}
	pool = x509.NewCertPool()
	pool.AppendCertsFromPEM(certPEM)
	return certFile, keyFile, cert, pool
}

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
	caFile, _, serverCert, pool := selfSigned(t, dir, "weir-server")
	srv := &traceServer{}
	addr := srv.start(t, grpc.Creds(credentials.NewServerTLSFromCert(&serverCert)))

	for name, opt := range map[string]Opt{
		"WithTLS":       WithTLS(caFile, "", ""),
		"WithTLSConfig": WithTLSConfig(&tls.Config{RootCAs: pool}),
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
	caFile, _, serverCert, _ := selfSigned(t, dir, "weir-server")
	clientCertFile, clientKeyFile, _, clientPool := selfSigned(t, dir, "weir-client")
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
		Certificates: []tls.Certificate{serverCert},
		ClientAuth:   tls.RequireAndVerifyClientCert,
		ClientCAs:    clientPool,
	})))

	e := newTLSExporter(t, addr, WithTLS(caFile, clientCertFile, clientKeyFile))
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
	bare := newTLSExporter(t, addr, WithTLS(caFile, "", ""))
	ctx, cancel := context.WithTimeout(context.Background(), 300*time.Millisecond)
	defer cancel()
	if err := bare.Export(ctx, testTraces(1)); !errors.Is(err, context.DeadlineExceeded) {
		t.Errorf("export without a client certificate: err = %v, want DeadlineExceeded", err)
	}
}

func TestExportRefusesUntrustedServer(t *testing.T) {
	_, _, serverCert, _ := selfSigned(t, t.TempDir(), "weir-server")
	srv := &traceServer{}
	addr := srv.start(t, grpc.Creds(credentials.NewServerTLSFromCert(&serverCert)))

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
