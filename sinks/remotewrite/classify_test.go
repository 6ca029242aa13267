package remotewrite

import (
	"testing"
	"time"
)

func TestParseRetryAfter(t *testing.T) {
	now := time.Date(2025, 10, 21, 7, 28, 0, 0, time.UTC)
	for _, tc := range []struct {
		in     string
		want   time.Duration
		wantOK bool
	}{
		{in: "0", want: 0, wantOK: true},
		{in: "120", want: 2 * time.Minute, wantOK: true},
		{in: " 7 ", want: 7 * time.Second, wantOK: true},
		{in: "Tue, 21 Oct 2025 07:28:30 GMT", want: 30 * time.Second, wantOK: true},
		{in: "Tuesday, 21-Oct-25 07:29:00 GMT", want: time.Minute, wantOK: true}, // RFC 850
		{in: "Tue Oct 21 07:28:05 2025", want: 5 * time.Second, wantOK: true},    // asctime
		{in: "Tue, 21 Oct 2025 07:00:00 GMT", want: 0, wantOK: true},             // in the past
		{in: ""},
		{in: "-1"},
		{in: "1.5"},
		{in: "10s"},
		{in: "99999999999"},
		{in: "soon"},
		{in: "Tue, 32 Oct 2025 07:28:30 GMT"},
	} {
		got, ok := parseRetryAfter(tc.in, now)
		if got != tc.want || ok != tc.wantOK {
			t.Errorf("parseRetryAfter(%q) = %v, %v; want %v, %v", tc.in, got, ok, tc.want, tc.wantOK)
		}
	}
}

func FuzzParseRetryAfter(f *testing.F) {
	for _, s := range []string{"0", "120", "Tue, 21 Oct 2025 07:28:30 GMT", "-1", ""} {
		f.Add(s)
	}
	now := time.Date(2025, 10, 21, 7, 28, 0, 0, time.UTC)
	f.Fuzz(func(t *testing.T, s string) {
		d, ok := parseRetryAfter(s, now)
		if d < 0 {
			t.Errorf("parseRetryAfter(%q) = %v, negative", s, d)
		}
		if !ok && d != 0 {
			t.Errorf("parseRetryAfter(%q) = %v with ok=false", s, d)
		}
	})
}

func TestSampleReason(t *testing.T) {
	for _, tc := range []struct{ body, want string }{
		// Prometheus' write handler answers 400 with the storage error.
		{"out of order sample", reasonOutOfOrder},
		{"duplicate sample for timestamp", reasonDuplicate},
		{"duplicate sample for timestamp 1000; overrides not allowed: existing 1, new value 2", reasonDuplicate},
		{"out of bounds", reasonTooOld},
		{"too old sample", reasonTooOld},
		// Mimir names its refusals with IDs.
		{"the sample has been rejected because another sample with a more recent timestamp has already been ingested and out-of-order samples are not allowed (err-mimir-sample-out-of-order)", reasonOutOfOrder},
		{"err-mimir-sample-duplicate-timestamp", reasonDuplicate},
		{"received a sample whose timestamp is too far in the past (err-mimir-sample-timestamp-too-old)", reasonTooOld},
		{"Out Of Order Sample", reasonOutOfOrder},
		{"snappy: corrupt input", reasonRejected},
		{"", reasonRejected},
	} {
		if got := sampleReason([]byte(tc.body)); got != tc.want {
			t.Errorf("sampleReason(%q) = %q, want %q", tc.body, got, tc.want)
		}
	}
}
