package runner

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"math"
	"net/http"

	"github.com/otelcol-lightning/otelcol-lightning/pkg/model"
)

// DefaultResponseLimitBytes bounds how much of an agent's answer is read.
const DefaultResponseLimitBytes = 64 << 10

// HTTPConfig describes the agent service rollouts are posted to.
type HTTPConfig struct {
	// Client sends the requests (built from confighttp by the caller).
	Client *http.Client
	// Endpoint is the URL rollouts are POSTed to.
	Endpoint string
	// Headers are added to every request.
	Headers map[string]string
	// ResponseLimitBytes bounds the response body read (default 64 KiB).
	ResponseLimitBytes int
}

// HTTPExecutor posts each rollout to an agent service and waits for its
// answer: a 2xx status means success, and a JSON body {"reward": x} adds a
// reward. The request is cancelled on timeout or shutdown.
type HTTPExecutor struct {
	cfg HTTPConfig
}

var _ Executor = (*HTTPExecutor)(nil)

// NewHTTPExecutor checks cfg and returns the executor.
func NewHTTPExecutor(cfg HTTPConfig) (*HTTPExecutor, error) {
	if cfg.Endpoint == "" {
		return nil, errors.New("http: endpoint must not be empty")
	}
	if cfg.Client == nil {
		cfg.Client = http.DefaultClient
	}
	if cfg.ResponseLimitBytes <= 0 {
		cfg.ResponseLimitBytes = DefaultResponseLimitBytes
	}
	return &HTTPExecutor{cfg: cfg}, nil
}

// RolloutRequest is the body posted to the agent service.
type RolloutRequest struct {
	RolloutID   string               `json:"rollout_id"`
	AttemptID   string               `json:"attempt_id"`
	Mode        *model.RolloutMode   `json:"mode"`
	Input       json.RawMessage      `json:"input"`
	ResourcesID string               `json:"resources_id"`
	Resources   model.NamedResources `json:"resources"`
	// OTLPEndpoint is where the agent should export its spans, with the
	// ids as span or resource attributes (OTelResourceAttributes).
	OTLPEndpoint           string `json:"otlp_endpoint"`
	OTelResourceAttributes string `json:"otel_resource_attributes"`
	WorkerID               string `json:"worker_id"`
}

// RolloutResponse is what the runner reads from a 2xx answer; every field
// is optional and a body that is not JSON is ignored.
type RolloutResponse struct {
	// Reward becomes a reward span.
	Reward *float64 `json:"reward"`
	// Metadata is merged into the attempt's metadata.
	Metadata map[string]any `json:"metadata"`
}

// Execute posts the rollout and maps the answer to a result.
func (e *HTTPExecutor) Execute(ctx context.Context, job *Job) Result {
	body, err := json.Marshal(RolloutRequest{
		RolloutID:              job.Rollout.RolloutID,
		AttemptID:              job.Attempt.AttemptID,
		Mode:                   job.Rollout.Mode,
		Input:                  model.RawOrNull(job.Rollout.Input),
		ResourcesID:            job.ResourcesID,
		Resources:              job.Resources,
		OTLPEndpoint:           job.OTLPEndpoint,
		OTelResourceAttributes: job.ResourceAttributes(),
		WorkerID:               job.WorkerID,
	})
	if err != nil {
		return Result{Status: model.AttemptFailed, Err: fmt.Errorf("encode the rollout: %w", err)}
	}
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, e.cfg.Endpoint, bytes.NewReader(body))
	if err != nil {
		return Result{Status: model.AttemptFailed, Err: fmt.Errorf("build the request: %w", err)}
	}
	req.Header.Set("Content-Type", "application/json")
	for k, v := range e.cfg.Headers {
		req.Header.Set(k, v)
	}
	resp, err := e.cfg.Client.Do(req)
	if err != nil {
		return Result{Status: model.AttemptFailed, Err: fmt.Errorf("post the rollout to %s: %w", e.cfg.Endpoint, err)}
	}
	defer resp.Body.Close()
	data, err := io.ReadAll(io.LimitReader(resp.Body, int64(e.cfg.ResponseLimitBytes)))
	meta := map[string]any{"http_status": resp.StatusCode}
	if err != nil {
		return Result{Status: model.AttemptFailed, Metadata: meta, Err: fmt.Errorf("read the agent's answer: %w", err)}
	}
	if resp.StatusCode < 200 || resp.StatusCode > 299 {
		meta["response"] = string(data)
		return Result{Status: model.AttemptFailed, Metadata: meta, Err: fmt.Errorf("agent answered %s", resp.Status)}
	}
	res := Result{Status: model.AttemptSucceeded, Metadata: meta}
	var answer RolloutResponse
	if len(bytes.TrimSpace(data)) > 0 && json.Unmarshal(data, &answer) == nil {
		for k, v := range answer.Metadata {
			if _, taken := meta[k]; !taken {
				meta[k] = v
			}
		}
		if r := answer.Reward; r != nil && !math.IsNaN(*r) && !math.IsInf(*r, 0) {
			res.Reward = r
		}
	}
	return res
}
