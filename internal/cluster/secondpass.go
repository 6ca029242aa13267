package cluster

import (
	"context"
	"errors"
	"strconv"
	"sync"
	"time"

	"github.com/twmb/franz-go/pkg/kadm"
	"github.com/twmb/franz-go/pkg/kgo"

	"github.com/weirdev/weir/pipeline"
)

// Read-ahead bounds of the second pass: what it may hold of records not due
// yet, per partition and in all.
const (
	secondPassPartitionBytes = 1 << 20
	secondPassFetchBytes     = 8 << 20
)

// secondPass reads the spans partitions stage 1 owns a second time, a
// decision wait behind the records' timestamps, and exports their kept
// traces (pipeline.Traces). Its position per partition is committed for the
// group Group+".traces", which has no members (the partitions follow stage
// 1's assignment), only once the trace sink acknowledged everything before
// it: a crash, a rebalance or a trace backend outage delays traces, never
// loses them (a trace exported twice has the same span IDs: trace backends
// store it once). Its memory is the records fetched and not due yet (one
// fetch per partition) and the keep sets.
type secondPass struct {
	cfg    Config
	traces *pipeline.Traces
	keeps  *keepSets
	dec    *decisions
	m      *metrics
	cl     *kgo.Client
	adm    *kadm.Client

	mu      sync.Mutex
	pending map[int32]*passPart // assigned, waiting for their decisions
	parts   map[int32]*passPart // being read (run's goroutine only)
	revoked []int32
}

type passPart struct {
	start int64 // the first offset to read
	ready <-chan struct{}
	held  []*kgo.Record // fetched, not due yet
	// next is the offset after the last record exported or skipped, nextAt
	// the timestamp of the first record not yet exported; dirty says they
	// moved since the last commit.
	next   int64
	nextAt time.Time
	dirty  bool
	paused bool
}

func newSecondPass(cfg Config, traces *pipeline.Traces, keeps *keepSets, dec *decisions, m *metrics) (*secondPass, error) {
	cl, err := cfg.Client.New(
		kgo.FetchIsolationLevel(kgo.ReadCommitted()),
		kgo.FetchMaxPartitionBytes(secondPassPartitionBytes),
		kgo.FetchMaxBytes(secondPassFetchBytes),
		kgo.MaxConcurrentFetches(1),
	)
	if err != nil {
		return nil, err
	}
	return &secondPass{cfg: cfg, traces: traces, keeps: keeps, dec: dec, m: m, cl: cl, adm: kadm.NewClient(cl),
		pending: map[int32]*passPart{}, parts: map[int32]*passPart{}}, nil
}

func (s *secondPass) group() string { return s.cfg.Group + ".traces" }

// assign starts the second pass of newly owned spans partitions: from its
// own committed position, else from where stage 1 starts (starts). It is
// called from stage 1's rebalance callback and returns at once; reading
// begins once the partitions' decisions are read up to their end at
// assignment.
func (s *secondPass) assign(_ context.Context, starts map[int32]int64) {
	s.mu.Lock()
	defer s.mu.Unlock()
	for p, at := range starts {
		s.pending[p] = &passPart{start: at, next: -1}
	}
}

// init reads the committed positions of newly assigned partitions and
// starts reading their decisions.
func (s *secondPass) init(ctx context.Context, fresh map[int32]*passPart) {
	c, err := fetchCommitted(ctx, s.cl, s.group(), s.cfg.SpansTopic)
	if err != nil {
		s.cfg.Logger.Warn("second pass: cannot read its committed positions; starting where stage 1 does", "err", err)
	}
	now := time.Now()
	since := map[int32]time.Time{}
	mine := kadm.Offsets{}
	for p, pp := range fresh {
		since[p] = now
		if cp, ok := c[p]; ok && cp.offset >= 0 {
			pp.start = cp.offset
			if cp.hasMeta {
				since[p] = time.UnixMilli(cp.meta)
			}
			continue
		}
		// The pass starts where stage 1 resumes, and says so at once:
		// stage 1 moves on, and the next owner must start here too.
		mine.Add(kadm.Offset{Topic: s.cfg.SpansTopic, Partition: p, At: pp.start, LeaderEpoch: -1, Metadata: commitMeta(now.UnixMilli())})
	}
	if len(mine) > 0 {
		if resp, err := s.adm.CommitOffsets(ctx, s.group(), mine); err != nil || resp.Error() != nil {
			s.cfg.Logger.Warn("second pass: cannot commit its start positions", "err", errors.Join(err, resp.Error()))
		}
	}
	for p, ch := range s.dec.assign(ctx, since) {
		fresh[p].ready = ch
	}
}

// revoke stops the second pass of partitions stage 1 no longer owns; the run
// loop commits what it exported of them.
func (s *secondPass) revoke(parts []int32) {
	s.mu.Lock()
	defer s.mu.Unlock()
	for _, p := range parts {
		delete(s.pending, p)
		s.revoked = append(s.revoked, p)
	}
	s.dec.revoke(parts)
}

// sync ends the revoked partitions, committing what was exported of them,
// and starts the partitions whose decisions caught up. The revoked go
// first: a partition revoked and assigned again (an eager rebalance) is
// committed from its old reading before its new one reads the committed
// position.
func (s *secondPass) sync(ctx context.Context) {
	s.mu.Lock()
	revoked := s.revoked
	s.revoked = nil
	again := map[int32]bool{}
	for _, p := range revoked {
		_, again[p] = s.pending[p]
	}
	s.mu.Unlock()
	if len(revoked) > 0 {
		tp := map[string][]int32{s.cfg.SpansTopic: revoked}
		s.cl.RemoveConsumePartitions(tp)
		// The client keeps a partition's pause until it is resumed, removal
		// and a later add included, while the partition's next reading
		// starts unpaused: left paused, it would never be fetched again and
		// its kept traces never exported.
		s.cl.ResumeFetchPartitions(tp)
		s.flushAndCommit(ctx, revoked)
		for _, p := range revoked {
			delete(s.parts, p)
			s.m.secondLag.DeleteLabelValues(strconv.Itoa(int(p)))
			if !again[p] {
				s.keeps.drop(p)
			}
		}
	}
	s.mu.Lock()
	fresh := map[int32]*passPart{}
	for p, pp := range s.pending {
		if pp.ready == nil {
			fresh[p] = pp
		}
	}
	s.mu.Unlock()
	if len(fresh) > 0 {
		s.init(ctx, fresh)
	}
	s.mu.Lock()
	add := map[int32]kgo.Offset{}
	at := func(off int64) kgo.Offset {
		if off < 0 {
			return kgo.NewOffset().AtStart()
		}
		return kgo.NewOffset().At(off)
	}
	for p, pp := range s.pending {
		if pp.ready == nil {
			continue // revoked and assigned again meanwhile: next round
		}
		select {
		case <-pp.ready:
		default:
			continue
		}
		delete(s.pending, p)
		s.parts[p] = pp
		add[p] = at(pp.start)
	}
	s.mu.Unlock()
	if len(add) > 0 {
		s.cl.AddConsumePartitions(map[string]map[int32]kgo.Offset{s.cfg.SpansTopic: add})
	}
}

func (s *secondPass) run(ctx context.Context) error {
	lastCommit := time.Now()
	for {
		s.sync(ctx)
		pctx, cancel := context.WithTimeout(ctx, time.Second)
		fs := s.cl.PollFetches(pctx)
		cancel()
		if ctx.Err() != nil {
			fctx, fcancel := context.WithTimeout(context.WithoutCancel(ctx), 10*time.Second)
			s.flushAndCommit(fctx, nil)
			fcancel()
			return ctx.Err()
		}
		fs.EachPartition(func(fp kgo.FetchTopicPartition) {
			if pp := s.parts[fp.Partition]; pp != nil {
				pp.held = append(pp.held, fp.Records...)
			}
		})
		now := time.Now()
		due := now.Add(-s.cfg.DecisionWait)
		for p, pp := range s.parts {
			if err := s.exportDue(ctx, p, pp, due); err != nil {
				return err
			}
		}
		if now.Sub(lastCommit) >= time.Second {
			lastCommit = now
			s.flushAndCommit(ctx, nil)
		}
	}
}

// exportDue exports partition p's held records written at or before due,
// in order, and pauses its fetching while it holds records not due yet.
func (s *secondPass) exportDue(ctx context.Context, p int32, pp *passPart, due time.Time) error {
	keep := s.keeps.get(p)
	n := 0
	for _, r := range pp.held {
		if r.Timestamp.After(due) {
			break
		}
		rec := pipeline.Record{Spans: true, Partition: p, Offset: r.Offset, Time: r.Timestamp, Key: r.Key, Value: r.Value}
		if err := s.traces.Export(ctx, rec, keep); err != nil {
			return err
		}
		pp.next, pp.nextAt, pp.dirty = r.Offset+1, r.Timestamp, true
		n++
	}
	clear(pp.held[:n])
	pp.held = pp.held[n:]
	if len(pp.held) > 0 {
		pp.nextAt = pp.held[0].Timestamp
	}
	keep.Expire(due)
	if !pp.nextAt.IsZero() {
		s.m.secondLag.WithLabelValues(strconv.Itoa(int(p))).Set(time.Since(pp.nextAt).Seconds())
	}
	tp := map[string][]int32{s.cfg.SpansTopic: {p}}
	switch {
	case len(pp.held) > 0 && !pp.paused:
		s.cl.PauseFetchPartitions(tp)
		pp.paused = true
	case len(pp.held) == 0 && pp.paused:
		s.cl.ResumeFetchPartitions(tp)
		pp.paused = false
	}
	return nil
}

// flushAndCommit waits until the trace sink acknowledged what was exported,
// then commits the positions of the partitions in only (all when nil). A
// failure commits nothing: the records are exported again later.
func (s *secondPass) flushAndCommit(ctx context.Context, only []int32) {
	offsets := kadm.Offsets{}
	parts := only
	if parts == nil {
		for p := range s.parts {
			parts = append(parts, p)
		}
	}
	for _, p := range parts {
		pp := s.parts[p]
		if pp == nil || !pp.dirty {
			continue
		}
		offsets.Add(kadm.Offset{Topic: s.cfg.SpansTopic, Partition: p, At: pp.next, LeaderEpoch: -1,
			Metadata: commitMeta(pp.nextAt.UnixMilli())})
	}
	if len(offsets) == 0 {
		return
	}
	if err := s.traces.Flush(ctx); err != nil {
		s.m.sinkFaults.WithLabelValues("traces").Inc()
		s.cfg.Logger.Warn("second pass: the trace sink did not acknowledge; not committing", "err", err)
		return
	}
	resp, err := s.adm.CommitOffsets(ctx, s.group(), offsets)
	if err == nil {
		err = resp.Error()
	}
	if err != nil {
		if ctx.Err() == nil {
			s.m.commitFails.WithLabelValues("traces").Inc()
			s.cfg.Logger.Warn("second pass commit", "group", s.group(), "err", err)
		}
		return
	}
	for _, p := range parts {
		if pp := s.parts[p]; pp != nil {
			pp.dirty = false
		}
	}
}

func (s *secondPass) close() { s.cl.Close() }
