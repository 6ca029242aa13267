package config

import (
	"bytes"
	"errors"
	"fmt"
	"io"
	"net/url"
	"os"
	"reflect"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"sync"

	"gopkg.in/yaml.v3"

	"github.com/weirdev/weir/internal/yamlpos"
	"github.com/weirdev/weir/rules"
)

// shape is what a struct of the configuration takes in YAML: its keys, as
// its yaml tags (and those of the structs it inlines) name them.
type shape struct {
	keys   []string // in declaration order, for messages
	fields map[string]reflect.Type
}

// shapes holds the shape of every struct reachable from Config, Prometheus'
// HTTP client settings included, built once.
var shapes = sync.OnceValue(func() map[reflect.Type]*shape {
	m := make(map[reflect.Type]*shape)
	addShapes(m, reflect.TypeFor[Config]())
	return m
})

func addShapes(m map[reflect.Type]*shape, t reflect.Type) {
	for t.Kind() == reflect.Pointer || t.Kind() == reflect.Slice || t.Kind() == reflect.Map || t.Kind() == reflect.Array {
		t = t.Elem()
	}
	if _, done := m[t]; done || t.Kind() != reflect.Struct {
		return
	}
	s := &shape{fields: make(map[string]reflect.Type)}
	m[t] = s
	var add func(t reflect.Type)
	add = func(t reflect.Type) {
		for i := range t.NumField() {
			f := t.Field(i)
			tag := f.Tag.Get("yaml")
			name, opts, _ := strings.Cut(tag, ",")
			if !f.IsExported() || name == "-" {
				continue
			}
			if slices.Contains(strings.Split(opts, ","), "inline") && f.Type.Kind() == reflect.Struct {
				add(f.Type)
				continue
			}
			if name == "" {
				name = strings.ToLower(f.Name) // yaml.v3's default
			}
			s.keys = append(s.keys, name)
			s.fields[name] = f.Type
			addShapes(m, f.Type)
		}
	}
	add(t)
	if len(s.fields) == 0 {
		delete(m, t) // a struct read from a scalar (a URL)
	}
}

type obsoleteUnmarshaler interface {
	UnmarshalYAML(unmarshal func(any) error) error
}

// unmarshals reports whether t reads itself from YAML.
func unmarshals(t reflect.Type) bool {
	p := reflect.PointerTo(t)
	return p.Implements(reflect.TypeFor[yaml.Unmarshaler]()) || p.Implements(reflect.TypeFor[obsoleteUnmarshaler]())
}

// checker walks a configuration document along Config's shape and reports
// every problem with the position of the node it is about: unknown keys
// (with the closest valid one), keys given twice, values of the wrong kind
// and values the setting's type refuses. It removes what it refuses from
// the document, so that the rest decodes and validates.
type checker struct {
	file   string
	shapes map[reflect.Type]*shape
	errs   rules.Errors
	// seen holds the verdict on nodes already walked as a type: an alias
	// is checked (and reported) once, however often it is used.
	seen map[visit]bool
}

type visit struct {
	n *yaml.Node
	t reflect.Type
}

func (c *checker) errorf(n *yaml.Node, format string, args ...any) {
	c.errs = append(c.errs, &rules.Error{File: c.file, Line: n.Line, Col: n.Column, Msg: fmt.Sprintf(format, args...)})
}

// check walks n as a value of type t at path (its dotted name in messages);
// at is the node a problem with n as a whole is reported at (its key). It
// reports whether n is to be kept: false when n itself cannot be a t. What
// is refused inside n is removed from it, so that n is kept.
func (c *checker) check(n, at *yaml.Node, t reflect.Type, path string) bool {
	n = resolve(n)
	for t.Kind() == reflect.Pointer {
		t = t.Elem()
	}
	if n.Kind == yaml.ScalarNode && n.Tag == "!!null" {
		return true
	}
	v := visit{n, t}
	if ok, done := c.seen[v]; done {
		return ok
	}
	c.seen[v] = true // an alias inside itself is yaml's to refuse
	ok := c.walk(n, at, t, path)
	c.seen[v] = ok
	return ok
}

func (c *checker) walk(n, at *yaml.Node, t reflect.Type, path string) bool {
	if n.Kind == yaml.ScalarNode {
		at = n
	}
	self := unmarshals(t)
	sh := c.shapes[t]
	switch {
	case sh != nil && (n.Kind == yaml.MappingNode || !self):
		if n.Kind != yaml.MappingNode {
			c.errorf(at, "%s: want a mapping of settings, got %s", name(path), describe(n))
			return false
		}
		// Prometheus' types check themselves once decoded (tls_config: at
		// most one of ca, ca_file).
		c.mapping(n, sh, path)
		return !self || c.leaf(n, at, t, path)
	case self:
		return c.leaf(n, at, t, path)
	case t.Kind() == reflect.Slice:
		if n.Kind != yaml.SequenceNode {
			c.errorf(at, "%s: want a list, got %s", name(path), describe(n))
			return false
		}
		for i, item := range n.Content {
			if !c.check(item, item, t.Elem(), fmt.Sprintf("%s[%d]", path, i)) {
				n.Content[i] = placeholder(t.Elem())
			}
		}
		return true
	case t.Kind() == reflect.Map:
		if n.Kind != yaml.MappingNode {
			c.errorf(at, "%s: want a mapping, got %s", name(path), describe(n))
			return false
		}
		c.entries(n, path, func(k, v *yaml.Node) bool {
			return c.leaf(k, k, t.Key(), path) && c.check(v, k, t.Elem(), path+"."+k.Value)
		})
		return true
	}
	return c.leaf(n, at, t, path)
}

// placeholder stands for a refused list item, so that the others keep their
// index (yaml drops a null item): an empty value of the item's kind, at no
// position, so that locate does not take it for a setting of the file.
func placeholder(t reflect.Type) *yaml.Node {
	for t.Kind() == reflect.Pointer {
		t = t.Elem()
	}
	if t.Kind() == reflect.Struct || t.Kind() == reflect.Map {
		return &yaml.Node{Kind: yaml.MappingNode, Tag: "!!map"}
	}
	return &yaml.Node{Kind: yaml.ScalarNode, Tag: "!!str"}
}

// mapping checks the keys of a struct's mapping and walks their values.
func (c *checker) mapping(n *yaml.Node, sh *shape, path string) {
	c.entries(n, path, func(k, v *yaml.Node) bool {
		ft, known := sh.fields[k.Value]
		if !known {
			msg := fmt.Sprintf("unknown field %q", k.Value)
			if path != "" {
				msg += " in " + path
			}
			if s := closest(k.Value, sh.keys); s != "" {
				msg += fmt.Sprintf("; did you mean %q?", s)
			} else {
				msg += ";"
			}
			c.errorf(k, "%s valid keys: %s", msg, strings.Join(sh.keys, ", "))
			return false
		}
		return c.check(v, k, ft, strings.TrimPrefix(path+"."+k.Value, "."))
	})
}

// entries calls fn with each key and value of mapping n (merged ones too),
// refusing keys that are not scalars or are given twice, and removes the
// entries refused and those fn refuses.
func (c *checker) entries(n *yaml.Node, path string, fn func(k, v *yaml.Node) bool) {
	first := make(map[string]*yaml.Node)
	kept := n.Content[:0]
	for i := 0; i+1 < len(n.Content); i += 2 {
		k, v := resolve(n.Content[i]), n.Content[i+1]
		good := true
		switch {
		case k.Kind != yaml.ScalarNode:
			c.errorf(k, "%s: keys are plain strings, got %s", name(path), describe(k))
			good = false
		case k.Tag == "!!merge":
			good = c.merge(v, path, fn)
		case first[k.Value] != nil:
			c.errorf(k, "%q given twice in %s (first at %s:%d:%d)", k.Value, name(path), c.file, first[k.Value].Line, first[k.Value].Column)
			good = false
		default:
			first[k.Value] = k
			good = fn(k, v)
		}
		if good {
			kept = append(kept, n.Content[i], v)
		}
	}
	n.Content = kept
}

// merge walks the mappings of a merge key (<<: *defaults) as part of the
// mapping that holds it.
func (c *checker) merge(v *yaml.Node, path string, fn func(k, v *yaml.Node) bool) bool {
	v = resolve(v)
	items := []*yaml.Node{v}
	if v.Kind == yaml.SequenceNode {
		items = v.Content
	}
	for _, m := range items {
		if m = resolve(m); m.Kind != yaml.MappingNode {
			c.errorf(m, "%s: a merge key takes mappings, got %s", name(path), describe(m))
			return false
		}
	}
	for _, m := range items {
		c.entries(resolve(m), path, fn)
	}
	return true
}

// leaf decodes n on its own as a t, reporting what refuses it.
func (c *checker) leaf(n, at *yaml.Node, t reflect.Type, path string) bool {
	err := n.Decode(reflect.New(t).Interface())
	if err == nil {
		return true
	}
	if n.Kind == yaml.ScalarNode {
		at = n
	}
	var te *yaml.TypeError
	var ue *url.Error
	switch {
	case errors.As(err, &te):
		c.errorf(at, "%s: want %s, got %s", name(path), kindOf(t), describe(n))
	case errors.As(err, &ue):
		// url.Error quotes the URL, which may hold credentials.
		c.errorf(at, "%s: not a URL: %v", name(path), ue.Err)
	default:
		c.errorf(at, "%s: %s", name(path), yamlMessage(err))
	}
	return false
}

var yamlLineRE = regexp.MustCompile(`^(?:yaml: )?(?:line (\d+): )?`)

// yamlMessage is err's text without yaml's "yaml: line N:" prefix.
func yamlMessage(err error) string {
	return yamlLineRE.ReplaceAllString(err.Error(), "")
}

// yamlLine is the line yaml's message names, or 0.
func yamlLine(err error) int {
	m := yamlLineRE.FindStringSubmatch(err.Error())
	if m == nil {
		return 0
	}
	n, _ := strconv.Atoi(m[1])
	return n
}

func name(path string) string {
	if path == "" {
		return "the configuration"
	}
	return path
}

// kindOf names what a setting of type t is written as.
func kindOf(t reflect.Type) string {
	switch t.Kind() {
	case reflect.String:
		return "a string"
	case reflect.Bool:
		return "true or false"
	case reflect.Int, reflect.Int8, reflect.Int16, reflect.Int32, reflect.Int64:
		return "an integer"
	case reflect.Uint, reflect.Uint8, reflect.Uint16, reflect.Uint32, reflect.Uint64:
		return "a non-negative integer"
	case reflect.Float32, reflect.Float64:
		return "a number"
	case reflect.Slice, reflect.Array:
		return "a list"
	case reflect.Map, reflect.Struct:
		return "a mapping"
	}
	return "a " + t.String()
}

// describe names what a node holds, for "want X, got Y" messages.
func describe(n *yaml.Node) string {
	switch n.Kind {
	case yaml.MappingNode:
		return "a mapping"
	case yaml.SequenceNode:
		return "a list"
	case yaml.ScalarNode:
		v := n.Value
		if len(v) > 40 {
			v = v[:40] + "..."
		}
		return strconv.Quote(v)
	}
	return "an unexpected YAML node"
}

func resolve(n *yaml.Node) *yaml.Node {
	for n.Kind == yaml.AliasNode && n.Alias != nil {
		n = n.Alias
	}
	return n
}

// closest returns the valid key nearest to a misspelt one (at most a third
// of its letters changed, swapped, added or left out), or "".
func closest(key string, valid []string) string {
	best, bestD := "", -1
	for _, v := range valid {
		if diff := len(key) - len(v); diff > len(v)/3+1 || -diff > len(v)/3+1 {
			continue // too far apart for the distance to be near
		}
		d := editDistance(strings.ToLower(key), v)
		if d <= max(1, len(v)/3) && (bestD < 0 || d < bestD) {
			best, bestD = v, d
		}
	}
	return best
}

// editDistance is the optimal string alignment distance of a and b:
// insertions, deletions, substitutions and swaps of neighbours.
func editDistance(a, b string) int {
	ra, rb := []rune(a), []rune(b)
	d := make([][]int, len(ra)+1)
	for i := range d {
		d[i] = make([]int, len(rb)+1)
		d[i][0] = i
	}
	for j := range d[0] {
		d[0][j] = j
	}
	for i := 1; i <= len(ra); i++ {
		for j := 1; j <= len(rb); j++ {
			cost := 1
			if ra[i-1] == rb[j-1] {
				cost = 0
			}
			d[i][j] = min(d[i-1][j]+1, d[i][j-1]+1, d[i-1][j-1]+cost)
			if i > 1 && j > 1 && ra[i-1] == rb[j-2] && ra[i-2] == rb[j-1] {
				d[i][j] = min(d[i][j], d[i-2][j-2]+1)
			}
		}
	}
	return d[len(ra)][len(rb)]
}

// parse decodes, checks and validates the config in b, read from file.
func parse(file string, b []byte, dir string) (*Config, error) {
	c := &checker{file: file, shapes: shapes(), seen: make(map[visit]bool)}
	doc := c.document(b)
	cfg := Config{dir: dir}
	if doc != nil {
		// In place: the nodes keep their lines and columns.
		if _, err := expandEnv(doc, os.LookupEnv); err != nil {
			c.errs = append(c.errs, &rules.Error{File: file, Msg: err.Error()})
		}
	}
	if doc != nil {
		// The walk removes what it refuses: the rest decodes and is
		// validated.
		root := doc.Content[0]
		if c.check(root, root, reflect.TypeFor[Config](), "") {
			if err := root.Decode(&cfg); err != nil {
				// What the walk let through: yaml's own limits (aliases).
				c.errs = append(c.errs, &rules.Error{File: file, Line: yamlLine(err), Msg: yamlMessage(err)})
			}
			cfg.Receivers.enableNullProtocols(doc)
		}
	}
	if dir != "" {
		for i := range cfg.RemoteWrite {
			cfg.RemoteWrite[i].HTTPClientConfig.SetDirectory(dir)
		}
		cfg.Kafka.SetDirectory(dir)
		for i := range cfg.KafkaSinks {
			cfg.KafkaSinks[i].SetDirectory(dir)
		}
	}
	shaped := len(c.errs) == 0
	cfg.FillDefaults()
	for _, msg := range cfg.validate() {
		at, exact := locate(doc, msg)
		if !shaped && !exact {
			continue // most likely the consequence of a refused key
		}
		e := &rules.Error{File: file, Msg: msg}
		if at != nil {
			e.Line, e.Col = at.Line, at.Column
		}
		c.errs = append(c.errs, e)
	}
	cfg.doc = doc
	if len(c.errs) > 0 {
		slices.SortStableFunc(c.errs, func(a, b *rules.Error) int {
			if a.Line != b.Line {
				return a.Line - b.Line
			}
			return a.Col - b.Col
		})
		return nil, c.errs
	}
	return &cfg, nil
}

// document parses b into its one YAML document node, or nil for an empty
// file (or one of comments only) or one that does not parse.
func (c *checker) document(b []byte) *yaml.Node {
	dec := yaml.NewDecoder(bytes.NewReader(b))
	var doc yaml.Node
	if err := dec.Decode(&doc); err != nil {
		if !errors.Is(err, io.EOF) {
			c.syntaxError(b, err)
		}
		return nil
	}
	// A later document would be ignored, as would be a typo in it.
	var extra yaml.Node
	if err := dec.Decode(&extra); err == nil {
		c.errorf(&extra, "a config file holds one YAML document; remove the others (and the --- before them)")
	} else if !errors.Is(err, io.EOF) {
		c.syntaxError(b, err)
	}
	if len(doc.Content) == 0 {
		return nil
	}
	return &doc
}

func (c *checker) syntaxError(b []byte, err error) {
	line, col, msg := yamlpos.Syntax(b, err)
	c.errs = append(c.errs, &rules.Error{File: c.file, Line: line, Col: col, Msg: "YAML syntax: " + msg})
}

// position returns the line and column of a setting (its dotted path) in
// the file, or 0, 0 when the file does not have it.
func (c *Config) position(path string) (line, col int) {
	if at, ok := locate(c.doc, path+": "); ok {
		return at.Line, at.Column
	}
	return 0, 0
}

// locate returns the node of the setting a validation message starts with
// ("remote_write[0].url: ..."), and whether the document has it; else the
// nearest enclosing setting the document has, or nil. The node is a
// setting's scalar value, or its key when the value is a mapping or list.
func locate(doc *yaml.Node, msg string) (*yaml.Node, bool) {
	if doc == nil {
		return nil, false
	}
	path, _, _ := strings.Cut(msg, ": ")
	var segs []string
	for _, part := range strings.Split(path, ".") {
		name, idx, _ := strings.Cut(part, "[")
		segs = append(segs, name)
		for idx != "" {
			i, rest, _ := strings.Cut(idx, "]")
			segs = append(segs, "["+i)
			_, idx, _ = strings.Cut(rest, "[")
		}
	}
	var at *yaml.Node
	n := resolve(doc.Content[0])
	for i := 0; i < len(segs); {
		seg := segs[i]
		switch {
		case strings.HasPrefix(seg, "[") && n.Kind == yaml.SequenceNode:
			j, err := strconv.Atoi(seg[1:])
			if err != nil || j < 0 || j >= len(n.Content) {
				return at, false
			}
			n = resolve(n.Content[j])
			if n.Line == 0 {
				return at, false // a placeholder
			}
			at = n
			i++
			continue
		case n.Kind != yaml.MappingNode:
			return at, false
		}
		// Header names hold dots: the longest run of segments that is a key.
		k, v, used := lookup(n, segs[i:])
		if k == nil {
			return at, false
		}
		n, i = resolve(v), i+used
		if at = k; n.Kind == yaml.ScalarNode && n.Tag != "!!null" {
			at = n
		}
	}
	return at, true
}

func lookup(m *yaml.Node, segs []string) (k, v *yaml.Node, used int) {
	for used = len(segs); used > 0; used-- {
		if strings.HasPrefix(segs[used-1], "[") {
			continue
		}
		key := strings.Join(segs[:used], ".")
		for i := 0; i+1 < len(m.Content); i += 2 {
			if kn := resolve(m.Content[i]); kn.Value == key {
				return kn, m.Content[i+1], used
			}
		}
	}
	return nil, nil, 0
}
