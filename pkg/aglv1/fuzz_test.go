package aglv1

import (
	"net/http"
	"strings"
	"testing"
)

// FuzzRequestBodies sends arbitrary bodies to every v1.0 route that takes
// one: the API answers with one of v1.0's statuses and never panics (an
// httptest server would report a panic as a broken connection).
func FuzzRequestBodies(f *testing.F) {
	for _, seed := range []string{
		`[]`, `[{"input":1}]`, `[{"input":{"a":[1,2]},"rollout_id":"r","config":{"local":{"env_map":{"a":"b"}}},"metadata":{"batch_idx":"3"}}]`,
		`{"status":{"state":"running"}}`, `{"status":{"x":1}}`, `{"event_type":"model_request","data":{"response":[{"choices":[{"token_ids":[1]}]}]}}`,
		`[{"model":"m","endpoint":"e","version":1e3}]`, `{`, `[1,]`, `"\u12`, `[{"input":1,"is_train":"yes"}]`, `{"status":null}`,
	} {
		f.Add(seed)
	}
	srv, core := newServerForFuzz()
	defer srv.Close()
	defer core()
	routes := []struct{ method, path string }{
		{"POST", "/api/rollouts"}, {"PATCH", "/api/rollouts/r"}, {"POST", "/api/rollouts/r/attempt/0/events"},
		{"POST", "/api/models"},
	}
	allowed := map[int]bool{200: true, 201: true, 404: true, 409: true, 422: true, 500: true}
	f.Fuzz(func(t *testing.T, body string) {
		for _, rt := range routes {
			req, err := http.NewRequest(rt.method, srv.URL+rt.path, strings.NewReader(body))
			if err != nil {
				t.Fatal(err)
			}
			resp, err := srv.Client().Do(req)
			if err != nil {
				t.Fatalf("%s %s: %v", rt.method, rt.path, err)
			}
			resp.Body.Close()
			if !allowed[resp.StatusCode] {
				t.Fatalf("%s %s %q: status %d", rt.method, rt.path, body, resp.StatusCode)
			}
		}
		if resp, err := srv.Client().Get(srv.URL + "/api/rollouts/r/events?format=triplet"); err == nil {
			resp.Body.Close()
			if resp.StatusCode != 200 && resp.StatusCode != 404 {
				t.Fatalf("events: %d", resp.StatusCode)
			}
		}
	})
}
