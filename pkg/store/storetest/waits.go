package storetest

import (
	"context"
	"errors"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/otelcol-lightning/otelcol-lightning/pkg/model"
	"github.com/otelcol-lightning/otelcol-lightning/pkg/store"
)

type waitResult struct {
	rollouts []model.Rollout
	err      error
	elapsed  time.Duration
}

// waitAsync starts WaitForRollouts in a goroutine.
func (f *fixture) waitAsync(ctx context.Context, ids []string, timeout float64) <-chan waitResult {
	out := make(chan waitResult, 1)
	f.bg.Add(1)
	go func() {
		defer f.bg.Done()
		start := time.Now()
		rs, err := f.s.WaitForRollouts(ctx, ids, timeout)
		out <- waitResult{rs, err, time.Since(start)}
	}()
	return out
}

func (f *fixture) wait(ids []string, timeout float64) waitResult {
	f.t.Helper()
	return <-f.waitAsync(f.ctx, ids, timeout)
}

// finishAfter sets the rollout's status after d. The delay only orders the
// update after the waiter has started; the result does not depend on it.
func (f *fixture) finishAfter(d time.Duration, rolloutID string, status model.RolloutStatus) {
	f.bg.Add(1)
	go func() {
		defer f.bg.Done()
		time.Sleep(d)
		_, err := f.s.UpdateRollout(f.ctx, rolloutID, store.RolloutUpdate{Status: store.To(status)})
		if err != nil && f.ctx.Err() == nil {
			f.t.Errorf("finish %s: %v", rolloutID, err)
		}
	}()
}

func receive(t *testing.T, ch <-chan waitResult, within time.Duration) waitResult {
	t.Helper()
	select {
	case r := <-ch:
		return r
	case <-time.After(within):
		require.FailNow(t, "wait_for_rollouts did not return", "within %v", within)
		return waitResult{}
	}
}

// testWaits covers wait_for_rollouts on the real clock (spec §2.7, §6.4 row
// "waits"). The cases run in parallel to keep the group short.
func (s suite) testWaits(t *testing.T) {
	t.Run("returns the awaited rollouts once they finish", func(t *testing.T) {
		t.Parallel()
		f := s.realTime(t, store.Options{})
		r1 := f.enqueue(`{"id":1}`)
		r2 := f.enqueue(`{"id":2}`)
		f.enqueue(`{"id":3}`)
		ch := f.waitAsync(f.ctx, []string{r1.RolloutID, r2.RolloutID}, 5)
		f.finishAfter(10*time.Millisecond, r1.RolloutID, model.RolloutSucceeded)
		f.finishAfter(20*time.Millisecond, r2.RolloutID, model.RolloutFailed)
		res := receive(t, ch, 3*time.Second)
		require.NoError(t, res.err)
		assert.ElementsMatch(t, []string{r1.RolloutID, r2.RolloutID}, rolloutIDs(res.rollouts))
		statuses := map[model.RolloutStatus]bool{}
		for _, r := range res.rollouts {
			statuses[r.Status] = true
		}
		assert.Equal(t, map[model.RolloutStatus]bool{model.RolloutSucceeded: true, model.RolloutFailed: true}, statuses)
	})

	t.Run("times out with nothing finished", func(t *testing.T) {
		t.Parallel()
		f := s.realTime(t, store.Options{})
		r := f.enqueue(`{"test":"data"}`)
		res := f.wait([]string{r.RolloutID}, 0.1)
		require.NoError(t, res.err)
		assert.Empty(t, res.rollouts)
		assert.GreaterOrEqual(t, res.elapsed, 90*time.Millisecond, "waits until the deadline")
		assert.Less(t, res.elapsed, time.Second, "and not much longer")
	})

	t.Run("without a timeout waits until the rollout finishes", func(t *testing.T) {
		t.Parallel()
		// Only the change notification can wake the waiter within the bound.
		f := s.realTime(t, store.Options{WaitPollInterval: 10 * time.Second})
		r := f.enqueue(`{"test":"indefinite"}`)
		ch := f.waitAsync(f.ctx, []string{r.RolloutID}, -1)
		time.Sleep(100 * time.Millisecond)
		finished := time.Now()
		f.setRolloutStatus(r.RolloutID, model.RolloutSucceeded)
		res := receive(t, ch, 2*time.Second)
		require.NoError(t, res.err)
		require.Len(t, res.rollouts, 1)
		assert.Equal(t, r.RolloutID, res.rollouts[0].RolloutID)
		assert.Equal(t, model.RolloutSucceeded, res.rollouts[0].Status)
		assert.Less(t, time.Since(finished), 2*time.Second, "the waiter wakes up promptly")
	})

	t.Run("without a timeout can be cancelled", func(t *testing.T) {
		t.Parallel()
		f := s.realTime(t, store.Options{})
		r := f.enqueue(`{"test":"cancel"}`)
		ctx, cancel := context.WithCancel(f.ctx)
		defer cancel()
		ch := f.waitAsync(ctx, []string{r.RolloutID}, -1)
		time.Sleep(50 * time.Millisecond)
		cancel()
		res := receive(t, ch, time.Second)
		// Python raises CancelledError; a Go store may return ctx.Err() or
		// simply the (empty) finished set.
		if res.err != nil {
			assert.True(t, errors.Is(res.err, context.Canceled), "got %v", res.err)
		}
		assert.Empty(t, res.rollouts)
	})

	t.Run("a zero timeout returns at once", func(t *testing.T) {
		t.Parallel()
		// A poll interval far above the bound makes any needless wait show,
		// without a tight bound that a loaded machine could miss.
		f := s.realTime(t, store.Options{WaitPollInterval: 10 * time.Second})
		r := f.enqueue(`{"test":"zero"}`)
		res := f.wait([]string{r.RolloutID}, 0)
		require.NoError(t, res.err)
		assert.Empty(t, res.rollouts)
		assert.Less(t, res.elapsed, time.Second)
	})

	t.Run("finished rollouts are returned at once", func(t *testing.T) {
		t.Parallel()
		f := s.realTime(t, store.Options{WaitPollInterval: 10 * time.Second})
		done := f.enqueue(`{"test":"already_done"}`)
		cancelled := f.enqueue(`{"test":"cancelled"}`)
		f.setRolloutStatus(done.RolloutID, model.RolloutSucceeded)
		f.setRolloutStatus(cancelled.RolloutID, model.RolloutCancelled)
		for _, timeout := range []float64{10, 0} {
			res := f.wait([]string{done.RolloutID, cancelled.RolloutID}, timeout)
			require.NoError(t, res.err)
			assert.ElementsMatch(t, []string{done.RolloutID, cancelled.RolloutID}, rolloutIDs(res.rollouts))
			assert.Less(t, res.elapsed, time.Second)
		}
	})

	t.Run("collects rollouts that finish at different times", func(t *testing.T) {
		t.Parallel()
		f := s.realTime(t, store.Options{})
		r1 := f.enqueue(`{"id":1}`)
		r2 := f.enqueue(`{"id":2}`)
		r3 := f.enqueue(`{"id":3}`)
		ch := f.waitAsync(f.ctx, []string{r1.RolloutID, r2.RolloutID, r3.RolloutID}, 2)
		f.finishAfter(50*time.Millisecond, r2.RolloutID, model.RolloutSucceeded)
		f.finishAfter(100*time.Millisecond, r1.RolloutID, model.RolloutFailed)
		f.finishAfter(150*time.Millisecond, r3.RolloutID, model.RolloutSucceeded)
		res := receive(t, ch, 3*time.Second)
		require.NoError(t, res.err)
		assert.ElementsMatch(t, []string{r1.RolloutID, r2.RolloutID, r3.RolloutID}, rolloutIDs(res.rollouts))
		assert.Less(t, res.elapsed, time.Second, "returns when the last one finishes, not at the deadline")
	})

	t.Run("returns the finished part at the deadline", func(t *testing.T) {
		t.Parallel()
		f := s.realTime(t, store.Options{})
		r1 := f.enqueue(`{"id":1}`)
		r2 := f.enqueue(`{"id":2}`)
		r3 := f.enqueue(`{"id":3}`)
		ch := f.waitAsync(f.ctx, []string{r1.RolloutID, r2.RolloutID, r3.RolloutID}, 0.2)
		f.finishAfter(50*time.Millisecond, r1.RolloutID, model.RolloutSucceeded)
		res := receive(t, ch, 2*time.Second)
		require.NoError(t, res.err)
		assert.Equal(t, []string{r1.RolloutID}, rolloutIDs(res.rollouts))
	})

	t.Run("concurrent waiters all see the rollout", func(t *testing.T) {
		t.Parallel()
		f := s.realTime(t, store.Options{})
		r := f.enqueue(`{"test":"concurrent"}`)
		var chans []<-chan waitResult
		for range 5 {
			chans = append(chans, f.waitAsync(f.ctx, []string{r.RolloutID}, 2))
		}
		f.finishAfter(50*time.Millisecond, r.RolloutID, model.RolloutSucceeded)
		for _, ch := range chans {
			res := receive(t, ch, 3*time.Second)
			require.NoError(t, res.err)
			require.Len(t, res.rollouts, 1)
			assert.Equal(t, r.RolloutID, res.rollouts[0].RolloutID)
			assert.Equal(t, model.RolloutSucceeded, res.rollouts[0].Status)
		}
	})

	t.Run("unknown ids contribute nothing", func(t *testing.T) {
		t.Parallel()
		f := s.realTime(t, store.Options{})
		res := f.wait([]string{"nonexistent"}, 0.1)
		require.NoError(t, res.err)
		assert.Empty(t, res.rollouts)
		assert.Less(t, res.elapsed, time.Second)

		r1 := f.enqueue(`{"id":1}`)
		ch := f.waitAsync(f.ctx, []string{r1.RolloutID, "nonexistent1", "nonexistent2"}, 0.5)
		f.finishAfter(50*time.Millisecond, r1.RolloutID, model.RolloutSucceeded)
		res = receive(t, ch, 2*time.Second)
		require.NoError(t, res.err)
		assert.Equal(t, []string{r1.RolloutID}, rolloutIDs(res.rollouts))
	})

	t.Run("a running rollout is not finished", func(t *testing.T) {
		t.Parallel()
		f := s.realTime(t, store.Options{})
		r := f.startRollout(`{}`)
		f.setRolloutStatus(r.RolloutID, model.RolloutRunning)
		q := f.enqueue(`{}`)
		f.setRolloutStatus(q.RolloutID, model.RolloutRequeuing)
		res := f.wait([]string{r.RolloutID, q.RolloutID}, 0)
		require.NoError(t, res.err)
		assert.Empty(t, res.rollouts)
	})

	t.Run("a wait does not block other calls", func(t *testing.T) {
		t.Parallel()
		f := s.realTime(t, store.Options{})
		r := f.startRollout(`{}`)
		ch := f.waitAsync(f.ctx, []string{r.RolloutID}, 5)
		time.Sleep(20 * time.Millisecond)
		// Finishing through the attempt must get through while the waiter waits.
		f.setAttemptStatus(r.RolloutID, r.Attempt.AttemptID, model.AttemptSucceeded)
		res := receive(t, ch, 2*time.Second)
		require.NoError(t, res.err)
		assert.Equal(t, []string{r.RolloutID}, rolloutIDs(res.rollouts))
	})
}
