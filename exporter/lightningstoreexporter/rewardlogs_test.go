package lightningstoreexporter

import (
	"context"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	"go.opentelemetry.io/collector/pdata/pcommon"
	"go.opentelemetry.io/collector/pdata/plog"
	"go.opentelemetry.io/otel/attribute"

	"github.com/otelcol-lightning/otelcol-lightning/exporter/lightningstoreexporter/internal/metadatatest"
	"github.com/otelcol-lightning/otelcol-lightning/pkg/otlpspan"
	"github.com/otelcol-lightning/otelcol-lightning/pkg/rewards"
)

// evaluationLogs is a gen_ai.evaluation.result log record as the reward
// processor leaves it (canonical reward and link attributes added), under
// the agent span 0xcc of trace 0xaa, beside one GenAI message event.
func evaluationLogs() plog.Logs {
	ld := plog.NewLogs()
	rl := ld.ResourceLogs().AppendEmpty()
	rl.Resource().Attributes().PutStr("service.name", "agent")
	rl.Resource().Attributes().PutStr(otlpspan.AttrRolloutID, "ro-1")
	rl.Resource().Attributes().PutStr(otlpspan.AttrAttemptID, "at-1")
	lrs := rl.ScopeLogs().AppendEmpty().LogRecords()
	lr := lrs.AppendEmpty()
	lr.SetEventName(rewards.EvaluationEventName)
	lr.SetTraceID(pcommon.TraceID{0: 0xaa, 15: 0xaa})
	lr.SetSpanID(pcommon.SpanID{0: 0xcc, 7: 0xcc})
	lr.SetTimestamp(1767225600_500000000)
	a := lr.Attributes()
	a.PutStr(rewards.EvaluationNameKey, "correctness")
	a.PutDouble(rewards.EvaluationScoreValueKey, 0.9)
	a.PutStr(rewards.LinkKeyResponseID, "chatcmpl-2")
	rewards.Write(a, []rewards.Dimension{{Name: "correctness", Value: 0.9}})
	rewards.WriteLinks(a, []rewards.Link{{KeyMatch: rewards.LinkKeyResponseID, ValueMatch: "chatcmpl-2"}})

	choice := lrs.AppendEmpty()
	choice.SetEventName("gen_ai.choice")
	choice.SetTraceID(pcommon.TraceID{0: 0xaa, 15: 0xaa})
	choice.SetSpanID(pcommon.SpanID{0: 0xbb, 7: 1})
	choice.Body().SetEmptyMap().PutStr("finish_reason", "stop")
	return ld
}

// A reward sent as a log record is stored as Agent Lightning's reward span
// of its rollout, once however often it is sent; other GenAI events are
// counted, not stored as chat records.
func TestRewardLogRecordBecomesRewardSpan(t *testing.T) {
	st := newMemStore(t)
	e := startLogs(t, syncConfig(), st)
	require.NoError(t, e.exp.ConsumeLogs(context.Background(), evaluationLogs()))
	require.NoError(t, e.exp.ConsumeLogs(context.Background(), evaluationLogs()), "a resend")

	spans := spansOf(t, st, "ro-1")
	require.Len(t, spans, 1, "stored once")
	s := spans[0]
	assert.Equal(t, "at-1", s.AttemptID)
	assert.Equal(t, rewards.AnnotationSpanName, s.Name)
	assert.Equal(t, "aa0000000000000000000000000000aa", s.TraceID)
	require.NotNil(t, s.ParentID)
	assert.Equal(t, "cc000000000000cc", *s.ParentID, "a child of the span it was emitted under")
	require.NotNil(t, s.StartTime)
	assert.InDelta(t, 1767225600.5, *s.StartTime, 1e-6)
	v, ok, err := rewards.Value(s.Name, rewards.FromModel(s.Attributes))
	require.NoError(t, err)
	require.True(t, ok)
	assert.Equal(t, 0.9, v)
	links, err := rewards.Links(rewards.FromModel(s.Attributes))
	require.NoError(t, err)
	assert.Equal(t, []rewards.Link{{KeyMatch: rewards.LinkKeyResponseID, ValueMatch: "chatcmpl-2"}}, links)
	assert.Equal(t, rewards.EvaluationEventName, s.Attributes[rewards.EventNameKey])

	assert.Empty(t, messagesOf(t, st, "ro-1", "at-1"), "no GenAI event becomes a chat record")
	metadatatest.AssertEqualExporterLightningstoreMessagesRejected(t, e.tel,
		sum(2, attribute.String("reason", reasonGenAIEvent)), ignore...)
}

// A record without the reward processor's canonical attributes is not a
// reward here: the reward policy is the processor's.
func TestEvaluationRecordWithoutRewardProcessorIsNoReward(t *testing.T) {
	st := newMemStore(t)
	e := startLogs(t, syncConfig(), st)
	ld := evaluationLogs()
	lr := ld.ResourceLogs().At(0).ScopeLogs().At(0).LogRecords().At(0)
	lr.Attributes().RemoveIf(func(k string, _ pcommon.Value) bool {
		return len(k) > len("agentlightning.") && k[:len("agentlightning.")] == "agentlightning."
	})
	require.NoError(t, e.exp.ConsumeLogs(context.Background(), ld))
	assert.Empty(t, spansOf(t, st, "ro-1"))
}

// A chat record carries its call's reward; it stays a chat record.
func TestChatRecordWithRewardIsNoRewardSpan(t *testing.T) {
	st := newMemStore(t)
	e := startLogs(t, syncConfig(), st)
	ld := messageLogs(t, record{rollout: "r1", attempt: "a1", spanByte: 1, body: bodyA})
	rewards.Write(ld.ResourceLogs().At(0).ScopeLogs().At(0).LogRecords().At(0).Attributes(),
		[]rewards.Dimension{{Name: "primary", Value: 1}})
	require.NoError(t, e.exp.ConsumeLogs(context.Background(), ld))
	assert.Empty(t, spansOf(t, st, "r1"))
	assert.Len(t, messagesOf(t, st, "r1", "a1"), 1)
}
