package tripletprocessor

import (
	"context"
	"encoding/json"
	"errors"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	"go.opentelemetry.io/collector/component"
	"go.opentelemetry.io/collector/component/componenttest"
	"go.opentelemetry.io/collector/consumer/consumertest"
	"go.opentelemetry.io/collector/pdata/pcommon"
	"go.opentelemetry.io/collector/pdata/ptrace"
	"go.opentelemetry.io/collector/processor"
	"go.opentelemetry.io/otel/attribute"
	"go.opentelemetry.io/otel/sdk/metric/metricdata"
	"go.opentelemetry.io/otel/sdk/metric/metricdata/metricdatatest"

	"github.com/otelcol-lightning/otelcol-lightning/pkg/model"
	"github.com/otelcol-lightning/otelcol-lightning/pkg/otlpspan"
	"github.com/otelcol-lightning/otelcol-lightning/pkg/store"
	"github.com/otelcol-lightning/otelcol-lightning/pkg/store/memstore"
	"github.com/otelcol-lightning/otelcol-lightning/processor/tripletprocessor/internal/metadatatest"
)

var traceID = pcommon.TraceID{1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12, 13, 14, 15, 16}

// agentRun builds one attempt the way an instrumented agent reports it:
// an agent span, two OpenLLMetry-style LLM calls with token ids and a reward
// annotation after the second call.
type agentRun struct {
	rollout, attempt string
	base             time.Time
}

func (r agentRun) resource(td ptrace.Traces) ptrace.SpanSlice {
	rs := td.ResourceSpans().AppendEmpty()
	rs.Resource().Attributes().PutStr("agentlightning.rollout_id", r.rollout)
	rs.Resource().Attributes().PutStr("agentlightning.attempt_id", r.attempt)
	return rs.ScopeSpans().AppendEmpty().Spans()
}

func (r agentRun) span(spans ptrace.SpanSlice, id byte, parent byte, name string, from, to time.Duration) ptrace.Span {
	s := spans.AppendEmpty()
	s.SetTraceID(traceID)
	s.SetSpanID(pcommon.SpanID{id})
	if parent != 0 {
		s.SetParentSpanID(pcommon.SpanID{parent})
	}
	s.SetName(name)
	s.SetStartTimestamp(pcommon.NewTimestampFromTime(r.base.Add(from)))
	s.SetEndTimestamp(pcommon.NewTimestampFromTime(r.base.Add(to)))
	return s
}

func (r agentRun) llmCall(spans ptrace.SpanSlice, id byte, respID string, prompt []int64, from time.Duration) {
	s := r.span(spans, id, 1, "openai.chat.completion", from, from+time.Second)
	a := s.Attributes()
	a.PutStr("gen_ai.system", "openai")
	a.PutStr("gen_ai.request.model", "qwen")
	a.PutStr("gen_ai.response.id", respID)
	a.PutStr("gen_ai.prompt.0.role", "user")
	a.PutStr("gen_ai.prompt.0.content", "what is 2+2?")
	a.PutStr("gen_ai.completion.0.role", "assistant")
	a.PutStr("gen_ai.completion.0.content", "4")
	ids := a.PutEmptySlice("prompt_token_ids")
	for _, v := range prompt {
		ids.AppendEmpty().SetInt(v)
	}
	resp := a.PutEmptySlice("response_token_ids")
	resp.AppendEmpty().SetInt(int64(id) * 100)
}

func (r agentRun) reward(spans ptrace.SpanSlice, id byte, value float64, at time.Duration) {
	s := r.span(spans, id, 1, "agentlightning.annotation", at, at)
	s.Attributes().PutStr("agentlightning.reward.0.name", "primary")
	s.Attributes().PutDouble("agentlightning.reward.0.value", value)
}

// children are the spans the agent sends before its root ends.
func (r agentRun) children() ptrace.Traces {
	td := ptrace.NewTraces()
	spans := r.resource(td)
	r.llmCall(spans, 2, "resp-1", []int64{1, 2}, time.Second)
	r.llmCall(spans, 3, "resp-2", []int64{1, 2, 100, 5}, 3*time.Second)
	r.reward(spans, 4, 0.75, 5*time.Second)
	return td
}

func (r agentRun) root() ptrace.Traces {
	td := ptrace.NewTraces()
	s := r.span(r.resource(td), 1, 0, "agent.run", 0, 10*time.Second)
	s.Attributes().PutStr("agent.name", "solver")
	return td
}

type host map[component.ID]component.Component

func (h host) GetExtensions() map[component.ID]component.Component { return h }

// provider stands in for the lightningstore extension: its store reports
// attempt and span events itself.
type provider struct {
	component.StartFunc
	component.ShutdownFunc
	s store.Store
}

func (p provider) LightningStore() store.Store { return p.s }

// storeID is the default store extension of the processor.
var storeID = component.MustNewID("lightningstore")

// newTestHost holds a lightningstore extension over a memory store; it is
// also the host of the generated lifecycle test.
func newTestHost(t *testing.T) component.Host {
	core := store.New(memstore.New(), store.Options{})
	t.Cleanup(func() { _ = core.Close() })
	return host{storeID: provider{s: core}}
}

// harness runs the processor against a real store, with the spans reaching
// the store the way the lightningstore exporter writes them.
type harness struct {
	proc processor.Traces
	logs processor.Logs
	sink *consumertest.TracesSink
	tel  *componenttest.Telemetry
	core *store.Core
	cfg  *Config
}

func newHarness(t *testing.T, cfg *Config, core *store.Core) *harness {
	t.Helper()
	if core == nil {
		core = store.New(memstore.New(), store.Options{})
		t.Cleanup(func() { _ = core.Close() })
	}
	tel := componenttest.NewTelemetry()
	t.Cleanup(func() { require.NoError(t, tel.Shutdown(context.Background())) })
	sink := new(consumertest.TracesSink)
	proc, err := NewFactory().CreateTraces(context.Background(), metadatatest.NewSettings(tel), cfg, sink)
	require.NoError(t, err)
	require.NoError(t, proc.Start(context.Background(), host{storeID: provider{s: core}}))
	t.Cleanup(func() { _ = proc.Shutdown(context.Background()) })
	return &harness{proc: proc, sink: sink, tel: tel, core: core, cfg: cfg}
}

func fastConfig() *Config {
	cfg := createDefaultConfig().(*Config)
	cfg.Completion.Settle = 50 * time.Millisecond
	cfg.Completion.CheckInterval = 10 * time.Millisecond
	return cfg
}

// export passes td through the processor, then stores it as the exporter
// downstream does (the default identity policy).
func (h *harness) export(t *testing.T, td ptrace.Traces) {
	t.Helper()
	require.NoError(t, h.proc.ConsumeTraces(context.Background(), td))
	ingest(t, h.core, td)
}

// ingest stores td as the lightningstore exporter does, with or without a
// processor following the store.
func ingest(t *testing.T, core *store.Core, td ptrace.Traces) {
	t.Helper()
	r, err := otlpspan.NewResolver(otlpspan.Config{})
	require.NoError(t, err)
	items, _ := r.Convert(td)
	_, err = core.IngestSpans(context.Background(), items)
	require.NoError(t, err)
}

func (h *harness) stored(t *testing.T, rollout, attempt string) []model.TripletRecord {
	t.Helper()
	got, err := h.core.QueryTriplets(context.Background(), rollout, attempt)
	require.NoError(t, err)
	return got
}

func (h *harness) waitStored(t *testing.T, rollout, attempt string, check func([]model.TripletRecord) bool) []model.TripletRecord {
	t.Helper()
	require.Eventually(t, func() bool { return check(h.stored(t, rollout, attempt)) }, 5*time.Second, 5*time.Millisecond)
	return h.stored(t, rollout, attempt)
}

// waitTriplets waits for n triplets of ro-1/at-1, the attempt most tests use.
func (h *harness) waitTriplets(t *testing.T, n int) []model.TripletRecord {
	t.Helper()
	return h.waitStored(t, "ro-1", "at-1", func(ts []model.TripletRecord) bool { return len(ts) >= n })
}

func tokenIDs(t *testing.T, part json.RawMessage) []int64 {
	var p struct {
		TokenIDs []int64 `json:"token_ids"`
	}
	require.NoError(t, json.Unmarshal(part, &p))
	return p.TokenIDs
}

func TestTripletsAfterRootSettles(t *testing.T) {
	h := newHarness(t, fastConfig(), nil)
	run := agentRun{rollout: "ro-1", attempt: "at-1", base: time.Unix(1700000000, 0)}
	h.export(t, run.children())
	assert.Equal(t, 3, h.sink.SpanCount(), "spans must pass through at once")
	h.export(t, run.root())

	got := h.waitTriplets(t, 2)
	require.Len(t, got, 2)
	assert.Equal(t, []int64{1, 2}, tokenIDs(t, got[0].Triplet.Prompt))
	assert.Equal(t, []int64{200}, tokenIDs(t, got[0].Triplet.Response))
	assert.Nil(t, got[0].Triplet.Reward)
	require.NotNil(t, got[1].Triplet.Reward)
	assert.Equal(t, 0.75, *got[1].Triplet.Reward)
	assert.Equal(t, 1, got[1].Index)
	assert.Equal(t, 1, got[1].Revision)
	assert.Len(t, h.sink.AllTraces(), 2, "triplets go to the store, not downstream")
	var meta map[string]any
	require.NoError(t, json.Unmarshal(got[1].Triplet.Metadata, &meta))
	assert.Equal(t, "resp-2", meta["response_id"])
	assert.Equal(t, "solver", meta["agent_name"])
	var prompt map[string]any
	require.NoError(t, json.Unmarshal(got[0].Triplet.Prompt, &prompt))
	assert.Equal(t, "what is 2+2?", prompt["messages"].([]any)[0].(map[string]any)["content"])

	metadatatest.AssertEqualProcessorTripletTripletsEmitted(t, h.tel, []metricdata.DataPoint[int64]{{Value: 2}}, metricdatatest.IgnoreTimestamp())
	metadatatest.AssertEqualProcessorTripletAttemptsCompleted(t, h.tel, []metricdata.DataPoint[int64]{
		{Value: 1, Attributes: attribute.NewSet(attribute.String("trigger", triggerRootSettled))},
	}, metricdatatest.IgnoreTimestamp())
}

func TestStoreEventCompletesAttempt(t *testing.T) {
	ctx := context.Background()
	cfg := fastConfig()
	cfg.Completion.Settle = time.Hour
	cfg.Completion.IdleTimeout = time.Hour
	h := newHarness(t, cfg, nil)
	r, err := h.core.StartRollout(ctx, store.StartRolloutRequest{Input: json.RawMessage(`{}`)})
	require.NoError(t, err)

	run := agentRun{rollout: r.RolloutID, attempt: r.Attempt.AttemptID, base: time.Unix(1700000000, 0)}
	h.export(t, run.children())
	assert.Equal(t, 3, h.sink.SpanCount(), "spans pass through")
	time.Sleep(30 * time.Millisecond) // several completion checks pass without a trigger
	assert.Empty(t, h.stored(t, r.RolloutID, r.Attempt.AttemptID))
	_, err = h.core.UpdateAttempt(ctx, r.RolloutID, store.LatestAttempt, store.AttemptUpdate{Status: store.To(model.AttemptSucceeded)})
	require.NoError(t, err)
	got := h.waitStored(t, r.RolloutID, r.Attempt.AttemptID, func(ts []model.TripletRecord) bool { return len(ts) == 2 })
	assert.Equal(t, []int64{1, 2, 100, 5}, tokenIDs(t, got[1].Triplet.Prompt))
	require.NotNil(t, got[1].Triplet.Reward)
	assert.Equal(t, 0.75, *got[1].Triplet.Reward)
}

// A late span rebuilds the attempt from everything stored, at a revision
// above the stored one, whether the processor still remembers the attempt,
// forgot it (retention over, or evicted), or was restarted.
func TestLateSpanRebuildsFromTheStore(t *testing.T) {
	for _, tc := range []struct {
		name string
		cfg  func(*Config)
		// between runs between the first build and the late span.
		between func(t *testing.T, h *harness) *harness
	}{
		{name: "remembered", cfg: func(*Config) {}},
		{name: "after retention", cfg: func(c *Config) { c.Completion.Retention = 0 }},
		{name: "after a restart", cfg: func(*Config) {}, between: func(t *testing.T, h *harness) *harness {
			// The runner marked the attempt succeeded; then the collector
			// restarted, and a span of the ended attempt arrives.
			_, err := h.core.UpdateAttempt(context.Background(), "ro-1", "at-1", store.AttemptUpdate{Status: store.To(model.AttemptSucceeded)})
			require.NoError(t, err)
			require.NoError(t, h.proc.Shutdown(context.Background()))
			cfg := fastConfig()
			cfg.Completion.IdleTimeout = time.Hour
			return newHarness(t, cfg, h.core)
		}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			cfg := fastConfig()
			tc.cfg(cfg)
			h := newHarness(t, cfg, nil)
			run := agentRun{rollout: "ro-1", attempt: "at-1", base: time.Unix(1700000000, 0)}
			h.export(t, run.children())
			h.export(t, run.root())
			first := h.waitStored(t, "ro-1", "at-1", func(ts []model.TripletRecord) bool { return len(ts) == 2 })
			assert.Equal(t, 1, first[0].Revision)
			if tc.between != nil {
				h = tc.between(t, h)
			}
			// The late span: a second reward, for the first call.
			late := ptrace.NewTraces()
			judge := run.span(run.resource(late), 9, 1, "agentlightning.annotation", 12*time.Second, 12*time.Second)
			judge.Attributes().PutStr("agentlightning.reward.0.name", "primary")
			judge.Attributes().PutDouble("agentlightning.reward.0.value", 0.25)
			judge.Attributes().PutStr("agentlightning.link.0.key_match", "gen_ai.response.id")
			judge.Attributes().PutStr("agentlightning.link.0.value_match", "resp-1")
			h.export(t, late)
			got := h.waitStored(t, "ro-1", "at-1", func(ts []model.TripletRecord) bool { return len(ts) > 0 && ts[0].Triplet.Reward != nil })
			require.Len(t, got, 2, "the rebuild has every call, not just the late span's")
			assert.Greater(t, got[0].Revision, first[0].Revision)
			assert.Equal(t, 0.25, *got[0].Triplet.Reward)
			require.NotNil(t, got[1].Triplet.Reward)
			assert.Equal(t, 0.75, *got[1].Triplet.Reward, "the earlier reward is still there")
		})
	}
}

// With a store, span copies are only a cache: over the byte limit the
// buffer keeps an attempt's state and span ids (a few hundred bytes),
// completes nothing early, and builds the attempt complete from the store.
func TestStoreBackedBufferStopsCachingOverItsLimit(t *testing.T) {
	cfg := fastConfig()
	cfg.Completion.IdleTimeout = time.Hour
	cfg.Limits.MaxBufferedMiB = 1
	h := newHarness(t, cfg, nil)
	run := agentRun{rollout: "ro-1", attempt: "at-1", base: time.Unix(1700000000, 0)}
	td := run.children()
	td.ResourceSpans().At(0).ScopeSpans().At(0).Spans().At(0).Attributes().PutStr("blob", strings.Repeat("x", 1<<20))
	h.export(t, td)
	m, err := h.tel.GetMetric("otelcol_processor_triplet_buffered_bytes")
	require.NoError(t, err)
	kept := m.Data.(metricdata.Sum[int64]).DataPoints[0].Value
	assert.Equal(t, int64(stateBytes+3*spanRefBytes), kept, "no copies kept over the limit")

	h.export(t, run.root())
	got := h.waitStored(t, "ro-1", "at-1", func(ts []model.TripletRecord) bool { return len(ts) == 2 })
	require.NotNil(t, got[1].Triplet.Reward)
	assert.Equal(t, 0.75, *got[1].Triplet.Reward)
	metadatatest.AssertEqualProcessorTripletAttemptsCompleted(t, h.tel, []metricdata.DataPoint[int64]{
		{Value: 1, Attributes: attribute.NewSet(attribute.String("trigger", triggerRootSettled))},
	}, metricdatatest.IgnoreTimestamp())
}

func TestStartFailsWithoutExtension(t *testing.T) {
	proc, err := NewFactory().CreateTraces(context.Background(), metadatatest.NewSettings(componenttest.NewTelemetry()), fastConfig(), consumertest.NewNop())
	require.NoError(t, err)
	require.ErrorContains(t, proc.Start(context.Background(), host{}), "extension lightningstore not found")
	require.ErrorContains(t, proc.Start(context.Background(), host{storeID: struct{ component.Component }{}}),
		"extension lightningstore does not provide a Lightning store")
	require.NoError(t, proc.Shutdown(context.Background()))
}

func TestLimitsAreEnforcedAndCounted(t *testing.T) {
	cfg := fastConfig()
	cfg.Completion.Settle = time.Hour
	cfg.Completion.IdleTimeout = time.Hour
	cfg.Limits.MaxSpansPerAttempt = 2
	cfg.Limits.MaxBufferedSpans = 3
	h := newHarness(t, cfg, nil)
	first := agentRun{rollout: "ro-1", attempt: "at-1", base: time.Unix(1700000000, 0)}
	h.export(t, first.children())
	assert.Equal(t, 3, h.sink.SpanCount(), "spans over the limit still pass through")
	second := agentRun{rollout: "ro-2", attempt: "at-2", base: time.Unix(1700000100, 0)}
	h.export(t, second.children())

	// ro-1 holds 2 span ids (its limit); the second id of ro-2 would be the
	// fourth of 3: ro-1 is completed early, from its first 2 stored spans.
	got := h.waitTriplets(t, 2)
	assert.Len(t, got, 2)
	metadatatest.AssertEqualProcessorTripletSpansDropped(t, h.tel, []metricdata.DataPoint[int64]{
		{Value: 2, Attributes: attribute.NewSet(attribute.String("reason", "attempt_limit"))},
	}, metricdatatest.IgnoreTimestamp())
	metadatatest.AssertEqualProcessorTripletAttemptsCompleted(t, h.tel, []metricdata.DataPoint[int64]{
		{Value: 1, Attributes: attribute.NewSet(attribute.String("trigger", triggerMemoryPressure))},
	}, metricdatatest.IgnoreTimestamp())
	assert.Empty(t, h.stored(t, "ro-2", "at-2"), "the newer attempt stays open")
}

func TestShutdownFlushesOpenAttempts(t *testing.T) {
	cfg := fastConfig()
	cfg.Completion.Settle = time.Hour
	cfg.Completion.IdleTimeout = time.Hour
	h := newHarness(t, cfg, nil)
	run := agentRun{rollout: "ro-1", attempt: "at-1", base: time.Unix(1700000000, 0)}
	h.export(t, run.children())
	require.NoError(t, h.proc.Shutdown(context.Background()))
	assert.Len(t, h.stored(t, "ro-1", "at-1"), 2)
}

func TestMalformedSpansDoNotDisturbOthers(t *testing.T) {
	h := newHarness(t, fastConfig(), nil)
	run := agentRun{rollout: "ro-1", attempt: "at-1", base: time.Unix(1700000000, 0)}
	td := run.children()
	spans := td.ResourceSpans().At(0).ScopeSpans().At(0).Spans()
	bad := run.span(spans, 7, 7, "openai.chat.completion", 0, 0) // its own parent, no times
	bad.Attributes().PutStr("prompt_token_ids", "[1, 2, 'x'")
	bad.Attributes().PutStr("gen_ai.prompt.0.content", string([]byte{0xff, 0xfe}))
	run.span(spans, 8, 9, "x", time.Second, 2*time.Second) // a parent-id cycle
	run.span(spans, 9, 8, "y", time.Second, 2*time.Second)
	h.export(t, td)
	h.export(t, run.root())
	got := h.waitTriplets(t, 2)
	rewarded := 0
	for _, r := range got {
		if r.Triplet.Reward != nil {
			rewarded++
		}
	}
	assert.GreaterOrEqual(t, len(got), 2)
	assert.Equal(t, 1, rewarded)
}

func TestEvaluationLinkedToItsCall(t *testing.T) {
	h := newHarness(t, fastConfig(), nil)
	run := agentRun{rollout: "ro-1", attempt: "at-1", base: time.Unix(1700000000, 0)}
	td := run.children()
	spans := td.ResourceSpans().At(0).ScopeSpans().At(0).Spans()
	judge := run.span(spans, 5, 1, "agentlightning.annotation", 6*time.Second, 6*time.Second)
	judge.Attributes().PutStr("agentlightning.reward.0.name", "primary")
	judge.Attributes().PutDouble("agentlightning.reward.0.value", 0.2)
	judge.Attributes().PutStr("agentlightning.link.0.key_match", "gen_ai.response.id")
	judge.Attributes().PutStr("agentlightning.link.0.value_match", "resp-1")
	h.export(t, td)
	h.export(t, run.root())
	got := h.waitTriplets(t, 2)
	require.NotNil(t, got[0].Triplet.Reward)
	require.NotNil(t, got[1].Triplet.Reward)
	assert.Equal(t, 0.2, *got[0].Triplet.Reward, "the linked evaluation rewards resp-1")
	assert.Equal(t, 0.75, *got[1].Triplet.Reward, "the unlinked reward still goes by first_occurrence")
}

func TestDuplicateSpanLendsItsTokenIDs(t *testing.T) {
	h := newHarness(t, fastConfig(), nil)
	run := agentRun{rollout: "ro-1", attempt: "at-1", base: time.Unix(1700000000, 0)}
	td := run.root()
	spans := td.ResourceSpans().At(0).ScopeSpans().At(0).Spans()
	outer := run.span(spans, 2, 1, "openai.chat", time.Second, 3*time.Second)
	outer.Attributes().PutStr("gen_ai.system", "openai")
	outer.Attributes().PutStr("gen_ai.response.id", "dup")
	outer.Attributes().PutStr("llm.request.type", "chat")
	inner := run.span(spans, 3, 2, "openai.chat.completion", 1500*time.Millisecond, 2500*time.Millisecond)
	inner.Attributes().PutStr("gen_ai.response.id", "dup")
	inner.Attributes().PutEmptySlice("prompt_token_ids").FromRaw([]any{int64(5), int64(6)})
	inner.Attributes().PutEmptySlice("response_token_ids").FromRaw([]any{int64(7)})
	h.export(t, td)
	got := h.waitTriplets(t, 1)
	require.Len(t, got, 1, "the inner duplicate is not a second triplet")
	assert.Equal(t, []int64{5, 6}, tokenIDs(t, got[0].Triplet.Prompt))
	assert.Equal(t, []int64{7}, tokenIDs(t, got[0].Triplet.Response))
}

// TestRewardAddedThroughTheStoreAPI follows Agent Lightning's runner: the
// traced spans arrive over OTLP, the float the agent returned is added as a
// reward span through the store API (POST /v1/agl/spans), then the attempt
// is marked succeeded.
func TestRewardAddedThroughTheStoreAPI(t *testing.T) {
	ctx := context.Background()
	cfg := fastConfig()
	cfg.Completion.Settle = time.Hour
	h := newHarness(t, cfg, nil)
	r, err := h.core.StartRollout(ctx, store.StartRolloutRequest{Input: json.RawMessage(`{}`)})
	require.NoError(t, err)

	run := agentRun{rollout: r.RolloutID, attempt: r.Attempt.AttemptID, base: time.Unix(1700000000, 0)}
	td := run.root()
	run.llmCall(td.ResourceSpans().At(0).ScopeSpans().At(0).Spans(), 2, "resp-1", []int64{1}, time.Second)
	h.export(t, td)

	seq, err := h.core.NextSequenceIDs(ctx, []store.SequenceKey{{RolloutID: r.RolloutID, AttemptID: r.Attempt.AttemptID}})
	require.NoError(t, err)
	at := float64(run.base.Add(11*time.Second).UnixNano()) / 1e9
	_, err = h.core.AddSpan(ctx, model.Span{
		RolloutID: r.RolloutID, AttemptID: r.Attempt.AttemptID, SequenceID: seq[0], TraceID: "ffff", SpanID: "reward-1",
		Name: "agentlightning.annotation", StartTime: &at, EndTime: &at,
		Attributes: model.Attributes{"agentlightning.reward.0.name": "primary", "agentlightning.reward.0.value": json.Number("0.5")},
	})
	require.NoError(t, err)
	_, err = h.core.UpdateAttempt(ctx, r.RolloutID, store.LatestAttempt, store.AttemptUpdate{Status: store.To(model.AttemptSucceeded)})
	require.NoError(t, err)

	got := h.waitStored(t, r.RolloutID, r.Attempt.AttemptID, func(ts []model.TripletRecord) bool { return len(ts) == 1 })
	require.NotNil(t, got[0].Triplet.Reward, "the REST reward span reached the triplet")
	assert.Equal(t, 0.5, *got[0].Triplet.Reward)
}

// flaky refuses the first n triplet writes, like a store that is busy.
type flaky struct {
	store.Store
	mu     sync.Mutex
	refuse int
}

func (f *flaky) ReplaceTriplets(ctx context.Context, rolloutID, attemptID string, revision int, ts []model.TripletRecord) error {
	f.mu.Lock()
	refuse := f.refuse > 0
	f.refuse--
	f.mu.Unlock()
	if refuse {
		return errors.New("database is locked")
	}
	return f.Store.ReplaceTriplets(ctx, rolloutID, attemptID, revision, ts)
}

// overrideProvider reports the real store's events and hands out another
// store (a wrapper of it) to the processor.
type overrideProvider struct {
	provider
	st store.Store
}

func (p overrideProvider) LightningStore() store.Store { return p.st }
func (p overrideProvider) SubscribeAttempts(fn func(store.AttemptEvent)) func() {
	return p.s.(*store.Core).SubscribeAttempts(fn)
}
func (p overrideProvider) SubscribeSpans(fn func([]model.Span)) func() {
	return p.s.(*store.Core).SubscribeSpans(fn)
}

func TestTripletsRetriedWhenTheStoreRefuses(t *testing.T) {
	core := store.New(memstore.New(), store.Options{})
	t.Cleanup(func() { _ = core.Close() })
	f := &flaky{Store: core, refuse: 2}
	tel := componenttest.NewTelemetry()
	proc, err := NewFactory().CreateTraces(context.Background(), metadatatest.NewSettings(tel), fastConfig(), consumertest.NewNop())
	require.NoError(t, err)
	require.NoError(t, proc.Start(context.Background(), host{storeID: overrideProvider{provider: provider{s: core}, st: f}}))
	t.Cleanup(func() { _ = proc.Shutdown(context.Background()) })
	h := &harness{proc: proc, core: core}
	run := agentRun{rollout: "ro-1", attempt: "at-1", base: time.Unix(1700000000, 0)}
	h.export(t, run.children())
	h.export(t, run.root())
	got := h.waitTriplets(t, 2)
	assert.Equal(t, 1, got[0].Revision, "refused writes stored nothing; the store numbers the first write 1")
	metadatatest.AssertEqualProcessorTripletBuildFailures(t, tel, []metricdata.DataPoint[int64]{
		{Value: 2, Attributes: attribute.NewSet(attribute.String("reason", "store"))},
	}, metricdatatest.IgnoreTimestamp())
}

func TestToolCallsFromChildSpans(t *testing.T) {
	h := newHarness(t, fastConfig(), nil)
	run := agentRun{rollout: "ro-1", attempt: "at-1", base: time.Unix(1700000000, 0)}
	td := run.root()
	spans := td.ResourceSpans().At(0).ScopeSpans().At(0).Spans()
	llm := run.span(spans, 2, 1, "openai.chat.completion", time.Second, 2*time.Second)
	llm.Attributes().PutStr("gen_ai.response.id", "r-1")
	llm.Attributes().PutStr("gen_ai.prompt.0.role", "user")
	llm.Attributes().PutStr("gen_ai.prompt.0.content", "weather in Paris?")
	llm.Attributes().PutStr("gen_ai.completion.0.role", "assistant")
	llm.Attributes().PutStr("gen_ai.completion.0.finish_reason", "tool_calls")
	tool := run.span(spans, 3, 2, "tool_call.get_weather", 1500*time.Millisecond, 1600*time.Millisecond)
	tool.Attributes().PutStr("tool.name", "get_weather")
	tool.Attributes().PutStr("tool.parameters", `{"city":"Paris"}`)
	tool.Attributes().PutStr("tool.call.id", "call_1")
	tool.Attributes().PutStr("tool.call.type", "function")
	h.export(t, td)
	got := h.waitTriplets(t, 1)
	var resp struct {
		Message struct {
			ToolCalls []struct {
				ID       string `json:"id"`
				Function struct {
					Name      string `json:"name"`
					Arguments string `json:"arguments"`
				} `json:"function"`
			} `json:"tool_calls"`
		} `json:"message"`
	}
	require.NoError(t, json.Unmarshal(got[0].Triplet.Response, &resp))
	require.Len(t, resp.Message.ToolCalls, 1)
	assert.Equal(t, "call_1", resp.Message.ToolCalls[0].ID)
	assert.Equal(t, "get_weather", resp.Message.ToolCalls[0].Function.Name)
	assert.Equal(t, `{"city":"Paris"}`, resp.Message.ToolCalls[0].Function.Arguments)
}

// reads counts the span reads that return spans (not counts).
type reads struct {
	store.Store
	mu    sync.Mutex
	spans int
}

func (r *reads) QuerySpans(ctx context.Context, q store.SpanQuery) (model.Paginated[model.Span], error) {
	if q.Page.Limit != 0 {
		r.mu.Lock()
		r.spans++
		r.mu.Unlock()
	}
	return r.Store.QuerySpans(ctx, q)
}

// In the common case (this process saw every span of the attempt
// committed) the attempt is built from the cached copies: one count, no
// span read.
func TestCachedSpansSpareTheRead(t *testing.T) {
	ctx := context.Background()
	core := store.New(memstore.New(), store.Options{})
	t.Cleanup(func() { _ = core.Close() })
	r := &reads{Store: core}
	cfg := fastConfig()
	cfg.Completion.Settle = time.Hour
	proc, err := NewFactory().CreateTraces(ctx, metadatatest.NewSettings(componenttest.NewTelemetry()), cfg, consumertest.NewNop())
	require.NoError(t, err)
	require.NoError(t, proc.Start(ctx, host{storeID: overrideProvider{provider: provider{s: core}, st: r}}))
	t.Cleanup(func() { _ = proc.Shutdown(ctx) })
	h := &harness{proc: proc, core: core}
	started, err := core.StartRollout(ctx, store.StartRolloutRequest{Input: json.RawMessage(`{}`)})
	require.NoError(t, err)
	run := agentRun{rollout: started.RolloutID, attempt: started.Attempt.AttemptID, base: time.Unix(1700000000, 0)}
	h.export(t, run.children())
	_, err = core.UpdateAttempt(ctx, run.rollout, store.LatestAttempt, store.AttemptUpdate{Status: store.To(model.AttemptSucceeded)})
	require.NoError(t, err)
	h.waitStored(t, run.rollout, run.attempt, func(ts []model.TripletRecord) bool { return len(ts) == 2 })
	r.mu.Lock()
	defer r.mu.Unlock()
	assert.Zero(t, r.spans, "built from the cache")
}
