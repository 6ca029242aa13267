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
