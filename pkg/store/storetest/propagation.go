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

// testPropagation covers how the latest attempt drives the rollout status
// (fact 4, §1.12, the rollout_status_from_attempt matrix of §6.9 and the
// §6.4 rows "propagation" and "recovery ...").
func (s suite) testPropagation(t *testing.T) {
	s.testStatusFromAttempt(t)

	t.Run("only the latest attempt drives the rollout", func(t *testing.T) {
		f := s.fresh(t)
		r := f.enqueue(`{"test":"propagation"}`)
		a1 := f.startAttempt(r.RolloutID)
		f.startAttempt(r.RolloutID)
		a3 := f.startAttempt(r.RolloutID)
		f.setAttemptStatus(r.RolloutID, a1.Attempt.AttemptID, model.AttemptSucceeded)
		assert.Equal(t, model.RolloutPreparing, f.rolloutStatus(r.RolloutID))
		f.setAttemptStatus(r.RolloutID, a3.Attempt.AttemptID, model.AttemptSucceeded)
		assert.Equal(t, model.RolloutSucceeded, f.rolloutStatus(r.RolloutID))
	})

	t.Run("retry applies only when the latest attempt fails", func(t *testing.T) {
		f := s.fresh(t)
		r := f.enqueue(`{"test":"retry"}`)
		f.setConfig(r.RolloutID, model.RolloutConfig{MaxAttempts: 3, RetryCondition: []model.AttemptStatus{model.AttemptFailed}})
		a1 := f.startAttempt(r.RolloutID)
		a2 := f.startAttempt(r.RolloutID)
		f.setAttemptStatus(r.RolloutID, a1.Attempt.AttemptID, model.AttemptFailed)
		assert.Equal(t, model.RolloutPreparing, f.rolloutStatus(r.RolloutID))
		f.setAttemptStatus(r.RolloutID, a2.Attempt.AttemptID, model.AttemptFailed)
		ro := f.mustRollout(r.RolloutID)
		assert.Equal(t, model.RolloutRequeuing, ro.Status)
		assert.Nil(t, ro.EndTime)
		d := f.dequeue()
		require.NotNil(t, d, "a requeuing rollout is back in the queue")
		assert.Equal(t, 3, d.Attempt.SequenceID)
	})

	t.Run("the latest attempt changes when a new attempt starts", func(t *testing.T) {
		f := s.fresh(t)
		r := f.enqueue(`{"test":"latest_changes"}`)
		a1 := f.startAttempt(r.RolloutID)
		f.setAttemptStatus(r.RolloutID, a1.Attempt.AttemptID, model.AttemptSucceeded)
		assert.Equal(t, model.RolloutSucceeded, f.rolloutStatus(r.RolloutID))
		a2 := f.startAttempt(r.RolloutID)
		f.setAttemptStatus(r.RolloutID, a1.Attempt.AttemptID, model.AttemptFailed)
		assert.Equal(t, model.RolloutPreparing, f.rolloutStatus(r.RolloutID))
		f.setAttemptStatus(r.RolloutID, a2.Attempt.AttemptID, model.AttemptFailed)
		assert.Equal(t, model.RolloutFailed, f.rolloutStatus(r.RolloutID))
	})

	t.Run("the latest selector propagates", func(t *testing.T) {
		f := s.fresh(t)
		r := f.enqueue(`{"test":"latest_ref"}`)
		f.startAttempt(r.RolloutID)
		f.startAttempt(r.RolloutID)
		a3 := f.startAttempt(r.RolloutID)
		got := f.setAttemptStatus(r.RolloutID, store.LatestAttempt, model.AttemptSucceeded)
		assert.Equal(t, a3.Attempt.AttemptID, got.AttemptID)
		assert.Equal(t, model.AttemptSucceeded, got.Status)
		assert.Equal(t, model.RolloutSucceeded, f.rolloutStatus(r.RolloutID))
	})

	t.Run("any update of the latest attempt recomputes the rollout status", func(t *testing.T) {
		f := s.fresh(t)
		r := f.startRollout(`{}`)
		f.setRolloutStatus(r.RolloutID, model.RolloutCancelled)
		f.updateAttempt(r.RolloutID, r.Attempt.AttemptID, store.AttemptUpdate{Metadata: store.To(json.RawMessage(`{"note":1}`))})
		assert.Equal(t, model.RolloutPreparing, f.rolloutStatus(r.RolloutID), "cancelled is overwritten (spec §1.12)")
	})

	t.Run("a requeued attempt that recovers leaves the queue", func(t *testing.T) {
		f := s.fresh(t)
		r := f.startRollout(`{"foo":"bar"}`)
		f.setConfig(r.RolloutID, retryUnresponsive())
		f.setAttemptStatus(r.RolloutID, r.Attempt.AttemptID, model.AttemptUnresponsive)
		assert.Equal(t, model.RolloutRequeuing, f.rolloutStatus(r.RolloutID))

		f.addOtelSpan(r.RolloutID, r.Attempt.AttemptID)
		latest := f.mustLatest(r.RolloutID)
		assert.Equal(t, r.Attempt.AttemptID, latest.AttemptID)
		assert.Equal(t, model.AttemptRunning, latest.Status)
		assert.Equal(t, model.RolloutRunning, f.rolloutStatus(r.RolloutID))
		assert.Nil(t, f.dequeue(), "the queued id is skipped")
	})

	for _, end := range []struct {
		attempt model.AttemptStatus
		rollout model.RolloutStatus
	}{
		{model.AttemptSucceeded, model.RolloutSucceeded},
		// failed is not in retry_condition [unresponsive]: no retry.
		{model.AttemptFailed, model.RolloutFailed},
	} {
		t.Run(fmt.Sprintf("a recovered attempt that ends %s needs no new attempt", end.attempt), func(t *testing.T) {
			f := s.fresh(t)
			r := f.startRollout(`{"foo":"bar"}`)
			f.setConfig(r.RolloutID, retryUnresponsive())
			f.setAttemptStatus(r.RolloutID, r.Attempt.AttemptID, model.AttemptUnresponsive)
			f.addOtelSpan(r.RolloutID, r.Attempt.AttemptID)
			f.setAttemptStatus(r.RolloutID, r.Attempt.AttemptID, end.attempt)
			assert.Equal(t, end.rollout, f.rolloutStatus(r.RolloutID))
			latest := f.mustLatest(r.RolloutID)
			assert.Equal(t, end.attempt, latest.Status)
			assert.NotNil(t, latest.EndTime)
			assert.Nil(t, f.dequeue())
		})
	}

	t.Run("spans of an old attempt do not disturb a retry", func(t *testing.T) {
		f := s.fresh(t)
		r := f.startRollout(`{"foo":"bar"}`)
		f.setConfig(r.RolloutID, retryUnresponsive())
		f.setAttemptStatus(r.RolloutID, r.Attempt.AttemptID, model.AttemptUnresponsive)
		retried := f.dequeue()
		require.NotNil(t, retried)
		assert.Equal(t, 2, retried.Attempt.SequenceID)

		f.addOtelSpan(r.RolloutID, r.Attempt.AttemptID)
		latest := f.mustLatest(r.RolloutID)
		assert.Equal(t, retried.Attempt.AttemptID, latest.AttemptID)
		assert.Equal(t, 2, latest.SequenceID)
		assert.Equal(t, model.AttemptRunning, f.attempts(r.RolloutID)[0].Status)
		assert.Equal(t, model.RolloutPreparing, f.rolloutStatus(r.RolloutID))
		assert.Nil(t, f.dequeue())
	})
}

func retryUnresponsive() model.RolloutConfig {
	return model.RolloutConfig{MaxAttempts: 2, RetryCondition: []model.AttemptStatus{model.AttemptUnresponsive}}
}

// testStatusFromAttempt mirrors Agent Lightning's rollout_status_from_attempt
// matrix (tests/store/test_utils.py) through update_attempt on the latest
// attempt.
func (s suite) testStatusFromAttempt(t *testing.T) {
	cases := []struct {
		status      model.AttemptStatus
		retry       bool
		sequenceID  int
		maxAttempts int
		want        model.RolloutStatus
	}{
		{model.AttemptPreparing, false, 1, 1, model.RolloutPreparing},
		{model.AttemptRunning, false, 1, 1, model.RolloutRunning},
		{model.AttemptSucceeded, false, 1, 1, model.RolloutSucceeded},
		{model.AttemptSucceeded, true, 1, 3, model.RolloutSucceeded},
		{model.AttemptFailed, true, 1, 3, model.RolloutRequeuing},
		{model.AttemptFailed, true, 3, 3, model.RolloutFailed},
		{model.AttemptFailed, false, 1, 3, model.RolloutFailed},
		{model.AttemptTimeout, true, 2, 3, model.RolloutRequeuing},
		{model.AttemptTimeout, false, 1, 3, model.RolloutFailed},
		{model.AttemptTimeout, true, 1, 1, model.RolloutFailed},
		{model.AttemptUnresponsive, true, 1, 2, model.RolloutRequeuing},
		{model.AttemptUnresponsive, false, 1, 2, model.RolloutFailed},
	}
	for _, c := range cases {
		name := fmt.Sprintf("latest attempt %s (retry %v, attempt %d of %d) makes the rollout %s",
			c.status, c.retry, c.sequenceID, c.maxAttempts, c.want)
		t.Run(name, func(t *testing.T) {
			f := s.fresh(t)
			cfg := model.RolloutConfig{MaxAttempts: c.maxAttempts, RetryCondition: []model.AttemptStatus{}}
			if c.retry {
				cfg.RetryCondition = []model.AttemptStatus{c.status}
			}
			r := f.enqueueWith(model.EnqueueRolloutRequest{Input: raw(`{}`), Config: &cfg})
			for range c.sequenceID {
				f.startAttempt(r.RolloutID)
			}
			f.advance(1)
			f.setAttemptStatus(r.RolloutID, store.LatestAttempt, c.status)
			got := f.mustRollout(r.RolloutID)
			assert.Equal(t, c.want, got.Status)
			if c.want.Finished() {
				require.NotNil(t, got.EndTime)
				assert.InDelta(t, f.now(), *got.EndTime, 1e-6)
			} else {
				assert.Nil(t, got.EndTime)
			}
			d := f.dequeue()
			if c.want == model.RolloutRequeuing {
				require.NotNil(t, d, "a requeuing rollout is queued")
				assert.Equal(t, c.sequenceID+1, d.Attempt.SequenceID)
			} else {
				assert.Nil(t, d)
			}
		})
	}
}
