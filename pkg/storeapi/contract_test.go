package storeapi

import (
	"bytes"
	"encoding/json"
	"fmt"
	"io"
	"math"
	"net/http"
	"net/http/httptest"
	"os"
	"slices"
	"sort"
	"strconv"
	"strings"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/otelcol-lightning/otelcol-lightning/pkg/store"
	"github.com/otelcol-lightning/otelcol-lightning/pkg/store/memstore"
)

// The contract test drives every operation of Agent Lightning's published
// OpenAPI document (testdata/agl-store-openapi.json, docs/assets/
// store-openapi.json at v0.3.0) and validates each response against the
// documented schema with a small JSON Schema validator written for the
// keywords the document uses. On top of the schema it checks the wire rule
// Pydantic implies: every declared property of a response object is
// present, null or not.

const openAPIFile = "testdata/agl-store-openapi.json"

// reservedRoutes are documented with a 200 (FastAPI documents every route
// that way) but answered 501 with an empty body by Agent Lightning itself.
var reservedRoutes = map[string]bool{
	"POST /v1/metrics":              true,
	"POST /v1/logs":                 true,
	"POST /v1/development/profiles": true,
	"POST /v1/traces (not mounted)": true,
}

type openAPIDoc struct {
	Paths      map[string]map[string]openAPIOperation `json:"paths"`
	Components struct {
		Schemas map[string]any `json:"schemas"`
	} `json:"components"`
}

type openAPIOperation struct {
	RequestBody *struct {
		Content map[string]struct {
			Schema any `json:"schema"`
		} `json:"content"`
	} `json:"requestBody"`
	Responses map[string]struct {
		Content map[string]struct {
			Schema any `json:"schema"`
		} `json:"content"`
	} `json:"responses"`
}

// contract runs requests against a handler and checks them against doc.
type contract struct {
	t       *testing.T
	doc     openAPIDoc
	url     string
	covered map[string]bool // "METHOD /template"
}

func loadOpenAPI(t *testing.T) openAPIDoc {
	t.Helper()
	data, err := os.ReadFile(openAPIFile)
	require.NoError(t, err)
	var doc openAPIDoc
	dec := json.NewDecoder(bytes.NewReader(data))
	dec.UseNumber()
	require.NoError(t, dec.Decode(&doc))
	require.NotEmpty(t, doc.Paths)
	return doc
}

// operations lists every "METHOD /path" of the document.
func (d openAPIDoc) operations() []string {
	var out []string
	for path, ops := range d.Paths {
		for method := range ops {
			out = append(out, strings.ToUpper(method)+" "+path)
		}
	}
	sort.Strings(out)
	return out
}

// template finds the documented path matching a concrete path for method,
// preferring the one with the most literal segments (/attempts/latest over
// /attempts/{attempt_id}).
func (d openAPIDoc) template(method, path string) (string, bool) {
	segs := strings.Split(path, "/")
	best, bestScore := "", -1
	for tmpl, ops := range d.Paths {
		if _, ok := ops[strings.ToLower(method)]; !ok {
			continue
		}
		tsegs := strings.Split(tmpl, "/")
		if len(tsegs) != len(segs) {
			continue
		}
		score := 0
		for i, ts := range tsegs {
			if strings.HasPrefix(ts, "{") {
				continue
			}
			if ts != segs[i] {
				score = -1
				break
			}
			score++
		}
		if score > bestScore {
			best, bestScore = tmpl, score
		}
	}
	return best, bestScore >= 0
}

// call sends a request, checks the status is the documented one, and
// validates the request body and the response body against the document.
func (c *contract) call(method, path string, body any, wantStatus int) any {
	c.t.Helper()
	tmpl, ok := c.doc.template(method, strings.SplitN(path, "?", 2)[0])
	require.Truef(c.t, ok, "%s %s is not in the OpenAPI document", method, path)
	op := c.doc.Paths[tmpl][strings.ToLower(method)]
	c.covered[method+" "+tmpl] = true

	var payload []byte
	if body != nil {
		var err error
		payload, err = json.Marshal(body)
		require.NoError(c.t, err)
		if op.RequestBody != nil {
			// Bodies meant to be refused must be invalid for the document
			// too, so our 422s and the document agree.
			reqSchema := op.RequestBody.Content["application/json"].Schema
			v := &schemaValidator{defs: c.doc.Components.Schemas}
			errs := v.validate("$", reqSchema, decodeNumbers(c.t, payload))
			if wantStatus == http.StatusUnprocessableEntity {
				assert.NotEmptyf(c.t, errs, "request of %s %s is valid for the document but should be refused", method, tmpl)
			} else {
				assert.Emptyf(c.t, errs, "request of %s %s does not match the document", method, tmpl)
			}
		}
	}
	status, respBody := c.send(method, path, payload)
	require.Equalf(c.t, wantStatus, status, "%s %s: %s", method, path, respBody)
	resp, documented := op.Responses[strconv.Itoa(status)]
	require.Truef(c.t, documented, "%s %s answered %d, which the document does not list", method, tmpl, status)
	media, ok := resp.Content["application/json"]
	require.Truef(c.t, ok, "%s %s %d has no JSON schema", method, tmpl, status)
	val := decodeNumbers(c.t, respBody)
	c.validateResponse(fmt.Sprintf("%d response of %s %s", status, method, tmpl), media.Schema, val)
	return val
}

// reserved exercises a route the document lists with a 200 that Agent
// Lightning answers 501 with an empty body.
func (c *contract) reserved(method, path, label string) {
	c.t.Helper()
	require.Truef(c.t, reservedRoutes[label], "%s is not a reserved route", label)
	tmpl, ok := c.doc.template(method, path)
	require.True(c.t, ok)
	c.covered[method+" "+tmpl] = true
	status, body := c.send(method, path, []byte("\x0a\x00"))
	assert.Equal(c.t, http.StatusNotImplemented, status, label)
	assert.Empty(c.t, body, label)
}

func (c *contract) send(method, path string, payload []byte) (int, []byte) {
	c.t.Helper()
	var rd io.Reader
	if payload != nil {
		rd = bytes.NewReader(payload)
	}
	req, err := http.NewRequest(method, c.url+path, rd)
	require.NoError(c.t, err)
	if payload != nil {
		req.Header.Set("Content-Type", "application/json")
	}
	resp, err := http.DefaultClient.Do(req)
	require.NoError(c.t, err)
	defer resp.Body.Close()
	data, err := io.ReadAll(resp.Body)
	require.NoError(c.t, err)
	return resp.StatusCode, data
}

func (c *contract) validateResponse(what string, schema, val any) {
	c.t.Helper()
	v := &schemaValidator{defs: c.doc.Components.Schemas, allPresent: true}
	if errs := v.validate("$", schema, val); len(errs) > 0 {
		c.t.Errorf("%s does not match the document:\n  %s\nvalue: %s", what, strings.Join(errs, "\n  "), mustJSON(val))
	}
}

func decodeNumbers(t *testing.T, data []byte) any {
	t.Helper()
	if len(data) == 0 {
		return nil
	}
	dec := json.NewDecoder(bytes.NewReader(data))
	dec.UseNumber()
	var v any
	require.NoErrorf(t, dec.Decode(&v), "not JSON: %s", data)
	return v
}

func mustJSON(v any) string {
	b, _ := json.Marshal(v)
	if len(b) > 600 {
		return string(b[:600]) + "..."
	}
	return string(b)
}

func TestOpenAPIContract(t *testing.T) {
	s := store.New(memstore.New(), store.Options{})
	t.Cleanup(func() { _ = s.Close() })
	// A stand-in OTLP handler shows the seam; the real one answers protobuf.
	traces := http.HandlerFunc(func(w http.ResponseWriter, _ *http.Request) { writeJSON(w, http.StatusOK, map[string]any{}) })
	srv := httptest.NewServer(NewHandler(s, WithTracesHandler(traces)))
	t.Cleanup(srv.Close)
	bare := httptest.NewServer(NewHandler(s))
	t.Cleanup(bare.Close)

	doc := loadOpenAPI(t)
	c := &contract{t: t, doc: doc, url: srv.URL, covered: map[string]bool{}}
	const p = Prefix

	c.call("GET", p+"/health", nil, 200)

	// Resources.
	res := c.call("POST", p+"/resources", exampleResources, 201).(map[string]any)
	resID := res["resources_id"].(string)
	c.call("POST", p+"/resources/v1", map[string]any{"prompt": map[string]any{"resource_type": "prompt_template", "template": "{q}", "engine": "f-string"}}, 200)
	c.call("GET", p+"/resources/latest", nil, 200)
	c.call("GET", p+"/resources/"+resID, nil, 200)
	c.call("GET", p+"/resources/missing", nil, 200)
	c.call("GET", p+"/resources?resources_id_contains=rs-&sort_by=version&sort_order=desc&limit=5&offset=0", nil, 200)

	// Rollouts and the queue.
	enq := c.call("POST", p+"/queues/rollouts/enqueue", map[string]any{"rollouts": []any{
		map[string]any{"input": map[string]any{"idx": 0}, "mode": "train", "resources_id": nil, "config": nil, "metadata": map[string]any{"batch": 1}},
		map[string]any{"input": "plain", "config": map[string]any{"timeout_seconds": 30.5, "max_attempts": 2, "retry_condition": []any{"failed"}}},
	}}, 201).([]any)
	queuedID := enq[1].(map[string]any)["rollout_id"].(string)
	deq := c.call("POST", p+"/queues/rollouts/dequeue", map[string]any{"limit": 1, "worker_id": "worker-1"}, 200).([]any)
	require.Len(t, deq, 1)
	c.call("POST", p+"/queues/rollouts/dequeue", map[string]any{"limit": 0}, 200)
	started := c.call("POST", p+"/rollouts", map[string]any{"input": map[string]any{"q": "2+2"}, "mode": "val", "worker_id": "worker-2"}, 201).(map[string]any)
	rid := started["rollout_id"].(string)
	aid := dig(started, "attempt", "attempt_id").(string)

	c.call("GET", p+"/rollouts?status_in=preparing&status_in=queuing&limit=10&sort_by=start_time&sort_order=desc", nil, 200)
	c.call("POST", p+"/rollouts/search", map[string]any{"rollout_id_in": []any{rid, queuedID}, "filter_logic": "or", "limit": 5, "offset": 0}, 200)
	c.call("GET", p+"/rollouts/"+rid, nil, 200)
	c.call("GET", p+"/rollouts/"+queuedID, nil, 200)
	c.call("POST", p+"/rollouts/"+queuedID, map[string]any{"metadata": nil, "mode": "test", "status": "requeuing"}, 200)

	// Attempts.
	c.call("POST", p+"/rollouts/"+rid+"/attempts", map[string]any{"worker_id": "worker-3"}, 201)
	c.call("GET", p+"/rollouts/"+rid+"/attempts?limit=1&sort_order=desc", nil, 200)
	c.call("POST", p+"/rollouts/"+rid+"/attempts/search", map[string]any{"sort_by": "start_time"}, 200)
	c.call("GET", p+"/rollouts/"+rid+"/attempts/latest", nil, 200)
	c.call("GET", p+"/rollouts/"+queuedID+"/attempts/latest", nil, 200)
	c.call("POST", p+"/rollouts/"+rid+"/attempts/"+aid, map[string]any{"status": "running", "metadata": map[string]any{"k": 1}}, 200)
	c.call("POST", p+"/rollouts/"+rid+"/attempts/latest", map[string]any{"last_heartbeat_time": 1.5}, 200)

	// Spans.
	next := c.call("POST", p+"/spans/next", map[string]any{"rollout_id": rid, "attempt_id": aid}, 200).(map[string]any)
	seq, _ := strconv.Atoi(string(next["sequence_id"].(json.Number)))
	sp := span(rid, aid, seq, "span-1", "openai.chat.completion")
	sp["attributes"] = map[string]any{"gen_ai.prompt.0.role": "user", "prompt_token_ids": []any{1, 2, 3}, "ok": true, "t": 0.5}
	sp["context"] = map[string]any{"trace_id": "trace-1", "span_id": "span-1", "is_remote": false, "trace_state": map[string]any{}}
	sp["events"] = []any{map[string]any{"name": "e", "attributes": map[string]any{"a": "b"}, "timestamp": 1.25}}
	sp["links"] = []any{map[string]any{"context": sp["context"], "attributes": nil}}
	sp["kind"] = "SpanKind.CLIENT"
	c.call("POST", p+"/spans", sp, 201)
	assert.Nil(t, c.call("POST", p+"/spans", sp, 201), "duplicate")
	c.call("GET", p+"/spans?rollout_id="+rid+"&attempt_id=latest&name_contains=openai", nil, 200)
	c.call("POST", p+"/spans/search", map[string]any{"rollout_id": rid, "attempt_id": aid, "sort_by": "start_time", "sort_order": "desc"}, 200)

	// Workers.
	c.call("POST", p+"/workers/worker-9", map[string]any{"heartbeat_stats": map[string]any{"cpu_usage_pct": 12.5, "gpus": []any{}}}, 200)
	c.call("GET", p+"/workers?status_in=busy&status_in=unknown&sort_by=worker_id", nil, 200)
	c.call("POST", p+"/workers/search", map[string]any{"filter_logic": "and"}, 200)
	c.call("GET", p+"/workers/worker-1", nil, 200)
	c.call("GET", p+"/workers/missing", nil, 200)

	// Waits, statistics.
	c.call("POST", p+"/rollouts/"+rid+"/attempts/latest", map[string]any{"status": "succeeded"}, 200)
	waited := c.call("POST", p+"/waits/rollouts", map[string]any{"rollout_ids": []any{rid, "unknown"}, "timeout": 0}, 200).([]any)
	require.Len(t, waited, 1)
	c.call("GET", p+"/statistics", nil, 200)

	// Request validation answers match HTTPValidationError.
	c.call("POST", p+"/queues/rollouts/enqueue", map[string]any{}, 422)
	c.call("POST", p+"/rollouts/"+rid, map[string]any{"status": "bogus"}, 422)
	c.call("GET", p+"/spans?limit=x", nil, 422)
	c.call("POST", p+"/resources", map[string]any{"x": map[string]any{"resource_type": "llm"}}, 422)

	// OTLP routes.
	c.call("POST", "/v1/traces", map[string]any{}, 200)
	bareContract := &contract{t: t, doc: doc, url: bare.URL, covered: c.covered}
	bareContract.reserved("POST", "/v1/traces", "POST /v1/traces (not mounted)")
	c.reserved("POST", "/v1/metrics", "POST /v1/metrics")
	c.reserved("POST", "/v1/logs", "POST /v1/logs")
	c.reserved("POST", "/v1/development/profiles", "POST /v1/development/profiles")

	var missed []string
	for _, op := range doc.operations() {
		if !c.covered[op] {
			missed = append(missed, op)
		}
	}
	assert.Empty(t, missed, "operations of the OpenAPI document not exercised")
	assert.Len(t, doc.operations(), 32)
}

// TestMissingEntityIsNull documents a deliberate difference: the document
// types GET /rollouts/{id} as AttemptedRollout or Rollout, but the Agent
// Lightning client expects null for an unknown id (spec fact 5).
func TestMissingEntityIsNull(t *testing.T) {
	api := newTestAPI(t)
	for _, path := range []string{"/rollouts/missing", "/rollouts/missing/attempts/latest", "/workers/missing", "/resources/missing", "/resources/latest"} {
		resp := api.get(path)
		assert.Equal(t, http.StatusOK, resp.status, path)
		assert.Equal(t, "null", string(resp.body), path)
	}
}

// schemaValidator checks a value against the JSON Schema subset used by
// FastAPI documents: $ref, anyOf, oneOf, allOf, type, enum, const,
// properties, required, additionalProperties, items and minimum.
type schemaValidator struct {
	defs       map[string]any
	allPresent bool // every declared property must be present
}

func (v *schemaValidator) validate(path string, schema, val any) []string {
	s, ok := schema.(map[string]any)
	if !ok {
		return []string{path + ": schema is not an object"}
	}
	if ref, ok := s["$ref"].(string); ok {
		name := strings.TrimPrefix(ref, "#/components/schemas/")
		def, found := v.defs[name]
		if !found {
			return []string{path + ": unresolved " + ref}
		}
		return v.validate(path, def, val)
	}
	var errs []string
	if subs, ok := s["anyOf"].([]any); ok && !v.matchesAny(path, subs, val) {
		errs = append(errs, fmt.Sprintf("%s: matches none of anyOf %s", path, v.explain(path, subs, val)))
	}
	if subs, ok := s["oneOf"].([]any); ok {
		if n := v.countMatches(path, subs, val); n != 1 {
			errs = append(errs, fmt.Sprintf("%s: matches %d of oneOf (want exactly 1) %s", path, n, v.explain(path, subs, val)))
		}
	}
	if subs, ok := s["allOf"].([]any); ok {
		for _, sub := range subs {
			errs = append(errs, v.validate(path, sub, val)...)
		}
	}
	if c, ok := s["const"]; ok && !jsonEqual(c, val) {
		errs = append(errs, fmt.Sprintf("%s: %v is not the constant %v", path, val, c))
	}
	if enum, ok := s["enum"].([]any); ok && !slices.ContainsFunc(enum, func(e any) bool { return jsonEqual(e, val) }) {
		errs = append(errs, fmt.Sprintf("%s: %v is not one of %v", path, val, enum))
	}
	if t, ok := s["type"]; ok && !typeMatches(t, val) {
		return append(errs, fmt.Sprintf("%s: %s is not of type %v", path, mustJSON(val), t))
	}
	if minimum, ok := s["minimum"].(json.Number); ok {
		if n, isNum := val.(json.Number); isNum && numberOf(n) < numberOf(minimum) {
			errs = append(errs, fmt.Sprintf("%s: %v is below the minimum %v", path, n, minimum))
		}
	}
	switch x := val.(type) {
	case map[string]any:
		errs = append(errs, v.validateObject(path, s, x)...)
	case []any:
		if items, ok := s["items"]; ok {
			for i, item := range x {
				errs = append(errs, v.validate(fmt.Sprintf("%s[%d]", path, i), items, item)...)
			}
		}
	}
	return errs
}

func (v *schemaValidator) validateObject(path string, s map[string]any, obj map[string]any) []string {
	var errs []string
	props, _ := s["properties"].(map[string]any)
	if req, ok := s["required"].([]any); ok {
		for _, r := range req {
			if _, present := obj[r.(string)]; !present {
				errs = append(errs, fmt.Sprintf("%s: required property %q is missing", path, r))
			}
		}
	}
	if v.allPresent {
		for name := range props {
			if _, present := obj[name]; !present {
				errs = append(errs, fmt.Sprintf("%s: declared property %q is missing (Pydantic always emits it)", path, name))
			}
		}
	}
	for _, key := range slices.Sorted(func(yield func(string) bool) {
		for k := range obj {
			if !yield(k) {
				return
			}
		}
	}) {
		sub := path + "." + key
		if ps, ok := props[key]; ok {
			errs = append(errs, v.validate(sub, ps, obj[key])...)
			continue
		}
		switch ap := s["additionalProperties"].(type) {
		case bool:
			if !ap {
				errs = append(errs, sub+": additional property not allowed")
			}
		case map[string]any:
			errs = append(errs, v.validate(sub, ap, obj[key])...)
		}
	}
	return errs
}

func (v *schemaValidator) matchesAny(path string, subs []any, val any) bool {
	for _, sub := range subs {
		if len(v.validate(path, sub, val)) == 0 {
			return true
		}
	}
	return false
}

func (v *schemaValidator) countMatches(path string, subs []any, val any) int {
	n := 0
	for _, sub := range subs {
		if len(v.validate(path, sub, val)) == 0 {
			n++
		}
	}
	return n
}

// explain lists why each alternative failed, for readable test output.
func (v *schemaValidator) explain(path string, subs []any, val any) string {
	var parts []string
	for i, sub := range subs {
		if errs := v.validate(path, sub, val); len(errs) > 0 {
			parts = append(parts, fmt.Sprintf("[%d: %s]", i, strings.Join(errs, "; ")))
		}
	}
	return strings.Join(parts, " ")
}

func typeMatches(t any, val any) bool {
	if list, ok := t.([]any); ok {
		return slices.ContainsFunc(list, func(one any) bool { return typeMatches(one, val) })
	}
	switch t {
	case "null":
		return val == nil
	case "boolean":
		_, ok := val.(bool)
		return ok
	case "string":
		_, ok := val.(string)
		return ok
	case "number":
		_, ok := val.(json.Number)
		return ok
	case "integer":
		n, ok := val.(json.Number)
		if !ok {
			return false
		}
		f := numberOf(n)
		return f == math.Trunc(f) && !strings.ContainsAny(string(n), ".eE")
	case "array":
		_, ok := val.([]any)
		return ok
	case "object":
		_, ok := val.(map[string]any)
		return ok
	}
	return false
}

func numberOf(n json.Number) float64 {
	f, _ := n.Float64()
	return f
}

func jsonEqual(a, b any) bool {
	if na, ok := a.(json.Number); ok {
		nb, ok := b.(json.Number)
		return ok && numberOf(na) == numberOf(nb)
	}
	return fmt.Sprint(a) == fmt.Sprint(b) && fmt.Sprintf("%T", a) == fmt.Sprintf("%T", b)
}

func TestSchemaValidator(t *testing.T) {
	defs := map[string]any{
		"Thing": map[string]any{
			"type": "object", "required": []any{"id"},
			"properties": map[string]any{
				"id":   map[string]any{"type": "integer", "minimum": json.Number("1")},
				"kind": map[string]any{"anyOf": []any{map[string]any{"enum": []any{"a", "b"}, "type": "string"}, map[string]any{"type": "null"}}},
			},
			"additionalProperties": false,
		},
	}
	ref := map[string]any{"$ref": "#/components/schemas/Thing"}
	cases := []struct {
		name  string
		value string
		ok    bool
	}{
		{"valid", `{"id": 2, "kind": "a"}`, true},
		{"null in anyOf", `{"id": 2, "kind": null}`, true},
		{"missing required", `{"kind": "a"}`, false},
		{"below minimum", `{"id": 0}`, false},
		{"float for integer", `{"id": 1.5}`, false},
		{"bad enum", `{"id": 1, "kind": "c"}`, false},
		{"extra property", `{"id": 1, "other": 1}`, false},
		{"not an object", `[1]`, false},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			v := &schemaValidator{defs: defs}
			errs := v.validate("$", ref, decodeNumbers(t, []byte(tc.value)))
			assert.Equal(t, tc.ok, len(errs) == 0, errs)
		})
	}
	strict := &schemaValidator{defs: defs, allPresent: true}
	assert.NotEmpty(t, strict.validate("$", ref, decodeNumbers(t, []byte(`{"id": 1}`))), "allPresent wants every declared property")
	oneOf := map[string]any{"oneOf": []any{map[string]any{"type": "number"}, map[string]any{"type": "integer"}}}
	assert.NotEmpty(t, (&schemaValidator{}).validate("$", oneOf, json.Number("3")), "3 matches both alternatives")
	assert.Empty(t, (&schemaValidator{}).validate("$", oneOf, json.Number("3.5")))
}
