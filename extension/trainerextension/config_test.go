package trainerextension

import (
	"path/filepath"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	"go.opentelemetry.io/collector/component"
	"go.opentelemetry.io/collector/confmap"
	"go.opentelemetry.io/collector/confmap/confmaptest"

	"github.com/otelcol-lightning/otelcol-lightning/extension/trainerextension/internal/metadata"
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
			c.Store = component.MustNewIDWithName("lightningstore", "gateway")
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
	assert.Equal(t, component.MustNewID("lightningstore"), cfg.Store)
	assert.NoError(t, confmap.Validate(cfg))
}

func TestValidateRequiresStore(t *testing.T) {
	cfg := createDefaultConfig().(*Config)
	cfg.Store = component.ID{}
	err := cfg.Validate()
	require.ErrorContains(t, err, "store: must name the extension that owns the store")
}
