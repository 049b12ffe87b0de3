package tripletprocessor

import (
	"context"
	"encoding/json"
	"sync/atomic"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	"go.opentelemetry.io/collector/component/componenttest"
	"go.opentelemetry.io/collector/consumer/consumertest"
	"go.opentelemetry.io/collector/pdata/ptrace"
	"go.opentelemetry.io/otel/sdk/metric/metricdata"

	"github.com/otelcol-lightning/otelcol-lightning/pkg/model"
	"github.com/otelcol-lightning/otelcol-lightning/pkg/store"
	"github.com/otelcol-lightning/otelcol-lightning/pkg/store/memstore"
	"github.com/otelcol-lightning/otelcol-lightning/processor/tripletprocessor/internal/metadatatest"
)

// unfollowedBuilds reads attempts_completed{trigger=store_event_unfollowed}.
func unfollowedBuilds(t *testing.T, h *harness) int64 {
	t.Helper()
	m, err := h.tel.GetMetric("otelcol_processor_triplet_attempts_completed")
	if err != nil {
		return 0 // nothing recorded yet
	}
	for _, dp := range m.Data.(metricdata.Sum[int64]).DataPoints {
		if v, _ := dp.Attributes.Value("trigger"); v.AsString() == triggerStoreEventUnfollowed {
			return dp.Value
		}
	}
	return 0
}

// slowConfig completes attempts only on store events: no timer builds them
// while a test runs.
func slowConfig() *Config {
	cfg := fastConfig()
	cfg.Completion.Settle = time.Hour
	cfg.Completion.IdleTimeout = time.Hour
	return cfg
}

// An attempt whose spans the store committed before a restart (the
// processor that followed them is gone) and that ends after it is built from
// the store when the store reports its end; triplets already built from the
// same spans are left alone, triplets built from fewer are replaced at the
// next revision.
func TestEndedAfterRestartIsBuiltFromTheStore(t *testing.T) {
	ctx := context.Background()
	for _, tc := range []struct {
		name string
		// before stores the attempt's spans with the collector that is
		// then restarted.
		before       func(t *testing.T, core *store.Core, run agentRun)
		wantRevision int
	}{
		{name: "killed before any build", wantRevision: 1, before: func(t *testing.T, core *store.Core, run agentRun) {
			// kill -9: the spans are committed, nothing was built.
			ingest(t, core, run.children())
		}},
		{name: "built at shutdown from the same spans", wantRevision: 1, before: func(t *testing.T, core *store.Core, run agentRun) {
			h := newHarness(t, slowConfig(), core)
			h.export(t, run.children())
			require.NoError(t, h.proc.Shutdown(ctx))
			require.Len(t, h.stored(t, run.rollout, run.attempt), 2, "the shutdown builds the open attempt")
		}},
		{name: "built at shutdown from fewer spans", wantRevision: 2, before: func(t *testing.T, core *store.Core, run agentRun) {
			h := newHarness(t, slowConfig(), core)
			td := ptrace.NewTraces()
			spans := run.resource(td)
			run.llmCall(spans, 2, "resp-1", []int64{1, 2}, time.Second)
			run.llmCall(spans, 3, "resp-2", []int64{1, 2, 100, 5}, 3*time.Second)
			h.export(t, td)
			require.NoError(t, h.proc.Shutdown(ctx))
			require.Len(t, h.stored(t, run.rollout, run.attempt), 2)
			// The exporter's queue drains after the processor stopped: the
			// reward span is stored, no processor sees it.
			reward := ptrace.NewTraces()
			run.reward(run.resource(reward), 4, 0.75, 5*time.Second)
			ingest(t, core, reward)
		}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			core := store.New(memstore.New(), store.Options{})
			t.Cleanup(func() { _ = core.Close() })
			r, err := core.StartRollout(ctx, store.StartRolloutRequest{Input: json.RawMessage(`{}`)})
			require.NoError(t, err)
			run := agentRun{rollout: r.RolloutID, attempt: r.Attempt.AttemptID, base: time.Unix(1700000000, 0)}
			tc.before(t, core, run)

			h := newHarness(t, slowConfig(), core) // the restarted collector
			_, err = core.UpdateAttempt(ctx, run.rollout, store.LatestAttempt, store.AttemptUpdate{Status: store.To(model.AttemptSucceeded)})
			require.NoError(t, err)
			require.Eventually(t, func() bool { return unfollowedBuilds(t, h) == 1 }, 5*time.Second, 5*time.Millisecond)
			got := h.waitStored(t, run.rollout, run.attempt, func(ts []model.TripletRecord) bool {
				return len(ts) == 2 && ts[0].Revision == tc.wantRevision
			})
			assert.Equal(t, []int64{1, 2}, tokenIDs(t, got[0].Triplet.Prompt))
			assert.Equal(t, []int64{200}, tokenIDs(t, got[0].Triplet.Response))
			assert.Equal(t, []int64{1, 2, 100, 5}, tokenIDs(t, got[1].Triplet.Prompt))
			assert.Nil(t, got[0].Triplet.Reward)
			require.NotNil(t, got[1].Triplet.Reward)
			assert.Equal(t, 0.75, *got[1].Triplet.Reward)
			assert.Equal(t, tc.wantRevision, got[1].Revision)
		})
	}
}

// An attempt that ends without a single span (a runner that failed before
// tracing) costs reads, writes nothing and is not kept.
func TestEndedAttemptWithoutSpansWritesNothing(t *testing.T) {
	ctx := context.Background()
	h := newHarness(t, slowConfig(), nil)
	r, err := h.core.StartRollout(ctx, store.StartRolloutRequest{Input: json.RawMessage(`{}`)})
	require.NoError(t, err)
	_, err = h.core.UpdateAttempt(ctx, r.RolloutID, store.LatestAttempt, store.AttemptUpdate{Status: store.To(model.AttemptFailed)})
	require.NoError(t, err)
	require.Eventually(t, func() bool { return unfollowedBuilds(t, h) == 1 }, 5*time.Second, 5*time.Millisecond)
	assert.Empty(t, h.stored(t, r.RolloutID, r.Attempt.AttemptID))
	// A triplet written now is at revision 1: the build wrote no empty one.
	require.NoError(t, h.core.ReplaceTriplets(ctx, r.RolloutID, r.Attempt.AttemptID, store.NextRevision,
		[]model.TripletRecord{{SpanID: "s", Triplet: model.Triplet{Reward: model.Ptr(1.0)}}}))
	assert.Equal(t, 1, h.stored(t, r.RolloutID, r.Attempt.AttemptID)[0].Revision)
	b := h.proc.(*tripletProcessor).buf
	b.mu.Lock()
	defer b.mu.Unlock()
	assert.Empty(t, b.attempts)
	assert.Empty(t, b.unfollowed)
}

// The queue of unfollowed ended attempts is bounded; an attempt with state
// never enters it, and one queued twice is built once.
func TestUnfollowedQueueIsBounded(t *testing.T) {
	cfg := *fastConfig()
	cfg.Limits.MaxBufferedSpans = 2
	b := newBuffer(cfg, time.Now)
	assert.True(t, b.markStoreEnded(attemptKey{"ro-1", "at-1"}))
	assert.True(t, b.markStoreEnded(attemptKey{"ro-1", "at-1"}))
	assert.True(t, b.markStoreEnded(attemptKey{"ro-2", "at-1"}))
	assert.False(t, b.markStoreEnded(attemptKey{"ro-3", "at-1"}), "over max_buffered_spans")
	b.add(attemptKey{"ro-4", "at-1"}, []model.Span{{RolloutID: "ro-4", AttemptID: "at-1", SpanID: "s"}})
	assert.True(t, b.markStoreEnded(attemptKey{"ro-4", "at-1"}), "followed attempts are marked, not queued")
	jobs, _, _, _ := b.due(false)
	var keys []string
	for _, j := range jobs {
		keys = append(keys, j.key.rollout+"/"+j.trigger)
	}
	assert.Equal(t, []string{"ro-1/store_event_unfollowed", "ro-2/store_event_unfollowed", "ro-4/store_event"}, keys)
	jobs, _, _, _ = b.due(false)
	assert.Empty(t, jobs, "built once")
}

// endedStore holds rollouts whose attempts ended while no processor
// followed the store.
type endedStore struct {
	core   *store.Core
	offset atomic.Int64 // moves the store's clock back for old rollouts
}

func newEndedStore(t *testing.T) *endedStore {
	e := &endedStore{}
	e.core = store.New(memstore.New(), store.Options{Clock: func() time.Time { return time.Now().Add(time.Duration(e.offset.Load())) }})
	t.Cleanup(func() { _ = e.core.Close() })
	return e
}

// ended starts a rollout `ago`, stores the agent's spans if withSpans, and
// ends the attempt.
func (e *endedStore) ended(t *testing.T, ago time.Duration, withSpans bool) agentRun {
	ctx := context.Background()
	e.offset.Store(int64(-ago))
	r, err := e.core.StartRollout(ctx, store.StartRolloutRequest{Input: json.RawMessage(`{}`)})
	e.offset.Store(0)
	require.NoError(t, err)
	run := agentRun{rollout: r.RolloutID, attempt: r.Attempt.AttemptID, base: time.Unix(1700000000, 0)}
	if withSpans {
		ingest(t, e.core, run.children())
	}
	_, err = e.core.UpdateAttempt(ctx, run.rollout, store.LatestAttempt, store.AttemptUpdate{Status: store.To(model.AttemptSucceeded)})
	require.NoError(t, err)
	return run
}

// start runs a processor over the store, its scan bounded to limit rollouts.
func (e *endedStore) start(t *testing.T, limit int) *harness {
	ctx := context.Background()
	tel := componenttest.NewTelemetry()
	t.Cleanup(func() { require.NoError(t, tel.Shutdown(ctx)) })
	proc, err := NewFactory().CreateTraces(ctx, metadatatest.NewSettings(tel), slowConfig(), consumertest.NewNop())
	require.NoError(t, err)
	proc.(*tripletProcessor).resumeLimit = limit
	require.NoError(t, proc.Start(ctx, host{storeID: provider{s: e.core}}))
	t.Cleanup(func() { _ = proc.Shutdown(ctx) })
	return &harness{proc: proc, core: e.core, tel: tel}
}

// At start the processor builds the latest attempts of the finished
// rollouts started within resume_window that have no triplets: they ended
// while no processor followed the store (killed between the end and the
// build). Older rollouts, and attempts that have triplets, are left alone.
func TestResumeBuildsAttemptsThatEndedBeforeTheStart(t *testing.T) {
	ctx := context.Background()
	e := newEndedStore(t)
	old := e.ended(t, 2*time.Hour, true)         // outside the window
	built := e.ended(t, 20*time.Minute, true)    // has triplets already
	spanless := e.ended(t, 5*time.Minute, false) // nothing to build
	recent := e.ended(t, time.Minute, true)
	marker := []model.TripletRecord{{SpanID: "marker", Triplet: model.Triplet{Reward: model.Ptr(9.0)}}}
	require.NoError(t, e.core.ReplaceTriplets(ctx, built.rollout, built.attempt, store.NextRevision, marker))

	h := e.start(t, resumeLimit)
	got := h.waitStored(t, recent.rollout, recent.attempt, func(ts []model.TripletRecord) bool { return len(ts) == 2 })
	assert.Equal(t, 1, got[0].Revision)
	assert.Equal(t, []int64{1, 2, 100, 5}, tokenIDs(t, got[1].Triplet.Prompt))
	require.NotNil(t, got[1].Triplet.Reward)
	assert.Equal(t, 0.75, *got[1].Triplet.Reward)
	require.Eventually(t, func() bool { return unfollowedBuilds(t, h) == 2 }, 5*time.Second, 5*time.Millisecond,
		"the recent attempt and the spanless one (which writes nothing)")
	assert.Empty(t, h.stored(t, spanless.rollout, spanless.attempt))
	assert.Empty(t, h.stored(t, old.rollout, old.attempt), "started before resume_window")
	kept := h.stored(t, built.rollout, built.attempt)
	require.Len(t, kept, 1)
	assert.Equal(t, "marker", kept[0].SpanID, "triplets already stored are not rebuilt")
}

// The scan looks at the newest resumeLimit finished rollouts only.
func TestResumeIsBounded(t *testing.T) {
	e := newEndedStore(t)
	earlier := e.ended(t, 10*time.Minute, true)
	later := e.ended(t, time.Minute, true)
	h := e.start(t, 1)
	h.waitStored(t, later.rollout, later.attempt, func(ts []model.TripletRecord) bool { return len(ts) == 2 })
	require.Eventually(t, func() bool { return unfollowedBuilds(t, h) == 1 }, 5*time.Second, 5*time.Millisecond)
	assert.Empty(t, h.stored(t, earlier.rollout, earlier.attempt), "past the newest resumeLimit rollouts")
}
