package deploy

import (
	"encoding/json"
	"os"
	"path/filepath"
	"regexp"
	"slices"
	"strings"
	"testing"

	"github.com/prometheus/prometheus/model/labels"
	"github.com/prometheus/prometheus/promql/parser"
)

// What the dashboard reads, in one place. Today weir writes the span rules'
// output (the chart's rules value, configs/compose/rules/spans.yaml) as a
// summary: one duration series per quantile label, and a _count of the
// calls of each window (not cumulative, hence sum_over_time(...[1m]) / 60
// for a rate). Issue 22 renames them after Prometheus' conventions with
// cumulative _total counters: change these and weir-red.json together (the
// rate and error panels then read rate(CALLS[$__rate_interval])).
var dashboardReads = struct {
	duration, calls        string   // series names
	errorLabel, errorValue string   // the matcher of failed calls
	quantiles              []string // a per-service panel for each
	// spanInput is the series weir's span converter makes of spans, fed to
	// `weir rules test` with the chart's rules to see what they write.
	spanInput []string
}{
	duration:   "span_duration_seconds",
	calls:      "span_duration_seconds_count",
	errorLabel: "status_code", errorValue: "STATUS_CODE_ERROR",
	quantiles: []string{"0.5", "0.9", "0.99"},
	spanInput: []string{
		`span_duration_seconds{service_name="checkout",span_name="GET /cart",span_kind="SPAN_KIND_SERVER",status_code="STATUS_CODE_UNSET"} 0.042`,
		`span_duration_seconds{service_name="checkout",span_name="GET /cart",span_kind="SPAN_KIND_SERVER",status_code="STATUS_CODE_ERROR"} 0.450`,
	},
}

type dashboard struct {
	UID        string `json:"uid"`
	Title      string `json:"title"`
	Templating struct {
		List []struct {
			Name  string          `json:"name"`
			Type  string          `json:"type"`
			Query json.RawMessage `json:"query"`
		} `json:"list"`
	} `json:"templating"`
	Panels []panel `json:"panels"`
}

type panel struct {
	ID          int    `json:"id"`
	Title       string `json:"title"`
	Description string `json:"description"`
	Datasource  struct {
		Type string `json:"type"`
		UID  string `json:"uid"`
	} `json:"datasource"`
	FieldConfig struct {
		Overrides []struct {
			Matcher struct {
				ID      string `json:"id"`
				Options string `json:"options"`
			} `json:"matcher"`
			Properties []struct {
				ID    string          `json:"id"`
				Value json.RawMessage `json:"value"`
			} `json:"properties"`
		} `json:"overrides"`
	} `json:"fieldConfig"`
	Targets []struct {
		Expr     string `json:"expr"`
		Exemplar bool   `json:"exemplar"`
	} `json:"targets"`
}

func loadDashboard(t *testing.T) dashboard {
	t.Helper()
	b, err := os.ReadFile(dashboardFile)
	if err != nil {
		t.Fatal(err)
	}
	dec := json.NewDecoder(strings.NewReader(string(b)))
	var d dashboard
	if err := dec.Decode(&d); err != nil {
		t.Fatalf("%s: %v", dashboardFile, err)
	}
	if dec.More() {
		t.Fatalf("%s: more than one JSON value", dashboardFile)
	}
	if d.UID == "" || d.Title == "" || len(d.Panels) == 0 {
		t.Fatalf("%s: uid %q, title %q, %d panels", dashboardFile, d.UID, d.Title, len(d.Panels))
	}
	return d
}

var grafanaVar = regexp.MustCompile(`\$\{(\w+)(?::\w+)?\}|\$(\w+)|\[\[(\w+)\]\]`)

// expand replaces the Grafana variables of a query with vals; a variable
// vals lacks fails the test.
func expand(t *testing.T, q string, vals map[string]string) string {
	t.Helper()
	return grafanaVar.ReplaceAllStringFunc(q, func(m string) string {
		sub := grafanaVar.FindStringSubmatch(m)
		name := sub[1] + sub[2] + sub[3]
		v, ok := vals[name]
		if !ok {
			t.Errorf("query %q: unknown variable %s", q, name)
		}
		return v
	})
}

// The values the variables take when the queries are parsed: the user's
// variables a marker each, Grafana's own a typical value.
var varMarkers = map[string]string{
	"service": "SERVICE_VAR", "span_kind": "SPAN_KIND_VAR",
	"__rate_interval": "1m", "__interval": "1m", "__range": "1h",
}

// parsed is a panel query parsed as PromQL.
type parsed struct {
	expr      parser.Expr
	selectors []*parser.VectorSelector
	groupings [][]string // of each aggregation
}

// promQL is Prometheus' parser with its default options, as Prometheus
// itself parses the dashboard's queries.
func promQL() parser.Parser { return parser.NewParser(parser.Options{}) }

func parse(t *testing.T, where, q string) parsed {
	t.Helper()
	e, err := promQL().ParseExpr(expand(t, q, varMarkers))
	if err != nil {
		t.Fatalf("%s: %q does not parse as PromQL: %v", where, q, err)
	}
	p := parsed{expr: e}
	parser.Inspect(e, func(n parser.Node, _ []parser.Node) error {
		switch n := n.(type) {
		case *parser.VectorSelector:
			p.selectors = append(p.selectors, n)
		case *parser.AggregateExpr:
			if !n.Without {
				p.groupings = append(p.groupings, n.Grouping)
			}
		}
		return nil
	})
	return p
}

func matcher(vs *parser.VectorSelector, name string) *labels.Matcher {
	for _, m := range vs.LabelMatchers {
		if m.Name == name {
			return m
		}
	}
	return nil
}

// TestDashboard checks weir-red.json: every query parses as PromQL, reads
// only the series of dashboardReads and filters by the service variable;
// there is a rate panel, an error-ratio panel and a panel per percentile,
// each per service; every percentile panel shows exemplars and links their
// trace_id to Jaeger.
func TestDashboard(t *testing.T) {
	d := loadDashboard(t)
	vars := map[string]string{}
	for _, v := range d.Templating.List {
		vars[v.Name] = v.Type
		var q struct {
			Query string `json:"query"`
		}
		if v.Type != "query" || json.Unmarshal(v.Query, &q) != nil {
			continue
		}
		// label_values(SELECTOR, LABEL)
		inner, ok := strings.CutPrefix(q.Query, "label_values(")
		i := strings.LastIndex(inner, ",")
		if !ok || i < 0 {
			t.Errorf("variable %s: query %q is not label_values(SELECTOR, LABEL)", v.Name, q.Query)
			continue
		}
		p := parse(t, "variable "+v.Name, inner[:i])
		if len(p.selectors) != 1 || p.selectors[0].Name != dashboardReads.calls {
			t.Errorf("variable %s: %q does not read %s", v.Name, q.Query, dashboardReads.calls)
		}
	}
	if vars["datasource"] != "datasource" || vars["jaeger_url"] != "textbox" || vars["service"] != "query" {
		t.Fatalf("variables %v: want datasource (a data source), jaeger_url (a textbox) and service (a query)", vars)
	}

	var ratePanels, errorPanels int
	quantilePanels := map[string]int{}
	for _, p := range d.Panels {
		where := "panel " + p.Title
		if p.Datasource.UID != "${datasource}" {
			t.Errorf("%s: data source %q, want ${datasource}", where, p.Datasource.UID)
		}
		if len(p.Targets) == 0 {
			t.Errorf("%s: no query", where)
		}
		for _, tg := range p.Targets {
			q := parse(t, where, tg.Expr)
			names := map[string]bool{}
			var errSel, quantile string
			for _, vs := range q.selectors {
				names[vs.Name] = true
				if vs.Name != dashboardReads.duration && vs.Name != dashboardReads.calls {
					t.Errorf("%s: reads %s, which is not in dashboardReads", where, vs)
				}
				if m := matcher(vs, "service_name"); m == nil || m.Type != labels.MatchRegexp || m.Value != varMarkers["service"] {
					t.Errorf("%s: %s does not filter service_name=~\"$service\"", where, vs)
				}
				if m := matcher(vs, dashboardReads.errorLabel); m != nil && m.Value == dashboardReads.errorValue {
					errSel = vs.Name
				}
				if m := matcher(vs, "quantile"); m != nil {
					quantile = m.Value
				}
			}
			perService := slices.ContainsFunc(q.groupings, func(g []string) bool { return slices.Equal(g, []string{"service_name"}) })
			switch {
			case names[dashboardReads.duration]:
				if quantile == "" {
					t.Errorf("%s: %q reads %s without a quantile", where, tg.Expr, dashboardReads.duration)
				}
				if !tg.Exemplar {
					t.Errorf("%s: exemplars off for %q", where, tg.Expr)
				}
				checkTraceLink(t, where, p)
				if perService {
					quantilePanels[quantile]++
				}
			case errSel != "" && len(q.selectors) > 1 && perService:
				errorPanels++
			case names[dashboardReads.calls] && errSel == "" && perService:
				ratePanels++
			}
		}
	}
	if ratePanels != 1 || errorPanels != 1 {
		t.Errorf("%d call-rate and %d error-ratio panels per service, want one each", ratePanels, errorPanels)
	}
	for _, q := range dashboardReads.quantiles {
		if quantilePanels[q] != 1 {
			t.Errorf("%d panels of the %s quantile per service, want 1", quantilePanels[q], q)
		}
	}
}

// checkTraceLink: the panel's trace_id field (each exemplar's) links to the
// trace in the Jaeger UI.
func checkTraceLink(t *testing.T, where string, p panel) {
	t.Helper()
	for _, o := range p.FieldConfig.Overrides {
		if o.Matcher.ID != "byName" || o.Matcher.Options != "trace_id" {
			continue
		}
		for _, prop := range o.Properties {
			var links []struct {
				URL string `json:"url"`
			}
			if prop.ID != "links" || json.Unmarshal(prop.Value, &links) != nil {
				continue
			}
			for _, l := range links {
				if l.URL == "${jaeger_url}/trace/${__value.raw}" {
					return
				}
			}
		}
	}
	t.Errorf("%s: no link from trace_id to ${jaeger_url}/trace/${__value.raw}", where)
}

// TestDashboardReadsChartRules: every series the dashboard's queries select
// is one that the chart's default rules write, as `weir rules test` shows
// for span input.
func TestDashboardReadsChartRules(t *testing.T) {
	r := mustRender(t, "")
	v := r.view(t)
	dir := t.TempDir()
	var ruleFiles []string
	for p, body := range v.files {
		if !strings.HasPrefix(p, "/etc/weir/rules/") {
			continue
		}
		f := filepath.Join(dir, filepath.Base(p))
		if err := os.WriteFile(f, []byte(body), 0o644); err != nil {
			t.Fatal(err)
		}
		ruleFiles = append(ruleFiles, f)
	}
	if len(ruleFiles) == 0 {
		t.Fatal("the chart mounts no rules")
	}
	input := filepath.Join(dir, "spans.txt")
	if err := os.WriteFile(input, []byte(strings.Join(dashboardReads.spanInput, "\n")+"\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	out, err := runWeir(t, append(append([]string{"rules", "test"}, ruleFiles...), "-input", input)...)
	if err != nil {
		t.Fatalf("weir rules test: %v\n%s", err, out)
	}
	var written []labels.Labels
	for _, line := range strings.Split(out, "\n") {
		if !strings.HasPrefix(line, "    ") { // the output series, under each input and rule
			continue
		}
		ls, err := promQL().ParseMetric(strings.TrimSpace(line))
		if err != nil {
			t.Fatalf("weir rules test output %q: %v", line, err)
		}
		written = append(written, ls)
	}
	if len(written) == 0 {
		t.Fatalf("the chart's rules write nothing for span input:\n%s", out)
	}

	// Any service and span kind, as the variables' "All" selects.
	all := map[string]string{"service": ".*", "span_kind": ".*", "__rate_interval": "1m", "__interval": "1m", "__range": "1h"}
	for _, p := range loadDashboard(t).Panels {
		for _, tg := range p.Targets {
			e, err := promQL().ParseExpr(expand(t, tg.Expr, all))
			if err != nil {
				t.Fatalf("panel %s: %v", p.Title, err)
			}
			parser.Inspect(e, func(n parser.Node, _ []parser.Node) error {
				vs, ok := n.(*parser.VectorSelector)
				if !ok {
					return nil
				}
				if !slices.ContainsFunc(written, func(ls labels.Labels) bool {
					for _, m := range vs.LabelMatchers {
						if !m.Matches(ls.Get(m.Name)) {
							return false
						}
					}
					return true
				}) {
					t.Errorf("panel %s: %s selects no series the chart's rules write:\n%s", p.Title, vs, out)
				}
				return nil
			})
		}
	}
}
