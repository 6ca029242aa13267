package demo

import (
	"strings"
	"testing"
	"time"

	"github.com/weirdev/weir/configs"
	"github.com/weirdev/weir/ingest"
	"github.com/weirdev/weir/internal/loadgen"
	"github.com/weirdev/weir/rules"
	"github.com/weirdev/weir/sample"
)

// Every metric rule of the demo matches what the load generator sends (the
// OTel SDK's names and units), named as ingest names it by default, and the
// points carry every label the rule groups by.
func TestDemoRulesMatchTheLoad(t *testing.T) {
	set, err := rules.Parse("demo-rules.yaml", []byte(configs.DemoRules))
	if err != nil {
		t.Fatal(err)
	}
	g := loadgen.New(loadgen.WithSeed(3))
	conv := ingest.NewMetricConverter()
	matched := map[string]bool{}
	at := time.Now().Truncate(time.Second)
	for scrape := range 3 { // Cumulative points: the first is a baseline.
		for i := range 200 {
			g.NextTrace(at.Add(time.Duration(scrape*200+i) * 50 * time.Millisecond))
		}
		conv.Convert(g.Metrics(at.Add(time.Duration(scrape+1)*10*time.Second)), "", func(p *sample.Point) {
			for _, o := range set.Match(p.Labels).Outputs {
				for _, r := range set.Rules() {
					if r.Name != o.Rule || r.Grouping.Without {
						continue
					}
					for _, l := range r.Grouping.Labels {
						if !p.Labels.Has(l) {
							t.Errorf("rule %s groups by %s, which %s has not", r.Name, l, p.Labels)
						}
					}
				}
				matched[o.Rule] = true
			}
		})
	}
	for _, r := range set.Rules() {
		if r.Kind == rules.DropRule || strings.Contains(r.Match, "span_") {
			continue
		}
		if !matched[r.Name] {
			t.Errorf("demo rule %s (%s) matches none of the load generator's metrics", r.Name, r.Match)
		}
	}
}
