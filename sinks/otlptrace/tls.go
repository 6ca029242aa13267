package otlptrace

import (
	"crypto/tls"
	"crypto/x509"
	"fmt"
	"os"

	"google.golang.org/grpc/credentials"
	"google.golang.org/grpc/credentials/insecure"
)

// transportCredentials builds what the config's security option asks for.
// Files are read here, once, so that a missing or bad file fails New.
func (c *config) transportCredentials() (credentials.TransportCredentials, error) {
	switch c.security {
	case securityInsecure:
		return insecure.NewCredentials(), nil
	case securityConfig:
		return credentials.NewTLS(c.tlsConfig.Clone()), nil
	case securityFiles:
		cfg := &tls.Config{MinVersion: tls.VersionTLS12}
		if c.caFile != "" {
			pem, err := os.ReadFile(c.caFile)
			if err != nil {
				return nil, fmt.Errorf("reading CA file: %w", err)
			}
			pool := x509.NewCertPool()
			if !pool.AppendCertsFromPEM(pem) {
				return nil, fmt.Errorf("CA file %q: no PEM certificate found", c.caFile)
			}
			cfg.RootCAs = pool
		}
		if (c.certFile == "") != (c.keyFile == "") {
			return nil, fmt.Errorf("client certificate %q and key %q: give both or neither", c.certFile, c.keyFile)
		}
		if c.certFile != "" {
			cert, err := tls.LoadX509KeyPair(c.certFile, c.keyFile)
			if err != nil {
				return nil, fmt.Errorf("client certificate %q and key %q: %w", c.certFile, c.keyFile, err)
			}
			cfg.Certificates = []tls.Certificate{cert}
		}
		return credentials.NewTLS(cfg), nil
	default:
		return credentials.NewTLS(&tls.Config{MinVersion: tls.VersionTLS12}), nil
	}
}
