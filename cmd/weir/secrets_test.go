package main

import (
	"bytes"
	"context"
	"crypto/tls"
	"encoding/pem"
	"fmt"
	"net/http"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/twmb/franz-go/pkg/kerr"
	"github.com/twmb/franz-go/pkg/kfake"
	"github.com/twmb/franz-go/pkg/kmsg"

	"github.com/weirdev/weir/internal/testenv"
)

// TestNoSecretPrinted seeds secrets into a config, from the environment and
// from files, in every place weir takes one (Kafka SASL, the Kafka client
// key, remote-write basic auth, credentials file and URL user info,
// trace-exporter headers and header files), runs weir through every error
// path it reaches and through a normal start at debug level, and fails if
// any secret shows in what weir printed.
func TestNoSecretPrinted(t *testing.T) {
	dir := t.TempDir()
	secrets := map[string]string{
		"sasl password":        "sasl-SECRET-pw",
		"remote write basic":   "rw-SECRET-basic",
		"remote write token":   "rw-SECRET-token",
		"remote write url":     "rw-SECRET-url",
		"trace header":         "tr-SECRET-header",
		"trace header file":    "tr-SECRET-file",
		"not a key (key file)": "key-SECRET-garbage",
	}
	ca := testenv.SelfSigned(t, dir, "weir-test-ca")
	other := testenv.SelfSigned(t, t.TempDir(), "other-ca")
	client := ca.Sign(t, dir, "weir-client")
	keyPEM, err := os.ReadFile(client.KeyFile)
	if err != nil {
		t.Fatal(err)
	}
	block, _ := pem.Decode(keyPEM)
	// The key's body, as PEM prints it, in lines of 64 characters.
	for i, line := range strings.Split(string(pem.EncodeToMemory(&pem.Block{Type: block.Type, Bytes: block.Bytes})), "\n") {
		if len(line) == 64 {
			secrets[fmt.Sprintf("client key line %d", i)] = line
		}
	}
	write := func(name, v string) string {
		p := filepath.Join(dir, name)
		if err := os.WriteFile(p, []byte(v), 0o600); err != nil {
			t.Fatal(err)
		}
		return p
	}
	write("rw-token", secrets["remote write token"]+"\n")
	write("trace-header", "Bearer "+secrets["trace header file"]+"\n")
	write("bad-key.pem", secrets["not a key (key file)"])
	t.Setenv("WEIR_T_SASL_USER", "weir")
	t.Setenv("WEIR_T_SASL_PASSWORD", secrets["sasl password"])
	t.Setenv("WEIR_T_RW_PASSWORD", secrets["remote write basic"])
	t.Setenv("WEIR_T_TRACE_HEADER", secrets["trace header"])
	t.Setenv("WEIR_T_RW_URL_PASSWORD", secrets["remote write url"])

	srv := ca.Sign(t, dir, "broker")
	c, err := kfake.NewCluster(kfake.NumBrokers(1), kfake.SeedTopics(2, "otlp_spans", "otlp_metrics"),
		kfake.TLS(&tls.Config{Certificates: []tls.Certificate{srv.TLS}, MinVersion: tls.VersionTLS12}),
		kfake.EnableSASL(), kfake.Superuser("SCRAM-SHA-512", "weir", secrets["sasl password"]))
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	// A user kfake does not know gets SASL_AUTHENTICATION_FAILED, as from
	// Kafka (kfake itself just closes the connection).
	c.ControlKey(int16(kmsg.SASLAuthenticate), func(req kmsg.Request) (kmsg.Response, error, bool) {
		c.KeepControl()
		r := req.(*kmsg.SASLAuthenticateRequest)
		if !bytes.Contains(r.SASLAuthBytes, []byte("n=intruder")) {
			return nil, nil, false
		}
		resp := r.ResponseKind().(*kmsg.SASLAuthenticateResponse)
		resp.ErrorCode = kerr.SaslAuthenticationFailed.Code
		return resp, nil, true
	})
	rw := newReceiver(t)

	// config writes a config from the good one with the replacements
	// old, new, ... applied.
	config := func(name string, repl ...string) string {
		good := fmt.Sprintf(`listen: 127.0.0.1:0
kafka:
  brokers: [%s]
  tls:
    ca_file: %s
    cert_file: %s
    key_file: %s
  auth:
    sasl:
      mechanism: SCRAM-SHA-512
      username: ${env:WEIR_T_SASL_USER}
      password: ${env:WEIR_T_SASL_PASSWORD}
remote_write:
  - url: %s
    basic_auth:
      username: weir
      password: ${env:WEIR_T_RW_PASSWORD}
    headers:
      X-Scope-Token: ${env:WEIR_T_RW_PASSWORD}
  - url: http://weir:${env:WEIR_T_RW_URL_PASSWORD}@127.0.0.1:1/api/v1/write
    policies: [1h:1y]
  - url: %s
    policies: [1d:5y]
    authorization:
      credentials_file: rw-token
traces:
  endpoint: 127.0.0.1:1
  insecure: true
  headers:
    x-api-key: ${env:WEIR_T_TRACE_HEADER}
  header_files:
    authorization: trace-header
`, c.ListenAddrs()[0], ca.CertFile, client.CertFile, client.KeyFile, rw.srv.URL, rw.srv.URL)
		if len(repl)%2 != 0 {
			t.Fatalf("config %s: odd replacements", name)
		}
		for i := 0; i < len(repl); i += 2 {
			if !strings.Contains(good, repl[i]) {
				t.Fatalf("config %s: %q is not in the config", name, repl[i])
			}
			good = strings.Replace(good, repl[i], repl[i+1], 1)
		}
		return write(name+".yaml", good)
	}

	var printed []string
	// weir runs a command line until it exits, or until its output
	// matches until (then it is stopped); it returns the exit code and
	// the output.
	weir := func(until *regexp.Regexp, args ...string) (int, string) {
		t.Helper()
		out := &testenv.LogBuffer{}
		ctx, cancel := context.WithCancel(context.Background())
		defer cancel()
		done := make(chan int, 1)
		go func() { done <- run(ctx, args, out, out) }()
		var code int
		deadline := time.After(3 * time.Minute)
	wait:
		for {
			select {
			case code = <-done:
				break wait
			case <-deadline:
				cancel()
				t.Errorf("weir %s: neither exited nor printed %v in 3 minutes", strings.Join(args, " "), until)
				code = <-done
				break wait
			case <-time.After(50 * time.Millisecond):
				if until != nil && until.MatchString(out.String()) {
					cancel()
				}
			}
		}
		printed = append(printed, fmt.Sprintf("$ weir %s (exit %d)\n%s", strings.Join(args, " "), code, out.String()))
		return code, out.String()
	}
	expect := func(what string, code int, out string, wantCode int, want string) {
		t.Helper()
		if code != wantCode || !strings.Contains(out, want) {
			t.Errorf("%s: exit %d, output\n%s\nwant exit %d and %q", what, code, out, wantCode, want)
		}
	}

	// The normal start, at debug level, until /-/ready says both groups
	// are joined.
	good := config("good")
	listen := regexp.MustCompile(`msg="weir running" listen=(\S+)`)
	out := &testenv.LogBuffer{}
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan int, 1)
	go func() { done <- run(ctx, []string{"run", "-v", "-config", good}, out, out) }()
	ready := false
	for deadline := time.Now().Add(3 * time.Minute); time.Now().Before(deadline) && !ready; time.Sleep(100 * time.Millisecond) {
		if m := listen.FindStringSubmatch(out.String()); m != nil {
			if resp, err := http.Get("http://" + m[1] + "/-/ready"); err == nil {
				resp.Body.Close()
				ready = resp.StatusCode == http.StatusOK
			}
		}
	}
	cancel()
	if code := <-done; code != 0 || !ready {
		t.Errorf("normal start: ready %v, exit %d:\n%s", ready, code, out.String())
	}
	printed = append(printed, out.String())

	code, out2 := 0, ""
	code, out2 = weir(nil, "run", "-config", config("wrong-user", "${env:WEIR_T_SASL_USER}", "intruder"))
	expect("refused credentials", code, out2, 1, "SASL authentication failed")
	code, out2 = weir(nil, "run", "-config", config("untrusted", "ca_file: "+ca.CertFile, "ca_file: "+other.CertFile))
	expect("untrusted CA", code, out2, 1, "does not trust")
	code, out2 = weir(regexp.MustCompile(`waiting for Kafka`), "run", "-v", "-config", config("no-broker", "brokers: ["+c.ListenAddrs()[0], "brokers: [127.0.0.1:1"))
	expect("no broker", code, out2, 0, "does not answer")
	code, out2 = weir(nil, "run", "-config", config("bad-key", "key_file: "+client.KeyFile, "key_file: bad-key.pem"))
	expect("bad key file", code, out2, 1, "tls.cert_file")
	for _, tc := range []struct {
		name, want string
		repl       []string
	}{
		{"unset variable", "environment variable WEIR_T_UNSET is not set", []string{"${env:WEIR_T_RW_PASSWORD}", "${env:WEIR_T_UNSET}"}},
		{"unknown field", `unknown field "passwort" in kafka.auth.sasl`, []string{"      password: ${env:WEIR_T_SASL_PASSWORD}", "      password: ${env:WEIR_T_SASL_PASSWORD}\n      passwort: ${env:WEIR_T_SASL_PASSWORD}"}},
		{"bad mechanism", `auth.sasl.mechanism: "SCRAM-SHA-1"`, []string{"SCRAM-SHA-512", "SCRAM-SHA-1"}},
		{"password twice", "kafka.auth.sasl.password_file: together with", []string{"      password: ${env:WEIR_T_SASL_PASSWORD}", "      password: ${env:WEIR_T_SASL_PASSWORD}\n      password_file: rw-token"}},
		{"bad url", "remote_write[1].url", []string{"@127.0.0.1:1/api", "@127.0.0.1:port/api"}},
		{"url and basic auth", "remote_write[1].url: user info together with basic_auth", []string{"    policies: [1h:1y]", "    policies: [1h:1y]\n    basic_auth: {username: a, password: '${env:WEIR_T_RW_PASSWORD}'}"}},
		{"bad header value", "remote_write[0].headers.X-Scope-Token: the value holds a byte", []string{"X-Scope-Token: ${env:WEIR_T_RW_PASSWORD}", "X-Scope-Token: \"${env:WEIR_T_RW_PASSWORD}\\n\""}},
		{"header twice", "traces.header_files.authorization: also in traces.headers", []string{"    x-api-key:", "    authorization: ${env:WEIR_T_TRACE_HEADER}\n    x-api-key:"}},
	} {
		p := config(strings.ReplaceAll(tc.name, " ", "-"), tc.repl...)
		code, out := weir(nil, "run", "-config", p)
		expect(tc.name, code, out, 2, tc.want)
		code, out = weir(nil, "rules", "check", p)
		expect(tc.name+" (rules check)", code, out, 2, tc.want)
	}
	code, out2 = weir(nil, "rules", "check", good)
	expect("rules check", code, out2, 0, "configuration OK")

	all := strings.Join(printed, "\n")
	for what, s := range secrets {
		if strings.Contains(all, s) {
			t.Errorf("the %s was printed", what)
		}
	}
	if t.Failed() {
		t.Logf("weir printed:\n%s", all)
	}
}
