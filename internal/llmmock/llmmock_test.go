package llmmock

import (
	"encoding/json"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

var fixedNow = func() time.Time { return time.Unix(1735689600, 0) }

func post(t *testing.T, h http.Handler, body string) *httptest.ResponseRecorder {
	t.Helper()
	req := httptest.NewRequest(http.MethodPost, "/v1/chat/completions", strings.NewReader(body))
	req.Header.Set("Content-Type", "application/json")
	rec := httptest.NewRecorder()
	h.ServeHTTP(rec, req)
	return rec
}

func TestChatCompletionExactBody(t *testing.T) {
	h := New(Options{Reply: "four", Now: fixedNow})
	rec := post(t, h, `{"model":"m1","messages":[{"role":"user","content":"2 + 2?"}],"return_token_ids":true}`)
	require.Equal(t, http.StatusOK, rec.Code)
	assert.Equal(t, "application/json", rec.Header().Get("Content-Type"))

	prompt := TokenIDs("user: 2 + 2?")
	reply := TokenIDs("four")
	want := map[string]any{
		"id":      "chatcmpl-mock-1",
		"object":  "chat.completion",
		"created": 1735689600,
		"model":   "m1",
		"choices": []any{map[string]any{
			"index":         0,
			"message":       map[string]any{"role": "assistant", "content": "four"},
			"finish_reason": "stop",
			"logprobs":      nil,
			"token_ids":     reply,
		}},
		"usage":            map[string]any{"prompt_tokens": 4, "completion_tokens": 1, "total_tokens": 5},
		"prompt_token_ids": prompt,
	}
	wantJSON, err := json.Marshal(want)
	require.NoError(t, err)
	assert.JSONEq(t, string(wantJSON), rec.Body.String())
}

func TestChatCompletionVariants(t *testing.T) {
	tests := []struct {
		name         string
		body         string
		wantModel    string
		wantPrompt   string
		wantTokenIDs bool
	}{
		{
			name:       "no token ids unless requested",
			body:       `{"model":"m","messages":[{"role":"user","content":"hi there"}]}`,
			wantModel:  "m",
			wantPrompt: "user: hi there",
		},
		{
			name:         "default model and multi-message prompt",
			body:         `{"messages":[{"role":"system","content":"be brief"},{"role":"user","content":"hi"}],"return_token_ids":true}`,
			wantModel:    DefaultModel,
			wantPrompt:   "system: be brief\nuser: hi",
			wantTokenIDs: true,
		},
		{
			name:         "content parts keep text only",
			body:         `{"model":"m","messages":[{"role":"user","content":[{"type":"text","text":"look"},{"type":"image_url","image_url":{"url":"x"}},{"type":"text","text":"here"}]}],"return_token_ids":true}`,
			wantModel:    "m",
			wantPrompt:   "user: look here",
			wantTokenIDs: true,
		},
		{
			name:       "null content (assistant tool call turn)",
			body:       `{"model":"m","messages":[{"role":"assistant","content":null},{"role":"user","content":"ok"}],"temperature":0.2}`,
			wantModel:  "m",
			wantPrompt: "assistant: \nuser: ok",
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			rec := post(t, New(Options{Now: fixedNow}), tt.body)
			require.Equal(t, http.StatusOK, rec.Code, rec.Body.String())
			var got ChatCompletion
			require.NoError(t, json.Unmarshal(rec.Body.Bytes(), &got))

			assert.Equal(t, tt.wantModel, got.Model)
			require.Len(t, got.Choices, 1)
			assert.Equal(t, DefaultReply, got.Choices[0].Message.Content)
			promptIDs := TokenIDs(tt.wantPrompt)
			assert.Equal(t, len(promptIDs), got.Usage.PromptTokens)
			assert.Equal(t, len(promptIDs)+len(TokenIDs(DefaultReply)), got.Usage.TotalTokens)
			if tt.wantTokenIDs {
				assert.Equal(t, promptIDs, got.PromptTokenIDs)
				assert.Equal(t, TokenIDs(DefaultReply), got.Choices[0].TokenIDs)
			} else {
				assert.NotContains(t, rec.Body.String(), "token_ids")
			}
		})
	}
}

func TestCompletionIDsAreUniqueAndCounted(t *testing.T) {
	h := New(Options{})
	body := `{"model":"m","messages":[{"role":"user","content":"x"}]}`
	seen := map[string]bool{}
	for range 3 {
		var got ChatCompletion
		require.NoError(t, json.Unmarshal(post(t, h, body).Body.Bytes(), &got))
		assert.False(t, seen[got.ID], "duplicate id %s", got.ID)
		seen[got.ID] = true
	}
	assert.Equal(t, int64(3), h.Calls())
	assert.True(t, seen["chatcmpl-mock-3"])
}

func TestRejectsBadRequests(t *testing.T) {
	tests := []struct {
		name    string
		body    string
		wantMsg string
	}{
		{"not json", `{"model":`, "invalid JSON body"},
		{"no messages", `{"model":"m","messages":[]}`, "messages must be a non-empty array"},
		{"streaming", `{"model":"m","stream":true,"messages":[{"role":"user","content":"x"}]}`, "streaming is not supported"},
		{"bad content", `{"model":"m","messages":[{"role":"user","content":42}]}`, "messages[0].content"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			h := New(Options{})
			rec := post(t, h, tt.body)
			assert.Equal(t, http.StatusBadRequest, rec.Code)
			var got apiError
			require.NoError(t, json.Unmarshal(rec.Body.Bytes(), &got))
			assert.Contains(t, got.Error.Message, tt.wantMsg)
			assert.Equal(t, "invalid_request_error", got.Error.Type)
			assert.Zero(t, h.Calls(), "a rejected request is not a completion")
		})
	}
}

func TestRoutes(t *testing.T) {
	h := New(Options{})
	for _, tt := range []struct {
		method, path string
		want         int
	}{
		{http.MethodGet, "/health", http.StatusOK},
		{http.MethodGet, "/v1/chat/completions", http.StatusMethodNotAllowed},
		{http.MethodPost, "/v1/completions", http.StatusNotFound},
	} {
		rec := httptest.NewRecorder()
		h.ServeHTTP(rec, httptest.NewRequest(tt.method, tt.path, nil))
		assert.Equal(t, tt.want, rec.Code, "%s %s", tt.method, tt.path)
	}
}

func TestTokenIDsDeterministicAndInRange(t *testing.T) {
	a := TokenIDs("the quick  brown\tfox")
	require.Len(t, a, 4)
	assert.Equal(t, a, TokenIDs("the quick brown fox"), "whitespace runs do not matter")
	assert.Equal(t, a[0], TokenIDs("the")[0])
	for _, id := range a {
		assert.True(t, id >= 1 && id < vocabularySize, "id %d out of range", id)
	}
	assert.Empty(t, TokenIDs("   "))
}
