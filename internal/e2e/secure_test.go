package e2e

import (
	"context"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/twmb/franz-go/pkg/kgo"
	"github.com/twmb/franz-go/pkg/sasl/scram"

	"github.com/weirdev/weir/internal/testenv"
)

// TestExactlyOnceOverSASLSSL: the real broker's client listener takes
// SASL_SSL only. Two `weir run` processes with SCRAM-SHA-512 over TLS
// consume the scenario's input, one is killed (SIGKILL) mid-run and started
// again: the output equals the single-process reference exactly. A wrong
// password and an untrusted CA each stop `weir run` at once, with a message
// naming the broker and the cause.
func TestExactlyOnceOverSASLSSL(t *testing.T) {
	t.Parallel()
	k := testenv.StartKafkaSecure(t, testenv.KafkaSecureOptions{})
	u := k.User(t, testenv.SASLScramSHA512)
	brokers := k.Brokers()
	spansTopic, metricsTopic := "sasl_spans", "sasl_metrics"
	in := genInput(t, spansTopic, metricsTopic, 6000, 200)
	produce(t, brokers, in, spansTopic, metricsTopic,
		kgo.DialTLSConfig(k.TLS()), kgo.SASL(scram.Auth{User: u.Name, Pass: u.Password}.AsSha512Mechanism()))

	dir, want := withRules(t, in, spansTopic, metricsTopic)
	rw := newReceiver(t)
	secret := func(name, value string) string {
		p := filepath.Join(dir, name)
		if err := os.WriteFile(p, []byte(value), 0o600); err != nil {
			t.Fatal(err)
		}
		return p
	}
	// cfg is writeConfig's configuration of process name with the
	// kafka.tls and kafka.auth settings of caFile, the user and the
	// password in passwordFile.
	cfg := func(name, caFile, passwordFile string) string {
		p := writeConfig(t, dir, name, brokers, rw.URL, spansTopic, metricsTopic, 1)
		b, err := os.ReadFile(p)
		if err != nil {
			t.Fatal(err)
		}
		sec := fmt.Sprintf("kafka:\n  tls:\n    ca_file: %s\n  auth:\n    sasl:\n      mechanism: SCRAM-SHA-512\n      username: %s\n      password_file: %s\n",
			caFile, u.Name, passwordFile)
		if err := os.WriteFile(p, []byte(strings.Replace(string(b), "kafka:\n", sec, 1)), 0o644); err != nil {
			t.Fatal(err)
		}
		return p
	}
	password := secret("password", u.Password)

	t.Run("refused", func(t *testing.T) {
		other := testenv.NewCA(t, "a CA the broker's certificate is not of")
		for _, tc := range []struct{ name, caFile, password, cause string }{
			{"wrong password", k.CA.File, secret("wrong", "not-"+u.Password), "SASL authentication failed"},
			{"untrusted CA", other.File, password, "signed by an authority weir does not trust"},
		} {
			p := startWeir(t, strings.ReplaceAll(tc.name, " ", "-"), cfg(strings.ReplaceAll(tc.name, " ", "-"), tc.caFile, tc.password))
			select {
			case <-p.done:
			case <-time.After(60 * time.Second):
				t.Fatalf("%s: weir run still runs after 60 s", tc.name)
			}
			b, err := os.ReadFile(p.log)
			if err != nil {
				t.Fatal(err)
			}
			if p.cmd.ProcessState.Success() || !strings.Contains(string(b), brokers[0]) || !strings.Contains(string(b), tc.cause) {
				t.Errorf("%s: weir run exited with %v, its log does not name the broker %s and %q:\n%s", tc.name, p.cmd.ProcessState, brokers[0], tc.cause, b)
			}
			if strings.Contains(string(b), u.Password) {
				t.Errorf("%s: the log prints the password", tc.name)
			}
		}
	})

	ctx, cancel := context.WithTimeout(context.Background(), 8*time.Minute)
	defer cancel()
	a, b := startWeir(t, "a", cfg("a", k.CA.File, password)), startWeir(t, "b", cfg("b", k.CA.File, password))
	waitFor(ctx, 100*time.Millisecond, func() bool { got, _ := rw.snapshot(); return len(got) >= len(want)/4 || exited(a, b) })
	if exited(a, b) {
		t.Fatal("a weir process exited")
	}
	b.kill()
	got, _ := rw.snapshot()
	t.Logf("b killed with %d of %d samples written", len(got), len(want))
	b = startWeir(t, "b2", cfg("b", k.CA.File, password)) // b's transactional ID: it fences the killed one
	settle(ctx, rw, len(want))
	a.stop(t)
	b.stop(t)
	got, conflicts := rw.snapshot()
	testenv.CompareOutput(t, want, got, conflicts)
}
