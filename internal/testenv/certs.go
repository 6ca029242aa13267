package testenv

import (
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/tls"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/pem"
	"math/big"
	"net"
	"os"
	"path/filepath"
	"testing"
	"time"
)

// Cert is a certificate and its key, as PEM files and loaded.
type Cert struct {
	CertFile, KeyFile string
	TLS               tls.Certificate
	// Pool holds the certificate that signed this one (itself when
	// self-signed), for the peer that verifies it.
	Pool *x509.CertPool

	x509 *x509.Certificate
	key  *ecdsa.PrivateKey
}

// SelfSigned makes a self-signed CA certificate named cn, valid for
// 127.0.0.1 and dnsNames as a server and as a client, and writes it and its
// key in dir (cn.pem, cn-key.pem). It can sign others (see Cert.Sign).
func SelfSigned(t testing.TB, dir, cn string, dnsNames ...string) Cert {
	t.Helper()
	return newCert(t, dir, cn, true, nil, dnsNames)
}

// Sign makes a leaf certificate named cn signed by ca, usable as a server
// and as a client: for dnsNames only (so that a client connecting to
// 127.0.0.1 must name one of them as server name), or for 127.0.0.1 when
// there are none.
func (ca Cert) Sign(t testing.TB, dir, cn string, dnsNames ...string) Cert {
	t.Helper()
	return newCert(t, dir, cn, false, &ca, dnsNames)
}

func newCert(t testing.TB, dir, cn string, isCA bool, parent *Cert, dnsNames []string) Cert {
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	tmpl := &x509.Certificate{
		SerialNumber:          big.NewInt(time.Now().UnixNano()),
		Subject:               pkix.Name{CommonName: cn},
		NotBefore:             time.Now().Add(-time.Hour),
		NotAfter:              time.Now().Add(time.Hour),
		KeyUsage:              x509.KeyUsageDigitalSignature,
		ExtKeyUsage:           []x509.ExtKeyUsage{x509.ExtKeyUsageServerAuth, x509.ExtKeyUsageClientAuth},
		BasicConstraintsValid: true,
		DNSNames:              dnsNames,
	}
	if isCA {
		tmpl.IsCA = true
		tmpl.KeyUsage |= x509.KeyUsageCertSign
	}
	if isCA || len(dnsNames) == 0 {
		tmpl.IPAddresses = []net.IP{net.IPv4(127, 0, 0, 1)}
	}
	signer, signerKey := tmpl, key
	if parent != nil {
		signer, signerKey = parent.x509, parent.key
	}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, signer, &key.PublicKey, signerKey)
	if err != nil {
		t.Fatal(err)
	}
	parsed, err := x509.ParseCertificate(der)
	if err != nil {
		t.Fatal(err)
	}
	keyDER, err := x509.MarshalECPrivateKey(key)
	if err != nil {
		t.Fatal(err)
	}
	certPEM := pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: der})
	keyPEM := pem.EncodeToMemory(&pem.Block{Type: "EC PRIVATE KEY", Bytes: keyDER})
	c := Cert{CertFile: filepath.Join(dir, cn+".pem"), KeyFile: filepath.Join(dir, cn+"-key.pem"), x509: parsed, key: key}
	if err := os.WriteFile(c.CertFile, certPEM, 0o600); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(c.KeyFile, keyPEM, 0o600); err != nil {
		t.Fatal(err)
	}
	if c.TLS, err = tls.X509KeyPair(certPEM, keyPEM); err != nil {
		t.Fatal(err)
	}
	c.Pool = x509.NewCertPool()
	if parent != nil {
		c.Pool.AddCert(parent.x509)
	} else {
		c.Pool.AddCert(parsed)
	}
	return c
}
