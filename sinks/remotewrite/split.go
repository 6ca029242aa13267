package remotewrite

import (
	"hash/maphash"

	"github.com/prometheus/prometheus/prompb"
)

// split cuts a batch into requests of at most q.maxSamples items and says
// which worker each request goes to. The requests share the memory of series.
func (q *Queue) split(series []prompb.TimeSeries) (reqs [][]prompb.TimeSeries, shardOf []int) {
	n := len(q.shards)
	if n == 1 {
		reqs = chunk(series, q.maxSamples, nil)
		return reqs, make([]int, len(reqs))
	}
	groups := make([][]prompb.TimeSeries, n)
	for i := range series {
		s := shardFor(q.seed, series[i].Labels, n)
		groups[s] = append(groups[s], series[i])
	}
	for s, g := range groups {
		before := len(reqs)
		reqs = chunk(g, q.maxSamples, reqs)
		for range reqs[before:] {
			shardOf = append(shardOf, s)
		}
	}
	return reqs, shardOf
}

// shardFor picks a worker by the series' labels, so that one series always
// goes through one worker and its samples stay in order.
func shardFor(seed maphash.Seed, ls []prompb.Label, n int) int {
	var h maphash.Hash
	h.SetSeed(seed)
	for _, l := range ls {
		h.WriteString(l.Name)
		h.WriteByte(0xff)
		h.WriteString(l.Value)
		h.WriteByte(0xff)
	}
	return int(h.Sum64() % uint64(n))
}

// weight is what a series counts against the per-request cap: its samples,
// histogram samples and exemplars, and at least 1 so that empty series cannot
// pile up without bound.
func weight(s *prompb.TimeSeries) int {
	return max(len(s.Samples)+len(s.Histograms)+len(s.Exemplars), 1)
}

// chunk appends to out the requests that series make with at most maxItems
// each. A series that fits in a request is never cut; one bigger than
// maxItems is cut into pieces that keep its labels and sample order.
func chunk(series []prompb.TimeSeries, maxItems int, out [][]prompb.TimeSeries) [][]prompb.TimeSeries {
	total := 0
	for i := range series {
		total += weight(&series[i])
	}
	if total <= maxItems {
		if len(series) > 0 {
			out = append(out, series)
		}
		return out
	}
	var cur []prompb.TimeSeries
	room := maxItems
	emit := func() {
		if len(cur) > 0 {
			out = append(out, cur)
		}
		cur, room = nil, maxItems
	}
	for _, s := range series {
		w := weight(&s)
		if w > room && w <= maxItems {
			emit()
		}
		if w <= room {
			cur = append(cur, s)
			room -= w
			continue
		}
		for w > 0 {
			if room == 0 {
				emit()
			}
			k := min(room, w)
			cur = append(cur, take(&s, k))
			room -= k
			w -= k
		}
	}
	emit()
	return out
}

// take removes up to k items from the front of s (samples first, then
// histograms, then exemplars) and returns them as a series with s's labels.
func take(s *prompb.TimeSeries, k int) prompb.TimeSeries {
	p := prompb.TimeSeries{Labels: s.Labels}
	p.Samples, k = cut(&s.Samples, k)
	p.Histograms, k = cut(&s.Histograms, k)
	p.Exemplars, _ = cut(&s.Exemplars, k)
	return p
}

func cut[T any](s *[]T, k int) ([]T, int) {
	t := min(k, len(*s))
	if t == 0 {
		return nil, k
	}
	p := (*s)[:t:t]
	*s = (*s)[t:]
	return p, k - t
}
