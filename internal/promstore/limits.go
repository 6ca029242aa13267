package promstore

import (
	"context"
	"fmt"
	"net/http"
	"strings"
	"time"

	"github.com/prometheus/prometheus/promql/parser"
)

// The query guards of the store, Prometheus' own kinds of limit set for one
// process that also runs the pipeline, its Kafka and its trace store (see
// the hostile-query test of package demo for what they hold).
const (
	// DefaultMaxSamples bounds the samples one query holds at once
	// (Prometheus' --query.max-samples, 50,000,000 there): about 16 bytes
	// each, so a query holds at most ~160 MB of them.
	DefaultMaxSamples = 10_000_000
	// DefaultQueryTimeout bounds a query's evaluation, queueing included
	// (Prometheus' --query.timeout, 2m there).
	DefaultQueryTimeout = 30 * time.Second
	// DefaultMaxConcurrentQueries is how many queries evaluate at once;
	// the others wait, within their timeout (Prometheus'
	// --query.max-concurrency, 20 there).
	DefaultMaxConcurrentQueries = 2
	// MaxSubqueryPoints bounds the steps a subquery evaluates: its range
	// (with the ranges of the subqueries around it and the span of a range
	// query) over its step. The engine copies a step-invariant expression
	// to every step before it counts samples:
	// count_over_time(vector(1)[30d:1ms]) would make 2.6 billion.
	MaxSubqueryPoints = DefaultMaxSamples
	// defaultSubqueryStep is the step of a subquery that names none (the
	// engine's NoStepSubqueryIntervalFn: Prometheus' default evaluation
	// interval).
	defaultSubqueryStep = time.Minute
	// MaxQueryLength bounds the query parameter, in bytes.
	MaxQueryLength = 64 << 10
	// MaxQueryDepth bounds the nesting of parentheses, brackets and braces
	// in a query: the parser's time grows with the square of it (16,000
	// levels take seconds).
	MaxQueryDepth = 256
	// MaxRequestBody bounds a POSTed form.
	MaxRequestBody = 1 << 20
)

// limitedForm parses r's form with its body capped at MaxRequestBody.
func limitedForm(w http.ResponseWriter, r *http.Request) error {
	r.Body = http.MaxBytesReader(w, r.Body, MaxRequestBody)
	if err := r.ParseForm(); err != nil {
		return fmt.Errorf("cannot parse the form (at most %d bytes): %w", MaxRequestBody, err)
	}
	return nil
}

// checkQuery refuses a query longer than MaxQueryLength or nested deeper
// than MaxQueryDepth, before the parser sees it.
func checkQuery(q string) error {
	if len(q) > MaxQueryLength {
		return fmt.Errorf("the query is %d bytes long, more than %d", len(q), MaxQueryLength)
	}
	if d := depth(q); d > MaxQueryDepth {
		return fmt.Errorf("the query nests %d levels deep, more than %d", d, MaxQueryDepth)
	}
	return nil
}

// depth is the deepest nesting of (), [] and {} in a PromQL query, outside
// its string literals ("...", '...', `...`) and # comments.
func depth(q string) int {
	d, deepest := 0, 0
	for i := 0; i < len(q); i++ {
		switch c := q[i]; c {
		case '(', '[', '{':
			d++
			deepest = max(deepest, d)
		case ')', ']', '}':
			d--
		case '#':
			if j := strings.IndexByte(q[i:], '\n'); j >= 0 {
				i += j
			} else {
				return deepest
			}
		case '"', '\'', '`':
			for i++; i < len(q) && q[i] != c; i++ {
				if q[i] == '\\' && c != '`' {
					i++
				}
			}
		}
	}
	return deepest
}

// checkSubqueries refuses an expression with a subquery of more than
// MaxSubqueryPoints steps, evaluated over span (a range query's end minus
// start, 0 for an instant query).
func checkSubqueries(e parser.Expr, span time.Duration) error {
	var err error
	parser.Inspect(e, func(n parser.Node, path []parser.Node) error {
		sq, ok := n.(*parser.SubqueryExpr)
		if !ok || err != nil {
			return nil
		}
		outer := span
		for _, p := range path {
			if ps, ok := p.(*parser.SubqueryExpr); ok {
				outer += ps.Range
			}
		}
		step := sq.Step
		if step <= 0 {
			step = defaultSubqueryStep
		}
		if pts := int64((outer + sq.Range) / step); pts > MaxSubqueryPoints {
			err = fmt.Errorf("the subquery %s evaluates %d steps, more than %d: use a coarser step", sq, pts, MaxSubqueryPoints)
		}
		return nil
	})
	return err
}

// slots is the engine's query tracker: a semaphore of
// DefaultMaxConcurrentQueries slots (Prometheus' ActiveQueryTracker also
// logs the queries to a file, to name those a crash interrupted; the
// demo's store has no such file).
type slots chan struct{}

func (s slots) GetMaxConcurrent() int { return cap(s) }

func (s slots) Insert(ctx context.Context, _ string) (int, error) {
	select {
	case s <- struct{}{}:
		return 0, nil
	case <-ctx.Done():
		return 0, ctx.Err()
	}
}

func (s slots) Delete(int) { <-s }

func (s slots) Close() error { return nil }
