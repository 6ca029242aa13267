package ingest

import "testing"

func TestSanitize(t *testing.T) {
	names := nameCache{}
	for _, tc := range []struct {
		in, label, metric string
	}{
		{"http_method", "http_method", "http_method"},
		{"http.method", "http_method", "http_method"},
		{"http.server.request.duration", "http_server_request_duration", "http_server_request_duration"},
		{"ns:sub", "ns_sub", "ns:sub"},
		{"2xx", "_2xx", "_2xx"},
		{"küche", "k_che", "k_che"},
		{"a-b/c d", "a_b_c_d", "a_b_c_d"},
		{"", "_", "_"},
	} {
		if got := names.label(tc.in); got != tc.label {
			t.Errorf("label(%q) = %q, want %q", tc.in, got, tc.label)
		}
		if got := names.metric(tc.in); got != tc.metric {
			t.Errorf("metric(%q) = %q, want %q", tc.in, got, tc.metric)
		}
	}
	if got := names.label("http.method"); got != "http_method" {
		t.Errorf("cached label(http.method) = %q", got)
	}
}

func TestNameCacheBounded(t *testing.T) {
	names := nameCache{}
	for i := 0; i < 2*maxNameCache; i++ {
		names.label("k." + string(rune('a'+i%26)) + string(rune(i)))
	}
	if len(names) > maxNameCache {
		t.Fatalf("name cache holds %d entries, bound is %d", len(names), maxNameCache)
	}
}
