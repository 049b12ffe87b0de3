package storetest

import (
	"encoding/json"
	"fmt"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/otelcol-lightning/otelcol-lightning/pkg/model"
	"github.com/otelcol-lightning/otelcol-lightning/pkg/store"
)

// testAttempts covers start_attempt and update_attempt (spec §1.4, §2.3,
// §6.4 rows "attempt updates", "start_attempt", "errors", "retry lifecycle").
func (s suite) testAttempts(t *testing.T) {
	t.Run("start attempt on a queued rollout creates attempt 1", func(t *testing.T) {
		f := s.fresh(t)
		r := f.enqueue(`{"test":"data"}`)
		got := f.startAttempt(r.RolloutID)
		assert.Equal(t, r.RolloutID, got.RolloutID)
		assert.Equal(t, model.RolloutPreparing, got.Status)
		assert.Equal(t, 1, got.Attempt.SequenceID)
		assert.Equal(t, model.AttemptPreparing, got.Attempt.Status)
		assert.Equal(t, r.RolloutID, got.Attempt.RolloutID)
		assert.Regexp(t, attemptIDPattern, got.Attempt.AttemptID)
		as := f.attempts(r.RolloutID)
		require.Len(t, as, 1)
		assert.Equal(t, got.Attempt.AttemptID, as[0].AttemptID)
	})

	t.Run("start attempt increments the sequence id", func(t *testing.T) {
		f := s.fresh(t)
		r := f.enqueue(`{"test":"data"}`)
		require.NotNil(t, f.dequeue())
		assert.Equal(t, 2, f.startAttempt(r.RolloutID).Attempt.SequenceID)
		assert.Equal(t, 3, f.startAttempt(r.RolloutID).Attempt.SequenceID)
		as := f.attempts(r.RolloutID)
		require.Len(t, as, 3)
		ids := map[string]bool{}
		for i, a := range as {
			assert.Equal(t, i+1, a.SequenceID)
			ids[a.AttemptID] = true
		}
		assert.Len(t, ids, 3, "attempt ids are unique within a rollout")
	})

	t.Run("start attempt ignores max attempts", func(t *testing.T) {
		f := s.fresh(t)
		r := f.enqueue(`{"test":"data"}`)
		f.setConfig(r.RolloutID, model.RolloutConfig{MaxAttempts: 2, RetryCondition: []model.AttemptStatus{}})
		for want := 1; want <= 3; want++ {
			assert.Equal(t, want, f.startAttempt(r.RolloutID).Attempt.SequenceID)
		}
		assert.Len(t, f.attempts(r.RolloutID), 3)
	})

	t.Run("start attempt revives a finished rollout", func(t *testing.T) {
		f := s.fresh(t)
		r := f.enqueue(`{}`)
		f.setRolloutStatus(r.RolloutID, model.RolloutFailed)
		got := f.startAttempt(r.RolloutID)
		assert.Equal(t, model.RolloutPreparing, got.Status)
		assert.Equal(t, model.RolloutPreparing, f.rolloutStatus(r.RolloutID))
	})

	t.Run("start attempt on an unknown rollout is a ValueError", func(t *testing.T) {
		f := s.fresh(t)
		_, err := f.s.StartAttempt(f.ctx, "nonexistent", nil)
		requireValueError(t, err, "Rollout nonexistent not found")
		assert.Nil(t, f.latest("nonexistent"), "get_latest_attempt of an unknown rollout is null")
	})

	t.Run("update attempt sets every supplied field", func(t *testing.T) {
		f := s.fresh(t)
		r := f.enqueue(`{"test":"data"}`)
		d := f.dequeue()
		require.NotNil(t, d)
		hb := f.now() - 3
		updated := f.updateAttempt(r.RolloutID, d.Attempt.AttemptID, store.AttemptUpdate{
			Status:            store.To(model.AttemptRunning),
			WorkerID:          store.To("worker-123"),
			LastHeartbeatTime: store.To(hb),
			Metadata:          store.To(json.RawMessage(`{"custom":"value"}`)),
		})
		for _, a := range []model.Attempt{*updated, f.attempts(r.RolloutID)[0]} {
			assert.Equal(t, model.AttemptRunning, a.Status)
			assert.Equal(t, model.Ptr("worker-123"), a.WorkerID)
			require.NotNil(t, a.LastHeartbeatTime)
			assert.InDelta(t, hb, *a.LastHeartbeatTime, 1e-6)
			requireJSONEq(t, `{"custom":"value"}`, a.Metadata)
			assert.Nil(t, a.EndTime)
		}
	})

	t.Run("update attempt leaves absent fields alone", func(t *testing.T) {
		f := s.fresh(t)
		r := f.startWith(store.StartRolloutRequest{Input: raw(`{}`), WorkerID: model.Ptr("w")})
		f.updateAttempt(r.RolloutID, r.Attempt.AttemptID, store.AttemptUpdate{Metadata: store.To(json.RawMessage(`{"a":1}`))})
		a := f.mustLatest(r.RolloutID)
		assert.Equal(t, model.AttemptPreparing, a.Status)
		assert.Equal(t, model.Ptr("w"), a.WorkerID)
		requireJSONEq(t, `{"a":1}`, a.Metadata)
	})

	t.Run("update attempt refuses null values", func(t *testing.T) {
		f := s.fresh(t)
		r := f.startRollout(`{}`)
		aid := r.Attempt.AttemptID
		for name, u := range map[string]store.AttemptUpdate{
			"status":              {Status: store.Clear[model.AttemptStatus]()},
			"worker_id":           {WorkerID: store.Clear[string]()},
			"last_heartbeat_time": {LastHeartbeatTime: store.Clear[float64]()},
			"metadata":            {Metadata: store.Clear[json.RawMessage]()},
		} {
			_, err := f.s.UpdateAttempt(f.ctx, r.RolloutID, aid, u)
			requireInvalidArgument(t, err, name+" is invalid; it cannot be a null value.")
		}
		assert.Equal(t, model.AttemptPreparing, f.mustLatest(r.RolloutID).Status)
	})

	t.Run("update attempt with an unknown status is refused", func(t *testing.T) {
		f := s.fresh(t)
		r := f.startRollout(`{}`)
		_, err := f.s.UpdateAttempt(f.ctx, r.RolloutID, r.Attempt.AttemptID, store.AttemptUpdate{Status: store.To(model.AttemptStatus("invalid_status"))})
		assert.ErrorContains(t, err, "Invalid attempt status: invalid_status")
		assert.Equal(t, model.AttemptPreparing, f.mustLatest(r.RolloutID).Status)
		assert.Equal(t, model.RolloutPreparing, f.rolloutStatus(r.RolloutID))
	})

	t.Run("the latest selector updates the latest attempt and sets end time on success", func(t *testing.T) {
		f := s.fresh(t)
		r := f.enqueue(`{"test":"data"}`)
		require.NotNil(t, f.dequeue())
		f.advance(1)
		updated := f.setAttemptStatus(r.RolloutID, store.LatestAttempt, model.AttemptSucceeded)
		assert.Equal(t, model.AttemptSucceeded, updated.Status)
		require.NotNil(t, updated.EndTime)
		assert.InDelta(t, f.now(), *updated.EndTime, 1e-6)
	})

	t.Run("only failed and succeeded set the attempt end time", func(t *testing.T) {
		f := s.fresh(t)
		r := f.enqueue(`{"test":"data"}`)
		require.NotNil(t, f.dequeue())
		a := f.attempts(r.RolloutID)[0]
		assert.Nil(t, a.EndTime)
		for _, st := range []model.AttemptStatus{model.AttemptRunning, model.AttemptUnresponsive, model.AttemptTimeout, model.AttemptPreparing} {
			got := f.setAttemptStatus(r.RolloutID, a.AttemptID, st)
			assert.Equal(t, st, got.Status)
			assert.Nil(t, got.EndTime, st)
		}
		f.advance(2)
		failed := f.setAttemptStatus(r.RolloutID, a.AttemptID, model.AttemptFailed)
		require.NotNil(t, failed.EndTime)
		assert.GreaterOrEqual(t, *failed.EndTime, failed.StartTime)

		ro := f.mustRollout(r.RolloutID)
		assert.Equal(t, model.RolloutFailed, ro.Status)
		require.NotNil(t, ro.EndTime)
		assert.GreaterOrEqual(t, *ro.EndTime, *failed.EndTime)
	})

	t.Run("update attempt errors name what is missing", func(t *testing.T) {
		f := s.fresh(t)
		queued := f.enqueue(`{"test":"data"}`)
		_, err := f.s.UpdateAttempt(f.ctx, "nonexistent", "at-1", store.AttemptUpdate{Status: store.To(model.AttemptFailed)})
		requireValueError(t, err, "Rollout nonexistent not found")
		for _, aid := range []string{"nonexistent", store.LatestAttempt} {
			_, err = f.s.UpdateAttempt(f.ctx, queued.RolloutID, aid, store.AttemptUpdate{Status: store.To(model.AttemptFailed)})
			requireValueError(t, err, "No attempts found for rollout "+queued.RolloutID)
		}
		started := f.startRollout(`{}`)
		_, err = f.s.UpdateAttempt(f.ctx, started.RolloutID, "at-missing", store.AttemptUpdate{Status: store.To(model.AttemptFailed)})
		requireValueError(t, err, fmt.Sprintf("Attempt at-missing not found for rollout %s", started.RolloutID))
		assert.Equal(t, model.RolloutPreparing, f.rolloutStatus(started.RolloutID))
	})

	t.Run("retry lifecycle", func(t *testing.T) {
		f := s.fresh(t)
		r := f.enqueue(`{"test":"data"}`)
		first := f.dequeue()
		require.NotNil(t, first)
		assert.Equal(t, model.RolloutPreparing, first.Status)
		f.addOtelSpan(r.RolloutID, first.Attempt.AttemptID)
		assert.Equal(t, []string{r.RolloutID}, rolloutIDs(f.queryRollouts(byStatus(model.RolloutRunning)).Items))
		assert.Equal(t, model.AttemptRunning, f.attempts(r.RolloutID)[0].Status)

		failed := f.setAttemptStatus(r.RolloutID, first.Attempt.AttemptID, model.AttemptFailed)
		assert.NotNil(t, failed.EndTime)
		f.setRolloutStatus(r.RolloutID, model.RolloutRequeuing)
		assert.Equal(t, []model.AttemptStatus{model.AttemptFailed}, attemptStatuses(f.attempts(r.RolloutID)))

		retry := f.dequeue()
		require.NotNil(t, retry)
		assert.Equal(t, model.RolloutPreparing, retry.Status)
		assert.Equal(t, 2, retry.Attempt.SequenceID)
		latest := f.mustLatest(r.RolloutID)
		assert.Equal(t, 2, latest.SequenceID)
		assert.Equal(t, model.AttemptPreparing, latest.Status)

		f.addOtelSpan(r.RolloutID, retry.Attempt.AttemptID)
		assert.Equal(t, model.AttemptRunning, f.mustLatest(r.RolloutID).Status)

		f.setAttemptStatus(r.RolloutID, retry.Attempt.AttemptID, model.AttemptSucceeded)
		f.setRolloutStatus(r.RolloutID, model.RolloutSucceeded)
		assert.Equal(t, []string{r.RolloutID}, rolloutIDs(f.queryRollouts(byStatus(model.RolloutSucceeded)).Items))
		assert.Equal(t, []model.AttemptStatus{model.AttemptFailed, model.AttemptSucceeded}, attemptStatuses(f.attempts(r.RolloutID)))
	})

	t.Run("full lifecycle", func(t *testing.T) {
		f := s.fresh(t)
		r := f.enqueueWith(model.EnqueueRolloutRequest{Input: raw(`{"test":"data"}`), Mode: model.Ptr(model.ModeTrain)})
		assert.Equal(t, model.RolloutQueuing, r.Status)
		d := f.dequeue()
		require.NotNil(t, d)
		assert.Equal(t, model.RolloutPreparing, d.Status)
		as := f.attempts(r.RolloutID)
		require.Len(t, as, 1)
		assert.Equal(t, model.AttemptPreparing, as[0].Status)

		sp := f.addOtelSpan(r.RolloutID, as[0].AttemptID)
		assert.Equal(t, 1, sp.SequenceID)
		assert.Len(t, f.queryRollouts(byStatus(model.RolloutRunning)).Items, 1)
		as = f.attempts(r.RolloutID)
		assert.Equal(t, model.AttemptRunning, as[0].Status)
		assert.NotNil(t, as[0].LastHeartbeatTime)

		f.advance(1)
		f.setAttemptStatus(r.RolloutID, as[0].AttemptID, model.AttemptSucceeded)
		f.setRolloutStatus(r.RolloutID, model.RolloutSucceeded)
		final := f.allRollouts()[0]
		assert.Equal(t, model.RolloutSucceeded, final.Status)
		assert.NotNil(t, final.EndTime)
		a := f.mustLatest(r.RolloutID)
		assert.Equal(t, model.AttemptSucceeded, a.Status)
		assert.NotNil(t, a.EndTime)
	})
}
