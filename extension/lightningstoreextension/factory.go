package lightningstoreextension // import "github.com/otelcol-lightning/otelcol-lightning/extension/lightningstoreextension"

import (
	"context"
	"time"

	"go.opentelemetry.io/collector/component"
	"go.opentelemetry.io/collector/config/confighttp"
	"go.opentelemetry.io/collector/extension"

	"github.com/otelcol-lightning/otelcol-lightning/extension/lightningstoreextension/internal/metadata"
	"github.com/otelcol-lightning/otelcol-lightning/pkg/otlpspan"
	"github.com/otelcol-lightning/otelcol-lightning/pkg/store/pgstore"
)

// defaultEndpoint is Agent Lightning's store port, on loopback only: the
// default deployment is a sidecar.
const defaultEndpoint = "localhost:4747"

// NewFactory returns the factory of the lightningstore extension.
func NewFactory() extension.Factory {
	return extension.NewFactory(metadata.Type, createDefaultConfig, create, metadata.ExtensionStability)
}

func createDefaultConfig() component.Config {
	server := confighttp.NewDefaultServerConfig()
	server.NetAddr.Endpoint = defaultEndpoint
	// Slow clients are cut off: headers within 10 s, the whole request
	// (20 MiB at most) within a minute. Answers keep confighttp's 30 s
	// write timeout, except the long polls, which extend their own deadline
	// to what the caller asked (wait_for_rollouts).
	server.ReadHeaderTimeout = 10 * time.Second
	server.ReadTimeout = time.Minute
	return &Config{
		ServerConfig:   server,
		MaxConnections: 1024,
		Store: StoreConfig{
			Backend:         BackendSQLite,
			Path:            "./data/lightning.db",
			MaxConns:        pgstore.DefaultMaxConns,
			ConnMaxLifetime: time.Hour,
		},
		Watchdog: WatchdogConfig{
			Interval: time.Second,
			Debounce: time.Second,
		},
		Identity: IdentityConfig{
			Unlabeled:      otlpspan.UnlabeledAuto,
			AutoRolloutKey: otlpspan.AutoKeyTraceID,
			AutoComplete: AutoCompleteConfig{
				Settle:      5 * time.Second,
				IdleTimeout: 10 * time.Minute,
			},
		},
		Dashboard: DashboardConfig{Enabled: true},
		Traces: TracesConfig{
			Unlabeled:           otlpspan.UnlabeledDrop,
			UnknownRollouts:     otlpspan.UnknownCreate,
			MaxDecompressedSize: 64 << 20,
		},
		APIv1: APIv1Config{Enabled: true},
	}
}

func create(_ context.Context, set extension.Settings, cfg component.Config) (extension.Extension, error) {
	return newLightningStore(cfg.(*Config), set), nil
}
