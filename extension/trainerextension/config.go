package trainerextension

import (
	"errors"
	"fmt"
	"strings"
	"time"

	"go.opentelemetry.io/collector/config/confighttp"
)

// Store backends.
const (
	// BackendSQLite keeps the store in an SQLite file (WAL mode), so it
	// survives restarts.
	BackendSQLite = "sqlite"
	// BackendMemory keeps the store in memory; everything is lost on
	// shutdown. Meant for tests and throwaway experiments.
	BackendMemory = "memory"
)

// Config of the trainer extension.
type Config struct {
	// ServerConfig is the HTTP server of the store API: endpoint (default
	// localhost:4747, Agent Lightning's port), tls, auth, cors,
	// max_request_body_size and the other confighttp settings. It is
	// squashed, as in the health_check extension, so `endpoint:` sits at the
	// top level of the extension's configuration.
	confighttp.ServerConfig `mapstructure:",squash"`

	// Store selects the store backend.
	Store StoreConfig `mapstructure:"store"`

	// Watchdog tunes the scan that marks timed-out and unresponsive attempts.
	Watchdog WatchdogConfig `mapstructure:"watchdog"`

	_ struct{}
}

// StoreConfig selects the store backend.
type StoreConfig struct {
	// Backend is "sqlite" or "memory". Default: sqlite.
	Backend string `mapstructure:"backend"`
	// Path is the SQLite database file; its directory is created when
	// missing. Relative paths are relative to the collector's working
	// directory. Default: ./data/lightning.db.
	Path string `mapstructure:"path"`

	_ struct{}
}

// WatchdogConfig tunes the unhealthy-attempt scan (Agent Lightning's
// watchdog): attempts past their rollout's timeout_seconds become timeout,
// silent ones past unresponsive_seconds become unresponsive.
type WatchdogConfig struct {
	// Interval runs the scan on a ticker, so timeouts fire even when no API
	// call arrives; 0 disables the ticker. Default: 1s.
	Interval time.Duration `mapstructure:"interval"`
	// Debounce is the minimum time between two scans run before API calls
	// (Agent Lightning's scan_debounce_seconds); 0 scans before every call.
	// Default: 1s.
	Debounce time.Duration `mapstructure:"debounce"`

	_ struct{}
}

// Validate rejects configurations the extension cannot start with.
func (c *Config) Validate() error {
	var errs []error
	if strings.TrimSpace(c.NetAddr.Endpoint) == "" {
		errs = append(errs, errors.New("endpoint: must not be empty"))
	}
	switch c.Store.Backend {
	case BackendSQLite:
		if strings.TrimSpace(c.Store.Path) == "" {
			errs = append(errs, errors.New("store.path: must not be empty when store.backend is sqlite"))
		}
	case BackendMemory:
	default:
		errs = append(errs, fmt.Errorf("store.backend: unknown backend %q, want %q or %q", c.Store.Backend, BackendSQLite, BackendMemory))
	}
	if c.Watchdog.Interval < 0 {
		errs = append(errs, fmt.Errorf("watchdog.interval: must not be negative, got %s", c.Watchdog.Interval))
	}
	if c.Watchdog.Debounce < 0 {
		errs = append(errs, fmt.Errorf("watchdog.debounce: must not be negative, got %s", c.Watchdog.Debounce))
	}
	return errors.Join(errs...)
}
