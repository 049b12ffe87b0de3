package storetest

import (
	"fmt"
	"strings"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/otelcol-lightning/otelcol-lightning/pkg/model"
	"github.com/otelcol-lightning/otelcol-lightning/pkg/store"
)

// testBrowse checks the dashboard's rollout pages: every filter, both sort
// keys in both directions, keyset pages that neither skip nor repeat a
// rollout, the rollout reward taken from the triplets written last, and the
// reward curve against its Go definition.
func (s suite) testBrowse(t *testing.T) {
	f := s.fresh(t)
	b, ok := f.s.(store.Browser)
	if !ok {
		t.Skip("the store does not offer store.Browser")
	}
	modes := []model.RolloutMode{model.ModeTrain, model.ModeVal}
	rewards := map[string]float64{}
	var ids []string
	for i := range 25 {
		mode := modes[i%2]
		res := fmt.Sprintf("rs-%d", i%3)
		r := f.startWith(store.StartRolloutRequest{Input: raw(`{}`), Mode: &mode, ResourcesID: &res})
		ids = append(ids, r.RolloutID)
		f.advance(10)
		if i%5 == 4 {
			continue // no triplets, no reward
		}
		first := 0.5
		last := float64(i) / 10
		// The rollout's reward is the last non-null one of its triplets.
		f.replaceTriplets(r.RolloutID, r.Attempt.AttemptID, store.NextRevision,
			tripletRecord(r.RolloutID, r.Attempt.AttemptID, 0, 1, &first),
			tripletRecord(r.RolloutID, r.Attempt.AttemptID, 1, 1, &last),
			tripletRecord(r.RolloutID, r.Attempt.AttemptID, 2, 1, nil))
		rewards[r.RolloutID] = last
	}
	// Rewriting the triplets moves the reward with them.
	moved := 7.5
	rid := ids[3]
	latest, err := f.s.GetLatestAttempt(f.ctx, rid)
	require.NoError(t, err)
	f.replaceTriplets(rid, latest.AttemptID, store.NextRevision, tripletRecord(rid, latest.AttemptID, 0, 2, &moved))
	rewards[rid] = moved
	succeeded := model.RolloutSucceeded
	for _, id := range ids[:6] {
		_, err := f.s.UpdateRollout(f.ctx, id, store.RolloutUpdate{Status: store.To(succeeded)})
		require.NoError(t, err)
	}

	all := func(q store.BrowseQuery) []store.BrowseRow {
		t.Helper()
		var out []store.BrowseRow
		for pages := 0; ; pages++ {
			require.Less(t, pages, 100)
			page, err := b.BrowseRollouts(f.ctx, q)
			require.NoError(t, err)
			require.LessOrEqual(t, len(page.Items), q.Limit)
			out = append(out, page.Items...)
			if page.Next == "" {
				return out
			}
			q.After = page.Next
		}
	}
	idsOf := func(rows []store.BrowseRow) []string {
		out := []string{}
		for _, r := range rows {
			out = append(out, r.Rollout.RolloutID)
			if want, ok := rewards[r.Rollout.RolloutID]; ok {
				require.NotNil(t, r.Reward, r.Rollout.RolloutID)
				assert.InDelta(t, want, *r.Reward, 1e-9, r.Rollout.RolloutID)
			} else {
				assert.Nil(t, r.Reward, r.Rollout.RolloutID)
			}
			assert.NotNil(t, r.Rollout.Attempt, "latest attempt attached")
		}
		return out
	}
	reversed := func(in []string) []string {
		out := make([]string, len(in))
		for i, v := range in {
			out[len(in)-1-i] = v
		}
		return out
	}

	// Start time, both directions, in pages of 4.
	assert.Equal(t, ids, idsOf(all(store.BrowseQuery{Limit: 4})))
	assert.Equal(t, reversed(ids), idsOf(all(store.BrowseQuery{Limit: 4, Desc: true})))

	// Filters.
	var want []string
	for i, id := range ids {
		if i%2 == 1 && i%3 == 1 && i >= 4 && i < 20 {
			want = append(want, id)
		}
	}
	q := store.BrowseQuery{Limit: 2, Mode: string(model.ModeVal), ResourcesID: "rs-1",
		StartedAfter: f.now() - 250 + 40, StartedBefore: f.now() - 250 + 200}
	assert.Equal(t, want, idsOf(all(q)))
	assert.Equal(t, ids[:6], idsOf(all(store.BrowseQuery{Limit: 5, Status: []model.RolloutStatus{succeeded}})))
	assert.Empty(t, idsOf(all(store.BrowseQuery{Limit: 5, Status: []model.RolloutStatus{}})))
	assert.Equal(t, []string{ids[1]}, idsOf(all(store.BrowseQuery{Limit: 5, IDPrefix: ids[1]})))
	var prefixed []string
	for _, id := range ids {
		if strings.HasPrefix(id, ids[1][:4]) {
			prefixed = append(prefixed, id)
		}
	}
	assert.Equal(t, prefixed, idsOf(all(store.BrowseQuery{Limit: 2, IDPrefix: ids[1][:4]})))

	// Reward range and reward order (rollouts without a reward left out).
	lo, hi := 0.5, 1.6
	want = nil
	for _, id := range ids {
		if v, ok := rewards[id]; ok && v >= lo && v <= hi {
			want = append(want, id)
		}
	}
	assert.Equal(t, want, idsOf(all(store.BrowseQuery{Limit: 3, MinReward: &lo, MaxReward: &hi})))
	byReward := idsOf(all(store.BrowseQuery{Limit: 3, SortBy: store.BrowseByReward, Desc: true}))
	require.Len(t, byReward, len(rewards))
	for i := 1; i < len(byReward); i++ {
		assert.GreaterOrEqual(t, rewards[byReward[i-1]], rewards[byReward[i]])
	}
	assert.Equal(t, rid, byReward[0])

	// Bad input is refused, not guessed at.
	for _, bad := range []store.BrowseQuery{{Limit: 0}, {Limit: 5, SortBy: "input"}, {Limit: 5, After: "!!"}} {
		_, err := b.BrowseRollouts(f.ctx, bad)
		var invalid *store.InvalidArgumentError
		assert.ErrorAs(t, err, &invalid, "%+v", bad)
	}

	// Counts and the reward curve.
	counts, err := b.RolloutStatusCounts(f.ctx)
	require.NoError(t, err)
	total := 0
	for _, n := range counts {
		total += n
	}
	assert.Equal(t, len(ids), total)
	assert.Equal(t, 6, counts[string(succeeded)])
	curve, err := b.RewardCurve(f.ctx, 60)
	require.NoError(t, err)
	wantCurve := store.CurveOf(all(store.BrowseQuery{Limit: 1000}), 60)
	require.Len(t, curve, len(wantCurve))
	for i := range curve {
		assert.Equal(t, wantCurve[i].Bucket, curve[i].Bucket)
		assert.Equal(t, wantCurve[i].ResourcesID, curve[i].ResourcesID)
		assert.Equal(t, wantCurve[i].Count, curve[i].Count)
		assert.InDelta(t, wantCurve[i].Mean, curve[i].Mean, 1e-9)
	}
}
