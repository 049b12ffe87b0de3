package storetest

import (
	"fmt"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/otelcol-lightning/otelcol-lightning/pkg/model"
	"github.com/otelcol-lightning/otelcol-lightning/pkg/store"
)

func tripletRecord(rolloutID, attemptID string, index, revision int, reward *float64) model.TripletRecord {
	return model.TripletRecord{
		RolloutID: rolloutID, AttemptID: attemptID, Index: index, Revision: revision,
		SpanID: fmt.Sprintf("span-%d", index),
		Triplet: model.Triplet{
			Prompt:   raw(fmt.Sprintf(`{"token_ids":[1,2,%d],"raw_content":[{"role":"user","content":"q%d"}],"image_urls":[]}`, index, index)),
			Response: raw(fmt.Sprintf(`{"token_ids":[%d,4],"raw_content":[{"role":"assistant","content":"a"}],"logprobs":[-0.5,-0.25]}`, revision)),
			Reward:   reward,
			Metadata: raw(`{"response_id":"resp-1","agent_name":"agent"}`),
		},
	}
}

func (f *fixture) triplets(rolloutID, attemptID string) []model.TripletRecord {
	f.t.Helper()
	ts, err := f.s.QueryTriplets(f.ctx, rolloutID, attemptID)
	require.NoError(f.t, err)
	return ts
}

func (f *fixture) replaceTriplets(rolloutID, attemptID string, revision int, ts ...model.TripletRecord) {
	f.t.Helper()
	require.NoError(f.t, f.s.ReplaceTriplets(f.ctx, rolloutID, attemptID, revision, ts))
}

func tripletRevisions(ts []model.TripletRecord) []int {
	out := make([]int, len(ts))
	for i, tr := range ts {
		out[i] = tr.Revision
	}
	return out
}

func message(rolloutID, attemptID string, seq int) model.MessageRecord {
	return model.MessageRecord{
		RolloutID: rolloutID, AttemptID: attemptID, TraceID: hexID(1, 32), SpanID: hexID(seq, 16), SequenceID: seq,
		Body:       raw(fmt.Sprintf(`{"messages":[{"role":"user","content":"m%d"}],"tools":null,"completion":{"role":"assistant","content":"ok"}}`, seq)),
		Attributes: raw(`{"gen_ai.request.model":"m","n":1}`),
	}
}

// testTriplets covers the collector's triplet and message tables: triplets
// are replaced per attempt by revision, messages append in sequence order.
func (s suite) testTriplets(t *testing.T) {
	t.Run("triplets come back ordered by index, JSON intact", func(t *testing.T) {
		f := s.fresh(t)
		r := f.startRollout(`{}`)
		rid, aid := r.RolloutID, r.Attempt.AttemptID
		in := []model.TripletRecord{
			tripletRecord(rid, aid, 2, 1, model.Ptr(1.0)),
			tripletRecord(rid, aid, 0, 1, nil),
			tripletRecord(rid, aid, 1, 1, model.Ptr(-0.5)),
		}
		f.replaceTriplets(rid, aid, 1, in...)
		got := f.triplets(rid, aid)
		require.Len(t, got, 3)
		for i, tr := range got {
			assert.Equal(t, i, tr.Index)
		}
		assert.JSONEq(t, mustJSON(t, in[1]), mustJSON(t, got[0]))
		assert.JSONEq(t, mustJSON(t, in[2]), mustJSON(t, got[1]))
		assert.JSONEq(t, mustJSON(t, in[0]), mustJSON(t, got[2]))
	})

	t.Run("a newer or equal revision replaces, an older one is ignored", func(t *testing.T) {
		f := s.fresh(t)
		r := f.startRollout(`{}`)
		rid, aid := r.RolloutID, r.Attempt.AttemptID
		f.replaceTriplets(rid, aid, 2, tripletRecord(rid, aid, 0, 2, nil), tripletRecord(rid, aid, 1, 2, nil), tripletRecord(rid, aid, 2, 2, nil))
		assert.Equal(t, []int{2, 2, 2}, tripletRevisions(f.triplets(rid, aid)))

		f.replaceTriplets(rid, aid, 1, tripletRecord(rid, aid, 0, 1, model.Ptr(9.0)))
		assert.Equal(t, []int{2, 2, 2}, tripletRevisions(f.triplets(rid, aid)), "an older revision is ignored")

		f.replaceTriplets(rid, aid, 2, tripletRecord(rid, aid, 0, 2, model.Ptr(1.0)), tripletRecord(rid, aid, 1, 2, model.Ptr(2.0)))
		got := f.triplets(rid, aid)
		require.Len(t, got, 2, "the same revision replaces the whole set")
		require.NotNil(t, got[1].Triplet.Reward)
		assert.Equal(t, 2.0, *got[1].Triplet.Reward)

		f.replaceTriplets(rid, aid, 3, tripletRecord(rid, aid, 0, 3, model.Ptr(3.0)))
		got = f.triplets(rid, aid)
		require.Len(t, got, 1)
		assert.Equal(t, 3, got[0].Revision)

		f.replaceTriplets(rid, aid, 4)
		assert.Empty(t, f.triplets(rid, aid), "a newer empty set clears the attempt")
	})

	t.Run("NextRevision continues from the stored revision", func(t *testing.T) {
		f := s.fresh(t)
		r := f.startRollout(`{}`)
		rid, aid := r.RolloutID, r.Attempt.AttemptID
		f.replaceTriplets(rid, aid, store.NextRevision, tripletRecord(rid, aid, 0, 0, nil))
		assert.Equal(t, []int{1}, tripletRevisions(f.triplets(rid, aid)), "the first write is revision 1")

		f.replaceTriplets(rid, aid, 7, tripletRecord(rid, aid, 0, 7, nil), tripletRecord(rid, aid, 1, 7, nil))
		// A builder that lost its memory (restart, eviction) never goes
		// back: its write lands above what is stored.
		f.replaceTriplets(rid, aid, store.NextRevision, tripletRecord(rid, aid, 0, 1, model.Ptr(0.5)),
			tripletRecord(rid, aid, 1, 1, nil), tripletRecord(rid, aid, 2, 1, nil))
		got := f.triplets(rid, aid)
		require.Len(t, got, 3)
		assert.Equal(t, []int{8, 8, 8}, tripletRevisions(got), "records carry the revision the store gave them")
		f.replaceTriplets(rid, aid, 7, tripletRecord(rid, aid, 0, 7, nil))
		assert.Len(t, f.triplets(rid, aid), 3, "an explicit older revision is still ignored")
	})

	t.Run("triplets are kept per attempt", func(t *testing.T) {
		f := s.fresh(t)
		r := f.startRollout(`{}`)
		a2 := f.startAttempt(r.RolloutID)
		rid, aid1, aid2 := r.RolloutID, r.Attempt.AttemptID, a2.Attempt.AttemptID
		f.replaceTriplets(rid, aid1, 5, tripletRecord(rid, aid1, 0, 5, nil), tripletRecord(rid, aid1, 1, 5, nil))
		f.replaceTriplets(rid, aid2, 1, tripletRecord(rid, aid2, 0, 1, nil))
		assert.Len(t, f.triplets(rid, aid1), 2)
		got := f.triplets(rid, aid2)
		require.Len(t, got, 1, "another attempt's revision does not matter")
		assert.Equal(t, aid2, got[0].AttemptID)
		assert.Empty(t, f.triplets(rid, "at-none"))
		assert.Empty(t, f.triplets("ro-none", aid1))
	})

	t.Run("messages come back in sequence order, JSON intact", func(t *testing.T) {
		f := s.fresh(t)
		r := f.startRollout(`{}`)
		rid, aid := r.RolloutID, r.Attempt.AttemptID
		in := []model.MessageRecord{message(rid, aid, 3), message(rid, aid, 1)}
		require.NoError(t, f.s.AddMessages(f.ctx, in))
		require.NoError(t, f.s.AddMessages(f.ctx, []model.MessageRecord{message(rid, aid, 2)}))
		got, err := f.s.QueryMessages(f.ctx, rid, aid)
		require.NoError(t, err)
		require.Len(t, got, 3)
		for i, m := range got {
			assert.Equal(t, i+1, m.SequenceID)
			assert.JSONEq(t, mustJSON(t, message(rid, aid, i+1)), mustJSON(t, m))
		}
	})

	t.Run("messages without a sequence id are numbered 1..n per rollout, apart from the spans", func(t *testing.T) {
		f := s.fresh(t)
		r := f.startRollout(`{}`)
		other := f.startRollout(`{}`)
		rid, aid := r.RolloutID, r.Attempt.AttemptID
		spanSeq, err := f.s.NextSequenceIDs(f.ctx, []store.SequenceKey{{RolloutID: rid}, {RolloutID: rid}})
		require.NoError(t, err)
		unnumbered := func(rolloutID, attemptID string, n int) model.MessageRecord {
			m := message(rolloutID, attemptID, n)
			m.SequenceID = 0
			return m
		}
		require.NoError(t, f.s.AddMessages(f.ctx, []model.MessageRecord{
			unnumbered(rid, aid, 1), unnumbered(other.RolloutID, other.Attempt.AttemptID, 1), unnumbered(rid, aid, 2),
		}))
		require.NoError(t, f.s.AddMessages(f.ctx, []model.MessageRecord{unnumbered(rid, aid, 3)}))
		got, err := f.s.QueryMessages(f.ctx, rid, aid)
		require.NoError(t, err)
		require.Len(t, got, 3)
		for i, m := range got {
			assert.Equal(t, i+1, m.SequenceID)
			assert.Equal(t, hexID(i+1, 16), m.SpanID, "arrival order")
		}
		got, err = f.s.QueryMessages(f.ctx, other.RolloutID, "")
		require.NoError(t, err)
		require.Len(t, got, 1)
		assert.Equal(t, 1, got[0].SequenceID)
		next, err := f.s.NextSequenceIDs(f.ctx, []store.SequenceKey{{RolloutID: rid}})
		require.NoError(t, err)
		assert.Equal(t, []int{spanSeq[1] + 1}, next, "messages took no number from the span sequence")
	})

	t.Run("messages are kept per attempt", func(t *testing.T) {
		f := s.fresh(t)
		r := f.startRollout(`{}`)
		a2 := f.startAttempt(r.RolloutID)
		rid, aid1, aid2 := r.RolloutID, r.Attempt.AttemptID, a2.Attempt.AttemptID
		require.NoError(t, f.s.AddMessages(f.ctx, []model.MessageRecord{message(rid, aid1, 1), message(rid, aid2, 2), message(rid, aid1, 3)}))
		got, err := f.s.QueryMessages(f.ctx, rid, aid1)
		require.NoError(t, err)
		assert.Len(t, got, 2)
		got, err = f.s.QueryMessages(f.ctx, rid, aid2)
		require.NoError(t, err)
		require.Len(t, got, 1)
		assert.Equal(t, 2, got[0].SequenceID)
		got, err = f.s.QueryMessages(f.ctx, "ro-none", aid1)
		require.NoError(t, err)
		assert.Empty(t, got)
	})
}
