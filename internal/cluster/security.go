package cluster

import (
	"cmp"
	"context"
	"crypto/tls"
	"crypto/x509"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"sync"
	"time"

	commoncfg "github.com/prometheus/common/config"
	"github.com/twmb/franz-go/pkg/kgo"
	"github.com/twmb/franz-go/pkg/sasl"
	"github.com/twmb/franz-go/pkg/sasl/oauth"
	"github.com/twmb/franz-go/pkg/sasl/plain"
	"github.com/twmb/franz-go/pkg/sasl/scram"
)

// Security is how the clients of one Kafka cluster protect their
// connections: TLS and SASL. Its YAML shape is the OpenTelemetry
// Collector's Kafka client settings (pkg/kafka/configkafka: `tls` and
// `auth.sasl`), so that a kafkaexporter's or kafkareceiver's block reads
// the same. The zero value is plaintext without authentication.
type Security struct {
	// TLS, when present, dials the brokers with TLS (unless Insecure),
	// as the collector does for a `tls:` block, even an empty one.
	TLS  *TLS `yaml:"tls"`
	Auth Auth `yaml:"auth"`
}

// TLS is the collector's configtls client settings that weir supports.
type TLS struct {
	// Insecure turns TLS off: the collector's `tls: {insecure: true}`.
	Insecure bool `yaml:"insecure"`
	// CAFile (or CAPEM) is the CA the brokers' certificates must chain to;
	// without either, the system's roots.
	CAFile string `yaml:"ca_file"`
	CAPEM  string `yaml:"ca_pem"`
	// IncludeSystemCACertsPool trusts the system's roots besides the CA.
	IncludeSystemCACertsPool bool `yaml:"include_system_ca_certs_pool"`
	// CertFile and KeyFile (or the PEM settings) are the client's
	// certificate, for brokers that ask for one. The files are read again
	// when they change, so that a rotated certificate takes effect on the
	// next connection.
	CertFile string           `yaml:"cert_file"`
	CertPEM  string           `yaml:"cert_pem"`
	KeyFile  string           `yaml:"key_file"`
	KeyPEM   commoncfg.Secret `yaml:"key_pem"`
	// ServerName is the name the brokers' certificates must hold (default:
	// the host of the broker dialled). ServerNameOverride is the
	// collector's name for it.
	ServerName         string `yaml:"server_name"`
	ServerNameOverride string `yaml:"server_name_override"`
	InsecureSkipVerify bool   `yaml:"insecure_skip_verify"`
	// MinVersion and MaxVersion are "1.0" to "1.3" (default: 1.2 and the
	// newest).
	MinVersion string `yaml:"min_version"`
	MaxVersion string `yaml:"max_version"`
}

// Auth is the collector's `auth` block; only SASL is supported.
type Auth struct {
	SASL *SASL `yaml:"sasl"`
}

// SASL mechanisms.
const (
	SASLPlain       = "PLAIN"
	SASLScramSHA256 = "SCRAM-SHA-256"
	SASLScramSHA512 = "SCRAM-SHA-512"
	SASLOAuthBearer = "OAUTHBEARER"
)

// SASL is the collector's `auth.sasl` block, with files for the secrets.
// PLAIN and SCRAM take Username and Password (or PasswordFile);
// OAUTHBEARER takes a static Token (or TokenFile) where the collector
// takes a token-source extension. Files are read for every authentication,
// so that a rotated secret takes effect on the next connection or
// re-authentication.
type SASL struct {
	Mechanism    string           `yaml:"mechanism"`
	Username     string           `yaml:"username"`
	Password     commoncfg.Secret `yaml:"password"`
	PasswordFile string           `yaml:"password_file"`
	Token        commoncfg.Secret `yaml:"token"`
	TokenFile    string           `yaml:"token_file"`
}

var tlsVersions = map[string]uint16{"1.0": tls.VersionTLS10, "1.1": tls.VersionTLS11, "1.2": tls.VersionTLS12, "1.3": tls.VersionTLS13}

// SetDirectory resolves the relative file names against dir (the config
// file's directory).
func (s *Security) SetDirectory(dir string) {
	join := func(p *string) {
		if *p != "" && !filepath.IsAbs(*p) {
			*p = filepath.Join(dir, *p)
		}
	}
	if t := s.TLS; t != nil {
		join(&t.CAFile)
		join(&t.CertFile)
		join(&t.KeyFile)
	}
	if a := s.Auth.SASL; a != nil {
		join(&a.PasswordFile)
		join(&a.TokenFile)
	}
}

// Validate checks the settings without reading any file. Each error names
// the field, as written in the YAML (tls.ca_file, auth.sasl.mechanism);
// none holds a secret.
func (s *Security) Validate() error {
	type check struct {
		bad         bool
		field, what string
	}
	var checks []check
	if t := s.TLS; t != nil {
		others := *t
		others.Insecure = false
		checks = append(checks,
			check{t.Insecure && others != (TLS{}), "tls.insecure", "true turns TLS off: give no other tls setting with it"},
			check{t.CAFile != "" && t.CAPEM != "", "tls.ca_file", "together with tls.ca_pem: give one"},
			check{t.CertFile != "" && t.CertPEM != "", "tls.cert_file", "together with tls.cert_pem: give one"},
			check{t.KeyFile != "" && t.KeyPEM != "", "tls.key_file", "together with tls.key_pem: give one"},
			check{(t.CertFile != "" || t.CertPEM != "") != (t.KeyFile != "" || t.KeyPEM != ""), "tls.cert_file", "and tls.key_file (or their _pem forms): give both or neither"},
			check{t.ServerName != "" && t.ServerNameOverride != "" && t.ServerName != t.ServerNameOverride, "tls.server_name", "differs from tls.server_name_override (the collector's name for it): give one"},
			check{t.MinVersion != "" && tlsVersions[t.MinVersion] == 0, "tls.min_version", fmt.Sprintf("%q is not 1.0, 1.1, 1.2 or 1.3", t.MinVersion)},
			check{t.MaxVersion != "" && tlsVersions[t.MaxVersion] == 0, "tls.max_version", fmt.Sprintf("%q is not 1.0, 1.1, 1.2 or 1.3", t.MaxVersion)},
			check{t.MinVersion != "" && t.MaxVersion != "" && tlsVersions[t.MinVersion] > tlsVersions[t.MaxVersion], "tls.min_version", "is above tls.max_version"},
		)
	}
	if a := s.Auth.SASL; a != nil {
		userPass := slices.Contains([]string{SASLPlain, SASLScramSHA256, SASLScramSHA512}, a.Mechanism)
		bearer := a.Mechanism == SASLOAuthBearer
		checks = append(checks,
			check{!userPass && !bearer, "auth.sasl.mechanism", fmt.Sprintf("%q is not PLAIN, SCRAM-SHA-256, SCRAM-SHA-512 or OAUTHBEARER (Kerberos and AWS_MSK_IAM_OAUTHBEARER are not supported)", a.Mechanism)},
			check{userPass && a.Username == "", "auth.sasl.username", "required for " + a.Mechanism},
			check{userPass && a.Password == "" && a.PasswordFile == "", "auth.sasl.password", "required for " + a.Mechanism + " (or auth.sasl.password_file)"},
			check{a.Password != "" && a.PasswordFile != "", "auth.sasl.password_file", "together with auth.sasl.password: give one"},
			check{bearer && (a.Username != "" || a.Password != "" || a.PasswordFile != ""), "auth.sasl.username", "OAUTHBEARER takes a token, not a username and password"},
			check{bearer && a.Token == "" && a.TokenFile == "", "auth.sasl.token_file", "required for OAUTHBEARER (or auth.sasl.token)"},
			check{a.Token != "" && a.TokenFile != "", "auth.sasl.token_file", "together with auth.sasl.token: give one"},
			check{userPass && (a.Token != "" || a.TokenFile != ""), "auth.sasl.token", "only OAUTHBEARER takes a token"},
		)
	}
	var errs []error
	for _, c := range checks {
		if c.bad {
			errs = append(errs, fmt.Errorf("%s: %s", c.field, c.what))
		}
	}
	return errors.Join(errs...)
}

// Opts validates s and returns the client options that apply it:
// kgo.DialTLSConfig and kgo.SASL. It reads the CA, the client certificate
// and the secret files once, so that a missing or bad file is an error at
// start, naming the field and the file (never its content).
func (s *Security) Opts() ([]kgo.Opt, error) {
	if err := s.Validate(); err != nil {
		return nil, err
	}
	var opts []kgo.Opt
	if t := s.TLS; t != nil && !t.Insecure {
		c, err := t.config()
		if err != nil {
			return nil, err
		}
		opts = append(opts, kgo.DialTLSConfig(c))
	}
	if a := s.Auth.SASL; a != nil {
		m, err := a.mechanism()
		if err != nil {
			return nil, err
		}
		opts = append(opts, kgo.SASL(m))
	}
	return opts, nil
}

func (t *TLS) config() (*tls.Config, error) {
	c := &tls.Config{
		MinVersion:         tls.VersionTLS12,
		ServerName:         cmp.Or(t.ServerName, t.ServerNameOverride),
		InsecureSkipVerify: t.InsecureSkipVerify, //nolint:gosec // asked for by the operator
	}
	if v := tlsVersions[t.MinVersion]; v != 0 {
		c.MinVersion = v
	}
	c.MaxVersion = tlsVersions[t.MaxVersion]
	if t.CAFile != "" || t.CAPEM != "" {
		pool := x509.NewCertPool()
		if t.IncludeSystemCACertsPool {
			sys, err := x509.SystemCertPool()
			if err != nil {
				return nil, fmt.Errorf("tls.include_system_ca_certs_pool: %w", err)
			}
			pool = sys
		}
		field, pem := "tls.ca_pem", []byte(t.CAPEM)
		if t.CAFile != "" {
			b, err := os.ReadFile(t.CAFile)
			if err != nil {
				return nil, fmt.Errorf("tls.ca_file: %w", err)
			}
			field, pem = "tls.ca_file "+t.CAFile, b
		}
		if !pool.AppendCertsFromPEM(pem) {
			return nil, fmt.Errorf("%s: no PEM certificate in it", field)
		}
		c.RootCAs = pool
	}
	switch {
	case t.CertFile != "":
		r := &certFiles{cert: t.CertFile, key: t.KeyFile}
		if _, err := r.get(); err != nil {
			return nil, err
		}
		c.GetClientCertificate = func(*tls.CertificateRequestInfo) (*tls.Certificate, error) { return r.get() }
	case t.CertPEM != "":
		cert, err := tls.X509KeyPair([]byte(t.CertPEM), []byte(t.KeyPEM))
		if err != nil {
			// The error of X509KeyPair never quotes the key.
			return nil, fmt.Errorf("tls.cert_pem and tls.key_pem: %w", err)
		}
		c.Certificates = []tls.Certificate{cert}
	}
	return c, nil
}

// certFiles is a client certificate read from its files, again when
// either file changed.
type certFiles struct {
	cert, key string
	mu        sync.Mutex
	stamp     [2]time.Time
	have      *tls.Certificate
}

func (r *certFiles) get() (*tls.Certificate, error) {
	r.mu.Lock()
	defer r.mu.Unlock()
	var stamp [2]time.Time
	for i, f := range []string{r.cert, r.key} {
		if st, err := os.Stat(f); err == nil {
			stamp[i] = st.ModTime()
		}
	}
	if r.have != nil && stamp == r.stamp {
		return r.have, nil
	}
	cert, err := tls.LoadX509KeyPair(r.cert, r.key)
	if err != nil {
		if r.have != nil {
			return r.have, nil // a rotation caught half-written: keep the last good pair
		}
		return nil, fmt.Errorf("tls.cert_file %s and tls.key_file %s: %w", r.cert, r.key, err)
	}
	r.have, r.stamp = &cert, stamp
	return r.have, nil
}

// secret is a SASL secret given inline or as a file read for every
// authentication.
type secret struct {
	field, file string
	value       commoncfg.Secret
}

func (s secret) get() (string, error) {
	if s.file == "" {
		return string(s.value), nil
	}
	b, err := os.ReadFile(s.file)
	if err != nil {
		return "", &credentialsError{fmt.Errorf("%s: %w", s.field, err)}
	}
	v := strings.TrimSpace(string(b))
	if v == "" {
		return "", &credentialsError{fmt.Errorf("%s %s: empty", s.field, s.file)}
	}
	return v, nil
}

// credentialsError is a secret file weir cannot read: a fault of its
// configuration, not of the brokers.
type credentialsError struct{ err error }

func (e *credentialsError) Error() string { return e.err.Error() }
func (e *credentialsError) Unwrap() error { return e.err }

func (a *SASL) mechanism() (sasl.Mechanism, error) {
	pass := secret{field: "auth.sasl.password_file", file: a.PasswordFile, value: a.Password}
	token := secret{field: "auth.sasl.token_file", file: a.TokenFile, value: a.Token}
	check := pass
	if a.Mechanism == SASLOAuthBearer {
		check = token
	}
	if _, err := check.get(); err != nil {
		return nil, err
	}
	user := a.Username
	switch a.Mechanism {
	case SASLPlain:
		return plain.Plain(func(context.Context) (plain.Auth, error) {
			p, err := pass.get()
			return plain.Auth{User: user, Pass: p}, err
		}), nil
	case SASLScramSHA256, SASLScramSHA512:
		fn := func(context.Context) (scram.Auth, error) {
			p, err := pass.get()
			return scram.Auth{User: user, Pass: p}, err
		}
		if a.Mechanism == SASLScramSHA256 {
			return scram.Sha256(fn), nil
		}
		return scram.Sha512(fn), nil
	default: // OAUTHBEARER, as validated
		return oauth.Oauth(func(context.Context) (oauth.Auth, error) {
			t, err := token.get()
			return oauth.Auth{Token: t}, err
		}), nil
	}
}
