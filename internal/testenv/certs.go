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

// certLifetime is how long a test certificate is valid, from an hour before
// it was made (the clocks of a test's processes may disagree a little).
const certLifetime = 7 * 24 * time.Hour

// SelfSigned makes a self-signed CA certificate named cn, valid for
// 127.0.0.1 and hosts (DNS names or IP addresses) as a server and as a
// client, and writes it and its PKCS#8 key in dir (cn.pem, cn-key.pem, the
// key readable by the owner only). It can sign others (see Cert.Sign).
func SelfSigned(t testing.TB, dir, cn string, hosts ...string) Cert {
	t.Helper()
	return newCert(t, dir, cn, true, nil, hosts)
}

// Sign makes a leaf certificate named cn signed by ca, usable as a server
// and as a client: for hosts only (so that a client connecting to 127.0.0.1
// must name one of them as server name), or for 127.0.0.1 when there are
// none.
func (ca Cert) Sign(t testing.TB, dir, cn string, hosts ...string) Cert {
	t.Helper()
	return newCert(t, dir, cn, false, &ca, hosts)
}

func newCert(t testing.TB, dir, cn string, isCA bool, parent *Cert, hosts []string) Cert {
	t.Helper()
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	serial, err := rand.Int(rand.Reader, new(big.Int).Lsh(big.NewInt(1), 127))
	if err != nil {
		t.Fatal(err)
	}
	now := time.Now()
	tmpl := &x509.Certificate{
		SerialNumber:          serial,
		Subject:               pkix.Name{CommonName: cn, Organization: []string{"weir tests"}},
		NotBefore:             now.Add(-time.Hour),
		NotAfter:              now.Add(certLifetime),
		KeyUsage:              x509.KeyUsageDigitalSignature,
		ExtKeyUsage:           []x509.ExtKeyUsage{x509.ExtKeyUsageServerAuth, x509.ExtKeyUsageClientAuth},
		BasicConstraintsValid: true,
	}
	for _, h := range hosts {
		if ip := net.ParseIP(h); ip != nil {
			tmpl.IPAddresses = append(tmpl.IPAddresses, ip)
		} else {
			tmpl.DNSNames = append(tmpl.DNSNames, h)
		}
	}
	if isCA {
		tmpl.IsCA = true
		tmpl.KeyUsage |= x509.KeyUsageCertSign | x509.KeyUsageCRLSign
	}
	if isCA || len(hosts) == 0 {
		tmpl.IPAddresses = append(tmpl.IPAddresses, net.IPv4(127, 0, 0, 1))
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
	keyDER, err := x509.MarshalPKCS8PrivateKey(key)
	if err != nil {
		t.Fatal(err)
	}
	certPEM := pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: der})
	keyPEM := pem.EncodeToMemory(&pem.Block{Type: "PRIVATE KEY", Bytes: keyDER})
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
