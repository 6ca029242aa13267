package cluster

import (
	"fmt"
	"sync/atomic"
	"testing"
	"time"

	"github.com/twmb/franz-go/pkg/kerr"
	"github.com/twmb/franz-go/pkg/kfake"
	"github.com/twmb/franz-go/pkg/kmsg"

	"github.com/weirdev/weir/internal/testenv"
)

// refuse makes the broker answer every nth request of key with errc on
// each partition, and counts the refusals. Refused offsets
// (REBALANCE_IN_PROGRESS, as a group starting to rebalance answers) abort
// the transaction cleanly; a refused record (a non-retriable produce error)
// aborts it and starts a new session.
func refuse(c *kfake.Cluster, key kmsg.Key, nth int64, errc *kerr.Error) *atomic.Int64 {
	var seen, refused atomic.Int64
	c.ControlKey(int16(key), func(req kmsg.Request) (kmsg.Response, error, bool) {
		c.KeepControl()
		if seen.Add(1)%nth != 0 {
			return nil, nil, false
		}
		refused.Add(1)
		switch r := req.(type) {
		case *kmsg.TxnOffsetCommitRequest:
			resp := r.ResponseKind().(*kmsg.TxnOffsetCommitResponse)
			for _, rt := range r.Topics {
				st := kmsg.NewTxnOffsetCommitResponseTopic()
				st.Topic = rt.Topic
				for _, rp := range rt.Partitions {
					sp := kmsg.NewTxnOffsetCommitResponseTopicPartition()
					sp.Partition, sp.ErrorCode = rp.Partition, errc.Code
					st.Partitions = append(st.Partitions, sp)
				}
				resp.Topics = append(resp.Topics, st)
			}
			return resp, nil, true
		case *kmsg.ProduceRequest:
			resp := r.ResponseKind().(*kmsg.ProduceResponse)
			for _, rt := range r.Topics {
				st := kmsg.NewProduceResponseTopic()
				st.Topic, st.TopicID = rt.Topic, rt.TopicID
				for _, rp := range rt.Partitions {
					sp := kmsg.NewProduceResponseTopicPartition()
					sp.Partition, sp.ErrorCode = rp.Partition, errc.Code
					st.Partitions = append(st.Partitions, sp)
				}
				resp.Topics = append(resp.Topics, st)
			}
			return resp, nil, true
		}
		panic(fmt.Sprintf("refuse: no refusal for %T", req))
	})
	return &refused
}

// TestAbortsReplayExactly: the broker refuses one transaction in three, so
// both stages of both nodes abort again and again and rebuild their state
// from what is committed. The output must still equal the single-process
// reference: nothing lost, nothing counted twice, no sample written twice
// with different values. One in three seldom leaves a stage the idle
// timeout (40 polls) without an abort: the last windows, which only the
// input's idleness closes, close because a replay does not restart the idle
// clock (see aggregator.DropPartition).
func TestAbortsReplayExactly(t *testing.T) {
	for _, tc := range []struct {
		name string
		key  kmsg.Key
		errc *kerr.Error
	}{
		{"offsets refused", kmsg.TxnOffsetCommit, kerr.RebalanceInProgress},
		{"records refused", kmsg.Produce, kerr.InvalidRecord},
	} {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			c, err := kfake.NewCluster(kfake.NumBrokers(1), kfake.SeedTopics(4, DefaultSpansTopic, DefaultMetricsTopic))
			if err != nil {
				t.Fatal(err)
			}
			t.Cleanup(c.Close)
			brokers := c.ListenAddrs()
			genInput(t, brokers, 4000)
			want := reference(t, brokers)
			if len(want) == 0 {
				t.Fatal("reference produced nothing")
			}
			refused := refuse(c, tc.key, 3, tc.errc)

			sink := newCapture()
			a := startNode(t, brokers, sink, "abort-a")
			b := startNode(t, brokers, sink, "abort-b")
			waitFor(6*time.Minute, func() bool { return len(sink.snapshot()) >= len(want) })
			a.stop(t)
			b.stop(t)
			t.Logf("%d requests refused", refused.Load())
			if refused.Load() < 10 {
				t.Errorf("only %d requests refused: the aborts were not exercised", refused.Load())
			}
			sink.mu.Lock()
			conflicts := sink.conflicts
			sink.mu.Unlock()
			testenv.CompareOutput(t, want, sink.snapshot(), conflicts)
		})
	}
}
