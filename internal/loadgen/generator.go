package loadgen

import (
	"log/slog"
	"math/rand/v2"
	"sync"
	"time"

	"go.opentelemetry.io/collector/pdata/pcommon"
	"go.opentelemetry.io/collector/pdata/ptrace"
)

// PCG stream selectors: each kind of choice draws from its own stream, so
// that, say, exemplar sampling never shifts the traces a seed produces.
const (
	streamTraces    = 0x7472616365730001
	streamExemplars = 0x6578656d706c0002
	streamGauges    = 0x6761756765730003
)

const (
	scopeName    = "github.com/weirdev/weir/internal/loadgen"
	scopeVersion = "0.1.0"
	schemaURL    = "https://opentelemetry.io/schemas/1.26.0"
)

// Generator produces the traces and metrics of the demo app. It is safe for
// concurrent use; its output is a deterministic function of the seed and of
// the sequence of calls (and of the now values passed to them).
type Generator struct {
	seed            uint64
	traceRate       float64
	errorRate       float64
	metricsInterval time.Duration
	clock           func() time.Time
	log             *slog.Logger

	m *model

	mu        sync.Mutex
	rng       *rand.Rand // traces
	exRng     *rand.Rand // exemplar reservoirs
	gaugeRng  *rand.Rand // process.memory.usage
	insts     []instance
	firstInst [numServices]uint8
	startUS   int64 // start of the cumulative metrics, µs since the epoch
	started   bool
	series    map[seriesKey]*series

	// Scratch of NextTrace, reused from trace to trace.
	t traceScratch
}

// instance is one running copy of a service: one SDK, one resource.
type instance struct {
	svc    svcID
	host   string
	res    pcommon.Resource
	memMiB float64
	series [numMetricKinds][]*series // in order of first measurement
}

// New returns a Generator configured by opts. It never fails: options reject
// bad values themselves (see Opt).
func New(opts ...Opt) *Generator {
	g := &Generator{
		seed:            DefaultSeed,
		traceRate:       DefaultTraceRate,
		errorRate:       DefaultErrorRate,
		metricsInterval: DefaultMetricsInterval,
		clock:           time.Now,
		log:             slog.New(slog.DiscardHandler),
		m:               newModel(),
		series:          make(map[seriesKey]*series),
	}
	for _, o := range opts {
		o.apply(g)
	}
	g.rng = rand.New(rand.NewPCG(g.seed, streamTraces))
	g.exRng = rand.New(rand.NewPCG(g.seed, streamExemplars))
	g.gaugeRng = rand.New(rand.NewPCG(g.seed, streamGauges))

	for s := range numServices {
		spec := &g.m.svcs[s]
		g.firstInst[s] = uint8(len(g.insts))
		for _, h := range spec.hosts {
			res := pcommon.NewResource()
			a := res.Attributes()
			a.PutStr("service.name", spec.name)
			a.PutStr("service.version", spec.version)
			a.PutStr("service.instance.id", h)
			a.PutStr("host.name", h)
			a.PutStr("deployment.environment.name", "demo")
			a.PutStr("telemetry.sdk.language", "go")
			a.PutStr("telemetry.sdk.name", "opentelemetry")
			a.PutStr("telemetry.sdk.version", "1.47.0")
			g.insts = append(g.insts, instance{svc: s, host: h, res: res, memMiB: spec.memMiB})
		}
	}
	return g
}

// NextTrace returns one new trace of the app: one ResourceSpans per service
// instance the request went through, ordered by when their last span ended
// (the order their SDKs would export them in), each with one ScopeSpans whose
// spans are ordered by end time. Every span ends at or before now, the root
// span ending at now truncated to the microsecond. The trace is also recorded
// in the metrics the next Metrics call returns.
func (g *Generator) NextTrace(now time.Time) ptrace.Traces {
	g.mu.Lock()
	defer g.mu.Unlock()
	endUS := now.UnixNano() / 1000
	g.begin(endUS)
	g.buildTrace(endUS)
	td := g.emitTrace()
	g.recordTrace()
	return td
}

// begin fixes the start time of the cumulative metrics at the first call.
func (g *Generator) begin(nowUS int64) {
	if !g.started {
		g.started = true
		g.startUS = nowUS
	}
}
