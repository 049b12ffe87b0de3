package tripletprocessor

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
	assert.Equal(t, createDefaultConfig(), loadConfig(t, "triplet"))
	require.NoError(t, confmap.Validate(loadConfig(t, "triplet")))

	want := createDefaultConfig().(*Config)
	want.Store = component.MustNewIDWithName("lightningstore", "sidecar")
	want.RewardMatch = "discounted"
	want.Discount = 0.9
	want.AgentMatch = "^solver$"
	want.LLMCallName = `openai\.chat\.completion`
	want.DedupPromptTokenIDs = false
	want.SkipEmptyTokenCalls = true
	want.Completion = CompletionConfig{Settle: time.Second, IdleTimeout: 20 * time.Second, MaxDuration: 5 * time.Minute, Retention: time.Minute, ResumeWindow: 10 * time.Minute, CheckInterval: 100 * time.Millisecond}
	want.Limits = LimitsConfig{MaxSpansPerAttempt: 500, MaxBufferedSpans: 10000, MaxBufferedMiB: 64}
	got := loadConfig(t, "triplet/rl")
	assert.Equal(t, want, got)
	require.NoError(t, confmap.Validate(got))
}

func TestValidateNamesFields(t *testing.T) {
	err := confmap.Validate(loadConfig(t, "triplet/bad"))
	require.Error(t, err)
	for _, field := range []string{"reward_match", "discount", "agent_match"} {
		assert.ErrorContains(t, err, field)
	}
	cfg := createDefaultConfig().(*Config)
	cfg.Completion.Settle = 0
	cfg.Limits.MaxBufferedSpans = 0
	cfg.Completion.ResumeWindow = -time.Second
	err = cfg.Validate()
	assert.ErrorContains(t, err, "completion.settle")
	assert.ErrorContains(t, err, "completion.resume_window")
	assert.ErrorContains(t, err, "limits")
}
