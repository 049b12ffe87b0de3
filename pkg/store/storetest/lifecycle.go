package storetest

import (
	"errors"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/otelcol-lightning/otelcol-lightning/pkg/model"
	"github.com/otelcol-lightning/otelcol-lightning/pkg/store"
)

// testLifecycle covers Close and the isolation of returned values, which
// Agent Lightning gets from Pydantic copies and a Go store must do by hand.
func (s suite) testLifecycle(t *testing.T) {
	t.Run("close is idempotent and later calls fail with ErrClosed", func(t *testing.T) {
		f := s.fresh(t)
		r := f.startRollout(`{}`)
		require.NoError(t, f.s.Close())
		assert.NoError(t, f.s.Close())
		_, err := f.s.EnqueueRollouts(f.ctx, []model.EnqueueRolloutRequest{{Input: raw(`{}`)}})
		assert.True(t, errors.Is(err, store.ErrClosed), "enqueue: %v", err)
		_, err = f.s.QueryRollouts(f.ctx, rolloutQuery())
		assert.True(t, errors.Is(err, store.ErrClosed), "query: %v", err)
		_, err = f.s.AddSpan(f.ctx, seqSpan(r.RolloutID, r.Attempt.AttemptID, 1, "late"))
		assert.True(t, errors.Is(err, store.ErrClosed), "add span: %v", err)
	})

	t.Run("close releases waiters", func(t *testing.T) {
		t.Parallel()
		f := s.realTime(t, store.Options{})
		r := f.enqueue(`{}`)
		ch := f.waitAsync(f.ctx, []string{r.RolloutID}, -1)
		time.Sleep(20 * time.Millisecond)
		require.NoError(t, f.s.Close())
		res := receive(t, ch, 2*time.Second)
		assert.Empty(t, res.rollouts)
	})

	t.Run("returned values do not alias stored ones", func(t *testing.T) {
		f := s.fresh(t)
		cfg := model.RolloutConfig{MaxAttempts: 2, RetryCondition: []model.AttemptStatus{model.AttemptFailed}}
		req := model.EnqueueRolloutRequest{Input: raw(`{"a":1}`), Metadata: raw(`{"m":1}`), Config: &cfg}
		r := f.enqueueWith(req)
		// Scribble over everything the caller holds.
		copy(req.Input, `{"a":9}`)
		copy(req.Metadata, `{"m":9}`)
		cfg.RetryCondition[0] = model.AttemptTimeout
		copy(r.Input, `{"a":8}`)
		r.Config.RetryCondition[0] = model.AttemptUnresponsive

		got := f.mustRollout(r.RolloutID)
		requireJSONEq(t, `{"a":1}`, got.Input)
		requireJSONEq(t, `{"m":1}`, got.Metadata)
		assert.Equal(t, []model.AttemptStatus{model.AttemptFailed}, got.Config.RetryCondition)

		st := f.startRollout(`{}`)
		sp := seqSpan(st.RolloutID, st.Attempt.AttemptID, 1, "orig")
		sp.Attributes = model.Attributes{"k": "v"}
		added := f.addSpan(sp)
		sp.Attributes["k"] = "changed"
		added.Attributes["k"] = "changed too"
		q := f.spansOf(st.RolloutID)
		require.Len(t, q, 1)
		assert.Equal(t, "v", q[0].Attributes["k"])
		q[0].Attributes["k"] = "changed again"
		assert.Equal(t, "v", f.spansOf(st.RolloutID)[0].Attributes["k"])
	})
}
