package benchrun

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"time"

	"github.com/otelcol-lightning/otelcol-lightning/bench/loadgen"
)

// API is the part of the Agent Lightning store REST API the benchmark uses,
// the same calls a runner and a trainer make.
type API struct {
	base   string // http://host:port
	client *http.Client
}

// NewAPI talks to the store server at base.
func NewAPI(base string) *API {
	transport := http.DefaultTransport.(*http.Transport).Clone()
	transport.MaxIdleConnsPerHost = 64
	return &API{base: base, client: &http.Client{Transport: transport, Timeout: 60 * time.Second}}
}

func (a *API) do(ctx context.Context, method, path string, body any, want int, out any) error {
	var reader io.Reader
	if body != nil {
		raw, err := json.Marshal(body)
		if err != nil {
			return fmt.Errorf("encode %s body: %w", path, err)
		}
		reader = bytes.NewReader(raw)
	}
	req, err := http.NewRequestWithContext(ctx, method, a.base+path, reader)
	if err != nil {
		return fmt.Errorf("build %s %s: %w", method, path, err)
	}
	if body != nil {
		req.Header.Set("Content-Type", "application/json")
	}
	resp, err := a.client.Do(req)
	if err != nil {
		return fmt.Errorf("%s %s: %w", method, path, err)
	}
	defer resp.Body.Close()
	raw, err := io.ReadAll(resp.Body)
	if err != nil {
		return fmt.Errorf("read %s %s: %w", method, path, err)
	}
	if resp.StatusCode != want {
		if len(raw) > 300 {
			raw = raw[:300]
		}
		return fmt.Errorf("%s %s: status %d: %s", method, path, resp.StatusCode, raw)
	}
	if out == nil {
		return nil
	}
	if err := json.Unmarshal(raw, out); err != nil {
		return fmt.Errorf("decode %s %s: %w", method, path, err)
	}
	return nil
}

// StartRollout is start_rollout: a rollout with its first attempt.
func (a *API) StartRollout(ctx context.Context, input any) (loadgen.IDs, error) {
	var out struct {
		RolloutID string `json:"rollout_id"`
		Attempt   *struct {
			AttemptID string `json:"attempt_id"`
		} `json:"attempt"`
	}
	if err := a.do(ctx, http.MethodPost, "/v1/agl/rollouts", map[string]any{"input": input}, http.StatusCreated, &out); err != nil {
		return loadgen.IDs{}, err
	}
	if out.Attempt == nil {
		return loadgen.IDs{}, fmt.Errorf("start_rollout returned no attempt for %s", out.RolloutID)
	}
	return loadgen.IDs{RolloutID: out.RolloutID, AttemptID: out.Attempt.AttemptID}, nil
}

// CompleteAttempt marks the rollout's latest attempt succeeded, as a runner
// does when the agent returns.
func (a *API) CompleteAttempt(ctx context.Context, rolloutID string) error {
	return a.do(ctx, http.MethodPost, "/v1/agl/rollouts/"+url.PathEscape(rolloutID)+"/attempts/latest",
		map[string]any{"status": "succeeded"}, http.StatusOK, nil)
}

// SpanCount is the number of spans query_spans finds for the attempt.
func (a *API) SpanCount(ctx context.Context, ids loadgen.IDs) (int, error) {
	var out struct {
		Total int `json:"total"`
	}
	body := map[string]any{"rollout_id": ids.RolloutID, "attempt_id": ids.AttemptID, "limit": 1}
	if err := a.do(ctx, http.MethodPost, "/v1/agl/spans/search", body, http.StatusOK, &out); err != nil {
		return 0, err
	}
	return out.Total, nil
}

// TripletCount is the number of triplets of the rollout's latest attempt
// (our /v1/lightning API; Agent Lightning has no server-side triplets).
func (a *API) TripletCount(ctx context.Context, rolloutID string) (int, error) {
	var out struct {
		Items []json.RawMessage `json:"items"`
	}
	if err := a.do(ctx, http.MethodGet, "/v1/lightning/rollouts/"+url.PathEscape(rolloutID)+"/triplets", nil, http.StatusOK, &out); err != nil {
		return 0, err
	}
	return len(out.Items), nil
}

// TotalSpans is statistics().total_spans.
func (a *API) TotalSpans(ctx context.Context) (int64, error) {
	var out struct {
		TotalSpans int64 `json:"total_spans"`
	}
	if err := a.do(ctx, http.MethodGet, "/v1/agl/statistics", nil, http.StatusOK, &out); err != nil {
		return 0, err
	}
	return out.TotalSpans, nil
}
