package trainerextension

import (
	"context"
	"errors"
	"fmt"

	"go.opentelemetry.io/collector/component"
	"go.opentelemetry.io/collector/extension"
	"go.opentelemetry.io/collector/extension/extensioncapabilities"
	"go.uber.org/zap"

	"github.com/otelcol-lightning/otelcol-lightning/pkg/store"
	"github.com/otelcol-lightning/otelcol-lightning/pkg/storeapi"
)

// trainer runs the trainer loop (dispatch, algorithm, reports) over the
// store of the extension named in its config, found on the host.
type trainer struct {
	cfg       *Config
	telemetry component.TelemetrySettings
	logger    *zap.Logger

	// store is the store extension's, once started. The trainer does not
	// offer it to others (no store.Provider): components name the store
	// extension itself.
	store store.Store
	loop  *loop // dispatch and algorithm (trainer.go)
}

var (
	_ extension.Extension = (*trainer)(nil)
	// The collector starts the store extension first and stops it last.
	_ extensioncapabilities.Dependent = (*trainer)(nil)
)

func newTrainer(cfg *Config, set extension.Settings) *trainer {
	return &trainer{cfg: cfg, telemetry: set.TelemetrySettings, logger: set.Logger}
}

// Dependencies names the store extension, so that it starts before this
// one and shuts down after it.
func (t *trainer) Dependencies() []component.ID { return []component.ID{t.cfg.Store} }

// storeHost is what the trainer needs from the store extension.
type storeHost interface {
	store.Provider
	storeapi.Router
}

// findStore looks up the store extension on the host.
func findStore(host component.Host, id component.ID) (storeHost, error) {
	ext, ok := host.GetExtensions()[id]
	if !ok {
		return nil, fmt.Errorf("store extension %s not found; is it listed under service.extensions?", id)
	}
	sh, ok := ext.(storeHost)
	if !ok {
		return nil, fmt.Errorf("extension %s does not provide an Agent Lightning store and API server; store must name a lightningstore extension", id)
	}
	if sh.LightningStore() == nil {
		return nil, fmt.Errorf("extension %s has no store; has it started?", id)
	}
	return sh, nil
}

// Start finds the store, prepares the trainer loop (started in Ready) and
// mounts the report endpoint on the store extension's server.
func (t *trainer) Start(ctx context.Context, host component.Host) (err error) {
	sh, err := findStore(host, t.cfg.Store)
	if err != nil {
		return err
	}
	if t.cfg.ProxyLLM.Endpoint != "" {
		// Before the loop: the algorithm's own resources then include it.
		up, err := publishProxyLLM(ctx, sh.LightningStore(), t.cfg.ProxyLLM)
		if err != nil {
			return err
		}
		t.telemetry.Logger.Info("Published the LLM proxy as a proxy_llm resource",
			zap.String("name", t.cfg.ProxyLLM.name()), zap.String("resources_id", up.ResourcesID))
	}
	loop, err := newLoop(ctx, t.cfg, host, t.telemetry, reportDir(sh))
	if err != nil {
		return err
	}
	if err := sh.Handle("GET "+AlgorithmPath, loop.reportHandler()); err != nil {
		loop.close()
		return fmt.Errorf("serve %s on extension %s: %w", AlgorithmPath, t.cfg.Store, err)
	}
	t.store, t.loop = sh.LightningStore(), loop
	return nil
}

// reportDir is where the report goes by default: the store's data
// directory, when it has one.
func reportDir(ext any) string {
	if d, ok := ext.(store.DataDirProvider); ok {
		return d.DataDir()
	}
	return ""
}

// Shutdown stops the trainer loop when NotReady has not. The store stays
// open: the store extension owns it and shuts down after this one.
func (t *trainer) Shutdown(ctx context.Context) error {
	var errs []error
	if t.loop != nil {
		if err := t.loop.stop(ctx); err != nil {
			errs = append(errs, fmt.Errorf("stop the trainer loop: %w", err))
		}
		t.loop.close()
		t.loop = nil
	}
	t.store = nil
	return errors.Join(errs...)
}
