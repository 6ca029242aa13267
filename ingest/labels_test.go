package ingest

import "testing"

func TestLabelName(t *testing.T) {
	for _, tc := range []struct{ in, want string }{
		{"http_method", "http_method"},
		{"http.route", "http_route"},
		{"2xx", "_2xx"},
		{"küche", "k_che"},
		{"a-b/c d", "a_b_c_d"},
		{"", "_"},
	} {
		if got := LabelName(tc.in); got != tc.want {
			t.Errorf("LabelName(%q) = %q, want %q", tc.in, got, tc.want)
		}
	}
}
