package rewards

import (
	"encoding/json"
	"errors"
	"fmt"
	"strconv"
	"strings"

	"go.opentelemetry.io/collector/pdata/pcommon"

	"github.com/otelcol-lightning/otelcol-lightning/pkg/model"
)

// Attribute keys and span names of Agent Lightning v0.3 (agentlightning/semconv.py).
const (
	// RewardPrefix prefixes the reward dimensions
	// agentlightning.reward.<i>.name and agentlightning.reward.<i>.value.
	RewardPrefix = "agentlightning.reward"
	// LinkPrefix prefixes the links agentlightning.link.<i>.key_match and
	// agentlightning.link.<i>.value_match.
	LinkPrefix = "agentlightning.link"
	// TagPrefix prefixes the tags agentlightning.tag.<i>.
	TagPrefix = "agentlightning.tag"

	// AnnotationSpanName names the spans emit_reward and emit_annotation create.
	AnnotationSpanName = "agentlightning.annotation"
	// OperationSpanName names the spans of the operation decorator.
	OperationSpanName = "agentlightning.operation"
	// OperationNameKey holds the operation's name on an operation span.
	OperationNameKey = "agentlightning.operation.name"
	// RewardOperationName is the operation name that marks an operation span
	// as a reward computation (excluded, with its subtree, from LLM-call
	// discovery in the triplet adapter).
	RewardOperationName = "agentlightning.reward"

	// AgentOpsTaskOutputKey and AgentOpsEntityOutputKey carry the legacy
	// AgentOps reward payload {"type":"reward","value":x}, in that order.
	AgentOpsTaskOutputKey   = "agentops.task.output"
	AgentOpsEntityOutputKey = "agentops.entity.output"
	// LegacyRewardKey is the v0.2 reward attribute of an annotation span.
	LegacyRewardKey = "reward"

	// PrimaryName names the dimension of a scalar reward.
	PrimaryName = "primary"

	nameField  = "name"
	valueField = "value"
)

// Source names the encoding a reward was read from. The values are stable:
// the reward processor uses them as a metric attribute.
type Source string

const (
	// SourceAgentLightning is the canonical agentlightning.reward.<i> list.
	SourceAgentLightning Source = "agentlightning"
	// SourceAgentOps is an AgentOps {"type":"reward"} payload.
	SourceAgentOps Source = "agentops"
	// SourceAnnotationV02 is the v0.2 reward attribute of an annotation span.
	SourceAnnotationV02 Source = "annotation_v02"
	// SourceEvaluationEvent is an OpenTelemetry gen_ai.evaluation.result event.
	SourceEvaluationEvent Source = "gen_ai_evaluation"
	// SourceOpenInference is an OpenInference annotation or evaluation.
	SourceOpenInference Source = "openinference"
	// SourceRule is a user-configured rule of the reward processor.
	SourceRule Source = "rule"
)

// Dimension is one named component of a reward.
type Dimension struct {
	Name  string  `json:"name"`
	Value float64 `json:"value"`
}

// Reading is the reward found on a span.
type Reading struct {
	// Dimensions lists the reward, primary first. A legacy encoding gives
	// one dimension named "primary".
	Dimensions []Dimension
	// Source is the encoding that decided the reading; "" when the span
	// carries no reward encoding at all. A recognised payload whose value is
	// null (AgentOps {"type":"reward","value":null}) has a Source and no
	// Dimensions: Agent Lightning stops looking there and reports no reward.
	Source Source
}

// Primary returns the value of the first dimension.
func (r Reading) Primary() (float64, bool) {
	if len(r.Dimensions) == 0 {
		return 0, false
	}
	return r.Dimensions[0].Value, true
}

// Read finds the reward of a span with the precedence of Agent Lightning's
// get_reward_value: the canonical list, then the AgentOps payloads, then the
// v0.2 annotation attribute. A malformed encoding that decides the reading
// is an error (Python raises on the canonical list).
func Read(spanName string, a Attributes) (Reading, error) {
	if r, err := ReadCanonical(a); err != nil || r.Source != "" {
		return r, err
	}
	if r, err := ReadAgentOps(a); err != nil || r.Source != "" {
		return r, err
	}
	return ReadAnnotationV02(spanName, a)
}

// Value is get_reward_value: the primary reward of a span, ok false when it
// has none.
func Value(spanName string, a Attributes) (value float64, ok bool, err error) {
	r, err := Read(spanName, a)
	if err != nil {
		return 0, false, err
	}
	v, ok := r.Primary()
	return v, ok, nil
}

// IsRewardSpan is is_reward_span: the span has a primary reward. A span with
// a malformed reward is not a reward span.
func IsRewardSpan(spanName string, a Attributes) bool {
	_, ok, err := Value(spanName, a)
	return ok && err == nil
}

// RewardSpans is find_reward_spans: the spans that carry a reward, in order.
func RewardSpans(spans []model.Span) []model.Span {
	var out []model.Span
	for _, s := range spans {
		if IsRewardSpan(ModelSpanOf(s)) {
			out = append(out, s)
		}
	}
	return out
}

// FinalReward is find_final_reward: the primary reward of the last span, in
// list order, that has one. Malformed rewards are skipped (Python raises).
func FinalReward(spans []model.Span) (float64, bool) {
	for i := len(spans) - 1; i >= 0; i-- {
		if v, ok, err := Value(ModelSpanOf(spans[i])); ok && err == nil {
			return v, true
		}
	}
	return 0, false
}

// IsRewardOperation reports an agentlightning.operation span whose operation
// name is agentlightning.reward. The triplet adapter treats it like a reward
// span when it excludes reward subtrees from LLM-call discovery, but not when
// it matches rewards to calls (it carries no value by itself).
func IsRewardOperation(spanName string, a Attributes) bool {
	if spanName != OperationSpanName {
		return false
	}
	v, ok := a.Get(OperationNameKey)
	return ok && v == RewardOperationName
}

// Dimensions is get_rewards_from_span: the canonical reward list, or nil
// when the span has no attribute starting with agentlightning.reward.
func Dimensions(a Attributes) ([]Dimension, error) {
	r, err := ReadCanonical(a)
	return r.Dimensions, err
}

// ReadCanonical reads the agentlightning.reward.<i> list. As in Python, any
// key starting with "agentlightning.reward" commits to this encoding, and
// the unflattened value must then be a non-empty list of {name: string,
// value: number}; extra fields are ignored.
func ReadCanonical(a Attributes) (Reading, error) {
	kvs := a.WithPrefix(RewardPrefix)
	if len(kvs) == 0 {
		return Reading{}, nil
	}
	tree, _, err := unflattenUnder(kvs, RewardPrefix)
	if err != nil {
		return Reading{}, err
	}
	list, ok := tree.([]any)
	if !ok {
		return Reading{}, &Error{Key: RewardPrefix, Reason: ReasonInvalidStructure, Detail: "not a list indexed 0..n-1"}
	}
	dims := make([]Dimension, 0, len(list))
	for i, item := range list {
		d, err := dimensionAt(i, item)
		if err != nil {
			return Reading{}, err
		}
		dims = append(dims, d)
	}
	return Reading{Dimensions: dims, Source: SourceAgentLightning}, nil
}

func dimensionAt(i int, item any) (Dimension, error) {
	key := RewardPrefix + "." + strconv.Itoa(i)
	obj, ok := item.(map[string]any)
	if !ok {
		return Dimension{}, &Error{Key: key, Reason: ReasonInvalidStructure, Detail: "not an object with name and value"}
	}
	rawName, ok := obj[nameField]
	if !ok {
		return Dimension{}, &Error{Key: key + "." + nameField, Reason: ReasonInvalidStructure, Detail: "missing"}
	}
	name, ok := rawName.(string)
	if !ok {
		return Dimension{}, &Error{Key: key + "." + nameField, Reason: ReasonWrongType, Detail: fmt.Sprintf("%T", rawName)}
	}
	rawValue, ok := obj[valueField]
	if !ok {
		return Dimension{}, &Error{Key: key + "." + valueField, Reason: ReasonInvalidStructure, Detail: "missing"}
	}
	value, err := numberAt(key+"."+valueField, rawValue)
	if err != nil {
		return Dimension{}, err
	}
	return Dimension{Name: name, Value: value}, nil
}

// ReadAgentOps reads the AgentOps payload {"type":"reward","value":x} from
// agentops.task.output, then agentops.entity.output; each may hold a map or
// a JSON string. The first payload of type "reward" decides, even when its
// value is null. Outputs that are not reward payloads are ignored, and so is
// text that is not JSON, except that such text mentioning "reward" is
// reported as ReasonInvalidJSON when nothing else decides (AgentOps outputs
// are often plain text; Python skips them all silently).
func ReadAgentOps(a Attributes) (Reading, error) {
	var pending error
	for _, key := range [...]string{AgentOpsTaskOutputKey, AgentOpsEntityOutputKey} {
		payload, err := agentOpsPayload(a, key)
		if err != nil {
			if pending == nil {
				pending = err
			}
			continue
		}
		if payload == nil || payload["type"] != "reward" {
			continue
		}
		raw, present := payload[valueField]
		if !present || raw == nil {
			return Reading{Source: SourceAgentOps}, nil
		}
		v, err := numberAt(key+"."+valueField, raw)
		if err != nil {
			return Reading{Source: SourceAgentOps}, err
		}
		return Reading{Dimensions: []Dimension{{Name: PrimaryName, Value: v}}, Source: SourceAgentOps}, nil
	}
	return Reading{}, pending
}

// agentOpsPayload returns the map held by key, or nil when it holds anything
// else (Python's falsy values, non-JSON text, a JSON array or scalar).
func agentOpsPayload(a Attributes, key string) (map[string]any, error) {
	v, ok := a.Get(key)
	if !ok {
		return nil, nil
	}
	switch x := v.(type) {
	case map[string]any:
		return x, nil
	case string:
		if x == "" {
			return nil, nil
		}
		var m map[string]any
		if err := json.Unmarshal([]byte(x), &m); err != nil {
			var syntax *json.SyntaxError
			if errors.As(err, &syntax) && strings.Contains(x, "reward") {
				return nil, &Error{Key: key, Reason: ReasonInvalidJSON, Detail: err.Error()}
			}
			return nil, nil
		}
		return m, nil
	}
	return nil, nil
}

// ReadAnnotationV02 reads the v0.2 encoding: a "reward" attribute on a span
// named agentlightning.annotation. A null value is no reward.
func ReadAnnotationV02(spanName string, a Attributes) (Reading, error) {
	if spanName != AnnotationSpanName {
		return Reading{}, nil
	}
	raw, ok := a.Get(LegacyRewardKey)
	if !ok || raw == nil {
		return Reading{}, nil
	}
	v, err := numberAt(LegacyRewardKey, raw)
	if err != nil {
		return Reading{Source: SourceAnnotationV02}, err
	}
	return Reading{Dimensions: []Dimension{{Name: PrimaryName, Value: v}}, Source: SourceAnnotationV02}, nil
}

// Write replaces the canonical reward attributes of m with dims: every key
// equal to or below agentlightning.reward is removed, then
// agentlightning.reward.<i>.name and .value are set for each dimension in
// order (index 0 is the primary). Empty dims just removes the reward.
func Write(m pcommon.Map, dims []Dimension) {
	removeUnder(m, RewardPrefix)
	for i, d := range dims {
		base := RewardPrefix + "." + strconv.Itoa(i) + "."
		m.PutStr(base+nameField, d.Name)
		m.PutDouble(base+valueField, d.Value)
	}
}

// removeUnder deletes the key prefix and every key below "prefix.".
func removeUnder(m pcommon.Map, prefix string) {
	dotted := prefix + "."
	m.RemoveIf(func(k string, _ pcommon.Value) bool {
		return k == prefix || strings.HasPrefix(k, dotted)
	})
}
