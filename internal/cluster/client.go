package cluster

import (
	"context"
	"fmt"
	"log/slog"

	"github.com/twmb/franz-go/pkg/kgo"
)

// Clients builds every Kafka client a worker makes (stage 1 and 2, the
// decisions producer and reader, the second pass, the dead-letter
// producer, the admin client), so that all share the seed brokers and the
// connection settings: TLS, SASL, timeouts, the logger.
type Clients struct {
	Brokers []string
	// Opts are the settings every client gets (kgo.DialTLSConfig, kgo.SASL,
	// kgo.SessionTimeout, ...), before the ones each client adds.
	Opts   []kgo.Opt
	Logger *slog.Logger
}

// NewClients returns the clients of the cluster at brokers, protected by
// sec (see Security.Opts: its errors name the setting), with extra given
// to every client after the security options.
func NewClients(brokers []string, sec Security, log *slog.Logger, extra ...kgo.Opt) (*Clients, error) {
	opts, err := sec.Opts()
	if err != nil {
		return nil, err
	}
	return &Clients{Brokers: brokers, Opts: append(opts, extra...), Logger: log}, nil
}

// New returns a client with the shared settings and extra. Its error names
// the brokers.
func (c *Clients) New(extra ...kgo.Opt) (*kgo.Client, error) {
	cl, err := kgo.NewClient(c.opts(extra...)...)
	if err != nil {
		return nil, fmt.Errorf("cluster: Kafka client for %v: %w", c.Brokers, err)
	}
	return cl, nil
}

func (c *Clients) opts(extra ...kgo.Opt) []kgo.Opt {
	opts := []kgo.Opt{kgo.SeedBrokers(c.Brokers...)}
	if c.Logger != nil {
		opts = append(opts, kgo.WithLogger(kgoLogger{c.Logger.With("component", "kgo")}))
	}
	opts = append(opts, c.Opts...)
	return append(opts, extra...)
}

// kgoLogger hands franz-go's warnings and errors to slog, and its info
// (why a transaction aborted, a rejoin, a reset offset) as debug when the
// logger takes debug (weir run -v).
type kgoLogger struct{ l *slog.Logger }

func (k kgoLogger) Level() kgo.LogLevel {
	if k.l.Enabled(context.Background(), slog.LevelDebug) {
		return kgo.LogLevelInfo
	}
	return kgo.LogLevelWarn
}

func (k kgoLogger) Log(level kgo.LogLevel, msg string, kv ...any) {
	switch level {
	case kgo.LogLevelError:
		k.l.Error(msg, kv...)
	case kgo.LogLevelWarn:
		k.l.Warn(msg, kv...)
	default:
		k.l.Debug(msg, kv...)
	}
}
