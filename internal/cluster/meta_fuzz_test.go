package cluster

import (
	"strconv"
	"strings"
	"testing"
)

// FuzzParseCommitMeta: offset-commit metadata (read back from the broker,
// where any client of the group may have written it) is either weir's own,
// whose time survives a round trip, or refused.
func FuzzParseCommitMeta(f *testing.F) {
	for _, s := range []string{"", "weir1 0", "weir1 -1700000000000", "weir1 9223372036854775807", "weir1 9223372036854775808",
		"weir1 ", "weir1 +3", "weir2 5", "weir15", "kafka-streams"} {
		f.Add(s, int64(len(s)))
	}
	f.Fuzz(func(t *testing.T, s string, at int64) {
		if got, ok := parseCommitMeta(commitMeta(at)); !ok || got != at {
			t.Fatalf("commitMeta(%d) = %q reads back as %d, %v", at, commitMeta(at), got, ok)
		}
		got, ok := parseCommitMeta(s)
		if !ok {
			return
		}
		rest, prefixed := strings.CutPrefix(s, "weir1 ")
		if want, err := strconv.ParseInt(rest, 10, 64); !prefixed || err != nil || want != got {
			t.Fatalf("parseCommitMeta(%q) = %d, want it refused or %d", s, got, want)
		}
	})
}
