package model

import (
	"encoding/json"
	"testing"
)

func mustJSON(t *testing.T, v any) string {
	t.Helper()
	b, err := json.Marshal(v)
	if err != nil {
		t.Fatal(err)
	}
	return string(b)
}

func TestRolloutJSONOmitsAttemptOnlyWhenAbsent(t *testing.T) {
	r := Rollout{RolloutID: "ro-1", Input: json.RawMessage(`{"q":1}`), StartTime: 1.5, Status: RolloutQueuing, Config: DefaultRolloutConfig(), Metadata: json.RawMessage(`{}`)}
	want := `{"rollout_id":"ro-1","input":{"q":1},"start_time":1.5,"end_time":null,"mode":null,"resources_id":null,"status":"queuing",` +
		`"config":{"timeout_seconds":null,"unresponsive_seconds":null,"max_attempts":1,"retry_condition":[]},"metadata":{}}`
	if got := mustJSON(t, r); got != want {
		t.Fatalf("rollout:\n got %s\nwant %s", got, want)
	}
	r.Attempt = &Attempt{RolloutID: "ro-1", AttemptID: "at-1", SequenceID: 1, StartTime: 2, Status: AttemptPreparing}
	var back map[string]json.RawMessage
	if err := json.Unmarshal([]byte(mustJSON(t, r)), &back); err != nil {
		t.Fatal(err)
	}
	if string(back["attempt"]) != `{"rollout_id":"ro-1","attempt_id":"at-1","sequence_id":1,"start_time":2,"end_time":null,"status":"preparing","worker_id":null,"last_heartbeat_time":null,"metadata":null}` {
		t.Fatalf("attempt: %s", back["attempt"])
	}
}

func TestRolloutConfigDefaults(t *testing.T) {
	var c RolloutConfig
	if err := json.Unmarshal([]byte(`{"timeout_seconds": 5}`), &c); err != nil {
		t.Fatal(err)
	}
	if c.MaxAttempts != 1 || c.RetryCondition == nil || *c.TimeoutSeconds != 5 {
		t.Fatalf("defaults not applied: %+v", c)
	}
	if !(RolloutConfig{RetryCondition: []AttemptStatus{AttemptTimeout}}).Retries(AttemptTimeout) {
		t.Fatal("Retries")
	}
}

func TestSpanRoundTripsUnknownKeys(t *testing.T) {
	in := `{"rollout_id":"r","attempt_id":"a","sequence_id":3,"trace_id":"t","span_id":"s","parent_id":null,"name":"n",` +
		`"status":{"status_code":"OK","description":null,"extra_status":1},` +
		`"attributes":{"i":1,"f":1.0,"l":[1,2],"s":"x","b":true},` +
		`"events":[{"name":"e","attributes":{},"timestamp":1.25,"ev_extra":"y"}],` +
		`"links":[{"context":{"trace_id":"t2","span_id":"s2","is_remote":false,"trace_state":{},"ctx_extra":[1]},"attributes":null,"link_extra":{"k":"v"}}],` +
		`"start_time":1.0,"end_time":2.5,"context":null,"parent":null,"resource":{"attributes":{},"schema_url":""},` +
		`"kind":"SpanKind.INTERNAL","instrumentation_scope":{"name":"x"}}`
	var s Span
	if err := json.Unmarshal([]byte(in), &s); err != nil {
		t.Fatal(err)
	}
	if len(s.Extra) != 2 || len(s.Status.Extra) != 1 || len(s.Events[0].Extra) != 1 || len(s.Links[0].Extra) != 1 || len(s.Links[0].Context.Extra) != 1 {
		t.Fatalf("extras lost: %+v", s)
	}
	var want, got any
	_ = json.Unmarshal([]byte(in), &want)
	_ = json.Unmarshal([]byte(mustJSON(t, s)), &got)
	if mustJSON(t, want) != mustJSON(t, got) {
		t.Fatalf("round trip:\n got %s\nwant %s", mustJSON(t, got), mustJSON(t, want))
	}
	if f, ok := s.Attributes["f"].(json.Number); !ok || f.String() != "1.0" {
		t.Fatalf("float attribute lost its form: %#v", s.Attributes["f"])
	}
}

func TestSpanDefaultsForMissingCollections(t *testing.T) {
	got := mustJSON(t, Span{RolloutID: "r", AttemptID: "a", TraceID: "t", SpanID: "s", Name: "n"})
	want := `{"rollout_id":"r","attempt_id":"a","sequence_id":0,"trace_id":"t","span_id":"s","parent_id":null,"name":"n",` +
		`"status":{"status_code":"UNSET","description":null},"attributes":{},"events":[],"links":[],"start_time":null,"end_time":null,` +
		`"context":null,"parent":null,"resource":{"attributes":{},"schema_url":""}}`
	if got != want {
		t.Fatalf("\n got %s\nwant %s", got, want)
	}
}

func TestNormalizeResources(t *testing.T) {
	out, err := NormalizeResources(NamedResources{
		"llm":    json.RawMessage(`{"resource_type":"llm","endpoint":"http://x/v1","model":"m"}`),
		"prompt": json.RawMessage(`{"resource_type":"prompt_template","template":"Hi {q}","engine":"f-string"}`),
	})
	if err != nil {
		t.Fatal(err)
	}
	if string(out["llm"]) != `{"resource_type":"llm","endpoint":"http://x/v1","model":"m","api_key":null,"sampling_parameters":{}}` {
		t.Fatalf("llm: %s", out["llm"])
	}
	for name, bad := range map[string]string{
		"no type":      `{"endpoint":"x","model":"m"}`,
		"bad type":     `{"resource_type":"gpu"}`,
		"no model":     `{"resource_type":"llm","endpoint":"x"}`,
		"bad engine":   `{"resource_type":"prompt_template","template":"t","engine":"mustache"}`,
		"not object":   `[1]`,
		"wrong fields": `{"resource_type":"llm","endpoint":1,"model":"m"}`,
	} {
		if _, err := NormalizeResources(NamedResources{"r": json.RawMessage(bad)}); err == nil {
			t.Errorf("%s: accepted %s", name, bad)
		}
	}
}

func TestStatusGroups(t *testing.T) {
	if !RolloutRequeuing.Queued() || RolloutRunning.Queued() || !RolloutCancelled.Finished() || !RolloutPreparing.Active() {
		t.Fatal("rollout status groups")
	}
	if RolloutStatus("bogus").Valid() || !AttemptTimeout.Ended() || AttemptRunning.Ended() || AttemptStatus("x").Valid() {
		t.Fatal("validity")
	}
}
