// Package llmmock is a tiny, deterministic OpenAI-compatible chat completions
// server for tests. It answers POST /v1/chat/completions with a fixed reply
// and, like vLLM, can attach the token ids of the prompt and of the reply, so
// the Agent Lightning data plane (tracers, adapters, triplets) can be driven
// end to end without a model.
//
// Determinism: the reply text is fixed by Options (or a pure function of the
// conversation, with Options.Respond; see Arithmetic for the prompt-sensitive
// behaviour the trainer tests use), token ids are a pure function of the text, and completion ids come from a per-handler counter
// ("chatcmpl-mock-1", "chatcmpl-mock-2", ...). Ids must differ between calls
// because Agent Lightning de-duplicates LLM calls by response id.
package llmmock

import (
	"encoding/json"
	"errors"
	"fmt"
	"hash/fnv"
	"io"
	"net/http"
	"strings"
	"sync/atomic"
	"time"
)

// DefaultReply is the assistant message returned when Options.Reply is empty.
const DefaultReply = "The answer is 4."

// DefaultModel is reported when a request names no model.
const DefaultModel = "llmmock"

// vocabularySize bounds the fake token ids, like a real tokenizer's vocabulary.
const vocabularySize = 50000

// maxBodyBytes bounds a request body; chat requests in tests are tiny.
const maxBodyBytes = 1 << 20

// Options configures a Handler.
type Options struct {
	// Reply is the assistant message content of every completion (default DefaultReply).
	Reply string
	// Now returns the creation time stamped on completions (default time.Now).
	// Tests fix it to make whole responses byte-for-byte reproducible.
	Now func() time.Time
	// Respond, when set, chooses the reply from the conversation (text parts
	// only) instead of Reply. It must be deterministic and safe for
	// concurrent use; Arithmetic is one.
	Respond func(messages []Message) string
}

// Handler serves the mock API. Create it with New; it is safe for concurrent use.
type Handler struct {
	reply   string
	respond func([]Message) string
	now     func() time.Time
	calls   atomic.Int64
	mux     *http.ServeMux
}

// New returns a Handler serving POST /v1/chat/completions and GET /health.
func New(opts Options) *Handler {
	h := &Handler{reply: opts.Reply, respond: opts.Respond, now: opts.Now}
	if h.reply == "" {
		h.reply = DefaultReply
	}
	if h.now == nil {
		h.now = time.Now
	}
	h.mux = http.NewServeMux()
	h.mux.HandleFunc("POST /v1/chat/completions", h.chatCompletions)
	h.mux.HandleFunc("GET /health", func(w http.ResponseWriter, _ *http.Request) {
		writeJSON(w, http.StatusOK, map[string]string{"status": "ok"})
	})
	return h
}

// Calls reports how many completions the handler has produced.
func (h *Handler) Calls() int64 { return h.calls.Load() }

// ServeHTTP implements http.Handler.
func (h *Handler) ServeHTTP(w http.ResponseWriter, r *http.Request) { h.mux.ServeHTTP(w, r) }

// chatRequest holds the request fields the mock looks at; everything else
// (temperature, tools, ...) is accepted and ignored.
type chatRequest struct {
	Model    string        `json:"model"`
	Messages []chatMessage `json:"messages"`
	Stream   bool          `json:"stream"`
	// ReturnTokenIDs is vLLM's switch for prompt_token_ids / choices[].token_ids.
	ReturnTokenIDs bool `json:"return_token_ids"`
}

type chatMessage struct {
	Role string `json:"role"`
	// Content is a string or a list of content parts.
	Content json.RawMessage `json:"content"`
}

// ChatCompletion is the response body (the OpenAI chat.completion object plus
// vLLM's token id extensions, present only when requested).
type ChatCompletion struct {
	ID             string   `json:"id"`
	Object         string   `json:"object"`
	Created        int64    `json:"created"`
	Model          string   `json:"model"`
	Choices        []Choice `json:"choices"`
	Usage          Usage    `json:"usage"`
	PromptTokenIDs []int    `json:"prompt_token_ids,omitempty"`
}

// Choice is one completion choice.
type Choice struct {
	Index        int     `json:"index"`
	Message      Message `json:"message"`
	FinishReason string  `json:"finish_reason"`
	Logprobs     any     `json:"logprobs"`
	TokenIDs     []int   `json:"token_ids,omitempty"`
}

// Message is the assistant message of a choice.
type Message struct {
	Role    string `json:"role"`
	Content string `json:"content"`
}

// Usage counts tokens the way the fake tokenizer splits the texts.
type Usage struct {
	PromptTokens     int `json:"prompt_tokens"`
	CompletionTokens int `json:"completion_tokens"`
	TotalTokens      int `json:"total_tokens"`
}

func (h *Handler) chatCompletions(w http.ResponseWriter, r *http.Request) {
	var req chatRequest
	if err := json.NewDecoder(io.LimitReader(r.Body, maxBodyBytes)).Decode(&req); err != nil {
		writeError(w, http.StatusBadRequest, fmt.Sprintf("invalid JSON body: %v", err))
		return
	}
	if len(req.Messages) == 0 {
		writeError(w, http.StatusBadRequest, "messages must be a non-empty array")
		return
	}
	if req.Stream {
		writeError(w, http.StatusBadRequest, "streaming is not supported by llmmock")
		return
	}
	messages, err := textMessages(req.Messages)
	if err != nil {
		writeError(w, http.StatusBadRequest, err.Error())
		return
	}
	writeJSON(w, http.StatusOK, h.complete(req, messages))
}

func (h *Handler) complete(req chatRequest, messages []Message) ChatCompletion {
	n := h.calls.Add(1)
	model := req.Model
	if model == "" {
		model = DefaultModel
	}
	reply := h.reply
	if h.respond != nil {
		reply = h.respond(messages)
	}
	promptIDs := TokenIDs(promptText(messages))
	replyIDs := TokenIDs(reply)
	resp := ChatCompletion{
		ID:      fmt.Sprintf("chatcmpl-mock-%d", n),
		Object:  "chat.completion",
		Created: h.now().Unix(),
		Model:   model,
		Choices: []Choice{{
			Message:      Message{Role: "assistant", Content: reply},
			FinishReason: "stop",
		}},
		Usage: Usage{
			PromptTokens:     len(promptIDs),
			CompletionTokens: len(replyIDs),
			TotalTokens:      len(promptIDs) + len(replyIDs),
		},
	}
	if req.ReturnTokenIDs {
		resp.PromptTokenIDs = promptIDs
		resp.Choices[0].TokenIDs = replyIDs
	}
	return resp
}

// textMessages reduces the request's messages to their text parts.
func textMessages(messages []chatMessage) ([]Message, error) {
	out := make([]Message, len(messages))
	for i, m := range messages {
		text, err := contentText(m.Content)
		if err != nil {
			return nil, fmt.Errorf("messages[%d].content: %w", i, err)
		}
		out[i] = Message{Role: m.Role, Content: text}
	}
	return out, nil
}

// promptText renders the conversation the way the fake tokenizer sees it:
// "role: content" per message, text parts only.
func promptText(messages []Message) string {
	var b strings.Builder
	for i, m := range messages {
		if i > 0 {
			b.WriteByte('\n')
		}
		b.WriteString(m.Role)
		b.WriteString(": ")
		b.WriteString(m.Content)
	}
	return b.String()
}

func contentText(raw json.RawMessage) (string, error) {
	if len(raw) == 0 || string(raw) == "null" {
		return "", nil
	}
	var s string
	if err := json.Unmarshal(raw, &s); err == nil {
		return s, nil
	}
	var parts []struct {
		Type string `json:"type"`
		Text string `json:"text"`
	}
	if err := json.Unmarshal(raw, &parts); err != nil {
		return "", errors.New("must be a string or an array of content parts")
	}
	texts := make([]string, 0, len(parts))
	for _, p := range parts {
		if p.Type == "text" {
			texts = append(texts, p.Text)
		}
	}
	return strings.Join(texts, " "), nil
}

// TokenIDs is the mock's tokenizer: one id per whitespace-separated word, the
// word's FNV-1a hash folded into [1, vocabularySize). Equal texts always give
// equal ids, so tests can predict them.
func TokenIDs(text string) []int {
	words := strings.Fields(text)
	ids := make([]int, len(words))
	for i, w := range words {
		f := fnv.New32a()
		_, _ = f.Write([]byte(w)) // hash.Hash never returns an error
		ids[i] = 1 + int(f.Sum32()%(vocabularySize-1))
	}
	return ids
}

type apiError struct {
	Error apiErrorBody `json:"error"`
}

type apiErrorBody struct {
	Message string `json:"message"`
	Type    string `json:"type"`
}

// writeError answers in OpenAI's error shape, which the openai SDK parses.
func writeError(w http.ResponseWriter, status int, msg string) {
	writeJSON(w, status, apiError{Error: apiErrorBody{Message: msg, Type: "invalid_request_error"}})
}

func writeJSON(w http.ResponseWriter, status int, v any) {
	w.Header().Set("Content-Type", "application/json")
	w.WriteHeader(status)
	// The status line is already sent; a failed write means the client left.
	_ = json.NewEncoder(w).Encode(v)
}
