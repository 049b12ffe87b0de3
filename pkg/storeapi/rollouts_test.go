package storeapi

import (
	"encoding/json"
	"io"
	"net/http"
	"net/url"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

func TestHealthAndStatistics(t *testing.T) {
	api := newTestAPI(t)
	assert.Equal(t, map[string]any{"status": "ok"}, api.get("/health").object(http.StatusOK))

	api.startRollout(map[string]any{"input": map[string]any{"source": "stats-endpoint"}})
	stats := api.get("/statistics").object(http.StatusOK)
	assert.Equal(t, "InMemoryLightningStore", stats["name"])
	assert.GreaterOrEqual(t, stats["total_rollouts"], 1.0)
	assert.Contains(t, stats, "uptime")
}

func TestEnqueue(t *testing.T) {
	api := newTestAPI(t)

	single := api.post("/queues/rollouts/enqueue", map[string]any{
		"rollouts": []any{map[string]any{"input": map[string]any{"task": "single"}}},
	}).list(http.StatusCreated)
	require.Len(t, single, 1)
	r := single[0].(map[string]any)
	assert.Equal(t, map[string]any{"task": "single"}, r["input"])
	assert.Equal(t, "queuing", r["status"])
	assert.True(t, strings.HasPrefix(r["rollout_id"].(string), "ro-"))
	assert.Equal(t, map[string]any{"timeout_seconds": nil, "unresponsive_seconds": nil, "max_attempts": 1.0, "retry_condition": []any{}}, r["config"])
	assert.Equal(t, map[string]any{}, r["metadata"], "the store writes {} when metadata is omitted")
	for _, key := range []string{"end_time", "mode", "resources_id"} {
		assert.Contains(t, r, key, "optional fields are present as null")
		assert.Nil(t, r[key])
	}
	assert.NotContains(t, r, "attempt")

	batch := api.post("/queues/rollouts/enqueue", map[string]any{"rollouts": []any{
		map[string]any{"input": map[string]any{"task": "batch-1"}, "metadata": map[string]any{"batch": 1}, "mode": "val"},
		map[string]any{"input": map[string]any{"task": "batch-2"}, "config": map[string]any{"timeout_seconds": 12, "max_attempts": 3, "retry_condition": []any{"timeout"}}},
	}}).list(http.StatusCreated)
	require.Len(t, batch, 2)
	assert.Equal(t, "batch-1", dig(batch, 0, "input", "task"))
	assert.Equal(t, "batch-2", dig(batch, 1, "input", "task"))
	assert.Equal(t, map[string]any{"batch": 1.0}, dig(batch, 0, "metadata"))
	assert.Equal(t, "val", dig(batch, 0, "mode"))
	assert.Equal(t, map[string]any{"timeout_seconds": 12.0, "unresponsive_seconds": nil, "max_attempts": 3.0, "retry_condition": []any{"timeout"}}, dig(batch, 1, "config"))

	assert.Equal(t, []any{}, api.post("/queues/rollouts/enqueue", map[string]any{"rollouts": []any{}}).list(http.StatusCreated))

	errs := api.post("/queues/rollouts/enqueue", map[string]any{}).validation()
	assert.Equal(t, []map[string]any{{"type": "missing", "loc": []any{"body", "rollouts"}, "msg": "Field required", "input": map[string]any{}}}, errs)
}

func TestDequeue(t *testing.T) {
	api := newTestAPI(t)
	api.enqueue(map[string]any{"input": map[string]any{"idx": 0}}, map[string]any{"input": map[string]any{"idx": 1}}, map[string]any{"input": map[string]any{"idx": 2}})

	got := api.post("/queues/rollouts/dequeue", map[string]any{"limit": 2, "worker_id": "rest-worker"}).list(http.StatusOK)
	require.Len(t, got, 2)
	for i, item := range got {
		assert.EqualValues(t, i, dig(item, "input", "idx"), "FIFO order")
		assert.Equal(t, "preparing", dig(item, "status"))
		assert.Equal(t, "rest-worker", dig(item, "attempt", "worker_id"))
		assert.EqualValues(t, 1, dig(item, "attempt", "sequence_id"))
	}
	assert.Len(t, api.do(http.MethodPost, "/queues/rollouts/dequeue", nil).list(http.StatusOK), 1, "no body: limit 1")
	assert.Equal(t, []any{}, api.do(http.MethodPost, "/queues/rollouts/dequeue", nil).list(http.StatusOK))

	api.enqueue(map[string]any{"input": 3}, map[string]any{"input": 4})
	assert.Equal(t, []any{}, api.post("/queues/rollouts/dequeue", map[string]any{"limit": 0}).list(http.StatusOK))
	assert.Len(t, api.post("/queues/rollouts/dequeue", map[string]any{"limit": 1}).list(http.StatusOK), 1)
	assert.Len(t, api.post("/queues/rollouts/dequeue", raw("null")).list(http.StatusOK), 1, "a null body is no body: limit 1")
}

func TestStartRolloutAndAttempt(t *testing.T) {
	api := newTestAPI(t)

	r := api.post("/rollouts", map[string]any{
		"input": map[string]any{"question": "2+2?"}, "mode": "train", "resources_id": nil,
		"config":   map[string]any{"timeout_seconds": 600.0, "unresponsive_seconds": 120.0, "max_attempts": 3, "retry_condition": []any{"failed", "timeout"}},
		"metadata": nil, "worker_id": "rest-start-worker",
	}).object(http.StatusCreated)
	assert.Equal(t, "preparing", r["status"])
	assert.Equal(t, "train", r["mode"])
	assert.Equal(t, map[string]any{}, r["metadata"])
	assert.Equal(t, "rest-start-worker", dig(r, "attempt", "worker_id"))
	assert.Equal(t, r["rollout_id"], dig(r, "attempt", "rollout_id"))
	assert.True(t, strings.HasPrefix(dig(r, "attempt", "attempt_id").(string), "at-"))
	for _, key := range []string{"end_time", "last_heartbeat_time", "metadata"} {
		assert.Contains(t, r["attempt"], key)
	}

	worker := api.get("/workers/rest-start-worker").object(http.StatusOK)
	assert.Equal(t, "busy", worker["status"])
	assert.Equal(t, r["rollout_id"], worker["current_rollout_id"])
	assert.Equal(t, dig(r, "attempt", "attempt_id"), worker["current_attempt_id"])

	rid := r["rollout_id"].(string)
	retry := api.post("/rollouts/"+rid+"/attempts", map[string]any{"worker_id": "rest-attempt-worker"}).object(http.StatusCreated)
	assert.EqualValues(t, 2, dig(retry, "attempt", "sequence_id"))
	assert.Equal(t, "rest-attempt-worker", dig(retry, "attempt", "worker_id"))
	assert.Equal(t, "busy", api.get("/workers/rest-attempt-worker").object(http.StatusOK)["status"])

	third := api.do(http.MethodPost, "/rollouts/"+rid+"/attempts", nil).object(http.StatusCreated)
	assert.EqualValues(t, 3, dig(third, "attempt", "sequence_id"))
	assert.Nil(t, dig(third, "attempt", "worker_id"))

	missing := api.post("/rollouts/nonexistent/attempts", map[string]any{}).object(http.StatusInternalServerError)
	assert.Equal(t, "Internal server error", missing["detail"])
	assert.Equal(t, "ValueError", missing["error_type"])
	assert.Contains(t, missing["traceback"], "Rollout nonexistent not found")

	errs := api.post("/rollouts", map[string]any{"mode": "train"}).validation()
	assert.Equal(t, "missing", errs[0]["type"])
	assert.Equal(t, []any{"body", "input"}, errs[0]["loc"])
}

func TestGetRollout(t *testing.T) {
	api := newTestAPI(t)
	queued := api.enqueue(map[string]any{"input": "q"})[0]
	started, attempt := api.startRollout(map[string]any{"input": "s"})

	plain := api.get("/rollouts/" + queued).object(http.StatusOK)
	assert.NotContains(t, plain, "attempt", "a rollout without attempts is a plain Rollout")

	attempted := api.get("/rollouts/" + started).object(http.StatusOK)
	assert.Equal(t, attempt, dig(attempted, "attempt", "attempt_id"))

	assert.Nil(t, api.get("/rollouts/missing").expect(http.StatusOK))
	assert.Equal(t, "null", string(api.get("/rollouts/missing").body))
}

func TestQueryRolloutsPagination(t *testing.T) {
	api := newTestAPI(t)
	for i := 0; i < 10; i++ {
		api.enqueue(map[string]any{"input": map[string]any{"index": i}})
	}
	first := api.get("/rollouts?limit=3&offset=0").page(3, 0, 10)
	second := api.get("/rollouts?limit=3&offset=3").page(3, 3, 10)
	require.Len(t, first, 3)
	require.Len(t, second, 3)
	assert.NotEqual(t, first[0]["rollout_id"], second[0]["rollout_id"])
	assert.Len(t, api.get("/rollouts").page(-1, 0, 10), 10, "defaults: limit -1, offset 0")
	assert.Empty(t, api.get("/rollouts?offset=20").page(-1, 20, 10))

	for i := 10; i < 15; i++ {
		api.enqueue(map[string]any{"input": map[string]any{"index": i}})
	}
	assert.Len(t, api.get("/rollouts?limit=-1").page(-1, 0, 15), 15)
}

func TestQueryRolloutsFiltersAndSorting(t *testing.T) {
	api := newTestAPI(t)
	ids := api.enqueue(
		map[string]any{"input": 1, "mode": "train"},
		map[string]any{"input": 2},
		map[string]any{"input": 3, "mode": "test"},
	)
	r1, r2, r3 := ids[0], ids[1], ids[2]
	api.post("/rollouts/"+r1, map[string]any{"status": "succeeded"}).expect(http.StatusOK)
	api.post("/rollouts/"+r2, map[string]any{"status": "failed"}).expect(http.StatusOK)

	got := api.get("/rollouts?status_in=succeeded").page(-1, 0, 1)
	assert.Equal(t, []string{r1}, column(got, "rollout_id"))
	got = api.get("/rollouts?status_in=succeeded&status_in=failed").page(-1, 0, 2)
	assert.ElementsMatch(t, []string{r1, r2}, column(got, "rollout_id"), "repeated query parameters form the list")
	got = api.get("/rollouts?rollout_id_in="+r1+"&rollout_id_in="+r3).page(-1, 0, 2)
	assert.ElementsMatch(t, []string{r1, r3}, column(got, "rollout_id"))
	got = api.get("/rollouts?rollout_id_contains="+r1[3:8]).page(-1, 0, 1)
	assert.Equal(t, []string{r1}, column(got, "rollout_id"))

	and := api.get("/rollouts?status_in=succeeded&rollout_id_in="+r1+"&rollout_id_in="+r3+"&filter_logic=and").page(-1, 0, 1)
	assert.Equal(t, []string{r1}, column(and, "rollout_id"))
	or := api.get("/rollouts?status_in=succeeded&rollout_id_in="+r3+"&filter_logic=or").page(-1, 0, 2)
	assert.ElementsMatch(t, []string{r1, r3}, column(or, "rollout_id"))

	asc := api.get("/rollouts?sort_by=mode&sort_order=asc").page(-1, 0, 3)
	assert.Equal(t, r2, asc[0]["rollout_id"], "null mode sorts first ascending")
	desc := api.get("/rollouts?sort_by=mode&sort_order=desc").page(-1, 0, 3)
	assert.Equal(t, r2, desc[2]["rollout_id"], "null mode sorts last descending")
	assert.Equal(t, []string{r1, r3, r2}, column(desc, "rollout_id"))

	byStart := api.get("/rollouts?sort_by=start_time&sort_order=desc").page(-1, 0, 3)
	for i := 0; i+1 < len(byStart); i++ {
		assert.GreaterOrEqual(t, byStart[i]["start_time"], byStart[i+1]["start_time"])
	}

	// status_in=[] in a search body matches nothing; absent or null matches all.
	api.post("/rollouts/search", map[string]any{"status_in": []any{}}).page(-1, 0, 0)
	api.post("/rollouts/search", map[string]any{"status_in": nil}).page(-1, 0, 3)
}

func TestQueryRolloutsGetAndSearchAgree(t *testing.T) {
	api := newTestAPI(t)
	ids := api.enqueue(map[string]any{"input": 0}, map[string]any{"input": 1}, map[string]any{"input": 2})
	api.post("/rollouts/"+ids[1], map[string]any{"status": "failed"}).expect(http.StatusOK)
	api.post("/queues/rollouts/dequeue", map[string]any{"worker_id": "w"}).expect(http.StatusOK)

	cases := []struct {
		query url.Values
		body  map[string]any
	}{
		{url.Values{"limit": {"2"}, "offset": {"0"}}, map[string]any{"limit": 2, "offset": 0}},
		{url.Values{"status_in": {"queuing", "preparing"}}, map[string]any{"status_in": []any{"queuing", "preparing"}}},
		{url.Values{"sort_by": {"rollout_id"}, "sort_order": {"desc"}, "limit": {"2"}, "offset": {"1"}}, map[string]any{"sort_by": "rollout_id", "sort_order": "desc", "limit": 2, "offset": 1}},
		{url.Values{"status_in": {"failed"}, "rollout_id_in": {ids[0]}, "filter_logic": {"or"}}, map[string]any{"status_in": []any{"failed"}, "rollout_id_in": []any{ids[0]}, "filter_logic": "or"}},
	}
	for _, tc := range cases {
		viaGet := api.get("/rollouts?" + tc.query.Encode()).object(http.StatusOK)
		viaPost := api.post("/rollouts/search", tc.body).object(http.StatusOK)
		assert.Equal(t, viaGet, viaPost, tc.query.Encode())
	}
	// The dequeued rollout comes back with its attempt in both forms.
	page := api.post("/rollouts/search", map[string]any{"rollout_id_in": []any{ids[0]}}).page(-1, 0, 1)
	assert.Contains(t, page[0], "attempt")
}

func TestQueryRolloutsValidation(t *testing.T) {
	api := newTestAPI(t)
	api.enqueue(map[string]any{"input": 0})

	detail := api.get("/rollouts?sort_by=nonexistent_field&sort_order=asc&limit=-1").detail(http.StatusBadRequest)
	assert.Equal(t, "Invalid sort_by: nonexistent_field, allowed fields are: rollout_id, input, start_time, end_time, mode, resources_id, status, config, metadata", detail)
	assert.True(t, strings.HasPrefix(api.post("/rollouts/search", map[string]any{"sort_by": "attempt"}).detail(http.StatusBadRequest), "Invalid sort_by: attempt, allowed fields are: "))
	assert.Equal(t, "Limit must be greater than 0 or -1 for no limit", api.get("/rollouts?limit=0").detail(http.StatusBadRequest))
	assert.Equal(t, "Limit must be greater than 0 or -1 for no limit", api.post("/rollouts/search", map[string]any{"limit": -2}).detail(http.StatusBadRequest))
	assert.Equal(t, "Offset must be greater than or equal to 0", api.get("/rollouts?offset=-1").detail(http.StatusBadRequest))

	errs := api.get("/rollouts?sort_order=sideways").validation()
	assert.Equal(t, []map[string]any{{
		"type": "literal_error", "loc": []any{"query", "sort_order"}, "msg": "Input should be 'asc' or 'desc'",
		"input": "sideways", "ctx": map[string]any{"expected": "'asc' or 'desc'"},
	}}, errs)
	errs = api.get("/rollouts?limit=abc").validation()
	assert.Equal(t, []map[string]any{{
		"type": "int_parsing", "loc": []any{"query", "limit"}, "msg": "Input should be a valid integer, unable to parse string as an integer", "input": "abc",
	}}, errs)
	errs = api.get("/rollouts?status_in=queuing&status_in=bogus").validation()
	require.Len(t, errs, 1)
	assert.Equal(t, []any{"query", "status_in", 1.0}, errs[0]["loc"])
	assert.Equal(t, "literal_error", errs[0]["type"])
	errs = api.post("/rollouts/search", map[string]any{"filter_logic": "xor", "limit": "ten"}).validation()
	require.Len(t, errs, 2)
	assert.Equal(t, []any{"body", "limit"}, errs[0]["loc"], "errors follow the model's field order")
	assert.Equal(t, []any{"body", "filter_logic"}, errs[1]["loc"])

	errs = api.do(http.MethodPost, "/rollouts/search", nil).validation()
	assert.Equal(t, []map[string]any{{"type": "missing", "loc": []any{"body"}, "msg": "Field required", "input": nil}}, errs)
}

func TestUpdateRollout(t *testing.T) {
	api := newTestAPI(t)
	rid, _ := api.startRollout(map[string]any{"input": "x", "mode": "train", "metadata": map[string]any{"a": 1}})

	r := api.post("/rollouts/"+rid, map[string]any{"metadata": map[string]any{"foo": "bar"}}).object(http.StatusOK)
	assert.Equal(t, map[string]any{"foo": "bar"}, r["metadata"])
	assert.Equal(t, "train", r["mode"], "absent keys are unchanged")
	assert.NotContains(t, r, "attempt", "the response model is Rollout")

	r = api.post("/rollouts/"+rid, map[string]any{"mode": nil, "resources_id": nil, "input": nil}).object(http.StatusOK)
	assert.Nil(t, r["mode"], "explicit null clears")
	assert.Nil(t, r["input"])
	assert.Equal(t, map[string]any{"foo": "bar"}, r["metadata"])

	r = api.post("/rollouts/"+rid, map[string]any{"status": "running", "config": map[string]any{"max_attempts": 2}}).object(http.StatusOK)
	assert.Equal(t, "running", r["status"])
	assert.EqualValues(t, 2, dig(r, "config", "max_attempts"))
	assert.Equal(t, []any{}, dig(r, "config", "retry_condition"), "config defaults applied")

	r = api.post("/rollouts/"+rid, map[string]any{"status": "succeeded", "metadata": nil}).object(http.StatusOK)
	assert.NotNil(t, r["end_time"])
	assert.Nil(t, r["metadata"], "explicit null clears metadata")
	api.post("/rollouts/"+rid, map[string]any{}).object(http.StatusOK)

	assert.Equal(t, "status is invalid; it cannot be a null value.", api.post("/rollouts/"+rid, map[string]any{"status": nil}).detail(http.StatusBadRequest))
	assert.Equal(t, "config is invalid; it cannot be a null value.", api.post("/rollouts/"+rid, map[string]any{"config": nil}).detail(http.StatusBadRequest))
	assert.Equal(t, "status is invalid; it cannot be a null value.", api.post("/rollouts/"+rid, map[string]any{"config": nil, "status": nil}).detail(http.StatusBadRequest), "status is checked first")

	errs := api.post("/rollouts/"+rid, map[string]any{"status": "bogus"}).validation()
	assert.Equal(t, []map[string]any{{
		"type": "literal_error", "loc": []any{"body", "status"},
		"msg":   "Input should be 'queuing', 'preparing', 'running', 'failed', 'succeeded', 'cancelled' or 'requeuing'",
		"input": "bogus", "ctx": map[string]any{"expected": "'queuing', 'preparing', 'running', 'failed', 'succeeded', 'cancelled' or 'requeuing'"},
	}}, errs)
	errs = api.post("/rollouts/"+rid, map[string]any{"config": map[string]any{"max_attempts": 0}}).validation()
	assert.Equal(t, []map[string]any{{
		"type": "greater_than_equal", "loc": []any{"body", "config", "max_attempts"}, "msg": "Input should be greater than or equal to 1",
		"input": 0.0, "ctx": map[string]any{"ge": 1.0},
	}}, errs)

	missing := api.post("/rollouts/nope", map[string]any{"status": "failed"}).object(http.StatusInternalServerError)
	assert.Equal(t, map[string]any{
		"detail": "Internal server error", "error_type": "ValueError",
		"traceback": "ValueError: Item does not exist with primary key(s): rollout_id='nope'",
	}, missing)
}

func TestWaitForRollouts(t *testing.T) {
	api := newTestAPI(t)
	ids := api.enqueue(map[string]any{"input": 0}, map[string]any{"input": 1})
	api.post("/rollouts/"+ids[0], map[string]any{"status": "succeeded"}).expect(http.StatusOK)

	got := api.post("/waits/rollouts", map[string]any{"rollout_ids": []any{ids[0], ids[1], "unknown"}, "timeout": 0}).list(http.StatusOK)
	require.Len(t, got, 1)
	assert.Equal(t, ids[0], dig(got, 0, "rollout_id"))

	start := time.Now()
	got = api.post("/waits/rollouts", map[string]any{"rollout_ids": []any{ids[1]}, "timeout": 0.05}).list(http.StatusOK)
	assert.Empty(t, got)
	assert.Less(t, time.Since(start), 5*time.Second)

	// A rollout that finishes while the request waits is returned.
	done := make(chan string, 1)
	go func() {
		resp, err := http.Post(api.url+Prefix+"/waits/rollouts", "application/json",
			strings.NewReader(`{"rollout_ids":["`+ids[1]+`"],"timeout":null}`))
		if err != nil {
			done <- err.Error()
			return
		}
		defer resp.Body.Close()
		body, _ := io.ReadAll(resp.Body)
		done <- string(body)
	}()
	api.post("/rollouts/"+ids[1], map[string]any{"status": "cancelled"}).expect(http.StatusOK)
	select {
	case body := <-done:
		var got []map[string]any
		require.NoError(t, json.Unmarshal([]byte(body), &got), body)
		require.Len(t, got, 1)
		assert.Equal(t, "cancelled", got[0]["status"])
	case <-time.After(10 * time.Second):
		t.Fatal("wait did not return after the rollout finished")
	}

	errs := api.post("/waits/rollouts", map[string]any{"timeout": 1}).validation()
	assert.Equal(t, []any{"body", "rollout_ids"}, errs[0]["loc"])
}
