package promstore

import (
	"math"
	"strconv"
	"testing"
	"time"
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
