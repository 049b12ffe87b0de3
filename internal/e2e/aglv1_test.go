package e2e

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"sync"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/otelcol-lightning/otelcol-lightning/internal/pgtest"
)

// v1Try sends one Agent Lightning v1.0 request to the collector and returns
// the status and the decoded JSON answer (nil for an empty body). It does
// not touch t, so goroutines may call it.
func v1Try(c *collector, method, path string, body any) (int, any, error) {
	var rd io.Reader
	if body != nil {
		b, err := json.Marshal(body)
		if err != nil {
			return 0, nil, err
		}
		rd = bytes.NewReader(b)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	req, err := http.NewRequestWithContext(ctx, method, c.api(path), rd)
	if err != nil {
		return 0, nil, err
	}
	req.Header.Set("Content-Type", "application/json")
	resp, err := httpClient.Do(req)
	if err != nil {
		return 0, nil, err
	}
	defer resp.Body.Close()
	raw, err := io.ReadAll(resp.Body)
	if err != nil {
		return 0, nil, err
	}
	var out any
	if len(raw) > 0 {
		if err := json.Unmarshal(raw, &out); err != nil {
			return resp.StatusCode, nil, fmt.Errorf("%s %s: %w: %s", method, path, err, raw)
		}
	}
	return resp.StatusCode, out, nil
}

func v1Call(t *testing.T, c *collector, method, path string, body any) (int, any) {
	t.Helper()
	status, out, err := v1Try(c, method, path, body)
	require.NoError(t, err)
	return status, out
}

func v1Must(t *testing.T, c *collector, want int, method, path string, body any) any {
	t.Helper()
	status, out := v1Call(t, c, method, path, body)
	require.Equal(t, want, status, "%s %s: %v", method, path, out)
	return out
}

func v1Patch(t *testing.T, c *collector, id string, status map[string]any) {
	t.Helper()
	v1Must(t, c, http.StatusOK, http.MethodPatch, "/api/rollouts/"+id, map[string]any{"status": status})
}

// TestAglV1SurvivesCrash: the real binary on SQLite is killed (SIGKILL) in
// the middle of a v1.0 run. After the restart every rollout, event, model and
// completion is there, and the completion cursor continues where it stopped:
// no position skipped, none repeated.
func TestAglV1SurvivesCrash(t *testing.T) {
	dir := t.TempDir()
	c := startCollector(t, dir)

	creates := []any{}
	for i := range 6 {
		creates = append(creates, map[string]any{"rollout_id": fmt.Sprintf("run-%d", i), "input": map[string]any{"data_id": fmt.Sprintf("d%d", i)},
			"config": map[string]any{"timeout_seconds": 60}, "metadata": map[string]any{"batch_idx": i}})
	}
	v1Must(t, c, http.StatusCreated, http.MethodPost, "/api/rollouts", creates)
	v1Must(t, c, http.StatusCreated, http.MethodPost, "/api/models", []any{map[string]any{"model": "m", "endpoint": "http://127.0.0.1:9/v1"}})
	for _, id := range []string{"run-0", "run-1", "run-2"} {
		v1Patch(t, c, id, map[string]any{"state": "running", "last_attempt_id": "0"})
	}
	call := map[string]any{"event_type": "model_request", "data": map[string]any{
		"model": "m", "http_status": 200, "status": "ok", "server": map[string]any{"model": "m", "version": 0},
		"request": map[string]any{"model": "m", "messages": []any{map[string]any{"role": "user", "content": "2+2?"}}},
		"response": map[string]any{"model": "m", "prompt_token_ids": []int{1, 2, 3}, "choices": []any{map[string]any{
			"index": 0, "message": map[string]any{"role": "assistant", "content": "4"}, "finish_reason": "stop", "token_ids": []int{4, 5}}}},
	}}
	v1Must(t, c, http.StatusOK, http.MethodPost, "/api/rollouts/run-2/attempt/0/events", call)
	v1Must(t, c, http.StatusOK, http.MethodPost, "/api/rollouts/run-2/attempt/0/events",
		map[string]any{"event_type": "reward", "data": map[string]any{"value": 1.0}})
	v1Must(t, c, http.StatusOK, http.MethodPost, "/api/rollouts/run-1/attempt/0/events", call)
	v1Must(t, c, http.StatusOK, http.MethodPost, "/api/rollouts/run-1/attempt/0/events",
		map[string]any{"event_type": "reward", "data": map[string]any{"value": 1.0}})
	v1Patch(t, c, "run-1", map[string]any{"state": "succeeded"})
	v1Patch(t, c, "run-0", map[string]any{"state": "failed", "error_message": "exit 1"})
	// The posted events are spans: the triplet processor builds run-1's
	// triplet when v1.0's PATCH ends the attempt.
	checkTriplet := func() {
		eventually(t, dataTimeout, func() error {
			out := v1Must(t, c, http.StatusOK, http.MethodGet, "/v1/lightning/rollouts/run-1/triplets?attempt_id=0", nil).(map[string]any)
			items, _ := out["items"].([]any)
			if len(items) != 1 {
				return notYet("triplets: %v", out)
			}
			tr := items[0].(map[string]any)
			assert.Equal(t, []any{1.0, 2.0, 3.0}, tr["prompt"].(map[string]any)["token_ids"])
			assert.Equal(t, []any{4.0, 5.0}, tr["response"].(map[string]any)["token_ids"])
			assert.Equal(t, 1.0, tr["reward"])
			return nil
		})
	}
	checkTriplet()
	// and the messages connector (the event went through the pipeline) a
	// chat record.
	checkMessages := func() {
		eventually(t, dataTimeout, func() error {
			out := v1Must(t, c, http.StatusOK, http.MethodGet, "/v1/lightning/rollouts/run-1/messages?attempt_id=0", nil).(map[string]any)
			items, _ := out["items"].([]any)
			if len(items) != 1 {
				return notYet("messages: %v", out)
			}
			b, _ := json.Marshal(items[0])
			assert.Contains(t, string(b), `"2+2?"`)
			assert.Contains(t, string(b), `"4"`)
			return nil
		})
	}
	checkMessages()
	page := v1Must(t, c, http.StatusOK, http.MethodGet, "/api/rollouts/terminal", nil).(map[string]any)
	require.Equal(t, float64(2), page["next_after"])
	eventsBefore := v1Must(t, c, http.StatusOK, http.MethodGet, "/api/rollouts/run-2/events", nil)
	tripletsBefore := v1Must(t, c, http.StatusOK, http.MethodGet, "/api/rollouts/run-2/events?format=triplet", nil)
	rolloutsBefore := v1Must(t, c, http.StatusOK, http.MethodGet, "/api/rollouts?state_in=queuing&state_in=running&state_in=succeeded&state_in=failed", nil)

	c.kill(t)
	c = startCollector(t, dir)

	assert.Equal(t, rolloutsBefore, v1Must(t, c, http.StatusOK, http.MethodGet,
		"/api/rollouts?state_in=queuing&state_in=running&state_in=succeeded&state_in=failed", nil), "every rollout, state and version")
	assert.Equal(t, eventsBefore, v1Must(t, c, http.StatusOK, http.MethodGet, "/api/rollouts/run-2/events", nil))
	assert.Equal(t, tripletsBefore, v1Must(t, c, http.StatusOK, http.MethodGet, "/api/rollouts/run-2/events?format=triplet", nil))
	trip := tripletsBefore.([]any)[0].(map[string]any)["data"].(map[string]any)
	assert.Equal(t, []any{1.0, 2.0, 3.0}, trip["prompt_token_ids"])
	assert.Equal(t, []any{4.0, 5.0}, trip["response_token_ids"])

	page = v1Must(t, c, http.StatusOK, http.MethodGet, "/api/rollouts/terminal?after=2", nil).(map[string]any)
	assert.Empty(t, page["items"])
	assert.Equal(t, float64(2), page["total_terminal"])
	v1Patch(t, c, "run-2", map[string]any{"state": "succeeded"})
	v1Patch(t, c, "run-5", map[string]any{"state": "failed"})
	page = v1Must(t, c, http.StatusOK, http.MethodGet, "/api/rollouts/terminal?after=2", nil).(map[string]any)
	assert.Equal(t, float64(4), page["next_after"])
	assert.Equal(t, []any{
		map[string]any{"rollout_id": "run-2", "state": "succeeded", "data_id": "d2", "is_train": true},
		map[string]any{"rollout_id": "run-5", "state": "failed", "data_id": "d5", "is_train": true},
	}, page["items"])
	page = v1Must(t, c, http.StatusOK, http.MethodGet, "/api/rollouts/terminal", nil).(map[string]any)
	ids := []string{}
	for _, it := range page["items"].([]any) {
		ids = append(ids, it.(map[string]any)["rollout_id"].(string))
	}
	assert.Equal(t, []string{"run-1", "run-0", "run-2", "run-5"}, ids, "one log across the restart")

	checkTriplet()
	checkMessages()

	// The guard still holds for what was running at the crash.
	status, out := v1Call(t, c, http.MethodPatch, "/api/rollouts/run-1", map[string]any{"status": map[string]any{"state": "running"}})
	assert.Equal(t, http.StatusConflict, status)
	assert.Equal(t, map[string]any{"detail": "Rollout run-1: cannot transition succeeded -> running"}, out)

	// A v1.0 rollout is a v0.3 rollout too: the synthetic attempt "0".
	r := v1Must(t, c, http.StatusOK, http.MethodGet, "/v1/agl/rollouts/run-2", nil).(map[string]any)
	assert.Equal(t, "succeeded", r["status"])
	assert.Equal(t, "0", r["attempt"].(map[string]any)["attempt_id"])
	models := v1Must(t, c, http.StatusCreated, http.MethodPost, "/api/models", []any{})
	assert.Equal(t, []any{}, models)
}

// TestAglV1TwoGatewaysOnPostgres: two collectors (config/gateway-postgres.yaml)
// share one PostgreSQL schema and serve v1.0's API. Controllers on both race
// to claim every queued rollout (queuing -> running): each is claimed once,
// the losers get 409. Completions on both make one cursor that a reader
// following next_after through either collector sees whole, in order, once.
func TestAglV1TwoGatewaysOnPostgres(t *testing.T) {
	requireBinary(t)
	dsn, schema := pgtest.Schema(t)
	env := []string{"LIGHTNING_POSTGRES_DSN=" + dsn, "LIGHTNING_POSTGRES_SCHEMA=" + schema}
	gws := []*collector{startCollectorConfig(t, "gateway-postgres.yaml", env...), startCollectorConfig(t, "gateway-postgres.yaml", env...)}

	const n = 60
	creates := []any{}
	for i := range n {
		creates = append(creates, map[string]any{"rollout_id": fmt.Sprintf("pg-%02d", i), "input": map[string]any{"data_id": i}})
	}
	v1Must(t, gws[0], http.StatusCreated, http.MethodPost, "/api/rollouts", creates)
	listed := v1Must(t, gws[1], http.StatusOK, http.MethodGet, "/api/rollouts?state_in=queuing&limit=1000", nil).([]any)
	require.Len(t, listed, n)

	var (
		mu   sync.Mutex
		wins = map[string]int{}
		wg   sync.WaitGroup
	)
	for w := range 6 {
		wg.Go(func() {
			gw := gws[w%2]
			for i := range n {
				id := fmt.Sprintf("pg-%02d", (i+w*7)%n)
				status, out, err := v1Try(gw, http.MethodPatch, "/api/rollouts/"+id,
					map[string]any{"status": map[string]any{"state": "running", "last_attempt_id": "0"}})
				switch {
				case err != nil:
					t.Errorf("claim %s: %v", id, err)
					return
				case status == http.StatusOK:
					mu.Lock()
					wins[id]++
					mu.Unlock()
				case status == http.StatusConflict:
				default:
					t.Errorf("claim %s: %d %v", id, status, out)
				}
			}
		})
	}
	wg.Wait()
	require.Len(t, wins, n)
	for id, c := range wins {
		assert.Equal(t, 1, c, "%s claimed %d times", id, c)
	}

	var seen []string
	readerDone := make(chan struct{})
	writersDone := make(chan struct{})
	go func() {
		defer close(readerDone)
		after := 0
		for {
			finished := false
			select {
			case <-writersDone:
				finished = true
			default:
			}
			status, out, err := v1Try(gws[after%2], http.MethodGet, fmt.Sprintf("/api/rollouts/terminal?after=%d&limit=5", after), nil)
			if err != nil || status != http.StatusOK {
				t.Errorf("read the cursor: %d %v %v", status, out, err)
				return
			}
			page := out.(map[string]any)
			for _, it := range page["items"].([]any) {
				seen = append(seen, it.(map[string]any)["rollout_id"].(string))
			}
			after = int(page["next_after"].(float64))
			if finished && after >= int(page["total_terminal"].(float64)) {
				return
			}
		}
	}()
	for w := range 4 {
		wg.Go(func() {
			for i := w; i < n; i += 4 {
				state := "succeeded"
				if i%5 == 0 {
					state = "failed"
				}
				id := fmt.Sprintf("pg-%02d", i)
				status, out, err := v1Try(gws[w%2], http.MethodPatch, "/api/rollouts/"+id, map[string]any{"status": map[string]any{"state": state}})
				if err != nil || status != http.StatusOK {
					t.Errorf("complete %s: %d %v %v", id, status, out, err)
				}
			}
		})
	}
	wg.Wait()
	close(writersDone)
	<-readerDone
	assert.Len(t, seen, n, "every completion once")
	unique := map[string]bool{}
	for _, id := range seen {
		unique[id] = true
	}
	assert.Len(t, unique, n, "none twice")
}
