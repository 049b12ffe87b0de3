package messagesconnector

import (
	"path/filepath"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	"go.opentelemetry.io/collector/component"
	"go.opentelemetry.io/collector/confmap"
	"go.opentelemetry.io/collector/confmap/confmaptest"
)

func loadConfig(t *testing.T, id string) *Config {
	t.Helper()
	cm, err := confmaptest.LoadConf(filepath.Join("testdata", "config.yaml"))
	require.NoError(t, err)
	cfg := createDefaultConfig().(*Config)
	sub, err := cm.Sub(id)
	require.NoError(t, err)
	require.NoError(t, sub.Unmarshal(cfg))
	return cfg
}

func TestLoadConfig(t *testing.T) {
	def := loadConfig(t, "messages")
	assert.Equal(t, createDefaultConfig(), def)
	require.NoError(t, confmap.Validate(def))

	want := createDefaultConfig().(*Config)
	want.IncludeTools = false
	want.IncludeTokenIDs = true
	want.BodyFormat = BodyFormatJSONString
	want.SkipEmpty = false
	want.LLMCallName = `openai\.chat\.completion`
	want.Store = component.MustNewIDWithName("lightningstore", "gateway")
	want.DedupCacheSize = 0
	got := loadConfig(t, "messages/custom")
	assert.Equal(t, want, got)
	require.NoError(t, confmap.Validate(got))
}

func TestValidateNamesFields(t *testing.T) {
	err := confmap.Validate(loadConfig(t, "messages/bad"))
	require.Error(t, err)
	for _, field := range []string{"body_format", "llm_call_name", "llm_call_name_fallback", "dedup_cache_size"} {
		assert.ErrorContains(t, err, field)
	}
}
