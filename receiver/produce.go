package receiver

import (
	"context"
	"errors"
	"fmt"
	"time"

	"github.com/twmb/franz-go/pkg/kerr"
	"github.com/twmb/franz-go/pkg/kgo"
	"golang.org/x/sync/semaphore"
)

// refusalKind decides how a refused request is answered on each protocol.
type refusalKind int

const (
	// refuseInvalid: the request cannot be taken as it is (HTTP 400, gRPC
	// INVALID_ARGUMENT); retrying does not help.
	refuseInvalid refusalKind = iota
	// refuseOverloaded: too many bytes wait for Kafka already (HTTP 429,
	// gRPC RESOURCE_EXHAUSTED with RetryInfo).
	refuseOverloaded
	// refuseUnavailable: Kafka did not acknowledge in time (HTTP 503, gRPC
	// UNAVAILABLE with RetryInfo).
	refuseUnavailable
)

// refusal is a request refused whole.
type refusal struct {
	kind refusalKind
	err  error
}

func (e *refusal) Error() string { return e.err.Error() }
func (e *refusal) Unwrap() error { return e.err }

// outcome names a refusal kind in weir_receiver_requests_total.
func (k refusalKind) outcome() string {
	switch k {
	case refuseOverloaded:
		return outcomeOverloaded
	case refuseUnavailable:
		return outcomeUnavailable
	}
	return outcomeInvalid
}

// producer writes a request's records and waits for Kafka.
type producer struct {
	cl           syncProducer
	tenantHeader string
	inflight     *semaphore.Weighted
	maxInflight  int64
	timeout      time.Duration
	m            *metrics
}

func newProducer(cl syncProducer, cfg Config, m *metrics) *producer {
	return &producer{
		cl:           cl,
		tenantHeader: cfg.TenantHeader,
		inflight:     semaphore.NewWeighted(cfg.MaxInflightBytes),
		maxInflight:  cfg.MaxInflightBytes,
		timeout:      cfg.Timeout,
		m:            m,
	}
}

// produce writes recs, tagged with tenant, and returns once Kafka
// acknowledged or refused each. failed lists the records Kafka refused for
// good (too large for the topic): the caller reports their items as
// rejected. A *refusal error means the request is to be retried whole: the
// in-flight limit is reached, or some record was not acknowledged (Kafka
// unreachable, failing, or slower than the timeout).
//
// The wait is bounded by the timeout, not by ctx: a batch is failed by the
// context of its first record, so a client that hangs up must not fail the
// records of other requests sharing its batch.
func (p *producer) produce(tenant string, recs []*kgo.Record) (failed []int, err error) {
	if len(recs) == 0 {
		return nil, nil
	}
	var size int64
	for _, r := range recs {
		size += int64(len(r.Key) + len(r.Value))
	}
	// A request larger than the whole limit goes alone rather than never.
	w := min(size, p.maxInflight)
	if !p.inflight.TryAcquire(w) {
		return nil, &refusal{refuseOverloaded, fmt.Errorf("receiver: more than %d bytes wait for Kafka; retry later", p.maxInflight)}
	}
	p.m.inflight.Add(float64(w))
	defer func() {
		p.inflight.Release(w)
		p.m.inflight.Sub(float64(w))
	}()
	if p.tenantHeader != "" && tenant != "" {
		h := []kgo.RecordHeader{{Key: p.tenantHeader, Value: []byte(tenant)}}
		for _, r := range recs {
			r.Headers = h
		}
	}
	ctx, cancel := context.WithTimeout(context.Background(), p.timeout)
	defer cancel()
	index := make(map[*kgo.Record]int, len(recs))
	for i, r := range recs {
		index[r] = i
	}
	var retry error
	retries := 0
	for _, res := range p.cl.ProduceSync(ctx, recs...) {
		switch {
		case res.Err == nil:
		case permanent(res.Err):
			failed = append(failed, index[res.Record])
		default:
			retries++
			if retry == nil {
				retry = res.Err
			}
		}
	}
	if retry != nil {
		if errors.Is(retry, context.DeadlineExceeded) {
			retry = fmt.Errorf("not acknowledged within %v: %w", p.timeout, retry)
		}
		return nil, &refusal{refuseUnavailable, fmt.Errorf("receiver: Kafka: %d of %d records not written: %w", retries, len(recs), retry)}
	}
	return failed, nil
}

// permanent reports whether Kafka refuses a record for good, whatever the
// retries: it is larger than a batch or the topic takes, or malformed.
func permanent(err error) bool {
	return errors.Is(err, kerr.MessageTooLarge) || errors.Is(err, kerr.RecordListTooLarge) ||
		errors.Is(err, kerr.InvalidRecord) || errors.Is(err, kerr.CorruptMessage)
}
