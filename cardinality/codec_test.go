package cardinality

import (
	"errors"
	"fmt"
	"slices"
	"testing"

	"github.com/prometheus/prometheus/model/labels"

	"github.com/weirdev/weir/sample"
)

func sampleRecord(t testing.TB) []byte {
	p := New(Config{})
	for i := range 50 {
		p.Observe(&sample.Point{Tenant: "t", Labels: labels.FromStrings("__name__", "m", "a", fmt.Sprint(i%7), "b", "x")}, nil, t0)
	}
	var rec []byte
	p.Records(t0, func(_, _ string, v []byte) { rec = v })
	return rec
}

func TestRecordRoundTrip(t *testing.T) {
	rec := sampleRecord(t)
	m, err := ParseMetric(rec)
	if err != nil {
		t.Fatal(err)
	}
	if m.Tenant != "t" || m.Name != "m" || m.Samples != 50 || m.Series.Estimate() != 7 || len(m.Labels) != 2 || m.Labels["a"].Top.N() != 50 {
		t.Fatalf("decoded %+v", m)
	}
	again, err := ParseMetric(AppendMetric(nil, m))
	if err != nil || again.Series.Estimate() != 7 || !slicesEqual(again.Labels["a"].Top.Top(), m.Labels["a"].Top.Top()) {
		t.Errorf("re-encoded record decodes to %+v, %v", again, err)
	}
	for _, bad := range [][]byte{nil, {2}, rec[:len(rec)-1], append(append([]byte(nil), rec...), 0)} {
		if _, err := ParseMetric(bad); !errors.Is(err, ErrRecord) {
			t.Errorf("ParseMetric(%d bytes) = %v, want ErrRecord", len(bad), err)
		}
	}
}

func FuzzParseMetric(f *testing.F) {
	f.Add(sampleRecord(f))
	f.Add([]byte{1, 0, 0})
	f.Fuzz(func(t *testing.T, b []byte) {
		m, err := ParseMetric(b)
		if err != nil {
			if !errors.Is(err, ErrRecord) {
				t.Fatalf("error %v does not wrap ErrRecord", err)
			}
			return
		}
		// What decodes merges and summarizes without panicking.
		v := NewView()
		v.Add(m)
		v.TSDB("", true, 10)
		Labels(v.Metric(m.Tenant, m.Name), 5)
	})
}

func slicesEqual(a, b []TopItem) bool { return slices.Equal(a, b) }
