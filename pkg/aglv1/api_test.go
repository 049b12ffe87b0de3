package aglv1

import (
	"context"
	"encoding/json"
	"errors"
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/otelcol-lightning/otelcol-lightning/pkg/genai"
	"github.com/otelcol-lightning/otelcol-lightning/pkg/model"
	"github.com/otelcol-lightning/otelcol-lightning/pkg/rewards"
	"github.com/otelcol-lightning/otelcol-lightning/pkg/store"
	"github.com/otelcol-lightning/otelcol-lightning/pkg/store/memstore"
)

type muxRouter struct{ *http.ServeMux }

func (m muxRouter) Handle(p string, h http.Handler) error { m.ServeMux.Handle(p, h); return nil }

// bearer is a server authenticator like bearertokenauth's: it reads the
// Authorization header only.
func bearer(key string) Authenticate {
	return func(ctx context.Context, headers map[string][]string) (context.Context, error) {
		for _, k := range []string{"Authorization", "authorization"} {
			if v := headers[k]; len(v) > 0 && v[0] == "Bearer "+key {
				return ctx, nil
			}
		}
		return ctx, errors.New("unauthorized")
	}
}

func newServer(t *testing.T, auth Authenticate) (*httptest.Server, *store.Core) {
	t.Helper()
	srv, core := serve(auth)
	t.Cleanup(func() { _ = core.Close() })
	t.Cleanup(srv.Close)
	return srv, core
}

// serve runs the API over a memstore on fake clocks: the store's at 100 s,
// the API's (event timestamps) counting up from 101 s.
func serve(auth Authenticate) (*httptest.Server, *store.Core) {
	core := store.New(memstore.New(), store.Options{Clock: func() time.Time { return time.Unix(100, 0) }})
	mux := http.NewServeMux()
	var mu sync.Mutex
	clock := 100.0
	now := func() float64 {
		mu.Lock()
		defer mu.Unlock()
		clock++
		return clock
	}
	if err := New(core, auth, nil, nil, now).Register(muxRouter{mux}); err != nil {
		panic(err)
	}
	return httptest.NewServer(mux), core
}

func newServerForFuzz() (*httptest.Server, func()) {
	srv, core := serve(nil)
	// A rollout for the routes that need one.
	if _, err := core.CreateV1Rollouts(context.Background(), []store.V1Create{{RolloutID: model.Ptr("r"), Input: json.RawMessage("1"), IsTrain: true}}); err != nil {
		panic(err)
	}
	return srv, func() { _ = core.Close() }
}

func do(t *testing.T, srv *httptest.Server, method, path, body string, headers ...string) (int, string) {
	t.Helper()
	req, err := http.NewRequest(method, srv.URL+path, strings.NewReader(body))
	require.NoError(t, err)
	for i := 0; i+1 < len(headers); i += 2 {
		req.Header.Set(headers[i], headers[i+1])
	}
	resp, err := srv.Client().Do(req)
	require.NoError(t, err)
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	return resp.StatusCode, string(b)
}

func TestAuthThroughTheAuthenticator(t *testing.T) {
	srv, _ := newServer(t, bearer("k"))
	cases := []struct {
		name    string
		headers []string
		want    int
	}{
		{"none", nil, 401},
		{"wrong", []string{"Authorization", "Bearer x"}, 401},
		{"bearer", []string{"Authorization", "Bearer k"}, 200},
		{"x-api-key", []string{"X-Api-Key", "k"}, 200},
		{"wrong x-api-key", []string{"X-Api-Key", "x"}, 401},
		{"authorization wins over x-api-key", []string{"Authorization", "Bearer x", "X-Api-Key", "k"}, 401},
	}
	for _, c := range cases {
		status, body := do(t, srv, "GET", "/api/rollouts?state_in=queuing", "", c.headers...)
		assert.Equal(t, c.want, status, c.name)
		if c.want == 401 {
			assert.JSONEq(t, `{"detail":"Invalid or missing API key"}`, body, c.name)
		}
	}
	status, body := do(t, srv, "GET", "/healthz", "")
	assert.Equal(t, 200, status, "healthz is open")
	assert.JSONEq(t, `{"status":"ok"}`, body)
}

func TestRouteErrors(t *testing.T) {
	srv, _ := newServer(t, nil)
	cases := []struct {
		method, path, body string
		status             int
		want               string
	}{
		{"GET", "/api/rollouts/nope", "", 404, `{"detail":"Rollout not found: nope"}`},
		{"PATCH", "/api/rollouts/nope", `{"status":{"state":"running"}}`, 404, `{"detail":"Rollout not found: nope"}`},
		{"GET", "/api/rollouts/nope/events", "", 404, `{"detail":"Rollout not found: nope"}`},
		{"POST", "/api/rollouts/nope/attempt/0/events", `{"event_type":"x"}`, 404, `{"detail":"Rollout not found: nope"}`},
		{"DELETE", "/api/rollouts/nope", "", 204, ``},
		{"POST", "/api/rollouts", `[{}]`, 422, `{"detail":[{"type":"missing","loc":["body",0,"input"],"msg":"Field required","input":{}}]}`},
		{"POST", "/api/rollouts", `{`, 422, `{"detail":[{"type":"json_invalid","loc":["body",1],"msg":"JSON decode error","input":{},"ctx":{"error":"Expecting property name enclosed in double quotes"}}]}`},
		{"POST", "/api/rollouts", `[{"input":1,"metadata":{"batch_idx":"x"}}]`, 500, `Internal Server Error`},
		{"GET", "/api/rollouts", "", 422, `{"detail":[{"type":"missing","loc":["query","state_in"],"msg":"Field required","input":null}]}`},
		{"GET", "/api/rollouts/terminal?limit=x", "", 422, `{"detail":[{"type":"int_parsing","loc":["query","limit"],"msg":"Input should be a valid integer, unable to parse string as an integer","input":"x"}]}`},
		{"POST", "/api/models", `[{"model":"m"}]`, 422, `{"detail":[{"type":"missing","loc":["body",0,"endpoint"],"msg":"Field required","input":{"model":"m"}}]}`},
		{"DELETE", "/api/models", "", 200, `{"status":"ok"}`},
	}
	for _, c := range cases {
		status, body := do(t, srv, c.method, c.path, c.body)
		assert.Equal(t, c.status, status, "%s %s", c.method, c.path)
		if strings.HasPrefix(c.want, "{") {
			assert.JSONEq(t, c.want, body, "%s %s", c.method, c.path)
		} else {
			assert.Equal(t, c.want, body, "%s %s", c.method, c.path)
		}
	}
}

func TestLifecycleOverHTTP(t *testing.T) {
	srv, core := newServer(t, nil)
	status, body := do(t, srv, "POST", "/api/rollouts", `[{"rollout_id":"r","input":{"data_id":"d"},"metadata":{"z":1,"batch_idx":2}}]`)
	require.Equal(t, 201, status, body)
	assert.JSONEq(t, `[{"rollout_id":"r","input":{"data_id":"d"},"is_train":true,
		"config":{"timeout_seconds":3600,"local":null,"k8s":null},"metadata":{"batch_idx":2,"sample_idx_in_batch":null,"z":1},
		"status":{"state":"queuing","k8s_job_name":null,"last_attempt_id":null,"error_message":null,"version":1,"created_at":100,"updated_at":100}}]`, body)
	assert.True(t, strings.Index(body, `"batch_idx"`) < strings.Index(body, `"z"`), "declared metadata keys first")
	status, body = do(t, srv, "PATCH", "/api/rollouts/r", `{"status":{"state":"succeeded"}}`)
	assert.Equal(t, 409, status)
	assert.JSONEq(t, `{"detail":"Rollout r: cannot transition queuing -> succeeded"}`, body)
	status, _ = do(t, srv, "PATCH", "/api/rollouts/r", `{"status":{"state":"running","last_attempt_id":"0"}}`)
	require.Equal(t, 200, status)
	status, body = do(t, srv, "POST", "/api/rollouts/r/attempt/0/events", `{"event_type":"reward","data":{"value":0.5,"message":"m"}}`)
	require.Equal(t, 200, status)
	assert.JSONEq(t, `{"event_type":"reward","rollout_id":"r","attempt_id":"0","timestamp":101,"data":{"value":0.5,"message":"m"}}`, body)

	// The event is a span with a reward every reader sees.
	spans, err := core.QuerySpans(context.Background(), store.SpanQuery{RolloutID: "r", Page: store.AllPage()})
	require.NoError(t, err)
	require.Len(t, spans.Items, 1)
	v, ok, err := rewards.Value(rewards.ModelSpanOf(spans.Items[0]))
	require.NoError(t, err)
	assert.True(t, ok)
	assert.Equal(t, 0.5, v)

	status, body = do(t, srv, "GET", "/api/rollouts/r", "")
	require.Equal(t, 200, status)
	assert.Contains(t, body, `"attempts":["0"]`)
}

func TestModelRequestSpanIsAnLLMCallForGenAI(t *testing.T) {
	data := `{"model":"q","request":{"model":"q","messages":[{"role":"user","content":"hi"}]},
		"response":{"model":"q","prompt_token_ids":[1,2],"choices":[{"index":0,"message":{"role":"assistant","content":"yo"},"token_ids":[3],
		"logprobs":{"content":[{"token":"yo","logprob":-0.5}]}}]},"server":{"model":"q","version":0},"http_status":200,"status":"ok"}`
	span := EventSpan(model.V1Event{EventType: EventModelRequest, RolloutID: "r", AttemptID: "0", Timestamp: 1, Data: json.RawMessage(data)})
	call, _ := genai.ParseSpan(span)
	require.True(t, genai.ClassifySpan(span).IsLLMCall)
	assert.Equal(t, []int64{1, 2}, call.PromptTokenIDs)
	assert.Equal(t, []int64{3}, call.ResponseTokenIDs)
	require.Len(t, call.Messages, 1)
	assert.Equal(t, "hi", call.Messages[0].Content.String())
	require.Len(t, call.Choices, 1)
	assert.Equal(t, "yo", call.Choices[0].Message.Content.String())

	// Read back, the posted event is returned exactly.
	ev, ok := SpanEvent(span)
	require.True(t, ok)
	assert.JSONEq(t, data, string(ev.Data))
}

// An LLM call that arrived as an OTLP span of another convention shows as a
// model_request whose triplet view has the call's token ids.
func TestSpanOfAnyConventionBecomesAModelRequest(t *testing.T) {
	start := 7.0
	span := model.Span{RolloutID: "r", AttemptID: "0", Name: "chat gpt", StartTime: &start, Attributes: model.Attributes{
		"gen_ai.operation.name": "chat", "gen_ai.request.model": "gpt",
		"gen_ai.prompt.0.role": "user", "gen_ai.prompt.0.content": "hi",
		"gen_ai.completion.0.role": "assistant", "gen_ai.completion.0.content": "yo",
		"prompt_token_ids": []any{int64(5), int64(6)}, "response_token_ids": []any{int64(7)},
	}}
	ev, ok := SpanEvent(span)
	require.True(t, ok)
	assert.Equal(t, EventModelRequest, ev.EventType)
	tv := TripletView([]model.V1Event{ev})
	assert.JSONEq(t, `{"prompt_token_ids":[5,6],"response_token_ids":[7],"response_log_probs":null,
		"server":{"model":"gpt","version":0},"http_status":200,"status":"ok"}`, string(tv[0].Data))
	span.Attributes["http.response.status_code"] = float64(503)
	ev, _ = SpanEvent(span)
	assert.JSONEq(t, `{"prompt_token_ids":[5,6],"response_token_ids":[7],"response_log_probs":null,
		"server":{"model":"gpt","version":0},"http_status":503,"status":"error"}`, string(TripletView([]model.V1Event{ev})[0].Data))
	_, ok = SpanEvent(model.Span{Name: "tool", Attributes: model.Attributes{"tool.name": "calc"}})
	assert.False(t, ok, "other spans are no event")
}

func TestTripletViewDedupe(t *testing.T) {
	mr := func(prompt string) model.V1Event {
		return model.V1Event{EventType: EventModelRequest, Data: json.RawMessage(
			`{"response":{"prompt_token_ids":` + prompt + `,"choices":[{"token_ids":[9],"logprobs":{"token_logprobs":[-1]}}]},"server":{"model":"m","version":0}}`)}
	}
	events := []model.V1Event{mr("[1,2]"), {EventType: "note", Data: json.RawMessage(`{"k":1}`)}, mr("[1,2]"), mr("[]"), mr("[]"), mr(`[1.5]`)}
	out := TripletView(events)
	kinds := []string{}
	for _, e := range out {
		kinds = append(kinds, e.EventType+":"+string(e.Data))
	}
	require.Len(t, out, 5, "%v", kinds)
	assert.Equal(t, "note", out[0].EventType, "the first duplicate is dropped, other events keep their place")
	assert.JSONEq(t, `{"prompt_token_ids":[1,2],"response_token_ids":[9],"response_log_probs":[-1],"server":{"model":"m","version":0}}`, string(out[1].Data))
}

func TestPythonJSONErrors(t *testing.T) {
	cases := []struct {
		in  string
		msg string
		pos int
	}{
		{`{not`, "Expecting property name enclosed in double quotes", 1},
		{`[1,]`, "Expecting value", 3},
		{`[1 2]`, "Expecting ',' delimiter", 3},
		{`{"a" 1}`, "Expecting ':' delimiter", 5},
		{`["abc`, "Unterminated string starting at", 1},
		{`[] x`, "Extra data", 3},
		{`["\q"]`, "Invalid \\escape", 2},
		{``, "Expecting value", 0},
	}
	for _, c := range cases {
		msg, pos := pythonJSONError([]byte(c.in))
		assert.Equal(t, c.msg, msg, c.in)
		assert.Equal(t, c.pos, pos, c.in)
	}
}
