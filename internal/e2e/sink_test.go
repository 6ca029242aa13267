package e2e

import (
	"context"
	"fmt"

	"github.com/prometheus/prometheus/prompb"
)

// receiverSink records a pipeline's output the way receiver does.
type receiverSink struct{ got map[string]string }

func newReceiverSink() *receiverSink { return &receiverSink{got: map[string]string{}} }

func (r *receiverSink) Enqueue(_ context.Context, series []prompb.TimeSeries) error {
	for _, ts := range series {
		for _, s := range ts.Samples {
			r.got[fmt.Sprint(ts.Labels, s.Timestamp)] = fmt.Sprint(s.Value, ts.Exemplars)
		}
	}
	return nil
}
