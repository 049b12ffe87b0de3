package export

import (
	"encoding/json"
	"math"
	"slices"

	"github.com/otelcol-lightning/otelcol-lightning/pkg/model"
)

// Step is one LLM call of an attempt as token ids.
type Step struct {
	SpanID      string
	PromptIDs   []int64
	ResponseIDs []int64
	// Logprobs has one value per response token, or is nil.
	Logprobs []float64
	Reward   *float64
}

// Row is a training row made of consecutive steps: the first step's
// prompt, then for each step the tokens between the previous step's end
// and its prompt's end (observations: tool results, user turns, chat
// template tokens; loss_mask 0) followed by its response (loss_mask 1).
type Row struct {
	SpanIDs     []string
	PromptIDs   []int64
	ResponseIDs []int64
	LossMask    []int
	// Logprobs is aligned with ResponseIDs (0 on observation tokens); nil
	// when a step of the row had no logprobs, or not one per token.
	Logprobs    []float64
	TurnRewards []*float64

	// partialLogprobs: some steps of the row had logprobs, not all, so
	// the row has none (reported as logprobs_dropped).
	partialLogprobs bool
	anyLogprobs     bool
	allLogprobs     bool
}

// MergeSteps is Agent Lightning v1.0's trajectory-level aggregation: a step
// joins the current row when its prompt begins with exactly the row's
// tokens so far (the previous prompt plus everything generated and
// observed since); otherwise — a retokenised history, a truncated or
// rewritten context, another agent — it starts a new row. A step without
// prompt or response token ids cannot be placed: it is returned in
// missing, and the row before it ends (the next step starts a new row, so
// the missing response is never trained on as an observation).
func MergeSteps(steps []Step) (rows []Row, missing []string) {
	var cur *Row
	for _, s := range steps {
		if len(s.PromptIDs) == 0 || len(s.ResponseIDs) == 0 {
			missing = append(missing, s.SpanID)
			cur = nil
			continue
		}
		if cur != nil && extends(s.PromptIDs, cur) {
			cur.append(s)
			continue
		}
		rows = append(rows, Row{PromptIDs: slices.Clone(s.PromptIDs), allLogprobs: true})
		cur = &rows[len(rows)-1]
		cur.append(s)
	}
	for i := range rows {
		r := &rows[i]
		if !r.allLogprobs {
			r.Logprobs = nil
		}
		r.partialLogprobs = r.anyLogprobs && !r.allLogprobs
		r.anyLogprobs, r.allLogprobs = false, false
	}
	return rows, missing
}

// extends reports whether prompt begins with the row's prompt and response.
func extends(prompt []int64, r *Row) bool {
	np, nr := len(r.PromptIDs), len(r.ResponseIDs)
	return len(prompt) >= np+nr &&
		slices.Equal(prompt[:np], r.PromptIDs) &&
		slices.Equal(prompt[np:np+nr], r.ResponseIDs)
}

// append adds a step whose prompt extends the row (or is the row's prompt).
func (r *Row) append(s Step) {
	obs := s.PromptIDs[len(r.PromptIDs)+len(r.ResponseIDs):]
	r.ResponseIDs = append(r.ResponseIDs, obs...)
	r.ResponseIDs = append(r.ResponseIDs, s.ResponseIDs...)
	for range obs {
		r.LossMask = append(r.LossMask, 0)
		r.Logprobs = append(r.Logprobs, 0)
	}
	for range s.ResponseIDs {
		r.LossMask = append(r.LossMask, 1)
	}
	if len(s.Logprobs) > 0 {
		r.anyLogprobs = true
	}
	if len(s.Logprobs) == len(s.ResponseIDs) {
		r.Logprobs = append(r.Logprobs, s.Logprobs...)
	} else {
		r.allLogprobs = false
		r.Logprobs = append(r.Logprobs, make([]float64, len(s.ResponseIDs))...)
	}
	r.SpanIDs = append(r.SpanIDs, s.SpanID)
	r.TurnRewards = append(r.TurnRewards, s.Reward)
}

// TrajectoryLine is one line of the trajectories format.
type TrajectoryLine struct {
	RolloutID string `json:"rollout_id"`
	AttemptID string `json:"attempt_id"`
	// Row is the row's position among the attempt's rows.
	Row         int                `json:"row"`
	Mode        *model.RolloutMode `json:"mode"`
	ResourcesID *string            `json:"resources_id"`
	// Input is the rollout's task input, to group rows of one task (GRPO).
	Input       json.RawMessage `json:"input"`
	SpanIDs     []string        `json:"span_ids"`
	NumTurns    int             `json:"num_turns"`
	PromptIDs   []int64         `json:"prompt_ids"`
	ResponseIDs []int64         `json:"response_ids"`
	LossMask    []int           `json:"loss_mask"`
	Logprobs    []float64       `json:"logprobs"`
	// Reward is the attempt's final reward (the last non-null triplet
	// reward), the same on every row of the attempt; TurnRewards are the
	// rewards matched to each call of the row.
	Reward      *float64   `json:"reward"`
	TurnRewards []*float64 `json:"turn_rewards"`
}

func (x *exporter) trajectories(d *attemptData) error {
	steps := stepsOf(d)
	if len(steps) == 0 {
		x.sum.AttemptsWithoutData++
		return nil
	}
	rows, missing := MergeSteps(steps)
	x.sum.CallsWithoutTokenIDs += len(missing)
	for _, id := range missing {
		if len(x.sum.SpansWithoutTokenIDs) < maxListedSpans {
			x.sum.SpansWithoutTokenIDs = append(x.sum.SpansWithoutTokenIDs, id)
		}
	}
	for i, r := range rows {
		if r.partialLogprobs {
			x.sum.LogprobsDropped++
		}
		err := x.line(TrajectoryLine{
			RolloutID: d.rollout.RolloutID, AttemptID: d.attempt.AttemptID, Row: i,
			Mode: d.rollout.Mode, ResourcesID: d.rollout.ResourcesID, Input: model.RawOrNull(d.rollout.Input),
			SpanIDs: r.SpanIDs, NumTurns: len(r.SpanIDs),
			PromptIDs: r.PromptIDs, ResponseIDs: r.ResponseIDs, LossMask: r.LossMask, Logprobs: r.Logprobs,
			Reward: d.reward, TurnRewards: r.TurnRewards,
		})
		if err != nil {
			return err
		}
	}
	return nil
}

// stepsOf reads the attempt's calls as token ids: from its triplets, else
// from message records that carry token ids (the messages connector's
// include_token_ids).
func stepsOf(d *attemptData) []Step {
	if len(d.triplets) > 0 {
		steps := make([]Step, 0, len(d.triplets))
		for _, t := range d.triplets {
			steps = append(steps, tripletStep(t))
		}
		return steps
	}
	steps := make([]Step, 0, len(d.messages))
	for _, m := range d.messages {
		steps = append(steps, Step{
			SpanID: m.spanID, PromptIDs: m.promptIDs, ResponseIDs: m.responseIDs, Logprobs: m.logprobs, Reward: m.reward,
		})
	}
	return steps
}

func tripletStep(t model.TripletRecord) Step {
	s := Step{SpanID: t.SpanID, Reward: t.Triplet.Reward}
	var prompt struct {
		TokenIDs []int64 `json:"token_ids"`
	}
	if json.Unmarshal(t.Triplet.Prompt, &prompt) == nil {
		s.PromptIDs = prompt.TokenIDs
	}
	var response struct {
		TokenIDs []int64         `json:"token_ids"`
		Logprobs json.RawMessage `json:"logprobs"`
		LogProbs json.RawMessage `json:"log_probs"` // Agent Lightning v1.0's spelling
	}
	if json.Unmarshal(t.Triplet.Response, &response) == nil {
		s.ResponseIDs = response.TokenIDs
		s.Logprobs = parseLogprobs(response.Logprobs)
		if s.Logprobs == nil {
			s.Logprobs = parseLogprobs(response.LogProbs)
		}
	}
	return s
}

// parseLogprobs reads the logprob of each generated token from an OpenAI
// logprobs.content list ([{"token", "logprob", ...}]), a logprobs object
// holding it ({"content": [...]}), a completions token_logprobs object, or
// a plain list of numbers. Any unusable value gives nil: partial logprobs
// would misalign with the tokens.
func parseLogprobs(raw json.RawMessage) []float64 {
	if isNull(raw) {
		return nil
	}
	var obj struct {
		Content       json.RawMessage `json:"content"`
		TokenLogprobs json.RawMessage `json:"token_logprobs"`
	}
	if json.Unmarshal(raw, &obj) == nil {
		if !isNull(obj.Content) {
			return parseLogprobs(obj.Content)
		}
		return parseLogprobs(obj.TokenLogprobs)
	}
	var items []json.RawMessage
	if json.Unmarshal(raw, &items) != nil {
		return nil
	}
	out := make([]float64, 0, len(items))
	for _, it := range items {
		var v *float64
		var entry struct {
			Logprob *float64 `json:"logprob"`
		}
		if json.Unmarshal(it, &v) != nil {
			if json.Unmarshal(it, &entry) != nil {
				return nil
			}
			v = entry.Logprob
		}
		if v == nil || math.IsNaN(*v) || math.IsInf(*v, 0) {
			return nil
		}
		out = append(out, *v)
	}
	return out
}
