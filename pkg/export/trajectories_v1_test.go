package export

import (
	"math/rand/v2"
	"slices"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// v1Row is one row of Agent Lightning v1.0's trajectory-level aggregation
// (verl/rollout_adapter.py, trace_aggregator.level=trajectory), before the
// trainer's length limits and padding.
type v1Row struct {
	prompt, response []int64
	mask             []int
	logprobs         []float64 // nil: v1.0's None
}

// v1Aggregate is an independent model of v1.0's loop, written from its
// description (reference §8): the first triplet opens a group with context
// prompt+response; a triplet whose prompt starts with the context appends
// the extra prompt tokens (mask 0, log prob 0.0) and its response (mask 1);
// any other triplet closes the group. Log probs become None for the rest of
// the group once one triplet lacks them or has the wrong length, and a
// group whose first triplet has none never gets any. Before this, the
// trainer drops calls with an error status or no response ids
// (agl_rollout_manager._build_completed_rollout).
func v1Aggregate(steps []Step) []v1Row {
	var triplets []Step
	for _, s := range steps {
		if len(s.ResponseIDs) > 0 {
			triplets = append(triplets, s)
		}
	}
	var rows []v1Row
	var cur *v1Row
	var context []int64
	lp := func(s Step) []float64 {
		if s.Logprobs == nil {
			return nil
		}
		return slices.Clone(s.Logprobs)
	}
	for _, s := range triplets {
		if cur != nil && len(s.PromptIDs) >= len(context) && slices.Equal(s.PromptIDs[:len(context)], context) {
			obs := s.PromptIDs[len(context):]
			cur.response = append(cur.response, obs...)
			for range obs {
				cur.mask = append(cur.mask, 0)
			}
			if cur.logprobs != nil {
				cur.logprobs = append(cur.logprobs, make([]float64, len(obs))...)
			}
			cur.response = append(cur.response, s.ResponseIDs...)
			for range s.ResponseIDs {
				cur.mask = append(cur.mask, 1)
			}
			if cur.logprobs != nil {
				if len(s.Logprobs) != len(s.ResponseIDs) {
					cur.logprobs = nil
				} else {
					cur.logprobs = append(cur.logprobs, s.Logprobs...)
				}
			}
			context = append(slices.Clone(s.PromptIDs), s.ResponseIDs...)
			continue
		}
		rows = append(rows, v1Row{prompt: slices.Clone(s.PromptIDs), response: slices.Clone(s.ResponseIDs),
			mask: slices.Repeat([]int{1}, len(s.ResponseIDs)), logprobs: lp(s)})
		cur = &rows[len(rows)-1]
		context = append(slices.Clone(s.PromptIDs), s.ResponseIDs...)
	}
	// append_training_row: log probs of the wrong length become None.
	for i := range rows {
		if rows[i].logprobs != nil && len(rows[i].logprobs) != len(rows[i].response) {
			rows[i].logprobs = nil
		}
	}
	return rows
}

// randomCalls makes one agent's calls: conversations that grow by tool
// observations, restarts (another sub-agent, a truncated history), calls
// with or without log probs, and occasionally a call without token ids.
func randomCalls(r *rand.Rand, withMissing bool) []Step {
	var steps []Step
	var ctx []int64
	tok := func() int64 { return int64(r.IntN(50)) }
	n := 1 + r.IntN(8)
	for i := range n {
		var prompt []int64
		switch {
		case ctx == nil || r.IntN(4) == 0: // a fresh conversation
			for range 1 + r.IntN(4) {
				prompt = append(prompt, tok())
			}
		case r.IntN(6) == 0: // a rewritten history: shares a prefix only
			prompt = append(slices.Clone(ctx[:r.IntN(len(ctx))]), 999)
		default: // the conversation goes on, with 0..3 observation tokens
			prompt = slices.Clone(ctx)
			for range r.IntN(4) {
				prompt = append(prompt, tok())
			}
		}
		resp := []int64{}
		for range 1 + r.IntN(3) {
			resp = append(resp, tok())
		}
		var lps []float64
		switch r.IntN(5) {
		case 0: // no log probs
		case 1: // the wrong number
			lps = []float64{-1}
			if len(resp) == 1 {
				lps = nil
			}
		default:
			for range resp {
				lps = append(lps, -r.Float64())
			}
		}
		s := Step{SpanID: string(rune('a' + i)), PromptIDs: prompt, ResponseIDs: resp, Logprobs: lps}
		if withMissing && r.IntN(7) == 0 {
			s.ResponseIDs = nil
		}
		steps = append(steps, s)
		ctx = append(slices.Clone(prompt), resp...)
	}
	return steps
}

func ourRows(steps []Step) []v1Row {
	rows, _ := MergeSteps(steps)
	out := make([]v1Row, len(rows))
	for i, r := range rows {
		out[i] = v1Row{prompt: r.PromptIDs, response: r.ResponseIDs, mask: r.LossMask, logprobs: r.Logprobs}
	}
	return out
}

// TestTrajectoriesMatchV1Aggregator: on calls that all carry token ids,
// the trajectories export gives v1.0's trajectory-level rows token for
// token, mask for mask and log prob for log prob.
func TestTrajectoriesMatchV1Aggregator(t *testing.T) {
	r := rand.New(rand.NewPCG(1, 16))
	for i := range 5000 {
		steps := randomCalls(r, false)
		require.Equal(t, v1Aggregate(steps), ourRows(steps), "case %d: %+v", i, steps)
	}
}

// TestTrajectoriesDifferFromV1OnCallsWithoutTokenIDs records the one
// difference: v1.0's trainer drops a call without response ids before
// merging, so the calls around it can still merge (its output is then
// trained on as if it were an observation of the next prompt); the export
// ends the row at such a call and counts it (calls_without_token_ids).
func TestTrajectoriesDifferFromV1OnCallsWithoutTokenIDs(t *testing.T) {
	steps := []Step{
		{SpanID: "a", PromptIDs: ids(1, 2), ResponseIDs: ids(3)},
		{SpanID: "b", PromptIDs: ids(1, 2, 3, 4), ResponseIDs: nil},
		{SpanID: "c", PromptIDs: ids(1, 2, 3, 4, 5, 6), ResponseIDs: ids(7)},
	}
	v1 := v1Aggregate(steps)
	require.Len(t, v1, 1)
	assert.Equal(t, []int{1, 0, 0, 0, 1}, v1[0].mask, "v1.0 merges across the call")
	ours, missing := MergeSteps(steps)
	assert.Len(t, ours, 2, "the export splits there")
	assert.Equal(t, []string{"b"}, missing)

	// Where no call is missing, both agree (a sample of the random corpus
	// with missing calls, restricted to those without any).
	r := rand.New(rand.NewPCG(2, 16))
	agreed, differed := 0, 0
	for range 2000 {
		steps := randomCalls(r, true)
		complete := !slices.ContainsFunc(steps, func(s Step) bool { return len(s.ResponseIDs) == 0 })
		same := assert.ObjectsAreEqual(v1Aggregate(steps), ourRows(steps))
		if complete {
			require.True(t, same, "%+v", steps)
			agreed++
		} else if !same {
			differed++
		}
	}
	assert.Positive(t, agreed)
	assert.Positive(t, differed)
}
