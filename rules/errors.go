package rules

import (
	"cmp"
	"fmt"
	"slices"
	"strings"
)

// Error is one problem found in a rules file, with the position of the YAML
// node that caused it.
type Error struct {
	File string
	// Line and Col are 1-based. Line is 0 when the problem concerns the whole
	// file (it could not be read, or a setting it lacks); Col is 0 when only
	// the line is known.
	Line, Col int
	Msg       string
}

// Error returns "FILE:LINE:COL: message", leaving out the parts that are unknown.
func (e *Error) Error() string {
	switch {
	case e.Line == 0:
		return e.File + ": " + e.Msg
	case e.Col == 0:
		return fmt.Sprintf("%s:%d: %s", e.File, e.Line, e.Msg)
	}
	return fmt.Sprintf("%s:%d:%d: %s", e.File, e.Line, e.Col, e.Msg)
}

// position is a place in a rules file, for messages that refer to another
// place ("first defined at ...").
type position struct {
	file      string
	line, col int
}

func (p position) String() string {
	return fmt.Sprintf("%s:%d:%d", p.file, p.line, p.col)
}

func (p position) errorf(format string, args ...any) *Error {
	return &Error{File: p.file, Line: p.line, Col: p.col, Msg: fmt.Sprintf(format, args...)}
}

// Errors is every problem found in one Parse or Load, sorted by file (in the
// order the files were given) then position. Parse and Load return it as their
// error, never an empty one.
type Errors []*Error

// Error joins the errors with newlines.
func (es Errors) Error() string {
	var b strings.Builder
	for i, e := range es {
		if i > 0 {
			b.WriteByte('\n')
		}
		b.WriteString(e.Error())
	}
	return b.String()
}

// sortErrors orders errors by the position of their file in files, then line
// and column, so that a report reads top to bottom however the checks ran.
func sortErrors(es Errors, files []string) {
	order := make(map[string]int, len(files))
	for i, f := range files {
		if _, ok := order[f]; !ok {
			order[f] = i
		}
	}
	slices.SortStableFunc(es, func(a, b *Error) int {
		return cmp.Or(
			cmp.Compare(order[a.File], order[b.File]),
			cmp.Compare(a.Line, b.Line),
			cmp.Compare(a.Col, b.Col),
		)
	})
}
