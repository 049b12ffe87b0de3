package storeapi

import (
	"bytes"
	"context"
	"encoding/json"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	"github.com/otelcol-lightning/otelcol-lightning/pkg/store"
	"github.com/otelcol-lightning/otelcol-lightning/pkg/store/memstore"
)

// fuzzRoutes are the routes that read a body or a query string. {r} is a
// rollout that exists, so that decoding reaches the store's own checks.
var fuzzRoutes = []struct{ method, path string }{
	{http.MethodPost, "/queues/rollouts/enqueue"},
	{http.MethodPost, "/queues/rollouts/dequeue"},
	{http.MethodPost, "/rollouts"},
	{http.MethodPost, "/rollouts/search"},
	{http.MethodGet, "/rollouts"},
	{http.MethodPost, "/rollouts/{r}"},
	{http.MethodPost, "/rollouts/{r}/attempts"},
	{http.MethodPost, "/rollouts/{r}/attempts/search"},
	{http.MethodGet, "/rollouts/{r}/attempts"},
	{http.MethodPost, "/rollouts/{r}/attempts/latest"},
	{http.MethodPost, "/workers/search"},
	{http.MethodGet, "/workers"},
	{http.MethodPost, "/workers/w-1"},
	{http.MethodGet, "/resources"},
	{http.MethodPost, "/resources"},
	{http.MethodPost, "/resources/rs-1"},
	{http.MethodPost, "/spans"},
	{http.MethodPost, "/spans/search"},
	{http.MethodGet, "/spans"},
	{http.MethodPost, "/spans/next"},
	{http.MethodPost, "/waits/rollouts"},
}

// FuzzRequestDecoding sends arbitrary bodies and query strings to every
// route that decodes one. Nothing may panic, every answer must be one of the
// statuses the API documents, and every body must be JSON (FastAPI's
// {"detail": ...} for errors).
func FuzzRequestDecoding(f *testing.F) {
	seeds := []string{
		`{"input":{"q":"2+2"},"mode":"train","config":{"timeout_seconds":600,"max_attempts":3,"retry_condition":["failed"]},"metadata":{"k":1}}`,
		`{"rollouts":[{"input":{"idx":0},"mode":"val","resources_id":null,"config":null,"metadata":{"batch":1}}]}`,
		`{"limit":2,"worker_id":"w-1"}`,
		`{"status_in":["running","failed"],"rollout_id_contains":"ro-","filter_logic":"or","sort_by":"start_time","sort_order":"desc","limit":-1,"offset":0}`,
		`{"status":"succeeded","metadata":null,"worker_id":"w-1","last_heartbeat_time":1.5}`,
		`{"heartbeat_stats":{"cpu":0.5}}`,
		`{"main_llm":{"resource_type":"llm","endpoint":"http://x","model":"m","sampling_parameters":{"temperature":0.7}}}`,
		`{"rollout_id":"{r}","attempt_id":"latest","name_contains":"chat","limit":10}`,
		`{"rollout_id":"{r}","attempt_id":"at-1","sequence_id":3,"trace_id":"0af7651916cd43dd8448eb211c80319c","span_id":"b7ad6b7169203331","parent_id":null,"name":"x","status":{"status_code":"OK","description":null},"attributes":{"a":1},"events":[],"links":[],"start_time":1.0,"end_time":2.0,"context":null,"parent":null,"resource":{"attributes":{},"schema_url":""},"extra":true}`,
		`{"rollout_ids":["{r}"],"timeout":0.01}`,
		`null`, `[]`, `{"limit":0}`, `{"limit":"x"}`, `{"sort_by":"nope"}`,
	}
	for i, s := range seeds {
		f.Add(byte(i), []byte(s), "limit=2&offset=0&status_in=running")
	}
	f.Add(byte(4), []byte{}, "rollout_id={r}&limit=-1&sort_order=desc")

	core := store.New(memstore.New(), store.Options{})
	f.Cleanup(func() { _ = core.Close() })
	started, err := core.StartRollout(context.Background(), store.StartRolloutRequest{Input: json.RawMessage(`"seed"`)})
	if err != nil {
		f.Fatal(err)
	}
	rollout := started.RolloutID
	h := NewHandler(core)

	f.Fuzz(func(t *testing.T, route byte, body []byte, query string) {
		rt := fuzzRoutes[int(route)%len(fuzzRoutes)]
		path := Prefix + strings.ReplaceAll(rt.path, "{r}", rollout)
		body = bytes.ReplaceAll(body, []byte("{r}"), []byte(rollout))
		req := httptest.NewRequest(rt.method, "http://store"+path, bytes.NewReader(body))
		if rt.method == http.MethodGet {
			req.URL.RawQuery = strings.ReplaceAll(query, "{r}", rollout)
		}
		req.Header.Set("Content-Type", "application/json")
		// wait_for_rollouts honours the client's deadline; keep it short.
		ctx, cancel := context.WithTimeout(req.Context(), 50*time.Millisecond)
		defer cancel()
		rec := httptest.NewRecorder()
		h.ServeHTTP(rec, req.WithContext(ctx))

		switch rec.Code {
		case http.StatusOK, http.StatusCreated, http.StatusBadRequest, http.StatusNotFound,
			http.StatusRequestEntityTooLarge, http.StatusUnprocessableEntity, http.StatusInternalServerError:
		default:
			t.Fatalf("%s %s: unexpected status %d: %s", rt.method, rt.path, rec.Code, rec.Body.Bytes())
		}
		if !json.Valid(rec.Body.Bytes()) {
			t.Fatalf("%s %s: status %d with a body that is not JSON: %q", rt.method, rt.path, rec.Code, rec.Body.Bytes())
		}
		if rec.Code >= 400 && !bytes.Contains(rec.Body.Bytes(), []byte(`"detail"`)) {
			t.Fatalf("%s %s: error %d without detail: %s", rt.method, rt.path, rec.Code, rec.Body.Bytes())
		}
	})
}
