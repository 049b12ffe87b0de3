package storeapi

import (
	"context"
	"net/http"
	"strings"

	"go.uber.org/zap"

	"github.com/otelcol-lightning/otelcol-lightning/pkg/depthlimit"
	"github.com/otelcol-lightning/otelcol-lightning/pkg/store"
)

// Prefix is the path prefix of the Agent Lightning store API.
const Prefix = "/v1/agl"

// Option configures the handler returned by NewHandler.
type Option func(*options)

type options struct {
	logger      *zap.Logger
	corsOrigins []string
	traces      http.Handler
	extra       []func(*http.ServeMux)
	tooDeep     func(context.Context)
}

// WithLogger sets where store failures (the 500 answers) are logged.
func WithLogger(l *zap.Logger) Option {
	return func(o *options) {
		if l != nil {
			o.logger = l
		}
	}
}

// WithCORS answers cross-origin requests from the given origins ("*" for
// any) the way Agent Lightning's server does: every method and header is
// allowed, credentials too, and every response header is exposed. Without
// this option no CORS header is sent.
func WithCORS(allowedOrigins []string) Option {
	return func(o *options) { o.corsOrigins = allowedOrigins }
}

// WithTracesHandler serves OTLP/HTTP trace ingest at POST /v1/traces.
// Without it that route answers 501, like the other OTLP signals.
func WithTracesHandler(h http.Handler) Option {
	return func(o *options) { o.traces = h }
}

// WithExtraRoutes lets the caller register more routes on the handler's
// mux, for example the collector's own API under /v1/lightning/. Patterns
// must not clash with the store API's; unmatched paths and methods keep the
// JSON 404 and 405 answers.
func WithExtraRoutes(register func(mux *http.ServeMux)) Option {
	return func(o *options) { o.extra = append(o.extra, register) }
}

// WithTooDeep is called for every request body refused because it nests
// deeper than depthlimit.Max (the caller counts them).
func WithTooDeep(fn func(context.Context)) Option {
	return func(o *options) { o.tooDeep = fn }
}

// handler serves the Agent Lightning v0.3 REST API over a store.
type handler struct {
	store   store.Store
	logger  *zap.Logger
	tooDeep func(context.Context)
	mux     *http.ServeMux
}

// NewHandler returns an http.Handler serving the whole /v1/agl/* API of
// Agent Lightning v0.3 over s, wire-compatible with its Python
// LightningStoreServer: same routes, status codes, JSON bodies and error
// shapes. It also answers the reserved OTLP routes (/v1/traces, /v1/metrics,
// /v1/logs, /v1/development/profiles).
func NewHandler(s store.Store, opts ...Option) http.Handler {
	o := options{logger: zap.NewNop()}
	for _, opt := range opts {
		opt(&o)
	}
	h := &handler{store: s, logger: o.logger, tooDeep: o.tooDeep, mux: http.NewServeMux()}
	h.routes()
	h.lightningRoutes()
	h.otlpRoutes(o.traces)
	for _, register := range o.extra {
		register(h.mux)
	}
	var out http.Handler = h
	if cors := newCORS(o.corsOrigins); cors != nil {
		out = cors.wrap(out)
	}
	return out
}

func (h *handler) routes() {
	routes := []struct {
		pattern string
		fn      http.HandlerFunc
	}{
		{"GET /health", h.health},
		{"GET /statistics", h.statistics},

		{"POST /queues/rollouts/enqueue", h.enqueueRollouts},
		{"POST /queues/rollouts/dequeue", h.dequeueRollouts},

		{"POST /rollouts", h.startRollout},
		{"GET /rollouts", h.queryRollouts},
		{"POST /rollouts/search", h.queryRollouts},
		{"GET /rollouts/{rollout_id}", h.getRollout},
		{"POST /rollouts/{rollout_id}", h.updateRollout},

		{"POST /rollouts/{rollout_id}/attempts", h.startAttempt},
		{"GET /rollouts/{rollout_id}/attempts", h.queryAttempts},
		{"POST /rollouts/{rollout_id}/attempts/search", h.queryAttempts},
		// More specific than {attempt_id}, which only exists as a POST.
		{"GET /rollouts/{rollout_id}/attempts/latest", h.getLatestAttempt},
		{"POST /rollouts/{rollout_id}/attempts/{attempt_id}", h.updateAttempt},

		{"GET /workers", h.queryWorkers},
		{"POST /workers/search", h.queryWorkers},
		{"GET /workers/{worker_id}", h.getWorker},
		{"POST /workers/{worker_id}", h.updateWorker},

		{"GET /resources", h.queryResources},
		{"POST /resources", h.addResources},
		{"GET /resources/latest", h.getLatestResources},
		{"POST /resources/{resources_id}", h.updateResources},
		{"GET /resources/{resources_id}", h.getResources},

		{"POST /spans", h.addSpan},
		{"GET /spans", h.querySpans},
		{"POST /spans/search", h.querySpans},
		{"POST /spans/next", h.nextSequenceID},

		{"POST /waits/rollouts", h.waitForRollouts},
	}
	for _, rt := range routes {
		method, path, _ := strings.Cut(rt.pattern, " ")
		h.mux.HandleFunc(method+" "+Prefix+path, h.limitDepth(rt.fn))
	}
}

// limitDepth refuses bodies nested deeper than depthlimit.Max as they are
// read, before they are decoded: the store must be able to read back,
// sort and filter everything it accepts (readBody answers 400).
func (h *handler) limitDepth(next http.HandlerFunc) http.HandlerFunc {
	return func(w http.ResponseWriter, r *http.Request) {
		depthlimit.GuardJSONBody(r, depthlimit.Max, func() {
			if h.tooDeep != nil {
				h.tooDeep(r.Context())
			}
		})
		next(w, r)
	}
}

// otlpRoutes reserves the OTLP/HTTP paths: traces go to the given handler
// when there is one; the other signals are not implemented, as in Agent
// Lightning (501, empty body).
func (h *handler) otlpRoutes(traces http.Handler) {
	notImplemented := func(w http.ResponseWriter, _ *http.Request) { w.WriteHeader(http.StatusNotImplemented) }
	if traces != nil {
		h.mux.Handle("POST /v1/traces", traces)
	} else {
		h.mux.HandleFunc("POST /v1/traces", notImplemented)
	}
	h.mux.HandleFunc("POST /v1/metrics", notImplemented)
	h.mux.HandleFunc("POST /v1/logs", notImplemented)
	h.mux.HandleFunc("POST /v1/development/profiles", notImplemented)
}

// ServeHTTP routes through the mux and turns its plain-text 404 and 405
// into FastAPI's JSON bodies.
func (h *handler) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	route, pattern := h.mux.Handler(r)
	if pattern != "" {
		h.mux.ServeHTTP(w, r)
		return
	}
	// No route matched: let the mux decide between 404, 405 and a
	// redirect (unclean paths), then replace its text body with JSON.
	rec := &statusRecorder{header: http.Header{}}
	route.ServeHTTP(rec, r)
	switch rec.status {
	case http.StatusMethodNotAllowed:
		if allow := rec.header.Get("Allow"); allow != "" {
			w.Header().Set("Allow", allow)
		}
		writeDetail(w, http.StatusMethodNotAllowed, "Method Not Allowed")
	case http.StatusNotFound:
		writeDetail(w, http.StatusNotFound, "Not Found")
	default:
		h.mux.ServeHTTP(w, r)
	}
}

// statusRecorder keeps only the status and headers of a response.
type statusRecorder struct {
	header http.Header
	status int
}

func (s *statusRecorder) Header() http.Header { return s.header }

func (s *statusRecorder) Write(b []byte) (int, error) {
	if s.status == 0 {
		s.status = http.StatusOK
	}
	return len(b), nil
}

func (s *statusRecorder) WriteHeader(code int) {
	if s.status == 0 {
		s.status = code
	}
}
