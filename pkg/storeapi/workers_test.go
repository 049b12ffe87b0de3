package storeapi

import (
	"net/http"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

func TestWorkers(t *testing.T) {
	api := newTestAPI(t)

	created := api.post("/workers/worker-1", map[string]any{"heartbeat_stats": map[string]any{"cpu": 0.7}}).object(http.StatusOK)
	assert.Equal(t, "worker-1", created["worker_id"])
	assert.Equal(t, "unknown", created["status"])
	assert.Equal(t, map[string]any{"cpu": 0.7}, created["heartbeat_stats"])
	first := created["last_heartbeat_time"].(float64)
	for _, key := range []string{"last_dequeue_time", "last_busy_time", "last_idle_time", "current_rollout_id", "current_attempt_id"} {
		assert.Contains(t, created, key)
		assert.Nil(t, created[key])
	}

	listed := api.get("/workers").page(-1, 0, 1)
	assert.Equal(t, []string{"worker-1"}, column(listed, "worker_id"))

	updated := api.post("/workers/worker-1", map[string]any{"heartbeat_stats": map[string]any{"cpu": 0.8}}).object(http.StatusOK)
	assert.GreaterOrEqual(t, updated["last_heartbeat_time"].(float64), first)
	assert.Equal(t, map[string]any{"cpu": 0.8}, updated["heartbeat_stats"])

	kept := api.do(http.MethodPost, "/workers/worker-1", nil).object(http.StatusOK)
	assert.Equal(t, map[string]any{"cpu": 0.8}, kept["heartbeat_stats"], "no body: stats unchanged")
	kept = api.post("/workers/worker-1", map[string]any{}).object(http.StatusOK)
	assert.Equal(t, map[string]any{"cpu": 0.8}, kept["heartbeat_stats"])

	assert.Equal(t, "heartbeat_stats is invalid; it cannot be a null value.",
		api.post("/workers/worker-1", map[string]any{"heartbeat_stats": nil}).detail(http.StatusBadRequest))
	errs := api.post("/workers/worker-1", map[string]any{"heartbeat_stats": []any{1}}).validation()
	assert.Equal(t, []map[string]any{{"type": "dict_type", "loc": []any{"body", "heartbeat_stats"}, "msg": "Input should be a valid dictionary", "input": []any{1.0}}}, errs)

	assert.Equal(t, "worker-1", api.get("/workers/worker-1").object(http.StatusOK)["worker_id"])
	assert.Nil(t, api.get("/workers/missing").expect(http.StatusOK))
}

func TestWorkersFilterAndSort(t *testing.T) {
	api := newTestAPI(t)
	api.enqueue(map[string]any{"input": 0}, map[string]any{"input": 1}, map[string]any{"input": 2})
	for _, w := range []string{"worker-a", "worker-b", "worker-c"} {
		require.Len(t, api.post("/queues/rollouts/dequeue", map[string]any{"worker_id": w}).list(http.StatusOK), 1)
	}
	api.post("/rollouts/"+dig(api.get("/workers/worker-a").object(http.StatusOK), "current_rollout_id").(string)+"/attempts/latest",
		map[string]any{"status": "succeeded"}).expect(http.StatusOK)
	api.post("/workers/other", nil).expect(http.StatusOK)

	busy := api.get("/workers?status_in=busy&worker_id_contains=worker&sort_by=worker_id&sort_order=desc").page(-1, 0, 2)
	assert.Equal(t, []string{"worker-c", "worker-b"}, column(busy, "worker_id"))
	assert.Equal(t, api.get("/workers?status_in=busy&worker_id_contains=worker&sort_by=worker_id&sort_order=desc").object(http.StatusOK),
		api.post("/workers/search", map[string]any{"status_in": []any{"busy"}, "worker_id_contains": "worker", "sort_by": "worker_id", "sort_order": "desc"}).object(http.StatusOK))

	page := api.get("/workers?limit=1&offset=1&sort_by=worker_id&sort_order=asc").page(1, 1, 4)
	assert.Equal(t, []string{"worker-a"}, column(page, "worker_id"))
	assert.Equal(t, "idle", page[0]["status"])

	or := api.post("/workers/search", map[string]any{"status_in": []any{"unknown"}, "worker_id_contains": "-a", "filter_logic": "or", "sort_by": "worker_id"}).page(-1, 0, 2)
	assert.Equal(t, []string{"other", "worker-a"}, column(or, "worker_id"))
	// The Python client sends no limit or offset to /workers/search.
	api.post("/workers/search", map[string]any{"filter_logic": "and"}).page(-1, 0, 4)

	assert.Equal(t, "Invalid sort_by: cpu, allowed fields are: worker_id, status, heartbeat_stats, last_heartbeat_time, last_dequeue_time, last_busy_time, last_idle_time, current_rollout_id, current_attempt_id",
		api.get("/workers?sort_by=cpu").detail(http.StatusBadRequest))
	errs := api.get("/workers?status_in=asleep").validation()
	assert.Equal(t, "Input should be 'idle', 'busy' or 'unknown'", errs[0]["msg"])
}
