package remotewrite

import (
	"hash/maphash"
	"slices"

	"github.com/prometheus/prometheus/prompb"
)

// request is one HTTP request's worth of series, of one tenant.
type request struct {
	series []prompb.TimeSeries
	tenant string // the tenant header's value; "" sends none
	weight int    // what the series count against maxSamples
}

// placed is a request and the shard it goes to.
type placed struct {
	request
	shard int
}

// split cuts a batch into requests of at most maxSamples items, one tenant
// each, and says which shard each goes to. The requests share the memory of
// series.
func (c *Client) split(series []prompb.TimeSeries) []placed {
	n := c.q.Shards()
	if n == 1 && c.cfg.tenantLabel == "" {
		return place(chunk(series, c.cfg.maxSamples, ""), 0, nil)
	}
	type key struct {
		shard  int
		tenant string
	}
	var order []key // first appearance, so that the requests come out in a stable order
	groups := map[key][]prompb.TimeSeries{}
	for i := range series {
		k := key{shard: shardFor(c.seed, series[i].Labels, n), tenant: c.tenantOf(series[i].Labels)}
		if _, ok := groups[k]; !ok {
			order = append(order, k)
		}
		groups[k] = append(groups[k], series[i])
	}
	var out []placed
	for _, k := range order {
		out = place(chunk(groups[k], c.cfg.maxSamples, k.tenant), k.shard, out)
	}
	return out
}

func place(reqs []request, shard int, out []placed) []placed {
	for _, r := range reqs {
		out = append(out, placed{request: r, shard: shard})
	}
	return out
}

func (c *Client) tenantOf(ls []prompb.Label) string {
	if c.cfg.tenantLabel == "" {
		return ""
	}
	for _, l := range ls {
		if l.Name == c.cfg.tenantLabel {
			return l.Value
		}
	}
	return ""
}

// shardFor picks a shard by the series' labels, so that one series always
// goes through one shard and its samples stay in order.
func shardFor(seed maphash.Seed, ls []prompb.Label, n int) int {
	if n == 1 {
		return 0
	}
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

// merge joins two requests of a shard when they have the same tenant and
// fit in one (for batching; see WithBatchSendDeadline). It copies: both
// share memory with the callers' batches.
func (c *Client) merge(held, next request) (request, bool) {
	if held.tenant != next.tenant || held.weight+next.weight > c.cfg.maxSamples {
		return request{}, false
	}
	return request{series: slices.Concat(held.series, next.series), tenant: held.tenant, weight: held.weight + next.weight}, true
}

func (c *Client) full(r request) bool { return r.weight >= c.cfg.maxSamples }

// halves splits a request that the receiver refused as a whole into pieces
// of at most half its weight, in order.
func halves(r request) []request {
	return chunk(r.series, (r.weight+1)/2, r.tenant)
}

// weight is what a series counts against the per-request cap: its samples,
// histogram samples and exemplars, and at least 1 so that empty series cannot
// pile up without bound.
func weight(s *prompb.TimeSeries) int {
	return max(len(s.Samples)+len(s.Histograms)+len(s.Exemplars), 1)
}

// chunk returns the requests that series make with at most maxItems each. A
// series that fits in a request is never cut; one bigger than maxItems is
// cut into pieces that keep its labels and sample order.
func chunk(series []prompb.TimeSeries, maxItems int, tenant string) []request {
	total := 0
	for i := range series {
		total += weight(&series[i])
	}
	if total <= maxItems {
		if len(series) == 0 {
			return nil
		}
		return []request{{series: series, tenant: tenant, weight: total}}
	}
	var out []request
	var cur []prompb.TimeSeries
	room := maxItems
	emit := func() {
		if len(cur) > 0 {
			out = append(out, request{series: cur, tenant: tenant, weight: maxItems - room})
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
