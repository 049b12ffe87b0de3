package export

import (
	"encoding/json"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/otelcol-lightning/otelcol-lightning/pkg/model"
)

func ids(v ...int64) []int64 { return v }

func TestMergeSteps(t *testing.T) {
	r1, r2 := model.Ptr(1.0), model.Ptr(0.5)
	tests := []struct {
		name    string
		steps   []Step
		want    []Row
		missing []string
	}{
		{
			name: "one call",
			steps: []Step{
				{SpanID: "a", PromptIDs: ids(1, 2, 3), ResponseIDs: ids(4, 5), Logprobs: []float64{-0.1, -0.2}, Reward: r1},
			},
			want: []Row{{
				SpanIDs: []string{"a"}, PromptIDs: ids(1, 2, 3), ResponseIDs: ids(4, 5), LossMask: []int{1, 1},
				Logprobs: []float64{-0.1, -0.2}, TurnRewards: []*float64{r1},
			}},
		},
		{
			name: "the next prompt extends prompt + response: merged, the tool result masked",
			steps: []Step{
				{SpanID: "a", PromptIDs: ids(1, 2), ResponseIDs: ids(3, 4), Logprobs: []float64{-1, -2}},
				{SpanID: "b", PromptIDs: ids(1, 2, 3, 4, 90, 91), ResponseIDs: ids(5), Logprobs: []float64{-3}, Reward: r2},
				{SpanID: "c", PromptIDs: ids(1, 2, 3, 4, 90, 91, 5), ResponseIDs: ids(6, 7), Logprobs: []float64{-4, -5}},
			},
			want: []Row{{
				SpanIDs:     []string{"a", "b", "c"},
				PromptIDs:   ids(1, 2),
				ResponseIDs: ids(3, 4, 90, 91, 5, 6, 7),
				LossMask:    []int{1, 1, 0, 0, 1, 1, 1},
				Logprobs:    []float64{-1, -2, 0, 0, -3, -4, -5},
				TurnRewards: []*float64{nil, r2, nil},
			}},
		},
		{
			name: "the prefix breaks: a new row",
			steps: []Step{
				{SpanID: "a", PromptIDs: ids(1, 2), ResponseIDs: ids(3)},
				{SpanID: "b", PromptIDs: ids(1, 2, 3, 9), ResponseIDs: ids(4)},
				{SpanID: "c", PromptIDs: ids(1, 2, 8), ResponseIDs: ids(5)}, // a rewritten history
			},
			want: []Row{
				{SpanIDs: []string{"a", "b"}, PromptIDs: ids(1, 2), ResponseIDs: ids(3, 9, 4), LossMask: []int{1, 0, 1}, TurnRewards: []*float64{nil, nil}},
				{SpanIDs: []string{"c"}, PromptIDs: ids(1, 2, 8), ResponseIDs: ids(5), LossMask: []int{1}, TurnRewards: []*float64{nil}},
			},
		},
		{
			name: "retokenisation drift: the previous response comes back as other tokens",
			steps: []Step{
				{SpanID: "a", PromptIDs: ids(1, 2), ResponseIDs: ids(30, 31), Logprobs: []float64{-1, -1}},
				{SpanID: "b", PromptIDs: ids(1, 2, 3031, 7), ResponseIDs: ids(8), Logprobs: []float64{-1}},
			},
			want: []Row{
				{SpanIDs: []string{"a"}, PromptIDs: ids(1, 2), ResponseIDs: ids(30, 31), LossMask: []int{1, 1}, Logprobs: []float64{-1, -1}, TurnRewards: []*float64{nil}},
				{SpanIDs: []string{"b"}, PromptIDs: ids(1, 2, 3031, 7), ResponseIDs: ids(8), LossMask: []int{1}, Logprobs: []float64{-1}, TurnRewards: []*float64{nil}},
			},
		},
		{
			name: "a prompt shorter than the row so far is a break, not a crash",
			steps: []Step{
				{SpanID: "a", PromptIDs: ids(1, 2, 3), ResponseIDs: ids(4)},
				{SpanID: "b", PromptIDs: ids(1, 2), ResponseIDs: ids(5)},
			},
			want: []Row{
				{SpanIDs: []string{"a"}, PromptIDs: ids(1, 2, 3), ResponseIDs: ids(4), LossMask: []int{1}, TurnRewards: []*float64{nil}},
				{SpanIDs: []string{"b"}, PromptIDs: ids(1, 2), ResponseIDs: ids(5), LossMask: []int{1}, TurnRewards: []*float64{nil}},
			},
		},
		{
			name: "a prompt equal to the row so far: no observation tokens",
			steps: []Step{
				{SpanID: "a", PromptIDs: ids(1), ResponseIDs: ids(2)},
				{SpanID: "b", PromptIDs: ids(1, 2), ResponseIDs: ids(3)},
			},
			want: []Row{
				{SpanIDs: []string{"a", "b"}, PromptIDs: ids(1), ResponseIDs: ids(2, 3), LossMask: []int{1, 1}, TurnRewards: []*float64{nil, nil}},
			},
		},
		{
			name: "missing token ids are reported and end the row",
			steps: []Step{
				{SpanID: "a", PromptIDs: ids(1), ResponseIDs: ids(2)},
				{SpanID: "b", PromptIDs: ids(1, 2, 3)}, // no response ids
				{SpanID: "c", PromptIDs: ids(1, 2, 3, 4, 5), ResponseIDs: ids(6)},
				{SpanID: "d"},
			},
			want: []Row{
				{SpanIDs: []string{"a"}, PromptIDs: ids(1), ResponseIDs: ids(2), LossMask: []int{1}, TurnRewards: []*float64{nil}},
				{SpanIDs: []string{"c"}, PromptIDs: ids(1, 2, 3, 4, 5), ResponseIDs: ids(6), LossMask: []int{1}, TurnRewards: []*float64{nil}},
			},
			missing: []string{"b", "d"},
		},
		{
			name: "logprobs of one call missing or misaligned: the row has none",
			steps: []Step{
				{SpanID: "a", PromptIDs: ids(1), ResponseIDs: ids(2), Logprobs: []float64{-1}},
				{SpanID: "b", PromptIDs: ids(1, 2), ResponseIDs: ids(3, 4), Logprobs: []float64{-1}},
			},
			want: []Row{
				{SpanIDs: []string{"a", "b"}, PromptIDs: ids(1), ResponseIDs: ids(2, 3, 4), LossMask: []int{1, 1, 1}, TurnRewards: []*float64{nil, nil}, partialLogprobs: true},
			},
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			rows, missing := MergeSteps(tt.steps)
			assert.Equal(t, tt.want, rows)
			assert.Equal(t, tt.missing, missing)
			for _, r := range rows {
				assert.Len(t, r.LossMask, len(r.ResponseIDs), "one mask value per response token")
				if r.Logprobs != nil {
					assert.Len(t, r.Logprobs, len(r.ResponseIDs))
				}
			}
		})
	}
}

// Merging must not alias the steps' slices: later appends would corrupt
// the caller's token ids.
func TestMergeStepsDoesNotAliasInput(t *testing.T) {
	prompt := make([]int64, 2, 10)
	prompt[0], prompt[1] = 1, 2
	steps := []Step{
		{SpanID: "a", PromptIDs: prompt, ResponseIDs: ids(3)},
		{SpanID: "b", PromptIDs: ids(1, 2, 3, 4), ResponseIDs: ids(5)},
	}
	rows, _ := MergeSteps(steps)
	require.Len(t, rows, 1)
	assert.Equal(t, ids(1, 2), steps[0].PromptIDs)
	assert.Equal(t, ids(1, 2), prompt[:2])
	assert.Equal(t, int64(0), prompt[:3][2], "the prompt's spare capacity is untouched")
}

func TestParseLogprobs(t *testing.T) {
	tests := []struct {
		raw  string
		want []float64
	}{
		{`[{"token":"4","logprob":-0.01,"top_logprobs":[]},{"token":"x","logprob":-0.5}]`, []float64{-0.01, -0.5}},
		{`{"content":[{"token":"4","logprob":-0.25}]}`, []float64{-0.25}},
		{`{"tokens":["a"],"token_logprobs":[-1.5]}`, []float64{-1.5}},
		{`[-1, -2.5]`, []float64{-1, -2.5}},
		{`[{"token":"4"}]`, nil},
		{`[-1, null]`, nil},
		{`"nope"`, nil},
		{`null`, nil},
		{``, nil},
	}
	for _, tt := range tests {
		assert.Equal(t, tt.want, parseLogprobs(json.RawMessage(tt.raw)), tt.raw)
	}
}
