package tripletprocessor

import (
	"errors"
	"fmt"
	"regexp"
	"slices"
	"time"

	"go.opentelemetry.io/collector/component"

	"github.com/otelcol-lightning/otelcol-lightning/pkg/tracetree"
)

// Config of the triplet processor.
type Config struct {
	// Store is the id of the lightningstore extension. The processor follows
	// the spans its store commits (from every door: the pipeline, /v1/traces,
	// the REST API), so spans are grouped into attempts exactly as they are
	// stored; its attempt events complete attempts at once (a runner marking
	// its attempt succeeded or failed, the watchdog timing it out), the
	// timers below cover the rest. Each attempt is built from every span the
	// store holds for it, and the triplets are written to the store at its
	// next revision. Default: lightningstore.
	Store component.ID `mapstructure:"store"`

	// Completion decides when an attempt is complete.
	Completion CompletionConfig `mapstructure:"completion"`
	// Limits bound the memory kept for triplet building.
	Limits LimitsConfig `mapstructure:"limits"`

	// LLMCallName, when set, is a regular expression on span names that
	// replaces the GenAI classifier (Agent Lightning's llm_call_match, e.g.
	// `openai\.chat\.completion`). Default: empty, classify by conventions.
	LLMCallName string `mapstructure:"llm_call_name"`
	// AgentMatch, when set, keeps only calls made inside agents whose name
	// matches this regular expression. Default: empty, every agent.
	AgentMatch string `mapstructure:"agent_match"`
	// RewardMatch is how rewards are given to calls: first_occurrence
	// (default), first_sibling, final_to_last, final_to_all or discounted.
	RewardMatch string `mapstructure:"reward_match"`
	// Discount is γ of the discounted policy: call i of n gets
	// γ^(n-1-i) × the final reward. Default: 0.99.
	Discount float64 `mapstructure:"discount"`
	// RepairHierarchy moves LLM spans recorded under the root by another
	// tracer under the agent span that encloses them. Default: true.
	RepairHierarchy bool `mapstructure:"repair_hierarchy"`
	// ExcludeRewardSubtrees ignores LLM calls inside reward spans (graders).
	// Default: true.
	ExcludeRewardSubtrees bool `mapstructure:"exclude_reward_subtrees"`
	// DedupPromptTokenIDs drops a call whose prompt token ids equal those of
	// an earlier call of the attempt (the same request traced twice), on top
	// of the dedup by response id. Default: true.
	DedupPromptTokenIDs bool `mapstructure:"dedup_prompt_token_ids"`
	// HonorRewardLinks gives a reward span that names its target call
	// (agentlightning.link.*, as the reward processor writes for evaluation
	// results and annotations) to that call, whatever the policy. Agent
	// Lightning's Python adapter ignores links. Default: true.
	HonorRewardLinks bool `mapstructure:"honor_reward_links"`
	// SkipEmptyTokenCalls drops calls without prompt or response token ids
	// before rewards are matched. Default: false.
	SkipEmptyTokenCalls bool `mapstructure:"skip_empty_token_calls"`

	_ struct{}
}

// CompletionConfig sets when an attempt counts as complete; the first rule
// that fires wins.
type CompletionConfig struct {
	// Settle: the attempt's root span has ended and no span arrived for this
	// long. Default: 2s.
	Settle time.Duration `mapstructure:"settle"`
	// IdleTimeout: no span arrived for this long. Default: 30s.
	IdleTimeout time.Duration `mapstructure:"idle_timeout"`
	// MaxDuration: this long since the attempt's first span. Default: 10m.
	MaxDuration time.Duration `mapstructure:"max_duration"`
	// Retention keeps a completed attempt's state and span ids (not its
	// spans) this long, so that a late span or GenAI log event rebuilds its
	// triplets at once; after it, a late span still rebuilds the attempt
	// once it has been quiet for settle (if the store says the attempt
	// ended) or idle_timeout. Default: 1m.
	Retention time.Duration `mapstructure:"retention"`
	// CheckInterval is how often the rules are checked. Default: 200ms.
	CheckInterval time.Duration `mapstructure:"check_interval"`
	// ResumeWindow: on start, the latest attempts of the finished rollouts
	// started within this window (the newest resumeLimit of them) that
	// have no triplets are built from the store. They ended while no
	// processor followed them: the collector stopped between an attempt's
	// end and its build, or the store ended it before the processor
	// subscribed. 0 turns the scan off. Default: 1h.
	ResumeWindow time.Duration `mapstructure:"resume_window"`

	_ struct{}
}

// LimitsConfig bounds memory.
type LimitsConfig struct {
	// MaxSpansPerAttempt: an attempt is built from its first this many
	// spans (by sequence id); further ones are stored but not followed
	// (counted). Default: 10000.
	MaxSpansPerAttempt int `mapstructure:"max_spans_per_attempt"`
	// MaxBufferedSpans bounds the span ids followed in all (about 100 bytes
	// each): above it, completed attempts are forgotten and then the oldest
	// open attempts are completed early. Default: 200000.
	MaxBufferedSpans int `mapstructure:"max_buffered_spans"`
	// MaxBufferedMiB bounds the estimated memory of the span copies kept as
	// a cache of the store until their attempt is built; a span that does
	// not fit is not cached and its attempt is read back from the store. It
	// also bounds the GenAI log events waiting for their spans. Default: 64.
	MaxBufferedMiB int `mapstructure:"max_buffered_mib"`
	// GoMemoryLimitMiB is the Go runtime's soft memory limit the processor
	// sets when it starts, unless the GOMEMLIMIT environment variable sets
	// one: 0 (default) derives it from the limits above (what they let the
	// processor hold, twice, plus 128 MiB for the rest of the collector:
	// 414 MiB with the defaults), so the heap cannot double past what the
	// configuration allows; -1 leaves the runtime alone; a positive value is
	// used as is.
	GoMemoryLimitMiB int `mapstructure:"go_memory_limit_mib"`

	_ struct{}
}

// Validate rejects configurations that cannot work.
func (c *Config) Validate() error {
	var errs []error
	if c.Store.Type().String() == "" {
		errs = append(errs, errors.New("store: must name the lightningstore extension"))
	}
	for field, expr := range map[string]string{"llm_call_name": c.LLMCallName, "agent_match": c.AgentMatch} {
		if _, err := regexp.Compile(expr); err != nil {
			errs = append(errs, fmt.Errorf("%s: invalid regular expression: %w", field, err))
		}
	}
	if !slices.Contains(tracetree.Policies, c.RewardMatch) {
		errs = append(errs, fmt.Errorf("reward_match: %q is not one of %v", c.RewardMatch, tracetree.Policies))
	}
	if c.Discount <= 0 || c.Discount > 1 {
		errs = append(errs, fmt.Errorf("discount: must be in (0, 1], got %v", c.Discount))
	}
	for field, d := range map[string]time.Duration{
		"completion.settle": c.Completion.Settle, "completion.idle_timeout": c.Completion.IdleTimeout,
		"completion.max_duration": c.Completion.MaxDuration, "completion.check_interval": c.Completion.CheckInterval,
	} {
		if d <= 0 {
			errs = append(errs, fmt.Errorf("%s: must be positive, got %s", field, d))
		}
	}
	if c.Completion.Retention < 0 {
		errs = append(errs, fmt.Errorf("completion.retention: must not be negative, got %s", c.Completion.Retention))
	}
	if c.Completion.ResumeWindow < 0 {
		errs = append(errs, fmt.Errorf("completion.resume_window: must not be negative, got %s", c.Completion.ResumeWindow))
	}
	if c.Limits.MaxSpansPerAttempt <= 0 || c.Limits.MaxBufferedSpans <= 0 || c.Limits.MaxBufferedMiB <= 0 {
		errs = append(errs, errors.New("limits: max_spans_per_attempt, max_buffered_spans and max_buffered_mib must be positive"))
	}
	if c.Limits.GoMemoryLimitMiB < -1 {
		errs = append(errs, fmt.Errorf("limits.go_memory_limit_mib: must be -1 (leave the runtime alone), 0 (derived) or a size in MiB, got %d", c.Limits.GoMemoryLimitMiB))
	}
	return errors.Join(errs...)
}
