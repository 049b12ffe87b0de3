package dashboard

import (
	"encoding/json"
	"fmt"
	"sort"
	"strings"

	"github.com/otelcol-lightning/otelcol-lightning/pkg/model"
)

// Cause names why an attempt has no triplet or no reward.
type Cause string

// The causes Diagnose reports, each with a one-sentence fix.
const (
	// CauseNoSpans: the store holds no span for the attempt.
	CauseNoSpans Cause = "no_spans"
	// CauseNotCompleted: the attempt is still preparing or running, so no
	// triplet is final (and none may be built yet).
	CauseNotCompleted Cause = "attempt_not_completed"
	// CauseNoLLMCall: spans arrived but none is recognised as an LLM call.
	CauseNoLLMCall Cause = "no_llm_call"
	// CauseNoReward: no span carries a reward.
	CauseNoReward Cause = "no_reward"
	// CauseRewardUnmatched: a reward arrived but no triplet carries it.
	CauseRewardUnmatched Cause = "reward_matched_no_call"
	// CauseNoTokenIDs: LLM calls without prompt or response token ids.
	CauseNoTokenIDs Cause = "calls_without_token_ids"
	// CauseNoTriplets: the attempt finished with LLM calls but has no
	// triplets.
	CauseNoTriplets Cause = "no_triplets"
	// CauseParseProblems: values of LLM spans the parser had to skip.
	CauseParseProblems Cause = "unreadable_values"
	// CauseTruncated: the attempt has more spans than the page reads.
	CauseTruncated Cause = "spans_truncated"
)

// Severity tells whether a finding keeps the attempt out of training data.
type Severity string

const (
	SeverityError Severity = "error" // no usable triplet / reward
	SeverityWarn  Severity = "warn"  // usable for some algorithms only
	SeverityInfo  Severity = "info"
)

// NameCount is a span name seen, with how often.
type NameCount struct {
	Name  string `json:"name"`
	Count int    `json:"count"`
}

// Finding is one diagnosis: what is missing, the evidence, and the fix.
type Finding struct {
	Cause    Cause    `json:"cause"`
	Severity Severity `json:"severity"`
	Title    string   `json:"title"`
	Detail   string   `json:"detail"`
	Fix      string   `json:"fix"`
	// Names are the span names seen (no_llm_call), Families the attribute
	// families (conventions) present on the spans.
	Names    []NameCount `json:"names,omitempty"`
	Families []string    `json:"families,omitempty"`
	Count    int         `json:"count,omitempty"`
}

// Input is one attempt as the store holds it.
type Input struct {
	Rollout   *model.Rollout
	Attempt   *model.Attempt
	Spans     []model.Span
	Truncated bool
	Triplets  []model.TripletRecord
	parsed    []parsedSpan
}

// attributeFamilies are the key prefixes that tell which instrumentation
// convention produced a span; shown when none of them made an LLM call.
var attributeFamilies = []string{
	"gen_ai.", "llm.", "openinference.", "ai.", "agentops.", "traceloop.", "pydantic_ai.", "logfire.",
	"litellm", "agentlightning.operation", "agentlightning.reward", "input.value", "output.value", "http.", "rpc.",
}

// Diagnose explains why the attempt has no triplet or no reward. An empty
// result means it has triplets with a reward and token ids.
func Diagnose(in Input) []Finding {
	out := []Finding{}
	if in.parsed == nil && len(in.Spans) > 0 {
		in.parse()
	}
	a := in.Attempt
	if a == nil {
		return append(out, Finding{
			Cause: CauseNotCompleted, Severity: SeverityError, Title: "No attempt yet",
			Detail: fmt.Sprintf("Rollout %s is %s and has never been started by a runner.", in.Rollout.RolloutID, in.Rollout.Status),
			Fix:    "Start a runner (or the trainer's dispatcher) that dequeues rollouts from this store.",
		})
	}
	tokens := tripletTokens(in.Triplets)
	var calls, rewardSpans, withoutTokens int
	for i, p := range in.parsed {
		if p.llm {
			calls++
			has := tokens[in.Spans[i].SpanID]
			if p.call != nil {
				has = len(p.call.PromptTokenIDs) > 0 && len(p.call.ResponseTokenIDs) > 0
			}
			if !has {
				withoutTokens++
			}
		}
		if p.reward != nil {
			rewardSpans++
		}
	}
	rewarded := 0
	for _, t := range in.Triplets {
		if t.Triplet.Reward != nil {
			rewarded++
		}
	}
	finished := a.Status.Ended()

	if len(in.Spans) == 0 {
		out = append(out, Finding{
			Cause: CauseNoSpans, Severity: SeverityError, Title: "No spans stored for this attempt",
			Detail: fmt.Sprintf("Attempt %s is %s and the store holds no span labelled with it.", a.AttemptID, a.Status),
			Fix: "Point the agent's OTLP exporter at the collector and label its spans with agentlightning.rollout_id " +
				"and agentlightning.attempt_id (resource attributes), as Agent Lightning's runner does.",
		})
	}
	if !finished {
		out = append(out, Finding{
			Cause: CauseNotCompleted, Severity: SeverityError, Title: "Attempt never completed",
			Detail: fmt.Sprintf("Attempt %s is %s. It completes when a runner sets it to succeeded or failed "+
				"(POST /v1/agl/rollouts/%s/attempts/%s), when the watchdog times it out (the rollout's timeout_seconds "+
				"or unresponsive_seconds), for a rollout created from spans when the lightningstore extension's "+
				"identity.auto_complete fires (its root span ended and settle passed → succeeded; idle_timeout "+
				"without a root or a new span → timeout), or, for triplets, when the triplet processor's completion rules fire "+
				"(the root span ended and completion.settle passed, or completion.idle_timeout without new spans).",
				a.AttemptID, a.Status, in.Rollout.RolloutID, a.AttemptID),
			Fix: "Have the runner report the attempt's end (agl's runner does after the agent returns), or give the " +
				"rollout a timeout_seconds so the watchdog ends it.",
		})
	}
	if len(in.Spans) > 0 && calls == 0 {
		out = append(out, Finding{
			Cause: CauseNoLLMCall, Severity: SeverityError, Title: "No span recognised as an LLM call",
			Detail: fmt.Sprintf("None of the %d spans matched a GenAI convention (gen_ai.operation.name, "+
				"openinference.span.kind=LLM, llm.request.type, agentops.span.kind=llm, Vercel ai.*.doGenerate, "+
				"or a model-call span name).", len(in.Spans)),
			Fix: "Instrument the model client with an OpenTelemetry GenAI instrumentation (for example " +
				"opentelemetry-instrumentation-openai-v2, OpenInference or OpenLLMetry), or set the triplet processor's " +
				"llm_call_name to a regular expression matching your model-call span names.",
			Names: topNames(in.Spans, 10), Families: families(in.Spans),
		})
	}
	switch {
	case len(in.Spans) > 0 && rewardSpans == 0 && rewarded == 0:
		out = append(out, Finding{
			Cause: CauseNoReward, Severity: SeverityError, Title: "No reward emitted",
			Detail: "No span of the attempt carries a reward (agentlightning.reward.*, an evaluation result, " +
				"an AgentOps or annotation reward).",
			Fix: "Emit the reward from the agent (agl.emit_reward, or a span with agentlightning.reward.0.name / " +
				".value) before the attempt ends.",
		})
	case rewardSpans > 0 && rewarded == 0 && len(in.Triplets) > 0:
		// With triplets but none rewarded, the matching is what failed (no
		// triplets at all is reported as such).
		out = append(out, Finding{
			Cause: CauseRewardUnmatched, Severity: SeverityError, Title: "Reward matched no LLM call",
			Detail: fmt.Sprintf("%d span(s) carry a reward and %d LLM call(s) were found, but no triplet got a reward. "+
				"Rewards are given to calls by the triplet processor's reward_match policy (first_occurrence by "+
				"default: each reward goes to the latest call that ended before the reward span started and has no "+
				"reward yet), so a reward emitted before or during the calls, or only inside excluded grader "+
				"subtrees, matches nothing.", rewardSpans, calls),
			Fix: "Emit the reward after the LLM calls it scores, in the same attempt, or set the triplet processor's " +
				"reward_match to final_to_last (or final_to_all).",
			Count: rewardSpans,
		})
	}
	if withoutTokens > 0 {
		out = append(out, Finding{
			Cause: CauseNoTokenIDs, Severity: SeverityWarn, Title: "LLM calls without token ids",
			Detail: fmt.Sprintf("%d of %d LLM call(s) have no prompt or response token ids, so RL exports "+
				"(trajectories) leave them out. Token ids come from the model server: vLLM returns them when asked "+
				"(return_token_ids, as Agent Lightning's LLM proxy asks), and the collector's llmproxy receiver "+
				"records them on the call's span when the agent's model traffic goes through it.", withoutTokens, calls),
			Fix: "Send the agent's model requests through the llmproxy receiver in front of a vLLM server " +
				"(or any server returning prompt_token_ids and token ids).",
			Count: withoutTokens,
		})
	}
	if finished && calls > 0 && len(in.Triplets) == 0 {
		out = append(out, Finding{
			Cause: CauseNoTriplets, Severity: SeverityError, Title: "Attempt finished but has no triplets",
			Detail: fmt.Sprintf("The attempt is %s with %d LLM call(s), and the store holds no triplet for it.", a.Status, calls),
			Fix: "Add the triplet processor (with store: lightningstore) to the traces pipeline; if it is there, " +
				"check its processor_triplet_build_failures metric and its agent_match / skip_empty_token_calls settings.",
			Count: calls,
		})
	}
	if problems := parseProblems(in.parsed); len(problems) > 0 {
		out = append(out, Finding{
			Cause: CauseParseProblems, Severity: SeverityInfo, Title: "Values the GenAI parser skipped",
			Detail: "Some attribute values of LLM spans could not be used: " + strings.Join(problems, "; ") + ".",
			Fix:    "Fix the instrumentation's attribute encoding (valid JSON, within the size and depth limits).",
			Count:  len(problems),
		})
	}
	if in.Truncated {
		out = append(out, Finding{
			Cause: CauseTruncated, Severity: SeverityInfo, Title: "Attempt cut for display",
			Detail: fmt.Sprintf("Only the first %d spans are read for this page.", maxSpans),
			Fix:    "Read the spans through /v1/agl/spans/search with a limit and offset.",
		})
	}
	return out
}

// tripletTokens tells, by span id, whether a call's triplet has both prompt
// and response token ids.
func tripletTokens(ts []model.TripletRecord) map[string]bool {
	out := make(map[string]bool, len(ts))
	for _, t := range ts {
		var side struct {
			TokenIDs []json.RawMessage `json:"token_ids"`
		}
		prompt := json.Unmarshal(t.Triplet.Prompt, &side) == nil && len(side.TokenIDs) > 0
		side.TokenIDs = nil
		response := json.Unmarshal(t.Triplet.Response, &side) == nil && len(side.TokenIDs) > 0
		out[t.SpanID] = prompt && response
	}
	return out
}

func families(spans []model.Span) []string {
	seen := map[string]bool{}
	for _, sp := range spans {
		for key := range sp.Attributes {
			for _, f := range attributeFamilies {
				if strings.HasPrefix(key, f) {
					seen[strings.TrimSuffix(f, ".")] = true
				}
			}
		}
	}
	out := make([]string, 0, len(seen))
	for f := range seen {
		out = append(out, f)
	}
	sort.Strings(out)
	return out
}

func parseProblems(parsed []parsedSpan) []string {
	var out []string
	for _, p := range parsed {
		for _, w := range p.stats.Warnings {
			out = append(out, w.String())
			if len(out) == 5 {
				return out
			}
		}
	}
	return out
}
