package rules

import (
	"cmp"
	"fmt"
	"strconv"
	"strings"
	"time"

	"github.com/prometheus/common/model"
)

// StoragePolicy says at which resolution a series is written and how long the
// storage is expected to keep it, as M3's "10s:2d".
type StoragePolicy struct {
	Resolution time.Duration
	Retention  time.Duration
}

// ParseStoragePolicy parses "resolution:retention", each a Prometheus duration
// (model.ParseDuration: 10s, 1m, 2d, 1w, 1h30m). The resolution must be
// positive and the retention at least the resolution.
func ParseStoragePolicy(s string) (StoragePolicy, error) {
	res, ret, ok := strings.Cut(s, ":")
	if !ok {
		return StoragePolicy{}, fmt.Errorf("bad storage policy %q: want resolution:retention, such as 10s:2d", s)
	}
	resD, err := model.ParseDuration(res)
	if err != nil {
		return StoragePolicy{}, fmt.Errorf("bad resolution %q in storage policy %q: %w", res, s, err)
	}
	retD, err := model.ParseDuration(ret)
	if err != nil {
		return StoragePolicy{}, fmt.Errorf("bad retention %q in storage policy %q: %w", ret, s, err)
	}
	p := StoragePolicy{Resolution: time.Duration(resD), Retention: time.Duration(retD)}
	if p.Resolution <= 0 {
		return StoragePolicy{}, fmt.Errorf("bad storage policy %q: resolution must be positive", s)
	}
	if p.Retention < p.Resolution {
		return StoragePolicy{}, fmt.Errorf("bad storage policy %q: retention %s is shorter than resolution %s", s, ret, res)
	}
	return p, nil
}

// String returns "10s:2d", in the form ParseStoragePolicy reads back.
func (p StoragePolicy) String() string {
	return formatDuration(p.Resolution) + ":" + formatDuration(p.Retention)
}

func compareStoragePolicy(a, b StoragePolicy) int {
	return cmp.Or(cmp.Compare(a.Resolution, b.Resolution), cmp.Compare(a.Retention, b.Retention))
}

// formatDuration writes d in days, hours, minutes, seconds and milliseconds.
// model.Duration's String would write 40d as 5w5d, which is correct but not
// what anyone typed.
func formatDuration(d time.Duration) string {
	if d == 0 {
		return "0s"
	}
	orig := d
	var b []byte
	if d < 0 {
		b = append(b, '-')
		d = -d
	}
	for _, u := range [...]struct {
		name string
		d    time.Duration
	}{{"d", 24 * time.Hour}, {"h", time.Hour}, {"m", time.Minute}, {"s", time.Second}, {"ms", time.Millisecond}} {
		if n := d / u.d; n > 0 {
			b = strconv.AppendInt(b, int64(n), 10)
			b = append(b, u.name...)
			d -= n * u.d
		}
	}
	if d > 0 { // a fraction of a millisecond: no Prometheus duration spells it
		return orig.String()
	}
	return string(b)
}
