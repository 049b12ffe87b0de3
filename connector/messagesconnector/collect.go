package messagesconnector // import "github.com/otelcol-lightning/otelcol-lightning/connector/messagesconnector"

import (
	"cmp"
	"slices"

	"go.opentelemetry.io/collector/pdata/pcommon"
	"go.opentelemetry.io/collector/pdata/ptrace"

	"github.com/otelcol-lightning/otelcol-lightning/pkg/genai"
	"github.com/otelcol-lightning/otelcol-lightning/pkg/otlpspan"
	"github.com/otelcol-lightning/otelcol-lightning/pkg/rewards"
	"github.com/otelcol-lightning/otelcol-lightning/pkg/tripletspan"
)

// call is one LLM call of a batch that will become a log record.
type call struct {
	resource int // index of its ResourceSpans in the batch
	span     ptrace.Span
	id       otlpspan.SpanIdentity
	parsed   *genai.Call
	reward   []rewards.Dimension // nil until a reward is known
	hold     bool                // waits for its GenAI log events
}

// rewardSpan is a span of the batch that carries a reward.
type rewardSpan struct {
	id         otlpspan.SpanIdentity
	start, end pcommon.Timestamp
	dims       []rewards.Dimension
	links      []rewards.Link
}

type attemptKey struct{ rollout, attempt string }

// batch is what one ConsumeTraces found.
type batch struct {
	td       ptrace.Traces
	calls    []*call
	rewards  []rewardSpan
	skipped  map[string]int
	problems int
}

// keys returns the dedup keys of the calls that have a response id.
func (b *batch) keys() []callKey {
	out := make([]callKey, 0, len(b.calls))
	for _, c := range b.calls {
		if id := c.parsed.ResponseID; id != "" {
			out = append(out, callKey{c.id.RolloutID, c.id.AttemptID, id})
		}
	}
	return out
}

// collect parses the LLM calls of td, drops duplicates and attaches the
// tool calls and rewards the batch reveals.
func (c *messagesConnector) collect(td ptrace.Traces) *batch {
	b := &batch{td: td, skipped: map[string]int{}}
	for ri, rs := range td.ResourceSpans().All() {
		res := rs.Resource()
		for _, ss := range rs.ScopeSpans().All() {
			for _, span := range ss.Spans().All() {
				c.collectSpan(b, ri, res, span)
			}
		}
	}
	c.dedup(b)
	attachToolSpans(b)
	attachRewards(b)
	c.holdForEvents(b)
	return b
}

// holdForEvents moves the calls waiting for their log events out of the
// batch, once the batch's rewards are attached to them.
func (c *messagesConnector) holdForEvents(b *batch) {
	kept := b.calls[:0]
	for _, cl := range b.calls {
		switch {
		case !cl.hold:
			kept = append(kept, cl)
		case c.join.hold(cl, b.td.ResourceSpans().At(cl.resource).Resource()):
		case c.cfg.SkipEmpty && !cl.parsed.HasContent():
			b.skipped[reasonNoContent]++ // no room to wait
		default:
			kept = append(kept, cl)
		}
	}
	b.calls = kept
}

func (c *messagesConnector) collectSpan(b *batch, ri int, res pcommon.Resource, span ptrace.Span) {
	if tripletspan.Is(span) {
		// Triplets are derived from calls already emitted; a record for
		// them would count every call twice.
		b.skipped[reasonTripletSpan]++
		return
	}
	isCall := genai.IsLLMCall(span, c.parseOpts...)
	reading, rerr := rewards.Read(rewards.SpanOf(span))
	hasReward := rerr == nil && len(reading.Dimensions) > 0
	if !isCall && !hasReward {
		return
	}
	id, ok := c.resolver.Resolve(span, res.Attributes())
	if !ok {
		if isCall {
			b.skipped[reasonUnlabeled]++
		}
		return
	}
	if !isCall {
		links, _ := rewards.Links(rewards.FromPData(span.Attributes()))
		b.rewards = append(b.rewards, rewardSpan{
			id: id, start: span.StartTimestamp(), end: span.EndTimestamp(), dims: reading.Dimensions, links: links,
		})
		return
	}
	opts := c.parseOpts
	events := c.join.eventsOf(span.SpanID())
	if len(events) > 0 {
		// GenAI log events that arrived before their span.
		opts = append(append([]genai.Option(nil), opts...), genai.WithLogEvents(events))
	}
	parsed, stats := genai.Parse(span, res, opts...)
	b.problems += stats.Total()
	// A call whose content travels as log events waits for them (see
	// joiner); one that has part of it waits for the rest.
	hold := c.join.active() && (!parsed.HasContent() || (len(events) > 0 && !complete(parsed)))
	if !hold && c.cfg.SkipEmpty && !parsed.HasContent() {
		b.skipped[reasonNoContent]++
		return
	}
	cl := &call{resource: ri, span: span, id: id, parsed: parsed, hold: hold}
	if hasReward {
		// A reward recorded on the call span itself is the call's reward.
		cl.reward = reading.Dimensions
	}
	b.calls = append(b.calls, cl)
}

// dedup keeps one span per (rollout, attempt, response id): within the
// batch the outermost one (a span whose parent is another span of the
// group is a nested record of the same call, e.g. raw_gen_ai_request
// under litellm_request, and Agent Lightning keeps the outer one), across
// batches the first one seen.
func (c *messagesConnector) dedup(b *batch) {
	groups := map[callKey][]*call{}
	for _, cl := range b.calls {
		if id := cl.parsed.ResponseID; id != "" {
			k := callKey{cl.id.RolloutID, cl.id.AttemptID, id}
			groups[k] = append(groups[k], cl)
		}
	}
	drop := map[*call]bool{}
	for k, group := range groups {
		if c.seen != nil && c.seen.Contains(k) {
			for _, cl := range group {
				drop[cl] = true
			}
			continue
		}
		keep := outermost(group)
		for _, cl := range group {
			if cl != keep {
				drop[cl] = true
			}
		}
	}
	if len(drop) == 0 {
		return
	}
	kept := b.calls[:0]
	for _, cl := range b.calls {
		if drop[cl] {
			b.skipped[reasonDuplicate]++
			continue
		}
		kept = append(kept, cl)
	}
	b.calls = kept
}

// outermost returns the first call of the group whose parent is not in the
// group.
func outermost(group []*call) *call {
	ids := make(map[pcommon.SpanID]bool, len(group))
	for _, cl := range group {
		ids[cl.span.SpanID()] = true
	}
	for _, cl := range group {
		if !ids[cl.span.ParentSpanID()] {
			return cl
		}
	}
	return group[0]
}

// spanRef names a span across the resources of a batch.
type spanRef struct {
	trace pcommon.TraceID
	span  pcommon.SpanID
}

// attachToolSpans gives a call whose completion lists no tool calls those
// recorded on its child spans of the batch (AgentOps, and so Agent
// Lightning's own tracer, records each tool call as a child span of the
// LLM span). Children exported in another batch are not seen.
func attachToolSpans(b *batch) {
	if len(b.calls) == 0 {
		return
	}
	// Which calls take child tool calls is the parser's rule; the scan
	// only gathers the children of every call.
	waiting := make(map[spanRef][]pcommon.Map, len(b.calls))
	for _, cl := range b.calls {
		waiting[spanRef{cl.span.TraceID(), cl.span.SpanID()}] = nil
	}
	for _, rs := range b.td.ResourceSpans().All() {
		for _, ss := range rs.ScopeSpans().All() {
			for _, span := range ss.Spans().All() {
				parent := spanRef{span.TraceID(), span.ParentSpanID()}
				if children, ok := waiting[parent]; ok && !parent.span.IsEmpty() {
					waiting[parent] = append(children, span.Attributes())
				}
			}
		}
	}
	for _, cl := range b.calls {
		if children := waiting[spanRef{cl.span.TraceID(), cl.span.SpanID()}]; len(children) > 0 {
			cl.parsed.AttachChildToolCalls(slices.Values(children))
		}
	}
}

// attachRewards gives the batch's reward spans to its calls, within each
// attempt. A reward span with agentlightning.link.* attributes goes to the
// calls it links to (by gen_ai.response.id, span_id, ...). One without links
// follows Agent Lightning's first_occurrence policy: it goes to the most
// recent call that started before it, ended before it started and has no
// reward yet. Calls that carry their own reward keep it.
func attachRewards(b *batch) {
	if len(b.rewards) == 0 {
		return
	}
	byAttempt := map[attemptKey][]*call{}
	for _, cl := range b.calls {
		k := attemptKey{cl.id.RolloutID, cl.id.AttemptID}
		byAttempt[k] = append(byAttempt[k], cl)
	}
	rs := slices.Clone(b.rewards)
	slices.SortStableFunc(rs, func(x, y rewardSpan) int { return cmp.Compare(x.start, y.start) })
	for _, r := range rs {
		calls := byAttempt[attemptKey{r.id.RolloutID, r.id.AttemptID}]
		if len(r.links) > 0 {
			attachLinked(r, calls)
		} else {
			attachFirstOccurrence(r, calls)
		}
	}
}

func attachLinked(r rewardSpan, calls []*call) {
	for _, cl := range calls {
		if cl.reward != nil {
			continue
		}
		traceID, spanID := cl.span.TraceID(), cl.span.SpanID()
		if rewards.MatchLinks(r.links, otlpspan.TraceIDHex(traceID[:]), otlpspan.SpanIDHex(spanID[:]),
			rewards.WithResponseID(rewards.FromPData(cl.span.Attributes()), cl.parsed.ResponseID)) {
			cl.reward = r.dims
		}
	}
}

func attachFirstOccurrence(r rewardSpan, calls []*call) {
	var best *call
	for _, cl := range calls {
		s := cl.span
		if s.StartTimestamp() > r.start || s.EndTimestamp() > r.start || cl.reward != nil {
			continue
		}
		// The most recent eligible call: the latest start, the later in
		// batch order on a tie (Agent Lightning's stable sort).
		if best == nil || s.StartTimestamp() >= best.span.StartTimestamp() {
			best = cl
		}
	}
	if best != nil {
		best.reward = r.dims
	}
}
