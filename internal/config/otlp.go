package config

import (
	"fmt"
	"slices"
	"strings"

	"github.com/prometheus/otlptranslator"

	"github.com/weirdev/weir/ingest"
)

// OTLP says how OTLP metric names and resource attributes become
// Prometheus names and labels, with the keys and values of Prometheus'
// own otlp: section (whose defaults are weir's): the SDK's
// http.server.request.duration of unit s becomes
// http_server_request_duration_seconds, every point gets job and instance
// from its resource's service.namespace/service.name and
// service.instance.id, and only the promoted resource attributes become
// labels too. See ingest.TranslationStrategy and
// ingest.PromoteResourceAttributes.
type OTLP struct {
	// TranslationStrategy is one of ingest.TranslationStrategies; default
	// UnderscoreEscapingWithSuffixes.
	TranslationStrategy otlptranslator.TranslationStrategyOption `yaml:"translation_strategy"`
	// PromoteResourceAttributes become labels of metric points.
	PromoteResourceAttributes []string `yaml:"promote_resource_attributes"`
	// PromoteAllResourceAttributes promotes every resource attribute but
	// IgnoreResourceAttributes; not with PromoteResourceAttributes.
	PromoteAllResourceAttributes bool     `yaml:"promote_all_resource_attributes"`
	IgnoreResourceAttributes     []string `yaml:"ignore_resource_attributes"`
}

func (o *OTLP) fillDefaults() {
	if o.TranslationStrategy == "" {
		o.TranslationStrategy = ingest.TranslationStrategies()[0]
	}
}

// validate refuses what Prometheus refuses in its otlp: section, naming
// the setting: an unknown strategy, empty or repeated attributes, and
// promote_all_resource_attributes with promote_resource_attributes (or
// ignore_resource_attributes without it). Attribute names are trimmed.
func (o *OTLP) validate() []string {
	var errs []string
	if _, err := ingest.ParseTranslationStrategy(string(o.TranslationStrategy)); err != nil {
		errs = append(errs, "otlp.translation_strategy: "+err.Error())
	}
	for _, l := range []struct {
		field string
		attrs []string
	}{
		{"otlp.promote_resource_attributes", o.PromoteResourceAttributes},
		{"otlp.ignore_resource_attributes", o.IgnoreResourceAttributes},
	} {
		for i, a := range l.attrs {
			a = strings.TrimSpace(a)
			l.attrs[i] = a
			switch {
			case a == "":
				errs = append(errs, fmt.Sprintf("%s[%d]: empty", l.field, i))
			case slices.Index(l.attrs, a) < i:
				errs = append(errs, fmt.Sprintf("%s[%d]: %q is listed twice", l.field, i, a))
			}
		}
	}
	switch {
	case o.PromoteAllResourceAttributes && len(o.PromoteResourceAttributes) > 0:
		errs = append(errs, "otlp.promote_resource_attributes: not with promote_all_resource_attributes, which promotes every one")
	case !o.PromoteAllResourceAttributes && len(o.IgnoreResourceAttributes) > 0:
		errs = append(errs, "otlp.ignore_resource_attributes: only with promote_all_resource_attributes: true")
	}
	return errs
}

// ConvertOpts are the metric conversion options of the section.
func (o *OTLP) ConvertOpts() []ingest.ConvertOpt {
	opts := []ingest.ConvertOpt{ingest.TranslationStrategy(o.TranslationStrategy)}
	if o.PromoteAllResourceAttributes {
		return append(opts, ingest.PromoteAllResourceAttributes(o.IgnoreResourceAttributes...))
	}
	return append(opts, ingest.PromoteResourceAttributes(o.PromoteResourceAttributes...))
}
