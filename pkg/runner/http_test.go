package runner

import (
	"encoding/json"
	"net/http"
	"net/http/httptest"
	"sync"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/otelcol-lightning/otelcol-lightning/pkg/model"
	"github.com/otelcol-lightning/otelcol-lightning/pkg/rewards"
	"github.com/otelcol-lightning/otelcol-lightning/pkg/store"
)

// agentService answers by the task: "ok" succeeds with a reward, "plain"
// succeeds with a non-JSON body, "bad" fails, "slow" hangs until the
// request is cancelled.
type agentService struct {
	mu       sync.Mutex
	requests []RolloutRequest
}

func (a *agentService) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	var req RolloutRequest
	if err := json.NewDecoder(r.Body).Decode(&req); err != nil {
		http.Error(w, err.Error(), http.StatusBadRequest)
		return
	}
	a.mu.Lock()
	a.requests = append(a.requests, req)
	a.mu.Unlock()
	var task string
	_ = json.Unmarshal(req.Input, &task)
	switch task {
	case "ok":
		w.Header().Set("Content-Type", "application/json")
		_, _ = w.Write([]byte(`{"reward": 0.25, "metadata": {"agent": "test", "http_status": "not overridden"}}`))
	case "plain":
		_, _ = w.Write([]byte("done"))
	case "slow":
		<-r.Context().Done()
	default:
		http.Error(w, "agent exploded", http.StatusInternalServerError)
	}
}

func (a *agentService) request(rolloutID string) (RolloutRequest, bool) {
	a.mu.Lock()
	defer a.mu.Unlock()
	for _, r := range a.requests {
		if r.RolloutID == rolloutID {
			return r, true
		}
	}
	return RolloutRequest{}, false
}

func TestHTTPDispatch(t *testing.T) {
	agent := &agentService{}
	srv := httptest.NewServer(agent)
	defer srv.Close()
	client := &http.Client{Transport: &http.Transport{DisableKeepAlives: true}}

	s := newStore(t, store.Options{})
	res, err := s.AddResources(t.Context(), model.NamedResources{
		"llm": json.RawMessage(`{"resource_type":"llm","endpoint":"http://llm","model":"m","api_key":null,"sampling_parameters":{}}`),
	})
	require.NoError(t, err)
	exec, err := NewHTTPExecutor(HTTPConfig{Client: client, Endpoint: srv.URL + "/rollout", Headers: map[string]string{"X-Test": "1"}})
	require.NoError(t, err)
	testRunner(t, s, exec, Config{Mode: "http", Workers: 3, OTLPEndpoint: "http://collector:4318"}, nil)

	noRetry := model.RolloutConfig{MaxAttempts: 1, TimeoutSeconds: model.Ptr(0.5), RetryCondition: []model.AttemptStatus{}}
	tests := []struct {
		task    string
		rollout model.RolloutStatus
		attempt model.AttemptStatus
		reward  *float64
		check   func(t *testing.T, meta map[string]any)
	}{
		{task: "ok", rollout: model.RolloutSucceeded, attempt: model.AttemptSucceeded, reward: model.Ptr(0.25), check: func(t *testing.T, meta map[string]any) {
			assert.EqualValues(t, 200, meta["http_status"])
			assert.Equal(t, "test", meta["agent"])
		}},
		{task: "plain", rollout: model.RolloutSucceeded, attempt: model.AttemptSucceeded},
		{task: "bad", rollout: model.RolloutFailed, attempt: model.AttemptFailed, check: func(t *testing.T, meta map[string]any) {
			assert.EqualValues(t, 500, meta["http_status"])
			assert.Equal(t, "agent exploded\n", meta["response"])
			assert.Contains(t, meta["error"], "500")
		}},
		{task: "slow", rollout: model.RolloutFailed, attempt: model.AttemptTimeout},
	}
	for _, tt := range tests {
		t.Run(tt.task, func(t *testing.T) {
			ro := enqueue(t, s, `"`+tt.task+`"`, &noRetry)
			done := waitFinished(t, s, ro.RolloutID)
			assert.Equal(t, tt.rollout, done.Status)
			require.NotNil(t, done.Attempt)
			assert.Equal(t, tt.attempt, done.Attempt.Status)
			if tt.check != nil {
				tt.check(t, metadataOf(t, *done.Attempt))
			}
			reward, ok := rewards.FinalReward(spansOf(t, s, ro.RolloutID))
			if tt.reward == nil {
				assert.False(t, ok)
			} else {
				assert.True(t, ok)
				assert.InDelta(t, *tt.reward, reward, 1e-9)
			}

			req, ok := agent.request(ro.RolloutID)
			require.True(t, ok)
			assert.Equal(t, done.Attempt.AttemptID, req.AttemptID)
			assert.Equal(t, "http://collector:4318", req.OTLPEndpoint)
			assert.Equal(t, "agentlightning.rollout_id="+ro.RolloutID+",agentlightning.attempt_id="+done.Attempt.AttemptID, req.OTelResourceAttributes)
			assert.Equal(t, res.ResourcesID, req.ResourcesID)
			assert.Contains(t, string(req.Resources["llm"]), `"endpoint":"http://llm"`)
			assert.Equal(t, model.ModeVal, *req.Mode)
		})
	}
}
