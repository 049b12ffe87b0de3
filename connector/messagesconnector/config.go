package messagesconnector // import "github.com/otelcol-lightning/otelcol-lightning/connector/messagesconnector"

import (
	"errors"
	"fmt"
	"regexp"
	"time"

	"go.opentelemetry.io/collector/component"
	"go.opentelemetry.io/collector/confmap"
)

// BodyFormat is how the OpenAI record is put in the log record body.
type BodyFormat string

const (
	// BodyFormatMap writes the record as a structured map (the default):
	// exporters that understand structured bodies keep it as JSON.
	BodyFormatMap BodyFormat = "map"
	// BodyFormatJSONString writes the record as one JSON string, for
	// backends that index string bodies only.
	BodyFormatJSONString BodyFormat = "json_string"
)

// Config defines the configuration of the messages connector.
type Config struct {
	// IncludeTools puts the tool definitions offered to the model in the
	// body's "tools" (null when none were offered). When false, "tools" is
	// always null. Default: true.
	IncludeTools bool `mapstructure:"include_tools"`

	// IncludeTokenIDs adds the prompt and response token ids and the
	// response logprobs, when the model server returned them, as the
	// attributes agentlightning.prompt_token_ids,
	// agentlightning.response_token_ids and agentlightning.response_logprobs.
	// They let the trajectories export work without the triplet processor,
	// at the cost of records that grow with the prompt. Default: false.
	IncludeTokenIDs bool `mapstructure:"include_token_ids"`

	// BodyFormat is "map" (default) or "json_string".
	BodyFormat BodyFormat `mapstructure:"body_format"`

	// SkipEmpty drops calls in which the parser found no message, tool or
	// completion (content capture switched off in the instrumentation);
	// they are counted as skipped with reason no_content. Default: true.
	SkipEmpty bool `mapstructure:"skip_empty"`

	// LLMCallName, when set, is a regular expression on span names that
	// replaces the GenAI classifier (Agent Lightning's llm_call_match, e.g.
	// `openai\.chat\.completion`). Default: empty, classify by conventions.
	LLMCallName string `mapstructure:"llm_call_name"`

	// LLMCallNameFallback, when set, replaces only the last rule of the
	// GenAI classifier, the span-name fallback (genai.DefaultNameFallback):
	// attribute-based rules still apply first. For instrumentations that
	// name their call spans in a way the classifier does not know, e.g.
	// `openai\.chat\.completion` for Agent Lightning's Weave spans
	// (openai.chat.completions.create). Cannot be combined with
	// llm_call_name. Default: empty.
	LLMCallNameFallback string `mapstructure:"llm_call_name_fallback"`

	// Store is the id of the lightningstore extension whose identity policy
	// decides the rollout of spans that name none, so records and spans land
	// in the same rollout as the lightningstore exporter files them. With
	// its unlabeled: drop, calls that name no rollout are skipped (reason
	// unlabeled). Default: lightningstore.
	Store component.ID `mapstructure:"store"`

	// DedupCacheSize is how many recent (rollout, attempt, response id)
	// keys are remembered to drop a second span of the same call arriving
	// in a later batch (LiteLLM's litellm_request and raw_gen_ai_request,
	// an SDK span inside a framework span). Within a batch duplicates are
	// always dropped. 0 disables the cross-batch cache. Default: 16384.
	DedupCacheSize int `mapstructure:"dedup_cache_size"`

	// LogEventsWait is how long a call whose span carries no content waits
	// for the GenAI log events that carry it (gen_ai.user.message,
	// gen_ai.choice, gen_ai.client.inference.operation.details: the official
	// OpenAI instrumentation's default and event_only modes), and how long
	// events wait for their span. It applies when the connector is also the
	// exporter of a logs pipeline that receives those events; 0 disables
	// the join. Default: 5s.
	LogEventsWait time.Duration `mapstructure:"log_events_wait"`

	// prevent unkeyed literal initialization
	_ struct{}
}

var _ confmap.Validator = (*Config)(nil)

// Validate rejects settings that cannot work, naming the field.
func (c *Config) Validate() error {
	var errs []error
	switch c.BodyFormat {
	case BodyFormatMap, BodyFormatJSONString:
	default:
		errs = append(errs, fmt.Errorf("body_format: %q is not one of %q, %q", c.BodyFormat, BodyFormatMap, BodyFormatJSONString))
	}
	if c.LLMCallName != "" {
		if _, err := regexp.Compile(c.LLMCallName); err != nil {
			errs = append(errs, fmt.Errorf("llm_call_name: %w", err))
		}
	}
	if c.LLMCallNameFallback != "" {
		if _, err := regexp.Compile(c.LLMCallNameFallback); err != nil {
			errs = append(errs, fmt.Errorf("llm_call_name_fallback: %w", err))
		}
		if c.LLMCallName != "" {
			errs = append(errs, errors.New("llm_call_name_fallback: cannot be combined with llm_call_name, which replaces every rule"))
		}
	}
	if c.LogEventsWait < 0 {
		errs = append(errs, fmt.Errorf("log_events_wait: must be 0 or more, got %s", c.LogEventsWait))
	}
	if c.DedupCacheSize < 0 {
		errs = append(errs, fmt.Errorf("dedup_cache_size: must be 0 or more, got %d", c.DedupCacheSize))
	}
	if c.Store.Type().String() == "" {
		errs = append(errs, errors.New("store: must name the lightningstore extension"))
	}
	return errors.Join(errs...)
}
