package tripletprocessor

import (
	"context"
	"encoding/json"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	"go.opentelemetry.io/collector/component/componenttest"
	"go.opentelemetry.io/collector/consumer/consumertest"
	"go.opentelemetry.io/collector/pdata/pcommon"
	"go.opentelemetry.io/collector/pdata/plog"
	"go.opentelemetry.io/collector/pdata/ptrace"

	"github.com/otelcol-lightning/otelcol-lightning/pkg/genai"
	"github.com/otelcol-lightning/otelcol-lightning/pkg/model"
	"github.com/otelcol-lightning/otelcol-lightning/processor/tripletprocessor/internal/metadatatest"
)

// legacyCall is a call span of the official OpenAI instrumentation in its
// default mode: no content on the span; the messages arrive as log records.
func legacyCall(run agentRun) ptrace.Traces {
	td := ptrace.NewTraces()
	spans := run.resource(td)
	root := run.span(spans, 1, 0, "agent.run", 0, 10*time.Second)
	_ = root
	s := run.span(spans, 2, 1, "chat gpt-4o-mini", time.Second, 2*time.Second)
	s.Attributes().PutStr("gen_ai.operation.name", "chat")
	s.Attributes().PutStr("gen_ai.system", "openai")
	s.Attributes().PutStr("gen_ai.response.id", "chatcmpl-legacy")
	return td
}

func legacyEvents() plog.Logs {
	ld := plog.NewLogs()
	records := ld.ResourceLogs().AppendEmpty().ScopeLogs().AppendEmpty().LogRecords()
	user := records.AppendEmpty()
	user.SetEventName("gen_ai.user.message")
	user.SetSpanID(pcommon.SpanID{2})
	user.SetTraceID(traceID)
	user.Body().SetEmptyMap().PutStr("content", "what is 2+2?")
	choice := records.AppendEmpty()
	choice.SetEventName("gen_ai.choice")
	choice.SetSpanID(pcommon.SpanID{2})
	choice.SetTraceID(traceID)
	body := choice.Body().SetEmptyMap()
	body.PutInt("index", 0)
	body.PutStr("finish_reason", "stop")
	body.PutEmptyMap("message").PutStr("content", "4")
	return ld
}

func promptOf(t *testing.T, raw json.RawMessage) (string, string) {
	var p struct {
		Messages []struct {
			Content string `json:"content"`
		} `json:"messages"`
		Message *struct {
			Content string `json:"content"`
		} `json:"message"`
	}
	require.NoError(t, json.Unmarshal(raw, &p))
	if len(p.Messages) == 0 {
		return "", ""
	}
	return p.Messages[0].Content, ""
}

func newLogsHarness(t *testing.T, h *harness, cfg *Config) *consumertest.LogsSink {
	t.Helper()
	sink := new(consumertest.LogsSink)
	lp, err := NewFactory().CreateLogs(context.Background(), metadatatest.NewSettings(componenttest.NewTelemetry()), cfg, sink)
	require.NoError(t, err)
	require.NoError(t, lp.Start(context.Background(), newTestHost(t)))
	t.Cleanup(func() { _ = lp.Shutdown(context.Background()) })
	h.logs = lp
	return sink
}

func TestLogEventsJoinTheirCall(t *testing.T) {
	cfg := fastConfig()
	h := newHarness(t, cfg, nil)
	logsSink := newLogsHarness(t, h, cfg)
	run := agentRun{rollout: "ro-1", attempt: "at-1", base: time.Unix(1700000000, 0)}

	require.NoError(t, h.logs.ConsumeLogs(context.Background(), legacyEvents()))
	assert.Equal(t, 2, logsSink.LogRecordCount(), "logs pass through")
	h.export(t, legacyCall(run))
	got := h.waitTriplets(t, 1)
	first, _ := promptOf(t, got[0].Triplet.Prompt)
	assert.Equal(t, "what is 2+2?", first)
	var resp struct {
		Message struct {
			Content string `json:"content"`
		} `json:"message"`
	}
	require.NoError(t, json.Unmarshal(got[0].Triplet.Response, &resp))
	assert.Equal(t, "4", resp.Message.Content)
}

func TestLateLogEventsRebuildTheAttempt(t *testing.T) {
	cfg := fastConfig()
	h := newHarness(t, cfg, nil)
	newLogsHarness(t, h, cfg)
	run := agentRun{rollout: "ro-1", attempt: "at-1", base: time.Unix(1700000000, 0)}

	h.export(t, legacyCall(run))
	got := h.waitTriplets(t, 1)
	first, _ := promptOf(t, got[0].Triplet.Prompt)
	assert.Empty(t, first, "no content before the logs arrive")

	require.NoError(t, h.logs.ConsumeLogs(context.Background(), legacyEvents()))
	got = h.waitStored(t, "ro-1", "at-1", func(ts []model.TripletRecord) bool { return len(ts) == 1 && ts[0].Revision == 2 })
	first, _ = promptOf(t, got[0].Triplet.Prompt)
	assert.Equal(t, "what is 2+2?", first)
}

func TestEventStoreBounds(t *testing.T) {
	const kib = 1 << 10
	for _, tc := range []struct {
		name    string
		limits  LimitsConfig
		content []int // bytes of the message sent for spans a, b and c, in that order
		kept    []string
	}{
		{"by bytes: the oldest goes", LimitsConfig{MaxBufferedSpans: 10, MaxBufferedMiB: 1}, []int{400 * kib, 400 * kib, 400 * kib}, []string{"b", "c"}},
		{"by count", LimitsConfig{MaxBufferedSpans: 1, MaxBufferedMiB: 64}, []int{400 * kib, 400 * kib, 400 * kib}, []string{"c"}},
		{"one span over the bound is still kept", LimitsConfig{MaxBufferedSpans: 10, MaxBufferedMiB: 1}, []int{300 * kib, 300 * kib, 2048 * kib}, []string{"c"}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			s := &eventStore{max: tc.limits.MaxBufferedSpans, maxBytes: tc.limits.MaxBufferedMiB << 20,
				bySpan: map[string][]genai.Event{}, sizes: map[string]int{}}
			ids := []string{"a", "b", "c"}
			for i, id := range ids {
				body := map[string]any{"content": strings.Repeat("x", tc.content[i])}
				s.add(map[string][]genai.Event{id: {{Name: genai.EventUserMessage, Body: body}}})
			}
			var kept []string
			for _, id := range ids {
				if s.get(id) != nil {
					kept = append(kept, id)
				}
			}
			assert.Equal(t, tc.kept, kept)
			total := 0
			for _, n := range s.sizes {
				total += n
			}
			assert.Equal(t, total, s.bytes, "the running total matches the kept events")
		})
	}
}
