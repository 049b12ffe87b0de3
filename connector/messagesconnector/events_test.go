package messagesconnector

import (
	"context"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	"go.opentelemetry.io/collector/component"
	"go.opentelemetry.io/collector/component/componenttest"
	"go.opentelemetry.io/collector/connector"
	"go.opentelemetry.io/collector/consumer/consumertest"
	"go.opentelemetry.io/collector/pdata/pcommon"
	"go.opentelemetry.io/collector/pdata/plog"
	"go.opentelemetry.io/collector/pdata/ptrace"
	"go.opentelemetry.io/otel/attribute"
	"go.opentelemetry.io/otel/sdk/metric/metricdata"
	"go.opentelemetry.io/otel/sdk/metric/metricdata/metricdatatest"

	"github.com/otelcol-lightning/otelcol-lightning/connector/messagesconnector/internal/metadatatest"
	"github.com/otelcol-lightning/otelcol-lightning/pkg/otlpspan"
)

// joinEnv is a connector with both sides, as the default configuration
// wires it: spans on the traces side, GenAI log events on the logs side.
type joinEnv struct {
	traces connector.Traces
	logs   connector.Logs
	sink   *consumertest.LogsSink
	tel    *componenttest.Telemetry
}

func newJoinEnv(t *testing.T, wait time.Duration) *joinEnv {
	t.Helper()
	return newJoinEnvConfig(t, createDefaultConfig().(*Config), wait)
}

func newJoinEnvConfig(t *testing.T, cfg *Config, wait time.Duration) *joinEnv {
	t.Helper()
	cfg.LogEventsWait = wait
	tel := componenttest.NewTelemetry()
	t.Cleanup(func() { require.NoError(t, tel.Shutdown(context.Background())) })
	sink := &consumertest.LogsSink{}
	set := metadatatest.NewSettings(tel)
	set.ID = component.MustNewIDWithName("messages", t.Name())
	tr, err := NewFactory().CreateTracesToLogs(context.Background(), set, cfg, sink)
	require.NoError(t, err)
	lg, err := NewFactory().CreateLogsToLogs(context.Background(), set, cfg, sink)
	require.NoError(t, err)
	host := hostWithPolicy(otlpspan.Config{})
	require.NoError(t, tr.Start(context.Background(), host))
	require.NoError(t, lg.Start(context.Background(), host))
	t.Cleanup(func() {
		require.NoError(t, lg.Shutdown(context.Background()))
		require.NoError(t, tr.Shutdown(context.Background()))
	})
	return &joinEnv{traces: tr, logs: lg, sink: sink, tel: tel}
}

var (
	joinTrace = pcommon.TraceID{1: 0x11, 15: 0x11}
	joinSpan  = pcommon.SpanID{1: 0x22, 7: 0x22}
)

// contentlessCall is a call span as the official OpenAI instrumentation
// writes it in its log-event modes: no content on the span.
func contentlessCall() ptrace.Traces {
	td := ptrace.NewTraces()
	rs := td.ResourceSpans().AppendEmpty()
	rs.Resource().Attributes().PutStr("agentlightning.rollout_id", "ro-1")
	rs.Resource().Attributes().PutStr("agentlightning.attempt_id", "at-1")
	span := rs.ScopeSpans().AppendEmpty().Spans().AppendEmpty()
	span.SetName("chat gpt-4o")
	span.SetTraceID(joinTrace)
	span.SetSpanID(joinSpan)
	span.SetStartTimestamp(1767225600_000000000)
	span.SetEndTimestamp(1767225601_000000000)
	span.Attributes().PutStr("gen_ai.operation.name", "chat")
	span.Attributes().PutStr("gen_ai.request.model", "gpt-4o")
	span.Attributes().PutStr("gen_ai.response.id", "chatcmpl-1")
	return td
}

// callEvents are the call's semconv ≤ 1.36 per-message log events; with
// choice false only the prompt's.
func callEvents(choice bool) plog.Logs {
	ld := plog.NewLogs()
	lrs := ld.ResourceLogs().AppendEmpty().ScopeLogs().AppendEmpty().LogRecords()
	add := func(name string, body map[string]any) {
		lr := lrs.AppendEmpty()
		lr.SetEventName(name)
		lr.SetTraceID(joinTrace)
		lr.SetSpanID(joinSpan)
		_ = lr.Body().SetEmptyMap().FromRaw(body)
	}
	add("gen_ai.user.message", map[string]any{"content": "Hi"})
	if choice {
		add("gen_ai.choice", map[string]any{"index": 0, "finish_reason": "stop",
			"message": map[string]any{"role": "assistant", "content": "Hello"}})
	}
	return ld
}

func recordBodies(sink *consumertest.LogsSink) []map[string]any {
	var out []map[string]any
	for _, ld := range sink.AllLogs() {
		for _, rl := range ld.ResourceLogs().All() {
			for _, sl := range rl.ScopeLogs().All() {
				for _, lr := range sl.LogRecords().All() {
					out = append(out, lr.Body().Map().AsRaw())
				}
			}
		}
	}
	return out
}

func TestJoinSpanThenEvents(t *testing.T) {
	e := newJoinEnv(t, time.Minute)
	require.NoError(t, e.traces.ConsumeTraces(context.Background(), contentlessCall()))
	assert.Empty(t, e.sink.AllLogs(), "the call waits for its events")
	require.NoError(t, e.logs.ConsumeLogs(context.Background(), callEvents(false)))
	assert.Empty(t, e.sink.AllLogs(), "the prompt alone does not complete it")
	ld := callEvents(true)
	ld.ResourceLogs().At(0).ScopeLogs().At(0).LogRecords().RemoveIf(func(lr plog.LogRecord) bool {
		return lr.EventName() == "gen_ai.user.message"
	})
	require.NoError(t, e.logs.ConsumeLogs(context.Background(), ld))
	bodies := recordBodies(e.sink)
	require.Len(t, bodies, 1)
	assert.Equal(t, []any{map[string]any{"role": "user", "content": "Hi"}}, bodies[0]["messages"])
	assert.Equal(t, "Hello", bodies[0]["completion"].(map[string]any)["content"])
}

func TestJoinEventsThenSpan(t *testing.T) {
	e := newJoinEnv(t, time.Minute)
	require.NoError(t, e.logs.ConsumeLogs(context.Background(), callEvents(true)))
	require.NoError(t, e.traces.ConsumeTraces(context.Background(), contentlessCall()))
	bodies := recordBodies(e.sink)
	require.Len(t, bodies, 1, "the events were waiting: the record goes out with the span")
	assert.Equal(t, "Hello", bodies[0]["completion"].(map[string]any)["content"])
}

// A call whose events never come is skipped once its wait is over, as a
// content-less call always was.
func TestJoinWaitOver(t *testing.T) {
	e := newJoinEnv(t, 30*time.Millisecond)
	require.NoError(t, e.traces.ConsumeTraces(context.Background(), contentlessCall()))
	require.Eventually(t, func() bool {
		_, err := e.tel.GetMetric("otelcol_connector_messages_spans_skipped")
		return err == nil
	}, 5*time.Second, 10*time.Millisecond, "the sweeper drops the call once its wait is over")
	assert.Empty(t, e.sink.AllLogs())
	metadatatest.AssertEqualConnectorMessagesSpansSkipped(t, e.tel, []metricdata.DataPoint[int64]{
		{Value: 1, Attributes: attribute.NewSet(attribute.String("reason", reasonNoContent))},
	}, metricdatatest.IgnoreTimestamp())
}

// With skip_empty off a content-less call is still emitted, once its wait
// is over.
func TestJoinWaitOverWithoutSkipEmpty(t *testing.T) {
	cfg := createDefaultConfig().(*Config)
	cfg.SkipEmpty = false
	e := newJoinEnvConfig(t, cfg, 30*time.Millisecond)
	require.NoError(t, e.traces.ConsumeTraces(context.Background(), contentlessCall()))
	require.Eventually(t, func() bool { return len(e.sink.AllLogs()) == 1 }, 5*time.Second, 10*time.Millisecond)
	bodies := recordBodies(e.sink)
	require.Len(t, bodies, 1)
	assert.Empty(t, bodies[0]["messages"])
}

// The traces and logs sides share one dedup set: a call the logs side
// emitted (its events came) is a duplicate when its span reaches the traces
// side again, instead of being held a second time for events already used.
func TestJoinedCallIsDeduplicatedOnTheTracesSide(t *testing.T) {
	e := newJoinEnv(t, time.Minute)
	require.NoError(t, e.traces.ConsumeTraces(context.Background(), contentlessCall()))
	require.NoError(t, e.logs.ConsumeLogs(context.Background(), callEvents(true)))
	require.Len(t, recordBodies(e.sink), 1)

	require.NoError(t, e.traces.ConsumeTraces(context.Background(), contentlessCall()))
	assert.Len(t, recordBodies(e.sink), 1)
	metadatatest.AssertEqualConnectorMessagesSpansSkipped(t, e.tel, []metricdata.DataPoint[int64]{
		{Value: 1, Attributes: attribute.NewSet(attribute.String("reason", reasonDuplicate))},
	}, metricdatatest.IgnoreTimestamp())
	tr := e.traces.(*messagesConnector)
	assert.Empty(t, tr.join.takeAll(), "nothing waits for events")
}

// The dedup set is bounded in bytes as well as in calls: response ids come
// from the spans and may be of any length.
func TestDedupSetBoundedInBytes(t *testing.T) {
	cfg := createDefaultConfig().(*Config)
	cfg.DedupCacheSize = 100
	id := component.MustNewIDWithName("messages", t.Name())
	sh := acquireShared(id, cfg, false)
	t.Cleanup(func() { releaseShared(id, sh, false) })
	long := strings.Repeat("x", 10_000)
	for i := range 50 {
		sh.seen.Add(callKey{"ro-1", "at-1", long + strconv.Itoa(i)})
	}
	assert.LessOrEqual(t, sh.seen.Bytes(), cfg.DedupCacheSize*callKeyBytes)
	assert.True(t, sh.seen.Contains(callKey{"ro-1", "at-1", long + "49"}), "the newest call is remembered")
	assert.False(t, sh.seen.Contains(callKey{"ro-1", "at-1", long + "0"}), "the oldest was forgotten to stay in budget")
	sh.seen.Add(callKey{"ro-1", "at-1", "chatcmpl-short"})
	assert.True(t, sh.seen.Contains(callKey{"ro-1", "at-1", "chatcmpl-short"}))
}
