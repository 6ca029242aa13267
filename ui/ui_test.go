package ui

import (
	"encoding/json"
	"fmt"
	"io"
	"math"
	"net/http"
	"net/http/httptest"
	"regexp"
	"strconv"
	"strings"
	"testing"
)

func get(t *testing.T, h http.Handler, method, path string) *http.Response {
	t.Helper()
	rec := httptest.NewRecorder()
	h.ServeHTTP(rec, httptest.NewRequest(method, path, nil))
	return rec.Result()
}

func body(t *testing.T, r *http.Response) string {
	t.Helper()
	b, err := io.ReadAll(r.Body)
	if err != nil {
		t.Fatal(err)
	}
	return string(b)
}

func TestHandlerPaths(t *testing.T) {
	h := Handler(Config{})
	for _, tc := range []struct {
		method, path string
		code         int
		ctype        string // prefix
		contains     string
	}{
		{"GET", "/", 200, "text/html", `<script src="/ui/app.js" defer></script>`},
		{"GET", "/ui/trace.js", 200, "text/javascript", "function render("},
		{"GET", "/ui/chart.js", 200, "text/javascript", "function draw("},
		{"GET", "/index.html", 200, "text/html", `id="waterfall"`},
		{"HEAD", "/", 200, "text/html", ""},
		{"GET", "/ui/app.js", 200, "text/javascript", "function navigate"},
		{"GET", "/ui/style.css", 200, "text/css", "--fg:"},
		{"GET", "/ui/config.json", 200, "application/json", `"jaegerUIURL":"","decisionWaitSeconds":0`},
		{"GET", "/ui/index.html", 404, "text/plain", "no page"},
		{"GET", "/ui/missing.js", 404, "text/plain", "no asset /ui/missing.js"},
		{"GET", "/ui/../ui/app.js", 404, "text/plain", ""},
		{"GET", "/ui/", 404, "text/plain", ""},
		{"GET", "/api/v1/qeury", 404, "text/plain", "the APIs under /api/"},
		{"GET", "/favicon.ico", 404, "text/plain", ""},
		{"POST", "/", 405, "text/plain", "method POST not allowed"},
		{"DELETE", "/ui/app.js", 405, "text/plain", ""},
	} {
		t.Run(tc.method+" "+tc.path, func(t *testing.T) {
			r := get(t, h, tc.method, tc.path)
			b := body(t, r)
			if r.StatusCode != tc.code {
				t.Fatalf("HTTP %d, want %d: %s", r.StatusCode, tc.code, b)
			}
			if ct := r.Header.Get("Content-Type"); !strings.HasPrefix(ct, tc.ctype) {
				t.Errorf("Content-Type %q, want %s", ct, tc.ctype)
			}
			if !strings.Contains(b, tc.contains) {
				t.Errorf("body does not contain %q:\n%.300s", tc.contains, b)
			}
			if tc.method == "HEAD" && b != "" {
				t.Errorf("HEAD answered a body of %d bytes", len(b))
			}
			if tc.code == 405 && r.Header.Get("Allow") != "GET, HEAD" {
				t.Errorf("Allow %q", r.Header.Get("Allow"))
			}
			if tc.code != 405 {
				if csp := r.Header.Get("Content-Security-Policy"); !strings.Contains(csp, "default-src 'none'") || !strings.Contains(csp, "connect-src 'self'") {
					t.Errorf("Content-Security-Policy %q", csp)
				}
				if r.Header.Get("X-Content-Type-Options") != "nosniff" {
					t.Errorf("no X-Content-Type-Options: nosniff")
				}
			}
		})
	}
}

func TestConfigJSON(t *testing.T) {
	for _, tc := range []struct{ in, want string }{
		{"", ""},
		{"http://127.0.0.1:16686", "http://127.0.0.1:16686"},
		{"https://jaeger.example/ui//", "https://jaeger.example/ui"},
		{`http://x/"<script>`, `http://x/"<script>`},
	} {
		r := get(t, Handler(Config{JaegerUIURL: tc.in}), "GET", "/ui/config.json")
		var c struct {
			JaegerUIURL *string `json:"jaegerUIURL"`
		}
		if err := json.NewDecoder(r.Body).Decode(&c); err != nil {
			t.Fatalf("%q: %v", tc.in, err)
		}
		if c.JaegerUIURL == nil || *c.JaegerUIURL != tc.want {
			t.Errorf("JaegerUIURL %q: config.json says %v, want %q", tc.in, c.JaegerUIURL, tc.want)
		}
	}
}

// TestAssetsSelfContained: the page loads nothing from another origin and
// every asset it names is served.
func TestAssetsSelfContained(t *testing.T) {
	h := Handler(Config{})
	index := body(t, get(t, h, "GET", "/"))
	refs := regexp.MustCompile(`(?:src|href)="([^"]*)"`).FindAllStringSubmatch(index, -1)
	if len(refs) < 3 {
		t.Fatalf("index.html names %d assets, want the script, the stylesheet and the icon", len(refs))
	}
	for _, m := range refs {
		ref := m[1]
		switch {
		case strings.HasPrefix(ref, "#"), ref == "data:,":
		case strings.HasPrefix(ref, "/ui/"):
			if r := get(t, h, "GET", ref); r.StatusCode != 200 {
				t.Errorf("index.html names %s: HTTP %d", ref, r.StatusCode)
			}
		default:
			t.Errorf("index.html names %q: not an asset of the page", ref)
		}
	}
	for _, name := range append([]string{"/", "/ui/style.css"}, scripts(t, h)...) {
		b := body(t, get(t, h, "GET", name))
		for _, u := range regexp.MustCompile(`(?:https?:)?//[a-zA-Z0-9.-]+\.[a-z]{2,}[^\s"'`+"`"+`)]*`).FindAllString(b, -1) {
			if u != "http://www.w3.org/2000/svg" {
				t.Errorf("%s refers to another origin: %s", name, u)
			}
		}
		if strings.Contains(b, "innerHTML") || strings.Contains(b, "eval(") {
			t.Errorf("%s uses innerHTML or eval: API text must only ever be set as text", name)
		}
	}
}

// TestScriptFindsItsElements: every element the script looks up by id is in
// the page, so that no control is silently dead.
func TestScriptFindsItsElements(t *testing.T) {
	h := Handler(Config{})
	index := body(t, get(t, h, "GET", "/"))
	js := allScripts(t, h)
	ids := map[string]bool{}
	for _, m := range regexp.MustCompile(`\sid="([^"]+)"`).FindAllStringSubmatch(index, -1) {
		if ids[m[1]] {
			t.Errorf("index.html has id %q twice", m[1])
		}
		ids[m[1]] = true
	}
	used := regexp.MustCompile(`\$\('([^']+)'\)`).FindAllStringSubmatch(js, -1)
	if len(used) < 10 {
		t.Fatalf("the scripts look up %d elements by id; the pattern no longer matches them", len(used))
	}
	for _, m := range used {
		if !ids[m[1]] {
			t.Errorf("a script looks up #%s, which index.html does not have", m[1])
		}
	}
	// Every form control has a label.
	for _, m := range regexp.MustCompile(`<(?:select|input)[^>]*\sid="([^"]+)"`).FindAllStringSubmatch(index, -1) {
		if !strings.Contains(index, `for="`+m[1]+`"`) && !regexp.MustCompile(`<label[^>]*>\s*<input[^>]*id="`+m[1]+`"`).MatchString(index) {
			t.Errorf("control #%s has no label", m[1])
		}
	}
}

// TestContrast checks the colours against WCAG 2.1: text 4.5:1 on its
// backgrounds, chart lines, exemplar points and service bars 3:1 on white.
func TestContrast(t *testing.T) {
	h := Handler(Config{})
	css := body(t, get(t, h, "GET", "/ui/style.css"))
	js := allScripts(t, h)
	vars := map[string]string{}
	for _, m := range regexp.MustCompile(`--([a-z-]+):\s*(#[0-9a-fA-F]{6})`).FindAllStringSubmatch(css, -1) {
		vars[m[1]] = m[2]
	}
	for _, p := range []struct {
		fg, bg string
		min    float64
	}{
		{"fg", "bg", 4.5}, {"fg", "panel", 4.5}, {"muted", "bg", 4.5}, {"muted", "panel", 4.5},
		{"accent", "bg", 4.5}, {"error", "bg", 4.5}, {"error", "error-bg", 4.5}, {"error", "panel", 4.5},
		{"bg", "fg", 4.5},                                             // the tooltip
		{"focus", "bg", 3}, {"focus", "panel", 3}, {"muted", "bg", 3}, // focus ring, control borders
	} {
		fg, bg := vars[p.fg], vars[p.bg]
		if fg == "" || bg == "" {
			t.Errorf("style.css lacks --%s or --%s", p.fg, p.bg)
			continue
		}
		if r := contrast(t, fg, bg); r < p.min {
			t.Errorf("--%s %s on --%s %s: contrast %.2f, want ≥ %v", p.fg, fg, p.bg, bg, r, p.min)
		}
	}
	pal := regexp.MustCompile(`(?s)const PALETTE = \[(.*?)\]`).FindStringSubmatch(js)
	if pal == nil {
		t.Fatal("the scripts have no PALETTE")
	}
	colors := regexp.MustCompile(`#[0-9a-fA-F]{6}`).FindAllString(pal[1], -1)
	if len(colors) < 8 {
		t.Fatalf("PALETTE has %d colours", len(colors))
	}
	for _, c := range colors {
		if r := contrast(t, c, vars["bg"]); r < 3 {
			t.Errorf("palette colour %s on %s: contrast %.2f, want ≥ 3", c, vars["bg"], r)
		}
		if r := contrast(t, c, vars["panel"]); r < 3 {
			t.Errorf("palette colour %s on %s: contrast %.2f, want ≥ 3", c, vars["panel"], r)
		}
	}
}

// scripts returns the paths of the scripts index.html loads, in order.
func scripts(t *testing.T, h http.Handler) []string {
	t.Helper()
	var out []string
	for _, m := range regexp.MustCompile(`<script src="([^"]+)"`).FindAllStringSubmatch(body(t, get(t, h, "GET", "/")), -1) {
		out = append(out, m[1])
	}
	if len(out) == 0 {
		t.Fatal("index.html loads no script")
	}
	return out
}

func allScripts(t *testing.T, h http.Handler) string {
	t.Helper()
	var b strings.Builder
	for _, p := range scripts(t, h) {
		b.WriteString(body(t, get(t, h, "GET", p)))
	}
	return b.String()
}

func contrast(t *testing.T, a, b string) float64 {
	la, lb := luminance(t, a), luminance(t, b)
	return (math.Max(la, lb) + 0.05) / (math.Min(la, lb) + 0.05)
}

func luminance(t *testing.T, hex string) float64 {
	t.Helper()
	v, err := strconv.ParseUint(strings.TrimPrefix(hex, "#"), 16, 32)
	if err != nil || len(hex) != 7 {
		t.Fatalf("colour %q: not #rrggbb", hex)
	}
	ch := func(shift uint) float64 {
		c := float64((v>>shift)&0xff) / 255
		if c <= 0.03928 {
			return c / 12.92
		}
		return math.Pow((c+0.055)/1.055, 2.4)
	}
	return 0.2126*ch(16) + 0.7152*ch(8) + 0.0722*ch(0)
}

func TestLuminance(t *testing.T) {
	for _, tc := range []struct {
		a, b string
		want float64
	}{
		{"#000000", "#ffffff", 21},
		{"#ffffff", "#ffffff", 1},
		{"#767676", "#ffffff", 4.54}, // the lightest grey that passes AA on white
	} {
		if got := contrast(t, tc.a, tc.b); math.Abs(got-tc.want) > 0.01 {
			t.Errorf("contrast(%s, %s) = %.3f, want %v", tc.a, tc.b, got, tc.want)
		}
	}
}

func BenchmarkHandlerIndex(b *testing.B) {
	h := Handler(Config{JaegerUIURL: "http://127.0.0.1:16686"})
	req := httptest.NewRequest("GET", "/", nil)
	b.ReportAllocs()
	for b.Loop() {
		rec := httptest.NewRecorder()
		h.ServeHTTP(rec, req)
		if rec.Code != 200 {
			b.Fatal(fmt.Sprint(rec.Code))
		}
	}
}
