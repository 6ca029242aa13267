package config

import (
	"fmt"
	"regexp"
	"strings"

	"gopkg.in/yaml.v3"
)

// expandEnv replaces the environment references in the scalar values of
// the YAML tree n, as the OpenTelemetry Collector does:
//
//	${env:NAME}             NAME's value; an error when NAME is not set
//	${env:NAME:-default}    default when NAME is unset or empty
//	${NAME}                 the same as ${env:NAME}
//	$${                     a literal ${
//
// Keys are never expanded. A plain (unquoted) value that is one reference
// alone takes the type its value reads as in YAML (workers: ${env:N} is a
// number); anything else stays a string. Another scheme (${file:...}) is
// an error. Errors name the line and the variable, never a value. It
// reports whether anything was replaced.
func expandEnv(n *yaml.Node, lookup func(string) (string, bool)) (bool, error) {
	changed := false
	var walk func(n *yaml.Node, key bool) error
	walk = func(n *yaml.Node, key bool) error {
		switch n.Kind {
		case yaml.ScalarNode:
			if key || !strings.Contains(n.Value, "${") {
				return nil
			}
			v, whole, err := expandString(n.Value, lookup)
			if err != nil {
				return fmt.Errorf("line %d: %w", n.Line, err)
			}
			if v == n.Value {
				return nil
			}
			n.Value, changed = v, true
			n.Tag = "!!str"
			if whole && n.Style == 0 {
				n.Tag = "" // resolved again from the value, as if written there
			}
		case yaml.MappingNode:
			for i, c := range n.Content {
				if err := walk(c, i%2 == 0); err != nil {
					return err
				}
			}
		case yaml.DocumentNode, yaml.SequenceNode:
			for _, c := range n.Content {
				if err := walk(c, false); err != nil {
					return err
				}
			}
		}
		return nil
	}
	err := walk(n, false)
	return changed, err
}

var envName = regexp.MustCompile(`^[A-Za-z_][A-Za-z0-9_]*$`)

// expandString expands the references in s; whole says s was exactly one
// reference and nothing else.
func expandString(s string, lookup func(string) (string, bool)) (out string, whole bool, err error) {
	var b strings.Builder
	refs, other := 0, false
	for s != "" {
		i := strings.Index(s, "${")
		switch {
		case i < 0:
			b.WriteString(s)
			return b.String(), false, nil
		case i > 0 && s[i-1] == '$': // $${: a literal ${
			b.WriteString(s[:i-1] + "${")
			s, other = s[i+2:], true
			continue
		}
		end := strings.IndexByte(s[i:], '}')
		if end < 0 {
			return "", false, fmt.Errorf("%q: no closing }", s[i:])
		}
		v, err := resolveRef(s[i+2:i+end], lookup)
		if err != nil {
			return "", false, err
		}
		other = other || i > 0
		refs++
		b.WriteString(s[:i] + v)
		s = s[i+end+1:]
	}
	return b.String(), refs == 1 && !other, nil
}

func resolveRef(ref string, lookup func(string) (string, bool)) (string, error) {
	name, def, hasDef := ref, "", false
	if scheme, rest, ok := strings.Cut(ref, ":"); ok {
		if scheme != "env" {
			return "", fmt.Errorf("${%s}: only ${env:NAME} is supported", ref)
		}
		name = rest
		if n, d, ok := strings.Cut(rest, ":-"); ok {
			name, def, hasDef = n, d, true
		}
	}
	if !envName.MatchString(name) {
		return "", fmt.Errorf("${%s}: %q is not an environment variable name", ref, name)
	}
	v, ok := lookup(name)
	switch {
	case hasDef && v == "":
		return def, nil
	case !ok:
		return "", fmt.Errorf("${%s}: environment variable %s is not set (give a default with ${env:%s:-default})", ref, name, name)
	}
	return v, nil
}
