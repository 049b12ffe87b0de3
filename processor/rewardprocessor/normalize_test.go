package rewardprocessor

import (
	"math"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	"go.opentelemetry.io/collector/pdata/pcommon"
	"go.opentelemetry.io/collector/pdata/ptrace"
	"go.uber.org/zap"

	"github.com/otelcol-lightning/otelcol-lightning/pkg/rewards"
)

var selfID = pcommon.SpanID{0xa, 0, 0, 0, 0, 0, 0, 1}

type spanSpec struct {
	name   string
	attrs  map[string]any
	events map[string]map[string]any // one event per name
	links  int
}

func buildSpan(t *testing.T, s spanSpec) ptrace.Span {
	t.Helper()
	span := ptrace.NewSpan()
	span.SetName(s.name)
	span.SetSpanID(selfID)
	require.NoError(t, span.Attributes().FromRaw(s.attrs))
	for name, attrs := range s.events {
		ev := span.Events().AppendEmpty()
		ev.SetName(name)
		require.NoError(t, ev.Attributes().FromRaw(attrs))
	}
	for i := range s.links {
		span.Links().AppendEmpty().SetSpanID(pcommon.SpanID{0xb, 0, 0, 0, 0, 0, 0, byte(i + 1)})
	}
	return span
}

func TestNormalizeSpan(t *testing.T) {
	self := []rewards.Link{{KeyMatch: "span_id", ValueMatch: "0a00000000000001"}}
	tests := []struct {
		name    string
		cfg     func(*Config)
		span    spanSpec
		dims    []rewards.Dimension
		links   []rewards.Link
		skipped map[skipKey]int64
	}{
		{
			name: "rule reads the first event that has the value",
			cfg: func(c *Config) {
				c.Rules = []RuleConfig{{Name: "score", Event: "graded", Value: "score"}}
			},
			span: spanSpec{name: "x", events: map[string]map[string]any{"graded": {"score": 0.4}}},
			dims: []rewards.Dimension{{Name: "score", Value: 0.4}},
		},
		{
			name: "rule attribute conditions compare as text",
			cfg: func(c *Config) {
				c.Rules = []RuleConfig{{Name: "s", Value: "v", Attributes: map[string]any{"level": 2, "final": true}}}
			},
			span: spanSpec{name: "x", attrs: map[string]any{"level": "2", "final": true, "v": 1}},
			dims: []rewards.Dimension{{Name: "s", Value: 1}},
		},
		{
			name: "rule condition not met",
			cfg: func(c *Config) {
				c.Rules = []RuleConfig{{Name: "s", Value: "v", Attributes: map[string]any{"level": 2}}}
			},
			span: spanSpec{name: "x", attrs: map[string]any{"level": 3, "v": 1}},
		},
		{
			name: "rule without its value attribute does not apply",
			cfg: func(c *Config) {
				c.Rules = []RuleConfig{{Name: "s", Value: "v", SpanName: "^x$"}}
			},
			span: spanSpec{name: "x", attrs: map[string]any{"w": 1}},
		},
		{
			name: "rule overflowing to infinity is skipped",
			cfg: func(c *Config) {
				c.Rules = []RuleConfig{{Name: "s", Value: "v", Scale: ptr(math.MaxFloat64)}}
			},
			span:    spanSpec{name: "x", attrs: map[string]any{"v": 10.0}},
			skipped: map[skipKey]int64{{rewards.SourceRule, rewards.ReasonNonFinite}: 1},
		},
		{
			name: "rule does not override a dimension of the same name",
			cfg: func(c *Config) {
				c.Rules = []RuleConfig{{Name: "primary", Value: "v"}}
			},
			span: spanSpec{name: "agentlightning.annotation", attrs: map[string]any{"reward": 0.5, "v": 1}},
			dims: []rewards.Dimension{{Name: "primary", Value: 0.5}},
		},
		{
			name: "existing links fix the target: a self-linked result conflicts",
			span: spanSpec{
				name: "agentlightning.annotation",
				attrs: map[string]any{
					"agentlightning.reward.0.name": "primary", "agentlightning.reward.0.value": 1.0,
					"agentlightning.link.0.key_match": "gen_ai.response.id", "agentlightning.link.0.value_match": "r1",
				},
				events: map[string]map[string]any{"gen_ai.evaluation.result": {"gen_ai.evaluation.name": "q", "gen_ai.evaluation.score.value": 1.0}},
			},
			dims:    []rewards.Dimension{{Name: "primary", Value: 1}},
			links:   []rewards.Link{{KeyMatch: "gen_ai.response.id", ValueMatch: "r1"}},
			skipped: map[skipKey]int64{{rewards.SourceEvaluationEvent, reasonConflictingTarget}: 1},
		},
		{
			name: "existing links fix the target: the same target is accepted",
			span: spanSpec{
				name: "judge",
				attrs: map[string]any{
					"agentlightning.link.0.key_match": "gen_ai.response.id", "agentlightning.link.0.value_match": "r1",
				},
				events: map[string]map[string]any{"gen_ai.evaluation.result": {
					"gen_ai.evaluation.name": "q", "gen_ai.evaluation.score.value": 1.0, "gen_ai.response.id": "r1",
				}},
			},
			dims:  []rewards.Dimension{{Name: "q", Value: 1}},
			links: []rewards.Link{{KeyMatch: "gen_ai.response.id", ValueMatch: "r1"}},
		},
		{
			name: "an LLM span with one unrelated link is its own target",
			span: spanSpec{
				name:  "chat",
				attrs: map[string]any{"gen_ai.operation.name": "chat", "annotations.0.annotation.name": "ok", "annotations.0.annotation.score": 1},
				links: 1,
			},
			dims:  []rewards.Dimension{{Name: "ok", Value: 1}},
			links: self,
		},
		{
			name: "a carrier with two links is not a carrier",
			span: spanSpec{
				name:  "eval",
				attrs: map[string]any{"annotations.0.annotation.name": "ok", "annotations.0.annotation.score": 1},
				links: 2,
			},
			dims:  []rewards.Dimension{{Name: "ok", Value: 1}},
			links: self,
		},
		{
			name: "an evaluator with no target is matched by position",
			span: spanSpec{
				name:  "judge",
				attrs: map[string]any{"openinference.span.kind": "EVALUATOR", "annotations.0.annotation.name": "ok", "annotations.0.annotation.score": 0.5},
			},
			dims: []rewards.Dimension{{Name: "ok", Value: 0.5}},
		},
		{
			name: "unreadable links: linked results cannot be added",
			span: spanSpec{
				name:  "x",
				attrs: map[string]any{"agentlightning.link.0.key_match": 1, "annotations.0.annotation.name": "ok", "annotations.0.annotation.score": 1},
			},
			links: nil,
			skipped: map[skipKey]int64{
				{rewards.SourceAgentLightning, rewards.ReasonWrongType}: 1,
				{rewards.SourceOpenInference, reasonConflictingTarget}:  1,
			},
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			cfg := createDefaultConfig().(*Config)
			if tt.cfg != nil {
				tt.cfg(cfg)
			}
			require.NoError(t, cfg.Validate())
			n, err := newNormalizer(cfg)
			require.NoError(t, err)
			span := buildSpan(t, tt.span)
			tl := &tally{logger: zap.NewNop()}
			n.span(span, tl)

			view := rewards.FromPData(span.Attributes())
			dims, err := rewards.Dimensions(view)
			require.NoError(t, err)
			assert.Equal(t, tt.dims, dims)
			if tt.links != nil {
				links, err := rewards.Links(view)
				require.NoError(t, err)
				assert.Equal(t, tt.links, links)
			}
			assert.Equal(t, tt.skipped, tl.skipped)
		})
	}
}
