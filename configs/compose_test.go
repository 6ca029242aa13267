package configs_test

import (
	"encoding/json"
	"fmt"
	"net"
	"net/url"
	"os"
	"path"
	"path/filepath"
	"slices"
	"strings"
	"testing"

	"gopkg.in/yaml.v3"

	"github.com/weirdev/weir/internal/config"
	"github.com/weirdev/weir/rules"
)

// The test runs in configs/; the compose file is at the repository root.
const repoRoot = ".."

type composeFile struct {
	Name     string             `yaml:"name"`
	Services map[string]service `yaml:"services"`
}

type service struct {
	Image       string            `yaml:"image"`
	Build       any               `yaml:"build"`
	Command     []string          `yaml:"command"`
	Entrypoint  []string          `yaml:"entrypoint"`
	Volumes     []string          `yaml:"volumes"`
	Ports       []string          `yaml:"ports"`
	Environment map[string]string `yaml:"environment"`
	DependsOn   yaml.Node         `yaml:"depends_on"`
}

func loadCompose(t *testing.T) composeFile {
	t.Helper()
	b, err := os.ReadFile(filepath.Join(repoRoot, "docker-compose.yml"))
	if err != nil {
		t.Fatal(err)
	}
	var c composeFile
	if err := yaml.Unmarshal(b, &c); err != nil {
		t.Fatalf("docker-compose.yml: %v", err)
	}
	if len(c.Services) == 0 {
		t.Fatal("docker-compose.yml: no services")
	}
	return c
}

// hostPath maps a path inside a service's container to the repository file
// a bind mount of the service puts there ("" when no mount covers it).
func hostPath(s service, inContainer string) string {
	best, bestLen := "", -1
	for _, v := range s.Volumes {
		parts := strings.Split(v, ":")
		if len(parts) < 2 || !strings.HasPrefix(parts[0], "./") {
			continue
		}
		host, dst := parts[0], parts[1]
		rel, ok := strings.CutPrefix(inContainer, dst)
		if !ok || (rel != "" && !strings.HasPrefix(rel, "/")) || len(dst) <= bestLen {
			continue
		}
		best, bestLen = filepath.Join(repoRoot, filepath.FromSlash(host+rel)), len(dst)
	}
	return best
}

// flagValue returns the value of -name VALUE or --name=VALUE in args.
func flagValue(args []string, name string) string {
	for i, a := range args {
		a = strings.TrimLeft(a, "-")
		if v, ok := strings.CutPrefix(a, name+"="); ok {
			return v
		}
		if a == name && i+1 < len(args) && len(args[i]) > len(a) {
			return args[i+1]
		}
	}
	return ""
}

// hostOf returns the host name of an http URL or a host:port address.
func hostOf(t *testing.T, addr string) (host, port string) {
	t.Helper()
	if strings.Contains(addr, "://") {
		u, err := url.Parse(addr)
		if err != nil {
			t.Fatalf("%q: %v", addr, err)
		}
		addr = u.Host
	}
	host, port, err := net.SplitHostPort(addr)
	if err != nil {
		t.Fatalf("%q: not host:port: %v", addr, err)
	}
	return host, port
}

func dependsOn(t *testing.T, s service) []string {
	t.Helper()
	var names []string
	switch s.DependsOn.Kind {
	case 0:
	case yaml.SequenceNode:
		if err := s.DependsOn.Decode(&names); err != nil {
			t.Fatal(err)
		}
	case yaml.MappingNode:
		var m map[string]struct {
			Condition string `yaml:"condition"`
		}
		if err := s.DependsOn.Decode(&m); err != nil {
			t.Fatal(err)
		}
		for k, v := range m {
			if !slices.Contains([]string{"service_started", "service_healthy", "service_completed_successfully"}, v.Condition) {
				t.Errorf("depends_on %s: condition %q", k, v.Condition)
			}
			names = append(names, k)
		}
	default:
		t.Fatalf("depends_on at line %d is neither a list nor a map", s.DependsOn.Line)
	}
	return names
}

// TestComposeServices checks the file's own consistency: every service runs
// something, depends on services that exist, mounts files that exist and
// publishes ports on the host's 127.0.0.1 only.
func TestComposeServices(t *testing.T) {
	c := loadCompose(t)
	for _, want := range []string{"kafka", "otel-collector", "prometheus", "jaeger", "grafana"} {
		if _, ok := c.Services[want]; !ok {
			t.Errorf("no service %q", want)
		}
	}
	for name, s := range c.Services {
		if s.Image == "" && s.Build == nil {
			t.Errorf("%s: neither image nor build", name)
		}
		if s.Image != "" && s.Build == nil && (!strings.Contains(s.Image, ":") || strings.HasSuffix(s.Image, ":latest")) {
			t.Errorf("%s: image %q has no pinned tag", name, s.Image)
		}
		for _, d := range dependsOn(t, s) {
			if _, ok := c.Services[d]; !ok {
				t.Errorf("%s depends on %q, which is no service", name, d)
			}
		}
		for _, v := range s.Volumes {
			host, _, _ := strings.Cut(v, ":")
			if !strings.HasPrefix(host, "./") {
				t.Errorf("%s: volume %q is not a bind mount of a repository file", name, v)
				continue
			}
			if _, err := os.Stat(filepath.Join(repoRoot, filepath.FromSlash(host))); err != nil {
				t.Errorf("%s: volume %q: %v", name, v, err)
			}
		}
		for _, p := range s.Ports {
			if !strings.HasPrefix(p, "127.0.0.1:") {
				t.Errorf("%s: port %q is published on every interface of the host; bind 127.0.0.1", name, p)
			}
		}
	}
	b, err := os.ReadFile(filepath.Join(repoRoot, "Dockerfile"))
	if err != nil {
		t.Fatal(err)
	}
	if !strings.Contains(string(b), "go build") || !strings.Contains(string(b), "./cmd/weir") {
		t.Errorf("Dockerfile does not build ./cmd/weir")
	}
}

// weirService is a weir replica of the compose file with its loaded config.
type weirService struct {
	name string
	svc  service
	cfg  *config.Config
}

func weirServices(t *testing.T, c composeFile) []weirService {
	t.Helper()
	var out []weirService
	for name, s := range c.Services {
		if s.Build == nil {
			continue
		}
		if len(s.Command) == 0 || s.Command[0] != "run" {
			t.Fatalf("%s: weir command %q, want run -config FILE", name, s.Command)
		}
		in := flagValue(s.Command, "config")
		host := hostPath(s, in)
		if host == "" {
			t.Fatalf("%s: -config %q is not in a mounted directory", name, in)
		}
		cfg, err := config.Load(host)
		if err != nil {
			t.Fatalf("%s: config validation: %v", name, err)
		}
		out = append(out, weirService{name, s, cfg})
	}
	slices.SortFunc(out, func(a, b weirService) int { return strings.Compare(a.name, b.name) })
	return out
}

// TestComposeWeir: two weir replicas whose config passes validation, whose
// rules pass `weir rules check`, and whose addresses name the compose
// services that serve them.
func TestComposeWeir(t *testing.T) {
	c := loadCompose(t)
	weirs := weirServices(t, c)
	if len(weirs) < 2 {
		t.Fatalf("%d weir replicas, want at least 2", len(weirs))
	}
	for _, w := range weirs {
		cfg := w.cfg
		if cfg.Kafka.Group != weirs[0].cfg.Kafka.Group {
			t.Errorf("%s: consumer group %q, %s's is %q: replicas share partitions only in one group", w.name, cfg.Kafka.Group, weirs[0].name, weirs[0].cfg.Kafka.Group)
		}
		if len(cfg.Rules) == 0 {
			t.Errorf("%s: no rules", w.name)
		}
		var paths []string
		for _, p := range cfg.Rules {
			paths = append(paths, cfg.Path(p))
		}
		set, err := rules.Load(paths...)
		if err != nil {
			t.Fatalf("%s: rules check: %v", w.name, err)
		}
		p99 := false
		for _, r := range set.Rules() {
			for _, a := range r.Aggregations {
				p99 = p99 || (r.Output == "span_duration_seconds" && a.String() == "p99")
			}
		}
		if !p99 {
			t.Errorf("%s: no rule writes span_duration_seconds p99, which the Grafana dashboard charts", w.name)
		}

		// The UI and /metrics must be reachable through the published port.
		_, port := hostOf(t, cfg.Listen)
		if host, _ := hostOf(t, cfg.Listen); host != "0.0.0.0" && host != "" {
			t.Errorf("%s: listens on %s: unreachable from outside its container", w.name, cfg.Listen)
		}
		published := false
		for _, p := range w.svc.Ports {
			published = published || strings.HasSuffix(p, ":"+port)
		}
		if !published {
			t.Errorf("%s: port %s is not published", w.name, port)
		}

		for _, b := range cfg.Kafka.Brokers {
			host, port := hostOf(t, b)
			kafka, ok := c.Services[host]
			if !ok || !strings.Contains(kafka.Environment["KAFKA_ADVERTISED_LISTENERS"], "//"+host+":"+port) {
				t.Errorf("%s: broker %s is not an advertised listener of a compose service", w.name, b)
			}
		}
		for _, rw := range cfg.RemoteWrite {
			host, _ := hostOf(t, rw.URL)
			prom, ok := c.Services[host]
			if !ok {
				t.Errorf("%s: remote write to %s: no such service", w.name, rw.URL)
				continue
			}
			for _, f := range []string{"--web.enable-remote-write-receiver", "--enable-feature=exemplar-storage"} {
				if !slices.Contains(prom.Command, f) {
					t.Errorf("%s: remote-write target %s runs without %s", w.name, host, f)
				}
			}
		}
		for what, addr := range map[string]string{
			"traces.endpoint": cfg.Traces.Endpoint, "query.prometheus_url": cfg.Query.PrometheusURL, "query.jaeger_url": cfg.Query.JaegerURL,
		} {
			if host, _ := hostOf(t, addr); c.Services[host].Image == "" {
				t.Errorf("%s: %s %s: no such service", w.name, what, addr)
			}
		}
		if jaeger := c.Services["jaeger"]; !strings.HasPrefix(cfg.Traces.Endpoint, "jaeger:") || !strings.Contains(cfg.Query.JaegerURL, "//jaeger:") {
			t.Errorf("%s: kept traces go to %s and are read from %s; want the jaeger service (%s)", w.name, cfg.Traces.Endpoint, cfg.Query.JaegerURL, jaeger.Image)
		}
		// The browser opens the Jaeger UI link, so it must be an address
		// published on the host.
		if _, port := hostOf(t, cfg.Query.JaegerUIURL); !slices.Contains(c.Services["jaeger"].Ports, "127.0.0.1:"+port+":16686") {
			t.Errorf("%s: jaeger_ui_url %s is not the Jaeger UI's published port", w.name, cfg.Query.JaegerUIURL)
		}
	}
}

// TestComposeCollector: the collector's config is YAML with a kafka exporter
// writing what weir reads (same brokers, topics and encodings, traces keyed
// by trace ID), and the generators and kafka-init agree with it.
func TestComposeCollector(t *testing.T) {
	c := loadCompose(t)
	weir := weirServices(t, c)[0].cfg
	col := c.Services["otel-collector"]
	if !strings.Contains(col.Image, "opentelemetry-collector-contrib:") {
		t.Errorf("otel-collector image %q is not the contrib distribution (which has the kafkaexporter)", col.Image)
	}
	in := flagValue(col.Command, "config")
	host := hostPath(col, in)
	if host == "" {
		t.Fatalf("otel-collector: --config %q is not mounted", in)
	}
	b, err := os.ReadFile(host)
	if err != nil {
		t.Fatal(err)
	}
	type signal struct {
		Topic    string `yaml:"topic"`
		Encoding string `yaml:"encoding"`
	}
	var conf struct {
		Receivers map[string]struct {
			Protocols map[string]struct {
				Endpoint string `yaml:"endpoint"`
			} `yaml:"protocols"`
		} `yaml:"receivers"`
		Exporters map[string]yaml.Node `yaml:"exporters"`
		Service   struct {
			Pipelines map[string]struct {
				Receivers  []string `yaml:"receivers"`
				Processors []string `yaml:"processors"`
				Exporters  []string `yaml:"exporters"`
			} `yaml:"pipelines"`
		} `yaml:"service"`
	}
	if err := yaml.Unmarshal(b, &conf); err != nil {
		t.Fatalf("%s: %v", host, err)
	}
	var kafkaName string
	var kafka struct {
		Brokers             []string `yaml:"brokers"`
		Traces              signal   `yaml:"traces"`
		Metrics             signal   `yaml:"metrics"`
		PartitionTracesByID bool     `yaml:"partition_traces_by_id"`
	}
	for name, n := range conf.Exporters {
		if name == "kafka" || strings.HasPrefix(name, "kafka/") {
			kafkaName = name
			if err := n.Decode(&kafka); err != nil {
				t.Fatalf("%s: exporter %s: %v", host, name, err)
			}
		}
	}
	if kafkaName == "" {
		t.Fatalf("%s: no kafka exporter", host)
	}
	if !slices.Equal(kafka.Brokers, weir.Kafka.Brokers) {
		t.Errorf("kafka exporter brokers %q, weir reads %q", kafka.Brokers, weir.Kafka.Brokers)
	}
	def := func(s, d string) string {
		if s == "" {
			return d
		}
		return s
	}
	for _, chk := range []struct{ what, got, want string }{
		{"traces topic", def(kafka.Traces.Topic, "otlp_spans"), weir.Kafka.SpansTopic},
		{"traces encoding", def(kafka.Traces.Encoding, "otlp_proto"), weir.Kafka.TracesEncoding},
		{"metrics topic", def(kafka.Metrics.Topic, "otlp_metrics"), weir.Kafka.MetricsTopic},
		{"metrics encoding", def(kafka.Metrics.Encoding, "otlp_proto"), weir.Kafka.MetricsEncoding},
	} {
		if chk.got != chk.want {
			t.Errorf("kafka exporter %s %q, weir reads %q", chk.what, chk.got, chk.want)
		}
	}
	if !kafka.PartitionTracesByID {
		t.Errorf("kafka exporter without partition_traces_by_id: a trace's spans would spread over partitions")
	}
	for _, sig := range []string{"traces", "metrics"} {
		p, ok := conf.Service.Pipelines[sig]
		if !ok || !slices.Contains(p.Exporters, kafkaName) || len(p.Receivers) == 0 {
			t.Errorf("pipeline %s does not export to %s: %+v", sig, kafkaName, p)
		}
		for _, r := range p.Receivers {
			if _, ok := conf.Receivers[r]; !ok {
				t.Errorf("pipeline %s: receiver %s is not configured", sig, r)
			}
		}
	}
	grpc := conf.Receivers["otlp"].Protocols["grpc"].Endpoint
	_, grpcPort := hostOf(t, grpc)

	init := strings.Join(c.Services["kafka-init"].Command, "\n")
	for _, topic := range []string{weir.Kafka.SpansTopic, weir.Kafka.MetricsTopic, weir.Kafka.DeadLetterTopic} {
		if !strings.Contains(init, "--topic "+topic+" ") {
			t.Errorf("kafka-init does not create topic %s", topic)
		}
	}
	gens := 0
	for name, s := range c.Services {
		if !strings.Contains(s.Image, "telemetrygen") {
			continue
		}
		gens++
		if ep := flagValue(s.Command, "otlp-endpoint"); ep != "otel-collector:"+grpcPort {
			t.Errorf("%s sends to %q, the collector receives OTLP gRPC on otel-collector:%s", name, ep, grpcPort)
		}
	}
	if gens == 0 {
		t.Errorf("no telemetry generator")
	}
}

// TestComposeGrafana: the Prometheus data source links exemplars' trace_id
// to the Jaeger data source, and the provisioned dashboard charts weir's p99
// with exemplars on.
func TestComposeGrafana(t *testing.T) {
	c := loadCompose(t)
	g := c.Services["grafana"]
	dsFile := hostPath(g, "/etc/grafana/provisioning/datasources/datasources.yaml")
	b, err := os.ReadFile(dsFile)
	if err != nil {
		t.Fatalf("grafana data sources: %v", err)
	}
	var ds struct {
		APIVersion  int `yaml:"apiVersion"`
		Datasources []struct {
			Name, UID, Type, URL string
			JSONData             struct {
				ExemplarTraceIDDestinations []struct {
					Name          string `yaml:"name"`
					DatasourceUID string `yaml:"datasourceUid"`
				} `yaml:"exemplarTraceIdDestinations"`
			} `yaml:"jsonData"`
		} `yaml:"datasources"`
	}
	if err := yaml.Unmarshal(b, &ds); err != nil {
		t.Fatalf("%s: %v", dsFile, err)
	}
	uids := map[string]string{} // uid -> type
	for _, d := range ds.Datasources {
		uids[d.UID] = d.Type
		if host, _ := hostOf(t, d.URL); c.Services[host].Image == "" {
			t.Errorf("data source %s: %s is no compose service", d.Name, d.URL)
		}
	}
	var promUID string
	for _, d := range ds.Datasources {
		if d.Type != "prometheus" {
			continue
		}
		promUID = d.UID
		ok := false
		for _, dst := range d.JSONData.ExemplarTraceIDDestinations {
			ok = ok || (dst.Name == "trace_id" && uids[dst.DatasourceUID] == "jaeger")
		}
		if !ok {
			t.Errorf("data source %s: no exemplarTraceIdDestinations from trace_id to a Jaeger data source", d.Name)
		}
	}
	if promUID == "" {
		t.Fatal("no Prometheus data source")
	}

	provFile := hostPath(g, "/etc/grafana/provisioning/dashboards/dashboards.yaml")
	b, err = os.ReadFile(provFile)
	if err != nil {
		t.Fatalf("grafana dashboard providers: %v", err)
	}
	var prov struct {
		Providers []struct {
			Options struct {
				Path string `yaml:"path"`
			} `yaml:"options"`
		} `yaml:"providers"`
	}
	if err := yaml.Unmarshal(b, &prov); err != nil || len(prov.Providers) == 0 {
		t.Fatalf("%s: %v, %d providers", provFile, err, len(prov.Providers))
	}
	dir := hostPath(g, prov.Providers[0].Options.Path)
	if dir == "" {
		t.Fatalf("dashboards path %s is not mounted", prov.Providers[0].Options.Path)
	}
	if home := g.Environment["GF_DASHBOARDS_DEFAULT_HOME_DASHBOARD_PATH"]; home != "" {
		if _, err := os.Stat(hostPath(g, home)); err != nil {
			t.Errorf("home dashboard %s: %v", home, err)
		}
	}
	files, _ := filepath.Glob(filepath.Join(dir, "*.json"))
	if len(files) == 0 {
		t.Fatalf("no dashboards in %s", dir)
	}
	p99Panels := 0
	for _, f := range files {
		b, err := os.ReadFile(f)
		if err != nil {
			t.Fatal(err)
		}
		var d struct {
			UID        string `json:"uid"`
			Templating struct {
				List []struct {
					Name  string `json:"name"`
					Type  string `json:"type"`
					Query any    `json:"query"`
				} `json:"list"`
			} `json:"templating"`
			Panels []struct {
				Title      string `json:"title"`
				Datasource struct {
					UID string `json:"uid"`
				} `json:"datasource"`
				Targets []struct {
					Expr     string `json:"expr"`
					Exemplar bool   `json:"exemplar"`
				} `json:"targets"`
			} `json:"panels"`
		}
		if err := json.Unmarshal(b, &d); err != nil {
			t.Fatalf("%s: %v", f, err)
		}
		if d.UID == "" || len(d.Panels) == 0 {
			t.Errorf("%s: no uid or no panels", f)
		}
		// A panel reads the Prometheus data source by its uid, or through a
		// data source variable, which Grafana sets to the default Prometheus
		// data source (compose's only one).
		promRefs := map[string]bool{promUID: true}
		for _, v := range d.Templating.List {
			if v.Type == "datasource" && v.Query == "prometheus" {
				promRefs["${"+v.Name+"}"], promRefs["$"+v.Name] = true, true
			}
		}
		for _, p := range d.Panels {
			if !promRefs[p.Datasource.UID] {
				t.Errorf("%s: panel %q reads data source %q, want %q or a Prometheus data source variable", path.Base(f), p.Title, p.Datasource.UID, promUID)
			}
			for _, tg := range p.Targets {
				// Percentile series carry weir's exemplars (the traces at
				// that percentile): their panels must show them.
				if strings.Contains(tg.Expr, "quantile=") && !tg.Exemplar {
					t.Errorf("%s: panel %q: exemplars off for %s", path.Base(f), p.Title, tg.Expr)
				}
				if strings.Contains(tg.Expr, `span_duration_seconds{quantile="0.99"`) {
					p99Panels++
				}
			}
		}
	}
	if p99Panels == 0 {
		t.Errorf("no dashboard panel charts span_duration_seconds{quantile=\"0.99\"}")
	}
}

// TestComposePrometheus: Prometheus' config parses and scrapes both weir
// replicas' own metrics.
func TestComposePrometheus(t *testing.T) {
	c := loadCompose(t)
	p := c.Services["prometheus"]
	f := hostPath(p, flagValue(p.Command, "config.file"))
	b, err := os.ReadFile(f)
	if err != nil {
		t.Fatalf("prometheus config: %v", err)
	}
	var conf struct {
		ScrapeConfigs []struct {
			JobName       string `yaml:"job_name"`
			StaticConfigs []struct {
				Targets []string `yaml:"targets"`
			} `yaml:"static_configs"`
		} `yaml:"scrape_configs"`
	}
	if err := yaml.Unmarshal(b, &conf); err != nil {
		t.Fatalf("%s: %v", f, err)
	}
	targets := map[string]bool{}
	for _, sc := range conf.ScrapeConfigs {
		for _, st := range sc.StaticConfigs {
			for _, tg := range st.Targets {
				targets[tg] = true
			}
		}
	}
	for _, w := range weirServices(t, c) {
		_, port := hostOf(t, w.cfg.Listen)
		if tg := fmt.Sprintf("%s:%s", w.name, port); !targets[tg] {
			t.Errorf("Prometheus does not scrape %s", tg)
		}
	}
}
