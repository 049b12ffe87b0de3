package rewardprocessor

import (
	"math"
	"path/filepath"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	"go.opentelemetry.io/collector/component"
	"go.opentelemetry.io/collector/confmap"
	"go.opentelemetry.io/collector/confmap/confmaptest"

	"github.com/otelcol-lightning/otelcol-lightning/processor/rewardprocessor/internal/metadata"
)

func ptr[T any](v T) *T { return &v }

// loadConfig reads one named configuration of testdata/config.yaml over the
// defaults, without validating it.
func loadConfig(t *testing.T, id component.ID) *Config {
	t.Helper()
	cm, err := confmaptest.LoadConf(filepath.Join("testdata", "config.yaml"))
	require.NoError(t, err)
	cfg := NewFactory().CreateDefaultConfig()
	sub, err := cm.Sub(id.String())
	require.NoError(t, err)
	require.NoError(t, sub.Unmarshal(cfg))
	return cfg.(*Config)
}

func TestLoadConfig(t *testing.T) {
	allSources := SourcesConfig{AgentOps: true, AnnotationV02: true, EvaluationEvents: true, OpenInference: true}
	tests := []struct {
		id   component.ID
		want *Config
	}{
		{
			id: component.NewID(metadata.Type),
			want: &Config{
				Sources: allSources,
				Combine: CombineConfig{Mode: CombinePrimary, Name: "primary"},
			},
		},
		{
			id: component.NewIDWithName(metadata.Type, "custom"),
			want: &Config{
				Sources:     SourcesConfig{AnnotationV02: true, EvaluationEvents: true},
				LabelScores: map[string]float64{"pass": 1, "fail": 0},
				Rules: []RuleConfig{
					{
						Name:       "judge",
						SpanName:   "^judge ",
						Attributes: map[string]any{"judge.kind": "final", "judge.version": 2},
						Value:      "judge.score",
						Scale:      ptr(0.1),
						Offset:     -0.5,
						Clip:       []float64{-1, 1},
						Link:       LinkSelf,
					},
					{Name: "tests_passed", Event: "test.result", Value: "passed"},
				},
				Combine: CombineConfig{
					Mode:    CombineWeightedSum,
					Weights: map[string]float64{"judge": 0.7, "tests_passed": 0.3},
					Name:    "total",
				},
			},
		},
		{
			id: component.NewIDWithName(metadata.Type, "weighted"),
			want: &Config{
				Sources: allSources,
				Combine: CombineConfig{
					Mode:    CombineWeightedSum,
					Weights: map[string]float64{"task_completion": 0.8, "efficiency": 0.2},
					Name:    "primary",
				},
			},
		},
	}
	for _, tt := range tests {
		t.Run(tt.id.String(), func(t *testing.T) {
			cfg := loadConfig(t, tt.id)
			require.NoError(t, confmap.Validate(cfg))
			assert.Equal(t, tt.want, cfg)
		})
	}
}

func TestConfigValidate(t *testing.T) {
	tests := []struct {
		name string
		want []string
	}{
		{
			name: "bad_rules",
			want: []string{
				"rules[0]: name: required",
				"rules[0]: value: required",
				"rules[0]: span_name: error parsing regexp",
				"rules[0]: clip: min 1 is greater than max 0",
				`rules[0]: link: "parent" is not none or self`,
				"rules[1]: clip: want [min, max], got 1 values",
				"rules[1]: attributes::nested: must be a string, number or bool",
			},
		},
		{name: "weights_without_weighted_sum", want: []string{"combine: weights: only used by mode weighted_sum, but mode is primary"}},
		{name: "unknown_mode", want: []string{`combine: mode: "average" is not primary or weighted_sum`}},
		{
			name: "weighted_sum_without_weights",
			want: []string{"combine: weights: required by mode weighted_sum", "combine: name: required by mode weighted_sum"},
		},
		{name: "self_weight", want: []string{"combine: weights::primary: the combined dimension cannot weigh itself"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			cfg := loadConfig(t, component.NewIDWithName(metadata.Type, tt.name))
			err := confmap.Validate(cfg)
			require.Error(t, err)
			for _, msg := range tt.want {
				assert.Contains(t, err.Error(), msg)
			}
			// The factory refuses what Validate refuses.
			_, err = newNormalizer(cfg)
			if len(cfg.Rules) > 0 {
				assert.Error(t, err)
			}
		})
	}
}

func TestConfigValidateNumbers(t *testing.T) {
	cfg := createDefaultConfig().(*Config)
	cfg.LabelScores = map[string]float64{"pass": posInf()}
	cfg.Rules = []RuleConfig{{Name: "a", Value: "b", Scale: ptr(nan()), Offset: posInf(), Clip: []float64{nan(), 1}}}
	err := cfg.Validate()
	require.Error(t, err)
	for _, msg := range []string{
		"label_scores::pass: must be a finite number",
		"rules[0]: scale: must be a finite number",
		"rules[0]: offset: must be a finite number",
		"rules[0]: clip: bounds must be numbers",
	} {
		assert.Contains(t, err.Error(), msg)
	}
	require.NoError(t, createDefaultConfig().(*Config).Validate())
}

func nan() float64    { return math.NaN() }
func posInf() float64 { return math.Inf(1) }
