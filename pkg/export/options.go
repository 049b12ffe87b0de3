package export

import (
	"errors"
	"fmt"
	"math"

	"github.com/otelcol-lightning/otelcol-lightning/pkg/model"
)

// Format is a dataset format.
type Format string

// The formats; docs/exports.md documents their schemas.
const (
	// FormatSFT is OpenAI fine-tuning JSONL: {"messages": [...], "tools": [...]}.
	FormatSFT Format = "sft"
	// FormatTriplets is one Agent Lightning triplet per line, with its ids.
	FormatTriplets Format = "triplets"
	// FormatTrajectories is one token-level training row per line
	// (prompt_ids, response_ids, loss_mask, logprobs, reward).
	FormatTrajectories Format = "trajectories"
)

// Formats lists the valid formats.
var Formats = []Format{FormatSFT, FormatTriplets, FormatTrajectories}

// Granularity of the SFT format.
const (
	// GranularityConversation writes one line per attempt: the last call,
	// whose prompt holds the whole history, plus its completion.
	GranularityConversation = "conversation"
	// GranularityCall writes one line per LLM call.
	GranularityCall = "call"
)

// Which attempts of a rollout are exported.
const (
	AttemptsLatest = "latest"
	AttemptsAll    = "all"
)

// DefaultPageSize is how many rollouts are read from the store at a time.
const DefaultPageSize = 100

// Filter selects the rollouts and attempts to export. Zero fields do not
// filter.
type Filter struct {
	// Statuses keeps rollouts in one of these statuses.
	Statuses []model.RolloutStatus
	// Modes keeps rollouts with one of these modes (train, val, test).
	Modes []model.RolloutMode
	// StartedAfter and StartedBefore keep rollouts whose start_time (Unix
	// seconds) is >= StartedAfter and < StartedBefore.
	StartedAfter  *float64
	StartedBefore *float64
	// ResourcesID keeps rollouts run with this resources snapshot.
	ResourcesID *string
	// RolloutIDs keeps only these rollouts.
	RolloutIDs []string
	// MinReward keeps attempts whose reward is at least this value;
	// attempts without a reward are then left out.
	MinReward *float64
}

// Options configure one export.
type Options struct {
	Format Format
	Filter Filter
	// Attempts is AttemptsLatest (default) or AttemptsAll.
	Attempts string
	// Granularity is for FormatSFT: GranularityConversation (default) or
	// GranularityCall.
	Granularity string
	// PageSize is how many rollouts are read at a time (default
	// DefaultPageSize).
	PageSize int
}

// WithDefaults fills the empty fields.
func (o Options) WithDefaults() Options {
	if o.Attempts == "" {
		o.Attempts = AttemptsLatest
	}
	if o.Granularity == "" {
		o.Granularity = GranularityConversation
	}
	if o.PageSize <= 0 {
		o.PageSize = DefaultPageSize
	}
	return o
}

// Validate reports unusable options, naming the parameter.
func (o Options) Validate() error {
	var errs []error
	switch o.Format {
	case FormatSFT, FormatTriplets, FormatTrajectories:
	default:
		errs = append(errs, fmt.Errorf("format: %q is not one of %q, %q, %q", o.Format, FormatSFT, FormatTriplets, FormatTrajectories))
	}
	switch o.Attempts {
	case "", AttemptsLatest, AttemptsAll:
	default:
		errs = append(errs, fmt.Errorf("attempts: %q is not one of %q, %q", o.Attempts, AttemptsLatest, AttemptsAll))
	}
	switch o.Granularity {
	case "", GranularityConversation, GranularityCall:
	default:
		errs = append(errs, fmt.Errorf("granularity: %q is not one of %q, %q", o.Granularity, GranularityConversation, GranularityCall))
	}
	for _, s := range o.Filter.Statuses {
		if !s.Valid() {
			errs = append(errs, fmt.Errorf("status: %q is not a rollout status", s))
		}
	}
	for _, m := range o.Filter.Modes {
		if !m.Valid() {
			errs = append(errs, fmt.Errorf("mode: %q is not one of train, val, test", m))
		}
	}
	for name, v := range map[string]*float64{"started_after": o.Filter.StartedAfter, "started_before": o.Filter.StartedBefore, "min_reward": o.Filter.MinReward} {
		if v != nil && (math.IsNaN(*v) || math.IsInf(*v, 0)) {
			errs = append(errs, fmt.Errorf("%s: must be a finite number", name))
		}
	}
	return errors.Join(errs...)
}

// Summary reports what an export did. Lines is what was written; the other
// counters say what was left out and why, so nothing is dropped silently.
type Summary struct {
	Format   Format `json:"format"`
	Lines    int    `json:"lines"`
	Rollouts int    `json:"rollouts"`
	Attempts int    `json:"attempts"`
	// RolloutsWithoutAttempt matched the filter but have no attempt yet.
	RolloutsWithoutAttempt int `json:"rollouts_without_attempt"`
	// AttemptsWithoutReward and AttemptsBelowMinReward were left out by
	// min_reward.
	AttemptsWithoutReward  int `json:"attempts_without_reward"`
	AttemptsBelowMinReward int `json:"attempts_below_min_reward"`
	// AttemptsWithoutData have no message (sft) or triplet (triplets,
	// trajectories) in the store.
	AttemptsWithoutData int `json:"attempts_without_data"`
	// CallsWithoutCompletion are LLM calls (sft) whose output is unknown;
	// they make no training line.
	CallsWithoutCompletion int `json:"calls_without_completion"`
	// CallsWithoutTokenIDs are LLM calls (trajectories) without prompt or
	// response token ids; they are in no row, and the row before them ends.
	CallsWithoutTokenIDs int `json:"calls_without_token_ids"`
	// SpansWithoutTokenIDs lists the span ids of the first such calls.
	SpansWithoutTokenIDs []string `json:"spans_without_token_ids,omitempty"`
	// LogprobsDropped counts rows whose logprobs are null because some of
	// their calls had logprobs and others had none, or not one per token.
	LogprobsDropped int `json:"logprobs_dropped"`
}

// maxListedSpans bounds Summary.SpansWithoutTokenIDs.
const maxListedSpans = 20
