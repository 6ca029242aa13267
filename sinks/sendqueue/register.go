package sendqueue

import (
	"errors"
	"fmt"

	"github.com/prometheus/client_golang/prometheus"
)

// Register registers every collector of a sink on r, or none: when one
// fails, those registered before it are unregistered again, so that a sink
// that failed to start leaves r as it was. A nil r registers nothing. The
// error says when the cause is a second sink with the same labels.
func Register(r prometheus.Registerer, cs ...prometheus.Collector) error {
	if r == nil {
		return nil
	}
	for i, c := range cs {
		if err := r.Register(c); err != nil {
			for _, done := range cs[:i] {
				r.Unregister(done)
			}
			if are, ok := errors.AsType[prometheus.AlreadyRegisteredError](err); ok {
				return fmt.Errorf("already registered (give each sink a distinct WithName): %w", are)
			}
			return err
		}
	}
	return nil
}
