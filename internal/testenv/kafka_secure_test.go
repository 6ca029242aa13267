package testenv_test

import (
	"context"
	"crypto/x509"
	"errors"
	"io/fs"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/twmb/franz-go/pkg/kerr"
	"github.com/twmb/franz-go/pkg/kgo"
	"github.com/twmb/franz-go/pkg/sasl"
	"github.com/twmb/franz-go/pkg/sasl/plain"
	"github.com/twmb/franz-go/pkg/sasl/scram"

	"github.com/weirdev/weir/internal/testenv"
)

func saslOf(t *testing.T, u testenv.KafkaUser) sasl.Mechanism {
	t.Helper()
	switch u.Mechanism {
	case testenv.SASLPlain:
		return plain.Auth{User: u.Name, Pass: u.Password}.AsMechanism()
	case testenv.SASLScramSHA256:
		return scram.Auth{User: u.Name, Pass: u.Password}.AsSha256Mechanism()
	case testenv.SASLScramSHA512:
		return scram.Auth{User: u.Name, Pass: u.Password}.AsSha512Mechanism()
	}
	t.Fatalf("no SASL mechanism for %v", u)
	return nil
}

// ping asks the cluster for its metadata once per broker, without retries.
func ping(ctx context.Context, opts ...kgo.Opt) error {
	cl, err := kgo.NewClient(opts...)
	if err != nil {
		return err
	}
	defer cl.Close()
	return cl.Ping(ctx)
}

// TestKafkaSecure checks the SASL_SSL cluster that weir's Kafka security is
// tested against: a SCRAM-SHA-512 user over TLS runs a transaction and reads
// it back; every user authenticates with its own mechanism; a wrong password
// and an untrusted CA each fail at once with their own error; no log of the
// cluster holds a password.
func TestKafkaSecure(t *testing.T) {
	k := testenv.StartKafkaSecure(t, testenv.KafkaSecureOptions{})
	ctx, cancel := context.WithTimeout(context.Background(), 3*time.Minute)
	defer cancel()
	brokers := k.Brokers()
	if len(brokers) != 1 || !strings.HasPrefix(brokers[0], "127.0.0.1:") {
		t.Fatalf("brokers = %v, want one on 127.0.0.1", brokers)
	}
	admin := k.User(t, testenv.SASLScramSHA512)
	secure := []kgo.Opt{kgo.SeedBrokers(brokers...), kgo.DialTLSConfig(k.TLS()), kgo.SASL(saslOf(t, admin))}

	t.Run("transaction", func(t *testing.T) {
		topic := uniqueName(t, "t")
		createTopic(t, ctx, brokers, topic, 2, 1, secure...)
		cl, err := kgo.NewClient(append(secure, kgo.DefaultProduceTopic(topic), kgo.TransactionalID(uniqueName(t, "txn")))...)
		if err != nil {
			t.Fatal(err)
		}
		defer cl.Close()
		if err := cl.BeginTransaction(); err != nil {
			t.Fatal(err)
		}
		if err := cl.ProduceSync(ctx, &kgo.Record{Key: []byte("k"), Value: []byte("over SASL_SSL")}).FirstErr(); err != nil {
			t.Fatalf("producing: %v", err)
		}
		if err := cl.EndTransaction(ctx, kgo.TryCommit); err != nil {
			t.Fatalf("committing: %v", err)
		}
		got := consumeAll(t, ctx, brokers, topic, 1, append(secure, kgo.FetchIsolationLevel(kgo.ReadCommitted()))...)
		if len(got) != 1 || string(got[0].Key) != "k" || string(got[0].Value) != "over SASL_SSL" {
			t.Fatalf("consumed %d records, first %q=%q; want k=over SASL_SSL", len(got), got[0].Key, got[0].Value)
		}
	})

	for _, u := range k.Users {
		t.Run(u.Mechanism, func(t *testing.T) {
			if err := ping(ctx, kgo.SeedBrokers(brokers...), kgo.DialTLSConfig(k.TLS()), kgo.SASL(saslOf(t, u))); err != nil {
				t.Fatalf("%v: %v", u, err)
			}
			wrong := u
			wrong.Password += "x"
			err := ping(ctx, kgo.SeedBrokers(brokers...), kgo.DialTLSConfig(k.TLS()), kgo.SASL(saslOf(t, wrong)))
			if !errors.Is(err, kerr.SaslAuthenticationFailed) || ctx.Err() != nil {
				t.Fatalf("%v with a wrong password: %v, want %v at once", u, err, kerr.SaslAuthenticationFailed)
			}
			t.Logf("wrong password: %v", err)
		})
	}

	t.Run("untrusted CA", func(t *testing.T) {
		other := testenv.NewCA(t, "another CA")
		err := ping(ctx, kgo.SeedBrokers(brokers...), kgo.DialTLSConfig(other.ClientTLS()), kgo.SASL(saslOf(t, admin)))
		var unknown x509.UnknownAuthorityError
		if !errors.As(err, &unknown) || ctx.Err() != nil {
			t.Fatalf("TLS with a CA that did not sign the broker's certificate: %v, want an x509.UnknownAuthorityError at once", err)
		}
		t.Logf("untrusted CA: %v", err)
	})

	t.Run("no secret in the logs", func(t *testing.T) {
		err := filepath.WalkDir(k.Dir(), func(path string, d fs.DirEntry, err error) error {
			if err != nil || d.IsDir() || !strings.Contains(d.Name(), ".log") {
				return err
			}
			b, err := os.ReadFile(path)
			if err != nil {
				return err
			}
			for _, u := range k.Users {
				if strings.Contains(string(b), u.Password) {
					t.Errorf("%s holds the password of %v", path, u)
				}
			}
			return nil
		})
		if err != nil {
			t.Fatal(err)
		}
	})
}

// TestKafkaStartRefusesBadSecurity checks that test/kafka/start.sh refuses
// bad TLS and user input before it starts anything, says what is wrong and
// where, and never prints the password.
func TestKafkaStartRefusesBadSecurity(t *testing.T) {
	ca := testenv.NewCA(t, "refusal CA")
	cert, key := ca.Issue(t, "broker", "127.0.0.1")
	const secret = "s3cret-Pass"
	tests := []struct {
		name      string
		cert, key string // "" leaves the option out
		users     string // the users file
		want      string
	}{
		{"no key", cert, "", "PLAIN u " + secret, "--tls-cert, --tls-key and --users go together"},
		{"key as cert", key, key, "PLAIN u " + secret, "no PEM certificate"},
		{"cert as key", cert, cert, "PLAIN u " + secret, "no unencrypted PEM PKCS#8 private key"},
		{"unknown mechanism", cert, key, "# users\nSCRAM-SHA-1 u " + secret, "line 2: mechanism 'SCRAM-SHA-1' is not"},
		{"no password", cert, key, "PLAIN u", "line 1: want MECHANISM NAME PASSWORD"},
		{"extra field", cert, key, "PLAIN u " + secret + " more", "line 1: want MECHANISM NAME PASSWORD"},
		{"quote in password", cert, key, "SCRAM-SHA-512 u " + secret + `"`, "line 1: the name and password may hold only"},
		{"no user", cert, key, "# nobody\n\n", "names no user"},
	}
	root := testenv.Root(t)
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			users := filepath.Join(t.TempDir(), "users")
			if err := os.WriteFile(users, []byte(tt.users+"\n"), 0o600); err != nil {
				t.Fatal(err)
			}
			args := []string{filepath.Join(root, "test", "kafka", "start.sh"), "--users", users}
			if tt.cert != "" {
				args = append(args, "--tls-cert", tt.cert)
			}
			if tt.key != "" {
				args = append(args, "--tls-key", tt.key)
			}
			out, err := exec.Command("bash", args...).CombinedOutput()
			if err == nil || !strings.Contains(string(out), tt.want) || strings.Contains(string(out), secret) {
				t.Fatalf("start.sh: %v, output %q; want a failure saying %q, without the password", err, out, tt.want)
			}
		})
	}
}
