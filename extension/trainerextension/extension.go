package trainerextension

import (
	"context"
	"errors"
	"fmt"
	"net"
	"net/http"
	"os"
	"path/filepath"

	"go.opentelemetry.io/collector/component"
	"go.opentelemetry.io/collector/component/componentstatus"
	"go.opentelemetry.io/collector/extension"
	"go.uber.org/zap"

	"github.com/otelcol-lightning/otelcol-lightning/internal/traceshttp"
	"github.com/otelcol-lightning/otelcol-lightning/pkg/store"
	"github.com/otelcol-lightning/otelcol-lightning/pkg/store/memstore"
	"github.com/otelcol-lightning/otelcol-lightning/pkg/store/pgstore"
	"github.com/otelcol-lightning/otelcol-lightning/pkg/store/sqlitestore"
	"github.com/otelcol-lightning/otelcol-lightning/pkg/storeapi"
)

// trainer owns the Lightning store and serves Agent Lightning's REST API
// over it. Other components reach the store through store.Provider.
type trainer struct {
	cfg       *Config
	telemetry component.TelemetrySettings
	logger    *zap.Logger

	store  *store.Core
	traces *tracesBridge
	server *http.Server
	addr   net.Addr      // where the API listens, once started
	served chan struct{} // closed when Serve returns
	loop   *loop         // dispatch and algorithm (trainer.go)
}

var (
	_ extension.Extension = (*trainer)(nil)
	_ store.Provider      = (*trainer)(nil)
)

func newTrainer(cfg *Config, set extension.Settings) *trainer {
	t := &trainer{cfg: cfg, telemetry: set.TelemetrySettings, logger: set.Logger}
	t.traces = &tracesBridge{cfg: cfg.Traces, store: t.LightningStore}
	return t
}

// LightningStore returns the store, or nil before Start. Extensions start
// before pipeline components, so components looking it up in their own
// Start always find it.
func (t *trainer) LightningStore() store.Store {
	if t.store == nil {
		return nil
	}
	return t.store
}

// Start opens the store and starts serving the API. The trainer loop is
// prepared here and started in Ready.
func (t *trainer) Start(ctx context.Context, host component.Host) (err error) {
	loop, err := newLoop(ctx, t.cfg, host, t.telemetry)
	if err != nil {
		return err
	}
	defer func() {
		if err != nil {
			loop.close()
		}
	}()
	backend, err := t.openBackend(ctx)
	if err != nil {
		return err
	}
	core := store.New(backend, store.Options{
		ScanInterval: t.cfg.Watchdog.Interval,
		ScanDebounce: t.cfg.Watchdog.Debounce,
		Logger:       t.logger,
	})

	ln, err := t.cfg.ToListener(ctx)
	if err != nil {
		return errors.Join(fmt.Errorf("listen on %s: %w", t.cfg.NetAddr.Endpoint, err), core.Close())
	}
	traces := traceshttp.NewHandler(t.traces.consume, t.cfg.Traces.MaxDecompressedSize)
	handler := storeapi.NewHandler(core, storeapi.WithLogger(t.logger), storeapi.WithTracesHandler(traces),
		storeapi.WithExtraRoutes(loop.routes))
	server, err := t.cfg.ToServer(ctx, host.GetExtensions(), t.telemetry, handler)
	if err != nil {
		return errors.Join(fmt.Errorf("create the API server: %w", err), ln.Close(), core.Close())
	}

	t.store, t.server, t.addr = core, server, ln.Addr()
	t.loop = loop
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

// openBackend opens the configured database, creating the SQLite file's
// directory when needed.
func (t *trainer) openBackend(ctx context.Context) (store.Backend, error) {
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
func (t *trainer) openPostgres(ctx context.Context) (store.Backend, error) {
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

// Shutdown stops the trainer loop (when NotReady has not), stops accepting
// requests, lets the ones in flight finish until ctx ends (then cuts them),
// and closes the store.
func (t *trainer) Shutdown(ctx context.Context) error {
	var errs []error
	if t.loop != nil {
		if err := t.loop.stop(ctx); err != nil {
			errs = append(errs, fmt.Errorf("stop the trainer loop: %w", err))
		}
		t.loop.close()
		t.loop = nil
	}
	if t.server != nil {
		if err := t.server.Shutdown(ctx); err != nil {
			errs = append(errs, fmt.Errorf("stop the API server: %w", err), t.server.Close())
		}
		<-t.served
		t.server = nil
	}
	if t.store != nil {
		if err := t.store.Close(); err != nil {
			errs = append(errs, fmt.Errorf("close the store: %w", err))
		}
		t.store = nil
	}
	return errors.Join(errs...)
}
