package cluster

import (
	"context"
	"errors"
	"fmt"
	"strconv"
	"strings"
	"time"

	"github.com/twmb/franz-go/pkg/kadm"
	"github.com/twmb/franz-go/pkg/kerr"
	"github.com/twmb/franz-go/pkg/kgo"
	"github.com/twmb/franz-go/pkg/kmsg"
)

// commitMeta is the offset-commit metadata of weir's groups: the partition's
// flushed-through time (stage 1), closed-through time (stage 2) or the
// timestamp of the next record (the second pass), in Unix milliseconds.
func commitMeta(t int64) string { return "weir1 " + strconv.FormatInt(t, 10) }

func parseCommitMeta(s string) (int64, bool) {
	v, ok := strings.CutPrefix(s, "weir1 ")
	if !ok {
		return 0, false
	}
	t, err := strconv.ParseInt(v, 10, 64)
	return t, err == nil
}

// committed is what a group committed for a partition.
type committed struct {
	offset  int64
	meta    int64
	hasMeta bool
}

// fetchCommitted fetches a group's committed offsets and metadata for
// topic's partitions.
//
// A partition resumed without its committed time would emit its replayed
// windows a second time, so a failure is retried for up to half a minute
// (brokers restart) and then returned: the caller must not consume.
func fetchCommitted(ctx context.Context, cl *kgo.Client, group, topic string) (map[int32]committed, error) {
	var err error
	for attempt := 0; attempt < 60 && ctx.Err() == nil; attempt++ {
		if attempt > 0 {
			sleep(ctx, 500*time.Millisecond)
		}
		var resp kadm.OffsetResponses
		if resp, err = kadm.NewClient(cl).FetchOffsets(ctx, group); err == nil {
			err = resp.Error()
		}
		if errors.Is(err, kerr.GroupIDNotFound) {
			return map[int32]committed{}, nil // a group that never committed
		}
		if err != nil {
			err = fmt.Errorf("cluster: fetch committed offsets of group %s: %w", group, err)
			continue
		}
		out := map[int32]committed{}
		for part, o := range resp[topic] {
			c := committed{offset: o.At}
			c.meta, c.hasMeta = parseCommitMeta(o.Metadata)
			out[part] = c
		}
		return out, nil
	}
	if err == nil {
		err = ctx.Err()
	}
	return nil, err
}

// rewriteTxnCommit sets a transaction's offset commit to what position says
// for each owned partition: the offset, and the time of its metadata.
// Partitions with nothing new polled are added, so that their commit point
// moves when their windows close; a partition position has nothing for is
// left out.
func rewriteTxnCommit(req *kmsg.TxnOffsetCommitRequest, owned map[string]map[int32]bool, position func(topic string, part int32) (offset, meta int64, ok bool)) {
	done := map[tp]bool{}
	set := func(topic string, rp *kmsg.TxnOffsetCommitRequestTopicPartition) bool {
		off, t, ok := position(topic, rp.Partition)
		if !ok {
			return false
		}
		meta := commitMeta(t)
		rp.Offset, rp.LeaderEpoch, rp.Metadata = off, -1, &meta
		return true
	}
	for i := range req.Topics {
		t := &req.Topics[i]
		kept := t.Partitions[:0]
		for j := range t.Partitions {
			if set(t.Topic, &t.Partitions[j]) {
				kept = append(kept, t.Partitions[j])
				done[tp{t.Topic, t.Partitions[j].Partition}] = true
			}
		}
		t.Partitions = kept
	}
	for topic, parts := range owned {
		var extra []kmsg.TxnOffsetCommitRequestTopicPartition
		for part := range parts {
			if done[tp{topic, part}] {
				continue
			}
			rp := kmsg.NewTxnOffsetCommitRequestTopicPartition()
			rp.Partition = part
			if set(topic, &rp) {
				extra = append(extra, rp)
			}
		}
		if len(extra) == 0 {
			continue
		}
		found := false
		for i := range req.Topics {
			if req.Topics[i].Topic == topic {
				req.Topics[i].Partitions = append(req.Topics[i].Partitions, extra...)
				found = true
			}
		}
		if !found {
			rt := kmsg.NewTxnOffsetCommitRequestTopic()
			rt.Topic = topic
			rt.Partitions = extra
			req.Topics = append(req.Topics, rt)
		}
	}
}
