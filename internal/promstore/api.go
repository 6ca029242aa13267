package promstore

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"slices"
	"strings"
	"time"

	"github.com/prometheus/common/model"
	"github.com/prometheus/prometheus/model/labels"
	"github.com/prometheus/prometheus/model/timestamp"
	"github.com/prometheus/prometheus/promql"
	"github.com/prometheus/prometheus/promql/parser"
	"github.com/prometheus/prometheus/storage"
	"github.com/prometheus/prometheus/util/annotations"
)

// maxPointsPerSeries is Prometheus' limit on the points a range query
// returns per series.
const maxPointsPerSeries = 11000

// Handler serves the read side of the Prometheus HTTP API, each path with GET
// and with a POST form, taking the parameters Prometheus takes:
//
//	/api/v1/query               query, time
//	/api/v1/query_range         query, start, end, step
//	/api/v1/query_exemplars     query, start, end
//	/api/v1/series              match[] (one or more), start, end
//	/api/v1/labels              match[], start, end
//	/api/v1/label/{name}/values match[], start, end
//
// Times are Unix seconds (with decimals) or RFC 3339; step is a Prometheus
// duration ("15s", "1m") or seconds. Answers are Prometheus' JSON envelope,
// {"status":"success","data":...}; a bad parameter answers 400 with
// {"status":"error","errorType":"bad_data","error":"..."}, a query that fails
// to evaluate 422 ("execution"), one that times out 503 ("timeout"), one
// that would hold more than DefaultMaxSamples 422 ("cost_limit"). A query
// longer than MaxQueryLength or nested deeper than MaxQueryDepth, and a
// form beyond MaxRequestBody, answer 400 before any parsing.
func (s *Store) Handler() http.Handler {
	mux := http.NewServeMux()
	for path, h := range map[string]func(*http.Request) result{
		"/api/v1/query":               s.query,
		"/api/v1/query_range":         s.queryRange,
		"/api/v1/query_exemplars":     s.queryExemplars,
		"/api/v1/series":              s.series,
		"/api/v1/labels":              s.labelNames,
		"/api/v1/label/{name}/values": s.labelValues,
	} {
		serve := func(w http.ResponseWriter, r *http.Request) {
			if err := limitedForm(w, r); err != nil {
				s.respond(w, r, badData(err))
				return
			}
			if err := checkQuery(r.Form.Get("query")); err != nil {
				s.respond(w, r, invalidParam(err, "query"))
				return
			}
			s.respond(w, r, h(r))
		}
		mux.HandleFunc("GET "+path, serve)
		mux.HandleFunc("POST "+path, serve)
	}
	return mux
}

// result is what a handler produces: data to render on success, or an error.
type result struct {
	data     func(*encoder)
	err      *apiError
	warnings annotations.Annotations
	query    string
	// finalize releases what data refers to (a query's pooled result); it
	// runs after the response was rendered.
	finalize func()
}

// apiError carries Prometheus' errorType with the error.
type apiError struct {
	typ string
	err error
}

const (
	errBadData   = "bad_data"
	errExec      = "execution"
	errTimeout   = "timeout"
	errCanceled  = "canceled"
	errInternal  = "internal"
	errCostLimit = "cost_limit"
)

func badData(err error) result { return result{err: &apiError{errBadData, err}} }

// invalidParam words the error as Prometheus does.
func invalidParam(err error, name string) result {
	return badData(fmt.Errorf("invalid parameter %q: %w", name, err))
}

func (s *Store) query(r *http.Request) result {
	ts, err := parseTimeParam(r, "time", time.Now())
	if err != nil {
		return invalidParam(err, "time")
	}
	qs := r.FormValue("query")
	if err := s.checkCost(qs, 0); err != nil {
		return invalidParam(err, "query")
	}
	qry, err := s.engine.NewInstantQuery(r.Context(), s.db, nil, qs, ts)
	if err != nil {
		return constructionError(err)
	}
	return s.exec(r.Context(), qry, qs)
}

func (s *Store) queryRange(r *http.Request) result {
	start, err := parseTime(r.FormValue("start"))
	if err != nil {
		return invalidParam(err, "start")
	}
	end, err := parseTime(r.FormValue("end"))
	if err != nil {
		return invalidParam(err, "end")
	}
	if end.Before(start) {
		return invalidParam(errors.New("end timestamp must not be before start time"), "end")
	}
	step, err := parseDuration(r.FormValue("step"))
	if err != nil {
		return invalidParam(err, "step")
	}
	if step <= 0 {
		return invalidParam(errors.New("zero or negative query resolution step widths are not accepted. Try a positive integer"), "step")
	}
	if end.Sub(start)/step > maxPointsPerSeries {
		return badData(errors.New("exceeded maximum resolution of 11,000 points per timeseries. Try decreasing the query resolution (?step=XX)"))
	}
	qs := r.FormValue("query")
	if err := s.checkCost(qs, end.Sub(start)); err != nil {
		return invalidParam(err, "query")
	}
	qry, err := s.engine.NewRangeQuery(r.Context(), s.db, nil, qs, start, end, step)
	if err != nil {
		return constructionError(err)
	}
	return s.exec(r.Context(), qry, qs)
}

// checkCost refuses a query whose subqueries evaluate too many steps (see
// MaxSubqueryPoints). A query that does not parse is left to the engine,
// which says why.
func (s *Store) checkCost(qs string, span time.Duration) error {
	expr, err := s.parser.ParseExpr(qs)
	if err != nil {
		return nil
	}
	return checkSubqueries(expr, span)
}

// exec runs a built query. The result refers to the query's pooled memory,
// so the query is closed only after the response has been rendered.
func (s *Store) exec(ctx context.Context, qry promql.Query, qs string) result {
	res := qry.Exec(ctx)
	if res.Err != nil {
		qry.Close()
		return result{err: execError(res.Err), warnings: res.Warnings, query: qs}
	}
	v := res.Value
	return result{
		data:     func(e *encoder) { e.queryData(v) },
		warnings: res.Warnings,
		query:    qs,
		finalize: qry.Close,
	}
}

func (s *Store) queryExemplars(r *http.Request) result {
	start, err := parseTimeParam(r, "start", minTime)
	if err != nil {
		return invalidParam(err, "start")
	}
	end, err := parseTimeParam(r, "end", maxTime)
	if err != nil {
		return invalidParam(err, "end")
	}
	if end.Before(start) {
		return badData(errors.New("end timestamp must not be before start timestamp"))
	}
	expr, err := s.parser.ParseExpr(r.FormValue("query"))
	if err != nil {
		return badData(err)
	}
	selectors := parser.ExtractSelectors(expr)
	if len(selectors) < 1 {
		// Prometheus answers {"status":"success"} without data here.
		return result{}
	}
	eq, err := s.db.ExemplarQuerier(r.Context())
	if err != nil {
		return result{err: execError(err)}
	}
	res, err := eq.Select(timestamp.FromTime(start), timestamp.FromTime(end), selectors...)
	if err != nil {
		return result{err: execError(err)}
	}
	return result{data: func(e *encoder) { e.exemplarResults(res) }}
}

func (s *Store) series(r *http.Request) result {
	if err := r.ParseForm(); err != nil {
		return badData(fmt.Errorf("error parsing form values: %w", err))
	}
	if len(r.Form["match[]"]) == 0 {
		return badData(errors.New("no match[] parameter provided"))
	}
	start, end, res := parseRange(r)
	if res != nil {
		return *res
	}
	matcherSets, err := s.parseMatchers(r.Form["match[]"])
	if err != nil {
		return invalidParam(err, "match[]")
	}
	q, err := s.db.Querier(timestamp.FromTime(start), timestamp.FromTime(end))
	if err != nil {
		return result{err: execError(err)}
	}
	// Labels read from blocks may point into their mapped files: the querier
	// stays open until the response is rendered.
	closeQ := func() { _ = q.Close() }

	hints := &storage.SelectHints{
		Start: timestamp.FromTime(start),
		End:   timestamp.FromTime(end),
		Func:  "series", // Lookups that need no samples.
	}
	var set storage.SeriesSet
	if len(matcherSets) > 1 {
		sets := make([]storage.SeriesSet, 0, len(matcherSets))
		for _, ms := range matcherSets {
			// Sorted, so that the merge removes series matched twice.
			sets = append(sets, q.Select(r.Context(), true, hints, ms...))
		}
		set = storage.NewMergeSeriesSet(sets, 0, storage.ChainedSeriesMerge)
	} else {
		set = q.Select(r.Context(), false, hints, matcherSets[0]...)
	}
	var out []labels.Labels
	for set.Next() {
		out = append(out, set.At().Labels())
	}
	if err := set.Err(); err != nil {
		return result{err: execError(err), finalize: closeQ}
	}
	return result{data: func(e *encoder) { e.labelsList(out) }, warnings: set.Warnings(), finalize: closeQ}
}

func (s *Store) labelNames(r *http.Request) result {
	start, end, res := parseRange(r)
	if res != nil {
		return *res
	}
	matcherSets, err := s.parseMatchers(r.Form["match[]"])
	if err != nil {
		return badData(err)
	}
	return s.labelLookup(r.Context(), start, end, matcherSets, func(q storage.Querier, ms []*labels.Matcher) ([]string, annotations.Annotations, error) {
		return q.LabelNames(r.Context(), nil, ms...)
	})
}

func (s *Store) labelValues(r *http.Request) result {
	name := r.PathValue("name")
	if strings.HasPrefix(name, "U__") {
		name = model.UnescapeName(name, model.ValueEncodingEscaping)
	}
	if !model.UTF8Validation.IsValidLabelName(name) {
		return badData(fmt.Errorf("invalid label name: %q", name))
	}
	start, end, res := parseRange(r)
	if res != nil {
		return *res
	}
	matcherSets, err := s.parseMatchers(r.Form["match[]"])
	if err != nil {
		return badData(err)
	}
	return s.labelLookup(r.Context(), start, end, matcherSets, func(q storage.Querier, ms []*labels.Matcher) ([]string, annotations.Annotations, error) {
		return q.LabelValues(r.Context(), name, nil, ms...)
	})
}

// labelLookup runs lookup once per matcher set (once without matchers when
// there is none) and answers the sorted union.
func (s *Store) labelLookup(ctx context.Context, start, end time.Time, matcherSets [][]*labels.Matcher,
	lookup func(storage.Querier, []*labels.Matcher) ([]string, annotations.Annotations, error),
) result {
	q, err := s.db.Querier(timestamp.FromTime(start), timestamp.FromTime(end))
	if err != nil {
		return result{err: execError(err)}
	}
	closeQ := func() { _ = q.Close() } // After rendering, as in series.
	if len(matcherSets) == 0 {
		matcherSets = [][]*labels.Matcher{nil}
	}
	var (
		out      []string
		warnings annotations.Annotations
	)
	for _, ms := range matcherSets {
		vals, ws, err := lookup(q, ms)
		if err != nil {
			return result{err: &apiError{errExec, err}, finalize: closeQ}
		}
		warnings.Merge(ws)
		out = append(out, vals...)
	}
	if err := ctx.Err(); err != nil {
		return result{err: execError(err), finalize: closeQ}
	}
	slices.Sort(out)
	out = slices.Compact(out)
	return result{data: func(e *encoder) { e.strings(out) }, warnings: warnings, finalize: closeQ}
}

// parseRange reads the optional start and end of the series and label
// lookups; unset, they cover all time.
func parseRange(r *http.Request) (start, end time.Time, res *result) {
	start, err := parseTimeParam(r, "start", minTime)
	if err != nil {
		bad := invalidParam(err, "start")
		return start, end, &bad
	}
	end, err = parseTimeParam(r, "end", maxTime)
	if err != nil {
		bad := invalidParam(err, "end")
		return start, end, &bad
	}
	return start, end, nil
}

// parseMatchers parses match[] selectors, refusing a selector that would
// match every series, as Prometheus does.
func (s *Store) parseMatchers(selectors []string) ([][]*labels.Matcher, error) {
	sets, err := s.parser.ParseMetricSelectors(selectors)
	if err != nil {
		return nil, err
	}
	for _, ms := range sets {
		if !slices.ContainsFunc(ms, func(m *labels.Matcher) bool { return m != nil && !m.Matches("") }) {
			return nil, errors.New("match[] must contain at least one non-empty matcher")
		}
	}
	return sets, nil
}

// constructionError maps a failure to build a query (a parse error, in
// practice) to Prometheus' answer.
func constructionError(err error) result {
	if _, ok := errors.AsType[promql.ErrQueryTimeout](err); ok {
		return result{err: execError(err)}
	}
	if _, ok := errors.AsType[promql.ErrQueryCanceled](err); ok {
		return result{err: execError(err)}
	}
	return invalidParam(err, "query")
}

// execError maps an evaluation failure to Prometheus' error type.
func execError(err error) *apiError {
	switch {
	case isType[promql.ErrQueryCanceled](err), errors.Is(err, context.Canceled):
		return &apiError{errCanceled, err}
	case isType[promql.ErrQueryTimeout](err), errors.Is(err, context.DeadlineExceeded):
		return &apiError{errTimeout, err}
	case isType[promql.ErrTooManySeries](err), isType[promql.ErrTooManySamplesRead](err):
		return &apiError{errCostLimit, err}
	case isType[promql.ErrStorage](err):
		return &apiError{errInternal, err}
	}
	return &apiError{errExec, err}
}

func isType[E error](err error) bool {
	_, ok := errors.AsType[E](err)
	return ok
}

// statusCode is Prometheus' HTTP status per error type.
func statusCode(typ string) int {
	switch typ {
	case errBadData:
		return http.StatusBadRequest
	case errExec, errCostLimit:
		return http.StatusUnprocessableEntity
	case errCanceled:
		return 499 // Client closed request, as Prometheus answers.
	case errTimeout:
		return http.StatusServiceUnavailable
	default:
		return http.StatusInternalServerError
	}
}

func (s *Store) respond(w http.ResponseWriter, r *http.Request, res result) {
	if res.finalize != nil {
		defer res.finalize()
	}
	e := newEncoder()
	defer e.release()
	code := http.StatusOK
	if res.err != nil {
		code = statusCode(res.err.typ)
		e.errorResponse(res.err.typ, res.err.err.Error())
	} else {
		warnings, infos := res.warnings.AsStrings(res.query, 10, 10)
		e.successResponse(res.data, warnings, infos)
	}
	body, err := e.bytes()
	if err != nil {
		s.logger.Error("promstore: encoding response", "url", r.URL.String(), "err", err)
		http.Error(w, err.Error(), http.StatusInternalServerError)
		return
	}
	w.Header().Set("Content-Type", "application/json")
	w.WriteHeader(code)
	if _, err := w.Write(body); err != nil {
		s.logger.Debug("promstore: writing response", "url", r.URL.String(), "err", err)
	}
}
