package cluster

import (
	"bytes"
	"context"
	"crypto/tls"
	"errors"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/twmb/franz-go/pkg/kerr"
	"github.com/twmb/franz-go/pkg/kfake"
	"github.com/twmb/franz-go/pkg/kmsg"

	"github.com/weirdev/weir/internal/testenv"
	"github.com/weirdev/weir/pipeline"
)

func TestSecurityValidate(t *testing.T) {
	sasl := func(s SASL) Security { return Security{Auth: Auth{SASL: &s}} }
	for _, tc := range []struct {
		name string
		sec  Security
		want string // "" for valid
	}{
		{"zero", Security{}, ""},
		{"empty tls", Security{TLS: &TLS{}}, ""},
		{"scram", sasl(SASL{Mechanism: SASLScramSHA512, Username: "u", PasswordFile: "f"}), ""},
		{"oauth", sasl(SASL{Mechanism: SASLOAuthBearer, TokenFile: "f"}), ""},
		{"insecure with ca", Security{TLS: &TLS{Insecure: true, CAFile: "ca"}}, "tls.insecure: true turns TLS off"},
		{"ca twice", Security{TLS: &TLS{CAFile: "a", CAPEM: "b"}}, "tls.ca_file: together with tls.ca_pem"},
		{"cert without key", Security{TLS: &TLS{CertFile: "c"}}, "tls.cert_file: and tls.key_file"},
		{"key without cert", Security{TLS: &TLS{KeyPEM: "k"}}, "tls.cert_file: and tls.key_file"},
		{"server names differ", Security{TLS: &TLS{ServerName: "a", ServerNameOverride: "b"}}, "tls.server_name: differs from tls.server_name_override"},
		{"bad min version", Security{TLS: &TLS{MinVersion: "TLS12"}}, `tls.min_version: "TLS12" is not 1.0, 1.1, 1.2 or 1.3`},
		{"min above max", Security{TLS: &TLS{MinVersion: "1.3", MaxVersion: "1.2"}}, "tls.min_version: is above tls.max_version"},
		{"no mechanism", sasl(SASL{Username: "u", Password: "p"}), `auth.sasl.mechanism: "" is not PLAIN`},
		{"kerberos", sasl(SASL{Mechanism: "GSSAPI"}), `auth.sasl.mechanism: "GSSAPI" is not PLAIN`},
		{"no username", sasl(SASL{Mechanism: SASLPlain, Password: "p"}), "auth.sasl.username: required for PLAIN"},
		{"no password", sasl(SASL{Mechanism: SASLScramSHA256, Username: "u"}), "auth.sasl.password: required for SCRAM-SHA-256"},
		{"password twice", sasl(SASL{Mechanism: SASLPlain, Username: "u", Password: "p", PasswordFile: "f"}), "auth.sasl.password_file: together with auth.sasl.password"},
		{"oauth with user", sasl(SASL{Mechanism: SASLOAuthBearer, Username: "u", Token: "t"}), "auth.sasl.username: OAUTHBEARER takes a token"},
		{"oauth without token", sasl(SASL{Mechanism: SASLOAuthBearer}), "auth.sasl.token_file: required for OAUTHBEARER"},
		{"token with scram", sasl(SASL{Mechanism: SASLScramSHA512, Username: "u", Password: "p", Token: "t"}), "auth.sasl.token: only OAUTHBEARER"},
	} {
		err := tc.sec.Validate()
		switch {
		case tc.want == "" && err != nil:
			t.Errorf("%s: %v", tc.name, err)
		case tc.want != "" && (err == nil || !strings.Contains(err.Error(), tc.want)):
			t.Errorf("%s: error %v, want it to contain %q", tc.name, err, tc.want)
		}
	}
}

func TestSecurityOptsFiles(t *testing.T) {
	dir := t.TempDir()
	notPEM := filepath.Join(dir, "not.pem")
	os.WriteFile(notPEM, []byte("hello"), 0o600)
	empty := filepath.Join(dir, "empty")
	os.WriteFile(empty, []byte("\n"), 0o600)
	missing := filepath.Join(dir, "missing")
	for _, tc := range []struct {
		name string
		sec  Security
		want string
	}{
		{"missing ca", Security{TLS: &TLS{CAFile: missing}}, "tls.ca_file: open " + missing},
		{"ca not pem", Security{TLS: &TLS{CAFile: notPEM}}, "tls.ca_file " + notPEM + ": no PEM certificate"},
		{"missing cert", Security{TLS: &TLS{CertFile: missing, KeyFile: missing}}, "tls.cert_file " + missing},
		{"missing password", Security{Auth: Auth{SASL: &SASL{Mechanism: SASLPlain, Username: "u", PasswordFile: missing}}}, "auth.sasl.password_file: open " + missing},
		{"empty token", Security{Auth: Auth{SASL: &SASL{Mechanism: SASLOAuthBearer, TokenFile: empty}}}, "auth.sasl.token_file " + empty + ": empty"},
	} {
		if _, err := tc.sec.Opts(); err == nil || !strings.Contains(err.Error(), tc.want) {
			t.Errorf("%s: error %v, want it to contain %q", tc.name, err, tc.want)
		}
	}
}

// writeSecret writes a secret file as an operator would (with a newline).
func writeSecret(t *testing.T, path, v string) string {
	t.Helper()
	if err := os.WriteFile(path, []byte(v+"\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	return path
}

func TestSASLAgainstKfake(t *testing.T) {
	for _, mech := range []string{SASLPlain, SASLScramSHA256, SASLScramSHA512} {
		t.Run(mech, func(t *testing.T) {
			c, err := kfake.NewCluster(kfake.NumBrokers(1), kfake.EnableSASL(), kfake.Superuser(mech, "weir", "s3cret-"+mech))
			if err != nil {
				t.Fatal(err)
			}
			defer c.Close()
			file := writeSecret(t, filepath.Join(t.TempDir(), "password"), "s3cret-"+mech)
			good, err := NewClients(c.ListenAddrs(), Security{Auth: Auth{SASL: &SASL{Mechanism: mech, Username: "weir", PasswordFile: file}}}, nil)
			if err != nil {
				t.Fatal(err)
			}
			ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
			defer cancel()
			if err := good.Check(ctx); err != nil {
				t.Fatalf("right password: %v", err)
			}
			// kfake, which enables SASL, refuses every other request of a
			// client that did not authenticate.
			plain := &Clients{Brokers: c.ListenAddrs()}
			cctx, ccancel := context.WithTimeout(ctx, 5*time.Second)
			defer ccancel()
			if err := plain.Check(cctx); err == nil {
				t.Fatal("a client without SASL got an answer from a SASL cluster")
			}
		})
	}
}

// oauthBroker makes kfake (which has no OAUTHBEARER of its own) take
// OAUTHBEARER as a Kafka broker does: the handshake names the mechanism,
// the authenticate request carries the RFC 7628 initial response
// "n,,\x01auth=Bearer TOKEN\x01\x01", and a token other than want is
// refused with SASL_AUTHENTICATION_FAILED.
type oauthBroker struct {
	mu   sync.Mutex
	want string
	got  []string
}

func (b *oauthBroker) install(c *kfake.Cluster) {
	c.ControlKey(int16(kmsg.SASLHandshake), func(req kmsg.Request) (kmsg.Response, error, bool) {
		c.KeepControl()
		r := req.(*kmsg.SASLHandshakeRequest)
		resp := r.ResponseKind().(*kmsg.SASLHandshakeResponse)
		if r.Mechanism != SASLOAuthBearer {
			resp.ErrorCode = kerr.UnsupportedSaslMechanism.Code
			resp.SupportedMechanisms = []string{SASLOAuthBearer}
		}
		return resp, nil, true
	})
	c.ControlKey(int16(kmsg.SASLAuthenticate), func(req kmsg.Request) (kmsg.Response, error, bool) {
		c.KeepControl()
		r := req.(*kmsg.SASLAuthenticateRequest)
		resp := r.ResponseKind().(*kmsg.SASLAuthenticateResponse)
		tok := ""
		if _, rest, ok := bytes.Cut(r.SASLAuthBytes, []byte("auth=Bearer ")); ok {
			tok, _, _ = strings.Cut(string(rest), "\x01")
		}
		b.mu.Lock()
		defer b.mu.Unlock()
		b.got = append(b.got, tok)
		if tok != b.want {
			resp.ErrorCode = kerr.SaslAuthenticationFailed.Code
			msg := "invalid token"
			resp.ErrorMessage = &msg
		}
		return resp, nil, true
	})
}

func (b *oauthBroker) accept(tok string) {
	b.mu.Lock()
	b.want = tok
	b.mu.Unlock()
}

func TestOAuthBearerTokenFile(t *testing.T) {
	c, err := kfake.NewCluster(kfake.NumBrokers(1))
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	b := &oauthBroker{want: "token-1"}
	b.install(c)
	file := writeSecret(t, filepath.Join(t.TempDir(), "token"), "token-1")
	clients, err := NewClients(c.ListenAddrs(), Security{Auth: Auth{SASL: &SASL{Mechanism: SASLOAuthBearer, TokenFile: file}}}, nil)
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	if err := clients.Check(ctx); err != nil {
		t.Fatalf("token-1: %v", err)
	}
	// The token is rotated: the broker takes only the new one, and the
	// same clients, built before, authenticate with the file's new content.
	b.accept("token-2")
	writeSecret(t, file, "token-2")
	if err := clients.Check(ctx); err != nil {
		t.Fatalf("after rotating to token-2: %v", err)
	}
	b.accept("token-3") // the file still holds token-2
	err = clients.Check(ctx)
	var serr *SecurityError
	if !errors.As(err, &serr) || !strings.Contains(serr.Cause, "SASL authentication failed") || serr.Broker != c.ListenAddrs()[0] {
		t.Fatalf("stale token: %v, want a SecurityError naming %s and SASL authentication", err, c.ListenAddrs()[0])
	}
	b.mu.Lock()
	defer b.mu.Unlock()
	if strings.Join(b.got, ",") == "" || b.got[0] != "token-1" || b.got[len(b.got)-1] != "token-2" {
		t.Errorf("tokens sent: %q", b.got)
	}
	if strings.Contains(err.Error(), "token-2") {
		t.Errorf("the error prints the token: %v", err)
	}
}

// tlsCluster is a kfake cluster taking TLS with a certificate of ca, and
// SCRAM-SHA-512 user weir.
func tlsCluster(t *testing.T, ca testenv.Cert, dir, password string, opts ...kfake.Opt) *kfake.Cluster {
	t.Helper()
	srv := ca.Sign(t, dir, "broker")
	opts = append(opts, kfake.NumBrokers(1), kfake.TLS(&tls.Config{Certificates: []tls.Certificate{srv.TLS}, MinVersion: tls.VersionTLS12}),
		kfake.EnableSASL(), kfake.Superuser(SASLScramSHA512, "weir", password))
	c, err := kfake.NewCluster(opts...)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(c.Close)
	return c
}

func TestTLSCheck(t *testing.T) {
	dir := t.TempDir()
	ca := testenv.SelfSigned(t, dir, "weir-test-ca")
	other := testenv.SelfSigned(t, t.TempDir(), "other-ca")
	c := tlsCluster(t, ca, dir, "pw")
	broker := c.ListenAddrs()[0]
	pw := writeSecret(t, filepath.Join(dir, "pw"), "pw")
	scram := &SASL{Mechanism: SASLScramSHA512, Username: "weir", PasswordFile: pw}
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	for _, tc := range []struct {
		name  string
		sec   Security
		cause string // "" for success
	}{
		{"trusted", Security{TLS: &TLS{CAFile: ca.CertFile}, Auth: Auth{SASL: scram}}, ""},
		{"untrusted CA", Security{TLS: &TLS{CAFile: other.CertFile}, Auth: Auth{SASL: scram}}, "signed by an authority weir does not trust"},
		{"wrong server name", Security{TLS: &TLS{CAFile: ca.CertFile, ServerName: "kafka.example"}, Auth: Auth{SASL: scram}}, "does not name this host"},
		{"skip verify", Security{TLS: &TLS{CAFile: other.CertFile, InsecureSkipVerify: true}, Auth: Auth{SASL: scram}}, ""},
	} {
		clients, err := NewClients([]string{broker}, tc.sec, nil)
		if err != nil {
			t.Fatal(err)
		}
		err = clients.Check(ctx)
		var serr *SecurityError
		switch {
		case tc.cause == "" && err != nil:
			t.Errorf("%s: %v", tc.name, err)
		case tc.cause != "" && (!errors.As(err, &serr) || serr.Broker != broker || !strings.Contains(serr.Cause, tc.cause)):
			t.Errorf("%s: %v, want a SecurityError naming %s, cause %q", tc.name, err, broker, tc.cause)
		}
	}
}

// TestRunOverTLSAndSCRAM runs a worker whose every client (stage 1 and 2,
// decisions, second pass, dead letters, admin) must pass TLS and
// SCRAM-SHA-512: kfake refuses the requests of any that does not, so the
// worker's groups are joined only when they all do.
func TestRunOverTLSAndSCRAM(t *testing.T) {
	dir := t.TempDir()
	ca := testenv.SelfSigned(t, dir, "weir-test-ca")
	c := tlsCluster(t, ca, dir, "pw", kfake.SeedTopics(2, DefaultSpansTopic, DefaultMetricsTopic))
	pw := writeSecret(t, filepath.Join(dir, "pw"), "pw")
	clients, err := NewClients(c.ListenAddrs(), Security{TLS: &TLS{CAFile: ca.CertFile},
		Auth: Auth{SASL: &SASL{Mechanism: SASLScramSHA512, Username: "weir", PasswordFile: pw}}}, nil)
	if err != nil {
		t.Fatal(err)
	}
	r := newReadiness()
	n := startNodeWith(t, nil, "tls", pipeline.Config{Series: map[string]pipeline.SeriesSink{"": newCapture()}}, func(cc *Config) {
		cc.Client = clients
		cc.Ready = r.set
	})
	defer n.stop(t)
	if !waitFor(2*time.Minute, func() bool { return r.is("stage1") && r.is("stage2") }) {
		t.Fatalf("the worker did not join its groups over TLS and SCRAM: %v", r.snapshot())
	}
}

// TestRunFailsFast: a broker refusing weir's credentials or certificate
// ends Run at once with a SecurityError naming the broker, where a broker
// that does not answer is waited for.
func TestRunFailsFast(t *testing.T) {
	dir := t.TempDir()
	ca := testenv.SelfSigned(t, dir, "weir-test-ca")
	other := testenv.SelfSigned(t, t.TempDir(), "other-ca")
	c := tlsCluster(t, ca, dir, "pw", kfake.SeedTopics(2, DefaultSpansTopic, DefaultMetricsTopic))
	broker := c.ListenAddrs()[0]
	// kfake closes the connection on a wrong password where Kafka answers
	// SASL_AUTHENTICATION_FAILED: answer as Kafka does.
	c.ControlKey(int16(kmsg.SASLAuthenticate), func(req kmsg.Request) (kmsg.Response, error, bool) {
		c.KeepControl()
		r := req.(*kmsg.SASLAuthenticateRequest)
		if !bytes.Contains(r.SASLAuthBytes, []byte("n=intruder")) {
			return nil, nil, false
		}
		resp := r.ResponseKind().(*kmsg.SASLAuthenticateResponse)
		resp.ErrorCode = kerr.SaslAuthenticationFailed.Code
		msg := "Authentication failed during authentication due to invalid credentials with SASL mechanism SCRAM-SHA-512"
		resp.ErrorMessage = &msg
		return resp, nil, true
	})
	pw := writeSecret(t, filepath.Join(dir, "pw"), "wrong-password")
	for _, tc := range []struct {
		name, cause string
		sec         Security
	}{
		{"wrong password", "SASL authentication failed", Security{TLS: &TLS{CAFile: ca.CertFile},
			Auth: Auth{SASL: &SASL{Mechanism: SASLScramSHA512, Username: "intruder", PasswordFile: pw}}}},
		{"untrusted CA", "signed by an authority weir does not trust", Security{TLS: &TLS{CAFile: other.CertFile}}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			clients, err := NewClients([]string{broker}, tc.sec, nil)
			if err != nil {
				t.Fatal(err)
			}
			r := newReadiness()
			n := startNodeWith(t, nil, "fail", pipeline.Config{Series: map[string]pipeline.SeriesSink{"": newCapture()}}, func(cc *Config) {
				cc.Client = clients
				cc.Ready = r.set
			})
			defer n.cancel()
			select {
			case err = <-n.done:
			case <-time.After(2 * time.Minute):
				t.Fatal("Run did not end on a security fault")
			}
			var serr *SecurityError
			if !errors.As(err, &serr) || serr.Broker != broker || !strings.Contains(serr.Cause, tc.cause) {
				t.Fatalf("Run: %v, want a SecurityError naming %s, cause %q", err, broker, tc.cause)
			}
			if strings.Contains(err.Error(), "wrong-password") {
				t.Errorf("the error prints the password: %v", err)
			}
			if ok, why := r.get("kafka"); ok || !strings.Contains(why, tc.cause) {
				t.Errorf("readiness kafka = %v %q", ok, why)
			}
		})
	}
	t.Run("no answer is waited for", func(t *testing.T) {
		c.Close() // nothing listens on broker any more
		r := newReadiness()
		n := startNodeWith(t, []string{broker}, "wait", pipeline.Config{Series: map[string]pipeline.SeriesSink{"": newCapture()}}, func(cc *Config) {
			cc.Ready = r.set
		})
		if !waitFor(time.Minute, func() bool { _, why := r.get("kafka"); return strings.Contains(why, "does not answer") }) {
			t.Fatalf("readiness: %v", r.snapshot())
		}
		select {
		case err := <-n.done:
			t.Fatalf("Run ended while the broker was down: %v", err)
		default:
		}
		n.cancel()
		if err := <-n.done; err != nil {
			t.Errorf("Run stopped while waiting: %v, want nil", err)
		}
	})
}

// readiness records what Config.Ready is told.
type readiness struct {
	mu sync.Mutex
	m  map[string]string // part → "" when ready, why not otherwise
}

func newReadiness() *readiness { return &readiness{m: map[string]string{}} }

func (r *readiness) set(part string, ok bool, why string) {
	r.mu.Lock()
	defer r.mu.Unlock()
	if ok {
		why = ""
	} else if why == "" {
		why = "not ready"
	}
	r.m[part] = why
}

func (r *readiness) get(part string) (bool, string) {
	r.mu.Lock()
	defer r.mu.Unlock()
	why, ok := r.m[part]
	return ok && why == "", why
}

func (r *readiness) is(part string) bool { ok, _ := r.get(part); return ok }

func (r *readiness) snapshot() map[string]string {
	r.mu.Lock()
	defer r.mu.Unlock()
	out := make(map[string]string, len(r.m))
	for k, v := range r.m {
		out[k] = v
	}
	return out
}
