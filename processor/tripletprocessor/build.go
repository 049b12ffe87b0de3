package tripletprocessor

import (
	"encoding/json"
	"fmt"
	"iter"
	"regexp"
	"strconv"
	"strings"

	"github.com/otelcol-lightning/otelcol-lightning/pkg/genai"
	"github.com/otelcol-lightning/otelcol-lightning/pkg/model"
	"github.com/otelcol-lightning/otelcol-lightning/pkg/rewards"
	"github.com/otelcol-lightning/otelcol-lightning/pkg/tracetree"
)

// builder turns the spans of one attempt into triplets.
type builder struct {
	cfg        *Config
	events     *eventStore
	parseOpts  []genai.Option
	agentMatch *regexp.Regexp
}

func newBuilder(cfg *Config, events *eventStore) (*builder, error) {
	b := &builder{cfg: cfg, events: events}
	if cfg.LLMCallName != "" {
		re, err := regexp.Compile(cfg.LLMCallName)
		if err != nil {
			return nil, fmt.Errorf("llm_call_name: %w", err)
		}
		b.parseOpts = append(b.parseOpts, genai.WithNameMatchOnly(re))
	}
	if cfg.AgentMatch != "" {
		re, err := regexp.Compile(cfg.AgentMatch)
		if err != nil {
			return nil, fmt.Errorf("agent_match: %w", err)
		}
		b.agentMatch = re
	}
	return b, nil
}

// builtTriplet is a triplet with the call span it came from.
type builtTriplet struct {
	call    *model.Span
	triplet model.Triplet
}

// build runs Agent Lightning's adapter steps on one attempt: tree, repair,
// call finding with dedup, optional empty-token filter, reward matching.
func (b *builder) build(spans []model.Span) ([]builtTriplet, error) {
	if len(spans) == 0 {
		return nil, nil
	}
	root, _, err := tracetree.Build(spans)
	if err != nil {
		return nil, err
	}
	if b.cfg.RepairHierarchy {
		tracetree.Repair(root)
	}
	parsed := map[*model.Span]*genai.Call{}
	parse := func(s *model.Span) *genai.Call {
		if c, ok := parsed[s]; ok {
			return c
		}
		opts := b.parseOpts
		if b.events != nil {
			if evs := b.events.get(s.SpanID); len(evs) > 0 {
				opts = append(append([]genai.Option(nil), opts...), genai.WithLogEvents(evs))
			}
		}
		c, _ := genai.ParseSpan(*s, opts...)
		parsed[s] = c
		return c
	}
	opts := tracetree.FindOptions{
		IsLLMCall:  func(s *model.Span) bool { return genai.IsLLMCallSpan(*s, b.parseOpts...) },
		AgentMatch: b.agentMatch,
	}
	if b.cfg.ExcludeRewardSubtrees {
		opts.IsRewardSpan = isRewardSpan
	}
	// The parser's response id: the attribute, else the id inside a
	// recorded response body, which is the only place some
	// instrumentations put it.
	opts.ResponseID = func(s *model.Span) string { return parse(s).ResponseID }
	if b.cfg.DedupPromptTokenIDs {
		opts.PromptKey = func(s *model.Span) string { return tokenKey(parse(s).PromptTokenIDs) }
	}
	calls := tracetree.FindLLMCalls(root, opts)
	fillTokensFromDuplicates(calls, spans, parse, opts.IsLLMCall)
	if b.cfg.SkipEmptyTokenCalls {
		calls = withTokens(calls, parse)
	}
	match := tracetree.MatchOptions{Policy: b.cfg.RewardMatch, Reward: rewardValue, Gamma: b.cfg.Discount}
	if b.cfg.HonorRewardLinks {
		match.Links = func(reward *model.Span) func(*model.Span) bool { return linkedCalls(reward, parse) }
	}
	err = tracetree.MatchRewards(root, calls, spans, match)
	if err != nil {
		return nil, err
	}
	out := make([]builtTriplet, 0, len(calls))
	for _, c := range calls {
		parse(c.Node.Span).AttachChildToolCallsModel(childAttributes(c.Node))
		t, err := toTriplet(parse(c.Node.Span), c)
		if err != nil {
			return nil, err
		}
		out = append(out, builtTriplet{call: c.Node.Span, triplet: t})
	}
	return out, nil
}

// fillTokensFromDuplicates gives a call without token ids those of another
// span of the same response: when two instrumentations record one request
// (OpenLLMetry's span around OpenInference's), dedup keeps the outer span,
// but the inner one may be the one that read the token ids from the body.
func fillTokensFromDuplicates(calls []tracetree.Call, spans []model.Span, parse func(*model.Span) *genai.Call, isLLM func(*model.Span) bool) {
	missing := map[string]*genai.Call{}
	for _, c := range calls {
		p := parse(c.Node.Span)
		id := firstNonEmpty(c.ResponseID, p.ResponseID)
		if id != "" && (len(p.PromptTokenIDs) == 0 || len(p.ResponseTokenIDs) == 0) {
			missing[id] = p
		}
	}
	if len(missing) == 0 {
		return
	}
	for i := range spans {
		if !isLLM(&spans[i]) {
			continue
		}
		// The response id may sit in the attributes or only in a recorded
		// response body (OpenInference's output.value).
		src := parse(&spans[i])
		target, ok := missing[firstNonEmpty(tracetree.ResponseID(&spans[i]), src.ResponseID)]
		if !ok || src == target {
			continue
		}
		if len(target.PromptTokenIDs) == 0 {
			target.PromptTokenIDs = src.PromptTokenIDs
		}
		if len(target.ResponseTokenIDs) == 0 {
			target.ResponseTokenIDs = src.ResponseTokenIDs
		}
	}
}

// childAttributes yields the attributes of n's children, where AgentOps
// (and so Agent Lightning's own tracer) records the tool calls a call made
// without listing them (genai.Call.AttachChildToolCallsModel).
func childAttributes(n *tracetree.Node) iter.Seq[model.Attributes] {
	return func(yield func(model.Attributes) bool) {
		for _, child := range n.Children {
			if !yield(child.Span.Attributes) {
				return
			}
		}
	}
}

func isRewardSpan(s *model.Span) bool {
	a := rewards.FromModel(s.Attributes)
	return rewards.IsRewardSpan(s.Name, a) || rewards.IsRewardOperation(s.Name, a)
}

func rewardValue(s *model.Span) *float64 {
	v, ok, err := rewards.Value(s.Name, rewards.FromModel(s.Attributes))
	if err != nil || !ok {
		return nil
	}
	return &v
}

// linkedCalls selects the calls a reward span names through
// agentlightning.link.* (by response id, span id or any attribute).
func linkedCalls(reward *model.Span, parse func(*model.Span) *genai.Call) func(*model.Span) bool {
	links, err := rewards.Links(rewards.FromModel(reward.Attributes))
	if err != nil || len(links) == 0 {
		return nil
	}
	return func(call *model.Span) bool {
		return rewards.MatchLinks(links, call.TraceID, call.SpanID,
			rewards.WithResponseID(rewards.FromModel(call.Attributes), parse(call).ResponseID))
	}
}

func tokenKey(ids []int64) string {
	if len(ids) == 0 {
		return ""
	}
	var sb strings.Builder
	for _, id := range ids {
		sb.WriteString(strconv.FormatInt(id, 10))
		sb.WriteByte(',')
	}
	return sb.String()
}

func withTokens(calls []tracetree.Call, parse func(*model.Span) *genai.Call) []tracetree.Call {
	kept := calls[:0]
	for _, c := range calls {
		p := parse(c.Node.Span)
		if len(p.PromptTokenIDs) > 0 && len(p.ResponseTokenIDs) > 0 {
			kept = append(kept, c)
		}
	}
	return kept
}

// tripletPrompt and tripletResponse are Agent Lightning's triplet shapes
// (TracerTraceToTriplet) plus the OpenAI-format messages.
type tripletPrompt struct {
	TokenIDs   []int64         `json:"token_ids"`
	RawContent any             `json:"raw_content"`
	ImageURLs  []string        `json:"image_urls"`
	Messages   []genai.Message `json:"messages"`
	Tools      []genai.Tool    `json:"tools,omitempty"`
}

type tripletResponse struct {
	TokenIDs   []int64           `json:"token_ids"`
	RawContent any               `json:"raw_content"`
	Logprobs   json.RawMessage   `json:"logprobs,omitempty"`
	Message    *genai.Completion `json:"message"`
}

type tripletMetadata struct {
	Request    any     `json:"request"`
	Response   any     `json:"response"`
	ResponseID *string `json:"response_id"`
	AgentName  string  `json:"agent_name"`
	Model      string  `json:"model,omitempty"`
	Convention string  `json:"convention,omitempty"`
}

func toTriplet(c *genai.Call, call tracetree.Call) (model.Triplet, error) {
	prompt := tripletPrompt{
		TokenIDs: nonNil(c.PromptTokenIDs), RawContent: c.Raw.Prompt, ImageURLs: c.Raw.ImageURLs,
		Messages: c.PromptMessages(), Tools: c.Tools,
	}
	if prompt.ImageURLs == nil {
		prompt.ImageURLs = []string{}
	}
	response := tripletResponse{
		TokenIDs: nonNil(c.ResponseTokenIDs), RawContent: c.Raw.Completion, Logprobs: c.Logprobs, Message: c.Completion(),
	}
	meta := tripletMetadata{
		Request: c.Raw.Request, Response: c.Raw.Response, AgentName: call.AgentName,
		Model: c.Model(), Convention: string(c.Convention),
	}
	if id := firstNonEmpty(call.ResponseID, c.ResponseID); id != "" {
		meta.ResponseID = &id
	}
	var t model.Triplet
	var err error
	if t.Prompt, err = json.Marshal(prompt); err != nil {
		return t, fmt.Errorf("encode prompt: %w", err)
	}
	if t.Response, err = json.Marshal(response); err != nil {
		return t, fmt.Errorf("encode response: %w", err)
	}
	if t.Metadata, err = json.Marshal(meta); err != nil {
		return t, fmt.Errorf("encode metadata: %w", err)
	}
	t.Reward = call.Reward
	return t, nil
}

func nonNil(ids []int64) []int64 {
	if ids == nil {
		return []int64{}
	}
	return ids
}

func firstNonEmpty(vs ...string) string {
	for _, v := range vs {
		if v != "" {
			return v
		}
	}
	return ""
}
