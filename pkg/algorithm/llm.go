package algorithm

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"strings"
	"time"
)

// ChatMessage is one message of a chat completion request.
type ChatMessage struct {
	Role    string `json:"role"`
	Content string `json:"content"`
}

// ChatClient calls a chat model.
type ChatClient interface {
	// Complete returns the content of the first choice.
	Complete(ctx context.Context, model string, messages []ChatMessage, temperature float64) (string, error)
}

// OpenAIClient calls an OpenAI-compatible /chat/completions endpoint.
type OpenAIClient struct {
	// HTTP sends the requests (built from confighttp by the caller).
	HTTP *http.Client
	// BaseURL is the API root, e.g. https://api.openai.com/v1; the client
	// posts to BaseURL + "/chat/completions".
	BaseURL string
	// APIKey, when set, is sent as a bearer token.
	APIKey string
	// Retries is how many times a 408, 429, 5xx or network error is retried
	// (default 2), after 1 s, 2 s, 4 s, ...
	Retries int
}

var _ ChatClient = (*OpenAIClient)(nil)

// maxCompletionBytes bounds a completion response.
const maxCompletionBytes = 8 << 20

type chatRequest struct {
	Model       string        `json:"model"`
	Messages    []ChatMessage `json:"messages"`
	Temperature float64       `json:"temperature"`
}

type chatResponse struct {
	Choices []struct {
		Message struct {
			Content *string `json:"content"`
		} `json:"message"`
	} `json:"choices"`
}

// retryable marks failures worth another try.
type retryable struct{ error }

func (r retryable) Unwrap() error { return r.error }

// Complete implements ChatClient.
func (c *OpenAIClient) Complete(ctx context.Context, model string, messages []ChatMessage, temperature float64) (string, error) {
	body, err := json.Marshal(chatRequest{Model: model, Messages: messages, Temperature: temperature})
	if err != nil {
		return "", fmt.Errorf("encode the chat request: %w", err)
	}
	retries := c.Retries
	if retries == 0 {
		retries = 2
	}
	delay := time.Second
	for attempt := 0; ; attempt++ {
		out, err := c.once(ctx, body)
		var r retryable
		if err == nil || !errors.As(err, &r) || attempt >= retries {
			return out, err
		}
		timer := time.NewTimer(delay)
		select {
		case <-ctx.Done():
			timer.Stop()
			return "", ctx.Err()
		case <-timer.C:
		}
		delay *= 2
	}
}

func (c *OpenAIClient) once(ctx context.Context, body []byte) (string, error) {
	url := strings.TrimRight(c.BaseURL, "/") + "/chat/completions"
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, url, bytes.NewReader(body))
	if err != nil {
		return "", fmt.Errorf("build the chat request: %w", err)
	}
	req.Header.Set("Content-Type", "application/json")
	if c.APIKey != "" {
		req.Header.Set("Authorization", "Bearer "+c.APIKey)
	}
	client := c.HTTP
	if client == nil {
		client = http.DefaultClient
	}
	resp, err := client.Do(req)
	if err != nil {
		if ctx.Err() != nil {
			return "", ctx.Err()
		}
		return "", retryable{fmt.Errorf("call %s: %w", url, err)}
	}
	defer resp.Body.Close()
	data, err := io.ReadAll(io.LimitReader(resp.Body, maxCompletionBytes))
	if err != nil {
		return "", retryable{fmt.Errorf("read the answer of %s: %w", url, err)}
	}
	if resp.StatusCode != http.StatusOK {
		err := fmt.Errorf("%s answered %s: %s", url, resp.Status, truncate(string(data), 512))
		if resp.StatusCode == http.StatusRequestTimeout || resp.StatusCode == http.StatusTooManyRequests || resp.StatusCode >= 500 {
			return "", retryable{err}
		}
		return "", err
	}
	var out chatResponse
	if err := json.Unmarshal(data, &out); err != nil {
		return "", fmt.Errorf("decode the answer of %s: %w", url, err)
	}
	if len(out.Choices) == 0 || out.Choices[0].Message.Content == nil {
		return "", fmt.Errorf("the answer of %s has no message content", url)
	}
	return *out.Choices[0].Message.Content, nil
}

// truncate cuts s to n bytes (on a rune boundary) with an ellipsis.
func truncate(s string, n int) string {
	if len(s) <= n {
		return s
	}
	cut := n
	for cut > 0 && !isRuneStart(s[cut]) {
		cut--
	}
	return s[:cut] + "…"
}

func isRuneStart(b byte) bool { return b&0xC0 != 0x80 }
