package lightningstoreextension

import (
	"context"
	"encoding/json"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	"go.opentelemetry.io/collector/component/componenttest"
	"go.opentelemetry.io/otel/attribute"
	"go.opentelemetry.io/otel/sdk/metric/metricdata"
	"go.opentelemetry.io/otel/sdk/metric/metricdata/metricdatatest"
	"go.uber.org/zap"

	"github.com/otelcol-lightning/otelcol-lightning/extension/lightningstoreextension/internal/metadata"
	"github.com/otelcol-lightning/otelcol-lightning/extension/lightningstoreextension/internal/metadatatest"

	"github.com/otelcol-lightning/otelcol-lightning/pkg/model"
	"github.com/otelcol-lightning/otelcol-lightning/pkg/otlpspan"
	"github.com/otelcol-lightning/otelcol-lightning/pkg/store"
	"github.com/otelcol-lightning/otelcol-lightning/pkg/store/memstore"
	"github.com/otelcol-lightning/otelcol-lightning/pkg/store/storetest"
)

type completerHarness struct {
	core  *store.Core
	ac    *autoCompleter
	clock *storetest.Clock
}

func newCompleterHarness(t *testing.T, cfg AutoCompleteConfig) *completerHarness {
	t.Helper()
	core := store.New(memstore.New(), store.Options{})
	t.Cleanup(func() { _ = core.Close() })
	clock := storetest.NewClock(time.Unix(1767225600, 0))
	ac := newAutoCompleter(core, cfg, zap.NewNop(), nil)
	ac.now = clock.Now
	unsubscribe := core.SubscribeSpans(ac.observe)
	t.Cleanup(unsubscribe)
	return &completerHarness{core: core, ac: ac, clock: clock}
}

// ingest stores spans the way the pipeline does, creating the rollout with
// the given metadata when it is new.
func (h *completerHarness) ingest(t *testing.T, rollout, attempt string, meta json.RawMessage, spans ...model.Span) {
	t.Helper()
	items := make([]store.IngestItem, len(spans))
	for i, s := range spans {
		s.RolloutID, s.AttemptID = rollout, attempt
		items[i] = store.IngestItem{Span: s, CreateMetadata: meta}
	}
	_, err := h.core.IngestSpans(context.Background(), items)
	require.NoError(t, err)
}

func (h *completerHarness) status(t *testing.T, rollout string) model.AttemptStatus {
	t.Helper()
	a, err := h.core.GetLatestAttempt(context.Background(), rollout)
	require.NoError(t, err)
	require.NotNil(t, a)
	return a.Status
}

func span(id, parent string) model.Span {
	s := model.Span{TraceID: "0af7651916cd43dd8448eb211c80319c", SpanID: id, Name: "s" + id}
	if parent != "" {
		s.ParentID = &parent
	}
	return s
}

func TestAutoCompleteRootSettled(t *testing.T) {
	h := newCompleterHarness(t, AutoCompleteConfig{Settle: 5 * time.Second, IdleTimeout: time.Minute})
	ctx := context.Background()
	h.ingest(t, "ro-auto", "at-auto", otlpspan.AutoMetadata, span("0000000000000002", "0000000000000001"))
	h.clock.Advance(30 * time.Second)
	h.ac.sweep(ctx)
	assert.Equal(t, model.AttemptRunning, h.status(t, "ro-auto"), "no root span yet, not idle yet")

	h.ingest(t, "ro-auto", "at-auto", otlpspan.AutoMetadata, span("0000000000000001", ""))
	h.clock.Advance(4 * time.Second)
	h.ac.sweep(ctx)
	assert.Equal(t, model.AttemptRunning, h.status(t, "ro-auto"), "the root ended but has not settled")
	h.clock.Advance(time.Second)
	h.ac.sweep(ctx)
	assert.Equal(t, model.AttemptSucceeded, h.status(t, "ro-auto"))
	r, err := h.core.GetRollout(ctx, "ro-auto")
	require.NoError(t, err)
	assert.Equal(t, model.RolloutSucceeded, r.Status)

	// A late span is stored and does not reopen or change the attempt.
	h.ingest(t, "ro-auto", "at-auto", otlpspan.AutoMetadata, span("0000000000000003", "0000000000000001"))
	h.clock.Advance(time.Hour)
	h.ac.sweep(ctx)
	assert.Equal(t, model.AttemptSucceeded, h.status(t, "ro-auto"))
	assert.Empty(t, h.ac.attempts, "nothing left to follow")
}

func TestAutoCompleteIdleTimeout(t *testing.T) {
	h := newCompleterHarness(t, AutoCompleteConfig{Settle: 5 * time.Second, IdleTimeout: time.Minute})
	h.ingest(t, "ro-named", "at-named", otlpspan.OTLPMetadata, span("0000000000000002", "0000000000000001"))
	h.clock.Advance(59 * time.Second)
	h.ac.sweep(context.Background())
	assert.Equal(t, model.AttemptRunning, h.status(t, "ro-named"))
	h.clock.Advance(time.Second)
	h.ac.sweep(context.Background())
	assert.Equal(t, model.AttemptTimeout, h.status(t, "ro-named"), "a rollout named by attributes is ended too")
	r, err := h.core.GetRollout(context.Background(), "ro-named")
	require.NoError(t, err)
	t.Logf("rollout status after the idle timeout: %s", r.Status)
	assert.True(t, r.Status.Finished(), "no retry: the rollout ends with its attempt, got %s", r.Status)
}

// Rollouts a runner started, and attempts ended through the API, are never
// changed.
func TestAutoCompleteLeavesRunnersAndExplicitEndsAlone(t *testing.T) {
	h := newCompleterHarness(t, AutoCompleteConfig{Settle: time.Second, IdleTimeout: time.Minute})
	ctx := context.Background()
	r, err := h.core.StartRollout(ctx, store.StartRolloutRequest{Input: json.RawMessage(`1`)})
	require.NoError(t, err)
	h.ingest(t, r.RolloutID, r.Attempt.AttemptID, nil, span("0000000000000001", ""))

	h.ingest(t, "ro-explicit", "at-explicit", otlpspan.AutoMetadata, span("0000000000000001", ""))
	_, err = h.core.UpdateAttempt(ctx, "ro-explicit", "at-explicit", store.AttemptUpdate{Status: store.To(model.AttemptFailed)})
	require.NoError(t, err)

	h.clock.Advance(2 * time.Minute)
	h.ac.sweep(ctx)
	assert.Equal(t, model.AttemptRunning, h.status(t, r.RolloutID), "a runner's attempt is the runner's to end")
	assert.Equal(t, model.AttemptFailed, h.status(t, "ro-explicit"), "an explicit end stands")
}

func TestAutoCompleteBounded(t *testing.T) {
	h := newCompleterHarness(t, AutoCompleteConfig{Settle: time.Second})
	h.ac.maxTracked = 1
	h.ingest(t, "ro-a", "at-a", otlpspan.AutoMetadata, span("0000000000000001", ""))
	h.ingest(t, "ro-b", "at-b", otlpspan.AutoMetadata, span("0000000000000001", ""))
	assert.Len(t, h.ac.attempts, 1)
	assert.Equal(t, int64(1), h.ac.untracked)
}

func TestAutoCompleteDisabled(t *testing.T) {
	assert.False(t, newAutoCompleter(nil, AutoCompleteConfig{}, zap.NewNop(), nil).enabled())
}

// Through the extension: the completer's counters are the extension's own
// telemetry.
func TestAutoCompleteTelemetry(t *testing.T) {
	tel := componenttest.NewTelemetry()
	t.Cleanup(func() { require.NoError(t, tel.Shutdown(context.Background())) })
	core := store.New(memstore.New(), store.Options{})
	t.Cleanup(func() { _ = core.Close() })
	tb, err := metadata.NewTelemetryBuilder(tel.NewTelemetrySettings())
	require.NoError(t, err)
	ac := newAutoCompleter(core, AutoCompleteConfig{Settle: time.Second}, zap.NewNop(), tb)
	clock := storetest.NewClock(time.Unix(1767225600, 0))
	ac.now = clock.Now
	ac.maxTracked = 1
	t.Cleanup(core.SubscribeSpans(ac.observe))
	h := &completerHarness{core: core, ac: ac, clock: clock}
	h.ingest(t, "ro-a", "at-a", otlpspan.AutoMetadata, span("0000000000000001", ""))
	h.ingest(t, "ro-b", "at-b", otlpspan.AutoMetadata, span("0000000000000001", ""))
	clock.Advance(time.Second)
	ac.sweep(context.Background())
	metadatatest.AssertEqualLightningstoreAttemptsAutoCompleted(t, tel, []metricdata.DataPoint[int64]{
		{Value: 1, Attributes: attribute.NewSet(attribute.String("status", "succeeded"))},
	}, metricdatatest.IgnoreTimestamp())
	metadatatest.AssertEqualLightningstoreAttemptsUntracked(t, tel, []metricdata.DataPoint[int64]{{Value: 1}},
		metricdatatest.IgnoreTimestamp())
}

// After a restart the running attempts of rollouts created from spans are
// followed again: one whose root span is stored settles, one without a root
// waits for the idle timeout, a runner's rollout is left alone.
func TestAutoCompleteResumesAfterRestart(t *testing.T) {
	h := newCompleterHarness(t, AutoCompleteConfig{Settle: time.Second, IdleTimeout: time.Minute})
	ctx := context.Background()
	h.ingest(t, "ro-rooted", "at-rooted", otlpspan.AutoMetadata, span("0000000000000001", ""))
	h.ingest(t, "ro-rootless", "at-rootless", otlpspan.AutoMetadata, span("0000000000000002", "0000000000000001"))
	r, err := h.core.StartRollout(ctx, store.StartRolloutRequest{Input: json.RawMessage(`1`)})
	require.NoError(t, err)
	h.ingest(t, r.RolloutID, r.Attempt.AttemptID, nil, span("0000000000000001", ""))

	// A new process: nothing followed yet.
	restarted := newAutoCompleter(h.core, AutoCompleteConfig{Settle: time.Second, IdleTimeout: time.Minute}, zap.NewNop(), nil)
	restarted.now = h.clock.Now
	restarted.resume(ctx)
	assert.Len(t, restarted.attempts, 2)
	h.clock.Advance(time.Second)
	restarted.sweep(ctx)
	assert.Equal(t, model.AttemptSucceeded, h.status(t, "ro-rooted"))
	assert.Equal(t, model.AttemptRunning, h.status(t, "ro-rootless"))
	h.clock.Advance(time.Minute)
	restarted.sweep(ctx)
	assert.Equal(t, model.AttemptTimeout, h.status(t, "ro-rootless"))
	assert.Equal(t, model.AttemptRunning, h.status(t, r.RolloutID))
}
