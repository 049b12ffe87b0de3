package lightningstoreextension

import (
	"fmt"
	"path/filepath"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	"go.opentelemetry.io/collector/component"
	"go.opentelemetry.io/collector/config/configauth"
	"go.opentelemetry.io/collector/config/confighttp"
	"go.opentelemetry.io/collector/config/configoptional"
	"go.opentelemetry.io/collector/config/configtls"
	"go.opentelemetry.io/collector/confmap"
	"go.opentelemetry.io/collector/confmap/confmaptest"

	"github.com/otelcol-lightning/otelcol-lightning/extension/lightningstoreextension/internal/metadata"
	"github.com/otelcol-lightning/otelcol-lightning/pkg/otlpspan"
)

func loadConfig(t *testing.T, name string) *Config {
	t.Helper()
	cm, err := confmaptest.LoadConf(filepath.Join("testdata", "config.yaml"))
	require.NoError(t, err)
	sub, err := cm.Sub(component.NewIDWithName(metadata.Type, name).String())
	require.NoError(t, err)
	cfg := NewFactory().CreateDefaultConfig()
	require.NoError(t, sub.Unmarshal(cfg))
	return cfg.(*Config)
}

func TestLoadConfig(t *testing.T) {
	tests := []struct {
		name string
		want func(c *Config)
	}{
		{name: "", want: func(*Config) {}},
		{name: "custom", want: func(c *Config) {
			c.NetAddr.Endpoint = "0.0.0.0:5757"
			c.MaxRequestBodySize = 1 << 20
			c.CORS = configoptional.Some(confighttp.CORSConfig{AllowedOrigins: []string{"http://localhost:3000", "https://*.example.com"}})
			c.Store.Path = "/var/lib/lightning/store.db"
			c.Watchdog = WatchdogConfig{Interval: 5 * time.Second, Debounce: 0}
			c.Identity = IdentityConfig{Unlabeled: otlpspan.UnlabeledDrop, AutoRolloutKey: "gen_ai.conversation.id",
				AutoComplete: AutoCompleteConfig{Settle: 30 * time.Second, IdleTimeout: 0}}
			c.Traces = TracesConfig{Unlabeled: otlpspan.UnlabeledAuto, UnknownRollouts: otlpspan.UnknownReject, MaxDecompressedSize: 1 << 20}
			c.APIv1.Auth = &configauth.Config{AuthenticatorID: component.MustNewIDWithName("bearertokenauth", "aglv1")}
		}},
		{name: "no_v1", want: func(c *Config) {
			c.APIv1.Enabled = false
		}},
		{name: "memory", want: func(c *Config) {
			c.Store.Backend, c.Store.Path = BackendMemory, ""
		}},
		{name: "postgres", want: func(c *Config) {
			c.Store.Backend = BackendPostgres
			c.Store.DSN = "postgres://lightning:secret@db.internal:5432/lightning?sslmode=verify-full"
			c.Store.Schema = "team_a"
			c.Store.MaxConns, c.Store.MinConns = 32, 4
			c.Store.ConnMaxLifetime = 30 * time.Minute
			c.Store.TLS = configoptional.Some(configtls.ClientConfig{Config: configtls.Config{
				CAFile: "/etc/ssl/lightning/ca.pem", CertFile: "/etc/ssl/lightning/client.pem", KeyFile: "/etc/ssl/lightning/client.key",
			}})
		}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			want := createDefaultConfig().(*Config)
			tt.want(want)
			got := loadConfig(t, tt.name)
			assert.Equal(t, want, got)
			assert.NoError(t, confmap.Validate(got))
		})
	}
}

func TestDefaultConfig(t *testing.T) {
	cfg := createDefaultConfig().(*Config)
	assert.Equal(t, "localhost:4747", cfg.NetAddr.Endpoint)
	assert.Equal(t, StoreConfig{Backend: BackendSQLite, Path: "./data/lightning.db", MaxConns: 10, ConnMaxLifetime: time.Hour}, cfg.Store)
	assert.Equal(t, WatchdogConfig{Interval: time.Second, Debounce: time.Second}, cfg.Watchdog)
	assert.Equal(t, IdentityConfig{Unlabeled: otlpspan.UnlabeledAuto, AutoRolloutKey: otlpspan.AutoKeyTraceID,
		AutoComplete: AutoCompleteConfig{Settle: 5 * time.Second, IdleTimeout: 10 * time.Minute}}, cfg.Identity)
	assert.Equal(t, TracesConfig{Unlabeled: otlpspan.UnlabeledDrop, UnknownRollouts: otlpspan.UnknownCreate, MaxDecompressedSize: 64 << 20}, cfg.Traces,
		"/v1/traces keeps Agent Lightning's rule, whatever the pipeline's identity policy")
	assert.NoError(t, cfg.Validate())
}

func TestValidateConfig(t *testing.T) {
	tests := []struct {
		name string
		errs []string
	}{
		{name: "bad_backend", errs: []string{`store.backend: unknown backend "mysql", want "sqlite", "memory" or "postgres"`}},
		{name: "postgres_no_dsn", errs: []string{"store.dsn: must not be empty when store.backend is postgres"}},
		{name: "postgres_bad_pool", errs: []string{
			"store.max_conns: must be at least 1, got 0",
			"store.min_conns: must be between 0 and store.max_conns (0), got -1",
			"store.conn_max_lifetime: must not be negative, got -1s",
		}},
		{name: "postgres_min_over_max", errs: []string{"store.min_conns: must be between 0 and store.max_conns (2), got 3"}},
		{name: "postgres_insecure_tls", errs: []string{"store.tls.insecure: not supported; to connect without TLS, put sslmode=disable in store.dsn"}},
		{name: "empty_path", errs: []string{"store.path: must not be empty when store.backend is sqlite"}},
		{name: "negative_watchdog", errs: []string{
			"watchdog.interval: must not be negative, got -1s",
			"watchdog.debounce: must not be negative, got -2s",
		}},
		{name: "no_endpoint", errs: []string{"endpoint: must not be empty"}},
		{name: "bad_identity", errs: []string{
			`identity.unlabeled: unknown policy "keep", want "auto" or "drop"`,
			`identity.auto_rollout_key: " session.id" has surrounding spaces`,
			"identity.auto_complete.settle: must not be negative, got -1s",
			"identity.auto_complete.idle_timeout: must not be negative, got -1m0s",
		}},
		{name: "empty_identity", errs: []string{
			`identity.unlabeled: unknown policy "", want "auto" or "drop"`,
			`identity.auto_rollout_key: must be "trace_id" or an attribute name`,
		}},
		{name: "bad_traces", errs: []string{
			`traces.unlabeled: unknown policy "keep"`,
			`traces.unknown_rollouts: unknown policy "ignore"`,
			"traces.max_decompressed_size: must be positive, got 0",
		}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			err := confmap.Validate(loadConfig(t, tt.name))
			require.Error(t, err)
			for _, want := range tt.errs {
				assert.ErrorContains(t, err, want)
			}
		})
	}
}

// TestDSNIsOpaque: a DSN may carry a password; the collector's config
// printing must not show it.
func TestDSNIsOpaque(t *testing.T) {
	cfg := loadConfig(t, "postgres")
	assert.NotContains(t, fmt.Sprintf("%v %+v", cfg.Store.DSN, cfg.Store), "secret")
}
