package cluster

import (
	"context"
	"errors"
	"fmt"
	"sync"
	"time"

	"github.com/twmb/franz-go/pkg/kgo"

	"github.com/weirdev/weir/cardinality"
)

// Profiles reads the profile topic that every worker of the group
// publishes to and merges its latest records on query: any process answers
// for the whole group, with no membership of weir's own.
type Profiles struct {
	cfg Config
	// stale is how old a record may be and still count: its partition's
	// owner republishes it every interval, so an older one was left by an
	// owner that has gone (or a metric that has).
	stale time.Duration
	mu    sync.Mutex
	last  map[string][]byte // key → latest value
	err   error             // why the topic cannot be read, until it can
}

// NewProfiles returns a reader of cfg's profile topic; Run reads it. A
// record older than stale (default three publish intervals and a minute)
// is left out of views.
func NewProfiles(cfg Config, stale time.Duration) (*Profiles, error) {
	if err := cfg.defaults(); err != nil {
		return nil, err
	}
	if stale <= 0 {
		stale = 3*cfg.ProfileInterval + time.Minute
	}
	return &Profiles{cfg: cfg, stale: stale, last: map[string][]byte{}, err: errors.New("the profile topic has not been read yet")}, nil
}

// Run reads the topic from its start until ctx ends, retrying with backoff
// while it cannot (the topic is created by the first worker that starts).
func (p *Profiles) Run(ctx context.Context) error {
	for attempt := 0; ctx.Err() == nil; attempt++ {
		err := p.read(ctx)
		if ctx.Err() != nil {
			return nil
		}
		p.mu.Lock()
		p.err = err
		p.mu.Unlock()
		wait := backoff(attempt, 30*time.Second)
		p.cfg.Logger.Warn("cannot read the profile topic; retrying", "topic", p.cfg.ProfileTopic, "err", err, "retry_in", wait)
		sleep(ctx, wait)
	}
	return nil
}

func (p *Profiles) read(ctx context.Context) error {
	cl, err := p.cfg.Client.New(kgo.ConsumeTopics(p.cfg.ProfileTopic), kgo.FetchIsolationLevel(kgo.ReadCommitted()),
		kgo.ConsumeResetOffset(kgo.NewOffset().AtStart()))
	if err != nil {
		return err
	}
	defer cl.Close()
	for {
		fs := cl.PollFetches(ctx)
		if ctx.Err() != nil {
			return nil
		}
		var ferr error
		fs.EachError(func(t string, part int32, err error) {
			ferr = fmt.Errorf("cluster: read %s/%d: %w", t, part, err)
		})
		p.mu.Lock()
		fs.EachRecord(func(r *kgo.Record) {
			if r.Value == nil {
				delete(p.last, string(r.Key))
				return
			}
			p.last[string(r.Key)] = r.Value
		})
		if ferr == nil {
			p.err = nil
		}
		p.mu.Unlock()
		if ferr != nil {
			return ferr
		}
	}
}

// View merges the latest record of every key that is not stale. It fails
// while the topic cannot be read.
func (p *Profiles) View() (*cardinality.View, error) {
	p.mu.Lock()
	defer p.mu.Unlock()
	if p.err != nil && len(p.last) == 0 {
		return nil, fmt.Errorf("profiles of %s: %w", p.cfg.ProfileTopic, p.err)
	}
	v := cardinality.NewView()
	oldest := time.Now().Add(-p.stale).UnixMilli()
	for k, b := range p.last {
		m, err := cardinality.ParseMetric(b)
		if err != nil {
			p.cfg.Logger.Warn("malformed profile record left out", "topic", p.cfg.ProfileTopic, "err", err)
			delete(p.last, k)
			continue
		}
		if m.End >= oldest {
			v.Add(m)
		}
	}
	return v, nil
}
