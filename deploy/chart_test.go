package deploy

import (
	"fmt"
	"os"
	"path/filepath"
	"reflect"
	"strconv"
	"strings"
	"testing"

	corev1 "k8s.io/api/core/v1"
	"k8s.io/apimachinery/pkg/labels"
	"sigs.k8s.io/yaml"
)

// Value sets the chart is rendered with, each over the chart's defaults.
const (
	valuesKEDA = `
autoscaling:
  keda: {enabled: true, minReplicas: 1, maxReplicas: 12}
`
	// Every secret weir reads, from a Secret the chart makes: Kafka SASL and
	// mutual TLS, remote write with a bearer token and with basic auth, TLS
	// to the trace backend.
	valuesSecrets = `
secret:
  create:
    kafka-password: kafka-pass-0x5eed
    ca.crt: ca-pem-0x5eed
    tls.crt: cert-pem-0x5eed
    tls.key: key-pem-0x5eed
    rw-token: rw-token-0x5eed
    m3-password: m3-pass-0x5eed
kafka:
  sasl: {mechanism: SCRAM-SHA-512, username: weir-prod, passwordKey: kafka-password}
  tls: {enabled: true, caKey: ca.crt, certKey: tls.crt, keyKey: tls.key, serverName: kafka.internal}
config:
  remote_write:
    - url: https://mimir.example:443/api/v1/push
      authorization: {credentials_file: /etc/weir/secrets/rw-token}
      tls_config: {ca_file: /etc/weir/secrets/ca.crt}
    - url: https://m3.example:7201/api/v1/prom/remote/write
      policies: [1m:40d]
      m3_storage_policy_headers: true
      basic_auth: {username: weir, password_file: secrets/m3-password}
  traces: {endpoint: "jaeger-collector:4317", insecure: false, ca_file: /etc/weir/secrets/ca.crt}
rules:
  long.yaml: |
    rollup:
      - name: span-calls-long
        match: '{__name__="span_duration_seconds"}'
        output: span_calls_by_service
        by: [service_name]
        aggregations: [count]
        policies: [1m:40d]
`
	valuesExistingSecret = `
secret: {name: weir-credentials}
kafka:
  sasl: {mechanism: PLAIN, username: weir, passwordKey: password}
  tls: {enabled: true, caKey: ca.crt}
`
	valuesOptional = `
serviceMonitor: {enabled: true, labels: {release: prometheus}}
grafanaDashboard: {enabled: true}
`
)

// secretValues are the values of valuesSecrets' Secret: none may appear
// anywhere but in that Secret.
var secretValues = []string{"kafka-pass-0x5eed", "ca-pem-0x5eed", "cert-pem-0x5eed", "key-pem-0x5eed", "rw-token-0x5eed", "m3-pass-0x5eed"}

var valueSets = []struct{ name, values string }{
	{"defaults", ""},
	{"keda", valuesKEDA},
	{"secrets", valuesSecrets},
	{"secrets+keda", valuesSecrets + valuesKEDA},
	{"existing-secret+keda", valuesExistingSecret + valuesKEDA},
	{"servicemonitor+dashboard", valuesOptional},
}

// pendingKeys are settings the chart writes but weir's config does not take
// yet: weir's check runs without them. Once weir takes them, the check of
// the whole file passes and TestEveryValueSet says to empty this list.
// (Issue 15's Kafka TLS and SASL and remote-write authentication are taken
// now: none is pending.)
var pendingKeys []string

// TestEveryValueSet renders each value set and checks what must hold for
// all: the documents decode into their types, the probes and the Service
// reach weir's HTTP port, the pod runs unprivileged, and the mounted
// weir.yaml passes weir's own check with every file it names mounted.
func TestEveryValueSet(t *testing.T) {
	for _, vs := range valueSets {
		t.Run(vs.name, func(t *testing.T) {
			r := mustRender(t, vs.values)
			checkWorkload(t, r)
			cfg := checkConfig(t, r)
			if r.scaledObject != nil {
				checkScaledObject(t, r, cfg)
			}
			checkNoSecretIn(t, r)
		})
	}
}

func checkWorkload(t *testing.T, r *release) {
	t.Helper()
	d := r.deployment
	c := r.container(t)
	if d.Name != fullname {
		t.Errorf("Deployment %q, want %q", d.Name, fullname)
	}
	podLabels := labels.Set(d.Spec.Template.Labels)
	sel := d.Spec.Selector
	if sel == nil || !labels.SelectorFromSet(sel.MatchLabels).Matches(podLabels) || len(sel.MatchLabels) == 0 {
		t.Errorf("Deployment selector %v does not select its pods %v", sel, podLabels)
	}
	if want := []string{"run", "-config", "/etc/weir/weir.yaml"}; !reflect.DeepEqual(c.Args, want) {
		t.Errorf("weir args %q, want %q", c.Args, want)
	}

	// The probes and the Service go to the container's HTTP port.
	ports := map[string]int32{}
	for _, p := range c.Ports {
		ports[p.Name] = p.ContainerPort
	}
	resolve := func(what string, p interface{ String() string }) int32 {
		s := p.String()
		if n, err := strconv.Atoi(s); err == nil {
			return int32(n)
		}
		n, ok := ports[s]
		if !ok {
			t.Errorf("%s: port %q is no container port (%v)", what, s, ports)
		}
		return n
	}
	httpPort := ports["http"]
	if httpPort == 0 {
		t.Fatalf("no container port named http: %v", c.Ports)
	}
	for _, pr := range []struct {
		what  string
		probe *corev1.Probe
		path  string
	}{{"readiness", c.ReadinessProbe, "/-/ready"}, {"liveness", c.LivenessProbe, "/-/healthy"}} {
		if pr.probe == nil || pr.probe.HTTPGet == nil {
			t.Errorf("no HTTP %s probe", pr.what)
			continue
		}
		if pr.probe.HTTPGet.Path != pr.path || resolve(pr.what+" probe", &pr.probe.HTTPGet.Port) != httpPort {
			t.Errorf("%s probe GET %s on %s, want %s on the http port %d", pr.what, pr.probe.HTTPGet.Path, pr.probe.HTTPGet.Port.String(), pr.path, httpPort)
		}
	}
	if r.service == nil {
		t.Fatal("no Service")
	}
	if !labels.SelectorFromSet(r.service.Spec.Selector).Matches(podLabels) || len(r.service.Spec.Selector) == 0 {
		t.Errorf("Service selector %v does not select the pods %v", r.service.Spec.Selector, podLabels)
	}
	if len(r.service.Spec.Ports) != 1 || resolve("Service", &r.service.Spec.Ports[0].TargetPort) != httpPort {
		t.Errorf("Service ports %+v, want one to the http port %d", r.service.Spec.Ports, httpPort)
	}
	if r.pdb == nil {
		t.Error("no PodDisruptionBudget")
	} else if s := r.pdb.Spec.Selector; s == nil || !labels.SelectorFromSet(s.MatchLabels).Matches(podLabels) {
		t.Errorf("PodDisruptionBudget selector %v does not select the pods", s)
	}

	// Unprivileged, read-only root, with requests and a memory limit.
	ps, cs := d.Spec.Template.Spec.SecurityContext, c.SecurityContext
	nonRoot := (cs != nil && cs.RunAsNonRoot != nil && *cs.RunAsNonRoot) || (ps != nil && ps.RunAsNonRoot != nil && *ps.RunAsNonRoot)
	if !nonRoot {
		t.Error("runAsNonRoot is not set")
	}
	if cs == nil || cs.ReadOnlyRootFilesystem == nil || !*cs.ReadOnlyRootFilesystem {
		t.Error("the root filesystem is not read-only")
	}
	if cs == nil || cs.AllowPrivilegeEscalation == nil || *cs.AllowPrivilegeEscalation {
		t.Error("privilege escalation is not refused")
	}
	if cs == nil || cs.Capabilities == nil || !reflect.DeepEqual(cs.Capabilities.Drop, []corev1.Capability{"ALL"}) {
		t.Error("capabilities are not all dropped")
	}
	if c.Resources.Requests.Cpu().IsZero() || c.Resources.Requests.Memory().IsZero() || c.Resources.Limits.Memory().IsZero() {
		t.Errorf("resources %+v: want CPU and memory requests and a memory limit", c.Resources)
	}
	if sa := d.Spec.Template.Spec.ServiceAccountName; r.serviceAccount == nil || sa != r.serviceAccount.Name {
		t.Errorf("pods run as service account %q, which the release does not make", sa)
	}
}

// checkConfig checks the weir.yaml the container sees: weir listens where
// the probes go, every *_file setting names a mounted file, and `weir config
// check` accepts it with the mounted rules. It returns the config.
func checkConfig(t *testing.T, r *release) map[string]any {
	t.Helper()
	v := r.view(t)
	raw, ok := v.files["/etc/weir/weir.yaml"]
	if !ok {
		t.Fatalf("no /etc/weir/weir.yaml in the container; mounted: %v", keys(v.files))
	}
	var cfg map[string]any
	if err := yaml.UnmarshalStrict([]byte(raw), &cfg); err != nil {
		t.Fatalf("weir.yaml: %v\n%s", err, raw)
	}
	var httpPort int32
	for _, p := range r.container(t).Ports {
		if p.Name == "http" {
			httpPort = p.ContainerPort
		}
	}
	if want := "0.0.0.0:" + strconv.Itoa(int(httpPort)); cfg["listen"] != want {
		t.Errorf("weir listens on %v, want %s (all interfaces, the probes' port)", cfg["listen"], want)
	}
	walkFiles(cfg, "", func(key, p string) {
		if !filepath.IsAbs(p) {
			p = filepath.Join("/etc/weir", p) // weir resolves against the config's folder
		}
		if !v.has(p) {
			t.Errorf("%s: %s is not mounted in the container", key, p)
		}
	})

	dir := t.TempDir()
	v.writeTree(t, dir)
	file := filepath.Join(dir, "etc", "weir", "weir.yaml")
	stripped := withoutKeys(cfg, pendingKeys)
	if !reflect.DeepEqual(stripped, cfg) {
		if out, err := runWeir(t, "config", "check", file); err == nil {
			t.Errorf("weir now takes the settings of pendingKeys %v (weir config check passes the whole file: %s): empty pendingKeys so that the check covers them", pendingKeys, out)
		}
		b, err := yaml.Marshal(stripped)
		if err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(file, b, 0o644); err != nil {
			t.Fatal(err)
		}
	}
	out, err := runWeir(t, "config", "check", file)
	if err != nil || !strings.Contains(out, "configuration OK") {
		t.Errorf("weir config check of the mounted weir.yaml: %v\n%s\n%s", err, out, raw)
	}
	return cfg
}

// walkFiles calls fn for every string setting whose key ends in _file.
func walkFiles(n any, at string, fn func(key, path string)) {
	switch n := n.(type) {
	case map[string]any:
		for k, v := range n {
			if s, ok := v.(string); ok && strings.HasSuffix(k, "_file") && s != "" {
				fn(at+k, s)
			}
			walkFiles(v, at+k+".", fn)
		}
	case []any:
		for i, v := range n {
			walkFiles(v, at[:len(at)-1]+"["+strconv.Itoa(i)+"].", fn)
		}
	}
}

// withoutKeys returns a copy of cfg without the dotted keys; a list on the
// way applies the rest of the key to each element.
func withoutKeys(cfg map[string]any, drop []string) map[string]any {
	var del func(n any, path []string) any
	del = func(n any, path []string) any {
		switch n := n.(type) {
		case map[string]any:
			out := make(map[string]any, len(n))
			for k, v := range n {
				switch {
				case k == path[0] && len(path) == 1:
				case k == path[0]:
					out[k] = del(v, path[1:])
				default:
					out[k] = v
				}
			}
			return out
		case []any:
			out := make([]any, len(n))
			for i, v := range n {
				out[i] = del(v, path)
			}
			return out
		}
		return n
	}
	var out any = cfg
	for _, k := range drop {
		out = del(out, strings.Split(k, "."))
	}
	return out.(map[string]any)
}

func keys[V any](m map[string]V) []string {
	out := make([]string, 0, len(m))
	for k := range m {
		out = append(out, k)
	}
	return out
}

// checkNoSecretIn fails when a value of valuesSecrets' Secret appears in a
// document other than that Secret.
func checkNoSecretIn(t *testing.T, r *release) {
	t.Helper()
	docs := map[string]any{"Deployment": r.deployment, "Service": r.service, "ScaledObject": r.scaledObject}
	for n, cm := range r.configMaps {
		docs["ConfigMap "+n] = cm
	}
	for n, ta := range r.triggerAuths {
		docs["TriggerAuthentication "+n] = ta
	}
	for what, d := range docs {
		b, err := yaml.Marshal(d)
		if err != nil {
			t.Fatal(err)
		}
		for _, s := range secretValues {
			if strings.Contains(string(b), s) {
				t.Errorf("%s holds the secret %q", what, s)
			}
		}
	}
}

func checkScaledObject(t *testing.T, r *release, cfg map[string]any) {
	t.Helper()
	so := r.scaledObject
	if so.Spec.ScaleTargetRef.Kind != "Deployment" || so.Spec.ScaleTargetRef.Name != r.deployment.Name {
		t.Errorf("ScaledObject scales %s %s, want Deployment %s", so.Spec.ScaleTargetRef.Kind, so.Spec.ScaleTargetRef.Name, r.deployment.Name)
	}
	if r.deployment.Spec.Replicas != nil {
		t.Errorf("Deployment sets replicas %d beside KEDA: each upgrade would reset KEDA's count", *r.deployment.Spec.Replicas)
	}
	kafka, _ := cfg["kafka"].(map[string]any)
	// setting returns a kafka setting of weir.yaml, or weir's default.
	setting := func(key, def string) string {
		if s, ok := kafka[key].(string); ok && s != "" {
			return s
		}
		return def
	}
	brokerList, _ := kafka["brokers"].([]any)
	var brokers []string
	for _, b := range brokerList {
		brokers = append(brokers, fmt.Sprint(b))
	}
	group := setting("group", "weir")
	topics := map[string]bool{}
	for _, tr := range so.Spec.Triggers {
		md := tr.Metadata
		if tr.Type != "kafka" {
			t.Errorf("trigger %s: type %q, want kafka", tr.Name, tr.Type)
		}
		if md["consumerGroup"] != group {
			t.Errorf("trigger %s: consumer group %q, weir's is %q", tr.Name, md["consumerGroup"], group)
		}
		if md["bootstrapServers"] != strings.Join(brokers, ",") {
			t.Errorf("trigger %s: bootstrapServers %q, weir reads %q", tr.Name, md["bootstrapServers"], brokers)
		}
		if n, err := strconv.Atoi(md["lagThreshold"]); err != nil || n <= 0 {
			t.Errorf("trigger %s: lagThreshold %q is not a positive count", tr.Name, md["lagThreshold"])
		}
		if md["allowIdleConsumers"] != "false" {
			t.Errorf("trigger %s: allowIdleConsumers %q: KEDA would scale past the partitions", tr.Name, md["allowIdleConsumers"])
		}
		topics[md["topic"]] = true
		if tr.AuthenticationRef != nil {
			if _, ok := r.triggerAuths[tr.AuthenticationRef.Name]; !ok {
				t.Errorf("trigger %s: TriggerAuthentication %q is not in the release", tr.Name, tr.AuthenticationRef.Name)
			}
		}
	}
	if want := map[string]bool{setting("spans_topic", "otlp_spans"): true, setting("metrics_topic", "otlp_metrics"): true}; !reflect.DeepEqual(topics, want) {
		t.Errorf("triggers on topics %v, want weir's input topics %v", topics, want)
	}
}
