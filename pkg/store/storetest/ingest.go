package storetest

import (
	"encoding/json"
	"errors"
	"fmt"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/otelcol-lightning/otelcol-lightning/pkg/model"
	"github.com/otelcol-lightning/otelcol-lightning/pkg/store"
)

func (f *fixture) ingest(items ...store.IngestItem) store.IngestResult {
	f.t.Helper()
	res, err := f.s.IngestSpans(f.ctx, items)
	require.NoError(f.t, err)
	return res
}

func item(sp model.Span) store.IngestItem { return store.IngestItem{Span: sp} }

func seqIDs(sps []model.Span) []int {
	out := make([]int, len(sps))
	for i, sp := range sps {
		out[i] = sp.SequenceID
	}
	return out
}

// testIngest covers IngestSpans, the batched OTLP path (spec §3.6: ids
// allocated in arrival order, unknown ids; fact 2 duplicates; fact 3
// heartbeats) and the collector's create-on-first-span option.
func (s suite) testIngest(t *testing.T) {
	t.Run("missing sequence ids are allocated in arrival order", func(t *testing.T) {
		f := s.fresh(t)
		r := f.startRollout(`{}`)
		aid := r.Attempt.AttemptID
		res := f.ingest(item(f.otelSpan(r.RolloutID, aid)), item(f.otelSpan(r.RolloutID, aid)), item(f.otelSpan(r.RolloutID, aid)))
		assert.Equal(t, []int{1, 2, 3}, seqIDs(res.Stored))
		assert.Zero(t, res.Duplicates)
		assert.Empty(t, res.Rejected)
		assert.Equal(t, []int{1, 2, 3}, seqIDs(f.spansOf(r.RolloutID)))
		assert.Equal(t, 4, f.nextSeq(r.RolloutID, aid))

		res = f.ingest(item(f.otelSpan(r.RolloutID, aid)))
		assert.Equal(t, []int{5}, seqIDs(res.Stored))
	})

	t.Run("explicit sequence ids are kept and raise the counter", func(t *testing.T) {
		f := s.fresh(t)
		r := f.startRollout(`{}`)
		aid := r.Attempt.AttemptID
		explicit := f.otelSpan(r.RolloutID, aid)
		explicit.SequenceID = 50
		res := f.ingest(item(explicit))
		assert.Equal(t, []int{50}, seqIDs(res.Stored))
		assert.Equal(t, 51, f.nextSeq(r.RolloutID, aid))

		mixed := f.otelSpan(r.RolloutID, aid)
		mixed.SequenceID = 100
		res = f.ingest(item(f.otelSpan(r.RolloutID, aid)), item(mixed), item(f.otelSpan(r.RolloutID, aid)))
		got := seqIDs(res.Stored)
		require.Len(t, got, 3)
		assert.Equal(t, 100, got[1])
		assert.NotEqual(t, got[0], got[2])
		for _, v := range []int{got[0], got[2]} {
			assert.Greater(t, v, 51, "allocated ids are never reused")
		}
		next := f.nextSeq(r.RolloutID, aid)
		assert.Greater(t, next, 100)
		assert.Greater(t, next, got[0])
		assert.Greater(t, next, got[2])
	})

	t.Run("counters are per rollout across a batch", func(t *testing.T) {
		f := s.fresh(t)
		r1 := f.startRollout(`{}`)
		r2 := f.startRollout(`{}`)
		a1, a2 := r1.Attempt.AttemptID, r2.Attempt.AttemptID
		res := f.ingest(item(f.otelSpan(r1.RolloutID, a1)), item(f.otelSpan(r2.RolloutID, a2)), item(f.otelSpan(r1.RolloutID, a1)))
		assert.Equal(t, []int{1, 1, 2}, seqIDs(res.Stored))
	})

	t.Run("unknown rollouts and attempts are rejected by index, the rest stored", func(t *testing.T) {
		f := s.fresh(t)
		r := f.startRollout(`{}`)
		aid := r.Attempt.AttemptID
		res := f.ingest(
			item(f.otelSpan(r.RolloutID, aid)),
			item(f.otelSpan("ro-unknown", "at-unknown")),
			item(f.otelSpan(r.RolloutID, aid)),
			item(f.otelSpan(r.RolloutID, "at-missing")),
		)
		assert.Len(t, res.Stored, 2)
		require.Len(t, res.Rejected, 2)
		assert.Equal(t, 1, res.Rejected[0].Index)
		assert.Equal(t, 3, res.Rejected[1].Index)
		requireValueError(t, res.Rejected[0].Err, "Rollout ro-unknown not found")
		requireValueError(t, res.Rejected[1].Err, fmt.Sprintf("Attempt at-missing not found for rollout %s", r.RolloutID))
		assert.Len(t, f.spansOf(r.RolloutID), 2)
		assert.Nil(t, f.getRollout("ro-unknown"), "nothing is created without create metadata")
	})

	t.Run("create metadata creates the missing rollout and attempt", func(t *testing.T) {
		f := s.fresh(t)
		f.advance(10)
		sp := f.otelSpan("ro-external01", "at-external")
		res := f.ingest(store.IngestItem{Span: sp, CreateMetadata: json.RawMessage(`{"source":"otlp"}`)})
		require.Len(t, res.Stored, 1)
		assert.Empty(t, res.Rejected)
		assert.Equal(t, 1, res.Stored[0].SequenceID)

		r := f.mustRollout("ro-external01")
		assert.Equal(t, model.RolloutRunning, r.Status)
		requireJSONEq(t, `{"source":"otlp"}`, r.Metadata)
		require.NotNil(t, r.Attempt)
		a := r.Attempt
		assert.Equal(t, "at-external", a.AttemptID)
		assert.Equal(t, 1, a.SequenceID)
		assert.Equal(t, model.AttemptRunning, a.Status)
		require.NotNil(t, a.LastHeartbeatTime)
		assert.InDelta(t, f.now(), *a.LastHeartbeatTime, 1e-6)

		again := f.ingest(store.IngestItem{Span: f.otelSpan("ro-external01", "at-external"), CreateMetadata: json.RawMessage(`{"source":"other"}`)})
		require.Len(t, again.Stored, 1)
		assert.Equal(t, 2, again.Stored[0].SequenceID)
		assert.Len(t, f.attempts("ro-external01"), 1, "an existing attempt is reused")
		requireJSONEq(t, `{"source":"otlp"}`, f.mustRollout("ro-external01").Metadata, "an existing rollout is not touched")
		assert.Len(t, f.spansOf("ro-external01"), 2)
	})

	t.Run("duplicates are counted, not stored", func(t *testing.T) {
		f := s.fresh(t)
		r := f.startRollout(`{}`)
		aid := r.Attempt.AttemptID
		a := seqSpan(r.RolloutID, aid, 1, "a")
		b := seqSpan(r.RolloutID, aid, 2, "b")
		res := f.ingest(item(a), item(a))
		assert.Len(t, res.Stored, 1)
		assert.Equal(t, 1, res.Duplicates)
		res = f.ingest(item(a), item(b))
		assert.Equal(t, []string{b.SpanID}, spanIDs(res.Stored))
		assert.Equal(t, 1, res.Duplicates)
		assert.Len(t, f.spansOf(r.RolloutID), 2)
	})

	t.Run("an ingested span is a heartbeat", func(t *testing.T) {
		f := s.fresh(t)
		r := f.enqueue(`{}`)
		d := f.dequeue()
		require.NotNil(t, d)
		f.advance(42)
		f.ingest(item(f.otelSpan(r.RolloutID, d.Attempt.AttemptID)))
		a := f.mustLatest(r.RolloutID)
		assert.Equal(t, model.AttemptRunning, a.Status)
		require.NotNil(t, a.LastHeartbeatTime)
		assert.InDelta(t, f.now(), *a.LastHeartbeatTime, 1e-6)
		assert.Equal(t, model.RolloutRunning, f.rolloutStatus(r.RolloutID))
	})

	t.Run("an ingested span round-trips unknown keys", func(t *testing.T) {
		f := s.fresh(t)
		r := f.startRollout(`{}`)
		sp, doc := extraSpan(t, r.RolloutID, r.Attempt.AttemptID, 9)
		res := f.ingest(item(sp))
		require.Len(t, res.Stored, 1)
		assert.JSONEq(t, doc, mustJSON(t, res.Stored[0]))
		stored := f.spansOf(r.RolloutID)
		require.Len(t, stored, 1)
		assert.JSONEq(t, doc, mustJSON(t, stored[0]))
	})

	t.Run("an empty batch does nothing", func(t *testing.T) {
		f := s.fresh(t)
		res, err := f.s.IngestSpans(f.ctx, nil)
		require.NoError(t, err)
		assert.Empty(t, res.Stored)
		assert.Empty(t, res.Rejected)
		assert.Zero(t, res.Duplicates)
	})

	t.Run("rejections are store errors", func(t *testing.T) {
		f := s.fresh(t)
		res := f.ingest(item(f.otelSpan("nope", "nope")))
		require.Len(t, res.Rejected, 1)
		var se *store.Error
		assert.True(t, errors.As(res.Rejected[0].Err, &se))
		assert.False(t, store.IsTransient(res.Rejected[0].Err), "an unknown id is not worth retrying")
	})
}
