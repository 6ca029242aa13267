// Package configs holds weir's example configuration and rules. The demo
// rules are embedded so that `go run ./cmd/weir demo` needs no files.
package configs

import _ "embed"

// DemoRules is demo-rules.yaml.
//
//go:embed demo-rules.yaml
var DemoRules string
