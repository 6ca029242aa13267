package deploy

import (
	"os"
	"reflect"
	"strings"
	"testing"

	"helm.sh/helm/v3/pkg/lint"
	"helm.sh/helm/v3/pkg/lint/support"
	"sigs.k8s.io/yaml"
)

// TestDefaults: the default values make a Deployment of 2 replicas with its
// Service, ConfigMap, ServiceAccount and PodDisruptionBudget, and nothing
// that needs a CRD or a secret.
func TestDefaults(t *testing.T) {
	r := mustRender(t, "")
	if want := []string{"ConfigMap", "Deployment", "PodDisruptionBudget", "Service", "ServiceAccount"}; !reflect.DeepEqual(r.kinds, want) {
		t.Errorf("kinds %v, want %v", r.kinds, want)
	}
	if n := r.deployment.Spec.Replicas; n == nil || *n != 2 {
		t.Errorf("replicas %v, want 2", n)
	}
	for _, v := range r.deployment.Spec.Template.Spec.Volumes {
		if v.Secret != nil {
			t.Errorf("volume %s mounts Secret %s, but no secret is configured", v.Name, v.Secret.SecretName)
		}
	}
	if !strings.Contains(r.notes, "port-forward svc/"+fullname) {
		t.Errorf("NOTES.txt does not say how to reach weir:\n%s", r.notes)
	}
}

// TestReplicaBound: replicas × workers may reach the input partitions
// (8 + 4 by default) but not pass them, for a fixed count and for KEDA's
// maximum; the refusal names the values to change.
func TestReplicaBound(t *testing.T) {
	for _, tc := range []struct {
		name, values string
		wantErr      []string // "" when it renders
	}{
		{"replicas at the partitions", "replicas: 12", nil},
		{"replicas past the partitions", "replicas: 13", []string{
			"replicas: 13 replicas × 1 workers (config.kafka.workers) = 13 consumer-group members, more than the 12 input partitions (kafka.partitions: spans 8 + metrics 4)",
			"owns no partition and idles", "Lower replicas to at most 12"}},
		{"workers count as members", "replicas: 4\nconfig: {kafka: {workers: 4}}", []string{"4 replicas × 4 workers", "= 16 consumer-group members", "at most 3"}},
		{"more partitions allow more", "replicas: 20\nkafka: {partitions: {spans: 16, metrics: 4}}", nil},
		{"KEDA maximum at the partitions", valuesKEDA, nil},
		{"KEDA maximum past the partitions", "autoscaling: {keda: {enabled: true, maxReplicas: 13}}", []string{
			"autoscaling.keda.maxReplicas: 13 replicas", "more than the 12 input partitions", "Lower autoscaling.keda.maxReplicas to at most 12"}},
		{"KEDA ignores replicas", "replicas: 100\nautoscaling: {keda: {enabled: true}}", nil},
		{"KEDA minimum above maximum", "autoscaling: {keda: {enabled: true, minReplicas: 5, maxReplicas: 4}}", []string{"minReplicas 5 is above maxReplicas 4"}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			_, err := render(tc.values)
			switch {
			case tc.wantErr == nil && err != nil:
				t.Fatalf("render: %v", err)
			case tc.wantErr != nil && err == nil:
				t.Fatalf("rendered; want an error with %q", tc.wantErr)
			}
			for _, want := range tc.wantErr {
				if !strings.Contains(err.Error(), want) {
					t.Errorf("error %q\ndoes not say %q", err, want)
				}
			}
		})
	}
}

// TestRenderErrors: values the chart refuses, each with a message naming
// the value.
func TestRenderErrors(t *testing.T) {
	for _, tc := range []struct{ name, values, want string }{
		{"misspelt value", "replica: 3", "replica"},
		{"misspelt nested value", "kafka: {partition: {spans: 8}}", "partition"},
		{"unknown SASL mechanism", "kafka: {sasl: {mechanism: GSSAPI}}", "mechanism"},
		{"zero partitions", "kafka: {partitions: {spans: 0, metrics: 4}}", "spans"},
		{"SASL without a Secret", "kafka: {sasl: {mechanism: PLAIN, username: u, passwordKey: pw}}", `kafka.sasl.passwordKey names the Secret key "pw", but no Secret is mounted`},
		{"SASL key not in the Secret", "secret: {create: {other: x}}\nkafka: {sasl: {mechanism: PLAIN, username: u, passwordKey: pw}}", `secret.create does not have (it has: other)`},
		{"SASL without a user", "secret: {create: {pw: x}}\nkafka: {sasl: {mechanism: PLAIN, passwordKey: pw}}", "needs username and passwordKey"},
		{"client certificate without key", "secret: {create: {c: x}}\nkafka: {tls: {enabled: true, certKey: c}}", "certKey and keyKey go together"},
		{"two Secrets", "secret: {name: a, create: {k: v}}", "not both"},
		{"listen set", "config: {listen: 127.0.0.1:9464}", "config.listen: set by the chart"},
		{"SASL twice", "secret: {create: {pw: x}}\nkafka: {sasl: {mechanism: PLAIN, username: u, passwordKey: pw}}\nconfig: {kafka: {auth: {}}}", "config.kafka.auth and kafka.sasl both set"},
		{"rules file that weir skips", "rules: {spans.txt: x}", `"spans.txt": weir loads *.yaml and *.yml files`},
	} {
		t.Run(tc.name, func(t *testing.T) {
			_, err := render(tc.values)
			if err == nil {
				t.Fatalf("rendered; want an error with %q", tc.want)
			}
			if !strings.Contains(err.Error(), tc.want) {
				t.Errorf("error %q\ndoes not say %q", err, tc.want)
			}
		})
	}
}

// TestSecrets: the Secret's keys are files under /etc/weir/secrets, and
// weir.yaml names them where issue 15 puts them (kafka.auth.sasl, kafka.tls)
// or where the user's config does (remote_write, traces).
func TestSecrets(t *testing.T) {
	r := mustRender(t, valuesSecrets+valuesKEDA)
	s, ok := r.secrets[fullname]
	if !ok {
		t.Fatalf("no Secret %s; have %v", fullname, keys(r.secrets))
	}
	v := r.view(t)
	for key, val := range s.StringData {
		if got := v.files["/etc/weir/secrets/"+key]; got != val {
			t.Errorf("/etc/weir/secrets/%s holds %q, want the Secret's %q", key, got, val)
		}
	}
	var cfg struct {
		Kafka struct {
			Auth struct {
				SASL map[string]string `json:"sasl"`
			} `json:"auth"`
			TLS map[string]string `json:"tls"`
		} `json:"kafka"`
	}
	if err := yaml.Unmarshal([]byte(v.files["/etc/weir/weir.yaml"]), &cfg); err != nil {
		t.Fatal(err)
	}
	if want := map[string]string{"mechanism": "SCRAM-SHA-512", "username": "weir-prod", "password_file": "/etc/weir/secrets/kafka-password"}; !reflect.DeepEqual(cfg.Kafka.Auth.SASL, want) {
		t.Errorf("kafka.auth.sasl %v, want %v", cfg.Kafka.Auth.SASL, want)
	}
	if want := map[string]string{"ca_file": "/etc/weir/secrets/ca.crt", "cert_file": "/etc/weir/secrets/tls.crt", "key_file": "/etc/weir/secrets/tls.key", "server_name": "kafka.internal"}; !reflect.DeepEqual(cfg.Kafka.TLS, want) {
		t.Errorf("kafka.tls %v, want %v", cfg.Kafka.TLS, want)
	}
	for _, m := range r.container(t).VolumeMounts {
		if strings.HasPrefix(m.MountPath, "/etc/weir/secrets") && !m.ReadOnly {
			t.Errorf("secrets mounted writable at %s", m.MountPath)
		}
	}
	if r.deployment.Spec.Template.Annotations["checksum/secret"] == "" {
		t.Error("no checksum/secret annotation: a changed Secret would not restart weir")
	}

	// KEDA's Kafka client authenticates as weir does, from the same Secret.
	ta, ok := r.triggerAuths[fullname]
	if !ok {
		t.Fatalf("no TriggerAuthentication %s", fullname)
	}
	refs := map[string]string{}
	for _, ref := range ta.Spec.SecretTargetRef {
		if ref.Name != fullname {
			t.Errorf("TriggerAuthentication %s reads Secret %q, want %q", ref.Parameter, ref.Name, fullname)
		}
		refs[ref.Parameter] = ref.Key
	}
	if want := map[string]string{"password": "kafka-password", "ca": "ca.crt", "cert": "tls.crt", "key": "tls.key"}; !reflect.DeepEqual(refs, want) {
		t.Errorf("TriggerAuthentication secret refs %v, want %v", refs, want)
	}
	env := map[string]string{}
	for _, e := range r.container(t).Env {
		env[e.Name] = e.Value
	}
	if len(ta.Spec.Env) != 1 || ta.Spec.Env[0].Parameter != "username" || env[ta.Spec.Env[0].Name] != "weir-prod" || ta.Spec.Env[0].ContainerName != "weir" {
		t.Errorf("TriggerAuthentication env %+v does not give KEDA the user weir-prod (container env %v)", ta.Spec.Env, env)
	}
	for _, tr := range r.scaledObject.Spec.Triggers {
		if tr.Metadata["sasl"] != "scram_sha512" || tr.Metadata["tls"] != "enable" {
			t.Errorf("trigger %s: sasl %q tls %q, want scram_sha512 and enable", tr.Name, tr.Metadata["sasl"], tr.Metadata["tls"])
		}
		if tr.AuthenticationRef == nil || tr.AuthenticationRef.Name != fullname {
			t.Errorf("trigger %s does not use the TriggerAuthentication", tr.Name)
		}
	}
}

// TestExistingSecret: a Secret made outside the chart is mounted by name and
// not made.
func TestExistingSecret(t *testing.T) {
	r := mustRender(t, valuesExistingSecret+valuesKEDA)
	if len(r.secrets) != 0 {
		t.Errorf("the chart made Secrets %v beside the existing one", keys(r.secrets))
	}
	found := false
	for _, v := range r.deployment.Spec.Template.Spec.Volumes {
		found = found || (v.Secret != nil && v.Secret.SecretName == "weir-credentials")
	}
	if !found {
		t.Error("Secret weir-credentials is not mounted")
	}
	for _, ref := range r.triggerAuths[fullname].Spec.SecretTargetRef {
		if ref.Name != "weir-credentials" {
			t.Errorf("TriggerAuthentication reads Secret %q, want weir-credentials", ref.Name)
		}
	}
}

// TestOptional: the ServiceMonitor scrapes the Service's http port, and the
// dashboard ConfigMap carries the sidecar's label and the dashboard file
// byte for byte.
func TestOptional(t *testing.T) {
	r := mustRender(t, valuesOptional)
	sm := r.serviceMonitor
	if sm == nil {
		t.Fatal("no ServiceMonitor")
	}
	if sm.Metadata.Labels["release"] != "prometheus" {
		t.Errorf("ServiceMonitor labels %v lack serviceMonitor.labels", sm.Metadata.Labels)
	}
	for k, v := range sm.Spec.Selector.MatchLabels {
		if r.service.Labels[k] != v {
			t.Errorf("ServiceMonitor selects %s=%s, which the Service lacks", k, v)
		}
	}
	if len(sm.Spec.Endpoints) != 1 || sm.Spec.Endpoints[0].Port != r.service.Spec.Ports[0].Name || sm.Spec.Endpoints[0].Path != "/metrics" {
		t.Errorf("ServiceMonitor endpoints %+v, want /metrics on port %q", sm.Spec.Endpoints, r.service.Spec.Ports[0].Name)
	}
	cm, ok := r.configMaps[fullname+"-dashboard"]
	if !ok {
		t.Fatalf("no dashboard ConfigMap; have %v", keys(r.configMaps))
	}
	if cm.Labels["grafana_dashboard"] != "1" {
		t.Errorf("dashboard ConfigMap labels %v lack grafana_dashboard", cm.Labels)
	}
	want, err := os.ReadFile(dashboardFile)
	if err != nil {
		t.Fatal(err)
	}
	if got := cm.Data["weir-red.json"]; strings.TrimSpace(got) != strings.TrimSpace(string(want)) {
		t.Errorf("the dashboard ConfigMap differs from %s", dashboardFile)
	}
}

// TestLint: helm lint finds no error in the chart.
func TestLint(t *testing.T) {
	l := lint.All(chartDir, nil, namespace, false)
	for _, m := range l.Messages {
		if m.Severity >= support.WarningSev {
			t.Errorf("helm lint: %s", m)
		}
	}
}
