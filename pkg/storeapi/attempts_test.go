package storeapi

import (
	"net/http"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

func TestQueryAttempts(t *testing.T) {
	api := newTestAPI(t)
	rid := api.enqueue(map[string]any{"input": "x"})[0]
	assert.Empty(t, api.get("/rollouts/"+rid+"/attempts").page(-1, 0, 0), "no attempts yet")
	assert.Nil(t, api.get("/rollouts/"+rid+"/attempts/latest").expect(http.StatusOK))

	for i := 0; i < 5; i++ {
		body := map[string]any{}
		if i == 1 {
			body["worker_id"] = "w-b"
		} else if i == 3 {
			body["worker_id"] = "w-a"
		}
		api.post("/rollouts/"+rid+"/attempts", body).expect(http.StatusCreated)
	}

	all := api.get("/rollouts/"+rid+"/attempts").page(-1, 0, 5)
	for i, a := range all {
		assert.EqualValues(t, i+1, a["sequence_id"], "default order is sequence_id")
	}
	assert.Len(t, api.get("/rollouts/"+rid+"/attempts?limit=2&offset=0").page(2, 0, 5), 2)
	desc := api.get("/rollouts/"+rid+"/attempts?sort_by=sequence_id&sort_order=desc&limit=1&offset=1").page(1, 1, 5)
	assert.EqualValues(t, 4, desc[0]["sequence_id"])
	assert.Empty(t, api.get("/rollouts/"+rid+"/attempts?offset=10").page(-1, 10, 5))

	byWorker := api.get("/rollouts/"+rid+"/attempts?sort_by=worker_id&sort_order=asc").page(-1, 0, 5)
	assert.Nil(t, byWorker[0]["worker_id"], "null worker ids sort first ascending")
	assert.Equal(t, "w-b", byWorker[4]["worker_id"])

	byStart := api.get("/rollouts/"+rid+"/attempts?sort_by=start_time&sort_order=desc").page(-1, 0, 5)
	for i := 0; i+1 < len(byStart); i++ {
		assert.GreaterOrEqual(t, byStart[i]["start_time"], byStart[i+1]["start_time"])
	}

	latest := api.get("/rollouts/" + rid + "/attempts/latest").object(http.StatusOK)
	assert.EqualValues(t, 5, latest["sequence_id"])

	for _, tc := range []struct {
		query string
		body  map[string]any
	}{
		{"limit=1", map[string]any{"limit": 1}},
		{"sort_by=worker_id&sort_order=desc&offset=1", map[string]any{"sort_by": "worker_id", "sort_order": "desc", "offset": 1}},
	} {
		assert.Equal(t,
			api.get("/rollouts/"+rid+"/attempts?"+tc.query).object(http.StatusOK),
			api.post("/rollouts/"+rid+"/attempts/search", tc.body).object(http.StatusOK), tc.query)
	}

	assert.Equal(t, "Invalid sort_by: bogus, allowed fields are: rollout_id, attempt_id, sequence_id, start_time, end_time, status, worker_id, last_heartbeat_time, metadata",
		api.get("/rollouts/"+rid+"/attempts?sort_by=bogus").detail(http.StatusBadRequest))
	assert.Equal(t, "Limit must be greater than 0 or -1 for no limit", api.post("/rollouts/"+rid+"/attempts/search", map[string]any{"limit": 0}).detail(http.StatusBadRequest))
	assert.Empty(t, api.get("/rollouts/unknown/attempts").page(-1, 0, 0), "an unknown rollout gives an empty page")
}

func TestUpdateAttempt(t *testing.T) {
	api := newTestAPI(t)
	rid, aid := api.startRollout(map[string]any{"input": "x", "config": map[string]any{"max_attempts": 3, "retry_condition": []any{"failed"}}})
	base := "/rollouts/" + rid + "/attempts/"

	a := api.post(base+aid, map[string]any{"status": "running", "worker_id": "worker-x", "last_heartbeat_time": 123.5, "metadata": map[string]any{"k": "v"}}).object(http.StatusOK)
	assert.Equal(t, "running", a["status"])
	assert.Equal(t, "worker-x", a["worker_id"])
	assert.Equal(t, 123.5, a["last_heartbeat_time"])
	assert.Equal(t, map[string]any{"k": "v"}, a["metadata"])
	assert.Nil(t, a["end_time"])
	assert.Equal(t, "running", api.get("/rollouts/" + rid).object(http.StatusOK)["status"])

	a = api.post(base+"latest", map[string]any{"status": "failed"}).object(http.StatusOK)
	assert.Equal(t, aid, a["attempt_id"], "latest selects the latest attempt")
	assert.NotNil(t, a["end_time"])
	assert.Equal(t, map[string]any{"k": "v"}, a["metadata"], "absent keys are unchanged")
	assert.Equal(t, "requeuing", api.get("/rollouts/" + rid).object(http.StatusOK)["status"], "status follows the latest attempt")
	assert.Equal(t, "idle", api.get("/workers/worker-x").object(http.StatusOK)["status"])

	for _, key := range []string{"status", "worker_id", "last_heartbeat_time", "metadata"} {
		got := api.post(base+aid, map[string]any{key: nil}).detail(http.StatusBadRequest)
		assert.Equal(t, key+" is invalid; it cannot be a null value.", got)
	}
	assert.Equal(t, "status is invalid; it cannot be a null value.",
		api.post(base+aid, map[string]any{"metadata": nil, "worker_id": nil, "status": nil}).detail(http.StatusBadRequest), "checked in field order")

	api.post(base+aid, map[string]any{}).expect(http.StatusOK)
	errs := api.do(http.MethodPost, base+aid, nil).validation()
	assert.Equal(t, []any{"body"}, errs[0]["loc"])
	errs = api.post(base+aid, map[string]any{"status": "queuing", "last_heartbeat_time": "soon"}).validation()
	require.Len(t, errs, 2)
	assert.Equal(t, "literal_error", errs[0]["type"])
	assert.Equal(t, "float_type", errs[1]["type"])

	unknown := api.post(base+"at-missing", map[string]any{"status": "failed"}).object(http.StatusInternalServerError)
	assert.Equal(t, "ValueError", unknown["error_type"])
	assert.Contains(t, unknown["traceback"], "Attempt at-missing not found for rollout "+rid)

	queued := api.enqueue(map[string]any{"input": 1})[0]
	none := api.post("/rollouts/"+queued+"/attempts/latest", map[string]any{"status": "failed"}).object(http.StatusInternalServerError)
	assert.Contains(t, none["traceback"], "No attempts found for rollout "+queued)

	// GET on an attempt id only exists as POST: 405, while latest is a GET.
	assert.Equal(t, "Method Not Allowed", api.get(base+aid).detail(http.StatusMethodNotAllowed))
}
