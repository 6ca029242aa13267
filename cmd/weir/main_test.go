package main

import (
	"bytes"
	"context"
	"strings"
	"testing"
)

// Bad command lines are refused with a message and exit code 2, never a
// panic, and stray arguments are not ignored.
func TestBadCommandLines(t *testing.T) {
	for _, tc := range []struct {
		args []string
		want string
	}{
		{[]string{"demo", "extra"}, `unexpected argument "extra"`},
		{[]string{"run", "extra"}, `unexpected argument "extra"`},
		{[]string{"demo", "-trace-rate", "-5"}, "-trace-rate -5: want a positive number"},
		{[]string{"demo", "-trace-rate", "0"}, "-trace-rate 0: want a positive number"},
		{[]string{"demo", "-trace-rate", "x"}, "invalid value"},
		{[]string{"nope"}, `unknown command "nope"`},
	} {
		var out, errb bytes.Buffer
		code := run(context.Background(), tc.args, &out, &errb)
		if code != 2 || !strings.Contains(errb.String(), tc.want) {
			t.Errorf("weir %s: exit %d, stderr %q; want exit 2 saying %q", strings.Join(tc.args, " "), code, errb.String(), tc.want)
		}
	}
}
