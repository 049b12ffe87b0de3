package storetest

import (
	"fmt"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/otelcol-lightning/otelcol-lightning/pkg/model"
	"github.com/otelcol-lightning/otelcol-lightning/pkg/store"
)

func optFloat(v float64) *float64 {
	if v == 0 {
		return nil
	}
	return &v
}

// testWatchdog covers the unhealthy-rollout scan (spec §2.5, the
// scan_unhealthy_rollouts matrix of §6.9, §6.4 rows "watchdog ..." and
// "debounce"). Time moves on the fake clock, except for the ticker case.
func (s suite) testWatchdog(t *testing.T) {
	t.Run("a timed-out attempt is retried when the config allows it", func(t *testing.T) {
		f := s.fresh(t)
		r := f.enqueue(`{"test":"timeout"}`)
		f.setConfig(r.RolloutID, model.RolloutConfig{TimeoutSeconds: model.Ptr(0.1), MaxAttempts: 2, RetryCondition: []model.AttemptStatus{model.AttemptTimeout}})
		d := f.dequeue()
		require.NotNil(t, d)
		f.addOtelSpan(r.RolloutID, d.Attempt.AttemptID)
		assert.Len(t, f.queryRollouts(byStatus(model.RolloutRunning)).Items, 1)

		f.advance(0.15)
		as := f.attempts(r.RolloutID)
		require.Len(t, as, 1)
		assert.Equal(t, model.AttemptTimeout, as[0].Status)
		assert.Nil(t, as[0].EndTime, "timeout does not set the attempt end time")
		ro := f.mustRollout(r.RolloutID)
		assert.Equal(t, model.RolloutRequeuing, ro.Status)
		assert.Nil(t, ro.EndTime)
		retry := f.dequeue()
		require.NotNil(t, retry)
		assert.Equal(t, 2, retry.Attempt.SequenceID)
	})

	t.Run("an unresponsive attempt fails the rollout without a matching retry condition", func(t *testing.T) {
		f := s.fresh(t)
		r := f.enqueue(`{"test":"unresponsive"}`)
		f.setConfig(r.RolloutID, model.RolloutConfig{UnresponsiveSeconds: model.Ptr(0.2), MaxAttempts: 3, RetryCondition: []model.AttemptStatus{model.AttemptTimeout}})
		d := f.dequeue()
		require.NotNil(t, d)
		f.addOtelSpan(r.RolloutID, d.Attempt.AttemptID)
		running := f.attempts(r.RolloutID)[0]
		assert.Equal(t, model.AttemptRunning, running.Status)
		assert.NotNil(t, running.LastHeartbeatTime)

		f.advance(0.25)
		assert.Equal(t, model.AttemptUnresponsive, f.attempts(r.RolloutID)[0].Status)
		ro := f.mustRollout(r.RolloutID)
		assert.Equal(t, model.RolloutFailed, ro.Status)
		require.NotNil(t, ro.EndTime)
		assert.InDelta(t, f.now(), *ro.EndTime, 1e-6)
	})

	t.Run("a watchdog finding makes the worker unknown", func(t *testing.T) {
		f := s.fresh(t)
		r := f.enqueueWith(model.EnqueueRolloutRequest{Input: raw(`{"test":"healthcheck-worker"}`), Config: &model.RolloutConfig{
			UnresponsiveSeconds: model.Ptr(1.0), MaxAttempts: 1, RetryCondition: []model.AttemptStatus{},
		}})
		d := f.dequeueBy("worker-sync")
		require.NotNil(t, d)
		f.updateAttempt(r.RolloutID, d.Attempt.AttemptID, store.AttemptUpdate{WorkerID: store.To("worker-sync")})
		requireBusyWith(t, f.mustWorker("worker-sync"), r.RolloutID, d.Attempt.AttemptID)

		f.advance(5)
		f.getRollout(r.RolloutID) // any watched read triggers the scan
		w := f.mustWorker("worker-sync")
		assert.Equal(t, model.WorkerUnknown, w.Status)
		assert.Nil(t, w.CurrentRolloutID)
		assert.Nil(t, w.CurrentAttemptID)
		require.NotNil(t, w.LastIdleTime)
		assert.InDelta(t, f.now(), *w.LastIdleTime, 1e-6)
		assert.Equal(t, model.AttemptUnresponsive, f.attempts(r.RolloutID)[0].Status)
	})

	t.Run("an unresponsive attempt recovers with its next span", func(t *testing.T) {
		f := s.fresh(t)
		r := f.enqueueWith(model.EnqueueRolloutRequest{Input: raw(`{}`), Config: &model.RolloutConfig{
			UnresponsiveSeconds: model.Ptr(1.0), MaxAttempts: 2, RetryCondition: []model.AttemptStatus{model.AttemptUnresponsive},
		}})
		d := f.dequeue()
		require.NotNil(t, d)
		f.advance(2)
		assert.Equal(t, model.AttemptUnresponsive, f.mustLatest(r.RolloutID).Status)
		assert.Equal(t, model.RolloutRequeuing, f.rolloutStatus(r.RolloutID))
		f.addOtelSpan(r.RolloutID, d.Attempt.AttemptID)
		assert.Equal(t, model.AttemptRunning, f.mustLatest(r.RolloutID).Status)
		assert.Equal(t, model.RolloutRunning, f.rolloutStatus(r.RolloutID))
		assert.Nil(t, f.dequeue())
	})

	t.Run("rollouts with different timeouts", func(t *testing.T) {
		f := s.fresh(t)
		short := f.startWith(store.StartRolloutRequest{Input: raw(`{"test":1}`), Config: &model.RolloutConfig{TimeoutSeconds: model.Ptr(1.0), MaxAttempts: 1, RetryCondition: []model.AttemptStatus{}}})
		long := f.startWith(store.StartRolloutRequest{Input: raw(`{"test":2}`), Config: &model.RolloutConfig{TimeoutSeconds: model.Ptr(10.0), MaxAttempts: 1, RetryCondition: []model.AttemptStatus{}}})
		f.advance(2)
		assert.Equal(t, model.AttemptTimeout, f.mustLatest(short.RolloutID).Status)
		assert.Equal(t, model.AttemptPreparing, f.mustLatest(long.RolloutID).Status)
	})

	for _, c := range []struct {
		timeout, unresponsive float64 // 0 = not set
		want                  model.AttemptStatus
	}{
		{0, 0, model.AttemptPreparing},
		{0, 1, model.AttemptUnresponsive},
		{1, 0, model.AttemptTimeout},
		{0.5, 1, model.AttemptTimeout}, // timeout is checked first
		{2, 0.5, model.AttemptUnresponsive},
	} {
		name := fmt.Sprintf("timeout %v and unresponsive %v after 1.5 s without heartbeat gives %s", c.timeout, c.unresponsive, c.want)
		t.Run(name, func(t *testing.T) {
			f := s.fresh(t)
			r := f.startWith(store.StartRolloutRequest{Input: raw(`{}`), Config: &model.RolloutConfig{
				TimeoutSeconds: optFloat(c.timeout), UnresponsiveSeconds: optFloat(c.unresponsive), MaxAttempts: 1, RetryCondition: []model.AttemptStatus{},
			}})
			f.advance(1.5)
			assert.Equal(t, c.want, f.mustLatest(r.RolloutID).Status)
		})
	}

	t.Run("unresponsiveness is measured from the last heartbeat", func(t *testing.T) {
		f := s.fresh(t)
		cfg := model.RolloutConfig{UnresponsiveSeconds: model.Ptr(1.0), MaxAttempts: 1, RetryCondition: []model.AttemptStatus{}}
		recent := f.startWith(store.StartRolloutRequest{Input: raw(`{"test":1}`), Config: &cfg})
		old := f.startWith(store.StartRolloutRequest{Input: raw(`{"test":2}`), Config: &cfg})
		start := f.now()
		f.updateAttempt(recent.RolloutID, recent.Attempt.AttemptID, store.AttemptUpdate{LastHeartbeatTime: store.To(start + 4.5)})
		f.updateAttempt(old.RolloutID, old.Attempt.AttemptID, store.AttemptUpdate{LastHeartbeatTime: store.To(start + 3.0)})
		f.advance(5)
		assert.Equal(t, model.AttemptPreparing, f.mustLatest(recent.RolloutID).Status, "a recent heartbeat is fine")
		assert.Equal(t, model.AttemptUnresponsive, f.mustLatest(old.RolloutID).Status)
	})

	t.Run("a heartbeat span keeps the attempt alive", func(t *testing.T) {
		f := s.fresh(t)
		r := f.startWith(store.StartRolloutRequest{Input: raw(`{}`), Config: &model.RolloutConfig{UnresponsiveSeconds: model.Ptr(1.0), MaxAttempts: 1, RetryCondition: []model.AttemptStatus{}}})
		for range 5 {
			f.advance(0.8)
			require.NotEqual(t, model.AttemptUnresponsive, f.mustLatest(r.RolloutID).Status)
			f.addOtelSpan(r.RolloutID, r.Attempt.AttemptID)
		}
		assert.Equal(t, model.AttemptRunning, f.mustLatest(r.RolloutID).Status)
		f.advance(1.5)
		assert.Equal(t, model.AttemptUnresponsive, f.mustLatest(r.RolloutID).Status)
	})

	t.Run("rollouts without attempts or not active are skipped", func(t *testing.T) {
		f := s.fresh(t)
		cfg := model.RolloutConfig{TimeoutSeconds: model.Ptr(1.0), UnresponsiveSeconds: model.Ptr(1.0), MaxAttempts: 1, RetryCondition: []model.AttemptStatus{}}
		queued := f.enqueueWith(model.EnqueueRolloutRequest{Input: raw(`{}`), Config: &cfg})
		runningNoAttempt := f.enqueueWith(model.EnqueueRolloutRequest{Input: raw(`{}`), Config: &cfg})
		f.setRolloutStatus(runningNoAttempt.RolloutID, model.RolloutRunning)
		finished := f.startWith(store.StartRolloutRequest{Input: raw(`{}`), Config: &cfg})
		f.setRolloutStatus(finished.RolloutID, model.RolloutSucceeded)
		f.advance(10)
		assert.Equal(t, model.RolloutQueuing, f.rolloutStatus(queued.RolloutID))
		assert.Equal(t, model.RolloutRunning, f.rolloutStatus(runningNoAttempt.RolloutID))
		assert.Equal(t, model.RolloutSucceeded, f.rolloutStatus(finished.RolloutID))
		assert.Equal(t, model.AttemptPreparing, f.mustLatest(finished.RolloutID).Status)
	})

	t.Run("only the latest attempt is watched", func(t *testing.T) {
		f := s.fresh(t)
		r := f.startWith(store.StartRolloutRequest{Input: raw(`{}`), Config: &model.RolloutConfig{TimeoutSeconds: model.Ptr(5.0), MaxAttempts: 1, RetryCondition: []model.AttemptStatus{}}})
		f.advance(4)
		f.startAttempt(r.RolloutID)
		f.advance(2)
		as := f.attempts(r.RolloutID)
		assert.Equal(t, []model.AttemptStatus{model.AttemptPreparing, model.AttemptPreparing}, attemptStatuses(as))
	})

	t.Run("scans are debounced", func(t *testing.T) {
		f := s.freshWith(t, store.Options{ScanDebounce: 10 * time.Second})
		r := f.startWith(store.StartRolloutRequest{Input: raw(`{}`), Config: &model.RolloutConfig{UnresponsiveSeconds: model.Ptr(1.0), MaxAttempts: 1, RetryCondition: []model.AttemptStatus{}}})
		// The first scan ran before start_rollout; the next one may only run
		// once the debounce interval has passed.
		f.advance(9)
		assert.Equal(t, model.AttemptPreparing, f.mustLatest(r.RolloutID).Status)
		f.advance(1)
		assert.Equal(t, model.AttemptUnresponsive, f.mustLatest(r.RolloutID).Status)
	})

	t.Run("the ticker finds timeouts without traffic", func(t *testing.T) {
		t.Parallel()
		// Reads are debounced for an hour after the first scan, so only the
		// ticker can find the timeout.
		f := s.realTime(t, store.Options{ScanDebounce: time.Hour, ScanInterval: 20 * time.Millisecond})
		r := f.startWith(store.StartRolloutRequest{Input: raw(`{}`), WorkerID: model.Ptr("ticker-worker"),
			Config: &model.RolloutConfig{TimeoutSeconds: model.Ptr(0.1), MaxAttempts: 1, RetryCondition: []model.AttemptStatus{}}})
		eventually(t, 3*time.Second, func() bool {
			return f.mustLatest(r.RolloutID).Status == model.AttemptTimeout
		}, "the ticker to time the attempt out")
		assert.Equal(t, model.RolloutFailed, f.rolloutStatus(r.RolloutID))
		assert.Equal(t, model.WorkerUnknown, f.mustWorker("ticker-worker").Status)
	})
}
