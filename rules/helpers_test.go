package rules

import "github.com/prometheus/prometheus/model/labels"

func lbls(kv ...string) labels.Labels { return labels.FromStrings(kv...) }
