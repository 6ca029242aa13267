package testenv

import (
	"errors"
	"fmt"
	"os/exec"
	"testing"
	"time"
)

// peerStartTimeout bounds jaeger.sh/prometheus.sh start once the binary is
// built; both are ready within a second or two.
const peerStartTimeout = 2 * time.Minute

// coldBuild is how long a cold build of a peer may take on the shared 2-core
// machine, with margin: a test with less time left fails at once instead.
const coldBuild = 25 * time.Minute

// Jaeger returns the OTLP gRPC address ("127.0.0.1:PORT", plaintext) and the
// query base URL ("http://127.0.0.1:PORT") of a Jaeger v2 with in-memory
// storage, shared by every test of this test binary and stopped when the
// binary exits. Query traces with GET {queryURL}/api/traces/{hex trace id}
// (404 until the trace arrives) or {queryURL}/api/v3/traces/{id}.
//
// The binary is built into .cache/bin by test/peers/build.sh when missing
// (~10 min cold; test/setup.sh does it ahead). Jaeger fails the test when it
// cannot be built or started.
func Jaeger(t testing.TB) (otlpGRPC, queryURL string) {
	t.Helper()
	vars, err := once("jaeger", func() (map[string]string, error) {
		t.Helper()
		return startPeer(t, "jaeger", "JAEGER_OTLP_GRPC", "JAEGER_QUERY")
	})
	if err != nil {
		t.Fatalf("testenv: Jaeger could not be started: %v", err)
	}
	return vars["JAEGER_OTLP_GRPC"], vars["JAEGER_QUERY"]
}

// JaegerSPM starts a Jaeger of the test's own whose Monitor tab (SPM)
// reads span metrics from the Prometheus at promURL, named as the collector's
// spanmetrics connector names them (traces_span_metrics_calls_total,
// traces_span_metrics_duration_seconds_bucket; see test/peers/jaeger.sh), and
// returns its query base URL: GET {queryURL}/api/metrics/calls?service=...
// answers from Prometheus. It is stopped when the test ends.
func JaegerSPM(t testing.TB, promURL string) (queryURL string) {
	t.Helper()
	if err := buildPeer(t, "jaeger"); err != nil {
		t.Fatalf("testenv: Jaeger could not be built: %v", err)
	}
	const name = "test/peers/jaeger.sh"
	vars, err := script(t, peerStartTimeout, name, append([]string{"start", "--prometheus", promURL}, ownerArgs()...)...)
	if err == nil {
		err = need(vars, name, "JAEGER_QUERY", "JAEGER_DIR")
	}
	if err != nil {
		t.Fatalf("testenv: Jaeger with SPM could not be started: %v", err)
	}
	t.Cleanup(func() {
		if _, err := script(t, time.Minute, name, "stop", vars["JAEGER_DIR"]); err != nil {
			t.Errorf("testenv: stopping Jaeger: %v", err)
		}
	})
	return vars["JAEGER_QUERY"]
}

// Prometheus returns the base URL ("http://127.0.0.1:PORT") of a Prometheus
// that accepts remote write 1.0 on /api/v1/write and OTLP on
// /api/v1/otlp/v1/metrics, and stores exemplars (read
// them with /api/v1/query_exemplars). It scrapes nothing, is shared by every
// test of this test binary and is stopped, its TSDB removed, when the binary
// exits. Tests sharing it should use series of their own.
//
// The binary is built into .cache/bin by test/peers/build.sh when missing
// (~8 min cold; test/setup.sh does it ahead). Prometheus fails the test when
// it cannot be built or started.
func Prometheus(t testing.TB) (url string) {
	t.Helper()
	vars, err := once("prometheus", func() (map[string]string, error) {
		t.Helper()
		return startPeer(t, "prometheus", "PROMETHEUS_URL")
	})
	if err != nil {
		t.Fatalf("testenv: Prometheus could not be started: %v", err)
	}
	return vars["PROMETHEUS_URL"]
}

// startPeer builds peer if needed (when the test has time for a cold build)
// and starts it.
func startPeer(t testing.TB, peer string, keys ...string) (map[string]string, error) {
	t.Helper()
	if err := buildPeer(t, peer); err != nil {
		return nil, err
	}
	name := "test/peers/" + peer + ".sh"
	vars, err := script(t, peerStartTimeout, name, append([]string{"start"}, ownerArgs()...)...)
	if err == nil {
		err = need(vars, name, keys...)
	}
	return vars, err
}

func buildPeer(t testing.TB, peer string) error {
	t.Helper()
	_, err := script(t, time.Minute, "test/peers/build.sh", "--check", peer)
	var exit *exec.ExitError
	switch {
	case err == nil:
		return nil
	case !errors.As(err, &exit) || exit.ExitCode() != 3:
		return err
	}
	if d, ok := deadline(t); ok && time.Until(d) < coldBuild {
		return fmt.Errorf("the %s binary is not built and a cold build takes ~10 min, more than this test binary has left (%v): run test/setup.sh first, or go test -timeout 40m", peer, time.Until(d).Round(time.Second))
	}
	t.Logf("testenv: building %s (cold build ~10 min; test/setup.sh does it ahead of the tests)", peer)
	_, err = script(t, coldBuild, "test/peers/build.sh", peer)
	return err
}
