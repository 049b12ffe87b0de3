package llmmock

import (
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"sync/atomic"
	"time"
)

// Anthropic is a deterministic mock of Anthropic's Messages API
// (POST /v1/messages, anthropic-sdk-python's types; token-capture.md §7):
// x-api-key is required, the answer is a tool_use block of the first tool
// when tools are offered and the last user turn is text, else the reply
// text; streams follow message_start, ping, content_block_start / delta /
// stop per block, message_delta, message_stop. It has no token ids: none
// exist in Anthropic's API.
type Anthropic struct {
	opts  Options
	calls atomic.Int64
	delay time.Duration
}

// NewAnthropic returns the mock; delay is slept before each streamed event.
func NewAnthropic(opts Options, delay time.Duration) *Anthropic {
	if opts.Reply == "" {
		opts.Reply = DefaultReply
	}
	if opts.Now == nil {
		opts.Now = time.Now
	}
	return &Anthropic{opts: opts, delay: delay}
}

// Calls is the number of messages answered.
func (a *Anthropic) Calls() int64 { return a.calls.Load() }

func anthropicError(w http.ResponseWriter, status int, typ, msg string) {
	writeJSON(w, status, map[string]any{"type": "error", "error": map[string]string{"type": typ, "message": msg},
		"request_id": "req_mock"})
}

// ServeHTTP implements http.Handler.
func (a *Anthropic) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	if r.Method != http.MethodPost || r.URL.Path != "/v1/messages" {
		anthropicError(w, http.StatusNotFound, "not_found_error", "no route "+r.URL.Path)
		return
	}
	if r.Header.Get("x-api-key") == "" {
		anthropicError(w, http.StatusUnauthorized, "authentication_error", "x-api-key header is required")
		return
	}
	var req struct {
		Model     string `json:"model"`
		MaxTokens int    `json:"max_tokens"`
		Stream    bool   `json:"stream"`
		Messages  []struct {
			Role    string          `json:"role"`
			Content json.RawMessage `json:"content"`
		} `json:"messages"`
		Tools []struct {
			Name string `json:"name"`
		} `json:"tools"`
	}
	body, _ := io.ReadAll(io.LimitReader(r.Body, maxBodyBytes))
	if err := json.Unmarshal(body, &req); err != nil {
		anthropicError(w, http.StatusBadRequest, "invalid_request_error", "invalid JSON: "+err.Error())
		return
	}
	if req.MaxTokens <= 0 || len(req.Messages) == 0 {
		anthropicError(w, http.StatusBadRequest, "invalid_request_error", "max_tokens and messages are required")
		return
	}
	n := a.calls.Add(1)
	last := req.Messages[len(req.Messages)-1]
	var lastText string
	textTurn := json.Unmarshal(last.Content, &lastText) == nil
	reply := a.opts.Reply
	var block map[string]any
	stop := "end_turn"
	if len(req.Tools) > 0 && last.Role == "user" && textTurn {
		block = map[string]any{"type": "tool_use", "id": fmt.Sprintf("toolu_mock_%d", n), "name": req.Tools[0].Name,
			"input": map[string]string{"query": lastText}}
		stop = "tool_use"
	} else {
		block = map[string]any{"type": "text", "text": reply}
	}
	id := fmt.Sprintf("msg_mock_%d", n)
	inTokens := len(TokenIDs(string(body)))
	outText := reply
	if stop == "tool_use" {
		b, _ := json.Marshal(block["input"])
		outText = string(b)
	}
	outTokens := len(TokenIDs(outText)) + 1
	usage := map[string]int{"input_tokens": inTokens, "output_tokens": outTokens, "cache_creation_input_tokens": 0, "cache_read_input_tokens": 0}
	if !req.Stream {
		writeJSON(w, http.StatusOK, map[string]any{"id": id, "type": "message", "role": "assistant", "model": req.Model,
			"content": []any{block}, "stop_reason": stop, "stop_sequence": nil, "usage": usage})
		return
	}
	w.Header().Set("Content-Type", "text/event-stream; charset=utf-8")
	w.WriteHeader(http.StatusOK)
	s := &sse{w: w, ctx: r.Context(), delay: a.delay}
	send := func(typ string, v map[string]any) bool {
		v["type"] = typ
		b, _ := json.Marshal(v)
		return s.sendRaw("event: " + typ + "\ndata: " + string(b) + "\n\n")
	}
	ok := send("message_start", map[string]any{"message": map[string]any{"id": id, "type": "message", "role": "assistant",
		"model": req.Model, "content": []any{}, "stop_reason": nil, "stop_sequence": nil,
		"usage": map[string]int{"input_tokens": inTokens, "output_tokens": 1}}}) && send("ping", map[string]any{})
	if stop == "tool_use" {
		ok = ok && send("content_block_start", map[string]any{"index": 0, "content_block": map[string]any{
			"type": "tool_use", "id": block["id"], "name": block["name"], "input": map[string]any{}}})
		for _, p := range splitPieces(outText) {
			ok = ok && send("content_block_delta", map[string]any{"index": 0, "delta": map[string]any{"type": "input_json_delta", "partial_json": p}})
		}
	} else {
		ok = ok && send("content_block_start", map[string]any{"index": 0, "content_block": map[string]any{"type": "text", "text": ""}})
		for _, p := range splitPieces(reply) {
			ok = ok && send("content_block_delta", map[string]any{"index": 0, "delta": map[string]any{"type": "text_delta", "text": p}})
		}
	}
	_ = ok && send("content_block_stop", map[string]any{"index": 0}) &&
		send("message_delta", map[string]any{"delta": map[string]any{"stop_reason": stop, "stop_sequence": nil},
			"usage": map[string]int{"output_tokens": outTokens}}) &&
		send("message_stop", map[string]any{})
}
