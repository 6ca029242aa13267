package testenv

import (
	"fmt"
	"os"
	"strconv"
	"strings"
	"testing"
	"time"
)

// kafkaStartTimeout bounds test/kafka/start.sh: a cold Maven resolve plus
// JVM starts on a busy 2-core machine.
const kafkaStartTimeout = 5 * time.Minute

// Kafka returns the bootstrap addresses ("127.0.0.1:PORT") of an Apache
// Kafka 4 cluster of n nodes in KRaft mode, shared by every test of this test
// binary that asks for n nodes. The first call starts it with
// test/kafka/start.sh; it is stopped, and its data removed, when the test
// binary exits. Tests sharing it should use topic and group names of their
// own.
//
// When WEIR_KAFKA_BROKERS (comma-separated host:port) is set and lists at
// least n brokers, those are returned and nothing is started.
//
// The cluster has auto.create.topics.enable=false (create topics with kadm),
// 16 partitions and replication factor n by default, and internal topics
// with replication n and min ISR n-1 (at least 1): transactions work, also
// with one node of three down. Kafka fails the test when the cluster cannot
// be started, with the script's explanation.
func Kafka(t testing.TB, n int) []string {
	t.Helper()
	checkNodes(t, n)
	if env := os.Getenv("WEIR_KAFKA_BROKERS"); env != "" {
		if brokers := splitList(env); len(brokers) >= n {
			return brokers
		}
		t.Logf("testenv: WEIR_KAFKA_BROKERS lists fewer than %d brokers; starting a cluster", n)
	}
	vars, err := once("kafka/"+strconv.Itoa(n), func() (map[string]string, error) {
		t.Helper()
		vars, err := script(t, kafkaStartTimeout, "test/kafka/start.sh", append(ownerArgs(), strconv.Itoa(n))...)
		if err == nil {
			err = need(vars, "test/kafka/start.sh", "KAFKA_BROKERS", "KAFKA_DIR")
		}
		return vars, err
	})
	if err != nil {
		t.Fatalf("testenv: Kafka cluster of %d node(s) could not be started: %v", n, err)
	}
	return splitList(vars["KAFKA_BROKERS"])
}

// KafkaCluster is a Kafka cluster started for one test by StartKafka. Its
// nodes are numbered 1..n; Brokers()[i-1] is the address of node i.
type KafkaCluster struct {
	brokers []string
	dir     string
}

// StartKafka starts a Kafka cluster of n nodes (as Kafka does) for the
// calling test alone, for tests that stop, kill or restart nodes. props are
// "key=value" broker settings added to (or replacing) the defaults of
// test/kafka/start.sh on every node. t.Cleanup stops the cluster and removes
// its data. It fails the test when the cluster cannot be started.
//
// A node killed with -9 cannot register again before its old session times
// out (broker.session.timeout.ms, 9 s): restarting it takes that long.
func StartKafka(t testing.TB, n int, props ...string) *KafkaCluster {
	t.Helper()
	checkNodes(t, n)
	return startCluster(t, n, append(ownerArgs(), setArgs(t, props)...))
}

// setArgs turns "key=value" broker settings into start.sh's --set arguments.
func setArgs(t testing.TB, props []string) []string {
	t.Helper()
	var args []string
	for _, p := range props {
		if !strings.Contains(p, "=") {
			t.Fatalf("testenv: Kafka setting %q is not key=value", p)
		}
		args = append(args, "--set", p)
	}
	return args
}

// startCluster runs test/kafka/start.sh with args for the calling test and
// makes t.Cleanup stop the cluster, keeping its logs if the test failed.
func startCluster(t testing.TB, n int, args []string) *KafkaCluster {
	t.Helper()
	vars, err := script(t, kafkaStartTimeout, "test/kafka/start.sh", append(args, strconv.Itoa(n))...)
	if err == nil {
		err = need(vars, "test/kafka/start.sh", "KAFKA_BROKERS", "KAFKA_DIR")
	}
	if err != nil {
		t.Fatalf("testenv: Kafka cluster of %d node(s) could not be started: %v", n, err)
	}
	c := &KafkaCluster{brokers: splitList(vars["KAFKA_BROKERS"]), dir: vars["KAFKA_DIR"]}
	t.Cleanup(func() {
		if t.Failed() {
			keepLogs(t, c.dir, "kafka")
		}
		if _, err := script(t, time.Minute, "test/kafka/stop.sh", c.dir); err != nil {
			t.Errorf("testenv: stopping Kafka: %v", err)
		}
	})
	return c
}

// Brokers returns the cluster's bootstrap addresses, node 1 first.
func (c *KafkaCluster) Brokers() []string { return append([]string(nil), c.brokers...) }

// Dir returns the directory that holds the cluster's configuration, data and
// logs (node N logs to Dir()/node-N/logs/server.log). It is removed when the
// test ends.
func (c *KafkaCluster) Dir() string { return c.dir }

// Restart stops node (1..n) and starts it again with its data, waiting until
// it is registered and unfenced. kill=false is a controlled shutdown
// (SIGTERM); kill=true is kill -9. It fails the test when the node does not
// come back.
func (c *KafkaCluster) Restart(t testing.TB, node int, kill bool) {
	t.Helper()
	c.node(t, node, kill, "")
}

// StopNode stops node (1..n), gracefully or with kill -9, and leaves it down
// until StartNode.
func (c *KafkaCluster) StopNode(t testing.TB, node int, kill bool) {
	t.Helper()
	c.node(t, node, kill, "--stop")
}

// StartNode starts node (1..n) stopped by StopNode and waits until it is
// registered and unfenced.
func (c *KafkaCluster) StartNode(t testing.TB, node int) {
	t.Helper()
	c.node(t, node, false, "--start")
}

func (c *KafkaCluster) node(t testing.TB, node int, kill bool, mode string) {
	t.Helper()
	if node < 1 || node > len(c.brokers) {
		t.Fatalf("testenv: no Kafka node %d in a cluster of %d", node, len(c.brokers))
	}
	var args []string
	if kill {
		args = append(args, "--kill")
	}
	if mode != "" {
		args = append(args, mode)
	}
	args = append(args, strconv.Itoa(node), c.dir)
	if _, err := script(t, kafkaStartTimeout, "test/kafka/restart.sh", args...); err != nil {
		t.Fatalf("testenv: Kafka node %d: %v", node, err)
	}
}

func checkNodes(t testing.TB, n int) {
	t.Helper()
	if n < 1 || n > 9 {
		t.Fatalf("testenv: a Kafka cluster has 1..9 nodes, not %d", n)
	}
}

func splitList(s string) []string {
	var out []string
	for _, f := range strings.Split(s, ",") {
		if f = strings.TrimSpace(f); f != "" {
			out = append(out, f)
		}
	}
	return out
}

// String describes the cluster for test logs.
func (c *KafkaCluster) String() string {
	return fmt.Sprintf("kafka%v@%s", c.brokers, c.dir)
}
