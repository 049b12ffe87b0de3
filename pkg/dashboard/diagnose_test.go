package dashboard

import (
	"testing"

	"github.com/stretchr/testify/assert"

	"github.com/otelcol-lightning/otelcol-lightning/pkg/model"
)

func ptr[T any](v T) *T { return &v }

func span(id, name string, start float64, attrs model.Attributes) model.Span {
	return model.Span{RolloutID: "ro", AttemptID: "at", SpanID: id, Name: name, StartTime: ptr(start), EndTime: ptr(start + 1), Attributes: attrs}
}

func llmSpan(id string, start float64, tokens bool) model.Span {
	attrs := model.Attributes{"gen_ai.operation.name": "chat", "gen_ai.request.model": "m"}
	if tokens {
		attrs["prompt_token_ids"] = []any{1, 2}
		attrs["response_token_ids"] = []any{3}
	}
	return span(id, "chat m", start, attrs)
}

func reward(id string, start, v float64) model.Span {
	return span(id, "agentlightning.annotation", start, model.Attributes{
		"agentlightning.reward.0.name": "primary", "agentlightning.reward.0.value": v,
	})
}

func causes(fs []Finding) []Cause {
	out := []Cause{}
	for _, f := range fs {
		out = append(out, f.Cause)
		assert.NotEmpty(nil, f.Fix)
	}
	return out
}

func TestDiagnose(t *testing.T) {
	ro := &model.Rollout{RolloutID: "ro", Status: model.RolloutRunning}
	done := &model.Attempt{RolloutID: "ro", AttemptID: "at", Status: model.AttemptSucceeded}
	running := &model.Attempt{RolloutID: "ro", AttemptID: "at", Status: model.AttemptRunning}
	r1 := 1.0
	withReward := []model.TripletRecord{{SpanID: "c1", Triplet: model.Triplet{Reward: &r1}}}
	without := []model.TripletRecord{{SpanID: "c1"}}

	for _, tc := range []struct {
		name string
		in   Input
		want []Cause
	}{
		{"healthy", Input{Rollout: ro, Attempt: done, Spans: []model.Span{llmSpan("c1", 0, true), reward("r", 5, 1)}, Triplets: withReward}, []Cause{}},
		{"never started", Input{Rollout: ro}, []Cause{CauseNotCompleted}},
		{"no spans", Input{Rollout: ro, Attempt: running}, []Cause{CauseNoSpans, CauseNotCompleted}},
		{"no llm call", Input{Rollout: ro, Attempt: done, Spans: []model.Span{span("a", "tool.search", 0, model.Attributes{"http.method": "GET"}), reward("r", 5, 1)}},
			[]Cause{CauseNoLLMCall}},
		{"no reward", Input{Rollout: ro, Attempt: done, Spans: []model.Span{llmSpan("c1", 0, true)}, Triplets: without}, []Cause{CauseNoReward}},
		{"reward unmatched", Input{Rollout: ro, Attempt: done, Spans: []model.Span{reward("r", 0, 1), llmSpan("c1", 5, true)}, Triplets: without},
			[]Cause{CauseRewardUnmatched}},
		{"no token ids", Input{Rollout: ro, Attempt: done, Spans: []model.Span{llmSpan("c1", 0, false), reward("r", 5, 1)}, Triplets: withReward},
			[]Cause{CauseNoTokenIDs}},
		{"no triplets", Input{Rollout: ro, Attempt: done, Spans: []model.Span{llmSpan("c1", 0, true), reward("r", 5, 1)}}, []Cause{CauseNoTriplets}},
		{"running", Input{Rollout: ro, Attempt: running, Spans: []model.Span{llmSpan("c1", 0, true), reward("r", 5, 1)}}, []Cause{CauseNotCompleted}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			assert.Equal(t, tc.want, causes(Diagnose(tc.in)))
		})
	}

	// The no-LLM-call finding names what was seen.
	f := Diagnose(Input{Rollout: ro, Attempt: done, Spans: []model.Span{
		span("a", "tool.search", 0, model.Attributes{"http.method": "GET"}),
		span("b", "tool.search", 1, nil), span("c", "plan", 2, model.Attributes{"llm.foo": "x"}),
	}})
	assert.Equal(t, []NameCount{{"tool.search", 2}, {"plan", 1}}, f[0].Names)
	assert.Equal(t, []string{"http", "llm"}, f[0].Families)
}
