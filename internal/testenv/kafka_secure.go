package testenv

import (
	"crypto/rand"
	"crypto/tls"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// The SASL mechanisms of the users of a StartKafkaSecure cluster, spelled
// as Kafka spells them.
const (
	SASLPlain       = "PLAIN"
	SASLScramSHA256 = "SCRAM-SHA-256"
	SASLScramSHA512 = "SCRAM-SHA-512"
)

// KafkaUser is a SASL user of a StartKafkaSecure cluster. Its String and
// GoString leave the password out, so that logging a user prints no secret.
type KafkaUser struct {
	Mechanism string // SASLPlain, SASLScramSHA256 or SASLScramSHA512
	Name      string // of A-Z a-z 0-9 . _ - only
	Password  string // of A-Z a-z 0-9 . _ - only
}

func (u KafkaUser) String() string   { return u.Mechanism + " user " + u.Name }
func (u KafkaUser) GoString() string { return "testenv.KafkaUser{" + u.String() + "}" }

// KafkaSecureOptions configures StartKafkaSecure; the zero value is one node
// with one user per mechanism.
type KafkaSecureOptions struct {
	// Nodes is the number of nodes, 1..9; 0 means 1.
	Nodes int
	// Props are "key=value" broker settings added to (or replacing) the
	// defaults of test/kafka/start.sh on every node.
	Props []string
	// Users are the SASL users; nil means one user of each mechanism, named
	// weir-plain, weir-sha256 and weir-sha512, with random passwords
	// (crypto/rand.Text).
	Users []KafkaUser
}

// SecureKafka is a Kafka cluster whose client listener is SASL_SSL, started
// for one test by StartKafkaSecure. Brokers() lists the SASL_SSL addresses;
// Restart, StopNode and StartNode work as on any KafkaCluster.
type SecureKafka struct {
	*KafkaCluster
	// CA signed the brokers' certificate; CA.File is the CA file a client
	// must trust.
	CA *CA
	// CertFile and KeyFile are the brokers' certificate (for 127.0.0.1 and
	// localhost) and unencrypted PKCS#8 private key, as PEM.
	CertFile, KeyFile string
	// Users are the SASL users the brokers accept.
	Users []KafkaUser
}

// StartKafkaSecure starts a Kafka cluster (as StartKafka does) whose client
// listener takes TLS with a certificate of a CA made for the test, then SASL
// PLAIN, SCRAM-SHA-256 or SCRAM-SHA-512. SCRAM users are created by Kafka's
// storage tool when the nodes are formatted, PLAIN users by the listener's
// JAAS config. There is no authorizer: every authenticated user may create
// topics, use groups and transactions. The listeners between the nodes stay
// PLAINTEXT on 127.0.0.1. t.Cleanup stops the cluster, keeping its logs in
// test/artifacts when the test failed. It fails the test when the cluster
// cannot be started, with the script's explanation (a bad user names its
// line, never its password).
func StartKafkaSecure(t testing.TB, opts KafkaSecureOptions) *SecureKafka {
	t.Helper()
	n := opts.Nodes
	if n == 0 {
		n = 1
	}
	checkNodes(t, n)
	users := opts.Users
	if users == nil {
		users = []KafkaUser{
			{SASLPlain, "weir-plain", rand.Text()},
			{SASLScramSHA256, "weir-sha256", rand.Text()},
			{SASLScramSHA512, "weir-sha512", rand.Text()},
		}
	}
	k := &SecureKafka{CA: NewCA(t, "weir test Kafka CA"), Users: append([]KafkaUser(nil), users...)}
	k.CertFile, k.KeyFile = k.CA.Issue(t, "kafka-broker", "127.0.0.1", "localhost")

	var b strings.Builder
	for _, u := range users {
		fmt.Fprintf(&b, "%s %s %s\n", u.Mechanism, u.Name, u.Password)
	}
	usersFile := filepath.Join(t.TempDir(), "kafka-users")
	if err := os.WriteFile(usersFile, []byte(b.String()), 0o600); err != nil {
		t.Fatalf("testenv: writing the Kafka users: %v", err)
	}
	args := append(ownerArgs(), setArgs(t, opts.Props)...)
	args = append(args, "--tls-cert", k.CertFile, "--tls-key", k.KeyFile, "--users", usersFile)
	k.KafkaCluster = startCluster(t, n, args)
	return k
}

// User returns the first user of mechanism. It fails the test when there is
// none.
func (k *SecureKafka) User(t testing.TB, mechanism string) KafkaUser {
	t.Helper()
	for _, u := range k.Users {
		if u.Mechanism == mechanism {
			return u
		}
	}
	t.Fatalf("testenv: the secure Kafka cluster has no %s user", mechanism)
	return KafkaUser{}
}

// TLS returns a TLS client configuration that trusts the cluster's CA alone.
func (k *SecureKafka) TLS() *tls.Config { return k.CA.ClientTLS() }
