package ingest

import (
	"bytes"
	"encoding/binary"
	"hash/maphash"
	"math"
	"slices"
	"strings"

	"github.com/prometheus/prometheus/model/labels"
	"go.opentelemetry.io/collector/pdata/pcommon"

	"github.com/weirdev/weir/sample"
)

// maxMetricLabels bounds a MetricConverter's label cache (an entry costs its
// key, about the size of the series' attributes, and some 100 bytes; the
// labels are shared with the points). Past it one entry is evicted per new
// series (Go's map iteration picks it at random), so a partition of more
// series than this still hits for the share that fits.
const maxMetricLabels = 1 << 16

// labelCache maps what a point's labels are built from (the resource labels,
// the name, the extra label and the attributes, in order) to the labels and
// their hash: a series seen before costs a key built in a scratch buffer, a
// hash and a compare, not a labels.Builder pass, a sort and an allocation.
type labelCache struct {
	seed    maphash.Seed
	scratch []byte
	m       map[uint64]*cachedLabels
	max     int // maxMetricLabels; tests lower it.
}

type cachedLabels struct {
	key    []byte
	lbls   labels.Labels
	hash   uint64
	series sample.Series
}

// labels returns the cached sorted label set of one point: the point's
// attributes, the promoted resource labels they do not name, job and
// instance, extra and __name__.
func (c *MetricConverter) labels(name string, attrs pcommon.Map, extra, extraValue string) *cachedLabels {
	k := c.keyHead(name, extra, extraValue)
	for key, v := range attrs.All() {
		k = appendKeyString(k, key)
		switch v.Type() {
		case pcommon.ValueTypeStr:
			k = appendKeyString(append(k, 's'), v.Str())
		case pcommon.ValueTypeInt:
			k = binary.LittleEndian.AppendUint64(append(k, 'i'), uint64(v.Int()))
		case pcommon.ValueTypeDouble:
			k = binary.LittleEndian.AppendUint64(append(k, 'd'), math.Float64bits(v.Double()))
		case pcommon.ValueTypeBool:
			k = appendKeyBool(k, v.Bool())
		default:
			k = appendKeyString(append(k, 'o'), v.AsString())
		}
	}
	e, h := c.lcache.cached(k)
	if e != nil {
		return e
	}
	for key, v := range attrs.All() {
		c.attrs = append(c.attrs, attrLabel{key, c.labelName(key), v.AsString()})
	}
	return c.build(h, k, name, extra, extraValue)
}

// keyHead starts the cache key of a label set in the scratch buffer: the
// resource labels, the name and the extra label.
func (c *MetricConverter) keyHead(name, extra, extraValue string) []byte {
	k := c.lcache.scratch[:0]
	for _, l := range c.res {
		k = appendKeyBool(appendKeyString(appendKeyString(k, l.name), l.value), l.identifying)
	}
	k = appendKeyBool(k, c.prom) // Attribute keys are named otherwise.
	return appendKeyString(appendKeyString(appendKeyString(append(k, 0), name), extra), extraValue)
}

// labelName is the label name of attribute key key of the metric being
// converted (never a view into a record).
func (c *MetricConverter) labelName(key string) string {
	if c.prom {
		return strings.Clone(key)
	}
	return c.names.label(key)
}

// cached returns the entry cached under key k (nil if none) and k's hash.
func (lc *labelCache) cached(k []byte) (*cachedLabels, uint64) {
	lc.scratch = k
	h := maphash.Bytes(lc.seed, k)
	if e := lc.m[h]; e != nil && bytes.Equal(e.key, k) {
		return e, h
	}
	return nil, h
}

// attrLabel is a point attribute: its key, label name and value.
type attrLabel struct{ key, name, value string }

// build makes the label set of key k (hash h) from c.attrs (which it
// empties), caches it and returns its entry, in Prometheus' order: the
// attributes (values of keys that name the same label joined with ';', in
// key order), the promoted resource labels they do not name, job and
// instance, extra, __name__.
func (c *MetricConverter) build(h uint64, k []byte, name, extra, extraValue string) *cachedLabels {
	c.b.Reset(labels.EmptyLabels())
	if len(c.attrs) > 1 {
		slices.SortStableFunc(c.attrs, func(a, b attrLabel) int { return strings.Compare(a.key, b.key) })
	}
	for _, a := range c.attrs {
		if old := c.b.Get(a.name); old != "" {
			c.b.Set(a.name, old+";"+a.value)
		} else {
			c.b.Set(a.name, a.value)
		}
	}
	clear(c.attrs)
	c.attrs = c.attrs[:0]
	for _, l := range c.res {
		if !l.identifying && c.b.Get(l.name) == "" {
			c.b.Set(l.name, l.value)
		}
	}
	for _, l := range c.res {
		if l.identifying {
			c.b.Set(l.name, l.value)
		}
	}
	if extra != "" {
		c.b.Set(extra, extraValue)
	}
	c.b.Set(metricNameLabel, name)
	return c.lcache.put(h, k, c.b.Labels())
}

func appendKeyBool(k []byte, v bool) []byte {
	if v {
		return append(k, 'b', 't')
	}
	return append(k, 'b', 'f')
}

// put caches lbls under key k (copied) of hash h, evicting an entry when
// full, and returns the entry.
func (lc *labelCache) put(h uint64, k []byte, lbls labels.Labels) *cachedLabels {
	e := &cachedLabels{key: bytes.Clone(k), lbls: lbls, hash: lbls.Hash()}
	if len(lc.m) >= lc.max {
		for old := range lc.m {
			delete(lc.m, old)
			break
		}
	}
	lc.m[h] = e
	return e
}

// appendKeyString appends s, length first, so that no two sequences of
// strings make the same key.
func appendKeyString(k []byte, s string) []byte {
	return append(binary.AppendUvarint(k, uint64(len(s))), s...)
}
