package cardinality

import (
	"encoding/json"
	"net/http"
	"strconv"
)

// Paths the handler serves.
const (
	TSDBPath        = "/api/v1/status/tsdb"
	CardinalityPath = "/api/v1/cardinality"
)

// Source returns a view of the group's current profiles.
type Source func() (*View, error)

// Handler serves a Source's view: TSDBPath in the shape of Prometheus'
// /api/v1/status/tsdb (parameters limit, default 10, and tenant), and
// CardinalityPath:
//
//	?tenant=T                     metrics, most series first (sort=samples: most samples/s)
//	?tenant=T&metric=M            M's series, rates and labels, most distinct values first, with top values
//	?tenant=T&metric=M&label=L    L's figures with every top value kept
//
// A missing tenant parameter means every tenant in the first two; the empty
// tenant is tenant= given empty. Answers are Prometheus' JSON envelope; a
// view that cannot be had answers 503 with the reason.
func Handler(src Source) http.Handler {
	mux := http.NewServeMux()
	mux.HandleFunc(TSDBPath, func(w http.ResponseWriter, r *http.Request) {
		v, ok := view(w, src)
		if !ok {
			return
		}
		q := r.URL.Query()
		limit := 10
		if s := q.Get("limit"); s != "" {
			n, err := strconv.Atoi(s)
			if err != nil || n < 0 {
				fail(w, http.StatusBadRequest, "bad_data", "limit "+strconv.Quote(s)+" is not a non-negative integer")
				return
			}
			limit = n
		}
		_, has := q["tenant"]
		reply(w, v.TSDB(q.Get("tenant"), !has, limit))
	})
	mux.HandleFunc(CardinalityPath, func(w http.ResponseWriter, r *http.Request) {
		v, ok := view(w, src)
		if !ok {
			return
		}
		q := r.URL.Query()
		tenant, metric, label := q.Get("tenant"), q.Get("metric"), q.Get("label")
		_, has := q["tenant"]
		if metric == "" {
			if label != "" {
				fail(w, http.StatusBadRequest, "bad_data", "label without metric: name the metric")
				return
			}
			reply(w, map[string]any{"metrics": v.Metrics(tenant, !has, q.Get("sort") == "samples"), "stdErrorSeries": StdError(false), "stdErrorValues": StdError(true)})
			return
		}
		m := v.Metric(tenant, metric)
		if m == nil {
			fail(w, http.StatusNotFound, "not_found", "no profile of metric "+strconv.Quote(metric)+" of tenant "+strconv.Quote(tenant))
			return
		}
		out := map[string]any{
			"tenant": tenant, "metric": metric, "series": m.Series.Estimate(), "samplesPerSecond": m.SamplesPerSecond(),
			"outputSeries": m.Outputs.Estimate(), "start": m.Start, "end": m.End,
			"stdErrorSeries": StdError(false), "stdErrorValues": StdError(true),
		}
		if label == "" {
			out["labels"] = Labels(m, 10)
		} else {
			l := m.Labels[label]
			if l == nil {
				fail(w, http.StatusNotFound, "not_found", "metric "+strconv.Quote(metric)+" has no label "+strconv.Quote(label))
				return
			}
			out["label"] = labelSummary(label, l, max(m.Series.Estimate(), 1), 0)
		}
		reply(w, out)
	})
	return mux
}

func view(w http.ResponseWriter, src Source) (*View, bool) {
	v, err := src()
	if err != nil {
		fail(w, http.StatusServiceUnavailable, "unavailable", err.Error())
		return nil, false
	}
	return v, true
}

func reply(w http.ResponseWriter, data any) {
	w.Header().Set("Content-Type", "application/json")
	_ = json.NewEncoder(w).Encode(map[string]any{"status": "success", "data": data})
}

func fail(w http.ResponseWriter, code int, typ, msg string) {
	w.Header().Set("Content-Type", "application/json")
	w.WriteHeader(code)
	_ = json.NewEncoder(w).Encode(map[string]any{"status": "error", "errorType": typ, "error": msg})
}
