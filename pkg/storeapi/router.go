package storeapi

import "net/http"

// Router is implemented by the component that serves the store API (the
// lightningstore extension). Other components find it on the host by
// component id and mount their own routes on the same server and port, the
// way Agent Lightning serves everything from its store's port: the trainer
// extension's report, and later other API generations and a dashboard.
type Router interface {
	// Handle registers handler for pattern (net/http ServeMux syntax, such
	// as "GET /v1/lightning/algorithm"). It fails when the server is not
	// running or the pattern clashes with a route already registered.
	// Routes stay until the server stops.
	Handle(pattern string, handler http.Handler) error
}
