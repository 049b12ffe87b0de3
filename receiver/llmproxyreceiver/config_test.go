package llmproxyreceiver

import (
	"path/filepath"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	"go.opentelemetry.io/collector/component"
	"go.opentelemetry.io/collector/confmap"
	"go.opentelemetry.io/collector/confmap/confmaptest"
)

func TestLoadConfig(t *testing.T) {
	cm, err := confmaptest.LoadConf(filepath.Join("testdata", "config.yaml"))
	require.NoError(t, err)

	load := func(t *testing.T, id component.ID) (*Config, error) {
		cfg := NewFactory().CreateDefaultConfig().(*Config)
		sub, err := cm.Sub(id.String())
		require.NoError(t, err)
		require.NoError(t, sub.Unmarshal(cfg))
		return cfg, confmap.Validate(cfg)
	}

	t.Run("default", func(t *testing.T) {
		cfg, err := load(t, component.MustNewID("llmproxy"))
		require.NoError(t, err)
		assert.Equal(t, createDefaultConfig(), cfg)
		assert.Equal(t, "localhost:4000", cfg.NetAddr.Endpoint)
		assert.Zero(t, cfg.WriteTimeout, "streams must not be cut by a write timeout")
	})
	t.Run("custom", func(t *testing.T) {
		cfg, err := load(t, component.MustNewIDWithName("llmproxy", "custom"))
		require.NoError(t, err)
		want := createDefaultConfig().(*Config)
		want.NetAddr.Endpoint = "0.0.0.0:4001"
		want.Store = component.MustNewID("lightningstore")
		want.Mode = ModeVal
		want.Timeout = time.Minute
		want.Retry = RetryConfig{MaxAttempts: 3, InitialBackoff: 100 * time.Millisecond, MaxBackoff: time.Second}
		want.PauseRetryAfter = 2
		want.AglV1 = AglV1Config{ModelName: "Qwen/Qwen3-8B", IncludeLogProbs: false, TrainTemperature: 1, ValTemperature: 0.5}
		gpu0 := UpstreamConfig{Models: []string{"qwen"}}
		gpu0.Endpoint = "http://gpu-0:8000/v1"
		gpu1 := UpstreamConfig{Kind: KindSGLang, Models: []string{"qwen"}}
		gpu1.Endpoint = "http://gpu-1:30000/v1"
		hosted := UpstreamConfig{Kind: KindOpenAI, APIKey: "sk-test"}
		hosted.Endpoint = "https://api.openai.com/v1"
		want.Upstreams = []UpstreamConfig{gpu0, gpu1, hosted}
		assert.Equal(t, want, cfg)
	})
	for name, field := range map[string]string{
		"bad_kind": "upstreams[0].kind", "bad_endpoint": "upstreams[0].endpoint", "bad_mode": "mode", "bad_retry": "retry.max_attempts",
		"bad_temperature": "agl_v1",
	} {
		t.Run(name, func(t *testing.T) {
			_, err := load(t, component.MustNewIDWithName("llmproxy", name))
			require.ErrorContains(t, err, field)
		})
	}
}
