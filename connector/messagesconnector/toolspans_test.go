package messagesconnector

import (
	"context"
	"encoding/json"
	"os"
	"path/filepath"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	"go.opentelemetry.io/collector/pdata/pcommon"
	"go.opentelemetry.io/collector/pdata/plog"
	"go.opentelemetry.io/collector/pdata/ptrace"
)

var (
	llmTrace = pcommon.TraceID{1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12, 13, 14, 15, 16}
	llmSpan  = pcommon.SpanID{0, 0, 0, 0, 0, 0, 0, 1}
)

// agentOpsCall appends an AgentOps LLM span that ended in tool calls it does
// not list, as Agent Lightning's tracer records it.
func agentOpsCall(spans ptrace.SpanSlice) ptrace.Span {
	s := spans.AppendEmpty()
	s.SetName("openai.chat.completion")
	s.SetTraceID(llmTrace)
	s.SetSpanID(llmSpan)
	a := s.Attributes()
	a.PutStr("agentops.span.kind", "llm")
	a.PutStr("gen_ai.response.id", "chatcmpl-1")
	a.PutStr("gen_ai.prompt.0.role", "user")
	a.PutStr("gen_ai.prompt.0.content", "Weather and time in Paris?")
	a.PutStr("gen_ai.completion.0.role", "assistant")
	a.PutStr("gen_ai.completion.0.finish_reason", "tool_calls")
	return s
}

// toolSpan appends a child of the call span; attrs are its attributes.
func toolSpan(spans ptrace.SpanSlice, id byte, trace pcommon.TraceID, attrs map[string]any) {
	s := spans.AppendEmpty()
	s.SetName("tool_call")
	s.SetTraceID(trace)
	s.SetSpanID(pcommon.SpanID{0, 0, 0, 0, 0, 0, 1, id})
	s.SetParentSpanID(llmSpan)
	_ = s.Attributes().FromRaw(attrs)
}

var (
	weatherTool = map[string]any{
		"tool.name": "get_weather", "tool.parameters": `{"city":"Paris"}`, "tool.call.id": "call_weather",
		"tool.call.type": "function",
	}
	timeTool = map[string]any{"tool.name": "get_time", "tool.parameters": `{"tz":"CET"}`, "tool.call.id": "call_time"}
)

type toolCall struct {
	ID       string `json:"id"`
	Type     string `json:"type"`
	Function struct {
		Name      string `json:"name"`
		Arguments string `json:"arguments"`
	} `json:"function"`
}

func fnCall(id, name, args string) toolCall {
	tc := toolCall{ID: id, Type: "function"}
	tc.Function.Name, tc.Function.Arguments = name, args
	return tc
}

// completionToolCalls reads the tool calls of the completion of each record.
func completionToolCalls(t *testing.T, lds []plog.Logs) [][]toolCall {
	t.Helper()
	var out [][]toolCall
	for _, ld := range lds {
		for _, rl := range ld.ResourceLogs().All() {
			for _, sl := range rl.ScopeLogs().All() {
				for _, lr := range sl.LogRecords().All() {
					raw, err := json.Marshal(lr.Body().AsRaw())
					require.NoError(t, err)
					var body struct {
						Completion struct {
							Role      string     `json:"role"`
							ToolCalls []toolCall `json:"tool_calls"`
						} `json:"completion"`
					}
					require.NoError(t, json.Unmarshal(raw, &body))
					assert.Equal(t, "assistant", body.Completion.Role)
					out = append(out, body.Completion.ToolCalls)
				}
			}
		}
	}
	return out
}

func TestToolCallsFromChildSpans(t *testing.T) {
	tests := []struct {
		name  string
		build func(spans ptrace.SpanSlice)
		want  []toolCall
	}{
		{
			name: "two tool children",
			build: func(spans ptrace.SpanSlice) {
				toolSpan(spans, 1, llmTrace, weatherTool)
				agentOpsCall(spans)
				toolSpan(spans, 2, llmTrace, timeTool)
			},
			want: []toolCall{
				fnCall("call_weather", "get_weather", `{"city":"Paris"}`),
				fnCall("call_time", "get_time", `{"tz":"CET"}`),
			},
		},
		{
			name: "tool calls listed on the call span win",
			build: func(spans ptrace.SpanSlice) {
				a := agentOpsCall(spans).Attributes()
				a.PutStr("gen_ai.completion.0.tool_calls.0.id", "call_listed")
				a.PutStr("gen_ai.completion.0.tool_calls.0.name", "lookup")
				a.PutStr("gen_ai.completion.0.tool_calls.0.arguments", `{"q":"Paris"}`)
				toolSpan(spans, 1, llmTrace, weatherTool)
			},
			want: []toolCall{fnCall("call_listed", "lookup", `{"q":"Paris"}`)},
		},
		{
			name: "children without tool.name are not tool calls",
			build: func(spans ptrace.SpanSlice) {
				agentOpsCall(spans)
				toolSpan(spans, 1, llmTrace, map[string]any{"http.request.method": "POST", "tool.call.id": "call_x"})
				toolSpan(spans, 2, llmTrace, timeTool)
			},
			want: []toolCall{fnCall("call_time", "get_time", `{"tz":"CET"}`)},
		},
		{
			name: "a span of another trace is not a child",
			build: func(spans ptrace.SpanSlice) {
				agentOpsCall(spans)
				toolSpan(spans, 1, pcommon.TraceID{9}, weatherTool)
			},
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			e := newEnv(t, createDefaultConfig().(*Config))
			td := ptrace.NewTraces()
			tt.build(td.ResourceSpans().AppendEmpty().ScopeSpans().AppendEmpty().Spans())
			td.MarkReadOnly() // the children's attributes are only read
			require.NoError(t, e.conn.ConsumeTraces(context.Background(), td))
			assert.Equal(t, [][]toolCall{tt.want}, completionToolCalls(t, e.sink.AllLogs()))
		})
	}
}

// The children must arrive in the call's batch: the connector keeps no
// spans between batches (the triplets, built per attempt, have them).
func TestToolChildInAnotherBatchIsNotSeen(t *testing.T) {
	e := newEnv(t, createDefaultConfig().(*Config))
	calls := ptrace.NewTraces()
	agentOpsCall(calls.ResourceSpans().AppendEmpty().ScopeSpans().AppendEmpty().Spans())
	require.NoError(t, e.conn.ConsumeTraces(context.Background(), calls))
	tools := ptrace.NewTraces()
	toolSpan(tools.ResourceSpans().AppendEmpty().ScopeSpans().AppendEmpty().Spans(), 1, llmTrace, weatherTool)
	require.NoError(t, e.conn.ConsumeTraces(context.Background(), tools))
	assert.Equal(t, [][]toolCall{nil}, completionToolCalls(t, e.sink.AllLogs()))
}

// Agent Lightning's recorded weather agent (testdata/fixtures/agentlightning
// at the repository root): the first call's tool call is only on its
// tool_call.get_weather child.
func TestToolCallsFromRecordedAgentLightningTrace(t *testing.T) {
	raw, err := os.ReadFile(filepath.Join("..", "..", "testdata", "fixtures", "agentlightning.json"))
	require.NoError(t, err)
	td, err := (&ptrace.JSONUnmarshaler{}).UnmarshalTraces(raw)
	require.NoError(t, err)
	e := newEnv(t, createDefaultConfig().(*Config))
	require.NoError(t, e.conn.ConsumeTraces(context.Background(), td))
	assert.Equal(t, [][]toolCall{
		{fnCall("call_mock_1", "get_weather", `{"city":"Paris"}`)},
		nil,
	}, completionToolCalls(t, e.sink.AllLogs()))
	assertOpenAIShape(t, e.sink.AllLogs()[0])
}
