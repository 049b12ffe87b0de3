package loadgen

import (
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	"go.opentelemetry.io/collector/pdata/ptrace"
)

var start = time.Date(2026, 1, 1, 12, 0, 0, 0, time.UTC)

func TestRolloutShape(t *testing.T) {
	w := DefaultWorkload()
	td := w.Rollout(7, IDs{RolloutID: "ro-7", AttemptID: "at-7"}, start)
	require.Equal(t, w.SpansPerRollout(), td.SpanCount())
	assert.Equal(t, 10, td.SpanCount())

	rs := td.ResourceSpans().At(0)
	rid, _ := rs.Resource().Attributes().Get(AttrRolloutID)
	aid, _ := rs.Resource().Attributes().Get(AttrAttemptID)
	assert.Equal(t, "ro-7", rid.Str())
	assert.Equal(t, "at-7", aid.Str())

	spans := rs.ScopeSpans().At(0).Spans()
	root := spans.At(spans.Len() - 1)
	assert.Equal(t, "agent.run", root.Name())
	assert.True(t, root.ParentSpanID().IsEmpty())
	seen := map[[8]byte]bool{}
	llm := 0
	for i := range spans.Len() {
		s := spans.At(i)
		assert.Equal(t, root.TraceID(), s.TraceID())
		assert.False(t, seen[s.SpanID()], "duplicate span id")
		seen[s.SpanID()] = true
		if i < spans.Len()-1 {
			assert.Equal(t, root.SpanID(), s.ParentSpanID())
			assert.LessOrEqual(t, s.EndTimestamp(), root.EndTimestamp())
		}
		if s.Name() == "openai.chat.completion" {
			ids, ok := s.Attributes().Get("prompt_token_ids")
			require.True(t, ok)
			// Each call carries the conversation so far: 256 + 2×64 per earlier call.
			assert.Equal(t, 256+2*64*llm, ids.Slice().Len())
			content, _ := s.Attributes().Get("gen_ai.prompt.0.content")
			assert.Len(t, content.Str(), 400)
			llm++
		}
	}
	assert.Equal(t, w.TripletsPerRollout(), llm)
	assert.Equal(t, "agentlightning.annotation", spans.At(spans.Len()-2).Name())
}

func TestRolloutIsDeterministicAndDistinct(t *testing.T) {
	w := DefaultWorkload()
	a := w.Rollout(3, IDs{}, start)
	b := w.Rollout(3, IDs{}, start)
	c := w.Rollout(4, IDs{}, start)
	assert.Equal(t, a, b)
	first := func(td ptrace.Traces) ptrace.Span { return td.ResourceSpans().At(0).ScopeSpans().At(0).Spans().At(0) }
	assert.NotEqual(t, first(a).TraceID(), first(c).TraceID())
	_, labelled := a.ResourceSpans().At(0).Resource().Attributes().Get(AttrRolloutID)
	assert.False(t, labelled, "empty ids leave the spans unlabelled")

	other := w
	other.RunID = 99
	assert.NotEqual(t, first(a).TraceID(), first(other.Rollout(3, IDs{}, start)).TraceID())
}

func TestWorkloadOptions(t *testing.T) {
	w := Workload{CallsPerRollout: 3, MessageBytes: 10, PromptTokens: 5, ResponseTokens: 2, HistoryTurns: 1}
	require.NoError(t, w.Validate())
	td := w.Rollout(0, IDs{}, start)
	assert.Equal(t, 4, td.SpanCount()) // no tools, no reward
	last := td.ResourceSpans().At(0).ScopeSpans().At(0).Spans().At(2)
	ids, _ := last.Attributes().Get("prompt_token_ids")
	assert.Equal(t, 5+2*2*1, ids.Slice().Len(), "history bounded to one turn")
	_, hasOld := last.Attributes().Get("gen_ai.prompt.4.role")
	assert.False(t, hasOld)

	for _, bad := range []Workload{
		{CallsPerRollout: -1}, {MessageBytes: maxMessageBytes + 1}, {PromptTokens: -2}, {HistoryTurns: -1},
	} {
		assert.Error(t, bad.Validate(), "%+v", bad)
	}
}

func TestSplit(t *testing.T) {
	w := DefaultWorkload()
	td := w.Rollout(1, IDs{RolloutID: "ro", AttemptID: "at"}, start)
	parts := Split(td, 3)
	require.Len(t, parts, 4)
	var names []string
	for _, p := range parts {
		assert.LessOrEqual(t, p.SpanCount(), 3)
		rid, _ := p.ResourceSpans().At(0).Resource().Attributes().Get(AttrRolloutID)
		assert.Equal(t, "ro", rid.Str())
		for _, rs := range p.ResourceSpans().All() {
			for _, ss := range rs.ScopeSpans().All() {
				assert.Equal(t, "opentelemetry.instrumentation.openai.v1", ss.Scope().Name())
				for _, s := range ss.Spans().All() {
					names = append(names, s.Name())
				}
			}
		}
	}
	var want []string
	for _, s := range td.ResourceSpans().At(0).ScopeSpans().At(0).Spans().All() {
		want = append(want, s.Name())
	}
	assert.Equal(t, want, names)
	assert.Len(t, Split(td, 0), 1)
	assert.Len(t, Split(td, 100), 1)
}
