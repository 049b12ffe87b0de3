package algorithm

import (
	"context"
	"errors"
	"fmt"
	"math"
	"time"

	"go.uber.org/zap"

	"github.com/otelcol-lightning/otelcol-lightning/pkg/dataset"
	"github.com/otelcol-lightning/otelcol-lightning/pkg/model"
)

// Dataset splits an evaluation can run on.
const (
	SplitAll   = "all"
	SplitTrain = "train"
	SplitVal   = "val"
)

// EvaluateConfig tunes Evaluate.
type EvaluateConfig struct {
	// Repeats runs every task this many times (default 1).
	Repeats int
	// Split is the part of the dataset to run: all (default), train or val.
	Split string
	// Timeout bounds the whole run; unfinished rollouts are cancelled and
	// left out (default 1h).
	Timeout time.Duration
}

// DefaultBatchTimeout bounds a batch of rollouts (Agent Lightning's
// rollout_batch_timeout).
const DefaultBatchTimeout = time.Hour

// Evaluate runs a dataset against the current resources (mode val) and
// reports the final reward per task and overall.
type Evaluate struct {
	cfg EvaluateConfig
}

var _ Algorithm = (*Evaluate)(nil)

// NewEvaluate returns the algorithm.
func NewEvaluate(cfg EvaluateConfig) *Evaluate {
	if cfg.Repeats <= 0 {
		cfg.Repeats = 1
	}
	if cfg.Split == "" {
		cfg.Split = SplitAll
	}
	if cfg.Timeout <= 0 {
		cfg.Timeout = DefaultBatchTimeout
	}
	return &Evaluate{cfg: cfg}
}

// Name implements Algorithm.
func (*Evaluate) Name() string { return NameEvaluate }

// EvaluationReport is the result of Evaluate.
type EvaluationReport struct {
	ResourcesID string `json:"resources_id"`
	Split       string `json:"split"`
	Repeats     int    `json:"repeats"`
	// Rollouts counts the rollouts enqueued; Finished those that ended in
	// time (Succeeded + Failed + cancelled ones).
	Rollouts  int `json:"rollouts"`
	Finished  int `json:"finished"`
	Succeeded int `json:"succeeded"`
	Failed    int `json:"failed"`
	// Rewarded counts finished rollouts that carried a reward; the others
	// count as 0 in the means.
	Rewarded int `json:"rewarded"`
	// Mean and Stddev (population) of the final reward over the finished
	// rollouts.
	Mean   float64      `json:"mean"`
	Stddev float64      `json:"stddev"`
	Tasks  []TaskReport `json:"tasks"`
}

// TaskReport is one task's rewards over its repeats.
type TaskReport struct {
	TaskID   string  `json:"task_id"`
	Rollouts int     `json:"rollouts"`
	Finished int     `json:"finished"`
	Mean     float64 `json:"mean"`
	Stddev   float64 `json:"stddev"`
	// Rewards lists each finished rollout's final reward (null: none).
	Rewards    []*float64 `json:"rewards"`
	RolloutIDs []string   `json:"rollout_ids"`
}

// Run enqueues the split Repeats times against the resources (the
// configured initial ones, published first, else the latest), waits and
// reports.
func (a *Evaluate) Run(ctx context.Context, env *Env) error {
	tasks, err := a.tasks(env.Dataset)
	if err != nil {
		return err
	}
	env.Progress.Start(1)
	env.Progress.SetRound(1)
	resourcesID, err := currentResources(ctx, env)
	if err != nil {
		return err
	}
	b := batch{ResourcesID: resourcesID, Mode: model.ModeVal, Metadata: map[string]any{"algorithm": NameEvaluate}}
	for range a.cfg.Repeats {
		b.Tasks = append(b.Tasks, tasks...)
	}
	env.logger().Info("Evaluation started",
		zap.Int("tasks", len(tasks)), zap.Int("repeats", a.cfg.Repeats), zap.String("resources_id", resourcesID))
	results, err := env.runBatches(ctx, []batch{b}, a.cfg.Timeout)
	if err != nil {
		return err
	}
	report := a.report(resourcesID, tasks, results[0])
	env.Progress.SetReport(report)
	env.Progress.AddScore(Score{Round: 1, Kind: ScoreEvaluation, ResourcesID: resourcesID, Mode: string(model.ModeVal),
		Rollouts: report.Rollouts, Finished: report.Finished, Score: report.Mean})
	env.Progress.SetBest(report.Mean, resourcesID, "")
	env.logger().Info("Evaluation finished",
		zap.Float64("mean", report.Mean), zap.Float64("stddev", report.Stddev),
		zap.Int("finished", report.Finished), zap.Int("rollouts", report.Rollouts), zap.String("resources_id", resourcesID))
	return nil
}

func (a *Evaluate) tasks(d dataset.Dataset) ([]dataset.Task, error) {
	var tasks []dataset.Task
	switch a.cfg.Split {
	case SplitAll:
		tasks = d.All()
	case SplitTrain:
		tasks = d.Train
	case SplitVal:
		tasks = d.Val
	default:
		return nil, fmt.Errorf("unknown split %q", a.cfg.Split)
	}
	if len(tasks) == 0 {
		return nil, fmt.Errorf("the %s split of the dataset is empty", a.cfg.Split)
	}
	return tasks, nil
}

func (a *Evaluate) report(resourcesID string, tasks []dataset.Task, res batchResult) *EvaluationReport {
	r := &EvaluationReport{ResourcesID: resourcesID, Split: a.cfg.Split, Repeats: a.cfg.Repeats, Rollouts: len(res.Results), Tasks: []TaskReport{}}
	byTask := map[string]*TaskReport{}
	var all []float64
	for _, t := range tasks {
		tr := &TaskReport{TaskID: t.ID, Rewards: []*float64{}, RolloutIDs: []string{}}
		byTask[t.ID] = tr
	}
	perTask := map[string][]float64{}
	for _, rr := range res.Results {
		tr := byTask[rr.Task.ID]
		tr.Rollouts++
		tr.RolloutIDs = append(tr.RolloutIDs, rr.RolloutID)
		if !rr.Finished {
			continue
		}
		r.Finished++
		tr.Finished++
		switch rr.Status {
		case model.RolloutSucceeded:
			r.Succeeded++
		case model.RolloutFailed:
			r.Failed++
		}
		if rr.Reward != nil {
			r.Rewarded++
		}
		tr.Rewards = append(tr.Rewards, rr.Reward)
		v := valueOr0(rr.Reward)
		all = append(all, v)
		perTask[rr.Task.ID] = append(perTask[rr.Task.ID], v)
	}
	r.Mean, r.Stddev = meanStddev(all)
	for _, t := range tasks {
		tr := byTask[t.ID]
		tr.Mean, tr.Stddev = meanStddev(perTask[t.ID])
		r.Tasks = append(r.Tasks, *tr)
	}
	return r
}

// meanStddev returns the mean and population standard deviation, 0 and 0
// for no values.
func meanStddev(xs []float64) (float64, float64) {
	if len(xs) == 0 {
		return 0, 0
	}
	var sum float64
	for _, x := range xs {
		sum += x
	}
	mean := sum / float64(len(xs))
	var sq float64
	for _, x := range xs {
		sq += (x - mean) * (x - mean)
	}
	return mean, math.Sqrt(sq / float64(len(xs)))
}

// currentResources publishes the configured initial resources, or returns
// the latest snapshot's id ("" when the store has none).
func currentResources(ctx context.Context, env *Env) (string, error) {
	if len(env.Resources) > 0 {
		snap, err := env.Store.AddResources(ctx, env.Resources)
		if err != nil {
			return "", fmt.Errorf("publish the initial resources: %w", err)
		}
		return snap.ResourcesID, nil
	}
	snap, err := env.Store.GetLatestResources(ctx)
	if err != nil {
		return "", fmt.Errorf("read the latest resources: %w", err)
	}
	if snap == nil {
		return "", nil
	}
	return snap.ResourcesID, nil
}

var errNoPrompt = errors.New("no prompt_template resource to optimise")
