package storeapi

import (
	"bytes"
	"encoding/json"
	"io"
	"net/http"
	"net/http/httptest"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/otelcol-lightning/otelcol-lightning/pkg/store"
	"github.com/otelcol-lightning/otelcol-lightning/pkg/store/memstore"
)

// testAPI is a storeapi handler over an in-memory store, served over real
// HTTP so that routing, headers and status codes are exercised end to end.
type testAPI struct {
	t     *testing.T
	url   string
	store *store.Core
}

func newTestAPI(t *testing.T, opts ...Option) *testAPI {
	t.Helper()
	s := store.New(memstore.New(), store.Options{})
	t.Cleanup(func() { _ = s.Close() })
	srv := httptest.NewServer(NewHandler(s, opts...))
	t.Cleanup(srv.Close)
	return &testAPI{t: t, url: srv.URL, store: s}
}

// response is a finished HTTP exchange.
type response struct {
	t      *testing.T
	status int
	header http.Header
	body   []byte
}

// raw marks a request body to send as is (not JSON-encoded).
type raw string

// do sends a request under the API prefix unless path starts with /v1/ or
// is absolute. body nil sends no body.
func (a *testAPI) do(method, path string, body any, headers ...string) response {
	a.t.Helper()
	var rd io.Reader
	switch b := body.(type) {
	case nil:
	case raw:
		rd = bytes.NewReader([]byte(b))
	default:
		enc, err := json.Marshal(b)
		require.NoError(a.t, err)
		rd = bytes.NewReader(enc)
	}
	url := a.url + Prefix + path
	if len(path) >= 4 && path[:4] == "/v1/" {
		url = a.url + path
	}
	req, err := http.NewRequest(method, url, rd)
	require.NoError(a.t, err)
	if body != nil {
		req.Header.Set("Content-Type", "application/json")
	}
	for i := 0; i+1 < len(headers); i += 2 {
		req.Header.Set(headers[i], headers[i+1])
	}
	resp, err := http.DefaultClient.Do(req)
	require.NoError(a.t, err)
	defer resp.Body.Close()
	data, err := io.ReadAll(resp.Body)
	require.NoError(a.t, err)
	return response{t: a.t, status: resp.StatusCode, header: resp.Header, body: data}
}

func (a *testAPI) get(path string) response { a.t.Helper(); return a.do(http.MethodGet, path, nil) }

func (a *testAPI) post(path string, body any) response {
	a.t.Helper()
	return a.do(http.MethodPost, path, body)
}

// expect asserts the status and returns the decoded JSON body.
func (r response) expect(status int) any {
	r.t.Helper()
	require.Equalf(r.t, status, r.status, "body: %s", r.body)
	if status != http.StatusNotImplemented {
		require.Equal(r.t, "application/json", r.header.Get("Content-Type"))
	}
	if len(r.body) == 0 {
		return nil
	}
	var v any
	require.NoErrorf(r.t, json.Unmarshal(r.body, &v), "body: %s", r.body)
	return v
}

func (r response) object(status int) map[string]any {
	r.t.Helper()
	v, ok := r.expect(status).(map[string]any)
	require.Truef(r.t, ok, "not an object: %s", r.body)
	return v
}

func (r response) list(status int) []any {
	r.t.Helper()
	v, ok := r.expect(status).([]any)
	require.Truef(r.t, ok, "not a list: %s", r.body)
	return v
}

// items returns a page's items after checking its metadata.
func (r response) page(limit, offset, total int) []map[string]any {
	r.t.Helper()
	p := r.object(http.StatusOK)
	require.EqualValues(r.t, limit, p["limit"], "limit")
	require.EqualValues(r.t, offset, p["offset"], "offset")
	require.EqualValues(r.t, total, p["total"], "total")
	raw, ok := p["items"].([]any)
	require.True(r.t, ok, "items is a list")
	out := make([]map[string]any, len(raw))
	for i, it := range raw {
		out[i] = it.(map[string]any)
	}
	return out
}

// detail returns the detail of a 400-style error body.
func (r response) detail(status int) string {
	r.t.Helper()
	d, ok := r.object(status)["detail"].(string)
	require.Truef(r.t, ok, "detail is not a string: %s", r.body)
	return d
}

// validation returns the entries of a 422 body.
func (r response) validation() []map[string]any {
	r.t.Helper()
	d, ok := r.object(http.StatusUnprocessableEntity)["detail"].([]any)
	require.Truef(r.t, ok, "detail is not a list: %s", r.body)
	out := make([]map[string]any, len(d))
	for i, e := range d {
		out[i] = e.(map[string]any)
	}
	return out
}

func dig(v any, keys ...any) any {
	for _, k := range keys {
		switch k := k.(type) {
		case string:
			m, _ := v.(map[string]any)
			v = m[k]
		case int:
			l, _ := v.([]any)
			if k >= len(l) {
				return nil
			}
			v = l[k]
		}
	}
	return v
}

func column(items []map[string]any, key string) []string {
	out := make([]string, len(items))
	for i, it := range items {
		out[i], _ = it[key].(string)
	}
	return out
}

// enqueue adds rollouts with the given inputs and returns their ids.
func (a *testAPI) enqueue(reqs ...map[string]any) []string {
	a.t.Helper()
	items := make([]any, len(reqs))
	for i, r := range reqs {
		items[i] = r
	}
	out := a.post("/queues/rollouts/enqueue", map[string]any{"rollouts": items}).list(http.StatusCreated)
	ids := make([]string, len(out))
	for i, r := range out {
		ids[i] = r.(map[string]any)["rollout_id"].(string)
	}
	return ids
}

// startRollout starts a rollout and returns (rollout id, attempt id).
func (a *testAPI) startRollout(body map[string]any) (string, string) {
	a.t.Helper()
	r := a.post("/rollouts", body).object(http.StatusCreated)
	return r["rollout_id"].(string), dig(r, "attempt", "attempt_id").(string)
}

// span builds a minimal valid span body.
func span(rolloutID, attemptID string, seq int, spanID, name string) map[string]any {
	return map[string]any{
		"rollout_id": rolloutID, "attempt_id": attemptID, "sequence_id": seq,
		"trace_id": "trace-1", "span_id": spanID, "parent_id": nil, "name": name,
		"status":     map[string]any{"status_code": "OK", "description": nil},
		"attributes": map[string]any{}, "events": []any{}, "links": []any{},
		"start_time": 1.0, "end_time": 2.0, "context": nil, "parent": nil,
		"resource": map[string]any{"attributes": map[string]any{}, "schema_url": ""},
	}
}
