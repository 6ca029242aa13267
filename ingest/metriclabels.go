package ingest

import (
	"bytes"
	"encoding/binary"
	"hash/maphash"
	"math"

	"github.com/prometheus/prometheus/model/labels"
	"go.opentelemetry.io/collector/pdata/pcommon"
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
	key  []byte
	lbls labels.Labels
	hash uint64
}

// labels returns the sorted label set of one point and its hash: resource
// labels, then the point's attributes (which win on equal names), then extra
// and __name__.
func (c *MetricConverter) labels(name string, attrs pcommon.Map, extra, extraValue string) (labels.Labels, uint64) {
	lc := &c.lcache
	k := lc.scratch[:0]
	for _, l := range c.res {
		k = appendKeyString(appendKeyString(k, l.name), l.value)
	}
	k = appendKeyString(appendKeyString(appendKeyString(append(k, 0), name), extra), extraValue)
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
			b := byte('f')
			if v.Bool() {
				b = 't'
			}
			k = append(k, 'b', b)
		default:
			k = appendKeyString(append(k, 'o'), v.AsString())
		}
	}
	lc.scratch = k
	h := hashKey(lc, k)
	if e := lc.m[h]; e != nil && bytes.Equal(e.key, k) {
		return e.lbls, e.hash
	}

	c.b.Reset(labels.EmptyLabels())
	for _, l := range c.res {
		c.b.Set(l.name, l.value)
	}
	for key, v := range attrs.All() {
		c.b.Set(c.names.label(key), v.AsString())
	}
	if extra != "" {
		c.b.Set(extra, extraValue)
	}
	c.b.Set(metricNameLabel, name)
	return lc.put(h, k, c.b.Labels())
}

func hashKey(lc *labelCache, k []byte) uint64 { return maphash.Bytes(lc.seed, k) }

// put caches lbls under key k (copied) of hash h, evicting an entry when
// full, and returns them with their hash.
func (lc *labelCache) put(h uint64, k []byte, lbls labels.Labels) (labels.Labels, uint64) {
	e := &cachedLabels{key: bytes.Clone(k), lbls: lbls, hash: lbls.Hash()}
	if len(lc.m) >= lc.max {
		for old := range lc.m {
			delete(lc.m, old)
			break
		}
	}
	lc.m[h] = e
	return e.lbls, e.hash
}

// appendKeyString appends s, length first, so that no two sequences of
// strings make the same key.
func appendKeyString(k []byte, s string) []byte {
	return append(binary.AppendUvarint(k, uint64(len(s))), s...)
}
