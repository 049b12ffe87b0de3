package llmproxyreceiver

import (
	"encoding/json"
	"strings"
	"time"

	"go.opentelemetry.io/collector/pdata/pcommon"
	"go.opentelemetry.io/collector/pdata/ptrace"

	"github.com/otelcol-lightning/otelcol-lightning/pkg/genai"
)

// Attributes of the call span beyond the OTel GenAI conventions. The token
// ids and log-probs of the first choice go under the keys pkg/genai reads
// (genai.AttrPromptTokenIDs, AttrResponseTokenIDs, AttrLogprobsContent), so
// triplets carry them with no configuration; every choice's are kept here.
const (
	attrRolloutID       = "agentlightning.rollout_id"
	attrAttemptID       = "agentlightning.attempt_id"
	attrTokenCapture    = "llmproxy.token_capture"
	attrChoiceTokenIDs  = "llmproxy.choices.token_ids"
	attrChoiceLogprobs  = "llmproxy.choices.logprobs"
	attrUpstream        = "llmproxy.upstream"
	attrUpstreamKind    = "llmproxy.upstream.kind"
	attrRetries         = "llmproxy.retries"
	attrMode            = "llmproxy.mode"
	attrStream          = "llmproxy.stream"
	attrIdentitySource  = "llmproxy.identity"
	attrWeightVersion   = "llmproxy.model_version"
	attrHTTPStatus      = "http.response.status_code"
	attrClientAPI       = "llmproxy.api"
	scopeName           = "github.com/otelcol-lightning/otelcol-lightning/receiver/llmproxyreceiver"
	captureCaptured     = "captured"
	captureUnsupported  = "unsupported_upstream"
	captureMissing      = "missing"
	capturePartial      = "partial"
	operationChat       = "chat"
	operationCompletion = "text_completion"
)

// callRecord is everything the span of one call says.
type callRecord struct {
	api        string
	clientAPI  string
	ident      identity
	mode       string
	stream     bool
	upstream   *upstream
	version    *int
	request    map[string]json.RawMessage
	reqModel   string
	start, end time.Time
	traceID    pcommon.TraceID
	spanID     pcommon.SpanID
	parentID   pcommon.SpanID
	asm        *assembler
	captures   bool
	httpStatus int
	retries    int
	// errType is empty on success; else the error.type of the span
	// (cancelled, truncated, upstream_error, timeout, ...).
	errType string
	errMsg  string
}

// traces renders the call as one span in its own resource.
func (r *callRecord) traces() ptrace.Traces {
	td := ptrace.NewTraces()
	rs := td.ResourceSpans().AppendEmpty()
	res := rs.Resource().Attributes()
	res.PutStr("service.name", "llmproxy")
	if r.ident.rolloutID != "" {
		res.PutStr(attrRolloutID, r.ident.rolloutID)
		if r.ident.attemptID != "" {
			res.PutStr(attrAttemptID, r.ident.attemptID)
		}
	}
	ss := rs.ScopeSpans().AppendEmpty()
	ss.Scope().SetName(scopeName)
	span := ss.Spans().AppendEmpty()
	span.SetTraceID(r.traceID)
	span.SetSpanID(r.spanID)
	span.SetParentSpanID(r.parentID)
	span.SetKind(ptrace.SpanKindClient)
	span.SetStartTimestamp(pcommon.NewTimestampFromTime(r.start))
	span.SetEndTimestamp(pcommon.NewTimestampFromTime(r.end))
	op := operationChat
	if r.api == apiCompletions {
		op = operationCompletion
	}
	model := r.reqModel
	span.SetName(strings.TrimSpace(op + " " + model))
	a := span.Attributes()
	a.PutStr("gen_ai.operation.name", op)
	if r.upstream != nil {
		a.PutStr("gen_ai.provider.name", r.upstream.kind)
		a.PutStr(attrUpstream, r.upstream.name)
		a.PutStr(attrUpstreamKind, r.upstream.kind)
		if h := r.upstream.host; h != "" {
			a.PutStr("server.address", h)
		}
	}
	if model != "" {
		a.PutStr("gen_ai.request.model", model)
	}
	r.requestParams(a)
	a.PutStr(attrMode, r.mode)
	a.PutStr(attrClientAPI, r.clientAPI)
	a.PutBool(attrStream, r.stream)
	a.PutStr(attrIdentitySource, r.ident.source)
	a.PutInt(attrRetries, int64(r.retries))
	if r.version != nil {
		a.PutInt(attrWeightVersion, int64(*r.version))
	}
	if r.httpStatus != 0 {
		a.PutInt(attrHTTPStatus, int64(r.httpStatus))
	}
	if r.api == apiChat {
		if msgs := otelInputMessages(r.request["messages"]); msgs != nil {
			a.PutStr(genai.AttrInputMessages, string(msgs))
		}
		if tools := r.request["tools"]; !isNull(tools) {
			a.PutStr(genai.AttrToolDefinitions, string(tools))
		}
	} else if prompt := completionPrompt(r.request["prompt"]); prompt != "" {
		if b, err := json.Marshal([]otelMessage{{Role: "user", Parts: []otelPart{{Type: "text", Content: prompt}}}}); err == nil {
			a.PutStr(genai.AttrInputMessages, string(b))
		}
	}
	if asm := r.asm; asm != nil {
		r.responseAttrs(a, asm)
	}
	if r.errType != "" {
		a.PutStr("error.type", r.errType)
		span.Status().SetCode(ptrace.StatusCodeError)
		span.Status().SetMessage(r.errMsg)
	} else {
		span.Status().SetCode(ptrace.StatusCodeOk)
	}
	return td
}

// requestParams records the sampling parameters the client sent.
func (r *callRecord) requestParams(a pcommon.Map) {
	for key, attr := range map[string]string{
		"temperature": "gen_ai.request.temperature", "top_p": "gen_ai.request.top_p",
		"max_tokens": "gen_ai.request.max_tokens", "max_completion_tokens": "gen_ai.request.max_tokens",
		"n": "gen_ai.request.choice.count", "seed": "gen_ai.request.seed",
		"frequency_penalty": "gen_ai.request.frequency_penalty", "presence_penalty": "gen_ai.request.presence_penalty",
	} {
		raw := r.request[key]
		if isNull(raw) {
			continue
		}
		var f float64
		if json.Unmarshal(raw, &f) != nil {
			continue
		}
		if strings.HasSuffix(attr, "tokens") || strings.HasSuffix(attr, "count") || strings.HasSuffix(attr, "seed") {
			a.PutInt(attr, int64(f))
		} else {
			a.PutDouble(attr, f)
		}
	}
}

func (r *callRecord) responseAttrs(a pcommon.Map, asm *assembler) {
	if asm.id != "" {
		a.PutStr("gen_ai.response.id", asm.id)
	}
	if asm.model != "" {
		a.PutStr("gen_ai.response.model", asm.model)
	}
	if asm.promptTokens != nil {
		a.PutInt("gen_ai.usage.input_tokens", *asm.promptTokens)
	}
	if asm.outputTokens != nil {
		a.PutInt("gen_ai.usage.output_tokens", *asm.outputTokens)
	}
	choices := asm.sortedChoices()
	if len(choices) == 0 {
		r.captureStatus(a, asm, choices)
		return
	}
	finish := a.PutEmptySlice("gen_ai.response.finish_reasons")
	out := make([]otelMessage, 0, len(choices))
	for _, c := range choices {
		finish.AppendEmpty().SetStr(c.finish)
		out = append(out, c.otelMessage(r.api))
	}
	if b, err := json.Marshal(out); err == nil {
		a.PutStr(genai.AttrOutputMessages, string(b))
	}
	if prompt := asm.prompt(); len(prompt) > 0 {
		putInts(a.PutEmptySlice(genai.AttrPromptTokenIDs), prompt)
	}
	first := choices[0]
	if first.hasIDs {
		putInts(a.PutEmptySlice(genai.AttrResponseTokenIDs), first.tokenIDs)
	}
	if len(first.logprobs) > 0 {
		if b, err := json.Marshal(first.logprobs); err == nil {
			a.PutStr(genai.AttrLogprobsContent, string(b))
		}
	}
	if len(choices) > 1 {
		ids := make([][]int64, len(choices))
		lps := make([][]json.RawMessage, len(choices))
		for i, c := range choices {
			ids[i], lps[i] = c.tokenIDs, c.logprobs
		}
		if b, err := json.Marshal(ids); err == nil {
			a.PutStr(attrChoiceTokenIDs, string(b))
		}
		if b, err := json.Marshal(lps); err == nil {
			a.PutStr(attrChoiceLogprobs, string(b))
		}
	}
	r.captureStatus(a, asm, choices)
}

// captureStatus says whether the span holds exact token ids: captured,
// partial (a choice without ids, or a stream cut short), missing (the
// upstream should have sent them and did not: an old vLLM) or
// unsupported_upstream (text only, by configuration).
func (r *callRecord) captureStatus(a pcommon.Map, asm *assembler, choices []*choiceAcc) {
	status := captureCaptured
	switch {
	case !r.captures:
		status = captureUnsupported
	case len(asm.prompt()) == 0 && len(choices) == 0:
		status = captureMissing
	default:
		got := 0
		for _, c := range choices {
			if c.hasIDs {
				got++
			}
		}
		switch {
		case got == 0 && len(asm.prompt()) == 0:
			status = captureMissing
		case got < len(choices) || len(asm.prompt()) == 0 || r.errType != "" || asm.badChunks > 0:
			status = capturePartial
		}
	}
	a.PutStr(attrTokenCapture, status)
}

func putInts(s pcommon.Slice, ids []int64) {
	s.EnsureCapacity(len(ids))
	for _, id := range ids {
		s.AppendEmpty().SetInt(id)
	}
}

// OTel GenAI message parts (gen_ai.input.messages / output.messages).
type otelMessage struct {
	Role         string     `json:"role"`
	Parts        []otelPart `json:"parts"`
	FinishReason string     `json:"finish_reason,omitempty"`
}

type otelPart struct {
	Type     string          `json:"type"`
	Content  string          `json:"content,omitempty"`
	ID       string          `json:"id,omitempty"`
	Name     string          `json:"name,omitempty"`
	Args     *string         `json:"arguments,omitempty"`
	Response json.RawMessage `json:"response,omitempty"`
	Modality string          `json:"modality,omitempty"`
	URI      string          `json:"uri,omitempty"`
}

func (c *choiceAcc) otelMessage(api string) otelMessage {
	m := otelMessage{Role: "assistant", FinishReason: c.finish}
	if c.role != "" && api == apiChat {
		m.Role = c.role
	}
	if c.reasoning.Len() > 0 {
		m.Parts = append(m.Parts, otelPart{Type: "reasoning", Content: c.reasoning.String()})
	}
	if c.hasContent && c.content.Len() > 0 {
		m.Parts = append(m.Parts, otelPart{Type: "text", Content: c.content.String()})
	}
	if c.refusal.Len() > 0 {
		m.Parts = append(m.Parts, otelPart{Type: "refusal", Content: c.refusal.String()})
	}
	for _, t := range c.toolCalls() {
		// The arguments stay the exact string the model produced.
		args := t.args.String()
		m.Parts = append(m.Parts, otelPart{Type: "tool_call", ID: t.id, Name: t.name, Args: &args})
	}
	if m.Parts == nil {
		m.Parts = []otelPart{}
	}
	return m
}

// otelInputMessages converts OpenAI chat messages into OTel GenAI input
// messages (role + parts), or nil when they cannot be read.
func otelInputMessages(raw json.RawMessage) []byte {
	if isNull(raw) {
		return nil
	}
	var msgs []struct {
		Role       string          `json:"role"`
		Name       string          `json:"name"`
		Content    json.RawMessage `json:"content"`
		ToolCallID string          `json:"tool_call_id"`
		ToolCalls  []wireToolCall  `json:"tool_calls"`
	}
	if json.Unmarshal(raw, &msgs) != nil {
		return nil
	}
	out := make([]otelMessage, 0, len(msgs))
	for _, m := range msgs {
		om := otelMessage{Role: m.Role, Parts: []otelPart{}}
		if m.Role == "tool" {
			resp := m.Content
			if isNull(resp) {
				resp = json.RawMessage(`""`)
			}
			om.Parts = append(om.Parts, otelPart{Type: "tool_call_response", ID: m.ToolCallID, Response: resp})
		} else {
			om.Parts = append(om.Parts, contentParts(m.Content)...)
		}
		for _, tc := range m.ToolCalls {
			args := tc.Function.Arguments
			om.Parts = append(om.Parts, otelPart{Type: "tool_call", ID: tc.ID, Name: tc.Function.Name, Args: &args})
		}
		out = append(out, om)
	}
	b, err := json.Marshal(out)
	if err != nil {
		return nil
	}
	return b
}

// contentParts reads OpenAI message content: a string or a list of parts.
func contentParts(raw json.RawMessage) []otelPart {
	if isNull(raw) {
		return nil
	}
	var s string
	if json.Unmarshal(raw, &s) == nil {
		return []otelPart{{Type: "text", Content: s}}
	}
	var parts []struct {
		Type     string `json:"type"`
		Text     string `json:"text"`
		ImageURL struct {
			URL string `json:"url"`
		} `json:"image_url"`
	}
	if json.Unmarshal(raw, &parts) != nil {
		return nil
	}
	out := make([]otelPart, 0, len(parts))
	for _, p := range parts {
		switch p.Type {
		case "text":
			out = append(out, otelPart{Type: "text", Content: p.Text})
		case "image_url":
			out = append(out, otelPart{Type: "uri", Modality: "image", URI: p.ImageURL.URL})
		}
	}
	return out
}

// completionPrompt reads a completions prompt given as a string (token-id
// and batched prompts are not rendered as text).
func completionPrompt(raw json.RawMessage) string {
	var s string
	if json.Unmarshal(raw, &s) == nil {
		return s
	}
	return ""
}
