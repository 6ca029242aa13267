package loadgen

// The static description of the demo app: services and the operations their
// spans are made of. It is built per Generator by newModel so that nothing in
// the package is shared mutable state.

type svcID uint8

const (
	svcFrontend svcID = iota
	svcSearch
	svcCart
	svcCheckout
	svcPayment
	svcFraud
	svcInventory
	numServices
)

type serviceSpec struct {
	name    string
	version string
	hosts   []string
	memMiB  float64 // typical resident memory, for process.memory.usage
	rpcOnly bool    // a legacy gRPC service: reports rpc.legacy.latency
}

type opKind uint8

const (
	kindHTTPServer opKind = iota
	kindRPCServer
	kindHTTPClient
	kindRPCClient
	kindDB
	kindInternal
)

func (k opKind) server() bool { return k == kindHTTPServer || k == kindRPCServer }
func (k opKind) client() bool { return k == kindHTTPClient || k == kindRPCClient }

type opID uint8

const (
	opFeSearch opID = iota
	opFeCart
	opFeCheckout
	opFeOrder
	opFeAuth
	opFeCallSearch
	opSearch
	opSearchQuery
	opSearchRank
	opSearchCallStock
	opInvStock
	opInvSelect
	opFeCallCart
	opCart
	opCartRedis
	opFeCallCheckout
	opCheckout
	opCheckoutValidate
	opCheckoutCallCart
	opCheckoutCallCharge
	opPaymentCharge
	opPaymentCallFraud
	opFraudCheck
	opCheckoutCallReserve
	opInvReserve
	opInvUpdate
	opFeCallOrder
	opOrder
	opOrderSelect
	numOps
)

// opSpec is one kind of span. Latency is the span's own time (for a client
// span: the network time around the server span) drawn from a lognormal with
// the given median (µs) and sigma.
type opSpec struct {
	svc    svcID
	kind   opKind
	name   string
	median float64
	sigma  float64

	method string // HTTP method (servers and HTTP clients; POST for gRPC)
	route  string // servers: http.route; HTTP clients: the path called
	peer   svcID  // clients: the service called

	rpcService, rpcMethod string

	dbSystem, dbOp, dbTable, dbQuery string

	// Where a failure can start, and what it says then.
	canFail bool
	errType string
	errMsg  string
}

type model struct {
	svcs [numServices]serviceSpec
	ops  [numOps]opSpec
}

func newModel() *model {
	m := &model{}
	m.svcs = [numServices]serviceSpec{
		svcFrontend:  {name: "frontend", version: "2.14.1", hosts: []string{"frontend-7d9c5-2xk4p", "frontend-7d9c5-h8q2m", "frontend-7d9c5-zr6tn"}, memMiB: 180},
		svcSearch:    {name: "search", version: "1.8.0", hosts: []string{"search-5f6b8-4nw9c", "search-5f6b8-qj7lx"}, memMiB: 420},
		svcCart:      {name: "cart", version: "3.2.7", hosts: []string{"cart-84c7d-m2v6s", "cart-84c7d-t9pzk"}, memMiB: 96},
		svcCheckout:  {name: "checkout", version: "1.31.0", hosts: []string{"checkout-6b4f9-8kq3w", "checkout-6b4f9-vx5rd"}, memMiB: 140},
		svcPayment:   {name: "payment", version: "0.9.4", hosts: []string{"payment-5c8d7-lw4hb", "payment-5c8d7-s3fjq"}, memMiB: 260, rpcOnly: true},
		svcFraud:     {name: "fraud", version: "4.0.2", hosts: []string{"fraud-77f9b-c6npz", "fraud-77f9b-r2dkm"}, memMiB: 610, rpcOnly: true},
		svcInventory: {name: "inventory", version: "2.3.5", hosts: []string{"inventory-59d6c-7hmxq", "inventory-59d6c-wb8te"}, memMiB: 120},
	}

	httpServer := func(s svcID, method, route string, median, sigma float64) opSpec {
		return opSpec{svc: s, kind: kindHTTPServer, name: method + " " + route, method: method, route: route, median: median, sigma: sigma}
	}
	httpClient := func(s, peer svcID, method, path string) opSpec {
		return opSpec{svc: s, kind: kindHTTPClient, name: method + " " + path, method: method, route: path, peer: peer, median: 240, sigma: 0.35}
	}
	rpcClient := func(s, peer svcID, service, method string) opSpec {
		return opSpec{svc: s, kind: kindRPCClient, name: service + "/" + method, method: "POST", route: "/" + service + "/" + method,
			peer: peer, rpcService: service, rpcMethod: method, median: 300, sigma: 0.35}
	}
	rpcServer := func(s svcID, service, method string, median, sigma float64) opSpec {
		return opSpec{svc: s, kind: kindRPCServer, name: service + "/" + method, method: "POST", route: "/" + service + "/" + method,
			rpcService: service, rpcMethod: method, median: median, sigma: sigma}
	}
	db := func(s svcID, system, op, table, query string, median, sigma float64) opSpec {
		name := op + " " + table
		if system == "redis" {
			name = op
		}
		return opSpec{svc: s, kind: kindDB, name: name, dbSystem: system, dbOp: op, dbTable: table, dbQuery: query, median: median, sigma: sigma,
			canFail: true, errType: "context.deadlineExceededError", errMsg: "context deadline exceeded"}
	}
	internal := func(s svcID, name string, median, sigma float64) opSpec {
		return opSpec{svc: s, kind: kindInternal, name: name, median: median, sigma: sigma}
	}
	fails := func(o opSpec, typ, msg string) opSpec {
		o.canFail, o.errType, o.errMsg = true, typ, msg
		return o
	}

	m.ops = [numOps]opSpec{
		opFeSearch:            httpServer(svcFrontend, "GET", "/api/search", 350, 0.4),
		opFeCart:              httpServer(svcFrontend, "GET", "/api/cart", 300, 0.4),
		opFeCheckout:          httpServer(svcFrontend, "POST", "/api/checkout", 450, 0.4),
		opFeOrder:             httpServer(svcFrontend, "GET", "/api/orders/{id}", 300, 0.4),
		opFeAuth:              internal(svcFrontend, "auth.verify", 420, 0.3),
		opFeCallSearch:        httpClient(svcFrontend, svcSearch, "GET", "/search"),
		opSearch:              fails(httpServer(svcSearch, "GET", "/search", 700, 0.4), "*search.IndexError", "index shard unavailable"),
		opSearchQuery:         internal(svcSearch, "search.query", 4200, 0.55),
		opSearchRank:          internal(svcSearch, "search.rank", 1500, 0.45),
		opSearchCallStock:     httpClient(svcSearch, svcInventory, "GET", "/inventory/stock"),
		opInvStock:            httpServer(svcInventory, "GET", "/inventory/stock", 320, 0.4),
		opInvSelect:           db(svcInventory, "postgresql", "SELECT", "inventory", "SELECT sku, qty FROM inventory WHERE sku = ANY($1)", 900, 0.5),
		opFeCallCart:          httpClient(svcFrontend, svcCart, "GET", "/cart"),
		opCart:                fails(httpServer(svcCart, "GET", "/cart", 380, 0.4), "*cart.SessionError", "session store unreachable"),
		opCartRedis:           db(svcCart, "redis", "HGETALL", "cart", "HGETALL cart:?", 260, 0.45),
		opFeCallCheckout:      httpClient(svcFrontend, svcCheckout, "POST", "/checkout"),
		opCheckout:            httpServer(svcCheckout, "POST", "/checkout", 600, 0.4),
		opCheckoutValidate:    fails(internal(svcCheckout, "checkout.validate", 700, 0.35), "*checkout.ValidationError", "address verification service returned 503"),
		opCheckoutCallCart:    httpClient(svcCheckout, svcCart, "GET", "/cart"),
		opCheckoutCallCharge:  rpcClient(svcCheckout, svcPayment, "PaymentService", "Charge"),
		opPaymentCharge:       fails(rpcServer(svcPayment, "PaymentService", "Charge", 6000, 0.5), "*payment.ProviderError", "payment provider timed out"),
		opPaymentCallFraud:    rpcClient(svcPayment, svcFraud, "FraudService", "Check"),
		opFraudCheck:          fails(rpcServer(svcFraud, "FraudService", "Check", 2500, 0.45), "*fraud.ModelError", "scoring model not loaded"),
		opCheckoutCallReserve: httpClient(svcCheckout, svcInventory, "POST", "/inventory/reserve"),
		opInvReserve:          fails(httpServer(svcInventory, "POST", "/inventory/reserve", 420, 0.4), "*inventory.ConflictError", "stock row locked by another transaction"),
		opInvUpdate:           db(svcInventory, "postgresql", "UPDATE", "inventory", "UPDATE inventory SET qty = qty - $1 WHERE sku = $2", 1500, 0.5),
		opFeCallOrder:         httpClient(svcFrontend, svcCheckout, "GET", "/orders/{id}"),
		opOrder:               httpServer(svcCheckout, "GET", "/orders/{id}", 400, 0.4),
		opOrderSelect:         db(svcCheckout, "postgresql", "SELECT", "orders", "SELECT * FROM orders WHERE id = $1", 1200, 0.5),
	}
	return m
}
