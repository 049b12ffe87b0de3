package lightningstoreextension // import "github.com/otelcol-lightning/otelcol-lightning/extension/lightningstoreextension"

import (
	"errors"
	"fmt"
	"net/url"
	"strings"
	"time"

	"go.opentelemetry.io/collector/config/configauth"
	"go.opentelemetry.io/collector/config/confighttp"
	"go.opentelemetry.io/collector/config/configopaque"
	"go.opentelemetry.io/collector/config/configoptional"
	"go.opentelemetry.io/collector/config/configtls"

	"github.com/otelcol-lightning/otelcol-lightning/pkg/otlpspan"
)

// Store backends.
const (
	// BackendSQLite keeps the store in an SQLite file (WAL mode), so it
	// survives restarts.
	BackendSQLite = "sqlite"
	// BackendMemory keeps the store in memory; everything is lost on
	// shutdown. Meant for tests and throwaway experiments.
	BackendMemory = "memory"
	// BackendPostgres keeps the store in PostgreSQL, which many collectors
	// (gateways) and trainers can share.
	BackendPostgres = "postgres"
)

// Config of the lightningstore extension.
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

	// Identity is the policy that files spans without
	// agentlightning.rollout_id under rollouts. The lightningstore exporter,
	// the triplet processor and the messages connector all ask this
	// extension for it, so they always agree.
	Identity IdentityConfig `mapstructure:"identity"`

	// Traces tunes OTLP/HTTP ingest on POST /v1/traces, where Agent
	// Lightning clients send their spans. The spans enter the traces pipeline
	// of the lightningstore receiver attached to this extension.
	Traces TracesConfig `mapstructure:"traces"`

	// MaxConnections bounds the connections the API server holds at once;
	// further clients wait in the kernel's accept queue until one closes,
	// so a flood of slow or idle clients cannot use up the process's file
	// descriptors (read_header_timeout, read_timeout and
	// keepalive.idle_timeout bound how long each one holds its slot).
	// 0: no limit. Default: 1024.
	MaxConnections int `mapstructure:"max_connections"`

	// Dashboard is the web dashboard served at / on the API's port.
	Dashboard DashboardConfig `mapstructure:"dashboard"`

	// APIv1 serves Agent Lightning v1.0's gateway API (/healthz, /api/*)
	// beside the v0.3 API, over the same store.
	APIv1 APIv1Config `mapstructure:"api_v1"`

	_ struct{}
}

// DashboardConfig configures the web dashboard (pkg/dashboard).
type DashboardConfig struct {
	// Enabled serves the dashboard at / and its data under
	// /v1/lightning/dashboard/. Default: true.
	Enabled bool `mapstructure:"enabled"`
	// MetricsEndpoint is the URL of the collector's own Prometheus metrics
	// (service::telemetry), which the overview reads for ingest rates,
	// queue fill and rejections. Empty: those figures are left out.
	MetricsEndpoint string `mapstructure:"metrics_endpoint"`

	_ struct{}
}

// APIv1Config tunes Agent Lightning v1.0's API.
type APIv1Config struct {
	// Enabled mounts the v1.0 routes. Default: true.
	Enabled bool `mapstructure:"enabled"`
	// Auth names a server authenticator extension (such as
	// bearertokenauth) that checks v1.0's key on /api/*: the key comes as
	// "Authorization: Bearer <key>" or "x-api-key: <key>"; /healthz stays
	// open. Unset: no key, as v1.0 with an empty key. (The server-wide
	// `auth` above, when set, applies to every route first.)
	Auth *configauth.Config `mapstructure:"auth"`

	_ struct{}
}

// IdentityConfig is the pipeline's identity policy.
type IdentityConfig struct {
	// Unlabeled is what happens to spans that carry no
	// agentlightning.rollout_id: "auto" files them under an automatic
	// rollout ro-<key>, "drop" drops them as Agent Lightning does.
	// Default: auto.
	Unlabeled otlpspan.UnlabeledPolicy `mapstructure:"unlabeled"`
	// AutoRolloutKey keys automatic rollouts: "trace_id", or the name of a
	// span or resource attribute such as gen_ai.conversation.id or
	// session.id (spans without it fall back to their trace id).
	// Default: trace_id.
	AutoRolloutKey string `mapstructure:"auto_rollout_key"`
	// AutoComplete ends the attempts of rollouts the store created from
	// spans, which no runner will end (D17).
	AutoComplete AutoCompleteConfig `mapstructure:"auto_complete"`

	_ struct{}
}

// AutoCompleteConfig says when the attempt of a rollout created from spans
// (an automatic rollout, or one named only by agentlightning.rollout_id
// attributes) ends. Rollouts created through the API (enqueue,
// start_rollout) are their runner's to end and are never touched.
type AutoCompleteConfig struct {
	// Settle: once the attempt's root span (a span without a parent) has
	// arrived and no span has arrived for this long, the attempt becomes
	// succeeded. 0 disables the rule. Default: 5s.
	Settle time.Duration `mapstructure:"settle"`
	// IdleTimeout: an attempt without a root span that has received no span
	// for this long becomes timeout. 0 disables the rule. Default: 10m.
	IdleTimeout time.Duration `mapstructure:"idle_timeout"`

	_ struct{}
}

// StoreConfig selects the store backend.
type StoreConfig struct {
	// Backend is "sqlite", "memory" or "postgres". Default: sqlite.
	Backend string `mapstructure:"backend"`
	// Path is the SQLite database file; its directory is created when
	// missing. Relative paths are relative to the collector's working
	// directory. Default: ./data/lightning.db.
	Path string `mapstructure:"path"`

	// DSN is the PostgreSQL connection string or URL (required for
	// postgres), typically ${env:LIGHTNING_POSTGRES_DSN}. Opaque: it is
	// never printed, since it may hold a password.
	DSN configopaque.String `mapstructure:"dsn"`
	// Schema holds the store's tables in PostgreSQL; it is created when
	// missing. Empty: the DSN's search_path (normally public).
	Schema string `mapstructure:"schema"`
	// MaxConns bounds the PostgreSQL connections of this collector.
	// Default: 10.
	MaxConns int `mapstructure:"max_conns"`
	// MinConns PostgreSQL connections are opened at start and kept while
	// idle. Default: 0.
	MinConns int `mapstructure:"min_conns"`
	// ConnMaxLifetime recycles PostgreSQL connections older than this
	// (0: never). Default: 1h.
	ConnMaxLifetime time.Duration `mapstructure:"conn_max_lifetime"`
	// TLS, when present, is used for the PostgreSQL connections instead of
	// what the DSN's sslmode asks for: ca_file, cert_file, key_file,
	// server_name_override, insecure_skip_verify, min_version...
	TLS configoptional.Optional[configtls.ClientConfig] `mapstructure:"tls"`

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

// TracesConfig tunes POST /v1/traces.
type TracesConfig struct {
	// Unlabeled is this endpoint's own door rule, separate from Identity:
	// "drop" (default, as Agent Lightning's server does) to
	// refuse spans without agentlightning.rollout_id and attempt_id, or
	// "auto" to pass them on to the pipeline, whose store exporter files
	// them under an automatic rollout.
	Unlabeled otlpspan.UnlabeledPolicy `mapstructure:"unlabeled"`
	// UnknownRollouts is "create" (default) to pass spans naming an unknown
	// rollout or attempt on to the pipeline, or "reject" to refuse them here
	// and report them in the OTLP partial success.
	UnknownRollouts otlpspan.UnknownPolicy `mapstructure:"unknown_rollouts"`
	// MaxDecompressedSize bounds a request body after gzip or deflate
	// decoding, against compression bombs. Default: 64 MiB.
	MaxDecompressedSize int64 `mapstructure:"max_decompressed_size"`

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
	case BackendPostgres:
		errs = append(errs, c.Store.validatePostgres()...)
	default:
		errs = append(errs, fmt.Errorf("store.backend: unknown backend %q, want %q, %q or %q", c.Store.Backend, BackendSQLite, BackendMemory, BackendPostgres))
	}
	if c.Watchdog.Interval < 0 {
		errs = append(errs, fmt.Errorf("watchdog.interval: must not be negative, got %s", c.Watchdog.Interval))
	}
	if c.Watchdog.Debounce < 0 {
		errs = append(errs, fmt.Errorf("watchdog.debounce: must not be negative, got %s", c.Watchdog.Debounce))
	}
	switch c.Identity.Unlabeled {
	case otlpspan.UnlabeledAuto, otlpspan.UnlabeledDrop:
	default:
		errs = append(errs, fmt.Errorf("identity.unlabeled: unknown policy %q, want %q or %q", c.Identity.Unlabeled, otlpspan.UnlabeledAuto, otlpspan.UnlabeledDrop))
	}
	switch key := c.Identity.AutoRolloutKey; {
	case key == "":
		errs = append(errs, fmt.Errorf("identity.auto_rollout_key: must be %q or an attribute name", otlpspan.AutoKeyTraceID))
	case key != strings.TrimSpace(key):
		errs = append(errs, fmt.Errorf("identity.auto_rollout_key: %q has surrounding spaces", key))
	}
	if c.Identity.AutoComplete.Settle < 0 {
		errs = append(errs, fmt.Errorf("identity.auto_complete.settle: must not be negative, got %s", c.Identity.AutoComplete.Settle))
	}
	if c.Identity.AutoComplete.IdleTimeout < 0 {
		errs = append(errs, fmt.Errorf("identity.auto_complete.idle_timeout: must not be negative, got %s", c.Identity.AutoComplete.IdleTimeout))
	}
	switch c.Traces.Unlabeled {
	case otlpspan.UnlabeledDrop, otlpspan.UnlabeledAuto:
	default:
		errs = append(errs, fmt.Errorf("traces.unlabeled: unknown policy %q, want %q or %q", c.Traces.Unlabeled, otlpspan.UnlabeledDrop, otlpspan.UnlabeledAuto))
	}
	switch c.Traces.UnknownRollouts {
	case otlpspan.UnknownCreate, otlpspan.UnknownReject:
	default:
		errs = append(errs, fmt.Errorf("traces.unknown_rollouts: unknown policy %q, want %q or %q", c.Traces.UnknownRollouts, otlpspan.UnknownCreate, otlpspan.UnknownReject))
	}
	if ep := c.Dashboard.MetricsEndpoint; ep != "" {
		if u, err := url.Parse(ep); err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" {
			errs = append(errs, fmt.Errorf("dashboard.metrics_endpoint: want an http(s) URL, got %q", ep))
		}
	}
	if c.MaxConnections < 0 {
		errs = append(errs, fmt.Errorf("max_connections: must not be negative, got %d", c.MaxConnections))
	}
	if c.Traces.MaxDecompressedSize <= 0 {
		errs = append(errs, fmt.Errorf("traces.max_decompressed_size: must be positive, got %d", c.Traces.MaxDecompressedSize))
	}
	return errors.Join(errs...)
}

func (s *StoreConfig) validatePostgres() []error {
	var errs []error
	if strings.TrimSpace(string(s.DSN)) == "" {
		errs = append(errs, errors.New("store.dsn: must not be empty when store.backend is postgres"))
	}
	if s.MaxConns < 1 {
		errs = append(errs, fmt.Errorf("store.max_conns: must be at least 1, got %d", s.MaxConns))
	}
	if s.MinConns < 0 || (s.MaxConns >= 1 && s.MinConns > s.MaxConns) {
		errs = append(errs, fmt.Errorf("store.min_conns: must be between 0 and store.max_conns (%d), got %d", s.MaxConns, s.MinConns))
	}
	if s.ConnMaxLifetime < 0 {
		errs = append(errs, fmt.Errorf("store.conn_max_lifetime: must not be negative, got %s", s.ConnMaxLifetime))
	}
	if s.TLS.HasValue() && s.TLS.Get().Insecure {
		errs = append(errs, errors.New("store.tls.insecure: not supported; to connect without TLS, put sslmode=disable in store.dsn"))
	}
	return errs
}

// identityPolicy is the Identity section as the resolver reads it.
func (c *Config) identityPolicy() otlpspan.Config {
	return otlpspan.Config{Unlabeled: c.Identity.Unlabeled, AutoKey: c.Identity.AutoRolloutKey}
}
