package cluster

import (
	"context"
	"errors"
	"strconv"
	"sync"
	"time"

	"github.com/twmb/franz-go/pkg/kadm"
	"github.com/twmb/franz-go/pkg/kgo"
	"github.com/twmb/franz-go/pkg/kmsg"

	"github.com/weirdev/weir/cardinality"
	"github.com/weirdev/weir/pipeline"
	"github.com/weirdev/weir/tailsampling"
)

type tp struct {
	topic string
	part  int32
}

// catchUp follows a partition from its assignment until its consumer has
// read what it held then: until then the partition is behind and cannot be
// idle (see pipeline.Stage1.Behind). Empty fetches are not delivered, so
// the end at assignment is the measure; a partition that gets no record for
// catchUpGrace is taken as caught up (its last records were control
// records of transactions).
type catchUp struct {
	end  int64 // the partition's end offset at assignment
	last time.Time
}

const catchUpGrace = 30 * time.Second

// errRestart ends a stage-1 session whose transaction aborted: the
// in-memory windows may hold points of records that will be polled again, so
// all state is dropped and rebuilt from the committed offsets.
var errRestart = errors.New("stage 1 transaction aborted")

// transactionTimeout bounds a stage-1 transaction on the broker.
const transactionTimeout = time.Minute

// runStage1 runs stage-1 sessions until ctx ends, starting a fresh one after
// an end of transaction that failed (an abort rewinds in place, see
// stage1.rewind).
func runStage1(ctx context.Context, cfg Config, topo topology, s1 *pipeline.Stage1, dec *decisions, second *secondPass, m *metrics) error {
	for {
		err := stage1Session(ctx, cfg, topo, s1, dec, second, m)
		if !errors.Is(err, errRestart) {
			return err
		}
		m.aborts.Inc()
		cfg.Logger.Warn("stage 1 transaction aborted; replaying from the committed offsets")
		s1.Reset()
	}
}

type stage1 struct {
	cfg    Config
	topo   topology
	s1     *pipeline.Stage1
	dec    *decisions
	second *secondPass
	m      *metrics
	txn    *txn
	// mu keeps rebalance callbacks (on the client's goroutine) and the
	// poll loop apart.
	mu      sync.Mutex
	owned   map[string]map[int32]bool
	behind  map[tp]*catchUp
	sentWM  map[int32][]byte
	metaErr error // set by assigned when committed times could not be read
	lastWM  time.Time
	// lastProfile is when the profiles were last published.
	lastProfile time.Time
}

func stage1Session(ctx context.Context, cfg Config, topo topology, s1 *pipeline.Stage1, dec *decisions, second *secondPass, m *metrics) error {
	s := &stage1{cfg: cfg, topo: topo, s1: s1, dec: dec, second: second, m: m, owned: map[string]map[int32]bool{},
		behind: map[tp]*catchUp{}, sentWM: map[int32][]byte{}}
	t, err := openTxn(cfg, topo, "stage 1", cfg.Group, cfg.TransactionalID, s.assigned, s.gone, cfg.MetricsTopic, cfg.SpansTopic)
	if err != nil {
		return err
	}
	s.txn = t
	t.fails = m.commitFails.WithLabelValues("1")
	sess := t.sess
	defer t.close(ctx)
	for {
		pctx, cancel := context.WithTimeout(ctx, cfg.PollInterval)
		fs := sess.PollFetches(pctx)
		cancel()
		s.mu.Lock()
		metaErr := s.metaErr
		s.mu.Unlock()
		if metaErr != nil && ctx.Err() == nil {
			return errRestart
		}
		// On shutdown one last transaction takes what the last poll returned
		// and hands on what is due, then commits.
		stopping := ctx.Err() != nil
		ectx, ecancel := ctx, context.CancelFunc(func() {})
		if stopping {
			ectx, ecancel = context.WithTimeout(context.WithoutCancel(ctx), 10*time.Second)
		}
		committed, err := s.transaction(ectx, fs)
		ecancel()
		switch {
		case stopping:
			return ctx.Err()
		case err != nil:
			return err
		case !committed && s.txn.endFailed:
			return errRestart // the transaction may still be open
		case !committed:
			s.rewind(ctx)
		}
	}
}

// rewind rebuilds the state of every owned partition from what is
// committed, as a rebalance that took them all and gave them back would
// (franz-go has reset the consumer to the committed offsets). Staying in
// the group, rather than starting a new session, keeps one abort from
// rebalancing the other members into aborts of their own, and those into
// more: under load that went on for minutes.
func (s *stage1) rewind(ctx context.Context) {
	s.m.aborts.Inc()
	s.cfg.Logger.Warn("stage 1 transaction aborted; replaying from the committed offsets")
	cl := s.txn.sess.Client()
	s.mu.Lock()
	owned := ownedLists(s.owned)
	clear(s.sentWM)
	s.mu.Unlock()
	s.gone(ctx, cl, owned)
	s.assigned(ctx, cl, owned)
}

// ownedLists returns the partitions of owned, by topic.
func ownedLists(owned map[string]map[int32]bool) map[string][]int32 {
	m := map[string][]int32{}
	for topic, parts := range owned {
		for p := range parts {
			m[topic] = append(m[topic], p)
		}
	}
	return m
}

// transaction is one stage-1 transaction: the poll's records are decoded
// and aggregated, due windows are produced as partials, and the offsets that
// replay the still-open windows are committed with them. Any record of the
// transaction the broker refuses (a partial, a watermark, a decision, a dead
// letter) aborts it.
func (s *stage1) transaction(ctx context.Context, fs kgo.Fetches) (bool, error) {
	if err := s.txn.begin("stage 1"); err != nil {
		return false, err
	}
	s.mu.Lock()
	now := time.Now()
	s.txn.logFetchErrors("stage 1", fs)
	fs.EachPartition(func(fp kgo.FetchTopicPartition) {
		// A poll that ends by its timeout carries an error entry with no
		// topic and partition -1: it is no input partition.
		if fp.Topic != "" && fp.Partition >= 0 {
			s.handle(fp)
		}
	})
	for k, c := range s.behind {
		if now.Sub(c.last) >= catchUpGrace {
			s.caughtUp(k)
		}
	}
	s.advance(now)
	s.publishProfiles(now)
	s.mu.Unlock()
	return s.txn.end(ctx, "stage 1", s.commitOffsets)
}

// produce produces r in the transaction; a refusal aborts it.
func (s *stage1) produce(r *kgo.Record) { s.txn.produce(r) }

// handle hands one partition's records to stage 1; a record that does not
// decode goes to the dead-letter topic inside the transaction.
func (s *stage1) handle(fp kgo.FetchTopicPartition) {
	spans := fp.Topic == s.cfg.SpansTopic
	if n := len(fp.Records); n > 0 {
		last := fp.Records[n-1].Offset
		end := fp.HighWatermark
		if fp.LastStableOffset >= 0 {
			end = fp.LastStableOffset
		}
		s.m.lag.WithLabelValues(fp.Topic, strconv.Itoa(int(fp.Partition))).Set(float64(max(end-last-1, 0)))
		k := tp{fp.Topic, fp.Partition}
		if c := s.behind[k]; c != nil {
			c.last = time.Now()
			if last+1 >= c.end || last+1 >= end {
				s.caughtUp(k)
			}
		}
	}
	keep := func(d tailsampling.Decision) {
		s.produce(&kgo.Record{Topic: s.cfg.DecisionsTopic, Partition: fp.Partition, Key: d.TraceID[:], Value: tailsampling.AppendDecision(nil, d)})
	}
	fp.EachRecord(func(r *kgo.Record) {
		err := s.s1.Handle(pipeline.Record{Spans: spans, Partition: r.Partition, Offset: r.Offset, Time: r.Timestamp,
			Tenant: tenant(s.cfg.TenantHeader, r), Key: r.Key, Value: r.Value}, keep)
		if err != nil {
			s.m.deadLetters.WithLabelValues(r.Topic).Inc()
			s.cfg.Logger.Warn("record does not decode; sent to the dead-letter topic", "topic", r.Topic, "partition", r.Partition, "offset", r.Offset, "err", err)
			s.produce(deadLetter(s.cfg.DeadLetterTopic, s.topo.dlqMaxBytes, r, err))
		}
	})
}

func (s *stage1) caughtUp(k tp) {
	delete(s.behind, k)
	s.s1.Behind(k.topic == s.cfg.SpansTopic, k.part, false)
}

// advance hands on the windows whose end the watermarks passed as partial
// records, and tells every partials partition the watermarks.
func (s *stage1) advance(now time.Time) {
	wms := map[int32][]byte{}
	s.s1.Advance(now, func(key uint64, value []byte) {
		s.produce(&kgo.Record{Topic: s.cfg.PartialsTopic, Partition: pipeline.KeyPartition(key, s.topo.partialsParts),
			Key: pipeline.PartialKey(key), Value: value})
	}, func(source int32, value []byte) { wms[source] = value })
	// Watermarks go out when they moved, and at least every second: they
	// tell stage 2 that the source has an owner (see
	// aggregator.CloseTimeout), and a restarted stage 2 learns them again.
	periodic := now.Sub(s.lastWM) >= time.Second
	if periodic {
		s.lastWM = now
	}
	for id, rec := range wms {
		if old, ok := s.sentWM[id]; ok && string(old) == string(rec) && !periodic {
			continue
		}
		s.sentWM[id] = rec
		for q := range s.topo.partialsParts {
			s.produce(&kgo.Record{Topic: s.cfg.PartialsTopic, Partition: q, Value: rec})
		}
	}
}

// commitOffsets rewrites the transaction's offset commit: each owned
// partition commits what pipeline.Stage1.Position says, with its
// flushed-through watermark as metadata.
func (s *stage1) commitOffsets(req *kmsg.TxnOffsetCommitRequest) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	rewriteTxnCommit(req, s.owned, func(topic string, part int32) (int64, int64, bool) {
		return s.s1.Position(topic == s.cfg.SpansTopic, part)
	})
	return nil
}

// assigned restores the flushed-through time of newly owned partitions and
// starts their decisions and their second pass.
func (s *stage1) assigned(ctx context.Context, cl *kgo.Client, m map[string][]int32) {
	var err error
	s.mu.Lock()
	defer s.mu.Unlock()
	for topic, parts := range m {
		if s.owned[topic] == nil {
			s.owned[topic] = map[int32]bool{}
		}
		c, cerr := fetchCommitted(ctx, cl, s.cfg.Group, topic)
		if cerr != nil {
			err = cerr
		}
		ends, starts := s.bounds(ctx, cl, topic)
		spans := topic == s.cfg.SpansTopic
		now := time.Now()
		for _, part := range parts {
			s.owned[topic][part] = true
			// Consumption of a new assignment starts at the committed offset:
			// state still held for the partition is stale, start it afresh.
			cp := c[part]
			s.s1.Assigned(spans, part, cp.meta, cp.hasMeta)
			pos, ok := cp.offset, cp.offset >= 0
			if !ok {
				pos, ok = starts[part]
			}
			if end, known := ends[part]; !ok || !known || pos < end {
				s.behind[tp{topic, part}] = &catchUp{end: end, last: now}
			} else {
				s.caughtUp(tp{topic, part})
			}
		}
		if spans && cerr == nil {
			// Where stage 1 resumes is where a second pass with no
			// position of its own starts.
			first := map[int32]int64{}
			for _, part := range parts {
				first[part] = starts[part]
				if cp, ok := c[part]; ok && cp.offset >= 0 {
					first[part] = cp.offset
				}
			}
			s.second.assign(ctx, first)
		}
	}
	if err != nil {
		// Consuming without the flushed-through times would emit replayed
		// windows twice: the session starts over instead.
		s.metaErr = err
		s.cfg.Logger.Error("stage 1: cannot read committed watermarks; restarting the session", "err", err)
	}
	s.m.rebalances.Inc()
	s.cfg.Ready("stage1", true, "")
}

// gone drops the state of revoked or lost partitions: their next owner
// replays them from the committed offsets.
func (s *stage1) gone(_ context.Context, _ *kgo.Client, m map[string][]int32) {
	s.mu.Lock()
	defer s.mu.Unlock()
	for topic, parts := range m {
		spans := topic == s.cfg.SpansTopic
		for _, part := range parts {
			delete(s.owned[topic], part)
			delete(s.behind, tp{topic, part})
			s.m.lag.DeleteLabelValues(topic, strconv.Itoa(int(part)))
			s.s1.Revoked(spans, part)
		}
		if spans {
			s.second.revoke(parts)
		}
	}
}

// bounds returns the end and start offsets of topic's partitions (none of
// either when the brokers cannot tell).
func (s *stage1) bounds(ctx context.Context, cl *kgo.Client, topic string) (ends, starts map[int32]int64) {
	ends, starts = map[int32]int64{}, map[int32]int64{}
	adm := kadm.NewClient(cl)
	for m, list := range map[*map[int32]int64]func(context.Context, ...string) (kadm.ListedOffsets, error){
		&ends: adm.ListEndOffsets, &starts: adm.ListStartOffsets,
	} {
		lo, err := list(ctx, topic)
		if err != nil {
			s.cfg.Logger.Warn("stage 1: cannot list offsets; partitions count as behind until they deliver records", "topic", topic, "err", err)
			continue
		}
		lo.Each(func(o kadm.ListedOffset) {
			if o.Err == nil {
				(*m)[o.Partition] = o.Offset
			}
		})
	}
	return ends, starts
}

// publishProfiles produces the profiles of the worker's partitions to the
// profile topic every profile interval, in the transaction: a reader that
// reads committed records sees the profiles of the input the transaction
// committed.
func (s *stage1) publishProfiles(now time.Time) {
	if !s.s1.Profiled() || now.Sub(s.lastProfile) < s.cfg.ProfileInterval {
		return
	}
	s.lastProfile = now
	s.s1.Profile(now, func(tenant, metric string, value []byte) {
		s.produce(&kgo.Record{Topic: s.cfg.ProfileTopic, Partition: 0, Key: cardinality.Key(s.cfg.TransactionalID, tenant, metric), Value: value})
	})
}
