package tripletprocessor

import (
	"encoding/binary"
	"fmt"
	"strconv"
	"testing"
	"time"

	"github.com/stretchr/testify/require"
	"go.opentelemetry.io/collector/pdata/pcommon"
	"go.opentelemetry.io/collector/pdata/ptrace"

	"github.com/otelcol-lightning/otelcol-lightning/pkg/model"
	"github.com/otelcol-lightning/otelcol-lightning/pkg/otlpspan"
)

// attemptOfSize is one attempt of n spans (n ≥ 3) as the processor buffers
// them: an agent span, LLM calls each followed by a tool span, and a reward
// at the end. Every call has token ids and a short conversation.
func attemptOfSize(tb testing.TB, n int) []model.Span {
	tb.Helper()
	td := ptrace.NewTraces()
	rs := td.ResourceSpans().AppendEmpty()
	rs.Resource().Attributes().PutStr("agentlightning.rollout_id", "ro-bench")
	rs.Resource().Attributes().PutStr("agentlightning.attempt_id", "at-bench")
	spans := rs.ScopeSpans().AppendEmpty().Spans()
	base := time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)
	id := func(i int) pcommon.SpanID {
		var s pcommon.SpanID
		binary.BigEndian.PutUint64(s[:], uint64(i+1))
		return s
	}
	add := func(i int, name string) ptrace.Span {
		s := spans.AppendEmpty()
		s.SetTraceID(traceID)
		s.SetSpanID(id(i))
		if i > 0 {
			s.SetParentSpanID(id(0))
		}
		s.SetName(name)
		s.SetStartTimestamp(pcommon.NewTimestampFromTime(base.Add(time.Duration(i) * time.Second)))
		s.SetEndTimestamp(pcommon.NewTimestampFromTime(base.Add(time.Duration(i)*time.Second + 900*time.Millisecond)))
		return s
	}
	add(0, "agent").SetEndTimestamp(pcommon.NewTimestampFromTime(base.Add(time.Duration(n+1) * time.Second)))
	for i := 1; i < n-1; i++ {
		if i%2 == 0 {
			add(i, "execute_tool calculator").Attributes().PutStr("gen_ai.operation.name", "execute_tool")
			continue
		}
		a := add(i, "openai.chat.completion").Attributes()
		a.PutStr("gen_ai.system", "openai")
		a.PutStr("gen_ai.request.model", "qwen")
		a.PutStr("gen_ai.response.id", "chatcmpl-"+strconv.Itoa(i))
		a.PutStr("gen_ai.prompt.0.role", "system")
		a.PutStr("gen_ai.prompt.0.content", "You are a careful calculator agent.")
		a.PutStr("gen_ai.prompt.1.role", "user")
		a.PutStr("gen_ai.prompt.1.content", "What is 17 times 23, plus 4?")
		a.PutStr("gen_ai.completion.0.role", "assistant")
		a.PutStr("gen_ai.completion.0.content", "17 times 23 is 391; plus 4 gives 395.")
		prompt := a.PutEmptySlice("prompt_token_ids")
		for t := range 256 {
			prompt.AppendEmpty().SetInt(int64(i*1000 + t))
		}
		resp := a.PutEmptySlice("response_token_ids")
		for t := range 32 {
			resp.AppendEmpty().SetInt(int64(t))
		}
	}
	reward := add(n-1, "agentlightning.annotation").Attributes()
	reward.PutStr("agentlightning.reward.0.name", "primary")
	reward.PutDouble("agentlightning.reward.0.value", 1)

	r, err := otlpspan.NewResolver(otlpspan.Config{Unlabeled: otlpspan.UnlabeledAuto, AutoKey: otlpspan.AutoKeyTraceID})
	require.NoError(tb, err)
	items, _ := r.Convert(td)
	out := make([]model.Span, len(items))
	for i, it := range items {
		out[i] = it.Span
	}
	return out
}

var buildSizes = []int{10, 100, 1000}

// BenchmarkBuild measures triplet building per attempt size. Compare the
// ns/span metric between sizes: it stays flat while building is linear.
func BenchmarkBuild(b *testing.B) {
	for _, n := range buildSizes {
		spans := attemptOfSize(b, n)
		bld, err := newBuilder(createDefaultConfig().(*Config), nil)
		require.NoError(b, err)
		b.Run(fmt.Sprintf("spans=%d", n), func(b *testing.B) {
			b.ReportAllocs()
			for b.Loop() {
				out, err := bld.build(spans)
				if err != nil || len(out) != (n-1)/2 {
					b.Fatalf("built %d triplets (%v), want %d", len(out), err, (n-1)/2)
				}
			}
			b.ReportMetric(float64(b.Elapsed().Nanoseconds())/float64(b.N*n), "ns/span")
		})
	}
}
