package storetest

import (
	"fmt"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/otelcol-lightning/otelcol-lightning/pkg/model"
)

// testQueue covers the FIFO queue (fact 9, spec §2.3 dequeue, §6.4 rows
// "dequeue skips non-queuing" to "dequeue_many").
func (s suite) testQueue(t *testing.T) {
	t.Run("dequeue creates the next attempt and sets the rollout preparing", func(t *testing.T) {
		f := s.fresh(t)
		r := f.enqueue(`{"task":1}`)
		f.advance(3)
		d := f.dequeueBy("worker-1")
		require.NotNil(t, d)
		assert.Equal(t, r.RolloutID, d.RolloutID)
		assert.Equal(t, model.RolloutPreparing, d.Status)
		requireJSONEq(t, `{"task":1}`, d.Input)
		a := d.Attempt
		assert.Regexp(t, attemptIDPattern, a.AttemptID)
		assert.Equal(t, r.RolloutID, a.RolloutID)
		assert.Equal(t, 1, a.SequenceID)
		assert.Equal(t, model.AttemptPreparing, a.Status)
		assert.Equal(t, model.Ptr("worker-1"), a.WorkerID)
		assert.InDelta(t, f.now(), a.StartTime, 1e-6)
		assert.InDelta(t, r.StartTime, d.StartTime, 1e-6, "the rollout keeps its creation time")
		assert.Equal(t, model.RolloutPreparing, f.rolloutStatus(r.RolloutID))
	})

	t.Run("dequeue skips rollouts that are no longer queuing", func(t *testing.T) {
		f := s.fresh(t)
		r1 := f.enqueue(`{"id":1}`)
		r2 := f.enqueue(`{"id":2}`)
		r3 := f.enqueue(`{"id":3}`)
		f.setRolloutStatus(r1.RolloutID, model.RolloutSucceeded)
		f.setRolloutStatus(r2.RolloutID, model.RolloutFailed)

		d := f.dequeue()
		require.NotNil(t, d)
		assert.Equal(t, r3.RolloutID, d.RolloutID)
		assert.Equal(t, model.RolloutPreparing, d.Status)
		requireJSONEq(t, `{"id":3}`, d.Input)
		assert.Nil(t, f.dequeue())

		assert.Equal(t, model.RolloutSucceeded, f.rolloutStatus(r1.RolloutID))
		assert.Equal(t, model.RolloutFailed, f.rolloutStatus(r2.RolloutID))
		assert.Equal(t, model.RolloutPreparing, f.rolloutStatus(r3.RolloutID))
		assert.Empty(t, f.attempts(r1.RolloutID))
	})

	t.Run("dequeue is FIFO", func(t *testing.T) {
		f := s.fresh(t)
		var rs []model.Rollout
		for i := range 5 {
			rs = append(rs, f.enqueue(fmt.Sprintf(`{"order":%d}`, i)))
		}
		for i := range 5 {
			d := f.dequeue()
			require.NotNil(t, d)
			assert.Equal(t, rs[i].RolloutID, d.RolloutID)
			requireJSONEq(t, fmt.Sprintf(`{"order":%d}`, i), d.Input)
			assert.Equal(t, model.RolloutPreparing, d.Status)
		}
	})

	t.Run("dequeue on an empty queue returns nothing, repeatedly", func(t *testing.T) {
		f := s.fresh(t)
		for range 4 {
			assert.Nil(t, f.dequeue())
		}
	})

	t.Run("requeuing puts the rollout back for a second attempt", func(t *testing.T) {
		f := s.fresh(t)
		r := f.enqueue(`{"data":"test"}`)
		require.NotNil(t, f.dequeue())
		assert.Nil(t, f.dequeue())

		f.setRolloutStatus(r.RolloutID, model.RolloutRequeuing)
		d := f.dequeue()
		require.NotNil(t, d)
		assert.Equal(t, r.RolloutID, d.RolloutID)
		assert.Equal(t, model.RolloutPreparing, d.Status)
		assert.Equal(t, 2, d.Attempt.SequenceID)
		assert.Len(t, f.attempts(r.RolloutID), 2)
		latest := f.mustLatest(r.RolloutID)
		assert.Equal(t, model.AttemptPreparing, latest.Status)
		assert.Equal(t, 2, latest.SequenceID)
	})

	t.Run("a rollout sits in the queue at most once", func(t *testing.T) {
		f := s.fresh(t)
		r := f.enqueue(`{}`)
		f.setRolloutStatus(r.RolloutID, model.RolloutRequeuing)
		f.setRolloutStatus(r.RolloutID, model.RolloutQueuing)
		require.NotNil(t, f.dequeue())
		assert.Nil(t, f.dequeue())
		assert.Len(t, f.attempts(r.RolloutID), 1)
	})

	t.Run("a finished rollout can be queued again", func(t *testing.T) {
		f := s.fresh(t)
		r := f.startRollout(`{}`)
		f.setAttemptStatus(r.RolloutID, r.Attempt.AttemptID, model.AttemptSucceeded)
		require.Equal(t, model.RolloutSucceeded, f.rolloutStatus(r.RolloutID))
		f.setRolloutStatus(r.RolloutID, model.RolloutQueuing)
		d := f.dequeue()
		require.NotNil(t, d, "v0.3 has no transition guard")
		assert.Equal(t, 2, d.Attempt.SequenceID)
	})

	t.Run("start attempt does not touch the queue", func(t *testing.T) {
		f := s.fresh(t)
		r := f.enqueue(`{}`)
		f.startAttempt(r.RolloutID)
		assert.Nil(t, f.dequeue(), "the queued id is dropped because the rollout is preparing")
		assert.Len(t, f.attempts(r.RolloutID), 1)
	})

	t.Run("enqueue many then dequeue many honours the limit", func(t *testing.T) {
		f := s.fresh(t)
		var reqs []model.EnqueueRolloutRequest
		for i := range 4 {
			reqs = append(reqs, model.EnqueueRolloutRequest{Input: raw(fmt.Sprintf(`{"idx":%d}`, i))})
		}
		_, err := f.s.EnqueueRollouts(f.ctx, reqs)
		require.NoError(t, err)

		worker := "bulk-worker"
		first, err := f.s.DequeueRollouts(f.ctx, 2, &worker)
		require.NoError(t, err)
		require.Len(t, first, 2)
		for i, d := range first {
			requireJSONEq(t, fmt.Sprintf(`{"idx":%d}`, i), d.Input)
			require.NotNil(t, d.Attempt)
			assert.Equal(t, model.Ptr(worker), d.Attempt.WorkerID)
		}
		second, err := f.s.DequeueRollouts(f.ctx, 5, &worker)
		require.NoError(t, err)
		require.Len(t, second, 2)
		for i, d := range second {
			requireJSONEq(t, fmt.Sprintf(`{"idx":%d}`, i+2), d.Input)
		}
		none, err := f.s.DequeueRollouts(f.ctx, 1, nil)
		require.NoError(t, err)
		assert.Empty(t, none)
	})

	t.Run("dequeue many skips stale ids and still fills the limit", func(t *testing.T) {
		f := s.fresh(t)
		r1 := f.enqueue(`{"idx":1}`)
		r2 := f.enqueue(`{"idx":2}`)
		r3 := f.enqueue(`{"idx":3}`)
		f.setRolloutStatus(r1.RolloutID, model.RolloutCancelled)
		got, err := f.s.DequeueRollouts(f.ctx, 2, nil)
		require.NoError(t, err)
		assert.Equal(t, []string{r2.RolloutID, r3.RolloutID}, rolloutIDs(got))
	})

	t.Run("a limit of zero or less claims nothing", func(t *testing.T) {
		f := s.fresh(t)
		r := f.enqueue(`{}`)
		for _, limit := range []int{0, -1} {
			got, err := f.s.DequeueRollouts(f.ctx, limit, nil)
			require.NoError(t, err)
			assert.Empty(t, got)
		}
		d := f.dequeue()
		require.NotNil(t, d)
		assert.Equal(t, r.RolloutID, d.RolloutID)
	})

	t.Run("query attempts before any dequeue is empty", func(t *testing.T) {
		f := s.fresh(t)
		r := f.enqueue(`{"test":"data"}`)
		assert.Empty(t, f.attempts(r.RolloutID))
		assert.Nil(t, f.latest(r.RolloutID))
		p, err := f.s.QueryAttempts(f.ctx, attemptQuery("nonexistent"))
		require.NoError(t, err, "an unknown rollout gives an empty page")
		assert.Empty(t, p.Items)
		assert.Equal(t, 0, p.Total)

		require.NotNil(t, f.dequeue())
		as := f.attempts(r.RolloutID)
		require.Len(t, as, 1)
		assert.Equal(t, 1, as[0].SequenceID)
		assert.Equal(t, model.AttemptPreparing, as[0].Status)
		f.setRolloutStatus(r.RolloutID, model.RolloutRequeuing)
		require.NotNil(t, f.dequeue())
		as = f.attempts(r.RolloutID)
		require.Len(t, as, 2)
		assert.Equal(t, []int{1, 2}, []int{as[0].SequenceID, as[1].SequenceID})
		assert.Equal(t, 2, f.mustLatest(r.RolloutID).SequenceID)
	})
}
