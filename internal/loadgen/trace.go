package loadgen

import (
	"math"

	"go.opentelemetry.io/collector/pdata/pcommon"
	"go.opentelemetry.io/collector/pdata/ptrace"
)

// maxSpans bounds a trace: the largest plan (a checkout with every optional
// call) has 15 spans.
const maxSpans = 15

// Tail shape: share of traces with one slow dependency and of outliers, and
// their slowdown factors.
const (
	outlierShare           = 0.001
	slowShare              = 0.015
	slowMin, slowMax       = 5.0, 20.0
	outlierMin, outlierMax = 30.0, 120.0
)

// node is one span of the trace being built. Children form a linked list
// (first/next) so that pruning after a failure is a pointer change.
type node struct {
	op          opID
	inst        uint8
	parent      int8
	first, last int8
	next        int8
	conc        bool // starts together with the previous sibling
	failed      bool
	origin      bool // the failure started here
	pre, post   int64
	rel         int64 // start relative to the parent's start, µs
	start, dur  int64 // µs
	id          pcommon.SpanID
}

type traceScratch struct {
	nodes   [maxSpans]node
	n       int
	order   [maxSpans]int8 // live nodes in preorder
	live    int
	culprit int     // node whose subtree is slow, or -1
	factor  float64 // its slowdown
	global  float64 // slowdown of the whole trace
	traceID pcommon.TraceID
}

func (g *Generator) buildTrace(endUS int64) {
	t := &g.t
	t.n = 0
	g.plan()
	g.fail()
	g.preorder()

	t.culprit, t.factor, t.global = -1, 1, 1
	switch u := g.rng.Float64(); {
	case u < outlierShare:
		t.global = outlierMin + (outlierMax-outlierMin)*g.rng.Float64()
	case u < outlierShare+slowShare:
		t.culprit = int(t.order[1+g.rng.IntN(t.live-1)])
		t.factor = slowMin + (slowMax-slowMin)*g.rng.Float64()
	}
	g.measure(0, t.global)
	g.place(0, endUS-t.nodes[0].dur)

	t.traceID = pcommon.TraceID(g.nonZero16())
	for i := 0; i < t.live; i++ {
		t.nodes[t.order[i]].id = pcommon.SpanID(g.nonZero8())
	}
}

func (g *Generator) plan() {
	r := g.rng.Float64()
	switch {
	case r < 0.40:
		root := g.add(-1, opFeSearch, false)
		g.add(root, opFeAuth, false)
		s := g.call(root, opFeCallSearch, opSearch, false)
		g.add(s, opSearchQuery, false)
		if g.rng.Float64() < 0.6 {
			inv := g.call(s, opSearchCallStock, opInvStock, true)
			g.add(inv, opInvSelect, false)
		}
		g.add(s, opSearchRank, false)
	case r < 0.65:
		root := g.add(-1, opFeCart, false)
		if g.rng.Float64() < 0.5 {
			g.add(root, opFeAuth, false)
		}
		c := g.call(root, opFeCallCart, opCart, false)
		g.add(c, opCartRedis, false)
	case r < 0.85:
		root := g.add(-1, opFeCheckout, false)
		g.add(root, opFeAuth, false)
		co := g.call(root, opFeCallCheckout, opCheckout, false)
		if g.rng.Float64() < 0.7 {
			g.add(co, opCheckoutValidate, false)
		}
		if g.rng.Float64() < 0.8 {
			c := g.call(co, opCheckoutCallCart, opCart, false)
			g.add(c, opCartRedis, false)
		}
		p := g.call(co, opCheckoutCallCharge, opPaymentCharge, false)
		if g.rng.Float64() < 0.9 {
			g.call(p, opPaymentCallFraud, opFraudCheck, false)
		}
		inv := g.call(co, opCheckoutCallReserve, opInvReserve, false)
		g.add(inv, opInvUpdate, false)
	default:
		root := g.add(-1, opFeOrder, false)
		g.add(root, opFeAuth, false)
		o := g.call(root, opFeCallOrder, opOrder, false)
		g.add(o, opOrderSelect, false)
	}
}

// add appends a span of op under parent (-1: the root). A server span runs on
// an instance of its service picked at random; other spans run where their
// parent runs.
func (g *Generator) add(parent int, op opID, conc bool) int {
	t := &g.t
	i := t.n
	t.n++
	n := &t.nodes[i]
	*n = node{op: op, parent: int8(parent), first: -1, last: -1, next: -1, conc: conc}
	if parent < 0 || g.m.ops[op].kind.server() {
		svc := g.m.ops[op].svc
		n.inst = g.firstInst[svc] + uint8(g.rng.IntN(len(g.m.svcs[svc].hosts)))
		if parent < 0 {
			return i
		}
	} else {
		n.inst = t.nodes[parent].inst
	}
	p := &t.nodes[parent]
	if p.last >= 0 {
		t.nodes[p.last].next = int8(i)
	} else {
		p.first = int8(i)
	}
	p.last = int8(i)
	return i
}

// call adds a client span under parent and the server span it calls, and
// returns the server span.
func (g *Generator) call(parent int, client, server opID, conc bool) int {
	return g.add(g.add(parent, client, conc), server, false)
}

// fail makes the trace fail with probability errorRate: a span that can fail
// fails, its ancestors fail with it, and the calls they had not made yet are
// dropped.
func (g *Generator) fail() {
	if g.rng.Float64() >= g.errorRate {
		return
	}
	t := &g.t
	var eligible [maxSpans]int8
	k := 0
	for i := 0; i < t.n; i++ {
		if g.m.ops[t.nodes[i].op].canFail {
			eligible[k] = int8(i)
			k++
		}
	}
	if k == 0 {
		return
	}
	c := int(eligible[g.rng.IntN(k)])
	t.nodes[c].failed, t.nodes[c].origin = true, true
	for p := int(t.nodes[c].parent); p >= 0; c, p = p, int(t.nodes[p].parent) {
		t.nodes[p].failed = true
		t.nodes[c].next = -1
		t.nodes[p].last = int8(c)
	}
}

func (g *Generator) preorder() {
	g.t.live = 0
	g.walk(0)
}

func (g *Generator) walk(i int8) {
	t := &g.t
	t.order[t.live] = i
	t.live++
	for c := t.nodes[i].first; c >= 0; c = t.nodes[c].next {
		g.walk(c)
	}
}

// measure draws the span's own time, lays out its children relative to its
// start and returns its duration, all in whole microseconds. Sequential
// children follow each other with a small gap; a concurrent child starts with
// its previous sibling. A parent always covers its children.
func (g *Generator) measure(i int, factor float64) int64 {
	t := &g.t
	n := &t.nodes[i]
	o := &g.m.ops[n.op]
	if i == t.culprit {
		factor *= t.factor
	}
	self := o.median * math.Exp(o.sigma*g.rng.NormFloat64()) * factor
	if n.origin && o.kind == kindDB {
		self *= 15 + 25*g.rng.Float64() // a timeout
	}
	total := max(int64(math.Round(self)), 1)
	if n.first < 0 {
		n.pre, n.post, n.dur = total, 0, total
		return total
	}
	frac := 0.6
	if !o.kind.client() {
		frac = 0.2 + 0.6*g.rng.Float64()
	}
	n.pre = int64(float64(total) * frac)
	n.post = total - n.pre
	cursor, stage := n.pre, n.pre
	for c := n.first; c >= 0; c = t.nodes[c].next {
		d := g.measure(int(c), factor)
		cn := &t.nodes[c]
		if cn.conc && c != n.first {
			cn.rel = stage + g.rng.Int64N(30)
		} else {
			if c != n.first {
				cursor += 5 + g.rng.Int64N(40)
			}
			stage = cursor
			cn.rel = stage
		}
		cursor = max(cursor, cn.rel+d)
	}
	n.dur = cursor + n.post
	return n.dur
}

func (g *Generator) place(i int, startUS int64) {
	t := &g.t
	t.nodes[i].start = startUS
	for c := t.nodes[i].first; c >= 0; c = t.nodes[c].next {
		g.place(int(c), startUS+t.nodes[c].rel)
	}
}

func (g *Generator) nonZero16() (b [16]byte) {
	for b == ([16]byte{}) {
		putUint64(b[:8], g.rng.Uint64())
		putUint64(b[8:], g.rng.Uint64())
	}
	return b
}

func (g *Generator) nonZero8() (b [8]byte) {
	for b == ([8]byte{}) {
		putUint64(b[:], g.rng.Uint64())
	}
	return b
}

func putUint64(b []byte, v uint64) {
	_ = b[7]
	for i := range 8 {
		b[i] = byte(v >> (56 - 8*i))
	}
}

// Span flags as SDKs set them: sampled, and whether the parent is remote.
const (
	flagSampled     = 0x01
	flagHasIsRemote = 0x100
	flagIsRemote    = 0x200
)

func (g *Generator) emitTrace() ptrace.Traces {
	t := &g.t
	// Group the live spans by instance, in preorder of first appearance,
	// then order the groups by their last end.
	var groups [maxSpans]struct {
		inst  uint8
		end   int64
		spans [maxSpans]int8
		n     int
	}
	ng := 0
	for k := 0; k < t.live; k++ {
		i := t.order[k]
		n := &t.nodes[i]
		gi := 0
		for gi < ng && groups[gi].inst != n.inst {
			gi++
		}
		if gi == ng {
			groups[gi].inst, groups[gi].end, groups[gi].n = n.inst, 0, 0
			ng++
		}
		gr := &groups[gi]
		// Insert by end time, stable for ties.
		j := gr.n
		for j > 0 && t.nodes[gr.spans[j-1]].end() > n.end() {
			gr.spans[j] = gr.spans[j-1]
			j--
		}
		gr.spans[j] = i
		gr.n++
		gr.end = max(gr.end, n.end())
	}
	for a := 1; a < ng; a++ {
		for b := a; b > 0 && groups[b-1].end > groups[b].end; b-- {
			groups[b-1], groups[b] = groups[b], groups[b-1]
		}
	}

	td := ptrace.NewTraces()
	rss := td.ResourceSpans()
	rss.EnsureCapacity(ng)
	for gi := 0; gi < ng; gi++ {
		gr := &groups[gi]
		rs := rss.AppendEmpty()
		g.insts[gr.inst].res.CopyTo(rs.Resource())
		rs.SetSchemaUrl(schemaURL)
		ss := rs.ScopeSpans().AppendEmpty()
		ss.Scope().SetName(scopeName)
		ss.Scope().SetVersion(scopeVersion)
		spans := ss.Spans()
		spans.EnsureCapacity(gr.n)
		for k := 0; k < gr.n; k++ {
			g.emitSpan(spans.AppendEmpty(), gr.spans[k])
		}
	}
	return td
}

func (n *node) end() int64 { return n.start + n.dur }

func (g *Generator) emitSpan(s ptrace.Span, i int8) {
	t := &g.t
	n := &t.nodes[i]
	o := &g.m.ops[n.op]
	s.SetTraceID(t.traceID)
	s.SetSpanID(n.id)
	flags := uint32(flagSampled | flagHasIsRemote)
	if n.parent >= 0 {
		p := &t.nodes[n.parent]
		s.SetParentSpanID(p.id)
		if g.m.ops[p.op].kind.client() {
			flags |= flagIsRemote
		}
	}
	s.SetFlags(flags)
	s.SetName(o.name)
	s.SetStartTimestamp(pcommon.Timestamp(n.start * 1000))
	s.SetEndTimestamp(pcommon.Timestamp(n.end() * 1000))

	status := int64(200)
	grpcCode := int64(0)
	if n.failed {
		status, grpcCode = 500, 13
		s.Status().SetCode(ptrace.StatusCodeError)
		if n.origin {
			s.Status().SetMessage(o.errMsg)
			ev := s.Events().AppendEmpty()
			ev.SetName("exception")
			ev.SetTimestamp(pcommon.Timestamp(n.end() * 1000))
			ev.Attributes().PutStr("exception.type", o.errType)
			ev.Attributes().PutStr("exception.message", o.errMsg)
		}
	}

	a := s.Attributes()
	switch o.kind {
	case kindHTTPServer:
		s.SetKind(ptrace.SpanKindServer)
		a.EnsureCapacity(4)
		a.PutStr("http.request.method", o.method)
		a.PutStr("http.route", o.route)
		a.PutInt("http.response.status_code", status)
		a.PutStr("url.scheme", "http")
	case kindRPCServer:
		// gRPC runs over HTTP/2: every call is a POST to /Service/Method
		// answered 200, the outcome travels in grpc-status.
		s.SetKind(ptrace.SpanKindServer)
		a.EnsureCapacity(7)
		a.PutStr("rpc.system", "grpc")
		a.PutStr("rpc.service", o.rpcService)
		a.PutStr("rpc.method", o.rpcMethod)
		a.PutInt("rpc.grpc.status_code", grpcCode)
		a.PutStr("http.request.method", o.method)
		a.PutStr("http.route", o.route)
		a.PutInt("http.response.status_code", 200)
	case kindHTTPClient:
		s.SetKind(ptrace.SpanKindClient)
		a.EnsureCapacity(5)
		a.PutStr("http.request.method", o.method)
		a.PutStr("url.template", o.route)
		a.PutStr("server.address", g.m.svcs[o.peer].name)
		a.PutInt("server.port", 8080)
		a.PutInt("http.response.status_code", status)
	case kindRPCClient:
		s.SetKind(ptrace.SpanKindClient)
		a.EnsureCapacity(6)
		a.PutStr("rpc.system", "grpc")
		a.PutStr("rpc.service", o.rpcService)
		a.PutStr("rpc.method", o.rpcMethod)
		a.PutInt("rpc.grpc.status_code", grpcCode)
		a.PutStr("server.address", g.m.svcs[o.peer].name)
		a.PutInt("server.port", 50051)
	case kindDB:
		s.SetKind(ptrace.SpanKindClient)
		a.EnsureCapacity(5)
		a.PutStr("db.system", o.dbSystem)
		a.PutStr("db.operation.name", o.dbOp)
		a.PutStr("db.collection.name", o.dbTable)
		a.PutStr("db.query.text", o.dbQuery)
		a.PutStr("server.address", o.dbSystem)
	case kindInternal:
		s.SetKind(ptrace.SpanKindInternal)
	}
}
