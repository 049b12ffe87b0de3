package storeapi

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"net/http/httptest"
	"regexp"
	"strings"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/otelcol-lightning/otelcol-lightning/pkg/model"
	"github.com/otelcol-lightning/otelcol-lightning/pkg/store"
)

func TestRouting(t *testing.T) {
	traces := http.HandlerFunc(func(w http.ResponseWriter, _ *http.Request) { w.WriteHeader(http.StatusAccepted) })
	api := newTestAPI(t,
		WithTracesHandler(traces),
		WithExtraRoutes(func(mux *http.ServeMux) {
			mux.HandleFunc("GET /v1/lightning/ping", func(w http.ResponseWriter, _ *http.Request) { writeJSON(w, http.StatusOK, "pong") })
		}))

	cases := []struct {
		name, method, path string
		status             int
		detail             string
	}{
		{"unknown v1 path", http.MethodGet, "/v1/agl/nope", http.StatusNotFound, "Not Found"},
		{"unknown nested path", http.MethodPost, "/v1/agl/rollouts/a/b/c/d", http.StatusNotFound, "Not Found"},
		{"outside the api", http.MethodGet, "/", http.StatusNotFound, "Not Found"},
		{"wrong method on a fixed path", http.MethodDelete, "/v1/agl/health", http.StatusMethodNotAllowed, "Method Not Allowed"},
		{"wrong method on a pattern", http.MethodPut, "/v1/agl/rollouts/ro-1", http.StatusMethodNotAllowed, "Method Not Allowed"},
		{"GET on a POST-only route", http.MethodGet, "/v1/agl/spans/next", http.StatusMethodNotAllowed, "Method Not Allowed"},
		{"GET on traces", http.MethodGet, "/v1/traces", http.StatusMethodNotAllowed, "Method Not Allowed"},
		{"wrong method on an extra route", http.MethodPost, "/v1/lightning/ping", http.StatusMethodNotAllowed, "Method Not Allowed"},
		{"unknown extra path", http.MethodGet, "/v1/lightning/nope", http.StatusNotFound, "Not Found"},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			resp := api.do(tc.method, tc.path, nil)
			assert.Equal(t, map[string]any{"detail": tc.detail}, resp.object(tc.status))
		})
	}
	assert.Contains(t, api.do(http.MethodDelete, "/v1/agl/health", nil).header.Get("Allow"), "GET")

	for _, path := range []string{"/v1/metrics", "/v1/logs", "/v1/development/profiles"} {
		resp := api.do(http.MethodPost, path, raw("x"))
		assert.Equal(t, http.StatusNotImplemented, resp.status, path)
		assert.Empty(t, resp.body, path)
	}
	assert.Equal(t, http.StatusAccepted, api.do(http.MethodPost, "/v1/traces", raw("x")).status, "the traces handler is mounted")
	assert.Equal(t, "pong", api.get("/v1/lightning/ping").expect(http.StatusOK))

	// Without a traces handler the route is reserved but not implemented.
	plain := newTestAPI(t)
	resp := plain.do(http.MethodPost, "/v1/traces", raw("x"))
	assert.Equal(t, http.StatusNotImplemented, resp.status)
	assert.Empty(t, resp.body)
}

func TestCORS(t *testing.T) {
	const origin = "http://localhost:3000"
	specific := newTestAPI(t, WithCORS([]string{" ", origin}))

	resp := specific.do(http.MethodGet, "/health", nil, "Origin", origin)
	resp.expect(http.StatusOK)
	assert.Equal(t, origin, resp.header.Get("Access-Control-Allow-Origin"))
	assert.Equal(t, "true", resp.header.Get("Access-Control-Allow-Credentials"))

	resp = specific.do(http.MethodOptions, "/health", nil, "Origin", origin, "Access-Control-Request-Method", "GET", "Access-Control-Request-Headers", "content-type")
	assert.Equal(t, http.StatusOK, resp.status)
	assert.Equal(t, origin, resp.header.Get("Access-Control-Allow-Origin"))
	methods := strings.Split(resp.header.Get("Access-Control-Allow-Methods"), ",")
	for i := range methods {
		methods[i] = strings.TrimSpace(methods[i])
	}
	assert.Contains(t, methods, "GET")
	assert.Contains(t, methods, "POST")
	assert.Equal(t, "content-type", resp.header.Get("Access-Control-Allow-Headers"))

	resp = specific.do(http.MethodGet, "/health", nil, "Origin", "http://malicious.example")
	resp.expect(http.StatusOK)
	assert.Empty(t, resp.header.Get("Access-Control-Allow-Origin"))
	resp = specific.do(http.MethodOptions, "/health", nil, "Origin", "http://malicious.example", "Access-Control-Request-Method", "GET")
	assert.Equal(t, http.StatusBadRequest, resp.status)
	assert.Empty(t, resp.header.Get("Access-Control-Allow-Origin"))

	wildcard := newTestAPI(t, WithCORS([]string{"*"}))
	resp = wildcard.do(http.MethodGet, "/health", nil, "Origin", "https://wildcard.example")
	resp.expect(http.StatusOK)
	assert.Contains(t, []string{"*", "https://wildcard.example"}, resp.header.Get("Access-Control-Allow-Origin"))
	assert.Equal(t, "true", resp.header.Get("Access-Control-Allow-Credentials"))

	none := newTestAPI(t)
	resp = none.do(http.MethodGet, "/health", nil, "Origin", origin)
	resp.expect(http.StatusOK)
	assert.Empty(t, resp.header.Get("Access-Control-Allow-Origin"), "CORS is off by default")
	assert.Equal(t, http.StatusMethodNotAllowed, none.do(http.MethodOptions, "/health", nil, "Origin", origin, "Access-Control-Request-Method", "GET").status)
}

// failingStore answers every call it overrides with err.
type failingStore struct {
	store.Store
	err error
}

func (f failingStore) Statistics(context.Context) (map[string]any, error) { return nil, f.err }

func (f failingStore) QueryRollouts(context.Context, store.RolloutQuery) (model.Paginated[model.Rollout], error) {
	return model.Paginated[model.Rollout]{}, f.err
}

var refPattern = regexp.MustCompile(`\(ref [0-9a-f]{12}\)`)

func TestStoreErrorMapping(t *testing.T) {
	cases := []struct {
		name   string
		err    error
		status int
		body   map[string]any
	}{
		{
			name: "store error", err: &store.Error{Type: "RuntimeError", Message: "spans evicted"}, status: http.StatusInternalServerError,
			body: map[string]any{"detail": "Internal server error", "error_type": "RuntimeError", "traceback": "RuntimeError: spans evicted"},
		},
		{
			name: "wrapped store error", err: fmt.Errorf("query: %w", &store.Error{Type: "ValueError", Message: "bad"}), status: http.StatusInternalServerError,
			body: map[string]any{"detail": "Internal server error", "error_type": "ValueError", "traceback": "ValueError: query: bad"},
		},
		{
			// A driver's message names the database user, database and
			// host:port: the answer names the log line instead.
			name: "transient error", err: &store.TransientError{Err: errors.New("failed to connect to `user=lightning database=prod`: 10.0.0.5:5432: connection refused")},
			status: http.StatusInternalServerError,
			body:   map[string]any{"detail": "Internal server error", "error_type": "store.TransientError", "traceback": "store.TransientError: the store is temporarily unavailable (ref *)"},
		},
		{
			name: "plain error", err: store.ErrClosed, status: http.StatusInternalServerError,
			body: map[string]any{"detail": "Internal server error", "error_type": "errors.errorString", "traceback": "errors.errorString: internal store error (ref *)"},
		},
		{
			name: "invalid argument", err: &store.InvalidArgumentError{Message: "Offset must be greater than or equal to 0"}, status: http.StatusBadRequest,
			body: map[string]any{"detail": "Offset must be greater than or equal to 0"},
		},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			srv := httptest.NewServer(NewHandler(failingStore{err: tc.err}))
			defer srv.Close()
			api := &testAPI{t: t, url: srv.URL}
			for _, got := range []map[string]any{api.get("/statistics").object(tc.status), api.post("/rollouts/search", map[string]any{}).object(tc.status)} {
				if tb, ok := got["traceback"].(string); ok {
					got["traceback"] = refPattern.ReplaceAllString(tb, "(ref *)")
				}
				assert.Equal(t, tc.body, got)
			}
		})
	}
}

func TestMalformedBodies(t *testing.T) {
	api := newTestAPI(t)
	errs := api.post("/rollouts", raw(`{"input": `)).validation()
	require.Len(t, errs, 1)
	assert.Equal(t, "json_invalid", errs[0]["type"])
	assert.Equal(t, "JSON decode error", errs[0]["msg"])
	assert.Equal(t, "body", dig(errs[0], "loc", 0))
	assert.Equal(t, map[string]any{}, errs[0]["input"])

	errs = api.post("/rollouts", raw(`{"input": 1} {}`)).validation()
	assert.Equal(t, "Extra data", dig(errs[0], "ctx", "error"))

	errs = api.post("/queues/rollouts/enqueue", raw(`[1, 2]`)).validation()
	assert.Equal(t, []map[string]any{{
		"type": "model_attributes_type", "loc": []any{"body"}, "msg": "Input should be a valid dictionary or object to extract fields from", "input": []any{1.0, 2.0},
	}}, errs)

	errs = api.post("/queues/rollouts/enqueue", map[string]any{"rollouts": []any{
		map[string]any{"input": 1, "mode": "bogus", "config": map[string]any{"max_attempts": 0, "retry_condition": []any{"later"}}, "metadata": "m"},
	}}).validation()
	locs := make([]any, len(errs))
	for i, e := range errs {
		locs[i] = e["loc"]
	}
	assert.Equal(t, []any{
		[]any{"body", "rollouts", 0.0, "mode"},
		[]any{"body", "rollouts", 0.0, "config", "max_attempts"},
		[]any{"body", "rollouts", 0.0, "config", "retry_condition", 0.0},
		[]any{"body", "rollouts", 0.0, "metadata"},
	}, locs)

	errs = api.post("/rollouts", map[string]any{"input": 1, "worker_id": 7, "config": nil}).validation()
	assert.Equal(t, []map[string]any{{"type": "string_type", "loc": []any{"body", "worker_id"}, "msg": "Input should be a valid string", "input": 7.0}}, errs)

	errs = api.post("/waits/rollouts", map[string]any{"rollout_ids": "ro-1"}).validation()
	assert.Equal(t, "list_type", errs[0]["type"])
}
