package llmmock

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"time"
	"unicode/utf8"
)

// EOSTokenID is the id the vLLM mock ends every completion with, as vLLM's
// token_ids include the end-of-sequence token (its text is not shown).
const EOSTokenID = 2

// eosToken is the EOS token's text in log-prob entries.
const eosToken = "<|eos|>"

// VLLMOptions configures a VLLM mock.
type VLLMOptions struct {
	Options
	// ChunkDelay is slept before each streamed chunk (tests of slow streams
	// and disconnects): for every request, or with DelayModel set only for
	// requests naming that model.
	ChunkDelay time.Duration
	DelayModel string
	// FailFirst makes the first FailFirst calls answer FailStatus with an
	// error body (and Retry-After: 0 for 429), as an overloaded server.
	FailFirst  int
	FailStatus int
}

// VLLM is a deterministic mock of vLLM's OpenAI-compatible server
// (vllm/entrypoints/openai, the fields of ../shared/reference/token-capture.md):
// POST /v1/chat/completions and /v1/completions, streamed and not, with
// vLLM's return_token_ids (prompt_token_ids, choices[].token_ids), chosen-
// token log-probs, n>1 choices (interleaved when streamed), tool calls
// whose arguments stream in pieces, stream_options.include_usage, and
// GET /v1/models. It tokenizes like TokenIDs, one token per word, with
// EOSTokenID at the end of every completion.
type VLLM struct {
	opts      VLLMOptions
	mux       *http.ServeMux
	calls     atomic.Int64
	failures  atomic.Int64
	cancelled atomic.Int64
	mu        sync.Mutex
	requests  [][]byte
}

// NewVLLM returns the mock.
func NewVLLM(opts VLLMOptions) *VLLM {
	if opts.Reply == "" {
		opts.Reply = DefaultReply
	}
	if opts.Now == nil {
		opts.Now = time.Now
	}
	if opts.FailStatus == 0 {
		opts.FailStatus = http.StatusTooManyRequests
	}
	v := &VLLM{opts: opts, mux: http.NewServeMux()}
	v.mux.HandleFunc("POST /v1/chat/completions", v.chat)
	v.mux.HandleFunc("POST /v1/completions", v.completions)
	v.mux.HandleFunc("GET /health", func(w http.ResponseWriter, _ *http.Request) { w.WriteHeader(http.StatusOK) })
	v.mux.HandleFunc("GET /v1/models", func(w http.ResponseWriter, _ *http.Request) {
		writeJSON(w, http.StatusOK, map[string]any{"object": "list", "data": []map[string]any{
			{"id": DefaultModel, "object": "model", "created": 0, "owned_by": "vllm", "max_model_len": 4096},
		}})
	})
	return v
}

// ServeHTTP implements http.Handler.
func (v *VLLM) ServeHTTP(w http.ResponseWriter, r *http.Request) { v.mux.ServeHTTP(w, r) }

func (v *VLLM) delay(req *vllmRequest) time.Duration {
	if v.opts.DelayModel != "" && req.Model != v.opts.DelayModel {
		return 0
	}
	return v.opts.ChunkDelay
}

// Calls is the number of completions answered (failures excluded).
func (v *VLLM) Calls() int64 { return v.calls.Load() }

// Cancelled is the number of streams the client closed before their end.
func (v *VLLM) Cancelled() int64 { return v.cancelled.Load() }

// Requests returns the request bodies received, in order.
func (v *VLLM) Requests() [][]byte {
	v.mu.Lock()
	defer v.mu.Unlock()
	return append([][]byte(nil), v.requests...)
}

// vllmRequest is the subset of vLLM's ChatCompletionRequest and
// CompletionRequest the mock honours.
type vllmRequest struct {
	Model          string          `json:"model"`
	Messages       []chatMessage   `json:"messages"`
	Prompt         json.RawMessage `json:"prompt"`
	Stream         bool            `json:"stream"`
	N              *int            `json:"n"`
	Logprobs       json.RawMessage `json:"logprobs"`
	TopLogprobs    int             `json:"top_logprobs"`
	ReturnTokenIDs bool            `json:"return_token_ids"`
	StreamOptions  *struct {
		IncludeUsage bool `json:"include_usage"`
	} `json:"stream_options"`
	Tools []struct {
		Function struct {
			Name string `json:"name"`
		} `json:"function"`
	} `json:"tools"`
	ToolChoice json.RawMessage `json:"tool_choice"`
}

// vllmError is vLLM's ErrorResponse (code is the HTTP status).
func vllmError(w http.ResponseWriter, status int, typ, msg string) {
	writeJSON(w, status, map[string]any{"error": map[string]any{"message": msg, "type": typ, "param": nil, "code": status}})
}

// decode reads a request, answering 400 (vLLM's shape) when it cannot.
func (v *VLLM) decode(w http.ResponseWriter, r *http.Request) (*vllmRequest, bool) {
	body, err := io.ReadAll(io.LimitReader(r.Body, maxBodyBytes))
	if err != nil {
		vllmError(w, http.StatusBadRequest, "BadRequestError", err.Error())
		return nil, false
	}
	v.mu.Lock()
	v.requests = append(v.requests, body)
	v.mu.Unlock()
	if v.failures.Add(1) <= int64(v.opts.FailFirst) {
		if v.opts.FailStatus == http.StatusTooManyRequests {
			w.Header().Set("Retry-After", "0")
		}
		vllmError(w, v.opts.FailStatus, "ServiceUnavailableError", "the mock is overloaded")
		return nil, false
	}
	var req vllmRequest
	if err := json.Unmarshal(body, &req); err != nil {
		vllmError(w, http.StatusBadRequest, "BadRequestError", "invalid JSON: "+err.Error())
		return nil, false
	}
	if req.StreamOptions != nil && !req.Stream {
		vllmError(w, http.StatusBadRequest, "BadRequestError", "Stream options can only be defined when `stream=True`.")
		return nil, false
	}
	if req.Model == "" {
		req.Model = DefaultModel
	}
	return &req, true
}

// completion is one choice's answer as token pieces.
type completion struct {
	pieces   []string // each a token's text; the last is EOS (empty text)
	ids      []int
	toolName string
	toolID   string
	finish   string
}

// splitPieces cuts text into tokens that keep their leading white space,
// so that the pieces concatenate back to the text exactly.
func splitPieces(text string) []string {
	var out []string
	start := 0
	for i := 1; i < len(text); i++ {
		if text[i] != ' ' && text[i] != '\n' && (text[i-1] == ' ' || text[i-1] == '\n') {
			out = append(out, text[start:i])
			start = i
		}
	}
	if start < len(text) {
		out = append(out, text[start:])
	}
	return out
}

func newCompletion(text string) completion {
	c := completion{finish: "stop"}
	for _, p := range splitPieces(text) {
		c.pieces = append(c.pieces, p)
		c.ids = append(c.ids, pieceID(p))
	}
	c.pieces = append(c.pieces, "")
	c.ids = append(c.ids, EOSTokenID)
	return c
}

// pieceID is the token id of a piece: TokenIDs of its word.
func pieceID(p string) int {
	if ids := TokenIDs(p); len(ids) > 0 {
		return ids[0]
	}
	return 3 // white space only
}

// tokenLogprob is the deterministic log-prob of a token id.
func tokenLogprob(id int) float64 { return -float64(id%997+1) / 1000 }

func pieceToken(p string) string {
	if p == "" {
		return eosToken
	}
	return p
}

// answers decides the completion of each of the n choices: a tool call of
// the first tool when tools are offered (not "none") and the last message
// is the user's, else the reply text; choice i>0 gets " (i+1)" appended.
func (v *VLLM) answers(req *vllmRequest, messages []Message, n int) []completion {
	reply := v.opts.Reply
	if v.opts.Respond != nil {
		reply = v.opts.Respond(messages)
	}
	useTool := len(req.Tools) > 0 && string(req.ToolChoice) != `"none"` &&
		len(req.Messages) > 0 && req.Messages[len(req.Messages)-1].Role == "user"
	out := make([]completion, n)
	for i := range out {
		text := reply
		if i > 0 {
			text += fmt.Sprintf(" (%d)", i+1)
		}
		if useTool {
			last := ""
			if len(messages) > 0 {
				last = messages[len(messages)-1].Content
			}
			args, _ := json.Marshal(map[string]string{"query": last})
			c := newCompletion(string(args))
			c.toolName = req.Tools[0].Function.Name
			c.toolID = fmt.Sprintf("chatcmpl-tool-%d-%d", v.calls.Load(), i)
			c.finish = "tool_calls"
			out[i] = c
			continue
		}
		out[i] = newCompletion(text)
	}
	return out
}

// newCall numbers a request and decides its n answers: its id, creation
// time, prompt ids, answers and whether log-probs were asked for.
func (v *VLLM) newCall(req *vllmRequest, messages []Message, promptIDs []int, idPrefix string) (string, int64, []int, []completion, bool) {
	n := 1
	if req.N != nil {
		n = *req.N
	}
	seq := v.calls.Add(1)
	return fmt.Sprintf("%s-mock-%d", idPrefix, seq), v.opts.Now().Unix(), promptIDs, v.answers(req, messages, n), wantLogprobs(req.Logprobs)
}

// longestAnswer is the most pieces of any choice.
func longestAnswer(answers []completion) int {
	n := 0
	for _, a := range answers {
		n = max(n, len(a.pieces))
	}
	return n
}

// usageOf counts the prompt once and every choice's tokens.
func usageOf(promptIDs []int, answers []completion) vllmUsage {
	comp := 0
	for _, a := range answers {
		comp += len(a.ids)
	}
	return vllmUsage{PromptTokens: len(promptIDs), CompletionTokens: comp, TotalTokens: len(promptIDs) + comp}
}

func (c completion) text() string { return strings.Join(c.pieces, "") }

func wantLogprobs(raw json.RawMessage) bool {
	s := strings.TrimSpace(string(raw))
	return s != "" && s != "null" && s != "false"
}

// chatLogprob is an item of logprobs.content.
type chatLogprob struct {
	Token       string  `json:"token"`
	Logprob     float64 `json:"logprob"`
	Bytes       []int   `json:"bytes"`
	TopLogprobs []any   `json:"top_logprobs"`
}

func chatLogprobItem(piece string, id int) chatLogprob {
	tok := pieceToken(piece)
	var b []int
	if piece != "" {
		for _, c := range []byte(tok) {
			b = append(b, int(c))
		}
	}
	return chatLogprob{Token: tok, Logprob: tokenLogprob(id), Bytes: b, TopLogprobs: []any{}}
}

type chatLogprobs struct {
	Content []chatLogprob `json:"content"`
}

// Non-streamed chat, in vLLM's key order; unrequested fields are null.
type vllmChatResponse struct {
	ID                string           `json:"id"`
	Object            string           `json:"object"`
	Created           int64            `json:"created"`
	Model             string           `json:"model"`
	Choices           []vllmChatChoice `json:"choices"`
	ServiceTier       *string          `json:"service_tier"`
	SystemFingerprint *string          `json:"system_fingerprint"`
	Usage             vllmUsage        `json:"usage"`
	PromptLogprobs    any              `json:"prompt_logprobs"`
	PromptTokenIDs    []int            `json:"prompt_token_ids"`
	KVTransferParams  any              `json:"kv_transfer_params"`
}

type vllmChatChoice struct {
	Index        int           `json:"index"`
	Message      vllmMessage   `json:"message"`
	Logprobs     *chatLogprobs `json:"logprobs"`
	FinishReason string        `json:"finish_reason"`
	StopReason   any           `json:"stop_reason"`
	TokenIDs     []int         `json:"token_ids"`
}

type vllmMessage struct {
	Role         string         `json:"role"`
	Content      *string        `json:"content"`
	Refusal      any            `json:"refusal"`
	Annotations  any            `json:"annotations"`
	Audio        any            `json:"audio"`
	FunctionCall any            `json:"function_call"`
	ToolCalls    []vllmToolCall `json:"tool_calls"`
	Reasoning    any            `json:"reasoning"`
}

type vllmToolCall struct {
	ID       string       `json:"id"`
	Type     string       `json:"type"`
	Function vllmFunction `json:"function"`
}

type vllmFunction struct {
	Name      string `json:"name"`
	Arguments string `json:"arguments"`
}

type vllmUsage struct {
	PromptTokens        int `json:"prompt_tokens"`
	TotalTokens         int `json:"total_tokens"`
	CompletionTokens    int `json:"completion_tokens"`
	PromptTokensDetails any `json:"prompt_tokens_details"`
}

func (v *VLLM) chat(w http.ResponseWriter, r *http.Request) {
	req, ok := v.decode(w, r)
	if !ok {
		return
	}
	if len(req.Messages) == 0 {
		vllmError(w, http.StatusBadRequest, "BadRequestError", "messages must be a non-empty array")
		return
	}
	if req.TopLogprobs > 0 && !wantLogprobs(req.Logprobs) {
		vllmError(w, http.StatusBadRequest, "BadRequestError", "when using `top_logprobs`, `logprobs` must be set to true.")
		return
	}
	messages, err := textMessages(req.Messages)
	if err != nil {
		vllmError(w, http.StatusBadRequest, "BadRequestError", err.Error())
		return
	}
	id, created, promptIDs, answers, logprobs := v.newCall(req, messages, TokenIDs(promptText(messages)), "chatcmpl")
	if req.Stream {
		v.streamChat(w, r.Context(), req, id, created, promptIDs, answers, logprobs)
		return
	}
	resp := vllmChatResponse{ID: id, Object: "chat.completion", Created: created, Model: req.Model}
	for i, a := range answers {
		ch := vllmChatChoice{Index: i, FinishReason: a.finish}
		msg := vllmMessage{Role: "assistant", ToolCalls: []vllmToolCall{}}
		if a.toolName != "" {
			msg.ToolCalls = []vllmToolCall{{ID: a.toolID, Type: "function", Function: vllmFunction{Name: a.toolName, Arguments: a.text()}}}
		} else {
			t := a.text()
			msg.Content = &t
		}
		ch.Message = msg
		if logprobs {
			lp := &chatLogprobs{Content: []chatLogprob{}}
			for j, p := range a.pieces {
				lp.Content = append(lp.Content, chatLogprobItem(p, a.ids[j]))
			}
			ch.Logprobs = lp
		}
		if req.ReturnTokenIDs {
			ch.TokenIDs = a.ids
		}
		resp.Choices = append(resp.Choices, ch)
	}
	if req.ReturnTokenIDs {
		resp.PromptTokenIDs = promptIDs
	}
	resp.Usage = usageOf(promptIDs, answers)
	writeJSON(w, http.StatusOK, resp)
}

// Streamed chat chunks omit unset keys, as vLLM's do.
type vllmChatChunk struct {
	ID             string            `json:"id"`
	Object         string            `json:"object"`
	Created        int64             `json:"created"`
	Model          string            `json:"model"`
	Choices        []vllmChunkChoice `json:"choices"`
	Usage          *vllmUsage        `json:"usage,omitempty"`
	PromptTokenIDs []int             `json:"prompt_token_ids,omitempty"`
}

type vllmChunkChoice struct {
	Index        int           `json:"index"`
	Delta        vllmDelta     `json:"delta"`
	Logprobs     *chatLogprobs `json:"logprobs"`
	FinishReason *string       `json:"finish_reason"`
	StopReason   *string       `json:"stop_reason,omitempty"`
	TokenIDs     []int         `json:"token_ids,omitempty"`
}

type vllmDelta struct {
	Role      string           `json:"role,omitempty"`
	Content   *string          `json:"content,omitempty"`
	ToolCalls []vllmToolCallDx `json:"tool_calls,omitempty"`
}

type vllmToolCallDx struct {
	ID       string         `json:"id,omitempty"`
	Type     string         `json:"type,omitempty"`
	Index    int            `json:"index"`
	Function vllmFunctionDx `json:"function"`
}

type vllmFunctionDx struct {
	Name      string `json:"name,omitempty"`
	Arguments string `json:"arguments"`
}

// sse writes the events of a stream, flushing each; it stops when the
// client goes away.
type sse struct {
	w     http.ResponseWriter
	ctx   context.Context
	delay time.Duration
	gone  bool
}

func (s *sse) send(v any) bool {
	var b []byte
	if raw, ok := v.(string); ok {
		b = []byte(raw)
	} else {
		b, _ = json.Marshal(v)
	}
	return s.sendRaw("data: " + string(b) + "\n\n")
}

// sendRaw writes one whole event (its lines and the blank line).
func (s *sse) sendRaw(event string) bool {
	if s.gone {
		return false
	}
	if s.delay > 0 {
		select {
		case <-s.ctx.Done():
		case <-time.After(s.delay):
		}
	}
	if s.ctx.Err() != nil {
		s.gone = true
		return false
	}
	if _, err := io.WriteString(s.w, event); err != nil {
		s.gone = true
		return false
	}
	if err := http.NewResponseController(s.w).Flush(); err != nil {
		s.gone = true
	}
	return !s.gone
}

func startSSE(w http.ResponseWriter) {
	w.Header().Set("Content-Type", "text/event-stream; charset=utf-8")
	w.WriteHeader(http.StatusOK)
}

func (v *VLLM) streamChat(w http.ResponseWriter, ctx context.Context, req *vllmRequest, id string, created int64,
	promptIDs []int, answers []completion, logprobs bool) {
	startSSE(w)
	s := &sse{w: w, ctx: ctx, delay: v.delay(req)}
	chunk := func(c vllmChunkChoice) vllmChatChunk {
		return vllmChatChunk{ID: id, Object: "chat.completion.chunk", Created: created, Model: req.Model, Choices: []vllmChunkChoice{c}}
	}
	empty := ""
	// 1. The role chunk of each choice repeats the prompt ids.
	for i := range answers {
		ch := chunk(vllmChunkChoice{Index: i, Delta: vllmDelta{Role: "assistant", Content: &empty}})
		if req.ReturnTokenIDs {
			ch.PromptTokenIDs = promptIDs
		}
		if !s.send(ch) {
			v.cancelled.Add(1)
			return
		}
	}
	// 2. Token chunks, choices interleaved; the EOS token rides on the
	// finish chunk.
	longest := longestAnswer(answers)
	for j := 0; j < longest; j++ {
		for i, a := range answers {
			if j >= len(a.pieces) {
				continue
			}
			c := vllmChunkChoice{Index: i}
			last := j == len(a.pieces)-1
			if last {
				f := a.finish
				c.FinishReason = &f
				c.StopReason = nil
			} else if a.toolName != "" {
				dx := vllmToolCallDx{Index: 0, Function: vllmFunctionDx{Arguments: a.pieces[j]}}
				if j == 0 {
					dx.ID, dx.Type, dx.Function.Name = a.toolID, "function", a.toolName
				}
				c.Delta.ToolCalls = []vllmToolCallDx{dx}
			} else {
				p := a.pieces[j]
				c.Delta.Content = &p
			}
			if logprobs {
				c.Logprobs = &chatLogprobs{Content: []chatLogprob{chatLogprobItem(a.pieces[j], a.ids[j])}}
			}
			if req.ReturnTokenIDs {
				c.TokenIDs = []int{a.ids[j]}
			}
			if !s.send(chunk(c)) {
				v.cancelled.Add(1)
				return
			}
		}
	}
	if req.StreamOptions != nil && req.StreamOptions.IncludeUsage {
		u := usageOf(promptIDs, answers)
		if !s.send(vllmChatChunk{ID: id, Object: "chat.completion.chunk", Created: created, Model: req.Model,
			Choices: []vllmChunkChoice{}, Usage: &u}) {
			v.cancelled.Add(1)
			return
		}
	}
	s.send("[DONE]")
}

// Completions (text) responses; vLLM sends every key, nulls included.
type vllmCompletion struct {
	ID                string           `json:"id"`
	Object            string           `json:"object"`
	Created           int64            `json:"created"`
	Model             string           `json:"model"`
	Choices           []vllmTextChoice `json:"choices"`
	ServiceTier       *string          `json:"service_tier,omitempty"`
	SystemFingerprint *string          `json:"system_fingerprint,omitempty"`
	Usage             *vllmUsage       `json:"usage"`
	KVTransferParams  any              `json:"kv_transfer_params,omitempty"`
}

type vllmTextChoice struct {
	Index          int           `json:"index"`
	Text           string        `json:"text"`
	Logprobs       *textLogprobs `json:"logprobs"`
	FinishReason   *string       `json:"finish_reason"`
	StopReason     any           `json:"stop_reason"`
	TokenIDs       []int         `json:"token_ids"`
	PromptLogprobs any           `json:"prompt_logprobs"`
	PromptTokenIDs []int         `json:"prompt_token_ids"`
}

type textLogprobs struct {
	TextOffset    []int     `json:"text_offset"`
	TokenLogprobs []float64 `json:"token_logprobs"`
	Tokens        []string  `json:"tokens"`
	TopLogprobs   []any     `json:"top_logprobs"`
}

func textLogprobsOf(pieces []string, ids []int, offset int) *textLogprobs {
	lp := &textLogprobs{TextOffset: []int{}, TokenLogprobs: []float64{}, Tokens: []string{}, TopLogprobs: []any{}}
	for j, p := range pieces {
		lp.TextOffset = append(lp.TextOffset, offset)
		offset += utf8.RuneCountInString(p)
		lp.TokenLogprobs = append(lp.TokenLogprobs, tokenLogprob(ids[j]))
		lp.Tokens = append(lp.Tokens, pieceToken(p))
		lp.TopLogprobs = append(lp.TopLogprobs, nil)
	}
	return lp
}

func (v *VLLM) completions(w http.ResponseWriter, r *http.Request) {
	req, ok := v.decode(w, r)
	if !ok {
		return
	}
	var prompt string
	if err := json.Unmarshal(req.Prompt, &prompt); err != nil {
		vllmError(w, http.StatusBadRequest, "BadRequestError", "prompt must be a string")
		return
	}
	// vLLM's pydantic model takes an int in lax mode: true and false are
	// read as 1 and 0 (Agent Lightning v1.0's proxy sends logprobs: true).
	if s := strings.TrimSpace(string(req.Logprobs)); s != "" && s != "null" && s != "true" && s != "false" {
		if n, err := strconv.Atoi(s); err != nil || n < 0 {
			vllmError(w, http.StatusBadRequest, "BadRequestError", "logprobs must be a non-negative integer")
			return
		}
	}
	req.Tools = nil // completions have no tools
	id, created, promptIDs, answers, logprobs := v.newCall(req, []Message{{Role: "user", Content: prompt}}, TokenIDs(prompt), "cmpl")
	if req.Stream {
		v.streamCompletions(w, r.Context(), req, id, created, promptIDs, answers, logprobs)
		return
	}
	resp := vllmCompletion{ID: id, Object: "text_completion", Created: created, Model: req.Model}
	for i, a := range answers {
		f := a.finish
		ch := vllmTextChoice{Index: i, Text: a.text(), FinishReason: &f}
		if logprobs {
			ch.Logprobs = textLogprobsOf(a.pieces, a.ids, 0)
		}
		if req.ReturnTokenIDs {
			ch.TokenIDs, ch.PromptTokenIDs = a.ids, promptIDs
		}
		resp.Choices = append(resp.Choices, ch)
	}
	u := usageOf(promptIDs, answers)
	resp.Usage = &u
	writeJSON(w, http.StatusOK, resp)
}

func (v *VLLM) streamCompletions(w http.ResponseWriter, ctx context.Context, req *vllmRequest, id string, created int64,
	promptIDs []int, answers []completion, logprobs bool) {
	startSSE(w)
	s := &sse{w: w, ctx: ctx, delay: v.delay(req)}
	longest := longestAnswer(answers)
	offsets := make([]int, len(answers))
	for j := 0; j < longest; j++ {
		for i, a := range answers {
			if j >= len(a.pieces) {
				continue
			}
			c := vllmTextChoice{Index: i, Text: a.pieces[j]}
			if j == len(a.pieces)-1 {
				f := a.finish
				c.FinishReason = &f
			}
			if logprobs {
				c.Logprobs = textLogprobsOf(a.pieces[j:j+1], a.ids[j:j+1], offsets[i])
			}
			offsets[i] += utf8.RuneCountInString(a.pieces[j])
			if req.ReturnTokenIDs {
				c.TokenIDs = []int{a.ids[j]}
				if j == 0 {
					c.PromptTokenIDs = promptIDs
				}
			}
			if !s.send(vllmCompletion{ID: id, Object: "text_completion", Created: created, Model: req.Model, Choices: []vllmTextChoice{c}}) {
				v.cancelled.Add(1)
				return
			}
		}
	}
	if req.StreamOptions != nil && req.StreamOptions.IncludeUsage {
		u := usageOf(promptIDs, answers)
		if !s.send(vllmCompletion{ID: id, Object: "text_completion", Created: created, Model: req.Model, Choices: []vllmTextChoice{}, Usage: &u}) {
			v.cancelled.Add(1)
			return
		}
	}
	s.send("[DONE]")
}
