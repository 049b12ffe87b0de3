package storetest

import (
	"encoding/json"
	"regexp"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/otelcol-lightning/otelcol-lightning/pkg/model"
	"github.com/otelcol-lightning/otelcol-lightning/pkg/store"
)

func (f *fixture) queryWorkers(q store.WorkerQuery) []string {
	f.t.Helper()
	p, err := f.s.QueryWorkers(f.ctx, q)
	require.NoError(f.t, err)
	out := make([]string, len(p.Items))
	for i, w := range p.Items {
		out[i] = w.WorkerID
	}
	return out
}

// assignAttempt starts a rollout and hands its attempt to workerID with the
// given status through update_attempt, as the query tests of §6.4 do.
func (f *fixture) assignAttempt(workerID string, status model.AttemptStatus) *model.Rollout {
	f.t.Helper()
	r := f.startRollout(`{}`)
	f.updateAttempt(r.RolloutID, r.Attempt.AttemptID, store.AttemptUpdate{WorkerID: store.To(workerID), Status: store.To(status)})
	return r
}

func requireBusyWith(t *testing.T, w *model.Worker, rolloutID, attemptID string) {
	t.Helper()
	require.NotNil(t, w)
	assert.Equal(t, model.WorkerBusy, w.Status)
	assert.Equal(t, model.Ptr(rolloutID), w.CurrentRolloutID)
	assert.Equal(t, model.Ptr(attemptID), w.CurrentAttemptID)
	assert.NotNil(t, w.LastBusyTime)
}

// testWorkers covers worker records and the attempt → worker sync (spec
// §1.7, §2.6, §6.4 rows "workers lifecycle" to "query_workers").
func (s suite) testWorkers(t *testing.T) {
	t.Run("worker lifecycle", func(t *testing.T) {
		f := s.fresh(t)
		first := f.heartbeat("worker-1", `{"cpu":0.5}`)
		assert.Equal(t, "worker-1", first.WorkerID)
		requireJSONEq(t, `{"cpu":0.5}`, first.HeartbeatStats)
		require.NotNil(t, first.LastHeartbeatTime)
		assert.InDelta(t, f.now(), *first.LastHeartbeatTime, 1e-6)
		assert.Equal(t, model.WorkerUnknown, first.Status)

		r := f.enqueue(`{"task":"work"}`)
		claimed := f.dequeueBy("worker-1")
		require.NotNil(t, claimed)
		assert.Equal(t, r.RolloutID, claimed.RolloutID)
		f.updateAttempt(claimed.RolloutID, claimed.Attempt.AttemptID, store.AttemptUpdate{WorkerID: store.To("worker-1")})
		busy := f.mustWorker("worker-1")
		requireBusyWith(t, busy, claimed.RolloutID, claimed.Attempt.AttemptID)
		assert.NotNil(t, busy.LastDequeueTime)

		f.advance(1)
		hb := f.heartbeat("worker-1", "")
		require.NotNil(t, hb.LastHeartbeatTime)
		assert.Greater(t, *hb.LastHeartbeatTime, *first.LastHeartbeatTime)
		requireJSONEq(t, `{"cpu":0.5}`, hb.HeartbeatStats, "stats are kept when none are sent")
		assert.Equal(t, model.WorkerBusy, hb.Status, "a heartbeat does not change the status")

		f.advance(1)
		f.setAttemptStatus(claimed.RolloutID, claimed.Attempt.AttemptID, model.AttemptSucceeded)
		idle := f.mustWorker("worker-1")
		assert.Equal(t, model.WorkerIdle, idle.Status)
		assert.Nil(t, idle.CurrentRolloutID)
		assert.Nil(t, idle.CurrentAttemptID)
		require.NotNil(t, idle.LastIdleTime)
		assert.InDelta(t, f.now(), *idle.LastIdleTime, 1e-6)

		assert.Contains(t, f.queryWorkers(workerQuery()), "worker-1")
		assert.Nil(t, f.worker("missing"))
	})

	t.Run("a null heartbeat stats value is refused", func(t *testing.T) {
		f := s.fresh(t)
		f.heartbeat("worker-1", `{"cpu":0.5}`)
		_, err := f.s.UpdateWorker(f.ctx, "worker-1", json.RawMessage(`null`))
		requireStoreError(t, err, "TypeError", regexp.MustCompile(`heartbeat_stats`))
		requireJSONEq(t, `{"cpu":0.5}`, f.mustWorker("worker-1").HeartbeatStats)
	})

	t.Run("attempt syncs keep heartbeat stats and time", func(t *testing.T) {
		f := s.fresh(t)
		const worker = "worker-sync-preserve"
		initial := f.heartbeat(worker, `{"cpu":0.42}`)
		require.NotNil(t, initial.LastHeartbeatTime)
		f.advance(1)
		r := f.startWith(store.StartRolloutRequest{Input: raw(`{"task":"preserve"}`), WorkerID: model.Ptr(worker)})
		busy := f.mustWorker(worker)
		requireJSONEq(t, `{"cpu":0.42}`, busy.HeartbeatStats)
		assert.Equal(t, initial.LastHeartbeatTime, busy.LastHeartbeatTime)
		f.advance(1)
		f.setAttemptStatus(r.RolloutID, r.Attempt.AttemptID, model.AttemptSucceeded)
		idle := f.mustWorker(worker)
		requireJSONEq(t, `{"cpu":0.42}`, idle.HeartbeatStats)
		assert.Equal(t, initial.LastHeartbeatTime, idle.LastHeartbeatTime)
	})

	t.Run("start rollout assigns the worker", func(t *testing.T) {
		f := s.fresh(t)
		r := f.startWith(store.StartRolloutRequest{Input: raw(`{"task":"direct"}`), WorkerID: model.Ptr("worker-direct")})
		assert.Equal(t, model.Ptr("worker-direct"), r.Attempt.WorkerID)
		w := f.mustWorker("worker-direct")
		requireBusyWith(t, w, r.RolloutID, r.Attempt.AttemptID)
		assert.Nil(t, w.LastDequeueTime, "only dequeues stamp the dequeue time")
	})

	t.Run("dequeue assigns the worker", func(t *testing.T) {
		f := s.fresh(t)
		f.enqueue(`{"task":"queued"}`)
		d := f.dequeueBy("worker-dequeue")
		require.NotNil(t, d)
		assert.Equal(t, model.Ptr("worker-dequeue"), d.Attempt.WorkerID)
		w := f.mustWorker("worker-dequeue")
		requireBusyWith(t, w, d.RolloutID, d.Attempt.AttemptID)
		require.NotNil(t, w.LastDequeueTime)
		assert.InDelta(t, f.now(), *w.LastDequeueTime, 1e-6)
	})

	t.Run("start attempt assigns the worker", func(t *testing.T) {
		f := s.fresh(t)
		initial := f.startRollout(`{"task":"retry-seed"}`)
		retry, err := f.s.StartAttempt(f.ctx, initial.RolloutID, model.Ptr("worker-retry"))
		require.NoError(t, err)
		require.NotNil(t, retry.Attempt)
		assert.Equal(t, 2, retry.Attempt.SequenceID)
		assert.Equal(t, model.Ptr("worker-retry"), retry.Attempt.WorkerID)
		requireBusyWith(t, f.mustWorker("worker-retry"), retry.RolloutID, retry.Attempt.AttemptID)
	})

	t.Run("dequeue many syncs the worker to the last claimed attempt", func(t *testing.T) {
		f := s.fresh(t)
		f.enqueue(`{}`)
		f.enqueue(`{}`)
		worker := "bulk"
		got, err := f.s.DequeueRollouts(f.ctx, 5, &worker)
		require.NoError(t, err)
		require.Len(t, got, 2)
		requireBusyWith(t, f.mustWorker(worker), got[1].RolloutID, got[1].Attempt.AttemptID)
	})

	t.Run("an empty dequeue marks the worker idle", func(t *testing.T) {
		f := s.fresh(t)
		assert.Nil(t, f.dequeueBy("w-empty"))
		w := f.mustWorker("w-empty")
		assert.Equal(t, model.WorkerIdle, w.Status)
		require.NotNil(t, w.LastIdleTime)
		require.NotNil(t, w.LastDequeueTime)
		assert.InDelta(t, f.now(), *w.LastIdleTime, 1e-6)
		assert.InDelta(t, f.now(), *w.LastDequeueTime, 1e-6)
		idleSince := *w.LastIdleTime

		f.advance(5)
		assert.Nil(t, f.dequeueBy("w-empty"))
		w = f.mustWorker("w-empty")
		assert.Equal(t, model.WorkerIdle, w.Status)
		assert.InDelta(t, idleSince, *w.LastIdleTime, 1e-6, "an idle worker keeps its idle time")
		assert.InDelta(t, f.now(), *w.LastDequeueTime, 1e-6)
	})

	t.Run("an empty dequeue by a busy worker marks it idle", func(t *testing.T) {
		f := s.fresh(t)
		f.enqueue(`{}`)
		require.NotNil(t, f.dequeueBy("w"))
		f.advance(2)
		assert.Nil(t, f.dequeueBy("w"))
		w := f.mustWorker("w")
		assert.Equal(t, model.WorkerIdle, w.Status)
		require.NotNil(t, w.LastIdleTime)
		assert.InDelta(t, f.now(), *w.LastIdleTime, 1e-6)
	})

	for _, c := range []struct {
		attempt model.AttemptStatus
		worker  model.WorkerStatus
	}{
		{model.AttemptRunning, model.WorkerBusy},
		{model.AttemptFailed, model.WorkerIdle},
		{model.AttemptSucceeded, model.WorkerIdle},
		{model.AttemptTimeout, model.WorkerUnknown},
		{model.AttemptUnresponsive, model.WorkerUnknown},
	} {
		t.Run("an attempt "+string(c.attempt)+" makes its worker "+string(c.worker), func(t *testing.T) {
			f := s.fresh(t)
			r := f.startWith(store.StartRolloutRequest{Input: raw(`{}`), WorkerID: model.Ptr("w")})
			f.advance(3)
			f.setAttemptStatus(r.RolloutID, r.Attempt.AttemptID, c.attempt)
			w := f.mustWorker("w")
			assert.Equal(t, c.worker, w.Status)
			if c.worker == model.WorkerBusy {
				requireBusyWith(t, w, r.RolloutID, r.Attempt.AttemptID)
				assert.InDelta(t, f.now(), *w.LastBusyTime, 1e-6)
				return
			}
			assert.Nil(t, w.CurrentRolloutID)
			assert.Nil(t, w.CurrentAttemptID)
			require.NotNil(t, w.LastIdleTime)
			assert.InDelta(t, f.now(), *w.LastIdleTime, 1e-6)
		})
	}

	t.Run("an update without status or worker does not sync the worker", func(t *testing.T) {
		f := s.fresh(t)
		r := f.startWith(store.StartRolloutRequest{Input: raw(`{}`), WorkerID: model.Ptr("w")})
		before := f.mustWorker("w")
		f.advance(3)
		f.updateAttempt(r.RolloutID, r.Attempt.AttemptID, store.AttemptUpdate{Metadata: store.To(json.RawMessage(`{"x":1}`))})
		assert.Equal(t, mustJSON(t, before), mustJSON(t, f.mustWorker("w")))
	})

	t.Run("attempts without a worker create no worker", func(t *testing.T) {
		f := s.fresh(t)
		r := f.startRollout(`{}`)
		f.setAttemptStatus(r.RolloutID, r.Attempt.AttemptID, model.AttemptSucceeded)
		assert.Empty(t, f.queryWorkers(workerQuery()))
	})

	t.Run("query workers filters, sorts and pages", func(t *testing.T) {
		f := s.fresh(t)
		f.heartbeat("alpha-worker", `{"cpu":0.2}`)
		f.heartbeat("beta-worker", `{"cpu":0.8}`)
		f.assignAttempt("alpha-worker", model.AttemptRunning)
		f.assignAttempt("beta-worker", model.AttemptSucceeded)

		q := workerQuery()
		q.StatusIn = []model.WorkerStatus{model.WorkerBusy}
		assert.Equal(t, []string{"alpha-worker"}, f.queryWorkers(q))

		q = workerQuery()
		q.WorkerIDContains = model.Ptr("beta")
		assert.Equal(t, []string{"beta-worker"}, f.queryWorkers(q))

		q = workerQuery()
		q.Page = sortedPage("worker_id", store.SortDesc, -1, 0)
		assert.Equal(t, []string{"beta-worker", "alpha-worker"}, f.queryWorkers(q))
		q.Page = sortedPage("worker_id", store.SortDesc, 1, 1)
		assert.Equal(t, []string{"alpha-worker"}, f.queryWorkers(q))

		q = workerQuery()
		q.StatusIn = []model.WorkerStatus{}
		assert.Empty(t, f.queryWorkers(q), "an empty status list matches nothing")
	})

	t.Run("query workers with or logic", func(t *testing.T) {
		f := s.fresh(t)
		f.heartbeat("cpu-worker", `{"cpu":0.1}`)
		f.assignAttempt("busy-worker", model.AttemptRunning)
		q := workerQuery()
		q.StatusIn = []model.WorkerStatus{model.WorkerBusy}
		q.WorkerIDContains = model.Ptr("cpu")
		assert.Empty(t, f.queryWorkers(q))
		q.FilterLogic = store.LogicOr
		q.Page = sortedPage("worker_id", store.SortAsc, -1, 0)
		assert.Equal(t, []string{"busy-worker", "cpu-worker"}, f.queryWorkers(q))
	})

	t.Run("query workers with and logic and sort", func(t *testing.T) {
		f := s.fresh(t)
		f.heartbeat("alpha-worker", `{"cpu":0.1}`)
		f.heartbeat("beta-worker", `{"cpu":0.1}`)
		f.assignAttempt("alpha-worker", model.AttemptRunning)
		f.assignAttempt("beta-worker", model.AttemptSucceeded)
		q := workerQuery()
		q.StatusIn = []model.WorkerStatus{model.WorkerBusy}
		q.WorkerIDContains = model.Ptr("alpha")
		q.Page = sortedPage("worker_id", store.SortAsc, 1, 0)
		assert.Equal(t, []string{"alpha-worker"}, f.queryWorkers(q))
	})

	t.Run("worker pagination metadata", func(t *testing.T) {
		f := s.fresh(t)
		for _, id := range []string{"worker-a", "worker-b", "worker-c"} {
			f.heartbeat(id, `{"cpu":0.1}`)
		}
		q := workerQuery()
		q.Page = sortedPage("worker_id", store.SortAsc, 1, 1)
		p, err := f.s.QueryWorkers(f.ctx, q)
		require.NoError(t, err)
		require.Len(t, p.Items, 1)
		assert.Equal(t, "worker-b", p.Items[0].WorkerID)
		assert.Equal(t, 1, p.Limit)
		assert.Equal(t, 1, p.Offset)
		assert.Equal(t, 3, p.Total)
	})
}
