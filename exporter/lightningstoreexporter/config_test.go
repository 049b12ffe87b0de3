package lightningstoreexporter

import (
	"path/filepath"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	"go.opentelemetry.io/collector/component"
	"go.opentelemetry.io/collector/config/configoptional"
	"go.opentelemetry.io/collector/config/configretry"
	"go.opentelemetry.io/collector/confmap"
	"go.opentelemetry.io/collector/confmap/confmaptest"
	"go.opentelemetry.io/collector/exporter/exporterhelper"

	"github.com/otelcol-lightning/otelcol-lightning/exporter/lightningstoreexporter/internal/metadata"
	"github.com/otelcol-lightning/otelcol-lightning/pkg/otlpspan"
)

func loadConfig(t *testing.T, id component.ID) *Config {
	t.Helper()
	cm, err := confmaptest.LoadConf(filepath.Join("testdata", "config.yaml"))
	require.NoError(t, err)
	sub, err := cm.Sub(id.String())
	require.NoError(t, err)
	cfg := NewFactory().CreateDefaultConfig()
	require.NoError(t, sub.Unmarshal(cfg))
	return cfg.(*Config)
}

func TestLoadConfig(t *testing.T) {
	storageID := component.MustNewIDWithName("file_storage", "lightning")
	customQueue := exporterhelper.NewDefaultQueueConfig()
	customQueue.StorageID = &storageID
	customQueue.QueueSize = 5000
	customQueue.NumConsumers = 2

	tests := []struct {
		id   component.ID
		want *Config
	}{
		{
			id: component.NewID(metadata.Type),
			want: func() *Config {
				c := &Config{
					TimeoutConfig:   exporterhelper.TimeoutConfig{Timeout: 5 * time.Second},
					QueueConfig:     configoptional.Default(exporterhelper.NewDefaultQueueConfig()),
					RetryConfig:     configretry.NewDefaultBackOffConfig(),
					Store:           component.MustNewID("lightningstore"),
					UnknownRollouts: otlpspan.UnknownCreate,
				}
				c.RetryConfig.Enabled = false // acknowledged means stored: no queue, no retry
				return c
			}(),
		},
		{
			id: component.NewIDWithName(metadata.Type, "custom"),
			want: &Config{
				TimeoutConfig: exporterhelper.TimeoutConfig{Timeout: 10 * time.Second},
				QueueConfig:   configoptional.Some(customQueue),
				RetryConfig: configretry.BackOffConfig{
					Enabled:             true,
					InitialInterval:     time.Second,
					RandomizationFactor: 0.2,
					Multiplier:          2,
					MaxInterval:         10 * time.Second,
					MaxElapsedTime:      0,
				},
				Store:           component.MustNewIDWithName("lightningstore", "shared"),
				UnknownRollouts: otlpspan.UnknownReject,
			},
		},
		{
			id: component.NewIDWithName(metadata.Type, "no_queue"),
			want: func() *Config {
				c := createDefaultConfig().(*Config)
				c.QueueConfig = configoptional.None[exporterhelper.QueueBatchConfig]()
				c.RetryConfig.Enabled = false
				return c
			}(),
		},
	}
	for _, tt := range tests {
		t.Run(tt.id.String(), func(t *testing.T) {
			cfg := loadConfig(t, tt.id)
			assert.Equal(t, tt.want, cfg)
			assert.NoError(t, confmap.Validate(cfg))
		})
	}
}

func TestValidate(t *testing.T) {
	cfg := loadConfig(t, component.NewIDWithName(metadata.Type, "bad_policies"))
	err := cfg.Validate()
	require.Error(t, err)
	assert.Equal(t, `unknown_rollouts: "ignore" is not one of "create", "reject"`, err.Error())

	tests := []struct {
		name    string
		mutate  func(*Config)
		wantErr string
	}{
		{name: "default is valid", mutate: func(*Config) {}},
		{
			name:    "empty store",
			mutate:  func(c *Config) { c.Store = component.ID{} },
			wantErr: "store: must name the extension that provides the store, e.g. lightningstore",
		},
		{
			name:    "empty unknown_rollouts",
			mutate:  func(c *Config) { c.UnknownRollouts = "" },
			wantErr: `unknown_rollouts: "" is not one of "create", "reject"`,
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			cfg := createDefaultConfig().(*Config)
			tt.mutate(cfg)
			err := cfg.Validate()
			if tt.wantErr == "" {
				assert.NoError(t, err)
				return
			}
			assert.EqualError(t, err, tt.wantErr)
		})
	}
}

// The collector validates nested sections too: a persistent queue cannot
// wait for results.
func TestValidateNestedQueue(t *testing.T) {
	cfg := loadConfig(t, component.NewIDWithName(metadata.Type, "custom"))
	cfg.QueueConfig.Get().WaitForResult = true
	assert.Error(t, confmap.Validate(cfg))
}

// The default exporter answers only after the commit: no queue, no retry
// holding a sender's request.
func TestDefaultConfigAcknowledgesAfterCommit(t *testing.T) {
	cfg := createDefaultConfig().(*Config)
	assert.False(t, cfg.QueueConfig.HasValue(), "no sending queue by default")
	assert.False(t, cfg.RetryConfig.Enabled, "no retry by default")
}
