package rewards

import (
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

func TestEvaluationResult(t *testing.T) {
	tests := []struct {
		name   string
		attrs  map[string]any
		want   Feedback
		reason Reason
	}{
		{
			// genai-conventions.md §1.7.
			name: "full event",
			attrs: map[string]any{
				"gen_ai.evaluation.name": "task_success", "gen_ai.evaluation.score.value": 1.0,
				"gen_ai.evaluation.score.label": "pass", "gen_ai.evaluation.explanation": "unit tests passed",
				"gen_ai.response.id": "chatcmpl-123",
			},
			want: Feedback{
				Name: "task_success", Score: 1, HasScore: true, Label: "pass",
				Explanation: "unit tests passed", ResponseID: "chatcmpl-123", Source: SourceEvaluationEvent,
			},
		},
		{
			name:  "label only",
			attrs: map[string]any{"gen_ai.evaluation.name": "Relevance", "gen_ai.evaluation.score.label": "fail"},
			want:  Feedback{Name: "Relevance", Label: "fail", Source: SourceEvaluationEvent},
		},
		{
			name:   "missing name",
			attrs:  map[string]any{"gen_ai.evaluation.score.value": 1.0},
			want:   Feedback{Source: SourceEvaluationEvent},
			reason: ReasonInvalidStructure,
		},
		{
			name:   "non-string name",
			attrs:  map[string]any{"gen_ai.evaluation.name": 4, "gen_ai.evaluation.score.value": 1.0},
			want:   Feedback{Source: SourceEvaluationEvent},
			reason: ReasonWrongType,
		},
		{
			name:   "non-numeric score",
			attrs:  map[string]any{"gen_ai.evaluation.name": "x", "gen_ai.evaluation.score.value": "high"},
			want:   Feedback{Name: "x", Source: SourceEvaluationEvent},
			reason: ReasonNonNumeric,
		},
	}
	for _, tt := range tests {
		for view, a := range views(t, tt.attrs) {
			t.Run(tt.name+"/"+view, func(t *testing.T) {
				got, err := EvaluationResult(a)
				assert.Equal(t, tt.reason, ReasonOf(err))
				assert.Equal(t, tt.want, got)
			})
		}
	}
}

func TestIsEvaluationEvent(t *testing.T) {
	withAttr := views(t, map[string]any{"event.name": "gen_ai.evaluation.result"})["pdata"]
	without := views(t, map[string]any{})["pdata"]
	assert.True(t, IsEvaluationEvent("gen_ai.evaluation.result", without))
	assert.True(t, IsEvaluationEvent("", withAttr))
	assert.False(t, IsEvaluationEvent("gen_ai.choice", withAttr))
	assert.False(t, IsEvaluationEvent("", without))
}

func TestOpenInferenceFeedback(t *testing.T) {
	tests := []struct {
		name    string
		attrs   map[string]any
		want    []Feedback
		reasons []Reason
	}{
		{
			// Arize-ai/openinference spec/annotations.md.
			name: "annotation example",
			attrs: map[string]any{
				"openinference.span.kind":                 "CHAIN",
				"annotations.0.annotation.name":           "hallucination",
				"annotations.0.annotation.score":          1,
				"annotations.0.annotation.label":          "hallucinated",
				"annotations.0.annotation.explanation":    "The claim is not supported by the retrieved documents.",
				"annotations.0.annotation.annotator_kind": "LLM",
				"annotations.0.annotation.identifier":     "judge-v2",
				"annotations.0.annotation.metadata":       `{"rubric_version":"2"}`,
			},
			want: []Feedback{{
				Name: "hallucination", Score: 1, HasScore: true, Label: "hallucinated",
				Explanation: "The claim is not supported by the retrieved documents.", Source: SourceOpenInference,
			}},
		},
		{
			name: "both forms, index order, gaps tolerated",
			attrs: map[string]any{
				"evaluations.0.evaluation.name":  "correctness",
				"evaluations.0.evaluation.label": "correct",
				"annotations.2.annotation.name":  "b",
				"annotations.2.annotation.score": 0.5,
				"annotations.0.annotation.name":  "a",
				"annotations.0.annotation.score": 0.25,
			},
			want: []Feedback{
				{Name: "a", Score: 0.25, HasScore: true, Source: SourceOpenInference},
				{Name: "b", Score: 0.5, HasScore: true, Source: SourceOpenInference},
				{Name: "correctness", Label: "correct", Source: SourceOpenInference},
			},
		},
		{
			name: "bad items are reported, good ones kept",
			attrs: map[string]any{
				"annotations.0.annotation.score":    1,
				"annotations.1.annotation.name":     "x",
				"annotations.1.annotation.score":    "NaN",
				"annotations.2.annotation.name":     "y",
				"annotations.2.annotation.score":    2,
				"annotations.99999.annotation.name": "too far",
			},
			want:    []Feedback{{Name: "y", Score: 2, HasScore: true, Source: SourceOpenInference}},
			reasons: []Reason{ReasonInvalidStructure, ReasonNonFinite},
		},
		{
			name:  "trace scope is not span feedback",
			attrs: map[string]any{"trace.annotations.0.annotation.name": "x", "trace.annotations.0.annotation.score": 1},
		},
	}
	for _, tt := range tests {
		for view, a := range views(t, tt.attrs) {
			t.Run(tt.name+"/"+view, func(t *testing.T) {
				got, errs := OpenInferenceFeedback(a)
				assert.Equal(t, tt.want, got)
				var reasons []Reason
				for _, err := range errs {
					reasons = append(reasons, ReasonOf(err))
				}
				assert.Equal(t, tt.reasons, reasons)
			})
		}
	}
}

func TestFeedbackResolve(t *testing.T) {
	labels := map[string]float64{"pass": 1, "fail": 0}
	v, ok := Feedback{Score: 0.3, HasScore: true, Label: "fail"}.Resolve(labels)
	require.True(t, ok)
	assert.Equal(t, 0.3, v)
	v, ok = Feedback{Label: "pass"}.Resolve(labels)
	require.True(t, ok)
	assert.Equal(t, 1.0, v)
	_, ok = Feedback{Label: "maybe"}.Resolve(labels)
	assert.False(t, ok)
	_, ok = Feedback{Explanation: "only words"}.Resolve(labels)
	assert.False(t, ok)
}
