package rewardprocessor // import "github.com/otelcol-lightning/otelcol-lightning/processor/rewardprocessor"

import (
	"slices"
	"strings"

	"go.opentelemetry.io/collector/pdata/pcommon"
	"go.opentelemetry.io/collector/pdata/plog"
	"go.opentelemetry.io/collector/pdata/ptrace"
	"go.uber.org/zap"

	"github.com/otelcol-lightning/otelcol-lightning/pkg/rewards"
)

// reasonConflictingTarget is a result about another call than the one the
// item's other rewards are linked to. Agent Lightning links apply to the
// whole span (a target must match every link), so one span cannot carry
// rewards for two calls.
const reasonConflictingTarget rewards.Reason = "conflicting_target"

// Attribute keys the target resolution looks at.
const (
	responseIDKey    = "gen_ai.response.id"
	operationNameKey = "gen_ai.operation.name"
)

// normalizer holds the compiled configuration. It is stateless across
// items, so one instance serves concurrent batches.
type normalizer struct {
	sources     SourcesConfig
	labelScores map[string]float64
	rules       []rule
	combine     CombineConfig
}

func newNormalizer(cfg *Config) (*normalizer, error) {
	rules, err := compileRules(cfg.Rules)
	if err != nil {
		return nil, err
	}
	return &normalizer{
		sources:     cfg.Sources,
		labelScores: cfg.LabelScores,
		rules:       rules,
		combine:     cfg.Combine,
	}, nil
}

// tally counts what happened in one batch; the processor turns it into
// metrics once per batch.
type tally struct {
	logger     *zap.Logger
	normalized map[rewards.Source]int64
	skipped    map[skipKey]int64
	rewritten  int64
}

type skipKey struct {
	source rewards.Source
	reason rewards.Reason
}

func (t *tally) found(src rewards.Source, n int) {
	if n == 0 {
		return
	}
	if t.normalized == nil {
		t.normalized = map[rewards.Source]int64{}
	}
	t.normalized[src] += int64(n)
}

func (t *tally) skip(src rewards.Source, reason rewards.Reason, err error) {
	if t.skipped == nil {
		t.skipped = map[skipKey]int64{}
	}
	t.skipped[skipKey{src, reason}]++
	if t.logger == nil {
		return
	}
	if ce := t.logger.Check(zap.DebugLevel, "Reward value skipped"); ce != nil {
		ce.Write(zap.String("source", string(src)), zap.String("reason", string(reason)), zap.Error(err))
	}
}

func (t *tally) skipErr(src rewards.Source, err error) {
	t.skip(src, rewards.ReasonOf(err), err)
}

// reward accumulates the reward of one span or log record: the dimensions
// (primary first) and the links that say which call they are about.
type reward struct {
	tally *tally
	dims  []rewards.Dimension
	links []rewards.Link
	// linksFixed is set once the links are decided: the item already had
	// links (or unreadable ones), or a first linked result set them.
	linksFixed   bool
	dimsChanged  bool
	linksChanged bool
}

// start reads the canonical attributes already on an item. A malformed
// canonical list leaves the whole item alone (ok false): rewriting it would
// change what Agent Lightning reads from it.
func start(a rewards.Attributes, p presence, t *tally) (r *reward, canonical bool, ok bool) {
	r = &reward{tally: t}
	if p.reward {
		got, err := rewards.ReadCanonical(a)
		if err != nil {
			t.skipErr(rewards.SourceAgentLightning, err)
			return nil, false, false
		}
		r.dims = got.Dimensions
		canonical = got.Source != ""
		t.found(rewards.SourceAgentLightning, len(r.dims))
	}
	if p.link {
		links, err := rewards.Links(a)
		if err != nil {
			t.skipErr(rewards.SourceAgentLightning, err)
		}
		r.links = links
		r.linksFixed = err != nil || len(links) > 0
	}
	return r, canonical, true
}

// add appends a dimension unless one of that name is already there (the
// same result carried twice, or an item normalised before). target is nil
// for a reward matched by position, else the links naming its call.
func (r *reward) add(d rewards.Dimension, src rewards.Source, target []rewards.Link) {
	if slices.ContainsFunc(r.dims, func(e rewards.Dimension) bool { return e.Name == d.Name }) {
		return
	}
	if target != nil {
		if !r.linksFixed {
			r.links, r.linksFixed, r.linksChanged = target, true, true
		} else if !slices.Equal(r.links, target) {
			r.tally.skip(src, reasonConflictingTarget, nil)
			return
		}
	}
	r.dims = append(r.dims, d)
	r.dimsChanged = true
	r.tally.found(src, 1)
}

// addFeedback resolves an evaluation result to a value and adds it.
func (n *normalizer) addFeedback(r *reward, f rewards.Feedback, target []rewards.Link) {
	v, ok := f.Resolve(n.labelScores)
	if !ok {
		r.tally.skip(f.Source, rewards.ReasonNoScore, nil)
		return
	}
	r.add(rewards.Dimension{Name: f.Name, Value: v}, f.Source, target)
}

// applyCombine puts the weighted sum first when so configured.
func (n *normalizer) applyCombine(r *reward) {
	if n.combine.Mode != CombineWeightedSum {
		return
	}
	sum, weighted := 0.0, false
	seen := map[string]bool{}
	for _, d := range r.dims {
		w, ok := n.combine.Weights[d.Name]
		if !ok || seen[d.Name] {
			continue
		}
		seen[d.Name] = true
		sum += w * d.Value
		weighted = true
	}
	if !weighted || !finite(sum) {
		return
	}
	combined := make([]rewards.Dimension, 0, len(r.dims)+1)
	combined = append(combined, rewards.Dimension{Name: n.combine.Name, Value: sum})
	for _, d := range r.dims {
		if d.Name != n.combine.Name {
			combined = append(combined, d)
		}
	}
	if !slices.Equal(combined, r.dims) {
		r.dims, r.dimsChanged = combined, true
	}
}

// write stores what changed and reports whether anything did.
func (r *reward) write(m pcommon.Map) bool {
	if r.dimsChanged {
		rewards.Write(m, r.dims)
	}
	if r.linksChanged {
		rewards.WriteLinks(m, r.links)
	}
	return r.dimsChanged || r.linksChanged
}

// presence records which attribute families an item has, from one pass
// over its keys, so the readers only run where they can find something.
type presence struct {
	reward, link, openInference bool
}

func scan(m pcommon.Map) presence {
	var p presence
	for k := range m.All() {
		switch {
		case strings.HasPrefix(k, rewards.RewardPrefix):
			p.reward = true
		case strings.HasPrefix(k, rewards.LinkPrefix):
			p.link = true
		case strings.HasPrefix(k, "annotations.") || strings.HasPrefix(k, "evaluations."):
			p.openInference = true
		}
	}
	return p
}

// span normalises the reward encodings of one span in place.
func (n *normalizer) span(span ptrace.Span, t *tally) {
	attrs := span.Attributes()
	view := rewards.FromPData(attrs)
	p := scan(attrs)
	r, canonical, ok := start(view, p, t)
	if !ok {
		return
	}
	// The legacy encodings are alternatives to the canonical list, read
	// only without one, in get_reward_value's order.
	if !canonical {
		n.legacy(span.Name(), view, r)
	}
	if n.sources.EvaluationEvents {
		n.spanEvents(span, r)
	}
	if n.sources.OpenInference && p.openInference {
		n.openInference(span, view, r)
	}
	for i := range n.rules {
		n.rules[i].apply(span, r)
	}
	n.applyCombine(r)
	if r.write(attrs) {
		t.rewritten++
	}
}

func (n *normalizer) legacy(spanName string, a rewards.Attributes, r *reward) {
	if n.sources.AgentOps {
		got, err := rewards.ReadAgentOps(a)
		if err != nil {
			r.tally.skipErr(rewards.SourceAgentOps, err)
		}
		for _, d := range got.Dimensions {
			r.add(d, rewards.SourceAgentOps, nil)
		}
		if got.Source != "" {
			return // a reward payload decides, even with a null value
		}
	}
	if n.sources.AnnotationV02 {
		got, err := rewards.ReadAnnotationV02(spanName, a)
		if err != nil {
			r.tally.skipErr(rewards.SourceAnnotationV02, err)
		}
		for _, d := range got.Dimensions {
			r.add(d, rewards.SourceAnnotationV02, nil)
		}
	}
}

// spanEvents reads gen_ai.evaluation.result span events. An event sits on
// the span it evaluates, unless it names another response.
func (n *normalizer) spanEvents(span ptrace.Span, r *reward) {
	events := span.Events()
	for i := 0; i < events.Len(); i++ {
		ev := events.At(i)
		if ev.Name() != rewards.EvaluationEventName {
			continue
		}
		f, err := rewards.EvaluationResult(rewards.FromPData(ev.Attributes()))
		if err != nil {
			r.tally.skipErr(rewards.SourceEvaluationEvent, err)
			continue
		}
		target := selfLink(span.SpanID())
		if f.ResponseID != "" && f.ResponseID != stringAttr(span.Attributes(), responseIDKey) {
			target = responseLink(f.ResponseID)
		}
		n.addFeedback(r, f, target)
	}
}

// openInference reads span-scope annotations and evaluations.
func (n *normalizer) openInference(span ptrace.Span, view rewards.Attributes, r *reward) {
	items, errs := rewards.OpenInferenceFeedback(view)
	for _, err := range errs {
		r.tally.skipErr(rewards.SourceOpenInference, err)
	}
	if len(items) == 0 {
		return
	}
	target := annotationTarget(span)
	for _, f := range items {
		n.addFeedback(r, f, target)
	}
}

// annotationTarget decides which call OpenInference results on span are
// about. A carrier span (post-hoc feedback) points at its target with exactly
// one span link; an evaluator span without a link may name the response it
// judged; otherwise the results are about the span itself. An LLM span with
// one unrelated link is still its own target.
func annotationTarget(span ptrace.Span) []rewards.Link {
	attrs := span.Attributes()
	if span.Links().Len() == 1 && !isLLMSpan(attrs) {
		return selfLink(span.Links().At(0).SpanID())
	}
	if stringAttr(attrs, rewards.OpenInferenceSpanKindKey) == rewards.OpenInferenceEvaluatorKind {
		if id := stringAttr(attrs, responseIDKey); id != "" {
			return responseLink(id)
		}
		return nil // a judge with no named target: matched by position
	}
	return selfLink(span.SpanID())
}

func isLLMSpan(attrs pcommon.Map) bool {
	if stringAttr(attrs, rewards.OpenInferenceSpanKindKey) == rewards.OpenInferenceLLMKind {
		return true
	}
	switch stringAttr(attrs, operationNameKey) {
	case "chat", "text_completion", "generate_content", "completion":
		return true
	}
	return false
}

// logRecord normalises a gen_ai.evaluation.result log record in place. The
// evaluated call is the response the record names, else the span the record
// was emitted under.
func (n *normalizer) logRecord(lr plog.LogRecord, t *tally) {
	attrs := lr.Attributes()
	view := rewards.FromPData(attrs)
	if !rewards.IsEvaluationEvent(lr.EventName(), view) {
		return
	}
	r, _, ok := start(view, scan(attrs), t)
	if !ok {
		return
	}
	f, err := rewards.EvaluationResult(view)
	if err != nil {
		t.skipErr(rewards.SourceEvaluationEvent, err)
		return
	}
	target := selfLink(lr.SpanID())
	if f.ResponseID != "" {
		target = responseLink(f.ResponseID)
	}
	n.addFeedback(r, f, target)
	n.applyCombine(r)
	if r.write(attrs) {
		t.rewritten++
	}
}

// selfLink links to a span id; nil (matched by position) when it is empty.
func selfLink(id pcommon.SpanID) []rewards.Link {
	if id.IsEmpty() {
		return nil
	}
	return []rewards.Link{{KeyMatch: rewards.LinkKeySpanID, ValueMatch: id.String()}}
}

func responseLink(id string) []rewards.Link {
	return []rewards.Link{{KeyMatch: rewards.LinkKeyResponseID, ValueMatch: id}}
}

func stringAttr(m pcommon.Map, key string) string {
	v, ok := m.Get(key)
	if !ok || v.Type() != pcommon.ValueTypeStr {
		return ""
	}
	return v.Str()
}
