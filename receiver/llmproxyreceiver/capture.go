package llmproxyreceiver

import (
	"bytes"
	"encoding/json"
	"sort"
	"strings"
)

// The two OpenAI APIs the proxy captures tokens for.
const (
	apiChat        = "chat/completions"
	apiCompletions = "completions"
)

// plan is what the proxy asked the upstream for on top of the client's
// request, and therefore what it must strip from the answer.
type plan struct {
	api    string
	kind   string
	stream bool
	// tokenIDs: return_token_ids was injected (the client did not ask).
	tokenIDs bool
	// sglext: return_input_ids / return_output_ids were injected (SGLang
	// streamed chat).
	sglext bool
	// logprobs: log-probs were injected (train mode, the client did not
	// ask).
	logprobs bool
	// usage: stream_options.include_usage was injected.
	usage bool
	// captures says whether the upstream can return token ids at all.
	captures bool
}

var (
	jsonTrue = []byte("true")
	jsonNull = []byte("null")
)

// prepareRequest returns the body sent upstream: the client's, plus the
// fields that make a vLLM or SGLang server return token ids (and log-probs
// in train mode, and usage in streams). Fields the client set itself are
// left alone.
func prepareRequest(api, kind, mode string, body []byte, top map[string]json.RawMessage) ([]byte, plan) {
	p := plan{api: api, kind: kind, stream: isTrue(top["stream"])}
	var add []keyValue
	if kind == KindVLLM || kind == KindSGLang {
		p.captures = true
		switch {
		case kind == KindSGLang && api == apiChat && p.stream:
			// SGLang rejects return_token_ids on streamed chat; sglext
			// brings the ids in a final chunk.
			if !isTrue(top["return_input_ids"]) || !isTrue(top["return_output_ids"]) {
				p.sglext = true
				add = append(add, keyValue{"return_input_ids", jsonTrue}, keyValue{"return_output_ids", jsonTrue})
			}
		case !isTrue(top["return_token_ids"]):
			p.tokenIDs = true
			add = append(add, keyValue{"return_token_ids", jsonTrue})
		}
		if mode == ModeTrain {
			switch api {
			case apiChat:
				if !isTrue(top["logprobs"]) {
					p.logprobs = true
					add = append(add, keyValue{"logprobs", jsonTrue})
				}
			case apiCompletions:
				if isNull(top["logprobs"]) {
					p.logprobs = true
					add = append(add, keyValue{"logprobs", []byte("0")})
				}
			}
		}
	}
	if p.stream {
		// Usage comes only when asked for; it checks the captured ids.
		opts := top["stream_options"]
		var so struct {
			IncludeUsage bool `json:"include_usage"`
		}
		if isNull(opts) || json.Unmarshal(opts, &so) != nil || !so.IncludeUsage {
			merged := []byte(`{"include_usage":true}`)
			if !isNull(opts) {
				if m, err := setMembers(opts, keyValue{"include_usage", jsonTrue}); err == nil {
					merged = m
				}
			}
			p.usage = true
			add = append(add, keyValue{"stream_options", merged})
		}
	}
	if len(add) == 0 {
		return body, p
	}
	out, err := setMembers(body, add...)
	if err != nil {
		// The body was decoded as an object already; keep it as is.
		return body, plan{api: api, kind: kind, stream: p.stream}
	}
	return out, p
}

func isTrue(v json.RawMessage) bool { return string(bytes.TrimSpace(v)) == "true" }

// strip removes from an upstream object (a response or one stream chunk)
// what the proxy asked for and the client did not. drop reports a chunk
// that only exists because of what the proxy asked for (the usage chunk,
// SGLang's sglext chunk, vLLM's `delta: {}` chunks that carry only ids).
func (p *plan) strip(obj []byte) (out []byte, drop bool) {
	if !p.tokenIDs && !p.logprobs && !p.usage && !p.sglext {
		return obj, false
	}
	var emptyChoices, hadIDs, keptUsage bool
	onlyIDs := true
	out, err := editObject(obj, func(key string, val []byte) ([]byte, bool) {
		switch key {
		case "prompt_token_ids":
			if p.tokenIDs {
				hadIDs = true
				return p.unasked()
			}
		case "sglext":
			if p.sglext {
				return nil, false
			}
		case "usage":
			if p.usage && p.stream && !isNull(val) {
				return nil, false
			}
			keptUsage = !isNull(val)
		case "choices":
			if string(bytes.TrimSpace(val)) == "[]" {
				emptyChoices = true
				return nil, true
			}
			nv, err := editArray(val, func(_ int, choice []byte) []byte {
				c, ids, empty := p.stripChoice(choice)
				hadIDs = hadIDs || ids
				onlyIDs = onlyIDs && empty
				return c
			})
			if err != nil {
				onlyIDs = false
				return nil, true
			}
			return nv, true
		}
		return nil, true
	})
	if err != nil {
		return obj, false
	}
	if p.stream {
		if emptyChoices && !keptUsage {
			// The usage chunk the proxy asked for, or SGLang's sglext chunk.
			return nil, p.usage || p.sglext
		}
		if !emptyChoices && onlyIDs && hadIDs {
			return nil, true
		}
	}
	return out, false
}

// unasked is what the client gets for a token-id field it did not ask
// for: what vLLM sends when return_token_ids is off, which is null in
// responses and in completions chunks, and no key at all in chat chunks.
func (p *plan) unasked() ([]byte, bool) {
	if p.stream && p.api == apiChat {
		return nil, false
	}
	return jsonNull, true
}

// stripChoice strips one choice; empty reports a stream choice left with
// nothing for the client (an empty delta, no finish reason, no log-probs).
func (p *plan) stripChoice(choice []byte) (out []byte, hadIDs, empty bool) {
	empty = true
	out, err := editObject(choice, func(key string, val []byte) ([]byte, bool) {
		switch key {
		case "token_ids", "response_token_ids", "prompt_token_ids":
			if p.tokenIDs {
				hadIDs = true
				return p.unasked()
			}
		case "logprobs":
			if p.logprobs {
				return jsonNull, true
			}
			empty = empty && isNull(val)
		case "delta":
			empty = empty && (string(bytes.TrimSpace(val)) == "{}")
		case "finish_reason", "text":
			empty = empty && (isNull(val) || (key == "text" && string(val) == `""`))
		}
		return nil, true
	})
	if err != nil {
		return nil, false, false
	}
	return out, hadIDs, empty
}

// Wire types: the parts of OpenAI / vLLM / SGLang responses and chunks the
// span records. Unknown fields are ignored.
type wireObject struct {
	ID             string           `json:"id"`
	Object         string           `json:"object"`
	Model          string           `json:"model"`
	Choices        []wireChoice     `json:"choices"`
	Usage          *wireUsage       `json:"usage"`
	PromptTokenIDs []int64          `json:"prompt_token_ids"`
	Sglext         *wireSglext      `json:"sglext"`
	Error          *json.RawMessage `json:"error"`
}

type wireSglext struct {
	InputIDs  []int64   `json:"input_ids"`
	OutputIDs [][]int64 `json:"output_ids"`
}

type wireUsage struct {
	PromptTokens     *int64 `json:"prompt_tokens"`
	CompletionTokens *int64 `json:"completion_tokens"`
}

type wireChoice struct {
	Index            int              `json:"index"`
	Message          *wireMessage     `json:"message"`
	Delta            *wireMessage     `json:"delta"`
	Text             *string          `json:"text"`
	FinishReason     *string          `json:"finish_reason"`
	TokenIDs         []int64          `json:"token_ids"`
	ResponseTokenIDs []int64          `json:"response_token_ids"`
	PromptTokenIDs   []int64          `json:"prompt_token_ids"`
	Logprobs         *json.RawMessage `json:"logprobs"`
}

type wireMessage struct {
	Role             string          `json:"role"`
	Content          json.RawMessage `json:"content"`
	Reasoning        *string         `json:"reasoning"`
	ReasoningContent *string         `json:"reasoning_content"`
	Refusal          *string         `json:"refusal"`
	ToolCalls        []wireToolCall  `json:"tool_calls"`
}

type wireToolCall struct {
	Index    *int   `json:"index"`
	ID       string `json:"id"`
	Type     string `json:"type"`
	Function struct {
		Name      string `json:"name"`
		Arguments string `json:"arguments"`
	} `json:"function"`
}

// assembler accumulates a call's answer from a response or from its
// stream chunks (one choice per chunk, interleaved when n>1).
type assembler struct {
	id, model      string
	promptIDs      []int64
	choices        map[int]*choiceAcc
	promptTokens   *int64
	outputTokens   *int64
	upstreamErrors []json.RawMessage
	chunks         int
	// badChunks counts chunks (or a body) that could not be decoded.
	badChunks int
}

type choiceAcc struct {
	index      int
	role       string
	content    strings.Builder
	hasContent bool
	reasoning  strings.Builder
	refusal    strings.Builder
	tools      map[int]*toolAcc
	finish     string
	tokenIDs   []int64
	hasIDs     bool
	promptIDs  []int64
	logprobs   []json.RawMessage
}

type toolAcc struct {
	id, typ, name string
	args          strings.Builder
}

func newAssembler() *assembler { return &assembler{choices: map[int]*choiceAcc{}} }

func (a *assembler) choice(i int) *choiceAcc {
	c := a.choices[i]
	if c == nil {
		c = &choiceAcc{index: i, tools: map[int]*toolAcc{}}
		a.choices[i] = c
	}
	return c
}

// add folds one decoded response or chunk into the call.
func (a *assembler) add(w *wireObject) {
	a.chunks++
	if a.id == "" {
		a.id = w.ID
	}
	if a.model == "" {
		a.model = w.Model
	}
	if w.Error != nil {
		a.upstreamErrors = append(a.upstreamErrors, *w.Error)
	}
	if len(a.promptIDs) == 0 && len(w.PromptTokenIDs) > 0 {
		a.promptIDs = w.PromptTokenIDs
	}
	if w.Usage != nil {
		if w.Usage.PromptTokens != nil {
			a.promptTokens = w.Usage.PromptTokens
		}
		if w.Usage.CompletionTokens != nil {
			a.outputTokens = w.Usage.CompletionTokens
		}
	}
	if w.Sglext != nil {
		if len(a.promptIDs) == 0 {
			a.promptIDs = w.Sglext.InputIDs
		}
		for i, ids := range w.Sglext.OutputIDs {
			c := a.choice(i)
			if !c.hasIDs {
				c.tokenIDs, c.hasIDs = ids, ids != nil
			}
		}
	}
	for i := range w.Choices {
		a.addChoice(&w.Choices[i])
	}
}

func (a *assembler) addChoice(wc *wireChoice) {
	c := a.choice(wc.Index)
	if wc.FinishReason != nil && *wc.FinishReason != "" {
		c.finish = *wc.FinishReason
	}
	// The prompt ids come once per choice (and repeat for n>1); the first
	// seen is the prompt.
	if len(wc.PromptTokenIDs) > 0 && len(c.promptIDs) == 0 {
		c.promptIDs = wc.PromptTokenIDs
	}
	ids := wc.TokenIDs
	if ids == nil {
		ids = wc.ResponseTokenIDs
	}
	if ids != nil {
		c.tokenIDs = append(c.tokenIDs, ids...)
		c.hasIDs = true
	}
	if wc.Text != nil {
		c.content.WriteString(*wc.Text)
		c.hasContent = true
	}
	if wc.Logprobs != nil {
		c.addLogprobs(*wc.Logprobs)
	}
	m := wc.Message
	if m == nil {
		m = wc.Delta
	}
	if m == nil {
		return
	}
	if c.role == "" {
		c.role = m.Role
	}
	var s string
	if len(m.Content) > 0 && json.Unmarshal(m.Content, &s) == nil {
		c.content.WriteString(s)
		c.hasContent = true
	}
	if m.Reasoning != nil {
		c.reasoning.WriteString(*m.Reasoning)
	} else if m.ReasoningContent != nil {
		c.reasoning.WriteString(*m.ReasoningContent)
	}
	if m.Refusal != nil {
		c.refusal.WriteString(*m.Refusal)
	}
	for pos, tc := range m.ToolCalls {
		// Stream fragments are keyed by their index; a whole message's
		// calls by position.
		k := pos
		if tc.Index != nil {
			k = *tc.Index
		}
		t := c.tools[k]
		if t == nil {
			t = &toolAcc{}
			c.tools[k] = t
		}
		if tc.ID != "" {
			t.id = tc.ID
		}
		if tc.Type != "" {
			t.typ = tc.Type
		}
		if tc.Function.Name != "" {
			t.name = tc.Function.Name
		}
		t.args.WriteString(tc.Function.Arguments)
	}
}

// addLogprobs appends a choice's chosen-token log-probs: chat's
// logprobs.content items as they are, completions' parallel tokens /
// token_logprobs lists as {token, logprob} items.
func (c *choiceAcc) addLogprobs(raw json.RawMessage) {
	if isNull(raw) {
		return
	}
	var lp struct {
		Content       []json.RawMessage `json:"content"`
		Tokens        []string          `json:"tokens"`
		TokenLogprobs []*float64        `json:"token_logprobs"`
	}
	if json.Unmarshal(raw, &lp) != nil {
		return
	}
	c.logprobs = append(c.logprobs, lp.Content...)
	for i, lpv := range lp.TokenLogprobs {
		item := map[string]any{"logprob": lpv}
		if i < len(lp.Tokens) {
			item["token"] = lp.Tokens[i]
		}
		if b, err := json.Marshal(item); err == nil {
			c.logprobs = append(c.logprobs, b)
		}
	}
}

// sortedChoices returns the choices by index.
func (a *assembler) sortedChoices() []*choiceAcc {
	out := make([]*choiceAcc, 0, len(a.choices))
	for _, c := range a.choices {
		out = append(out, c)
	}
	sort.Slice(out, func(i, j int) bool { return out[i].index < out[j].index })
	return out
}

// prompt returns the prompt ids: top-level (chat) or the first choice's
// (completions).
func (a *assembler) prompt() []int64 {
	if len(a.promptIDs) > 0 {
		return a.promptIDs
	}
	for _, c := range a.sortedChoices() {
		if len(c.promptIDs) > 0 {
			return c.promptIDs
		}
	}
	return nil
}

// toolCalls returns a choice's tool calls in index order.
func (c *choiceAcc) toolCalls() []*toolAcc {
	keys := make([]int, 0, len(c.tools))
	for k := range c.tools {
		keys = append(keys, k)
	}
	sort.Ints(keys)
	out := make([]*toolAcc, len(keys))
	for i, k := range keys {
		out[i] = c.tools[k]
	}
	return out
}

// Anthropic Messages wire types (a kind: anthropic upstream's answers).
type anthropicEvent struct {
	Type         string            `json:"type"`
	Message      *anthropicMessage `json:"message"`
	Index        int               `json:"index"`
	ContentBlock *anthropicBlock   `json:"content_block"`
	Delta        *struct {
		Type        string `json:"type"`
		Text        string `json:"text"`
		PartialJSON string `json:"partial_json"`
		StopReason  string `json:"stop_reason"`
	} `json:"delta"`
	Usage *anthropicUsage  `json:"usage"`
	Error *json.RawMessage `json:"error"`
}

type anthropicMessage struct {
	ID         string           `json:"id"`
	Model      string           `json:"model"`
	Content    []anthropicBlock `json:"content"`
	StopReason string           `json:"stop_reason"`
	Usage      *anthropicUsage  `json:"usage"`
}

type anthropicBlock struct {
	Type  string          `json:"type"`
	Text  string          `json:"text"`
	ID    string          `json:"id"`
	Name  string          `json:"name"`
	Input json.RawMessage `json:"input"`
}

type anthropicUsage struct {
	InputTokens  *int64 `json:"input_tokens"`
	OutputTokens *int64 `json:"output_tokens"`
}

// openAIFinish maps an Anthropic stop_reason to OpenAI's finish_reason.
func openAIFinish(stop string) string {
	switch stop {
	case "end_turn", "stop_sequence":
		return "stop"
	case "max_tokens":
		return "length"
	case "tool_use":
		return "tool_calls"
	}
	return stop
}

func (a *assembler) anthropicUsage(u *anthropicUsage) {
	if u == nil {
		return
	}
	if u.InputTokens != nil {
		a.promptTokens = u.InputTokens
	}
	if u.OutputTokens != nil {
		a.outputTokens = u.OutputTokens
	}
}

// addAnthropicMessage folds a whole Anthropic message into choice 0.
func (a *assembler) addAnthropicMessage(m *anthropicMessage) {
	a.id, a.model = m.ID, m.Model
	a.anthropicUsage(m.Usage)
	c := a.choice(0)
	c.role = "assistant"
	if m.StopReason != "" {
		c.finish = openAIFinish(m.StopReason)
	}
	for i, b := range m.Content {
		a.anthropicBlockStart(c, i, &b)
		if b.Type == "tool_use" && !isNull(b.Input) {
			c.tools[i].args.Write(b.Input)
		}
	}
}

func (a *assembler) anthropicBlockStart(c *choiceAcc, index int, b *anthropicBlock) {
	switch b.Type {
	case "text":
		c.content.WriteString(b.Text)
		c.hasContent = true
	case "tool_use":
		c.tools[index] = &toolAcc{id: b.ID, typ: "function", name: b.Name}
	}
}

// addAnthropicEvent folds one stream event into choice 0.
func (a *assembler) addAnthropicEvent(ev *anthropicEvent) {
	a.chunks++
	c := a.choice(0)
	c.role = "assistant"
	switch ev.Type {
	case "message_start":
		if ev.Message != nil {
			a.id, a.model = ev.Message.ID, ev.Message.Model
			a.anthropicUsage(ev.Message.Usage)
		}
	case "content_block_start":
		if ev.ContentBlock != nil {
			a.anthropicBlockStart(c, ev.Index, ev.ContentBlock)
		}
	case "content_block_delta":
		if ev.Delta == nil {
			return
		}
		switch ev.Delta.Type {
		case "text_delta":
			c.content.WriteString(ev.Delta.Text)
			c.hasContent = true
		case "input_json_delta":
			if t := c.tools[ev.Index]; t != nil {
				t.args.WriteString(ev.Delta.PartialJSON)
			}
		}
	case "message_delta":
		if ev.Delta != nil && ev.Delta.StopReason != "" {
			c.finish = openAIFinish(ev.Delta.StopReason)
		}
		if ev.Usage != nil && ev.Usage.OutputTokens != nil {
			a.outputTokens = ev.Usage.OutputTokens
		}
	case "error":
		if ev.Error != nil {
			a.upstreamErrors = append(a.upstreamErrors, *ev.Error)
		}
	}
}
