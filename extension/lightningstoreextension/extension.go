package lightningstoreextension

import (
	"context"
	"crypto/tls"
	"errors"
	"fmt"
	"net"
	"net/http"
	"os"
	"path/filepath"
	"sync"
	"time"

	"go.opentelemetry.io/collector/component"
	"go.opentelemetry.io/collector/component/componentstatus"
	"go.opentelemetry.io/collector/config/confighttp"
	"go.opentelemetry.io/collector/config/configoptional"
	"go.opentelemetry.io/collector/extension"
	"go.opentelemetry.io/otel/attribute"
	"go.opentelemetry.io/otel/metric"
	"go.uber.org/zap"
	"golang.org/x/net/http2"
	"golang.org/x/net/netutil"

	"github.com/otelcol-lightning/otelcol-lightning/extension/lightningstoreextension/internal/metadata"
	"github.com/otelcol-lightning/otelcol-lightning/internal/traceshttp"
	"github.com/otelcol-lightning/otelcol-lightning/pkg/aglv1"
	"github.com/otelcol-lightning/otelcol-lightning/pkg/dashboard"
	"github.com/otelcol-lightning/otelcol-lightning/pkg/depthlimit"
	"github.com/otelcol-lightning/otelcol-lightning/pkg/llmmodels"
	"github.com/otelcol-lightning/otelcol-lightning/pkg/model"
	"github.com/otelcol-lightning/otelcol-lightning/pkg/otlpspan"
	"github.com/otelcol-lightning/otelcol-lightning/pkg/store"
	"github.com/otelcol-lightning/otelcol-lightning/pkg/store/memstore"
	"github.com/otelcol-lightning/otelcol-lightning/pkg/store/pgstore"
	"github.com/otelcol-lightning/otelcol-lightning/pkg/store/sqlitestore"
	"github.com/otelcol-lightning/otelcol-lightning/pkg/storeapi"
)

// lightningStore owns the Lightning store and serves Agent Lightning's REST
// API and /v1/traces over it. Other components reach the store through
// store.Provider, the identity policy through otlpspan.IdentityProvider, and
// mount their routes through storeapi.Router.
type lightningStore struct {
	cfg       *Config
	telemetry component.TelemetrySettings
	logger    *zap.Logger
	identity  otlpspan.Config

	store  *store.Core
	traces *tracesBridge
	server *http.Server
	addr   net.Addr // where the API listens, once started
	tb     *metadata.TelemetryBuilder
	served chan struct{} // closed when Serve returns

	// auto ends the attempts of rollouts created from spans (D17).
	auto            *autoCompleter
	unsubscribeAuto func()

	muxMu sync.Mutex
	mux   *http.ServeMux // the API's mux, for routes other components mount
}

var (
	_ extension.Extension       = (*lightningStore)(nil)
	_ store.Provider            = (*lightningStore)(nil)
	_ store.DataDirProvider     = (*lightningStore)(nil)
	_ store.AttemptNotifier     = (*lightningStore)(nil)
	_ store.SpanNotifier        = (*lightningStore)(nil)
	_ otlpspan.IdentityProvider = (*lightningStore)(nil)
	_ storeapi.Router           = (*lightningStore)(nil)
	_ llmmodels.Registry        = (*lightningStore)(nil)
)

// UpsertModels registers models (llmmodels.Registry, fed by v1.0's
// /api/models and read by the llm proxy).
func (t *lightningStore) UpsertModels(ctx context.Context, models []llmmodels.Model) error {
	if t.store == nil {
		return errors.New("the store is not running")
	}
	return t.store.UpsertModels(ctx, models)
}

// DeleteModels removes every registered model.
func (t *lightningStore) DeleteModels(ctx context.Context) error {
	if t.store == nil {
		return errors.New("the store is not running")
	}
	return t.store.DeleteModels(ctx)
}

// Models lists the registered models, sorted by name then endpoint.
func (t *lightningStore) Models(ctx context.Context) ([]llmmodels.Model, error) {
	if t.store == nil {
		return nil, errors.New("the store is not running")
	}
	return t.store.Models(ctx)
}

// Attributes of requests_refused.
var (
	refusedRESTTooDeep   = refusedOption("rest", "too_deep")
	refusedTracesTooDeep = refusedOption("traces", "too_deep")
	refusedAPIv1TooDeep  = refusedOption("api_v1", "too_deep")
)

func refusedOption(door, reason string) metric.AddOption {
	return metric.WithAttributeSet(attribute.NewSet(attribute.String("door", door), attribute.String("reason", reason)))
}

func newLightningStore(cfg *Config, set extension.Settings) *lightningStore {
	t := &lightningStore{cfg: cfg, telemetry: set.TelemetrySettings, logger: set.Logger}
	// Validate has checked the policy; WithDefaults only guards a config
	// built in code.
	t.identity = cfg.identityPolicy().WithDefaults()
	t.identity.Unknown = ""
	t.traces = &tracesBridge{cfg: cfg.Traces, store: t.LightningStore, logger: set.Logger}
	return t
}

// LightningStore returns the store, or nil before Start. Extensions start
// before pipeline components, so components looking it up in their own
// Start always find it.
func (t *lightningStore) LightningStore() store.Store {
	if t.store == nil {
		return nil
	}
	return t.store
}

// Start opens the store and starts serving the API.
func (t *lightningStore) Start(ctx context.Context, host component.Host) error {
	backend, err := t.openBackend(ctx)
	if err != nil {
		return err
	}
	core := store.New(backend, store.Options{
		ScanInterval: t.cfg.Watchdog.Interval,
		ScanDebounce: t.cfg.Watchdog.Debounce,
		Logger:       t.logger,
	})

	tb, err := metadata.NewTelemetryBuilder(t.telemetry)
	if err == nil {
		err = tb.RegisterLightningstoreRowsUndecodableCallback(func(_ context.Context, o metric.Int64Observer) error {
			o.Observe(core.UndecodableRows())
			return nil
		})
	}
	if err != nil {
		return errors.Join(fmt.Errorf("create telemetry: %w", err), core.Close())
	}
	ln, err := t.listen(ctx)
	if err != nil {
		return errors.Join(fmt.Errorf("listen on %s: %w", t.cfg.NetAddr.Endpoint, err), core.Close())
	}
	traces := traceshttp.NewHandler(t.traces.consume, t.cfg.Traces.MaxDecompressedSize)
	traces.TooDeep = func(ctx context.Context) { tb.LightningstoreRequestsRefused.Add(ctx, 1, refusedTracesTooDeep) }
	handler := storeapi.NewHandler(core, storeapi.WithLogger(t.logger), storeapi.WithTracesHandler(traces),
		storeapi.WithExtraRoutes(t.keepMux),
		storeapi.WithTooDeep(func(ctx context.Context) { tb.LightningstoreRequestsRefused.Add(ctx, 1, refusedRESTTooDeep) }))
	// CORS is Agent Lightning's (preflight 200 with every method, max age
	// 600 s), not confighttp's, which answers preflights 204 listing only
	// the requested method; so the server gets the configuration without
	// it, and the store's CORS goes in front of everything confighttp adds
	// (authentication must not see a preflight).
	serverCfg := t.cfg.ServerConfig
	serverCfg.CORS = configoptional.None[confighttp.CORSConfig]()
	server, err := serverCfg.ToServer(ctx, host.GetExtensions(), t.telemetry, handler)
	if err != nil {
		return errors.Join(fmt.Errorf("create the API server: %w", err), ln.Close(), core.Close())
	}
	if cors := t.cfg.CORS.Get(); cors != nil {
		server.Handler = storeapi.WrapCORS(server.Handler, cors.AllowedOrigins, cors.MaxAge)
	}

	// The API's mux exists (keepMux ran in NewHandler); nothing is served yet.
	if err := t.mountAPIv1(ctx, host, core, tb); err != nil {
		t.dropMux()
		tb.Shutdown()
		return errors.Join(err, ln.Close(), core.Close())
	}
	t.store, t.server, t.addr = core, server, ln.Addr()
	if t.cfg.Dashboard.Enabled {
		if err := t.mountDashboard(core); err != nil {
			t.store, t.server = nil, nil
			t.dropMux()
			tb.Shutdown()
			return errors.Join(err, ln.Close(), core.Close())
		}
	}
	t.tb = tb
	if cfg := t.cfg.Identity.AutoComplete; cfg.Settle > 0 || cfg.IdleTimeout > 0 {
		ac := newAutoCompleter(core, cfg, t.logger, tb)
		t.unsubscribeAuto = core.SubscribeSpans(ac.observe)
		t.auto = ac
		ac.start()
	}
	t.served = make(chan struct{})
	go func() {
		defer close(t.served)
		if err := server.Serve(ln); err != nil && !errors.Is(err, http.ErrServerClosed) {
			componentstatus.ReportStatus(host, componentstatus.NewFatalErrorEvent(err))
		}
	}()
	t.logger.Info("Agent Lightning store API started",
		zap.String("endpoint", ln.Addr().String()), zap.String("backend", t.cfg.Store.Backend))
	return nil
}

// mountDashboard mounts the web dashboard on the API's mux. With auth
// configured, the shell (the page and its scripts, the same bytes for
// everyone, no data) is served ahead of the authenticator so that a browser
// can load the login form; every data route stays behind TLS and auth.
func (t *lightningStore) mountDashboard(core *store.Core) error {
	err := dashboard.Register(t.Handle, core, dashboard.Options{
		MetricsURL: t.cfg.Dashboard.MetricsEndpoint,
		Logger:     t.logger,
	})
	if err != nil {
		return fmt.Errorf("mount the dashboard: %w", err)
	}
	if t.cfg.Auth.HasValue() {
		shell, authed := dashboard.ShellHandler(), t.server.Handler
		t.server.Handler = http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			if dashboard.IsShell(r) {
				shell.ServeHTTP(w, r)
				return
			}
			authed.ServeHTTP(w, r)
		})
	}
	return nil
}

// mountAPIv1 serves Agent Lightning v1.0's API on the store's server.
func (t *lightningStore) mountAPIv1(ctx context.Context, host component.Host, core *store.Core, tb *metadata.TelemetryBuilder) error {
	if !t.cfg.APIv1.Enabled {
		return nil
	}
	var auth aglv1.Authenticate
	if a := t.cfg.APIv1.Auth; a != nil {
		server, err := a.GetServerAuthenticator(ctx, host.GetExtensions())
		if err != nil {
			return fmt.Errorf("api_v1 auth: %w", err)
		}
		auth = server.Authenticate
	}
	now := func() float64 { return float64(time.Now().UnixNano()) / 1e9 }
	if err := aglv1.New(core, auth, t.traces.pipeline, t.logger, now).Register(depthGuarded{t, tb}); err != nil {
		return fmt.Errorf("mount the Agent Lightning v1.0 API: %w", err)
	}
	return nil
}

// depthGuarded mounts routes whose JSON bodies are refused, as they are
// read, once they nest deeper than the store reads back (the same limit as
// /v1/agl's bodies), counted under door api_v1.
type depthGuarded struct {
	t  *lightningStore
	tb *metadata.TelemetryBuilder
}

func (g depthGuarded) Handle(pattern string, h http.Handler) error {
	return g.t.Handle(pattern, http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		ctx := r.Context()
		depthlimit.GuardJSONBody(r, depthlimit.Max, func() {
			g.tb.LightningstoreRequestsRefused.Add(ctx, 1, refusedAPIv1TooDeep)
		})
		h.ServeHTTP(w, r)
	}))
}

// listen is confighttp's ToListener with max_connections applied to the TCP
// listener, under TLS: net/http serves HTTP/2 only on connections it sees
// as *tls.Conn, so the limit cannot wrap the TLS listener.
func (t *lightningStore) listen(ctx context.Context) (net.Listener, error) {
	ln, err := t.cfg.NetAddr.Listen(ctx)
	if err != nil {
		return nil, err
	}
	if t.cfg.MaxConnections > 0 {
		ln = netutil.LimitListener(ln, t.cfg.MaxConnections)
	}
	if t.cfg.TLS.HasValue() {
		tlsCfg, err := t.cfg.TLS.Get().LoadTLSConfig(ctx)
		if err != nil {
			return nil, errors.Join(err, ln.Close())
		}
		tlsCfg.NextProtos = []string{http2.NextProtoTLS, "http/1.1"}
		ln = tls.NewListener(ln, tlsCfg)
	}
	return ln, nil
}

// openBackend opens the configured database, creating the SQLite file's
// directory when needed.
func (t *lightningStore) openBackend(ctx context.Context) (store.Backend, error) {
	switch t.cfg.Store.Backend {
	case BackendMemory:
		return memstore.New(), nil
	case BackendSQLite:
		path := t.cfg.Store.Path
		if err := os.MkdirAll(filepath.Dir(path), 0o750); err != nil {
			return nil, fmt.Errorf("create the store directory: %w", err)
		}
		backend, err := sqlitestore.OpenContext(ctx, path)
		if err != nil {
			return nil, fmt.Errorf("open the sqlite store: %w", err)
		}
		return backend, nil
	case BackendPostgres:
		return t.openPostgres(ctx)
	default:
		return nil, fmt.Errorf("unknown store backend %q", t.cfg.Store.Backend)
	}
}

// openPostgres connects to PostgreSQL and migrates the store's schema.
func (t *lightningStore) openPostgres(ctx context.Context) (store.Backend, error) {
	sc := t.cfg.Store
	cfg := pgstore.Config{
		DSN:             string(sc.DSN),
		Schema:          sc.Schema,
		MaxConns:        sc.MaxConns,
		MinConns:        sc.MinConns,
		ConnMaxLifetime: sc.ConnMaxLifetime,
	}
	if sc.TLS.HasValue() {
		tlsCfg, err := sc.TLS.Get().LoadTLSConfig(ctx)
		if err != nil {
			return nil, fmt.Errorf("store.tls: %w", err)
		}
		cfg.TLS = tlsCfg
	}
	backend, err := pgstore.Open(ctx, cfg)
	if err != nil {
		return nil, fmt.Errorf("open the postgres store: %w", err)
	}
	return backend, nil
}

// Shutdown stops accepting requests, lets the ones in flight finish until
// ctx ends (then cuts them), and closes the store.
func (t *lightningStore) Shutdown(ctx context.Context) error {
	var errs []error
	t.muxMu.Lock()
	t.mux = nil
	t.muxMu.Unlock()
	if t.server != nil {
		if err := t.server.Shutdown(ctx); err != nil {
			errs = append(errs, fmt.Errorf("stop the API server: %w", err), t.server.Close())
		}
		<-t.served
		t.server = nil
	}
	if t.auto != nil {
		t.unsubscribeAuto()
		t.auto.shutdown()
		t.auto = nil
	}
	if t.tb != nil {
		t.tb.Shutdown()
		t.tb = nil
	}
	if t.store != nil {
		if err := t.store.Close(); err != nil {
			errs = append(errs, fmt.Errorf("close the store: %w", err))
		}
		t.store = nil
	}
	return errors.Join(errs...)
}

// IdentityPolicy returns the pipeline's identity policy (the identity
// section), the one the exporter, the triplet processor and the messages
// connector apply.
func (t *lightningStore) IdentityPolicy() otlpspan.Config { return t.identity }

// DataDir is the SQLite file's directory, where other components may keep
// files that belong with the store; "" for the other backends.
func (t *lightningStore) DataDir() string {
	if t.cfg.Store.Backend != BackendSQLite {
		return ""
	}
	return filepath.Dir(t.cfg.Store.Path)
}

// SubscribeAttempts forwards to the store's attempt events. Components
// subscribe in their own Start, after this extension's; before Start or
// after Shutdown there is nothing to report and fn is never called.
func (t *lightningStore) SubscribeAttempts(fn func(store.AttemptEvent)) func() {
	if t.store == nil {
		return func() {}
	}
	return t.store.SubscribeAttempts(fn)
}

// SubscribeSpans forwards to the store's span events, like SubscribeAttempts.
func (t *lightningStore) SubscribeSpans(fn func([]model.Span)) func() {
	if t.store == nil {
		return func() {}
	}
	return t.store.SubscribeSpans(fn)
}

// keepMux remembers the API's mux so that Handle can add routes to the
// running server (http.ServeMux accepts registrations while serving).
func (t *lightningStore) keepMux(mux *http.ServeMux) {
	t.muxMu.Lock()
	defer t.muxMu.Unlock()
	t.mux = mux
}

// dropMux forgets the mux of a server that will not run.
func (t *lightningStore) dropMux() {
	t.muxMu.Lock()
	defer t.muxMu.Unlock()
	t.mux = nil
}

// Handle mounts a route of another component on the store API's server.
// Unmatched paths and methods keep the API's JSON 404 and 405 answers.
func (t *lightningStore) Handle(pattern string, handler http.Handler) (err error) {
	t.muxMu.Lock()
	defer t.muxMu.Unlock()
	if t.mux == nil {
		return errors.New("the store API server is not running")
	}
	// ServeMux reports a clashing or malformed pattern by panicking; turn
	// that into an error for the component that asked.
	defer func() {
		if r := recover(); r != nil {
			err = fmt.Errorf("mount %q on the store API: %v", pattern, r)
		}
	}()
	t.mux.Handle(pattern, handler)
	return nil
}
