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

	"go.opentelemetry.io/collector/component"
	"go.opentelemetry.io/collector/component/componentstatus"
	"go.opentelemetry.io/collector/extension"
	"go.opentelemetry.io/otel/attribute"
	"go.opentelemetry.io/otel/metric"
	"go.uber.org/zap"
	"golang.org/x/net/http2"
	"golang.org/x/net/netutil"

	"github.com/otelcol-lightning/otelcol-lightning/extension/lightningstoreextension/internal/metadata"
	"github.com/otelcol-lightning/otelcol-lightning/internal/traceshttp"
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
)

// Attributes of requests_refused.
var (
	refusedRESTTooDeep   = refusedOption("rest", "too_deep")
	refusedTracesTooDeep = refusedOption("traces", "too_deep")
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
		return errors.Join(err, core.Close())
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
	server, err := t.cfg.ToServer(ctx, host.GetExtensions(), t.telemetry, handler)
	if err != nil {
		return errors.Join(fmt.Errorf("create the API server: %w", err), ln.Close(), core.Close())
	}

	t.store, t.server, t.addr, t.tb = core, server, ln.Addr(), tb
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
