package storetest

import (
	"encoding/json"
	"fmt"
	"regexp"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/otelcol-lightning/otelcol-lightning/pkg/model"
	"github.com/otelcol-lightning/otelcol-lightning/pkg/store"
)

// testRollouts covers rollout creation, reads and partial updates
// (spec §1.3, §2.3 enqueue/start/get/update, §6.4 rows "enqueue" to
// "config per rollout").
func (s suite) testRollouts(t *testing.T) {
	t.Run("enqueue creates a queuing rollout with the given fields", func(t *testing.T) {
		f := s.fresh(t)
		r := f.enqueueWith(model.EnqueueRolloutRequest{
			Input:       raw(`{"input":"test_data"}`),
			Mode:        model.Ptr(model.ModeTrain),
			ResourcesID: model.Ptr("res-123"), // not validated
			Metadata:    raw(`{"key":"value","number":42}`),
		})
		assert.Regexp(t, rolloutIDPattern, r.RolloutID)
		assert.Equal(t, model.RolloutQueuing, r.Status)
		requireJSONEq(t, `{"input":"test_data"}`, r.Input)
		require.NotNil(t, r.Mode)
		assert.Equal(t, model.ModeTrain, *r.Mode)
		assert.Equal(t, model.Ptr("res-123"), r.ResourcesID)
		requireJSONEq(t, `{"key":"value","number":42}`, r.Metadata)
		assert.InDelta(t, f.now(), r.StartTime, 1e-6)
		assert.Nil(t, r.EndTime)
		assert.Nil(t, r.Attempt, "an enqueued rollout has no attempt")
	})

	t.Run("enqueue without metadata or config stores {} and the default config", func(t *testing.T) {
		f := s.fresh(t)
		r := f.enqueue(`{"x":1}`)
		requireJSONEq(t, `{}`, r.Metadata)
		assert.Nil(t, r.Mode)
		assert.Nil(t, r.ResourcesID, "no resources exist yet")
		assert.Equal(t, mustJSON(t, model.DefaultRolloutConfig()), mustJSON(t, r.Config))
		stored := f.mustRollout(r.RolloutID)
		requireJSONEq(t, `{}`, stored.Metadata)
		assert.Equal(t, mustJSON(t, model.DefaultRolloutConfig()), mustJSON(t, stored.Config))
	})

	t.Run("enqueue with config stores it as given", func(t *testing.T) {
		f := s.fresh(t)
		cfg := model.RolloutConfig{TimeoutSeconds: model.Ptr(12.0), MaxAttempts: 3, RetryCondition: []model.AttemptStatus{model.AttemptTimeout}}
		r := f.enqueueWith(model.EnqueueRolloutRequest{Input: raw(`{"sample":true}`), Config: &cfg})
		assert.Equal(t, mustJSON(t, cfg), mustJSON(t, r.Config))
		assert.Equal(t, mustJSON(t, cfg), mustJSON(t, f.mustRollout(r.RolloutID).Config))
	})

	t.Run("enqueue many keeps order and applies each request", func(t *testing.T) {
		f := s.fresh(t)
		rs, err := f.s.EnqueueRollouts(f.ctx, []model.EnqueueRolloutRequest{
			{Input: raw(`{"idx":0}`), Metadata: raw(`{"batch":"a"}`)},
			{Input: raw(`{"idx":1}`), Mode: model.Ptr(model.ModeTrain)},
			{Input: raw(`{"idx":2}`), Config: &model.RolloutConfig{TimeoutSeconds: model.Ptr(3.5), MaxAttempts: 1, RetryCondition: []model.AttemptStatus{}}},
		})
		require.NoError(t, err)
		require.Len(t, rs, 3)
		for i, r := range rs {
			requireJSONEq(t, fmt.Sprintf(`{"idx":%d}`, i), r.Input)
			assert.Equal(t, model.RolloutQueuing, r.Status)
		}
		requireJSONEq(t, `{"batch":"a"}`, rs[0].Metadata)
		require.NotNil(t, rs[1].Mode)
		assert.Equal(t, model.ModeTrain, *rs[1].Mode)
		require.NotNil(t, rs[2].Config.TimeoutSeconds)
		assert.Equal(t, 3.5, *rs[2].Config.TimeoutSeconds)
		for i := range rs {
			d := f.dequeue()
			require.NotNil(t, d)
			assert.Equal(t, rs[i].RolloutID, d.RolloutID, "dequeued in enqueue order")
		}
	})

	t.Run("enqueue of an empty batch returns nothing", func(t *testing.T) {
		f := s.fresh(t)
		rs, err := f.s.EnqueueRollouts(f.ctx, nil)
		require.NoError(t, err)
		assert.Empty(t, rs)
		assert.Empty(t, f.allRollouts())
	})

	t.Run("start rollout creates a preparing rollout with attempt 1", func(t *testing.T) {
		f := s.fresh(t)
		r := f.startWith(store.StartRolloutRequest{Input: raw(`{"payload":"value"}`), Mode: model.Ptr(model.ModeVal), ResourcesID: model.Ptr("res-add")})
		assert.Regexp(t, rolloutIDPattern, r.RolloutID)
		assert.Equal(t, model.RolloutPreparing, r.Status)
		a := r.Attempt
		assert.Regexp(t, attemptIDPattern, a.AttemptID)
		assert.Equal(t, r.RolloutID, a.RolloutID)
		assert.Equal(t, 1, a.SequenceID)
		assert.Equal(t, model.AttemptPreparing, a.Status)
		assert.Nil(t, a.WorkerID)
		assert.Nil(t, a.EndTime)
		assert.Nil(t, a.LastHeartbeatTime)
		assert.InDelta(t, f.now(), r.StartTime, 1e-6)
		assert.InDelta(t, f.now(), a.StartTime, 1e-6)
		requireJSONEq(t, `{}`, r.Metadata)

		found := f.queryRollouts(byStatus(model.RolloutPreparing)).Items
		require.Len(t, found, 1)
		assert.Equal(t, r.RolloutID, found[0].RolloutID)
		assert.Equal(t, model.Ptr("res-add"), found[0].ResourcesID)

		as := f.attempts(r.RolloutID)
		require.Len(t, as, 1)
		assert.Equal(t, a.AttemptID, as[0].AttemptID)
		assert.Equal(t, a.AttemptID, f.mustLatest(r.RolloutID).AttemptID)
		assert.Nil(t, f.dequeue(), "a started rollout is not queued")
	})

	t.Run("start rollout stores its config", func(t *testing.T) {
		f := s.fresh(t)
		cfg := model.RolloutConfig{UnresponsiveSeconds: model.Ptr(5.0), MaxAttempts: 2, RetryCondition: []model.AttemptStatus{model.AttemptUnresponsive}}
		r := f.startWith(store.StartRolloutRequest{Input: raw(`{"payload":"value"}`), Config: &cfg})
		assert.Equal(t, mustJSON(t, cfg), mustJSON(t, r.Config))
		assert.Equal(t, mustJSON(t, cfg), mustJSON(t, f.mustRollout(r.RolloutID).Config))
	})

	t.Run("input and metadata JSON round-trip", func(t *testing.T) {
		f := s.fresh(t)
		inputs := []string{
			`{"question":"2+2?","nested":{"list":[1,2.5,"x",null,true,{"k":[]}]},"text":"é ✓ \"quoted\" \\ \n"}`,
			`"just a string"`,
			`[1,2,3]`,
			`42`,
		}
		meta := `{"tags":["a","b"],"score":0.25,"deep":{"n":null}}`
		for _, in := range inputs {
			r := f.enqueueWith(model.EnqueueRolloutRequest{Input: raw(in), Metadata: raw(meta)})
			requireJSONEq(t, in, r.Input)
			got := f.mustRollout(r.RolloutID)
			requireJSONEq(t, in, got.Input)
			requireJSONEq(t, meta, got.Metadata)
		}
	})

	t.Run("get rollout with attempts returns the latest attempt", func(t *testing.T) {
		f := s.fresh(t)
		r := f.startRollout(`{"foo":"bar"}`)
		second := f.startAttempt(r.RolloutID)
		got := f.mustRollout(r.RolloutID)
		require.NotNil(t, got.Attempt)
		assert.Equal(t, second.Attempt.AttemptID, got.Attempt.AttemptID)
		assert.Equal(t, 2, got.Attempt.SequenceID)
		assert.Equal(t, got.RolloutID, got.Attempt.RolloutID)
	})

	t.Run("get rollout without attempts returns a plain rollout", func(t *testing.T) {
		f := s.fresh(t)
		r := f.enqueue(`{"foo":"bar"}`)
		got := f.mustRollout(r.RolloutID)
		assert.Nil(t, got.Attempt)
		assert.NotContains(t, mustJSON(t, got), `"attempt"`)
	})

	t.Run("get rollout by id", func(t *testing.T) {
		f := s.fresh(t)
		assert.Nil(t, f.getRollout("nonexistent"))
		created := f.enqueueWith(model.EnqueueRolloutRequest{Input: raw(`{"test":"data"}`), Mode: model.Ptr(model.ModeTrain)})
		got := f.mustRollout(created.RolloutID)
		assert.Equal(t, mustJSON(t, created), mustJSON(t, got))
		f.setRolloutStatus(created.RolloutID, model.RolloutRunning)
		assert.Equal(t, model.RolloutRunning, f.rolloutStatus(created.RolloutID))
	})

	t.Run("update rollout changes every supplied field", func(t *testing.T) {
		f := s.fresh(t)
		r := f.enqueue(`{"test":"data"}`)
		cfg := model.RolloutConfig{
			TimeoutSeconds: model.Ptr(60.0), UnresponsiveSeconds: model.Ptr(30.0), MaxAttempts: 3,
			RetryCondition: []model.AttemptStatus{model.AttemptTimeout, model.AttemptUnresponsive},
		}
		updated := f.updateRollout(r.RolloutID, store.RolloutUpdate{
			Status:      store.To(model.RolloutRunning),
			Mode:        store.To(model.ModeTrain),
			ResourcesID: store.To("new-resources"),
			Config:      store.To(cfg),
			Metadata:    store.To(raw(`{"custom_field":"custom_value"}`)),
			Input:       store.To(raw(`{"replaced":true}`)),
		})
		for _, got := range []model.Rollout{*updated, f.allRollouts()[0]} {
			assert.Equal(t, model.RolloutRunning, got.Status)
			require.NotNil(t, got.Mode)
			assert.Equal(t, model.ModeTrain, *got.Mode)
			assert.Equal(t, model.Ptr("new-resources"), got.ResourcesID)
			assert.Equal(t, mustJSON(t, cfg), mustJSON(t, got.Config))
			requireJSONEq(t, `{"custom_field":"custom_value"}`, got.Metadata)
			requireJSONEq(t, `{"replaced":true}`, got.Input)
		}
	})

	t.Run("update rollout leaves absent fields alone and clears explicit nulls", func(t *testing.T) {
		f := s.fresh(t)
		r := f.enqueueWith(model.EnqueueRolloutRequest{
			Input: raw(`{"keep":1}`), Mode: model.Ptr(model.ModeTest), ResourcesID: model.Ptr("rs-x"), Metadata: raw(`{"m":1}`),
		})
		f.updateRollout(r.RolloutID, store.RolloutUpdate{Status: store.To(model.RolloutRunning)})
		got := f.mustRollout(r.RolloutID)
		requireJSONEq(t, `{"keep":1}`, got.Input)
		assert.Equal(t, model.Ptr(model.ModeTest), got.Mode)
		assert.Equal(t, model.Ptr("rs-x"), got.ResourcesID)
		requireJSONEq(t, `{"m":1}`, got.Metadata)

		f.updateRollout(r.RolloutID, store.RolloutUpdate{
			Input: store.Clear[json.RawMessage](), Mode: store.Clear[model.RolloutMode](),
			ResourcesID: store.Clear[string](), Metadata: store.Clear[json.RawMessage](),
		})
		got = f.mustRollout(r.RolloutID)
		requireJSONEq(t, `null`, got.Input)
		assert.Nil(t, got.Mode)
		assert.Nil(t, got.ResourcesID)
		requireJSONEq(t, `null`, got.Metadata)
		assert.Equal(t, model.RolloutRunning, got.Status)
	})

	t.Run("update rollout refuses a null or unknown status, config or mode", func(t *testing.T) {
		f := s.fresh(t)
		r := f.enqueue(`{}`)
		_, err := f.s.UpdateRollout(f.ctx, r.RolloutID, store.RolloutUpdate{Status: store.Clear[model.RolloutStatus]()})
		requireInvalidArgument(t, err, "status is invalid; it cannot be a null value.")
		_, err = f.s.UpdateRollout(f.ctx, r.RolloutID, store.RolloutUpdate{Config: store.Clear[model.RolloutConfig]()})
		requireInvalidArgument(t, err, "config is invalid; it cannot be a null value.")
		_, err = f.s.UpdateRollout(f.ctx, r.RolloutID, store.RolloutUpdate{Status: store.To(model.RolloutStatus("bogus"))})
		assert.ErrorContains(t, err, "bogus")
		_, err = f.s.UpdateRollout(f.ctx, r.RolloutID, store.RolloutUpdate{Mode: store.To(model.RolloutMode("bogus"))})
		assert.ErrorContains(t, err, "bogus")
		got := f.mustRollout(r.RolloutID)
		assert.Equal(t, model.RolloutQueuing, got.Status)
		assert.Equal(t, mustJSON(t, model.DefaultRolloutConfig()), mustJSON(t, got.Config))
		assert.Nil(t, got.Mode)
	})

	t.Run("update of an unknown rollout is a ValueError", func(t *testing.T) {
		f := s.fresh(t)
		_, err := f.s.UpdateRollout(f.ctx, "nonexistent", store.RolloutUpdate{Status: store.To(model.RolloutFailed)})
		requireValueError(t, err, "Item does not exist with primary key(s): rollout_id='nonexistent'")
		requireStoreError(t, err, "ValueError", regexp.MustCompile(`Item.*does not exist`))
	})

	t.Run("configs are stored per rollout", func(t *testing.T) {
		f := s.fresh(t)
		cfg1 := model.RolloutConfig{TimeoutSeconds: model.Ptr(30.0), UnresponsiveSeconds: model.Ptr(15.0), MaxAttempts: 2,
			RetryCondition: []model.AttemptStatus{model.AttemptTimeout, model.AttemptUnresponsive, model.AttemptFailed}}
		cfg2 := model.RolloutConfig{TimeoutSeconds: model.Ptr(120.0), MaxAttempts: 5, RetryCondition: []model.AttemptStatus{model.AttemptTimeout}}
		r1 := f.enqueue(`{"test":"retry"}`)
		f.setConfig(r1.RolloutID, cfg1)
		r2 := f.enqueue(`{"test":"different_config"}`)
		f.setConfig(r2.RolloutID, cfg2)
		assert.Equal(t, mustJSON(t, cfg1), mustJSON(t, f.mustRollout(r1.RolloutID).Config))
		assert.Equal(t, mustJSON(t, cfg2), mustJSON(t, f.mustRollout(r2.RolloutID).Config))
	})

	t.Run("a terminal status stamps end time every time it is set", func(t *testing.T) {
		f := s.fresh(t)
		r := f.enqueue(`{"test":"data"}`)
		assert.Nil(t, r.EndTime)
		for _, st := range []model.RolloutStatus{model.RolloutSucceeded, model.RolloutFailed, model.RolloutCancelled} {
			f.advance(1)
			f.setRolloutStatus(r.RolloutID, st)
			got := f.allRollouts()[0]
			assert.Equal(t, st, got.Status)
			require.NotNil(t, got.EndTime, st)
			assert.InDelta(t, f.now(), *got.EndTime, 1e-6, st)
			assert.Greater(t, *got.EndTime, got.StartTime)
		}
	})

	t.Run("a running status leaves end time unset", func(t *testing.T) {
		f := s.fresh(t)
		r := f.enqueue(`{}`)
		for _, st := range []model.RolloutStatus{model.RolloutPreparing, model.RolloutRunning, model.RolloutRequeuing} {
			assert.Nil(t, f.setRolloutStatus(r.RolloutID, st).EndTime, st)
		}
	})
}
