package cluster

import (
	"context"
	"crypto/tls"
	"crypto/x509"
	"errors"
	"fmt"
	"maps"
	"net"
	"slices"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/twmb/franz-go/pkg/kerr"
	"github.com/twmb/franz-go/pkg/kgo"
)

// A SecurityError is a broker that refused weir's TLS or SASL settings, or
// settings weir could not apply (an unreadable secret file): a fault of
// configuration that retrying does not mend, so weir stops on it.
type SecurityError struct {
	// Broker is the broker's address (host:port), or the seed brokers
	// when the client did not say which broker failed.
	Broker string
	// Cause says in words what is wrong and which setting to look at.
	Cause string
	Err   error
}

func (e *SecurityError) Error() string {
	return fmt.Sprintf("Kafka broker %s: %s: %v", e.Broker, e.Cause, e.Err)
}

func (e *SecurityError) Unwrap() error { return e.Err }

// securityCauses are the connection errors that are faults of the TLS or
// SASL settings, first match wins; every other error (refused, timed out,
// reset) may mend by itself and is retried.
var securityCauses = []struct {
	is    func(error) bool
	cause string
}{
	{isErr(kerr.SaslAuthenticationFailed), "SASL authentication failed: wrong username or password (auth.sasl), a user the broker does not know, or a user of another mechanism"},
	{isErr(kerr.UnsupportedSaslMechanism), "the broker does not enable this SASL mechanism (auth.sasl.mechanism)"},
	{isErr(kerr.IllegalSaslState), "the broker does not take SASL on this listener (auth.sasl)"},
	{asErr[*credentialsError], "weir cannot read its credentials"},
	{asErr[x509.UnknownAuthorityError], "TLS: the broker's certificate is signed by an authority weir does not trust (tls.ca_file)"},
	{asErr[x509.HostnameError], "TLS: the broker's certificate does not name this host (tls.server_name)"},
	{asErr[x509.CertificateInvalidError], "TLS: the broker's certificate is not valid (expired, not yet valid, or not for a server)"},
	{asErr[*tls.CertificateVerificationError], "TLS: the broker's certificate does not verify"},
	{asErr[tls.RecordHeaderError], "TLS: the broker does not speak TLS on this port (remove tls, or use the broker's TLS listener)"},
	{isRemoteTLSAlert, "TLS: the broker refused the handshake (does it want a client certificate, tls.cert_file, or another TLS version?)"},
}

func isErr(target error) func(error) bool {
	return func(err error) bool { return errors.Is(err, target) }
}

func asErr[T error](err error) bool {
	_, ok := errors.AsType[T](err)
	return ok
}

// isRemoteTLSAlert is an alert the peer sent during the TLS handshake
// (crypto/tls reports it as a net.OpError "remote error").
func isRemoteTLSAlert(err error) bool {
	op, ok := errors.AsType[*net.OpError](err)
	return ok && op.Op == "remote error"
}

// securityCause says what err means when it is a fault of the TLS or SASL
// settings, and "" otherwise.
func securityCause(err error) string {
	if err == nil {
		return ""
	}
	for _, c := range securityCauses {
		if c.is(err) {
			return c.cause
		}
	}
	return ""
}

// connFaults is a client hook that keeps, per broker, the last connection
// that failed for a security cause. franz-go reports every connection,
// SASL included, through kgo.HookBrokerConnect with the broker's address.
type connFaults struct {
	mu sync.Mutex
	m  map[string]*SecurityError
}

func (f *connFaults) OnBrokerConnect(meta kgo.BrokerMetadata, _ time.Duration, _ net.Conn, err error) {
	cause := securityCause(err)
	if cause == "" {
		return
	}
	addr := net.JoinHostPort(meta.Host, strconv.Itoa(int(meta.Port)))
	f.mu.Lock()
	defer f.mu.Unlock()
	if f.m == nil {
		f.m = map[string]*SecurityError{}
	}
	f.m[addr] = &SecurityError{Broker: addr, Cause: cause, Err: err}
}

// check returns the security faults seen, one per broker, or, when err (a
// request's error) is itself a security fault that no connection
// reported, that fault named by the seed brokers. It returns nil when
// neither is a security fault.
func (f *connFaults) check(err error, seeds []string) error {
	f.mu.Lock()
	defer f.mu.Unlock()
	if len(f.m) > 0 {
		var errs []error
		for _, b := range slices.Sorted(maps.Keys(f.m)) {
			errs = append(errs, f.m[b])
		}
		return errors.Join(errs...)
	}
	if cause := securityCause(err); cause != "" {
		return &SecurityError{Broker: strings.Join(seeds, ","), Cause: cause, Err: err}
	}
	return nil
}

// Check connects to the brokers once (kgo.Client.Ping). It returns a
// *SecurityError when a broker refuses the TLS or SASL settings, another
// error naming the brokers when none answers, and nil once one does.
func (c *Clients) Check(ctx context.Context) error {
	var faults connFaults
	cl, err := c.New(kgo.WithHooks(&faults))
	if err != nil {
		return err
	}
	defer cl.Close()
	err = cl.Ping(ctx)
	if serr := faults.check(err, c.Brokers); serr != nil {
		return serr
	}
	if err != nil {
		return fmt.Errorf("cluster: Kafka at %v does not answer: %w", c.Brokers, err)
	}
	return nil
}
