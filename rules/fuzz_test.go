package rules

import (
	"errors"
	"os"
	"testing"
)

func FuzzParse(f *testing.F) {
	for _, p := range []string{exampleFile, testdataDir + "/bad-rules.yaml", testdataDir + "/bad-syntax.yaml"} {
		data, err := os.ReadFile(p)
		if err != nil {
			f.Fatal(err)
		}
		f.Add(data)
	}
	f.Add([]byte(matchRules))
	f.Add([]byte(defaultRules))
	f.Add([]byte("drop: &a\n  - {name: d, match: m}\nrollup: *a\n"))
	f.Add([]byte("spans: {dimensions: [a], services: {s: {dimensions: [b]}}, forbidden: [c]}\n"))
	f.Fuzz(func(t *testing.T, data []byte) {
		s, err := Parse("f.yaml", data)
		if err != nil {
			var errs Errors
			if !errors.As(err, &errs) || len(errs) == 0 || s != nil {
				t.Fatalf("Parse: set %v, error %T %v; want nil and non-empty Errors", s, err, err)
			}
			for _, e := range errs {
				if e.File != "f.yaml" || e.Line < 0 || e.Col < 0 || e.Msg == "" {
					t.Fatalf("malformed error %+v", e)
				}
			}
			return
		}
		again, err := Parse("f.yaml", data)
		if err != nil {
			t.Fatalf("second Parse of the same bytes failed: %v", err)
		}
		a, b := s.Rules(), again.Rules()
		for i := range a {
			if a[i].Fingerprint != b[i].Fingerprint {
				t.Fatalf("rule %s: fingerprint not deterministic", a[i].Name)
			}
		}
		for _, in := range [][]string{{"__name__", "m"}, {"__name__", "debug_x", "env", "dev"}, {"job", "api"}} {
			m := s.Match(lbls(in...))
			if m.Drop != "" && (len(m.Outputs) != 0 || m.KeepOriginal) {
				t.Fatalf("dropped series has outputs: %+v", m)
			}
		}
	})
}

func FuzzParseStoragePolicy(f *testing.F) {
	for _, s := range []string{"10s:2d", "1m:40d", "1h30m:1y", "500ms:1h", "0:1d", "1h:30m"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		p, err := ParseStoragePolicy(s)
		if err != nil {
			return
		}
		if p.Resolution <= 0 || p.Retention < p.Resolution {
			t.Fatalf("ParseStoragePolicy(%q) = %+v accepted", s, p)
		}
		back, err := ParseStoragePolicy(p.String())
		if err != nil || back != p {
			t.Fatalf("ParseStoragePolicy(%q).String() = %q reads back as %+v, %v", s, p.String(), back, err)
		}
	})
}
