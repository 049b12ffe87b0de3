package llmproxyreceiver

import (
	"context"
	"crypto/sha256"
	"encoding/binary"
	"errors"
	"fmt"
	"net"
	"net/http"
	"net/url"
	"sort"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"go.opentelemetry.io/collector/component"
	"go.opentelemetry.io/collector/component/componentstatus"
	"go.opentelemetry.io/collector/config/confighttp"
	"go.opentelemetry.io/collector/config/configoptional"
	"go.opentelemetry.io/collector/consumer"
	"go.opentelemetry.io/collector/receiver"
	"go.opentelemetry.io/collector/receiver/receiverhelper"
	"go.uber.org/zap"

	"github.com/otelcol-lightning/otelcol-lightning/pkg/llmmodels"
	"github.com/otelcol-lightning/otelcol-lightning/pkg/store"
	"github.com/otelcol-lightning/otelcol-lightning/pkg/storeapi"
	"github.com/otelcol-lightning/otelcol-lightning/receiver/llmproxyreceiver/internal/metadata"
)

// registryRefresh is how long the registered models are reused before the
// registry is asked again: a call must not cost a database read.
const registryRefresh = time.Second

// upstream is one inference endpoint with its HTTP client.
type upstream struct {
	name    string // the base URL, without a trailing slash
	host    string
	kind    string
	models  map[string]bool // nil: any model
	client  *http.Client
	apiKey  string
	version *int // the registered weights version, for registry models
}

type proxyReceiver struct {
	cfg    *Config
	set    receiver.Settings
	next   consumer.Traces
	obs    *receiverhelper.ObsReport
	tel    *metadata.TelemetryBuilder
	logger *zap.Logger

	server   *http.Server
	served   chan struct{}
	addr     net.Addr
	static   []*upstream
	registry llmmodels.Registry
	// storeProvider is the attached store, which the v1.0 routes ask
	// whether a rollout exists; nil when the proxy stands alone.
	storeProvider store.Provider
	// registryClient serves the endpoints registered in the registry.
	registryClient *http.Client

	regMu      sync.Mutex
	regModels  []*upstream
	regFetched time.Time

	pause    pauseState
	inflight atomic.Int64
	// rr spreads calls without a rollout over replicas.
	rr atomic.Uint64
	// ctx is cancelled at Shutdown, ending the calls still running.
	ctx    context.Context
	cancel context.CancelFunc
	calls  sync.WaitGroup
}

func newProxyReceiver(set receiver.Settings, cfg *Config, next consumer.Traces) (*proxyReceiver, error) {
	obs, err := receiverhelper.NewObsReport(receiverhelper.ObsReportSettings{
		ReceiverID:             set.ID,
		Transport:              "http",
		ReceiverCreateSettings: set,
	})
	if err != nil {
		return nil, err
	}
	tel, err := metadata.NewTelemetryBuilder(set.TelemetrySettings)
	if err != nil {
		return nil, err
	}
	r := &proxyReceiver{cfg: cfg, set: set, next: next, obs: obs, tel: tel, logger: set.Logger}
	r.pause.retryAfter = cfg.PauseRetryAfter
	return r, nil
}

// Start builds the upstream clients, finds the store extension's router and
// model registry (when configured) and starts the server.
func (r *proxyReceiver) Start(ctx context.Context, host component.Host) error {
	r.ctx, r.cancel = context.WithCancel(context.Background())
	for i := range r.cfg.Upstreams {
		u, err := r.newUpstream(ctx, host, r.cfg.Upstreams[i])
		if err != nil {
			return fmt.Errorf("upstreams[%d]: %w", i, err)
		}
		if u != nil {
			r.static = append(r.static, u)
		}
	}
	handler := r.handler()
	if r.cfg.Store.Type().String() != "" {
		if err := r.attachStore(host, handler); err != nil {
			return err
		}
	}
	ln, err := r.cfg.ToListener(ctx)
	if err != nil {
		return fmt.Errorf("listen on %s: %w", r.cfg.NetAddr.Endpoint, err)
	}
	server, err := r.cfg.ToServer(ctx, host.GetExtensions(), r.set.TelemetrySettings, handler)
	if err != nil {
		return errors.Join(fmt.Errorf("create the proxy server: %w", err), ln.Close())
	}
	r.server, r.addr = server, ln.Addr()
	r.served = make(chan struct{})
	go func() {
		defer close(r.served)
		if err := server.Serve(ln); err != nil && !errors.Is(err, http.ErrServerClosed) {
			componentstatus.ReportStatus(host, componentstatus.NewFatalErrorEvent(err))
		}
	}()
	names := make([]string, len(r.static))
	for i, u := range r.static {
		names[i] = u.kind + " " + u.name
	}
	r.logger.Info("LLM proxy started", zap.String("endpoint", ln.Addr().String()),
		zap.Strings("upstreams", names), zap.Bool("model_registry", r.registry != nil))
	if len(r.static) == 0 && r.registry == nil {
		r.logger.Info("LLM proxy has no upstream; calls get 503 until one is configured: " + r.cfg.MissingUpstreamHint)
	}
	return nil
}

// attachStore mounts Agent Lightning v1.0's proxy routes on the store API's
// port and takes the model registry, when the extension has them.
func (r *proxyReceiver) attachStore(host component.Host, handler http.Handler) error {
	ext, ok := host.GetExtensions()[r.cfg.Store]
	if !ok {
		return fmt.Errorf("store: extension %s not found; is it listed under service.extensions?", r.cfg.Store)
	}
	if p, ok := ext.(store.Provider); ok {
		r.storeProvider = p
	}
	if reg, ok := ext.(llmmodels.Registry); ok {
		r.registry = reg
		r.registryClient = &http.Client{Transport: newTransport()}
	}
	router, ok := ext.(storeapi.Router)
	if !ok {
		return fmt.Errorf("store: extension %s does not serve the store API (storeapi.Router)", r.cfg.Store)
	}
	// The store's server keeps a write timeout for its quick routes; a model
	// call may take the proxy's whole budget (every attempt and backoff), so
	// calls mounted there carry their own write deadline.
	budget := r.cfg.Timeout*time.Duration(max(r.cfg.Retry.MaxAttempts, 1)) +
		r.cfg.Retry.MaxBackoff*time.Duration(max(r.cfg.Retry.MaxAttempts-1, 0))
	onStore := http.HandlerFunc(func(w http.ResponseWriter, req *http.Request) {
		storeapi.ExtendForLongPoll(w, budget.Seconds())
		handler.ServeHTTP(w, req)
	})
	for _, pattern := range []string{
		// Every method: checkV1 answers v1.0's 405 for the others.
		"/proxy/rollout/",
		"POST /proxy/pause",
		"POST /proxy/resume",
		"GET /proxy/state",
	} {
		if err := router.Handle(pattern, onStore); err != nil {
			return fmt.Errorf("store: mount %s on %s: %w", pattern, r.cfg.Store, err)
		}
	}
	return nil
}

// newTransport is the transport of registry endpoints: many concurrent
// streams to few hosts, so many idle connections per host.
func newTransport() *http.Transport {
	t := http.DefaultTransport.(*http.Transport).Clone()
	t.MaxIdleConns = 4096
	t.MaxIdleConnsPerHost = 1024
	return t
}

func (r *proxyReceiver) newUpstream(ctx context.Context, host component.Host, uc UpstreamConfig) (*upstream, error) {
	base := strings.TrimRight(uc.Endpoint, "/")
	if base == "" {
		return nil, nil
	}
	cc := uc.ClientConfig
	// Config.Timeout bounds each attempt, streams included; the client's
	// own timeout would cut long streams.
	cc.Timeout = 0
	if !cc.Keepalive.HasValue() {
		ka := confighttp.NewDefaultKeepaliveClientConfig()
		ka.MaxIdleConns = 4096
		ka.MaxIdleConnsPerHost = 1024
		cc.Keepalive = configoptional.Some(ka)
	}
	client, err := cc.ToClient(ctx, host.GetExtensions(), r.set.TelemetrySettings)
	if err != nil {
		return nil, err
	}
	u := &upstream{name: base, kind: uc.Kind, client: client, apiKey: string(uc.APIKey)}
	if u.kind == "" {
		u.kind = KindVLLM
	}
	if p, err := url.Parse(base); err == nil {
		u.host = p.Hostname()
	}
	if len(uc.Models) > 0 {
		u.models = make(map[string]bool, len(uc.Models))
		for _, m := range uc.Models {
			u.models[m] = true
		}
	}
	return u, nil
}

// Shutdown stops accepting calls, ends the running ones and waits for them
// (their spans are still sent).
func (r *proxyReceiver) Shutdown(ctx context.Context) error {
	var err error
	if r.server != nil {
		// Let short calls finish; long streams are cancelled below.
		sctx, cancel := context.WithTimeout(ctx, 2*time.Second)
		err = r.server.Shutdown(sctx)
		cancel()
		if errors.Is(err, context.DeadlineExceeded) {
			err = nil
		}
	}
	if r.cancel != nil {
		r.cancel()
	}
	if r.server != nil {
		_ = r.server.Close()
		<-r.served
	}
	r.calls.Wait()
	r.tel.Shutdown()
	return err
}

// errNoUpstream / errUnknownModel are why a call could not be routed.
var (
	errNoUpstream   = errors.New("no upstream configured")
	errUnknownModel = errors.New("no upstream serves this model")
)

// pick chooses the upstream of a call: the upstreams that list the model,
// else the registered endpoints of that model, else those serving any
// model (unless strict: only the endpoints that serve the model by name,
// Agent Lightning v1.0's pool). Among several replicas a rollout always gets
// the same one (v1.0's rule: sha256(rollout id)[:8] modulo the pool sorted
// by endpoint); calls without a rollout go round robin.
func (r *proxyReceiver) pick(ctx context.Context, model, rolloutID string, strict bool) (*upstream, error) {
	var named, any []*upstream
	for _, u := range r.static {
		switch {
		case u.models == nil:
			any = append(any, u)
		case u.models[model]:
			named = append(named, u)
		}
	}
	pool := named
	if len(pool) == 0 && r.registry != nil {
		for _, u := range r.registered(ctx) {
			if u.models[model] {
				pool = append(pool, u)
			}
		}
	}
	if len(pool) == 0 && !strict {
		pool = any
	}
	if len(pool) == 0 {
		if len(r.static) == 0 && (r.registry == nil || len(r.registered(ctx)) == 0) {
			return nil, errNoUpstream
		}
		return nil, errUnknownModel
	}
	if len(pool) == 1 {
		return pool[0], nil
	}
	sorted := append([]*upstream(nil), pool...)
	sort.Slice(sorted, func(i, j int) bool { return sorted[i].name < sorted[j].name })
	if rolloutID == "" {
		return sorted[r.rr.Add(1)%uint64(len(sorted))], nil
	}
	sum := sha256.Sum256([]byte(rolloutID))
	return sorted[binary.BigEndian.Uint64(sum[:8])%uint64(len(sorted))], nil
}

// registered returns the registry's models as upstreams, refreshed at most
// once per registryRefresh. A failed read keeps the previous list.
func (r *proxyReceiver) registered(ctx context.Context) []*upstream {
	r.regMu.Lock()
	defer r.regMu.Unlock()
	if time.Since(r.regFetched) < registryRefresh {
		return r.regModels
	}
	r.regFetched = time.Now()
	models, err := r.registry.Models(ctx)
	if err != nil {
		r.logger.Warn("LLM proxy: reading the model registry failed", zap.Error(err))
		return r.regModels
	}
	out := make([]*upstream, 0, len(models))
	for _, m := range models {
		v := m.Version
		u := &upstream{name: strings.TrimRight(m.Endpoint, "/"), kind: KindVLLM, client: r.registryClient,
			models: map[string]bool{m.Name: true}, version: &v}
		if p, err := url.Parse(u.name); err == nil {
			u.host = p.Hostname()
		}
		out = append(out, u)
	}
	r.regModels = out
	return out
}

// knownModels lists the model names the proxy routes explicitly.
func (r *proxyReceiver) knownModels(ctx context.Context) []string {
	seen := map[string]bool{}
	for _, u := range r.static {
		for m := range u.models {
			seen[m] = true
		}
	}
	if r.registry != nil {
		for _, u := range r.registered(ctx) {
			for m := range u.models {
				seen[m] = true
			}
		}
	}
	out := make([]string, 0, len(seen))
	for m := range seen {
		out = append(out, m)
	}
	sort.Strings(out)
	return out
}
