package otlptrace

import (
	"crypto/tls"

	commoncfg "github.com/prometheus/common/config"
	"google.golang.org/grpc/credentials"
	"google.golang.org/grpc/credentials/insecure"
)

// transportCredentials builds what the config's security option asks for.
// The CA file and the client certificate are read here, so that a missing or
// bad file fails New; the client certificate is read again at each
// handshake.
func (c *config) transportCredentials() (credentials.TransportCredentials, error) {
	switch c.security {
	case securityInsecure:
		return insecure.NewCredentials(), nil
	case securityConfig:
		cfg := c.tlsConfig.Clone()
		if c.serverName != "" {
			cfg.ServerName = c.serverName
		}
		return credentials.NewTLS(cfg), nil
	default:
		cfg, err := commoncfg.NewTLSConfig(&commoncfg.TLSConfig{
			CAFile:     c.caFile,
			CertFile:   c.certFile,
			KeyFile:    c.keyFile,
			ServerName: c.serverName,
			MinVersion: tls.VersionTLS12,
		})
		if err != nil {
			return nil, err
		}
		return credentials.NewTLS(cfg), nil
	}
}
