package pipeline

import (
	"testing"
	"time"
)

// TestDecisionsLookback: a new owner of a spans partition reads back, and a
// former owner keeps reading, every decision that may concern a trace its
// buffer still holds (up to the decision wait) with room for delivery.
func TestDecisionsLookback(t *testing.T) {
	for _, wait := range []time.Duration{time.Second, 30 * time.Second, 70 * time.Second, 2 * time.Minute, 10 * time.Minute} {
		lb := decisionsLookback(wait)
		if lb < wait+time.Minute || lb < 2*time.Minute {
			t.Errorf("decision wait %v: lookback %v, want at least the wait plus a minute and at least 2m", wait, lb)
		}
	}
}
