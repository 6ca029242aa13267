package testenv

import (
	"crypto/tls"
	"crypto/x509"
	"testing"
)

// CA is a certificate authority made for one test (a self-signed Cert),
// its PEM certificate in File. Certificates it issues are trusted by whoever
// trusts File, and by no one else.
type CA struct {
	// File is the PEM file of the CA certificate, to give a client as its
	// CA file.
	File string

	dir  string
	cert Cert
}

// NewCA makes a CA named name whose files live in a directory of t's,
// removed when t ends. It fails the test when it cannot.
func NewCA(t testing.TB, name string) *CA {
	t.Helper()
	dir := t.TempDir()
	c := SelfSigned(t, dir, name)
	return &CA{File: c.CertFile, dir: dir, cert: c}
}

// Issue makes a certificate named name for hosts (IP addresses or DNS
// names), signed by the CA and good for both TLS servers and clients, and
// writes it and its unencrypted PKCS#8 private key as PEM files (the key
// file readable by the owner only). It fails the test when it cannot.
func (ca *CA) Issue(t testing.TB, name string, hosts ...string) (certFile, keyFile string) {
	t.Helper()
	c := ca.cert.Sign(t, ca.dir, name, hosts...)
	return c.CertFile, c.KeyFile
}

// Pool returns a pool holding the CA certificate alone.
func (ca *CA) Pool() *x509.CertPool { return ca.cert.Pool }

// ClientTLS returns a TLS client configuration that trusts the CA alone.
func (ca *CA) ClientTLS() *tls.Config {
	return &tls.Config{RootCAs: ca.Pool(), MinVersion: tls.VersionTLS12}
}
