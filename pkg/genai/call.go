package genai

import (
	"bytes"
	"encoding/json"
	"errors"
)

// Convention names the encoding a call's messages were read from.
type Convention string

// The conventions Parse understands, in the order it tries them for messages
// (see the package documentation).
const (
	// ConventionNone: no messages were found (for example, content capture
	// was off); the other fields may still be set.
	ConventionNone Convention = ""
	// ConventionOTel: OTel semconv ≥ 1.37 attributes gen_ai.input.messages,
	// gen_ai.output.messages, gen_ai.system_instructions and
	// gen_ai.tool.definitions, as JSON strings or structured AnyValues.
	ConventionOTel Convention = "otel"
	// ConventionOTelDetailsEvent: the same attributes carried by a
	// gen_ai.client.inference.operation.details event.
	ConventionOTelDetailsEvent Convention = "otel_details_event"
	// ConventionOpenLLMetry: indexed gen_ai.prompt.N.* / gen_ai.completion.N.*
	// keys as OpenLLMetry ≤ 0.53 writes them.
	ConventionOpenLLMetry Convention = "openllmetry"
	// ConventionLiteLLM: the same indexed keys on a LiteLLM litellm_request
	// span, whose non-primitive values are Python reprs.
	ConventionLiteLLM Convention = "litellm"
	// ConventionAgentOps: the same indexed keys on an AgentOps span.
	ConventionAgentOps Convention = "agentops"
	// ConventionOpenInference: llm.input_messages.N.message.* and friends.
	ConventionOpenInference Convention = "openinference"
	// ConventionVercel: Vercel AI SDK ai.prompt.messages / ai.response.*.
	ConventionVercel Convention = "vercel"
	// ConventionPydanticAI: pydantic_ai.all_messages or the Logfire events
	// attribute.
	ConventionPydanticAI Convention = "pydantic_ai"
	// ConventionOTelEvents: OTel ≤ 1.36 per-message events (gen_ai.user.message,
	// gen_ai.choice, ...) as span events or log records, and the legacy
	// gen_ai.content.prompt / gen_ai.content.completion span events.
	ConventionOTelEvents Convention = "otel_events"
	// ConventionOpenAIJSON: OpenInference input.value / output.value holding
	// the OpenAI request and response bodies.
	ConventionOpenAIJSON Convention = "openai_json"
	// ConventionAgentLightningOperation: an Agent Lightning operation span
	// (Weave tracer) with the flattened OpenAI request under
	// agentlightning.operation.input and the response under
	// agentlightning.operation.output.
	ConventionAgentLightningOperation Convention = "agentlightning_operation"
	// ConventionLiteLLMRaw: LiteLLM's raw_gen_ai_request span, with the raw
	// request and response under llm.<provider>.* as Python reprs.
	ConventionLiteLLMRaw Convention = "litellm_raw"
)

// Call is one LLM call normalised to the OpenAI chat format.
type Call struct {
	// Classification says whether the span is an LLM call and which rule
	// decided it. Parse fills it but extracts regardless.
	Classification Classification `json:"classification"`
	// Convention is the encoding the messages (else the completion, else the
	// tools) came from.
	Convention Convention `json:"convention"`

	Provider      string `json:"provider,omitempty"`
	Operation     string `json:"operation,omitempty"`
	RequestModel  string `json:"request_model,omitempty"`
	ResponseModel string `json:"response_model,omitempty"`
	ResponseID    string `json:"response_id,omitempty"`

	// SystemInstructions are instructions given apart from the chat history
	// (gen_ai.system_instructions, Vercel's system prompt). ToOpenAI
	// prepends them as a system message; Messages does not contain them.
	SystemInstructions *Content `json:"system_instructions,omitempty"`
	// Messages is the prompt: the chat history sent to the model.
	Messages []Message `json:"messages"`
	// Tools are the tool definitions offered to the model.
	Tools []Tool `json:"tools,omitempty"`
	// Choices are the model's outputs, one per choice or candidate.
	Choices []Choice `json:"choices,omitempty"`
	// FinishReasons are the normalised span-level finish reasons
	// (gen_ai.response.finish_reasons), else those of the choices.
	FinishReasons []string `json:"finish_reasons,omitempty"`

	Usage Usage `json:"usage"`
	// RequestParams are the sampling parameters (temperature, top_p,
	// max_tokens, ...), keyed without any prefix. Values are plain JSON
	// values: string, bool, int64, float64, json.Number (from JSON
	// sources), []any, map[string]any.
	RequestParams map[string]any `json:"request_params,omitempty"`

	// PromptTokenIDs and ResponseTokenIDs are the token ids of the prompt and
	// of the first choice, when the model server returned them.
	PromptTokenIDs   []int64 `json:"prompt_token_ids,omitempty"`
	ResponseTokenIDs []int64 `json:"response_token_ids,omitempty"`
	// Logprobs is the OpenAI logprobs.content list of the first choice, as
	// raw JSON.
	Logprobs json.RawMessage `json:"logprobs,omitempty"`

	// RequestHeaders are the requester's custom headers recorded by LiteLLM
	// (metadata.requester_custom_headers), e.g. x-rollout-id.
	RequestHeaders map[string]string `json:"request_headers,omitempty"`

	// Raw holds the unflattened attribute trees Agent Lightning's triplet
	// adapter copies into raw_content and metadata.
	Raw Raw `json:"raw"`
}

// Model returns the response model, else the request model (Langfuse's
// order).
func (c *Call) Model() string {
	if c.ResponseModel != "" {
		return c.ResponseModel
	}
	return c.RequestModel
}

// Completion returns the first choice as a completion message, or nil.
func (c *Call) Completion() *Completion {
	if len(c.Choices) == 0 {
		return nil
	}
	ch := c.Choices[0]
	return &Completion{Message: ch.Message, FinishReason: ch.FinishReason}
}

// HasContent reports whether any message, tool or choice was found.
func (c *Call) HasContent() bool {
	return len(c.Messages) > 0 || len(c.Choices) > 0 || len(c.Tools) > 0 || c.SystemInstructions != nil
}

// Raw holds attribute trees as Agent Lightning's TracerTraceToTriplet builds
// them (adapter/triplet.py, span_to_triplet): each is the first non-empty
// unflatten of its prefixes, or nil.
type Raw struct {
	// Prompt: gen_ai.prompt, else agentlightning.operation.input.messages.
	Prompt any `json:"prompt"`
	// Completion: gen_ai.completion, else
	// agentlightning.operation.output.choices.
	Completion any `json:"completion"`
	// Request: gen_ai.request, else agentlightning.operation.input, with the
	// key "messages" removed.
	Request any `json:"request"`
	// Response: gen_ai.response, else agentlightning.operation.output, with
	// "choices", "prompt_token_ids" and "response_token_ids" removed.
	Response any `json:"response"`
	// ImageURLs are the image_url parts of the raw prompt, in order (the
	// triplet's prompt.image_urls).
	ImageURLs []string `json:"image_urls"`
}

// Classification is the outcome of IsLLMCall.
type Classification struct {
	IsLLMCall bool `json:"is_llm_call"`
	// Rule names the check that decided, e.g. "gen_ai.operation.name",
	// "openinference.span.kind", "name_fallback"; empty when none applied.
	Rule string `json:"rule,omitempty"`
}

// Message is an OpenAI chat message.
type Message struct {
	Role string `json:"role"`
	// Content is a string, a list of content parts, or null.
	Content    Content    `json:"content"`
	Name       string     `json:"name,omitempty"`
	ToolCalls  []ToolCall `json:"tool_calls,omitempty"`
	ToolCallID string     `json:"tool_call_id,omitempty"`
	// ReasoningContent carries reasoning ("thinking") text, the field name
	// vLLM and DeepSeek use.
	ReasoningContent string `json:"reasoning_content,omitempty"`
	Refusal          string `json:"refusal,omitempty"`
}

// Completion is an output message with its finish reason, the form of
// Agent Lightning's response raw_content and of the messages record.
type Completion struct {
	Message
	FinishReason string `json:"finish_reason,omitempty"`
}

// Choice is one model output.
type Choice struct {
	Index        int     `json:"index"`
	Message      Message `json:"message"`
	FinishReason string  `json:"finish_reason,omitempty"`
}

// Content is message content: a plain string (Text), a list of parts
// (Parts), or null when both are nil.
type Content struct {
	Text  *string
	Parts []ContentPart
}

// TextContent returns string content.
func TextContent(s string) Content { return Content{Text: &s} }

// PartsContent returns multi-part content.
func PartsContent(parts ...ContentPart) Content { return Content{Parts: parts} }

// IsNull reports whether the content is null.
func (c Content) IsNull() bool { return c.Text == nil && c.Parts == nil }

// String returns the text of the content: the string, or the concatenated
// text parts.
func (c Content) String() string {
	if c.Text != nil {
		return *c.Text
	}
	var b bytes.Buffer
	for _, p := range c.Parts {
		if p.Type == "text" {
			b.WriteString(p.Text)
		}
	}
	return b.String()
}

// MarshalJSON writes a string, a list of parts, or null.
func (c Content) MarshalJSON() ([]byte, error) {
	switch {
	case c.Text != nil:
		return json.Marshal(*c.Text)
	case c.Parts != nil:
		return json.Marshal(c.Parts)
	}
	return []byte("null"), nil
}

// UnmarshalJSON reads a string, a list of parts, or null.
func (c *Content) UnmarshalJSON(b []byte) error {
	*c = Content{}
	b = bytes.TrimSpace(b)
	switch {
	case bytes.Equal(b, []byte("null")):
		return nil
	case len(b) > 0 && b[0] == '"':
		var s string
		if err := json.Unmarshal(b, &s); err != nil {
			return err
		}
		c.Text = &s
		return nil
	case len(b) > 0 && b[0] == '[':
		parts := []ContentPart{}
		if err := json.Unmarshal(b, &parts); err != nil {
			return err
		}
		c.Parts = parts
		return nil
	}
	return errors.New("genai: content must be a string, a list or null")
}

// ContentPart is an OpenAI content part. Parts with no OpenAI equivalent
// (server tool calls, video, unknown types) keep their original fields in
// Raw and are written as they came.
type ContentPart struct {
	Type       string
	Text       string
	ImageURL   *ImageURL
	InputAudio *InputAudio
	File       *File
	Raw        map[string]any
}

// ImageURL is the image_url of an image part.
type ImageURL struct {
	URL    string `json:"url"`
	Detail string `json:"detail,omitempty"`
}

// InputAudio is the input_audio of an audio part.
type InputAudio struct {
	Data   string `json:"data"`
	Format string `json:"format"`
}

// File is the file of a file part.
type File struct {
	FileID   string `json:"file_id,omitempty"`
	FileData string `json:"file_data,omitempty"`
	Filename string `json:"filename,omitempty"`
}

// TextPart returns a text part.
func TextPart(s string) ContentPart { return ContentPart{Type: "text", Text: s} }

// MarshalJSON writes the OpenAI form of the part, or Raw as it is.
func (p ContentPart) MarshalJSON() ([]byte, error) {
	if p.Raw != nil {
		return json.Marshal(p.Raw)
	}
	out := struct {
		Type       string      `json:"type"`
		Text       *string     `json:"text,omitempty"`
		ImageURL   *ImageURL   `json:"image_url,omitempty"`
		InputAudio *InputAudio `json:"input_audio,omitempty"`
		File       *File       `json:"file,omitempty"`
	}{Type: p.Type, ImageURL: p.ImageURL, InputAudio: p.InputAudio, File: p.File}
	if p.Type == "text" || p.Text != "" {
		out.Text = &p.Text
	}
	return json.Marshal(out)
}

// UnmarshalJSON reads an OpenAI part; other parts go to Raw.
func (p *ContentPart) UnmarshalJSON(b []byte) error {
	var m map[string]any
	dec := json.NewDecoder(bytes.NewReader(b))
	dec.UseNumber()
	if err := dec.Decode(&m); err != nil {
		return err
	}
	*p = ContentPart{}
	part, _, ok := newParser(nil).openAIPart("content part", m)
	if !ok {
		return errors.New("genai: invalid content part")
	}
	*p = part
	return nil
}

// ToolCall is an assistant tool call.
type ToolCall struct {
	ID       string       `json:"id"`
	Type     string       `json:"type"`
	Function FunctionCall `json:"function"`
}

// FunctionCall names the function and carries its arguments as a JSON
// string, as OpenAI does.
type FunctionCall struct {
	Name      string `json:"name"`
	Arguments string `json:"arguments"`
}

// Tool is an OpenAI tool definition. Definitions that are not functions keep
// their original fields in Raw and are written as they came.
type Tool struct {
	Type     string
	Function *FunctionDef
	Raw      map[string]any
}

// FunctionDef describes a function tool.
type FunctionDef struct {
	Name        string `json:"name"`
	Description string `json:"description,omitempty"`
	// Parameters is the JSON schema of the arguments (a decoded JSON value).
	Parameters any   `json:"parameters,omitempty"`
	Strict     *bool `json:"strict,omitempty"`
}

// MarshalJSON writes {"type":"function","function":{...}}, or Raw.
func (t Tool) MarshalJSON() ([]byte, error) {
	if t.Raw != nil {
		return json.Marshal(t.Raw)
	}
	return json.Marshal(struct {
		Type     string       `json:"type"`
		Function *FunctionDef `json:"function,omitempty"`
	}{t.Type, t.Function})
}

// UnmarshalJSON reads an OpenAI tool definition.
func (t *Tool) UnmarshalJSON(b []byte) error {
	var m map[string]any
	dec := json.NewDecoder(bytes.NewReader(b))
	dec.UseNumber()
	if err := dec.Decode(&m); err != nil {
		return err
	}
	tool, ok := newParser(nil).toolFromMap("tool", m)
	if !ok {
		return errors.New("genai: invalid tool definition")
	}
	*t = tool
	return nil
}

// Usage counts tokens; zero means unknown. CacheRead, CacheCreation and
// Reasoning are subsets of InputTokens and OutputTokens, as in OTel.
type Usage struct {
	InputTokens              int64 `json:"input_tokens,omitempty"`
	OutputTokens             int64 `json:"output_tokens,omitempty"`
	TotalTokens              int64 `json:"total_tokens,omitempty"`
	CacheReadInputTokens     int64 `json:"cache_read_input_tokens,omitempty"`
	CacheCreationInputTokens int64 `json:"cache_creation_input_tokens,omitempty"`
	ReasoningOutputTokens    int64 `json:"reasoning_output_tokens,omitempty"`
}
