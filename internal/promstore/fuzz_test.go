package promstore

import (
	"context"
	"encoding/json"
	"math"
	"net/http"
	"net/http/httptest"
	"net/url"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/prometheus/prometheus/prompb"
)

// FuzzParseTime feeds the time parser what a client may send as time, start
// or end: it must never panic, and Unix seconds must come back unchanged at
// millisecond precision.
func FuzzParseTime(f *testing.F) {
	for _, s := range []string{"1700000000", "1700000000.123", "-1.5", "2023-11-14T22:13:20Z",
		"2023-11-14T22:13:20.123+01:00", minTimeFormatted, maxTimeFormatted, "NaN", "1e400", "", "now"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		got, err := parseTime(s)
		if err != nil {
			return
		}
		if v, ferr := strconv.ParseFloat(s, 64); ferr == nil && math.Abs(v) < 1e12 {
			if want := int64(math.Round(v * 1000)); got.UnixMilli() != want {
				t.Errorf("parseTime(%q) = %d ms, want %d", s, got.UnixMilli(), want)
			}
		}
	})
}

// FuzzParseDuration feeds the duration parser what a client may send as
// step: it must never panic, and what it accepts as seconds it must read as
// seconds.
func FuzzParseDuration(f *testing.F) {
	for _, s := range []string{"15s", "1m30s", "10", "0.001", "-1", "1y", "NaN", "Inf", "9223372036.854775807", "1e10", ""} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		got, err := parseDuration(s)
		if err != nil {
			return
		}
		if v, ferr := strconv.ParseFloat(s, 64); ferr == nil {
			if want := v * float64(time.Second); math.Abs(float64(got)-want) > math.Max(1, math.Abs(want)*1e-9) {
				t.Errorf("parseDuration(%q) = %v, want %v ns", s, got, want)
			}
		}
	})
}

// FuzzAPIParams sends every endpoint fuzzed start, end and step (time for an
// instant query) with a fixed query: the answer is Prometheus' envelope,
// 200 "success" or 400 "bad_data" (422 when a query cannot evaluate), never
// a server error; a range query succeeds exactly when its parameters all
// parse, in order, within 11,000 steps.
func FuzzAPIParams(f *testing.F) {
	paths := []string{"/api/v1/query", "/api/v1/query_range", "/api/v1/query_exemplars", "/api/v1/series", "/api/v1/labels", "/api/v1/label/service/values"}
	for i := range paths {
		f.Add(uint8(i), "1700000000", "1700000030.5", "10s")
	}
	f.Add(uint8(1), "2023-11-14T22:13:20Z", "2023-11-14T22:13:20Z", "0.001")
	f.Add(uint8(1), minTimeFormatted, maxTimeFormatted, "1y")
	f.Add(uint8(1), "-1e11", "1e11", "9223372036")
	f.Add(uint8(1), "1700000030", "1700000000", "-1")
	f.Add(uint8(1), "0", "11001", "1")
	f.Add(uint8(2), "", "NaN", "")
	s := openStore(f)
	err := s.Write(context.Background(), []prompb.TimeSeries{withExemplar(
		series(map[string]string{"__name__": "d", "service": "checkout"}, prompb.Sample{Timestamp: base, Value: 1}, prompb.Sample{Timestamp: base + 10_000, Value: 2}),
		"0af7651916cd43dd8448eb211c80319c", "b7ad6b7169203331", 1.5, base+5000)})
	if err != nil {
		f.Fatal(err)
	}
	h := s.Handler()
	f.Fuzz(func(t *testing.T, path uint8, start, end, step string) {
		p := paths[int(path)%len(paths)]
		form := url.Values{"query": {"d"}, "match[]": {`{service="checkout"}`}, "time": {start}, "start": {start}, "end": {end}, "step": {step}}
		req := httptest.NewRequest(http.MethodPost, p, strings.NewReader(form.Encode()))
		req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
		rec := httptest.NewRecorder()
		h.ServeHTTP(rec, req)
		var body struct {
			Status, ErrorType, Error string
		}
		if err := json.Unmarshal(rec.Body.Bytes(), &body); err != nil {
			t.Fatalf("%s %v: %d, not JSON (%v): %s", p, form, rec.Code, err, rec.Body)
		}
		switch {
		case rec.Code == http.StatusOK && body.Status == "success",
			rec.Code == http.StatusBadRequest && body.Status == "error" && body.ErrorType == "bad_data" && body.Error != "",
			rec.Code == http.StatusUnprocessableEntity && body.Status == "error" && body.ErrorType == "execution":
		default:
			t.Fatalf("%s %v: %d %s", p, form, rec.Code, rec.Body)
		}
		if p != "/api/v1/query_range" {
			return
		}
		st, err1 := parseTime(start)
		en, err2 := parseTime(end)
		sp, err3 := parseDuration(step)
		valid := err1 == nil && err2 == nil && err3 == nil && !en.Before(st) && sp > 0 && en.Sub(st)/sp <= maxPointsPerSeries
		if valid != (rec.Code == http.StatusOK) {
			t.Fatalf("%s %v: %d %s; parameters valid: %v", p, form, rec.Code, rec.Body, valid)
		}
	})
}
