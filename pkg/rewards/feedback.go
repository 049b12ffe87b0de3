package rewards

import (
	"fmt"
	"strconv"
	"strings"

	"github.com/otelcol-lightning/otelcol-lightning/pkg/attrtree"
)

// OpenTelemetry GenAI evaluation event (semantic conventions v1.38+).
const (
	EvaluationEventName      = "gen_ai.evaluation.result"
	EvaluationNameKey        = "gen_ai.evaluation.name"
	EvaluationScoreValueKey  = "gen_ai.evaluation.score.value"
	EvaluationScoreLabelKey  = "gen_ai.evaluation.score.label"
	EvaluationExplanationKey = "gen_ai.evaluation.explanation"
	// EventNameKey carries the event name of a log record written by SDKs
	// that predate the LogRecord.EventName field.
	EventNameKey = "event.name"
)

// OpenInference feedback (spec/annotations.md): annotations.<i>.annotation.*
// and its alias evaluations.<i>.evaluation.*.
const (
	OpenInferenceSpanKindKey = "openinference.span.kind"
	// OpenInferenceEvaluatorKind marks a span that carries post-hoc feedback
	// about another span, which it points at with one span link.
	OpenInferenceEvaluatorKind = "EVALUATOR"
	// OpenInferenceLLMKind marks an LLM-call span.
	OpenInferenceLLMKind = "LLM"

	// maxFeedbackIndex bounds the indices read from one span, so a hostile
	// attribute such as annotations.999999999.annotation.name costs nothing.
	maxFeedbackIndex = 1023
)

// openInferenceForms lists the two equivalent flattened forms: the list
// prefix and the object key under each index.
var openInferenceForms = [...]struct{ list, object string }{
	{"annotations", "annotation"},
	{"evaluations", "evaluation"},
}

// Feedback is one evaluation result in a convention-neutral form.
type Feedback struct {
	// Name is the criterion, used as the reward dimension's name.
	Name string
	// Score is the numeric result when HasScore is true.
	Score    float64
	HasScore bool
	// Label is the categorical result ("pass", "correct", ...), if any.
	Label       string
	Explanation string
	// ResponseID is the gen_ai.response.id an evaluation event names as
	// the evaluated response, if any.
	ResponseID string
	// Source is SourceEvaluationEvent or SourceOpenInference.
	Source Source
}

// Resolve returns the feedback's reward value: the score, or else the value
// labelScores gives its label.
func (f Feedback) Resolve(labelScores map[string]float64) (float64, bool) {
	if f.HasScore {
		return f.Score, true
	}
	if f.Label != "" {
		v, ok := labelScores[f.Label]
		return v, ok
	}
	return 0, false
}

// IsEvaluationEvent reports whether an event (span event or log record) is
// a gen_ai.evaluation.result event. eventName is the span event's name or the
// log record's EventName; a log record may instead carry event.name.
func IsEvaluationEvent(eventName string, a Attributes) bool {
	if eventName == EvaluationEventName {
		return true
	}
	if eventName != "" {
		return false
	}
	v, ok := a.Get(EventNameKey)
	return ok && v == EvaluationEventName
}

// EvaluationResult parses the attributes of a gen_ai.evaluation.result event.
// The name is required, and a score that is present must be a finite number;
// otherwise the error says why (the feedback parsed so far is returned too).
func EvaluationResult(a Attributes) (Feedback, error) {
	f := Feedback{Source: SourceEvaluationEvent}
	name, err := requiredString(a, EvaluationNameKey)
	if err != nil {
		return f, err
	}
	f.Name = name
	f.Label, _ = optionalString(a, EvaluationScoreLabelKey)
	f.Explanation, _ = optionalString(a, EvaluationExplanationKey)
	f.ResponseID, _ = optionalString(a, LinkKeyResponseID)
	if raw, ok := a.Get(EvaluationScoreValueKey); ok {
		v, err := numberAt(EvaluationScoreValueKey, raw)
		if err != nil {
			return f, err
		}
		f.Score, f.HasScore = v, true
	}
	return f, nil
}

func requiredString(a Attributes, key string) (string, error) {
	raw, ok := a.Get(key)
	if !ok {
		return "", &Error{Key: key, Reason: ReasonInvalidStructure, Detail: "missing"}
	}
	s, ok := raw.(string)
	if !ok || s == "" {
		return "", &Error{Key: key, Reason: ReasonWrongType, Detail: fmt.Sprintf("want a non-empty string, got %T", raw)}
	}
	return s, nil
}

func optionalString(a Attributes, key string) (string, bool) {
	raw, ok := a.Get(key)
	if !ok {
		return "", false
	}
	s, ok := raw.(string)
	return s, ok
}

// OpenInferenceFeedback reads the span-scope OpenInference results, the
// annotations.<i>.annotation.* items first, then evaluations.<i>.evaluation.*,
// each in index order (gaps are tolerated: the spec only says SHOULD be
// contiguous). Items without a name, or with a malformed score, are reported
// in errs; the items returned are well formed but may lack both a score and
// a label (an explanation-only result).
func OpenInferenceFeedback(a Attributes) (items []Feedback, errs []error) {
	for _, form := range openInferenceForms {
		kvs := a.WithPrefix(form.list + ".")
		if len(kvs) == 0 {
			continue
		}
		entries, _, _ := attrtree.Indexed(kvs, form.list, maxFeedbackIndex)
		for _, e := range entries {
			f, err := openInferenceItem(form.list+"."+strconv.Itoa(e.Index)+"."+form.object, form.object+".", e.KVs)
			if err != nil {
				errs = append(errs, err)
				continue
			}
			items = append(items, f)
		}
	}
	return items, errs
}

func openInferenceItem(key, fieldPrefix string, kvs []attrtree.KV) (Feedback, error) {
	f := Feedback{Source: SourceOpenInference}
	fields := make(map[string]any, len(kvs))
	for _, kv := range kvs {
		if field, ok := strings.CutPrefix(kv.Key, fieldPrefix); ok {
			fields[field] = kv.Value
		}
	}
	name, ok := fields["name"].(string)
	if !ok || name == "" {
		return f, &Error{Key: key + ".name", Reason: ReasonInvalidStructure, Detail: "missing or not a string"}
	}
	f.Name = name
	f.Label, _ = fields["label"].(string)
	f.Explanation, _ = fields["explanation"].(string)
	if raw, ok := fields["score"]; ok {
		v, err := numberAt(key+".score", raw)
		if err != nil {
			return f, err
		}
		f.Score, f.HasScore = v, true
	}
	return f, nil
}
