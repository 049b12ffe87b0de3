package storeapi

import (
	"net/http"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

func TestAddSpan(t *testing.T) {
	api := newTestAPI(t)
	rid := api.enqueue(map[string]any{"input": 0})[0]
	claimed := api.post("/queues/rollouts/dequeue", map[string]any{"worker_id": "w"}).list(http.StatusOK)
	aid := dig(claimed, 0, "attempt", "attempt_id").(string)

	s := span(rid, aid, 1, "span-1", "agentlightning.annotation")
	s["attributes"] = map[string]any{"agentlightning.reward.0.name": "primary", "agentlightning.reward.0.value": 1.0, "tags": []any{"a", "b"}, "n": 3}
	s["context"] = map[string]any{"trace_id": "trace-1", "span_id": "span-1", "is_remote": false, "trace_state": map[string]any{}, "flags": 1}
	s["kind"] = "SpanKind.INTERNAL"
	s["events"] = []any{map[string]any{"name": "e", "attributes": map[string]any{}, "timestamp": nil, "dropped": 0}}

	stored := api.post("/spans", s).object(http.StatusCreated)
	assert.Equal(t, "SpanKind.INTERNAL", stored["kind"], "unknown span keys round-trip")
	assert.EqualValues(t, 1, dig(stored, "context", "flags"), "unknown context keys round-trip")
	assert.EqualValues(t, 0, dig(stored, "events", 0, "dropped"))
	assert.Equal(t, s["attributes"], map[string]any{
		"agentlightning.reward.0.name": "primary", "agentlightning.reward.0.value": 1.0, "tags": []any{"a", "b"}, "n": 3,
	})
	assert.EqualValues(t, 3, dig(stored, "attributes", "n"))

	dup := api.post("/spans", s)
	assert.Nil(t, dup.expect(http.StatusCreated), "a duplicate answers 201 null")
	assert.Equal(t, "null", string(dup.body))

	attempt := api.get("/rollouts/" + rid + "/attempts/latest").object(http.StatusOK)
	assert.Equal(t, "running", attempt["status"], "a stored span is a heartbeat")
	assert.NotNil(t, attempt["last_heartbeat_time"])

	unknown := api.post("/spans", span("ro-missing", "at-x", 1, "s", "n")).object(http.StatusInternalServerError)
	assert.Equal(t, "ValueError", unknown["error_type"])
	assert.Contains(t, unknown["traceback"], "Rollout ro-missing not found")
	badAttempt := api.post("/spans", span(rid, "attempt-missing", 1, "s", "n")).object(http.StatusInternalServerError)
	assert.Contains(t, badAttempt["traceback"], "Attempt attempt-missing not found")
}

func TestSpanValidation(t *testing.T) {
	api := newTestAPI(t)
	s := span("r", "a", 1, "s", "n")
	delete(s, "parent_id")
	s["status"] = map[string]any{"status_code": "FINE"}
	s["attributes"] = map[string]any{"ok": "v", "bad": map[string]any{"nested": true}}
	s["sequence_id"] = 1.5

	errs := api.post("/spans", s).validation()
	locs := make([][]any, len(errs))
	for i, e := range errs {
		locs[i] = e["loc"].([]any)
	}
	assert.Contains(t, locs, []any{"body", "sequence_id"})
	assert.Contains(t, locs, []any{"body", "parent_id"}, "parent_id is required even though it is nullable")
	assert.Contains(t, locs, []any{"body", "status", "status_code"})
	assert.Contains(t, locs, []any{"body", "attributes", "bad", "str"}, "attribute values report every union member")
	assert.Contains(t, locs, []any{"body", "attributes", "bad", "list[float]"})
	assert.NotContains(t, locs, []any{"body", "attributes", "ok", "str"})
	assert.Equal(t, "int_from_float", errs[0]["type"])

	mixed := span("r", "a", 1, "s", "n")
	mixed["attributes"] = map[string]any{"ints": []any{1, 2}, "floats": []any{1, 2.5}, "bools": []any{true}, "empty": []any{}, "mixed": []any{"a", 1}}
	errs = api.post("/spans", mixed).validation()
	for _, e := range errs {
		assert.Equal(t, "mixed", e["loc"].([]any)[2], "only the heterogeneous list is refused")
	}
}

func TestQuerySpans(t *testing.T) {
	api := newTestAPI(t)
	rid := api.enqueue(map[string]any{"input": 0})[0]
	a1 := dig(api.post("/queues/rollouts/dequeue", nil).list(http.StatusOK), 0, "attempt", "attempt_id").(string)
	a2 := dig(api.post("/rollouts/"+rid+"/attempts", nil).object(http.StatusCreated), "attempt", "attempt_id").(string)

	add := func(aid string, seq int, spanID, name, traceID string, parent any) {
		s := span(rid, aid, seq, spanID, name)
		s["trace_id"], s["parent_id"] = traceID, parent
		api.post("/spans", s).expect(http.StatusCreated)
	}
	add(a1, 1, "s1", "plan", "trace-123", nil)
	add(a1, 2, "s2", "api_call", "trace-123", "s1")
	add(a2, 3, "s3", "api_call_retry", "trace-456", "s1")
	add(a2, 4, "s4", "finish", "trace-456", nil)

	all := api.get("/spans?rollout_id="+rid).page(-1, 0, 4)
	assert.Equal(t, []string{"s1", "s2", "s3", "s4"}, column(all, "span_id"), "sequence order by default")
	assert.Equal(t, []string{"s3", "s4"}, column(api.get("/spans?rollout_id="+rid+"&attempt_id=latest").page(-1, 0, 2), "span_id"))
	assert.Equal(t, []string{"s1", "s2"}, column(api.get("/spans?rollout_id="+rid+"&attempt_id="+a1).page(-1, 0, 2), "span_id"))
	assert.Equal(t, []string{"s1", "s2"}, column(api.get("/spans?rollout_id="+rid+"&trace_id=trace-123").page(-1, 0, 2), "span_id"))
	assert.Equal(t, []string{"s2", "s3"}, column(api.get("/spans?rollout_id="+rid+"&name_contains=api_call").page(-1, 0, 2), "span_id"))
	assert.Equal(t, []string{"s2"}, column(api.get("/spans?rollout_id="+rid+"&name=api_call&trace_id=trace-123&filter_logic=and").page(-1, 0, 1), "span_id"))
	assert.Equal(t, []string{"s1", "s2", "s3"}, column(api.get("/spans?rollout_id="+rid+"&name_contains=api&trace_id=trace-123&filter_logic=or").page(-1, 0, 3), "span_id"))
	assert.Equal(t, []string{"s3"}, column(api.get("/spans?rollout_id="+rid+"&limit=1&offset=2").page(1, 2, 4), "span_id"))

	byParent := api.get("/spans?rollout_id="+rid+"&sort_by=parent_id&sort_order=asc").page(-1, 0, 4)
	assert.Nil(t, byParent[0]["parent_id"], "null parents first ascending")
	byParent = api.get("/spans?rollout_id="+rid+"&sort_by=parent_id&sort_order=desc").page(-1, 0, 4)
	assert.Nil(t, byParent[3]["parent_id"], "null parents last descending")

	assert.Equal(t,
		api.get("/spans?rollout_id="+rid+"&name_contains=api&sort_by=start_time&sort_order=desc&limit=2").object(http.StatusOK),
		api.post("/spans/search", map[string]any{"rollout_id": rid, "name_contains": "api", "sort_by": "start_time", "sort_order": "desc", "limit": 2}).object(http.StatusOK))

	assert.Empty(t, api.get("/spans?rollout_id=unknown&attempt_id=latest").page(-1, 0, 0))
	assert.Equal(t, "Invalid sort_by: invalid_field, allowed fields are: rollout_id, attempt_id, sequence_id, trace_id, span_id, parent_id, name, status, attributes, events, links, start_time, end_time, context, parent, resource",
		api.get("/spans?rollout_id="+rid+"&sort_by=invalid_field").detail(http.StatusBadRequest))

	errs := api.get("/spans").validation()
	assert.Equal(t, []map[string]any{{"type": "missing", "loc": []any{"query", "rollout_id"}, "msg": "Field required", "input": nil}}, errs)
	errs = api.post("/spans/search", map[string]any{"limit": 1}).validation()
	assert.Equal(t, []map[string]any{{"type": "missing", "loc": []any{"body", "rollout_id"}, "msg": "Field required", "input": map[string]any{"limit": 1.0}}}, errs)
}

func TestNextSequenceID(t *testing.T) {
	api := newTestAPI(t)
	next := func(rid string) any {
		return api.post("/spans/next", map[string]any{"rollout_id": rid, "attempt_id": "at-any"}).object(http.StatusOK)["sequence_id"]
	}
	assert.EqualValues(t, 1, next("ro-unknown"), "allocation does not check the rollout")
	assert.EqualValues(t, 2, next("ro-unknown"))
	assert.EqualValues(t, 1, next("ro-other"))

	rid, aid := api.startRollout(map[string]any{"input": 0})
	api.post("/spans", span(rid, aid, 101, "s", "n")).expect(http.StatusCreated)
	assert.EqualValues(t, 102, next(rid), "an explicit sequence id raises the counter")

	errs := api.post("/spans/next", map[string]any{"rollout_id": rid}).validation()
	require.Len(t, errs, 1)
	assert.Equal(t, []any{"body", "attempt_id"}, errs[0]["loc"])
}
