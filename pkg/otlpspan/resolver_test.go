package otlpspan

import (
	"encoding/json"
	"fmt"
	"strings"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	"go.opentelemetry.io/collector/pdata/pcommon"
	"go.opentelemetry.io/collector/pdata/ptrace"
)

const traceHex = "0a0a0a0a0a0a0a0a0a0a0a0a0a0a0a0a"

// oneSpan builds a trace with one span of trace 0a…0a; the callbacks label
// the span and its resource.
func oneSpan(span, resource func(pcommon.Map)) ptrace.Traces {
	td := ptrace.NewTraces()
	rs := td.ResourceSpans().AppendEmpty()
	s := rs.ScopeSpans().AppendEmpty().Spans().AppendEmpty()
	s.SetTraceID(repeatedID16(0x0a))
	s.SetSpanID(repeatedID8(0x0b))
	if span != nil {
		span(s.Attributes())
	}
	if resource != nil {
		resource(rs.Resource().Attributes())
	}
	return td
}

func labels(kv ...string) func(pcommon.Map) {
	return func(m pcommon.Map) {
		for i := 0; i+1 < len(kv); i += 2 {
			m.PutStr(kv[i], kv[i+1])
		}
	}
}

func TestResolverPolicies(t *testing.T) {
	tests := []struct {
		name         string
		cfg          Config
		span, res    func(pcommon.Map)
		wantRollout  string
		wantAttempt  string
		wantMetadata json.RawMessage
		wantStats    Stats
		dropped      bool
	}{
		{
			name:        "labeled, create by default",
			span:        labels(AttrRolloutID, "r", AttrAttemptID, "a"),
			wantRollout: "r", wantAttempt: "a", wantMetadata: OTLPMetadata,
			wantStats: Stats{Labeled: 1},
		},
		{
			name:        "labeled through the resource, reject",
			cfg:         Config{Unknown: UnknownReject},
			res:         labels(AttrRolloutID, "r", AttrAttemptID, "a"),
			wantRollout: "r", wantAttempt: "a", wantMetadata: nil,
			wantStats: Stats{Labeled: 1},
		},
		{
			name:        "rollout from the span, attempt from the resource",
			span:        labels(AttrRolloutID, "span-r"),
			res:         labels(AttrRolloutID, "res-r", AttrAttemptID, "res-a"),
			wantRollout: "span-r", wantAttempt: "res-a", wantMetadata: OTLPMetadata,
			wantStats: Stats{Labeled: 1},
		},
		{
			name:        "unlabeled goes to the trace's automatic rollout",
			wantRollout: "ro-" + traceHex, wantAttempt: "at-" + traceHex, wantMetadata: AutoMetadata,
			wantStats: Stats{Auto: 1},
		},
		{
			name:        "automatic rollouts are created even under reject",
			cfg:         Config{Unknown: UnknownReject},
			wantRollout: "ro-" + traceHex, wantAttempt: "at-" + traceHex, wantMetadata: AutoMetadata,
			wantStats: Stats{Auto: 1},
		},
		{
			name:        "an attempt id alone does not label a span",
			span:        labels(AttrAttemptID, "a"),
			wantRollout: "ro-" + traceHex, wantAttempt: "at-" + traceHex, wantMetadata: AutoMetadata,
			wantStats: Stats{Auto: 1},
		},
		{
			name:      "drop",
			cfg:       Config{Unlabeled: UnlabeledDrop},
			span:      labels(AttrAttemptID, "a"),
			dropped:   true,
			wantStats: Stats{UnlabeledDropped: 1},
		},
		{
			name:        "rollout without attempt gets at-<trace id>",
			cfg:         Config{Unlabeled: UnlabeledDrop},
			res:         labels(AttrRolloutID, "r"),
			wantRollout: "r", wantAttempt: "at-" + traceHex, wantMetadata: OTLPMetadata,
			wantStats: Stats{AttemptDefaulted: 1},
		},
		{
			name:        "rollout without attempt under reject",
			cfg:         Config{Unknown: UnknownReject},
			res:         labels(AttrRolloutID, "r"),
			wantRollout: "r", wantAttempt: "at-" + traceHex, wantMetadata: nil,
			wantStats: Stats{AttemptDefaulted: 1},
		},
		{
			name:        "rollout without attempt uses the auto key",
			cfg:         Config{AutoKey: "session.id"},
			span:        labels(AttrRolloutID, "r", "session.id", "s-1"),
			wantRollout: "r", wantAttempt: "at-s-1", wantMetadata: OTLPMetadata,
			wantStats: Stats{AttemptDefaulted: 1},
		},
		{
			name:        "auto key on the span",
			cfg:         Config{AutoKey: "gen_ai.conversation.id"},
			span:        labels("gen_ai.conversation.id", "conv-1"),
			res:         labels("gen_ai.conversation.id", "conv-res"),
			wantRollout: "ro-conv-1", wantAttempt: "at-conv-1", wantMetadata: AutoMetadata,
			wantStats: Stats{Auto: 1},
		},
		{
			name:        "auto key on the resource",
			cfg:         Config{AutoKey: "session.id"},
			res:         labels("session.id", "sess-9"),
			wantRollout: "ro-sess-9", wantAttempt: "at-sess-9", wantMetadata: AutoMetadata,
			wantStats: Stats{Auto: 1},
		},
		{
			name:        "auto key absent falls back to the trace id",
			cfg:         Config{AutoKey: "session.id"},
			wantRollout: "ro-" + traceHex, wantAttempt: "at-" + traceHex, wantMetadata: AutoMetadata,
			wantStats: Stats{Auto: 1},
		},
		{
			name:        "auto key empty falls back to the trace id",
			cfg:         Config{AutoKey: "session.id"},
			span:        labels("session.id", ""),
			wantRollout: "ro-" + traceHex, wantAttempt: "at-" + traceHex, wantMetadata: AutoMetadata,
			wantStats: Stats{Auto: 1},
		},
		{
			name:        "auto key with a non-string value",
			cfg:         Config{AutoKey: "session.id"},
			span:        func(m pcommon.Map) { m.PutInt("session.id", 12) },
			wantRollout: "ro-12", wantAttempt: "at-12", wantMetadata: AutoMetadata,
			wantStats: Stats{Auto: 1},
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			r, err := NewResolver(tt.cfg)
			require.NoError(t, err)
			items, stats := r.Convert(oneSpan(tt.span, tt.res))
			tt.wantStats.Spans = 1
			assert.Equal(t, tt.wantStats, stats)
			if tt.dropped {
				assert.Empty(t, items)
				return
			}
			require.Len(t, items, 1)
			assert.Equal(t, tt.wantRollout, items[0].Span.RolloutID)
			assert.Equal(t, tt.wantAttempt, items[0].Span.AttemptID)
			assert.Equal(t, tt.wantMetadata, items[0].CreateMetadata)
		})
	}
}

func TestResolverConfig(t *testing.T) {
	r, err := NewResolver(Config{})
	require.NoError(t, err)
	assert.Equal(t, Config{Unlabeled: UnlabeledAuto, AutoKey: AutoKeyTraceID, Unknown: UnknownCreate}, r.Config())

	for _, tc := range []struct {
		cfg  Config
		want string
	}{
		{Config{Unlabeled: "keep"}, `unlabeled: "keep" is not one of "auto", "drop"`},
		{Config{Unknown: "ignore"}, `unknown_rollouts: "ignore" is not one of "create", "reject"`},
		{Config{AutoKey: " session.id"}, `auto_rollout_key: " session.id" has surrounding spaces`},
	} {
		_, err := NewResolver(tc.cfg)
		assert.EqualError(t, err, tc.want)
	}
}

func TestStatsAdd(t *testing.T) {
	s := Stats{Spans: 1, Labeled: 1}
	s.Add(Stats{Spans: 2, Auto: 1, UnlabeledDropped: 1, InvalidSequenceID: 1, NegativeSequenceID: 1, AttemptDefaulted: 1})
	assert.Equal(t, Stats{Spans: 3, Labeled: 1, Auto: 1, UnlabeledDropped: 1, InvalidSequenceID: 1, NegativeSequenceID: 1, AttemptDefaulted: 1}, s)
}

// The spans of one ResourceSpans share its converted resource; a dropped
// resource is never converted.
func TestConvertSharesResource(t *testing.T) {
	td := ptrace.NewTraces()
	rs := td.ResourceSpans().AppendEmpty()
	rs.Resource().Attributes().PutStr("service.name", "svc")
	spans := rs.ScopeSpans().AppendEmpty().Spans()
	spans.AppendEmpty()
	spans.AppendEmpty()
	r, err := NewResolver(Config{})
	require.NoError(t, err)
	items, _ := r.Convert(td)
	require.Len(t, items, 2)
	assert.Equal(t, "svc", items[1].Span.Resource.Attributes["service.name"])
	assert.Equal(t, fmt.Sprintf("%p", items[0].Span.Resource.Attributes), fmt.Sprintf("%p", items[1].Span.Resource.Attributes))
}

// genAITraces builds n LLM-call spans, the kind an instrumented agent sends,
// under one resource labeled with a rollout and attempt.
func genAITraces(n int) ptrace.Traces {
	td := ptrace.NewTraces()
	rs := td.ResourceSpans().AppendEmpty()
	ra := rs.Resource().Attributes()
	ra.PutStr("service.name", "math-agent")
	ra.PutStr("telemetry.sdk.language", "python")
	ra.PutStr("telemetry.sdk.name", "opentelemetry")
	ra.PutStr("telemetry.sdk.version", "1.38.0")
	ra.PutStr(AttrRolloutID, "ro-0123456789ab")
	ra.PutStr(AttrAttemptID, "at-01234567")
	ss := rs.ScopeSpans().AppendEmpty()
	ss.Scope().SetName("opentelemetry.instrumentation.openai_v2")
	prompt := `[{"role":"system","parts":[{"type":"text","content":"You are a careful math tutor."}]},` +
		`{"role":"user","parts":[{"type":"text","content":"` + strings.Repeat("What is 17 * 23? ", 20) + `"}]}]`
	completion := `[{"role":"assistant","parts":[{"type":"text","content":"17 * 23 = 391."}],"finish_reason":"stop"}]`
	for i := range n {
		s := ss.Spans().AppendEmpty()
		s.SetName("chat gpt-4o-mini")
		s.SetTraceID(pcommon.TraceID{0: byte(i >> 8), 1: byte(i), 15: 1})
		s.SetSpanID(pcommon.SpanID{0: byte(i >> 8), 1: byte(i), 7: 2})
		s.SetParentSpanID(pcommon.SpanID{7: 1})
		s.SetKind(ptrace.SpanKindClient)
		s.SetStartTimestamp(pcommon.Timestamp(baseNanos + uint64(i)*1e6))
		s.SetEndTimestamp(pcommon.Timestamp(baseNanos + uint64(i)*1e6 + 5e8))
		s.Status().SetCode(ptrace.StatusCodeOk)
		a := s.Attributes()
		a.PutStr("gen_ai.operation.name", "chat")
		a.PutStr("gen_ai.provider.name", "openai")
		a.PutStr("gen_ai.request.model", "gpt-4o-mini")
		a.PutStr("gen_ai.response.model", "gpt-4o-mini-2024-07-18")
		a.PutStr("gen_ai.response.id", fmt.Sprintf("chatcmpl-%d", i))
		a.PutDouble("gen_ai.request.temperature", 0.7)
		a.PutDouble("gen_ai.request.top_p", 1)
		a.PutInt("gen_ai.request.max_tokens", 512)
		a.PutInt("gen_ai.usage.input_tokens", 180)
		a.PutInt("gen_ai.usage.output_tokens", 12)
		fr := a.PutEmptySlice("gen_ai.response.finish_reasons")
		fr.AppendEmpty().SetStr("stop")
		a.PutStr("gen_ai.input.messages", prompt)
		a.PutStr("gen_ai.output.messages", completion)
		a.PutStr("server.address", "api.openai.com")
		a.PutInt("server.port", 443)
		ev := s.Events().AppendEmpty()
		ev.SetName("gen_ai.choice")
		ev.SetTimestamp(pcommon.Timestamp(baseNanos + uint64(i)*1e6 + 4e8))
		ev.Attributes().PutInt("index", 0)
		ev.Attributes().PutStr("finish_reason", "stop")
	}
	return td
}

func BenchmarkConvert(b *testing.B) {
	td := genAITraces(1000)
	r, err := NewResolver(Config{})
	require.NoError(b, err)
	b.ReportAllocs()
	for b.Loop() {
		items, _ := r.Convert(td)
		if len(items) != 1000 {
			b.Fatalf("got %d items", len(items))
		}
	}
}
