package rules

import (
	"bytes"
	"errors"
	"fmt"
	"io"
	"strconv"
	"strings"
	"unicode/utf8"

	"gopkg.in/yaml.v3"

	"github.com/weirdev/weir/internal/yamlpos"
)

// decoder walks the yaml.Node tree of one file by hand, rather than through
// struct tags, so that every complaint carries the line and column of the node
// it is about and so that every problem is reported, not just the first.
type decoder struct {
	file string
	errs Errors
}

func (d *decoder) errorf(n *yaml.Node, format string, args ...any) {
	d.errs = append(d.errs, &Error{File: d.file, Line: n.Line, Col: n.Column, Msg: fmt.Sprintf(format, args...)})
}

// at returns the position of n, for "first defined at" references.
func (d *decoder) at(n *yaml.Node) position {
	return position{d.file, n.Line, n.Column}
}

// document parses data into its single YAML document node, or nil for an
// empty file (or one holding only comments).
func (d *decoder) document(data []byte) *yaml.Node {
	dec := yaml.NewDecoder(bytes.NewReader(data))
	var doc yaml.Node
	if err := dec.Decode(&doc); err != nil {
		if errors.Is(err, io.EOF) {
			return nil
		}
		d.syntaxError(data, err)
		return nil
	}
	var extra yaml.Node
	if err := dec.Decode(&extra); err == nil {
		d.errorf(&extra, "a rules file holds one YAML document; split the others into their own files")
	} else if !errors.Is(err, io.EOF) {
		d.syntaxError(data, err)
	}
	if len(doc.Content) == 0 {
		return nil
	}
	return resolve(doc.Content[0])
}

func (d *decoder) syntaxError(data []byte, err error) {
	line, col, msg := yamlpos.Syntax(data, err)
	d.errs = append(d.errs, &Error{File: d.file, Line: line, Col: col, Msg: "YAML syntax: " + msg})
}

// resolve follows aliases to the node they name.
func resolve(n *yaml.Node) *yaml.Node {
	if n != nil && n.Kind == yaml.AliasNode {
		return n.Alias
	}
	return n
}

func isNull(n *yaml.Node) bool {
	return n.Kind == yaml.ScalarNode && n.Tag == "!!null"
}

// field is one key of a mapping with its value, aliases resolved.
type field struct {
	key, val *yaml.Node
}

// fields checks that n is a mapping whose keys are all in known, reporting
// unknown and repeated keys, and returns the fields found by key. what names
// the mapping in messages ("rollup rule"). A null node is an empty mapping.
func (d *decoder) fields(n *yaml.Node, what string, known ...string) (map[string]field, bool) {
	if isNull(n) {
		return nil, true
	}
	if n.Kind != yaml.MappingNode {
		d.errorf(n, "%s: want a mapping of fields, got %s", what, describe(n))
		return nil, false
	}
	out := make(map[string]field, len(n.Content)/2)
	for i := 0; i+1 < len(n.Content); i += 2 {
		k, v := resolve(n.Content[i]), resolve(n.Content[i+1])
		if k.Kind != yaml.ScalarNode {
			d.errorf(k, "%s: field names are plain strings, got %s", what, describe(k))
			continue
		}
		if !contains(known, k.Value) {
			d.errorf(k, "unknown field %q in %s (known fields: %s)", k.Value, what, strings.Join(known, ", "))
			continue
		}
		if prev, dup := out[k.Value]; dup {
			d.errorf(k, "field %q given twice in %s (first at %s)", k.Value, what, d.at(prev.key))
			continue
		}
		out[k.Value] = field{k, v}
	}
	return out, true
}

// entries returns the key/value pairs of a mapping with free-form keys (tenant
// or service names), reporting repeated keys.
func (d *decoder) entries(n *yaml.Node, what string) []field {
	if isNull(n) {
		return nil
	}
	if n.Kind != yaml.MappingNode {
		d.errorf(n, "%s: want a mapping, got %s", what, describe(n))
		return nil
	}
	var out []field
	seen := make(map[string]*yaml.Node)
	for i := 0; i+1 < len(n.Content); i += 2 {
		k, v := resolve(n.Content[i]), resolve(n.Content[i+1])
		if k.Kind != yaml.ScalarNode || isNull(k) || k.Value == "" {
			d.errorf(k, "%s: keys must be non-empty strings, got %s", what, describe(k))
			continue
		}
		if prev, dup := seen[k.Value]; dup {
			d.errorf(k, "%q given twice in %s (first at %s)", k.Value, what, d.at(prev))
			continue
		}
		seen[k.Value] = k
		out = append(out, field{k, v})
	}
	return out
}

// seq returns the items of a sequence node; null is an empty sequence.
func (d *decoder) seq(n *yaml.Node, what string) ([]*yaml.Node, bool) {
	if isNull(n) {
		return nil, true
	}
	if n.Kind != yaml.SequenceNode {
		d.errorf(n, "%s: want a list, got %s", what, describe(n))
		return nil, false
	}
	items := make([]*yaml.Node, len(n.Content))
	for i, c := range n.Content {
		items[i] = resolve(c)
	}
	return items, true
}

// str returns the value of a scalar that must be a non-empty string.
func (d *decoder) str(n *yaml.Node, what string) (string, bool) {
	if n.Kind != yaml.ScalarNode {
		d.errorf(n, "%s: want a string, got %s", what, describe(n))
		return "", false
	}
	if isNull(n) || n.Value == "" {
		d.errorf(n, "%s is empty", what)
		return "", false
	}
	if !utf8.ValidString(n.Value) {
		d.errorf(n, "%s is not valid UTF-8", what)
		return "", false
	}
	return n.Value, true
}

// strs returns a list of distinct non-empty strings, reporting repeats.
func (d *decoder) strs(n *yaml.Node, what string) ([]strNode, bool) {
	items, ok := d.seq(n, what)
	if !ok {
		return nil, false
	}
	out := make([]strNode, 0, len(items))
	for _, it := range items {
		s, good := d.str(it, what+" entry")
		if !good {
			ok = false
			continue
		}
		if i := indexStr(out, s); i >= 0 {
			d.errorf(it, "%q listed twice in %s (first at %s)", s, what, d.at(out[i].node))
			ok = false
			continue
		}
		out = append(out, strNode{s, it})
	}
	return out, ok
}

func (d *decoder) boolean(n *yaml.Node, what string) (bool, bool) {
	if n.Kind == yaml.ScalarNode && n.Tag == "!!bool" {
		var b bool
		if err := n.Decode(&b); err == nil {
			return b, true
		}
	}
	d.errorf(n, "%s: want true or false, got %s", what, describe(n))
	return false, false
}

func (d *decoder) integer(n *yaml.Node, what string) (int, bool) {
	if n.Kind == yaml.ScalarNode && n.Tag == "!!int" {
		var i int
		if err := n.Decode(&i); err == nil {
			return i, true
		}
	}
	d.errorf(n, "%s: want an integer, got %s", what, describe(n))
	return 0, false
}

func (d *decoder) number(n *yaml.Node, what string) (float64, bool) {
	if n.Kind == yaml.ScalarNode && (n.Tag == "!!int" || n.Tag == "!!float") {
		var f float64
		if err := n.Decode(&f); err == nil {
			return f, true
		}
	}
	d.errorf(n, "%s: want a number, got %s", what, describe(n))
	return 0, false
}

// describe names what a node holds, for "want X, got Y" messages.
func describe(n *yaml.Node) string {
	switch n.Kind {
	case yaml.MappingNode:
		return "a mapping"
	case yaml.SequenceNode:
		return "a list"
	case yaml.ScalarNode:
		if isNull(n) {
			return "nothing"
		}
		v := n.Value
		if len(v) > 40 {
			v = v[:40] + "..."
		}
		return strconv.Quote(v)
	}
	return "an unexpected YAML node"
}

// strNode is a string with the node it came from.
type strNode struct {
	s    string
	node *yaml.Node
}

func indexStr(l []strNode, s string) int {
	for i, x := range l {
		if x.s == s {
			return i
		}
	}
	return -1
}

func contains(l []string, s string) bool {
	for _, x := range l {
		if x == s {
			return true
		}
	}
	return false
}
