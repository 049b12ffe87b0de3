package rewardprocessor // import "github.com/otelcol-lightning/otelcol-lightning/processor/rewardprocessor"

import (
	"errors"
	"fmt"
	"math"
	"regexp"

	"go.opentelemetry.io/collector/pdata/pcommon"
)

// CombineMode says how a multi-dimensional reward picks its primary value.
type CombineMode string

const (
	// CombinePrimary keeps index 0 of the dimension list as the primary.
	CombinePrimary CombineMode = "primary"
	// CombineWeightedSum writes the weighted sum of the dimensions as a new
	// index 0.
	CombineWeightedSum CombineMode = "weighted_sum"
)

// LinkMode says which call a rule's reward is attached to.
type LinkMode string

const (
	// LinkNone leaves the reward unlinked: it is matched to a call by
	// position, as Agent Lightning matches its reward spans.
	LinkNone LinkMode = "none"
	// LinkSelf links the reward to the span it was read from (the span is
	// the evaluated call).
	LinkSelf LinkMode = "self"
)

// Config is the configuration of the reward processor.
type Config struct {
	// Sources turns the built-in readers on or off. The canonical
	// agentlightning.reward.<i> attributes are always validated and kept.
	Sources SourcesConfig `mapstructure:"sources"`

	// LabelScores gives a reward value to a categorical result that has no
	// numeric score (an evaluation event or OpenInference annotation with
	// only a label), for example {pass: 1, fail: 0}. Default: empty, so
	// label-only results are skipped (counted with reason no_score).
	LabelScores map[string]float64 `mapstructure:"label_scores"`

	// Rules turn any span attribute or span event attribute into a reward
	// dimension. Default: none.
	Rules []RuleConfig `mapstructure:"rules"`

	// Combine decides the primary reward (index 0) of multi-dimensional
	// rewards. Default: mode primary.
	Combine CombineConfig `mapstructure:"combine"`

	_ struct{}
}

// SourcesConfig enables the built-in reward readers. All default to true.
type SourcesConfig struct {
	// AgentOps reads {"type":"reward","value":x} in agentops.task.output or
	// agentops.entity.output.
	AgentOps bool `mapstructure:"agentops"`
	// AnnotationV02 reads the reward attribute of agentlightning.annotation
	// spans (Agent Lightning v0.2).
	AnnotationV02 bool `mapstructure:"annotation_v02"`
	// EvaluationEvents reads gen_ai.evaluation.result span events and log
	// records.
	EvaluationEvents bool `mapstructure:"evaluation_events"`
	// OpenInference reads annotations.<i>.annotation.* and
	// evaluations.<i>.evaluation.* span attributes.
	OpenInference bool `mapstructure:"openinference"`

	_ struct{}
}

// RuleConfig turns an attribute into a reward dimension.
type RuleConfig struct {
	// Name is the reward dimension's name. Required.
	Name string `mapstructure:"name"`
	// SpanName is a regular expression the span name must match (RE2,
	// unanchored: use ^...$ for a whole-name match). Default: any span.
	SpanName string `mapstructure:"span_name"`
	// Attributes must all be present on the span with these values,
	// compared as text. Default: no condition.
	Attributes map[string]any `mapstructure:"attributes"`
	// Event, when set, reads Value from the attributes of the first span
	// event with this name that has it, instead of from the span.
	Event string `mapstructure:"event"`
	// Value is the attribute holding the number. Required. Integers,
	// doubles, booleans and numeric strings are read.
	Value string `mapstructure:"value"`
	// Scale multiplies the value. Default 1.
	Scale *float64 `mapstructure:"scale"`
	// Offset is added after scaling. Default 0.
	Offset float64 `mapstructure:"offset"`
	// Clip, as [min, max], bounds the result after scale and offset.
	// Default: no bound.
	Clip []float64 `mapstructure:"clip"`
	// Link is none (default: the reward is matched to a call by position)
	// or self (the reward is about the span it was read from).
	Link LinkMode `mapstructure:"link"`

	_ struct{}
}

// CombineConfig decides the primary reward.
type CombineConfig struct {
	// Mode is primary (default) or weighted_sum.
	Mode CombineMode `mapstructure:"mode"`
	// Weights maps dimension names to weights; weighted_sum only. A span
	// with none of these dimensions is left as it is; missing ones count 0.
	Weights map[string]float64 `mapstructure:"weights"`
	// Name is the name of the weighted-sum dimension written at index 0.
	// Default "primary".
	Name string `mapstructure:"name"`

	_ struct{}
}

// Validate rejects configurations the processor cannot apply.
func (cfg *Config) Validate() error {
	var errs []error
	for label, v := range cfg.LabelScores {
		if !finite(v) {
			errs = append(errs, fmt.Errorf("label_scores::%s: must be a finite number", label))
		}
	}
	for i, r := range cfg.Rules {
		errs = append(errs, prefixed(fmt.Sprintf("rules[%d]", i), r.problems())...)
	}
	errs = append(errs, prefixed("combine", cfg.Combine.problems())...)
	return errors.Join(errs...)
}

// prefixed names the section each error is about.
func prefixed(section string, errs []error) []error {
	out := make([]error, len(errs))
	for i, err := range errs {
		out[i] = fmt.Errorf("%s: %w", section, err)
	}
	return out
}

func (r *RuleConfig) validate() error { return errors.Join(r.problems()...) }

func (r *RuleConfig) problems() []error {
	var errs []error
	if r.Name == "" {
		errs = append(errs, errors.New("name: required"))
	}
	if r.Value == "" {
		errs = append(errs, errors.New("value: required"))
	}
	if _, err := regexp.Compile(r.SpanName); err != nil {
		errs = append(errs, fmt.Errorf("span_name: %w", err))
	}
	for k, v := range r.Attributes {
		if _, ok := attributeText(v); !ok {
			errs = append(errs, fmt.Errorf("attributes::%s: must be a string, number or bool, got %T", k, v))
		}
	}
	if r.Scale != nil && !finite(*r.Scale) {
		errs = append(errs, errors.New("scale: must be a finite number"))
	}
	if !finite(r.Offset) {
		errs = append(errs, errors.New("offset: must be a finite number"))
	}
	switch {
	case len(r.Clip) == 0:
	case len(r.Clip) != 2:
		errs = append(errs, fmt.Errorf("clip: want [min, max], got %d values", len(r.Clip)))
	case math.IsNaN(r.Clip[0]) || math.IsNaN(r.Clip[1]):
		errs = append(errs, errors.New("clip: bounds must be numbers"))
	case r.Clip[0] > r.Clip[1]:
		errs = append(errs, fmt.Errorf("clip: min %v is greater than max %v", r.Clip[0], r.Clip[1]))
	}
	switch r.Link {
	case "", LinkNone, LinkSelf:
	default:
		errs = append(errs, fmt.Errorf("link: %q is not none or self", r.Link))
	}
	return errs
}

func (c *CombineConfig) problems() []error {
	switch c.Mode {
	case CombinePrimary, "":
		if len(c.Weights) > 0 {
			return []error{fmt.Errorf("weights: only used by mode %s, but mode is %s", CombineWeightedSum, CombinePrimary)}
		}
		return nil
	case CombineWeightedSum:
	default:
		return []error{fmt.Errorf("mode: %q is not %s or %s", c.Mode, CombinePrimary, CombineWeightedSum)}
	}
	var errs []error
	if len(c.Weights) == 0 {
		errs = append(errs, errors.New("weights: required by mode weighted_sum"))
	}
	for name, w := range c.Weights {
		if !finite(w) {
			errs = append(errs, fmt.Errorf("weights::%s: must be a finite number", name))
		}
	}
	if c.Name == "" {
		errs = append(errs, errors.New("name: required by mode weighted_sum"))
	}
	// A weight on the sum's own name would make every pass add to it again.
	if _, ok := c.Weights[c.Name]; ok && c.Name != "" {
		errs = append(errs, fmt.Errorf("weights::%s: the combined dimension cannot weigh itself", c.Name))
	}
	return errs
}

func finite(f float64) bool { return !math.IsNaN(f) && !math.IsInf(f, 0) }

// attributeText renders a configured attribute value as the text
// pcommon.Value.AsString gives for the same value on a span, so that 1, 1.0
// and "1" in YAML all match an attribute whose text is "1".
func attributeText(v any) (string, bool) {
	switch v.(type) {
	case string, bool, int, int64, int32, uint32, float64, float32:
	default:
		return "", false
	}
	pv := pcommon.NewValueEmpty()
	if err := pv.FromRaw(v); err != nil {
		return "", false
	}
	return pv.AsString(), true
}
