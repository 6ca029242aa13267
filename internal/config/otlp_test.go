package config

import (
	"strings"
	"testing"

	"github.com/prometheus/otlptranslator"
)

func TestOTLP(t *testing.T) {
	const base = "kafka: {brokers: [a]}\nremote_write: [{url: 'http://x/'}]\n"
	c, err := Parse([]byte(base))
	if err != nil {
		t.Fatal(err)
	}
	if c.OTLP.TranslationStrategy != otlptranslator.UnderscoreEscapingWithSuffixes {
		t.Errorf("default translation_strategy %q, want Prometheus' UnderscoreEscapingWithSuffixes", c.OTLP.TranslationStrategy)
	}
	c, err = Parse([]byte(base + "otlp: {translation_strategy: NoTranslation, promote_resource_attributes: [' k8s.pod.name ', deployment.environment]}\n"))
	if err != nil {
		t.Fatal(err)
	}
	if c.OTLP.TranslationStrategy != otlptranslator.NoTranslation || strings.Join(c.OTLP.PromoteResourceAttributes, ",") != "k8s.pod.name,deployment.environment" {
		t.Errorf("otlp section read as %+v", c.OTLP)
	}
	for _, tc := range []struct{ name, in, want string }{
		{"unknown strategy", "otlp: {translation_strategy: underscore_escaping}\n",
			`otlp.translation_strategy: "underscore_escaping" is not a translation strategy: use one of UnderscoreEscapingWithSuffixes, UnderscoreEscapingWithoutSuffixes, NoUTF8EscapingWithSuffixes, NoTranslation`},
		{"empty attribute", "otlp: {promote_resource_attributes: [a, ' ']}\n", "otlp.promote_resource_attributes[1]: empty"},
		{"repeated attribute", "otlp: {promote_resource_attributes: [a, b, a]}\n", `otlp.promote_resource_attributes[2]: "a" is listed twice`},
		{"all and a list", "otlp: {promote_all_resource_attributes: true, promote_resource_attributes: [a]}\n", "otlp.promote_resource_attributes: not with promote_all_resource_attributes"},
		{"ignore without all", "otlp: {ignore_resource_attributes: [a]}\n", "otlp.ignore_resource_attributes: only with promote_all_resource_attributes: true"},
		{"repeated ignored", "otlp: {promote_all_resource_attributes: true, ignore_resource_attributes: [a, a]}\n", `otlp.ignore_resource_attributes[1]: "a" is listed twice`},
		{"misspelt key", "otlp: {translation_stratgy: NoTranslation}\n", "translation_stratgy"},
	} {
		_, err := Parse([]byte(base + tc.in))
		if err == nil || !strings.Contains(err.Error(), tc.want) {
			t.Errorf("%s: got error %v, want it to contain %q", tc.name, err, tc.want)
		}
	}
	if _, err := Parse([]byte(base + "otlp: {promote_all_resource_attributes: true, ignore_resource_attributes: [process.pid]}\n")); err != nil {
		t.Errorf("promote all but one: %v", err)
	}
}
