package e2e

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"sync"
)

// jaegerTrace is what Jaeger returned for one trace ID.
type jaegerTrace struct {
	// Found is false when Jaeger answered 404.
	Found bool
	// Spans are the span IDs (lowercase hex) of /api/traces/{id}: the query
	// service's view, after its adjusters (which remove identical spans).
	Spans []string
	// RawSpans are the span IDs of /api/v3/traces/{id}?raw_traces=true: the
	// spans as stored, duplicates included.
	RawSpans []string
}

// getJaegerTraces fetches every trace of ids (lowercase hex) from a Jaeger
// query service, with a few requests in flight.
func getJaegerTraces(ctx context.Context, queryURL string, ids []string) (map[string]jaegerTrace, error) {
	out := make(map[string]jaegerTrace, len(ids))
	var mu sync.Mutex
	var firstErr error
	work := make(chan string)
	var wg sync.WaitGroup
	for range 4 {
		wg.Go(func() {
			for id := range work {
				tr, err := getJaegerTrace(ctx, queryURL, id)
				mu.Lock()
				if err != nil && firstErr == nil {
					firstErr = err
				}
				out[id] = tr
				mu.Unlock()
			}
		})
	}
	for _, id := range ids {
		work <- id
	}
	close(work)
	wg.Wait()
	return out, firstErr
}

func getJaegerTrace(ctx context.Context, queryURL, id string) (jaegerTrace, error) {
	var tr jaegerTrace
	var v1 struct {
		Data []struct {
			Spans []struct {
				SpanID string `json:"spanID"`
			} `json:"spans"`
		} `json:"data"`
	}
	found, err := getJSON(ctx, queryURL+"/api/traces/"+id, &v1)
	if err != nil || !found {
		return tr, err
	}
	tr.Found = true
	for _, d := range v1.Data {
		for _, s := range d.Spans {
			tr.Spans = append(tr.Spans, s.SpanID)
		}
	}
	var v3 struct {
		Result struct {
			ResourceSpans []struct {
				ScopeSpans []struct {
					Spans []struct {
						SpanID string `json:"spanId"`
					} `json:"spans"`
				} `json:"scopeSpans"`
			} `json:"resourceSpans"`
		} `json:"result"`
	}
	found, err = getJSON(ctx, queryURL+"/api/v3/traces/"+id+"?raw_traces=true", &v3)
	if err != nil {
		return tr, err
	}
	if !found {
		return tr, fmt.Errorf("jaeger: trace %s found by /api/traces but not by /api/v3/traces", id)
	}
	for _, rs := range v3.Result.ResourceSpans {
		for _, ss := range rs.ScopeSpans {
			for _, s := range ss.Spans {
				tr.RawSpans = append(tr.RawSpans, s.SpanID)
			}
		}
	}
	return tr, nil
}

// getJSON decodes the answer of url into v; a 404 is reported as not found.
func getJSON(ctx context.Context, url string, v any) (bool, error) {
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, url, nil)
	if err != nil {
		return false, err
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		return false, fmt.Errorf("jaeger: GET %s: %w", url, err)
	}
	defer resp.Body.Close()
	b, err := io.ReadAll(resp.Body)
	if err != nil {
		return false, fmt.Errorf("jaeger: GET %s: %w", url, err)
	}
	switch resp.StatusCode {
	case http.StatusOK:
	case http.StatusNotFound:
		return false, nil
	default:
		return false, fmt.Errorf("jaeger: GET %s: %s: %.200s", url, resp.Status, b)
	}
	if err := json.Unmarshal(b, v); err != nil {
		return false, fmt.Errorf("jaeger: GET %s: %w in %.200s", url, err, b)
	}
	return true, nil
}
