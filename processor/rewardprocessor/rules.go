package rewardprocessor // import "github.com/otelcol-lightning/otelcol-lightning/processor/rewardprocessor"

import (
	"fmt"
	"math"
	"regexp"
	"sort"

	"go.opentelemetry.io/collector/pdata/pcommon"
	"go.opentelemetry.io/collector/pdata/ptrace"

	"github.com/otelcol-lightning/otelcol-lightning/pkg/rewards"
)

// rule is a compiled RuleConfig.
type rule struct {
	name     string
	spanName *regexp.Regexp // nil matches every span
	attrs    []attrCondition
	event    string
	value    string
	scale    float64
	offset   float64
	clip     *[2]float64
	linkSelf bool
}

type attrCondition struct {
	key, text string
}

func compileRules(cfgs []RuleConfig) ([]rule, error) {
	rules := make([]rule, 0, len(cfgs))
	for i := range cfgs {
		r, err := compileRule(&cfgs[i])
		if err != nil {
			return nil, fmt.Errorf("rules[%d]: %w", i, err)
		}
		rules = append(rules, r)
	}
	return rules, nil
}

func compileRule(c *RuleConfig) (rule, error) {
	if err := c.validate(); err != nil {
		return rule{}, err
	}
	r := rule{
		name:     c.Name,
		event:    c.Event,
		value:    c.Value,
		scale:    1,
		offset:   c.Offset,
		linkSelf: c.Link == LinkSelf,
	}
	if c.SpanName != "" {
		re, err := regexp.Compile(c.SpanName)
		if err != nil {
			return rule{}, fmt.Errorf("span_name: %w", err)
		}
		r.spanName = re
	}
	for k, v := range c.Attributes {
		text, _ := attributeText(v) // validated above
		r.attrs = append(r.attrs, attrCondition{key: k, text: text})
	}
	// Sorted so that rule evaluation does not depend on map order.
	sort.Slice(r.attrs, func(i, j int) bool { return r.attrs[i].key < r.attrs[j].key })
	if c.Scale != nil {
		r.scale = *c.Scale
	}
	if len(c.Clip) == 2 {
		r.clip = &[2]float64{c.Clip[0], c.Clip[1]}
	}
	return r, nil
}

func (r *rule) matches(span ptrace.Span) bool {
	if r.spanName != nil && !r.spanName.MatchString(span.Name()) {
		return false
	}
	attrs := span.Attributes()
	for _, c := range r.attrs {
		v, ok := attrs.Get(c.key)
		if !ok || v.AsString() != c.text {
			return false
		}
	}
	return true
}

// raw returns the configured value attribute, from the span or from the
// first span event of the configured name that has it.
func (r *rule) raw(span ptrace.Span) (pcommon.Value, bool) {
	if r.event == "" {
		return span.Attributes().Get(r.value)
	}
	events := span.Events()
	for i := 0; i < events.Len(); i++ {
		ev := events.At(i)
		if ev.Name() != r.event {
			continue
		}
		if v, ok := ev.Attributes().Get(r.value); ok {
			return v, true
		}
	}
	return pcommon.Value{}, false
}

// transform applies scale, offset and clip.
func (r *rule) transform(v float64) float64 {
	v = v*r.scale + r.offset
	if r.clip != nil {
		v = math.Min(math.Max(v, r.clip[0]), r.clip[1])
	}
	return v
}

// apply adds the rule's dimension when the span matches and has the value.
// A span without the value attribute is not an error: the rule just does
// not apply to it.
func (r *rule) apply(span ptrace.Span, acc *reward) {
	if !r.matches(span) {
		return
	}
	raw, ok := r.raw(span)
	if !ok {
		return
	}
	v, reason := rewards.ToFloat(raw.AsRaw())
	if reason == "" {
		v = r.transform(v)
		if !finite(v) {
			reason = rewards.ReasonNonFinite
		}
	}
	if reason != "" {
		acc.tally.skip(rewards.SourceRule, reason, fmt.Errorf("rule %q: attribute %q: %s", r.name, r.value, raw.AsString()))
		return
	}
	var target []rewards.Link
	if r.linkSelf {
		target = selfLink(span.SpanID())
	}
	acc.add(rewards.Dimension{Name: r.name, Value: v}, rewards.SourceRule, target)
}
