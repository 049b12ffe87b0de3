package storetest

import (
	"context"
	"errors"
	"fmt"
	"sync"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/otelcol-lightning/otelcol-lightning/pkg/llmmodels"
	"github.com/otelcol-lightning/otelcol-lightning/pkg/model"
	"github.com/otelcol-lightning/otelcol-lightning/pkg/store"
)

// V1Store is the store as Agent Lightning v1.0's API uses it
// (store/core_v1.go); *store.Core implements it.
type V1Store interface {
	store.Store
	llmmodels.Registry
	CreateV1Rollouts(ctx context.Context, reqs []store.V1Create) ([]model.V1Rollout, error)
	V1Rollouts(ctx context.Context, states []string, limit int) ([]model.V1Rollout, error)
	V1Rollout(ctx context.Context, rolloutID string) (*model.V1Rollout, []string, error)
	PatchV1Rollout(ctx context.Context, rolloutID string, p store.V1StatusPatch) (*model.V1Rollout, error)
	DeleteRollout(ctx context.Context, rolloutID string) error
	V1Terminal(ctx context.Context, after, limit int) (model.V1TerminalPage, error)
	AddV1EventSpan(ctx context.Context, span model.Span) (*model.Span, error)
	V1EventSpans(ctx context.Context, rolloutID string) (*model.V1Rollout, []model.Span, error)
}

func toState(s string) store.V1StatusPatch {
	return store.V1StatusPatch{State: store.To(s)}
}

func (f *fixture) v1() V1Store {
	v, ok := f.s.(V1Store)
	if !ok {
		f.t.Skip("the store does not serve Agent Lightning v1.0")
	}
	return v
}

func v1Create(id string, input string) store.V1Create {
	var rid *string
	if id != "" {
		rid = &id
	}
	return store.V1Create{RolloutID: rid, Input: raw(input), IsTrain: true, Config: raw(`{"timeout_seconds":3600,"local":null,"k8s":null}`)}
}

// testV1 checks the records behind Agent Lightning v1.0's API.
func (s suite) testV1(t *testing.T) {
	t.Run("create is idempotent by rollout id", func(t *testing.T) {
		f := s.fresh(t)
		v := f.v1()
		out, err := v.CreateV1Rollouts(f.ctx, []store.V1Create{v1Create("r1", `{"data_id":"d1"}`), v1Create("r1", `{"other":1}`), v1Create("", `2`)})
		require.NoError(t, err)
		require.Len(t, out, 3)
		assert.Equal(t, out[0], out[1], "a repeated id within a batch returns the first")
		assert.JSONEq(t, `{"data_id":"d1"}`, string(out[1].Input))
		assert.Len(t, out[2].RolloutID, 32, "a new id is a uuid4 hex")
		_, err = v.PatchV1Rollout(f.ctx, "r1", toState(model.V1Running))
		require.NoError(t, err)
		again, err := v.CreateV1Rollouts(f.ctx, []store.V1Create{v1Create("r1", `{"changed":true}`)})
		require.NoError(t, err)
		assert.Equal(t, model.V1Running, again[0].Status.State, "the stored rollout comes back unchanged")
		assert.JSONEq(t, `{"data_id":"d1"}`, string(again[0].Input))
		assert.Equal(t, 2, again[0].Status.Version)
	})

	t.Run("transitions follow v1.0's guard", func(t *testing.T) {
		f := s.fresh(t)
		v := f.v1()
		cases := []struct {
			path []string
			ok   bool
		}{
			{[]string{"running", "succeeded"}, true},
			{[]string{"failed"}, true},
			{[]string{"running", "failed"}, true},
			{[]string{"succeeded"}, false},
			{[]string{"queuing"}, false},
			{[]string{"running", "running"}, false},
			{[]string{"running", "queuing"}, false},
			{[]string{"failed", "running"}, false},
			{[]string{"running", "succeeded", "failed"}, false},
		}
		for i, c := range cases {
			id := fmt.Sprintf("t%d", i)
			_, err := v.CreateV1Rollouts(f.ctx, []store.V1Create{v1Create(id, `null`)})
			require.NoError(t, err)
			var last error
			for _, st := range c.path {
				if _, last = v.PatchV1Rollout(f.ctx, id, toState(st)); last != nil {
					break
				}
			}
			var te *store.TransitionError
			if c.ok {
				assert.NoError(t, last, "%v", c.path)
			} else {
				assert.True(t, errors.As(last, &te), "%v: %v", c.path, last)
			}
		}
		_, err := v.PatchV1Rollout(f.ctx, "t0", store.V1StatusPatch{State: store.Clear[string]()})
		var te *store.TransitionError
		require.ErrorAs(t, err, &te)
		assert.Equal(t, "Rollout t0: cannot transition succeeded -> None", te.Message)
		_, err = v.PatchV1Rollout(f.ctx, "missing", toState("running"))
		assert.ErrorIs(t, err, store.ErrRolloutNotFound)
	})

	t.Run("version counts changes and an empty patch changes nothing", func(t *testing.T) {
		f := s.fresh(t)
		v := f.v1()
		_, err := v.CreateV1Rollouts(f.ctx, []store.V1Create{v1Create("r", `1`)})
		require.NoError(t, err)
		same, err := v.PatchV1Rollout(f.ctx, "r", store.V1StatusPatch{})
		require.NoError(t, err)
		assert.Equal(t, 1, same.Status.Version)
		got, err := v.PatchV1Rollout(f.ctx, "r", store.V1StatusPatch{State: store.To("running"), LastAttemptID: store.To("0"), K8sJobName: store.To("job")})
		require.NoError(t, err)
		assert.Equal(t, 2, got.Status.Version)
		assert.Equal(t, "0", *got.Status.LastAttemptID)
		got, err = v.PatchV1Rollout(f.ctx, "r", store.V1StatusPatch{K8sJobName: store.Clear[string]()})
		require.NoError(t, err)
		assert.Equal(t, 3, got.Status.Version)
		assert.Nil(t, got.Status.K8sJobName)
		got, err = v.PatchV1Rollout(f.ctx, "r", store.V1StatusPatch{State: store.To("succeeded")})
		require.NoError(t, err)
		got, err = v.PatchV1Rollout(f.ctx, "r", store.V1StatusPatch{ErrorMessage: store.To("late note")})
		require.NoError(t, err, "a terminal rollout still takes an error_message")
		assert.Equal(t, 5, got.Status.Version)

		// v0.3 cannot change a v1.0 rollout's state.
		_, err = f.s.UpdateRollout(f.ctx, "r", store.RolloutUpdate{Status: store.To(model.RolloutQueuing)})
		assert.Error(t, err)
		_, err = f.s.UpdateAttempt(f.ctx, "r", "0", store.AttemptUpdate{Status: store.To(model.AttemptFailed)})
		assert.Error(t, err)
		_, err = f.s.StartAttempt(f.ctx, "r", nil)
		assert.Error(t, err)
		_, err = f.s.UpdateRollout(f.ctx, "r", store.RolloutUpdate{Metadata: store.To(raw(`{"note":1}`))})
		assert.NoError(t, err, "its other fields are shared")

		// The v0.3 view: the same record with a synthetic attempt "0".
		r, err := f.s.GetRollout(f.ctx, "r")
		require.NoError(t, err)
		assert.Equal(t, model.RolloutSucceeded, r.Status)
		require.NotNil(t, r.Attempt)
		assert.Equal(t, "0", r.Attempt.AttemptID)
		assert.Equal(t, model.AttemptSucceeded, r.Attempt.Status)
	})

	t.Run("v0.3 rollouts are projected, never listed, and their state is not v1's to change", func(t *testing.T) {
		f := s.fresh(t)
		v := f.v1()
		rs, err := f.s.EnqueueRollouts(f.ctx, []model.EnqueueRolloutRequest{{Input: raw(`{"instance_id":"i7"}`)}})
		require.NoError(t, err)
		id := rs[0].RolloutID
		listed, err := v.V1Rollouts(f.ctx, []string{"queuing", "running"}, 50)
		require.NoError(t, err)
		assert.Empty(t, listed)
		got, _, err := v.V1Rollout(f.ctx, id)
		require.NoError(t, err)
		assert.Equal(t, "queuing", got.Status.State)
		_, err = v.PatchV1Rollout(f.ctx, id, toState("running"))
		var te *store.TransitionError
		assert.ErrorAs(t, err, &te)

		claimed, err := f.s.DequeueRollouts(f.ctx, 1, nil)
		require.NoError(t, err)
		got, _, err = v.V1Rollout(f.ctx, id)
		require.NoError(t, err)
		assert.Equal(t, "running", got.Status.State, "preparing shows as running")
		assert.Equal(t, claimed[0].Attempt.AttemptID, *got.Status.LastAttemptID)
		assert.Equal(t, 2, got.Status.Version)
		_, err = f.s.UpdateRollout(f.ctx, id, store.RolloutUpdate{Status: store.To(model.RolloutCancelled)})
		require.NoError(t, err)
		got, _, err = v.V1Rollout(f.ctx, id)
		require.NoError(t, err)
		assert.Equal(t, "failed", got.Status.State)
		assert.Equal(t, "cancelled", *got.Status.ErrorMessage)
		page, err := v.V1Terminal(f.ctx, 0, 10)
		require.NoError(t, err)
		require.Len(t, page.Items, 1)
		assert.Equal(t, model.V1TerminalItem{RolloutID: id, State: "failed", DataID: "i7", IsTrain: true}, page.Items[0])
	})

	t.Run("the completion cursor is append-only and survives deletes", func(t *testing.T) {
		f := s.fresh(t)
		v := f.v1()
		for i := range 5 {
			_, err := v.CreateV1Rollouts(f.ctx, []store.V1Create{v1Create(fmt.Sprintf("c%d", i), fmt.Sprintf(`{"data_id":"d%d"}`, i))})
			require.NoError(t, err)
		}
		// Completions out of creation order.
		for _, i := range []int{3, 0, 4} {
			_, err := v.PatchV1Rollout(f.ctx, fmt.Sprintf("c%d", i), toState("failed"))
			require.NoError(t, err)
		}
		page, err := v.V1Terminal(f.ctx, 0, 2)
		require.NoError(t, err)
		assert.Equal(t, 2, page.NextAfter)
		assert.Equal(t, 3, page.TotalTerminal)
		assert.Equal(t, []string{"c3", "c0"}, itemIDs(page))
		require.NoError(t, v.DeleteRollout(f.ctx, "c4"))
		require.NoError(t, v.DeleteRollout(f.ctx, "c4"), "deleting twice is fine")
		page, err = v.V1Terminal(f.ctx, 2, 10)
		require.NoError(t, err)
		assert.Empty(t, page.Items, "a deleted rollout leaves the page")
		assert.Equal(t, 3, page.NextAfter, "but still counts")
		page, err = v.V1Terminal(f.ctx, -5, 0)
		require.NoError(t, err)
		assert.Equal(t, []string{"c3"}, itemIDs(page), "after<0 is 0 and limit<1 is 1")
		_, _, err = v.V1Rollout(f.ctx, "c4")
		assert.ErrorIs(t, err, store.ErrRolloutNotFound)
	})

	t.Run("list keeps creation order and honours limit", func(t *testing.T) {
		f := s.fresh(t)
		v := f.v1()
		for i := range 4 {
			_, err := v.CreateV1Rollouts(f.ctx, []store.V1Create{v1Create(fmt.Sprintf("l%d", i), `0`)})
			require.NoError(t, err)
		}
		_, err := v.PatchV1Rollout(f.ctx, "l1", toState("running"))
		require.NoError(t, err)
		got, err := v.V1Rollouts(f.ctx, []string{"queuing"}, 2)
		require.NoError(t, err)
		assert.Equal(t, []string{"l0", "l2"}, v1IDs(got))
		got, err = v.V1Rollouts(f.ctx, []string{"queuing", "running"}, -1)
		require.NoError(t, err)
		assert.Equal(t, []string{"l0", "l1", "l2"}, v1IDs(got), "a negative limit drops from the end, as Python's [:limit]")
	})

	t.Run("events are spans of the attempt and models are durable records", func(t *testing.T) {
		f := s.fresh(t)
		v := f.v1()
		_, err := v.CreateV1Rollouts(f.ctx, []store.V1Create{v1Create("e", `0`)})
		require.NoError(t, err)
		ts := 5.0
		for i := range 2 {
			_, err := v.AddV1EventSpan(f.ctx, model.Span{RolloutID: "e", AttemptID: "0", TraceID: "t", SpanID: fmt.Sprintf("s%d", i),
				Name: "x", StartTime: &ts, Attributes: model.Attributes{}, Resource: model.OtelResource{Attributes: model.Attributes{}}})
			require.NoError(t, err)
		}
		_, spans, err := v.V1EventSpans(f.ctx, "e")
		require.NoError(t, err)
		require.Len(t, spans, 2)
		assert.Equal(t, []int{1, 2}, []int{spans[0].SequenceID, spans[1].SequenceID})
		_, attempts, err := v.V1Rollout(f.ctx, "e")
		require.NoError(t, err)
		assert.Equal(t, []string{"0"}, attempts)
		_, err = v.AddV1EventSpan(f.ctx, model.Span{RolloutID: "nope", AttemptID: "0", SpanID: "s"})
		assert.ErrorIs(t, err, store.ErrRolloutNotFound)

		require.NoError(t, v.UpsertModels(f.ctx, []llmmodels.Model{{Name: "m", Endpoint: "http://b/v1"}, {Name: "m", Endpoint: "http://a/v1", Version: 1}}))
		require.NoError(t, v.UpsertModels(f.ctx, []llmmodels.Model{{Name: "m", Endpoint: "http://b/v1", Version: 3}}))
		ms, err := v.Models(f.ctx)
		require.NoError(t, err)
		assert.Equal(t, []llmmodels.Model{{Name: "m", Endpoint: "http://a/v1", Version: 1}, {Name: "m", Endpoint: "http://b/v1", Version: 3}}, ms)
		require.NoError(t, v.DeleteModels(f.ctx))
		ms, err = v.Models(f.ctx)
		require.NoError(t, err)
		assert.Empty(t, ms)
	})

	t.Run("concurrent claims and completions", func(t *testing.T) {
		f := s.fresh(t)
		V1Concurrency(t, f.v1(), f.v1())
	})
}

// V1Concurrency checks what two gateways sharing one database must
// guarantee: of many concurrent queuing->running patches of one rollout
// exactly one wins, and concurrent completions get distinct, gap-free
// cursor positions. a and b may be two stores over the same database.
func V1Concurrency(t *testing.T, a, b V1Store) {
	ctx := context.Background()
	const n = 40
	reqs := make([]store.V1Create, n)
	for i := range reqs {
		reqs[i] = v1Create(fmt.Sprintf("cc-%02d", i), fmt.Sprintf(`{"data_id":"%d"}`, i))
	}
	_, err := a.CreateV1Rollouts(ctx, reqs)
	require.NoError(t, err)
	stores := []V1Store{a, b}

	// A client retrying a create through both gateways at once gets one
	// rollout per id.
	again := make([][]model.V1Rollout, 6)
	require.NoError(t, parallel(6, func(w int) error {
		retry := append([]store.V1Create{v1Create(fmt.Sprintf("dup-%d", w%2), `1`)}, reqs[:3]...)
		var err error
		again[w], err = stores[w%2].CreateV1Rollouts(ctx, retry)
		return err
	}))
	for w := range again {
		assert.Equal(t, again[w%2][0], again[w][0])
		assert.Equal(t, "queuing", again[w][1].Status.State)
	}
	listed, err := b.V1Rollouts(ctx, []string{"queuing"}, 1000)
	require.NoError(t, err)
	assert.Len(t, listed, n+2, "no id was created twice")

	// Eight claimers race for every rollout.
	var (
		mu   sync.Mutex
		wins = map[string]int{}
	)
	require.NoError(t, parallel(8, func(w int) error {
		for i := range n {
			id := *reqs[(i+w*5)%n].RolloutID
			_, err := stores[w%2].PatchV1Rollout(ctx, id, toState("running"))
			var te *store.TransitionError
			switch {
			case err == nil:
				mu.Lock()
				wins[id]++
				mu.Unlock()
			case !errors.As(err, &te):
				return err
			}
		}
		return nil
	}))
	require.Len(t, wins, n)
	for id, w := range wins {
		assert.Equal(t, 1, w, "rollout %s claimed %d times", id, w)
	}

	// Completions from both stores while a reader follows the cursor.
	var seen []string
	done := make(chan struct{})
	readErr := make(chan error, 1)
	go func() {
		after := 0
		for {
			// Whether the writers had finished before this read: only
			// then may an exhausted page end the reading.
			var finished bool
			select {
			case <-done:
				finished = true
			default:
			}
			page, err := b.V1Terminal(ctx, after, 7)
			if err != nil {
				readErr <- err
				return
			}
			for _, it := range page.Items {
				seen = append(seen, it.RolloutID)
			}
			after = page.NextAfter
			if finished && after >= page.TotalTerminal {
				readErr <- nil
				return
			}
		}
	}()
	require.NoError(t, parallel(4, func(w int) error {
		for i := w; i < n; i += 4 {
			if _, err := stores[w%2].PatchV1Rollout(ctx, *reqs[i].RolloutID, toState("succeeded")); err != nil {
				return err
			}
		}
		return nil
	}))
	close(done)
	require.NoError(t, <-readErr)
	assert.Len(t, seen, n, "the cursor reader saw every completion once")
	unique := map[string]bool{}
	for _, id := range seen {
		unique[id] = true
	}
	assert.Len(t, unique, n, "and none twice")
	page, err := a.V1Terminal(ctx, 0, 1000)
	require.NoError(t, err)
	assert.Equal(t, n, page.TotalTerminal)
	assert.Equal(t, n, page.NextAfter)
}

func itemIDs(p model.V1TerminalPage) []string {
	out := []string{}
	for _, it := range p.Items {
		out = append(out, it.RolloutID)
	}
	return out
}

func v1IDs(rs []model.V1Rollout) []string {
	out := []string{}
	for _, r := range rs {
		out = append(out, r.RolloutID)
	}
	return out
}
