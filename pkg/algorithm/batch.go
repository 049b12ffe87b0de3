package algorithm

import (
	"context"
	"encoding/json"
	"fmt"
	"maps"
	"time"

	"go.uber.org/zap"

	"github.com/otelcol-lightning/otelcol-lightning/pkg/dataset"
	"github.com/otelcol-lightning/otelcol-lightning/pkg/model"
	"github.com/otelcol-lightning/otelcol-lightning/pkg/rewards"
	"github.com/otelcol-lightning/otelcol-lightning/pkg/store"
)

// waitSlice bounds one WaitForRollouts call, so a batch notices its own
// deadline and reports progress while rollouts run.
const waitSlice = time.Second

// settlePoll is the pause between two reads of a rollout still missing
// its reward.
const settlePoll = 100 * time.Millisecond

// batch is a set of tasks to run against one resources snapshot.
type batch struct {
	ResourcesID string
	Mode        model.RolloutMode
	Tasks       []dataset.Task
	// Metadata is added to every rollout's metadata (with the task id).
	Metadata map[string]any
	// KeepSpans keeps each rollout's spans in its result (for critiques).
	KeepSpans bool
}

// rolloutResult is the outcome of one rollout of a batch.
type rolloutResult struct {
	Task      dataset.Task
	RolloutID string
	Status    model.RolloutStatus
	Finished  bool
	// Reward is the rollout's final reward, nil when it has none.
	Reward *float64
	Spans  []model.Span
}

// batchResult is a scored batch.
type batchResult struct {
	ResourcesID string
	Results     []rolloutResult
	// Score is the mean final reward over the finished rollouts, a missing
	// reward counting as 0 (Agent Lightning's APO rule); 0 when none
	// finished.
	Score    float64
	Finished int
}

// runBatches enqueues every batch at once (so dispatch runs them in
// parallel), waits until all rollouts finish or timeout passes, and scores
// each batch. Rollouts still unfinished at the deadline are cancelled and
// left out of the scores, as Agent Lightning's APO ignores them.
func (e *Env) runBatches(ctx context.Context, batches []batch, timeout time.Duration) ([]batchResult, error) {
	var reqs []model.EnqueueRolloutRequest
	for _, b := range batches {
		for _, task := range b.Tasks {
			meta := map[string]any{"task_id": task.ID}
			maps.Copy(meta, b.Metadata)
			metaJSON, err := json.Marshal(meta)
			if err != nil {
				return nil, fmt.Errorf("encode rollout metadata: %w", err)
			}
			req := model.EnqueueRolloutRequest{Input: task.Input, Mode: model.Ptr(b.Mode), Config: e.RolloutConfig, Metadata: metaJSON}
			if b.ResourcesID != "" {
				req.ResourcesID = model.Ptr(b.ResourcesID)
			}
			reqs = append(reqs, req)
		}
	}
	if len(reqs) == 0 {
		return make([]batchResult, len(batches)), nil
	}
	rollouts, err := e.Store.EnqueueRollouts(ctx, reqs)
	if err != nil {
		return nil, fmt.Errorf("enqueue %d rollouts: %w", len(reqs), err)
	}
	if e.Notify != nil {
		e.Notify()
	}
	ids := make([]string, len(rollouts))
	for i, r := range rollouts {
		ids[i] = r.RolloutID
	}
	finished, err := e.waitAll(ctx, ids, timeout)
	if err != nil {
		return nil, err
	}
	results, err := e.collect(ctx, batches, ids, finished)
	if err != nil {
		return nil, err
	}
	e.Progress.AddRollouts(len(finished))
	return results, nil
}

// waitAll waits for the rollouts and returns the finished ones by id;
// those still unfinished after timeout are cancelled.
func (e *Env) waitAll(ctx context.Context, ids []string, timeout time.Duration) (map[string]model.Rollout, error) {
	finished := make(map[string]model.Rollout, len(ids))
	deadline := time.Now().Add(timeout)
	pending := ids
	for len(pending) > 0 {
		left := time.Until(deadline)
		if left <= 0 {
			break
		}
		done, err := e.Store.WaitForRollouts(ctx, pending, min(left, waitSlice).Seconds())
		if err != nil {
			return nil, fmt.Errorf("wait for rollouts: %w", err)
		}
		for _, r := range done {
			finished[r.RolloutID] = r
		}
		pending = pending[:0:0]
		for _, id := range ids {
			if _, ok := finished[id]; !ok {
				pending = append(pending, id)
			}
		}
	}
	for _, id := range pending {
		if _, err := e.Store.UpdateRollout(ctx, id, store.RolloutUpdate{Status: store.To(model.RolloutCancelled)}); err != nil {
			e.logger().Warn("Cannot cancel a rollout past the batch timeout", zap.String("rollout_id", id), zap.Error(err))
		}
	}
	if len(pending) > 0 {
		e.logger().Warn("Rollouts did not finish within the batch timeout; cancelled and left out of the scores",
			zap.Int("unfinished", len(pending)), zap.Duration("timeout", timeout))
	}
	return finished, nil
}

// collect reads the final reward of every finished rollout and scores the
// batches.
func (e *Env) collect(ctx context.Context, batches []batch, ids []string, finished map[string]model.Rollout) ([]batchResult, error) {
	settle := e.RewardSettle
	if settle <= 0 {
		settle = DefaultRewardSettle
	}
	settleDeadline := time.Now().Add(settle)
	out := make([]batchResult, len(batches))
	i := 0
	for bi, b := range batches {
		res := batchResult{ResourcesID: b.ResourcesID, Results: make([]rolloutResult, len(b.Tasks))}
		var sum float64
		for ti, task := range b.Tasks {
			id := ids[i]
			i++
			rr := rolloutResult{Task: task, RolloutID: id}
			if r, ok := finished[id]; ok {
				rr.Finished, rr.Status = true, r.Status
				reward, spans, err := e.finalReward(ctx, id, settleDeadline)
				if err != nil {
					return nil, err
				}
				rr.Reward = reward
				if b.KeepSpans {
					rr.Spans = spans
				}
				res.Finished++
				if reward != nil {
					sum += *reward
				}
				if e.Metrics != nil {
					e.Metrics.RolloutScored(b.ResourcesID, r.Status, valueOr0(reward), reward != nil)
				}
			}
			res.Results[ti] = rr
		}
		res.Score = sum / float64(max(1, res.Finished))
		if e.Metrics != nil && res.Finished > 0 {
			e.Metrics.ResourcesScored(b.ResourcesID, res.Score)
		}
		out[bi] = res
	}
	return out, nil
}

// finalReward is the rollout's final reward: the last reward span in
// sequence order over all its attempts (find_final_reward), else the last
// non-null triplet reward. A rollout without either is read again until
// settleDeadline, since agent spans reach the store through the pipeline a
// moment after the attempt ends.
func (e *Env) finalReward(ctx context.Context, rolloutID string, settleDeadline time.Time) (*float64, []model.Span, error) {
	for {
		page, err := e.Store.QuerySpans(ctx, store.SpanQuery{RolloutID: rolloutID, Page: store.AllPage()})
		if err != nil {
			return nil, nil, fmt.Errorf("read the spans of rollout %s: %w", rolloutID, err)
		}
		if v, ok := rewards.FinalReward(page.Items); ok {
			return &v, page.Items, nil
		}
		triplets, err := e.Store.QueryTriplets(ctx, rolloutID, "")
		if err != nil {
			return nil, nil, fmt.Errorf("read the triplets of rollout %s: %w", rolloutID, err)
		}
		for i := len(triplets) - 1; i >= 0; i-- {
			if r := triplets[i].Triplet.Reward; r != nil {
				return r, page.Items, nil
			}
		}
		if time.Now().After(settleDeadline) {
			return nil, page.Items, nil
		}
		timer := time.NewTimer(settlePoll)
		select {
		case <-ctx.Done():
			timer.Stop()
			return nil, nil, ctx.Err()
		case <-timer.C:
		}
	}
}

func valueOr0(v *float64) float64 {
	if v == nil {
		return 0
	}
	return *v
}
