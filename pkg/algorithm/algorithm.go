// Package algorithm holds the training algorithms the collector runs in its
// trainer loop (agent-lightning-spec.md §7): Evaluate runs a dataset against
// the current resources and reports its rewards, APO is Agent Lightning's
// automatic prompt optimization (beam search over prompt templates with
// textual gradients), None does nothing (the store is hosted for external
// trainers).
//
// Like Agent Lightning's algorithms they talk to the rest of the system only
// through the store: they publish resources, enqueue rollouts, wait for them
// and read their rewards from the spans. Whoever runs the rollouts (the
// collector's own dispatch workers, or Agent Lightning runners pulling over
// REST) is invisible to them.
package algorithm // import "github.com/otelcol-lightning/otelcol-lightning/pkg/algorithm"

import (
	"context"
	"time"

	"go.uber.org/zap"

	"github.com/otelcol-lightning/otelcol-lightning/pkg/dataset"
	"github.com/otelcol-lightning/otelcol-lightning/pkg/model"
	"github.com/otelcol-lightning/otelcol-lightning/pkg/store"
)

// Names of the algorithms.
const (
	NameNone     = "none"
	NameEvaluate = "evaluate"
	NameAPO      = "apo"
)

// Algorithm is one training or evaluation procedure.
type Algorithm interface {
	// Name is the configured name (NameEvaluate, ...).
	Name() string
	// Run runs to completion or until ctx ends, reporting through
	// env.Progress. Its error is the run's failure reason.
	Run(ctx context.Context, env *Env) error
}

// Env is what an algorithm works with.
type Env struct {
	// Store holds rollouts, spans and resources.
	Store store.Store
	// Dataset is the tasks, split into train and val.
	Dataset dataset.Dataset
	// Resources, when not empty, is the initial set of named resources;
	// otherwise the store's latest snapshot is used.
	Resources model.NamedResources
	// RolloutConfig is given to every rollout the algorithm enqueues
	// (timeouts, retries); nil takes the store's default.
	RolloutConfig *model.RolloutConfig
	// LLM is the chat model of algorithms that need one (APO).
	LLM ChatClient
	// Logger receives progress lines.
	Logger *zap.Logger
	// Metrics receives per-rollout and per-resources scores; may be nil.
	Metrics Metrics
	// Progress is where the run's state is published; must not be nil.
	Progress *Progress
	// Notify, when set, is called after rollouts are enqueued (it wakes
	// in-process dispatch workers).
	Notify func()
	// RewardSettle is how long a finished rollout without a reward is
	// re-read, for reward spans still in the collector's pipeline (agents
	// export asynchronously). Default 2s.
	RewardSettle time.Duration
}

// Metrics is told about scores as they are computed. Its methods must not
// block.
type Metrics interface {
	// RolloutScored is called once per finished rollout the algorithm reads;
	// hasReward is false when it carried none (scored 0).
	RolloutScored(resourcesID string, status model.RolloutStatus, reward float64, hasReward bool)
	// ResourcesScored is called with the mean reward of a batch run against
	// one resources snapshot.
	ResourcesScored(resourcesID string, score float64)
}

// DefaultRewardSettle is Env.RewardSettle's default.
const DefaultRewardSettle = 2 * time.Second

func (e *Env) logger() *zap.Logger {
	if e.Logger == nil {
		return zap.NewNop()
	}
	return e.Logger
}

// None hosts the store and runs nothing: external trainers (Agent
// Lightning algorithms over REST) drive the loop.
type None struct{}

// Name implements Algorithm.
func (None) Name() string { return NameNone }

// Run implements Algorithm; it returns at once.
func (None) Run(context.Context, *Env) error { return nil }
