package lightningstoreexporter

import (
	"bytes"
	"context"
	"encoding/json"
	"math"
	"strconv"
	"strings"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	"go.opentelemetry.io/collector/component/componenttest"
	"go.opentelemetry.io/collector/exporter"
	"go.opentelemetry.io/collector/pdata/pcommon"
	"go.opentelemetry.io/collector/pdata/plog"
	"go.opentelemetry.io/collector/pdata/ptrace"
	"go.opentelemetry.io/otel/attribute"

	"github.com/otelcol-lightning/otelcol-lightning/exporter/lightningstoreexporter/internal/metadatatest"
	"github.com/otelcol-lightning/otelcol-lightning/internal/recentset"
	"github.com/otelcol-lightning/otelcol-lightning/pkg/model"
	"github.com/otelcol-lightning/otelcol-lightning/pkg/otlpspan"
	"github.com/otelcol-lightning/otelcol-lightning/pkg/store"
)

type logsEnv struct {
	exp exporter.Logs
	st  store.Store
	tel *componenttest.Telemetry
}

func startLogs(t *testing.T, cfg *Config, st store.Store) *logsEnv {
	t.Helper()
	tel := componenttest.NewTelemetry()
	t.Cleanup(func() { require.NoError(t, tel.Shutdown(context.Background())) })
	exp, err := NewFactory().CreateLogs(context.Background(), metadatatest.NewSettings(tel), cfg)
	require.NoError(t, err)
	require.NoError(t, exp.Start(context.Background(), hostWith(st)))
	t.Cleanup(func() { assert.NoError(t, exp.Shutdown(context.Background())) })
	return &logsEnv{exp: exp, st: st, tel: tel}
}

// record is a message log record as the messages connector writes it.
type record struct {
	rollout, attempt string
	spanByte         byte
	seq              int64  // agentlightning.span_sequence_id; 0 for none
	body             string // JSON; put as a map unless asString
	asString         bool
}

func messageLogs(t *testing.T, recs ...record) plog.Logs {
	t.Helper()
	ld := plog.NewLogs()
	rl := ld.ResourceLogs().AppendEmpty()
	rl.Resource().Attributes().PutStr("service.name", "agent")
	lrs := rl.ScopeLogs().AppendEmpty().LogRecords()
	for _, r := range recs {
		lr := lrs.AppendEmpty()
		lr.SetEventName("agentlightning.llm_call")
		lr.SetTraceID(pcommon.TraceID{0: 0xaa, 15: 0xaa})
		lr.SetSpanID(pcommon.SpanID{0: 0xbb, 7: r.spanByte})
		if r.rollout != "" {
			lr.Attributes().PutStr(otlpspan.AttrRolloutID, r.rollout)
		}
		if r.attempt != "" {
			lr.Attributes().PutStr(otlpspan.AttrAttemptID, r.attempt)
		}
		if r.seq != 0 {
			lr.Attributes().PutInt(otlpspan.AttrSpanSequenceID, r.seq)
		}
		lr.Attributes().PutStr("gen_ai.request.model", "qwen")
		if r.asString {
			lr.Body().SetStr(r.body)
			continue
		}
		var m map[string]any
		require.NoError(t, json.Unmarshal([]byte(r.body), &m))
		require.NoError(t, lr.Body().SetEmptyMap().FromRaw(m))
	}
	return ld
}

const bodyA = `{"messages":[{"role":"user","content":"2+2?"}],"tools":null,"completion":{"role":"assistant","content":"4"}}`

func messagesOf(t *testing.T, st store.Store, rollout, attempt string) []model.MessageRecord {
	t.Helper()
	msgs, err := st.QueryMessages(context.Background(), rollout, attempt)
	require.NoError(t, err)
	return msgs
}

func TestLogsStoreMessages(t *testing.T) {
	e := startLogs(t, syncConfig(), newMemStore(t))
	ld := messageLogs(t,
		record{rollout: "r1", attempt: "a1", spanByte: 1, body: bodyA},
		record{rollout: "r1", attempt: "a1", spanByte: 2, body: bodyA, asString: true},
		record{rollout: "r2", attempt: "a9", spanByte: 3, seq: 42, body: bodyA},
	)
	require.NoError(t, e.exp.ConsumeLogs(context.Background(), ld))

	msgs := messagesOf(t, e.st, "r1", "a1")
	require.Len(t, msgs, 2)
	assert.Equal(t, []int{1, 2}, []int{msgs[0].SequenceID, msgs[1].SequenceID}, "allocated in arrival order")
	assert.Equal(t, "aa0000000000000000000000000000aa", msgs[0].TraceID)
	assert.Equal(t, "bb00000000000001", msgs[0].SpanID)
	assert.JSONEq(t, bodyA, string(msgs[0].Body))
	assert.JSONEq(t, bodyA, string(msgs[1].Body), "a json_string body is stored as JSON")
	assert.JSONEq(t, `{"agentlightning.rollout_id":"r1","agentlightning.attempt_id":"a1","gen_ai.request.model":"qwen"}`,
		string(msgs[0].Attributes))

	other := messagesOf(t, e.st, "r2", "a9")
	require.Len(t, other, 1)
	assert.Equal(t, 42, other[0].SequenceID, "the call span's sequence id is kept")

	// The next batch continues the rollout's sequence.
	require.NoError(t, e.exp.ConsumeLogs(context.Background(), messageLogs(t, record{rollout: "r1", attempt: "a1", spanByte: 4, body: bodyA})))
	msgs = messagesOf(t, e.st, "r1", "a1")
	require.Len(t, msgs, 3)
	assert.Equal(t, 3, msgs[2].SequenceID)
	metadatatest.AssertEqualExporterLightningstoreMessagesStored(t, e.tel, sum(4), ignore...)
}

// Messages are numbered apart from the spans: the spans of a rollout stay
// 1..n, and its chat records are 1..n on their own.
func TestLogsDoNotTakeSpanSequenceIDs(t *testing.T) {
	st := newMemStore(t)
	traces := start(t, syncConfig(), st)
	logs := startLogs(t, syncConfig(), st)
	td := ptrace.NewTraces()
	traceSpans(t, td, 1, 2, labeled("r1", "a1"))
	require.NoError(t, traces.exp.ConsumeTraces(context.Background(), td))
	require.NoError(t, logs.exp.ConsumeLogs(context.Background(), messageLogs(t, record{rollout: "r1", attempt: "a1", spanByte: 1, body: bodyA})))
	msgs := messagesOf(t, st, "r1", store.LatestAttempt)
	require.Len(t, msgs, 1)
	assert.Equal(t, 1, msgs[0].SequenceID)

	td = ptrace.NewTraces()
	traceSpans(t, td, 3, 1, labeled("r1", "a1"))
	require.NoError(t, traces.exp.ConsumeTraces(context.Background(), td))
	var seqs []int
	for _, s := range spansOf(t, st, "r1") {
		seqs = append(seqs, s.SequenceID)
	}
	assert.Equal(t, []int{1, 2, 3}, seqs, "a chat record took no number from the span sequence")
}

func TestLogsRejectAndDuplicates(t *testing.T) {
	e := startLogs(t, syncConfig(), newMemStore(t))
	ld := messageLogs(t,
		record{rollout: "r1", attempt: "a1", spanByte: 1, body: bodyA},
		record{rollout: "r1", attempt: "a1", spanByte: 1, body: bodyA}, // same call twice in a batch
		record{rollout: "r1", spanByte: 2, body: bodyA},                // no attempt
		record{rollout: "r1", attempt: "a1", spanByte: 3, body: `[1,2]`, asString: true},
		record{rollout: "r1", attempt: "a1", spanByte: 4, body: `not json`, asString: true},
	)
	require.NoError(t, e.exp.ConsumeLogs(context.Background(), ld))
	// The whole batch again: the stored call is skipped.
	require.NoError(t, e.exp.ConsumeLogs(context.Background(), messageLogs(t, record{rollout: "r1", attempt: "a1", spanByte: 1, body: bodyA})))

	assert.Len(t, messagesOf(t, e.st, "r1", "a1"), 1)
	metadatatest.AssertEqualExporterLightningstoreMessagesStored(t, e.tel, sum(1), ignore...)
	metadatatest.AssertEqualExporterLightningstoreMessagesDuplicate(t, e.tel, sum(2), ignore...)
	metadatatest.AssertEqualExporterLightningstoreMessagesRejected(t, e.tel, append(
		sum(1, attribute.String("reason", reasonUnlabeled)),
		sum(2, attribute.String("reason", reasonInvalidBody))...), ignore...)
}

func TestLogsUnknownRollouts(t *testing.T) {
	st := newMemStore(t)
	// The spans of r1/a1 created that rollout and attempt.
	traces := start(t, syncConfig(), st)
	td := ptrace.NewTraces()
	traceSpans(t, td, 1, 1, labeled("r1", "a1"))
	require.NoError(t, traces.exp.ConsumeTraces(context.Background(), td))

	cfg := syncConfig()
	cfg.UnknownRollouts = otlpspan.UnknownReject
	e := startLogs(t, cfg, st)
	require.NoError(t, e.exp.ConsumeLogs(context.Background(), messageLogs(t,
		record{rollout: "r1", attempt: "a1", spanByte: 1, body: bodyA},
		record{rollout: "r1", attempt: "a2", spanByte: 2, body: bodyA},
		record{rollout: "nope", attempt: "a1", spanByte: 3, body: bodyA},
		record{rollout: "ro-abc", attempt: "at-abc", spanByte: 4, body: bodyA}, // automatic: kept
	)))
	assert.Len(t, messagesOf(t, st, "r1", ""), 1)
	assert.Len(t, messagesOf(t, st, "ro-abc", ""), 1)
	assert.Empty(t, messagesOf(t, st, "nope", ""))
	metadatatest.AssertEqualExporterLightningstoreMessagesRejected(t, e.tel, append(
		sum(1, attribute.String("reason", reasonUnknownRollout)),
		sum(1, attribute.String("reason", reasonUnknownAttempt))...), ignore...)

	// With the default (create), records of an unknown rollout are kept:
	// their spans create the rollout through the traces pipeline.
	e = startLogs(t, syncConfig(), st)
	require.NoError(t, e.exp.ConsumeLogs(context.Background(), messageLogs(t, record{rollout: "later", attempt: "a1", spanByte: 1, body: bodyA})))
	assert.Len(t, messagesOf(t, st, "later", "a1"), 1)
}

func TestLogsNotStarted(t *testing.T) {
	exp, err := NewFactory().CreateLogs(context.Background(), metadatatest.NewSettings(componenttest.NewTelemetry()), syncConfig())
	require.NoError(t, err)
	err = exp.ConsumeLogs(context.Background(), messageLogs(t, record{rollout: "r", attempt: "a", spanByte: 1, body: bodyA}))
	assert.ErrorContains(t, err, "not started")
}

func TestStoredMessagesEvictsOldest(t *testing.T) {
	s := recentset.New[messageKey](2)
	a, b, c := messageKey{spanID: "a"}, messageKey{spanID: "b"}, messageKey{spanID: "c"}
	s.Add(a, b, a)
	s.Add(c)
	assert.False(t, s.Contains(a))
	assert.True(t, s.Contains(b))
	assert.True(t, s.Contains(c))
}

func TestWriteJSONKeepsKeyOrder(t *testing.T) {
	v := pcommon.NewValueMap()
	m := v.Map()
	m.PutStr("role", "user")
	m.PutStr("content", "hi \"there\"")
	m.PutInt("n", 3)
	m.PutDouble("x", 0.5)
	m.PutDouble("nan", math.NaN())
	m.PutBool("ok", true)
	m.PutEmpty("none")
	m.PutEmptyBytes("raw").FromRaw([]byte{1, 2})
	s := m.PutEmptySlice("list")
	s.AppendEmpty().SetStr("a")
	s.AppendEmpty().SetEmptyMap().PutInt("k", 1)
	var buf bytes.Buffer
	writeJSON(&buf, v)
	assert.Equal(t, `{"role":"user","content":"hi \"there\"","n":3,"x":0.5,"nan":null,"ok":true,"none":null,"raw":"AQI=","list":["a",{"k":1}]}`, buf.String())
}

// The cache of stored message keys is bounded in bytes: rollout ids come
// from the data and may be of any length.
func TestStoredMessageKeysBoundedInBytes(t *testing.T) {
	e := newLogsExporter(&storeExporter{})
	long := strings.Repeat("r", 1<<20)
	for i := range 40 {
		e.stored.Add(messageKey{long + strconv.Itoa(i), "at-1", "span"})
	}
	assert.LessOrEqual(t, e.stored.Bytes(), messageCacheSize*messageKeyBytes)
	assert.Less(t, e.stored.Len(), 40, "the oldest keys were forgotten to stay in budget")
	assert.True(t, e.stored.Contains(messageKey{long + "39", "at-1", "span"}))
}
