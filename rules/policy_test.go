package rules

import (
	"strings"
	"testing"
	"time"
)

func TestParseStoragePolicy(t *testing.T) {
	day := 24 * time.Hour
	for _, tc := range []struct {
		in     string
		want   StoragePolicy
		str    string // String() of the result
		errMsg string
	}{
		{in: "10s:2d", want: StoragePolicy{10 * time.Second, 2 * day}, str: "10s:2d"},
		{in: "1m:40d", want: StoragePolicy{time.Minute, 40 * day}, str: "1m:40d"},
		{in: "1m:1w", want: StoragePolicy{time.Minute, 7 * day}, str: "1m:7d"},
		{in: "1h30m:1y", want: StoragePolicy{90 * time.Minute, 365 * day}, str: "1h30m:365d"},
		{in: "500ms:1h", want: StoragePolicy{500 * time.Millisecond, time.Hour}, str: "500ms:1h"},
		{in: "1m:1m", want: StoragePolicy{time.Minute, time.Minute}, str: "1m:1m"},
		{in: "10s", errMsg: "want resolution:retention"},
		{in: "10s:", errMsg: `bad retention "" in storage policy "10s:": empty duration string`},
		{in: ":2d", errMsg: `bad resolution "" in storage policy ":2d": empty duration string`},
		{in: "10x:2d", errMsg: `bad resolution "10x"`},
		{in: "1.5s:2d", errMsg: `bad resolution "1.5s"`},
		{in: "0:2d", errMsg: "resolution must be positive"},
		{in: "1h:30m", errMsg: "retention 30m is shorter than resolution 1h"},
		{in: "10s:2d:3d", errMsg: `bad retention "2d:3d"`},
	} {
		got, err := ParseStoragePolicy(tc.in)
		switch {
		case tc.errMsg == "" && err != nil:
			t.Errorf("ParseStoragePolicy(%q): %v", tc.in, err)
		case tc.errMsg != "" && (err == nil || !strings.Contains(err.Error(), tc.errMsg)):
			t.Errorf("ParseStoragePolicy(%q) = %v, %v; want error containing %q", tc.in, got, err, tc.errMsg)
		case tc.errMsg == "" && (got != tc.want || got.String() != tc.str):
			t.Errorf("ParseStoragePolicy(%q) = %+v %q, want %+v %q", tc.in, got, got.String(), tc.want, tc.str)
		}
	}
}

func TestFormatDuration(t *testing.T) {
	for d, want := range map[time.Duration]string{
		0:                                  "0s",
		1500 * time.Millisecond:            "1s500ms",
		25 * time.Hour:                     "1d1h",
		-time.Minute:                       "-1m",
		time.Millisecond + time.Nanosecond: "1.000001ms",
	} {
		if got := formatDuration(d); got != want {
			t.Errorf("formatDuration(%v) = %q, want %q", d, got, want)
		}
	}
}
