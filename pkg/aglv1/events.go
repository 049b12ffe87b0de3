package aglv1

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"encoding/json"
	"errors"
	"math"
	"net/http"

	"github.com/otelcol-lightning/otelcol-lightning/pkg/genai"
	"github.com/otelcol-lightning/otelcol-lightning/pkg/model"
	"github.com/otelcol-lightning/otelcol-lightning/pkg/rewards"
)

// Attributes of the span an event posted through v1.0 is stored as: the
// event exactly as posted, so v1.0 reads it back unchanged, beside the
// attributes that let every other reader (genai, rewards, the v0.3 API,
// triplets, messages, exports) see the LLM call or the reward.
const (
	AttrEventType = "agentlightning.v1.event_type"
	AttrEventData = "agentlightning.v1.event_data"
)

// Event types with a known structure.
const (
	EventModelRequest = "model_request"
	EventReward       = "reward"
)

// POST /api/rollouts/{id}/attempt/{aid}/events: any attempt, any state.
func (a *API) postEvent(w http.ResponseWriter, r *http.Request) {
	id, aid := r.PathValue("id"), r.PathValue("aid")
	body, ok := readBody(w, r)
	if !ok {
		return
	}
	var e errs
	o, ok := asModel(&e, []any{"body"}, body)
	if !ok {
		e.write(w)
		return
	}
	var eventType string
	if v, ok := o.get("event_type"); !ok {
		e.missing([]any{"body", "event_type"}, body)
	} else if s, ok := asString(&e, []any{"body", "event_type"}, v, false); ok {
		eventType = *s
	}
	data := newObject()
	if v, ok := o.get("data"); ok {
		if d, ok := asDict(&e, []any{"body", "data"}, v); ok {
			data = d
		}
	}
	if len(e) > 0 {
		e.write(w)
		return
	}
	ev := model.V1Event{EventType: eventType, RolloutID: id, AttemptID: aid, Timestamp: a.now(), Data: raw(data)}
	if err := a.record(r.Context(), ev); err != nil {
		a.storeError(w, id, err)
		return
	}
	writeJSON(w, http.StatusOK, ev)
}

// record stores an event's span: through the traces pipeline when there is
// one (so its processors and connectors see it, and it is acknowledged once
// committed), else straight into the store.
func (a *API) record(ctx context.Context, ev model.V1Event) error {
	if a.pipeline != nil {
		// The attempt first: v1.0 takes events for any attempt id, and the
		// pipeline must not invent a rollout for an unknown one.
		if err := a.store.PrepareV1Attempt(ctx, ev.RolloutID, ev.AttemptID); err != nil {
			return err
		}
		err := a.pipeline(ctx, EventTraces(ev))
		if !errors.Is(err, ErrNoPipeline) {
			return err
		}
	}
	_, err := a.store.AddV1EventSpan(ctx, EventSpan(ev))
	return err
}

// GET /api/rollouts/{id}/events?event_type=&format=triplet
func (a *API) getEvents(w http.ResponseWriter, r *http.Request) {
	id := r.PathValue("id")
	_, spans, err := a.store.V1EventSpans(r.Context(), id)
	if err != nil {
		a.storeError(w, id, err)
		return
	}
	q := r.URL.Query()
	events := make([]model.V1Event, 0, len(spans))
	for _, s := range spans {
		ev, ok := SpanEvent(s)
		if !ok {
			continue
		}
		if t, ok := q["event_type"]; ok && ev.EventType != t[len(t)-1] {
			continue
		}
		events = append(events, ev)
	}
	if f := q["format"]; len(f) > 0 && f[len(f)-1] == "triplet" {
		events = TripletView(events)
	}
	writeJSON(w, http.StatusOK, events)
}

func randomHex(n int) string {
	b := make([]byte, n/2)
	_, _ = rand.Read(b)
	return hex.EncodeToString(b)
}

// EventSpan is the span an event posted through v1.0 is stored as. A
// model_request carries the request and response bodies as OpenInference's
// input.value / output.value and the token ids under Agent Lightning's
// keys; a reward carries Agent Lightning's canonical reward.
func EventSpan(ev model.V1Event) model.Span {
	ts := ev.Timestamp
	attrs := model.Attributes{
		AttrEventType: ev.EventType,
		AttrEventData: string(ev.Data),
	}
	name := "agentlightning.v1." + ev.EventType
	var data map[string]any
	_ = json.Unmarshal(ev.Data, &data)
	switch ev.EventType {
	case EventModelRequest:
		t := trimModelRequest(data)
		m, _ := data["model"].(string)
		if s, ok := t["server"].(map[string]any); ok && m == "" {
			m, _ = s["model"].(string)
		}
		name = "chat " + m
		attrs["gen_ai.operation.name"] = "chat"
		attrs["openinference.span.kind"] = "LLM"
		if m != "" {
			attrs["gen_ai.request.model"] = m
		}
		if req, ok := data["request"]; ok {
			attrs["input.value"] = string(raw(req))
			attrs["input.mime_type"] = "application/json"
		}
		if resp, ok := data["response"]; ok {
			attrs["output.value"] = string(raw(resp))
			attrs["output.mime_type"] = "application/json"
		}
		if ids, ok := intList(t["prompt_token_ids"]); ok && len(ids) > 0 {
			attrs[genai.AttrPromptTokenIDs] = ids
		}
		if ids, ok := intList(t["response_token_ids"]); ok && len(ids) > 0 {
			attrs[genai.AttrResponseTokenIDs] = ids
		}
		if hs, ok := data["http_status"].(float64); ok {
			attrs["http.response.status_code"] = int64(hs)
		}
	case EventReward:
		name = rewards.AnnotationSpanName
		if v, ok := data["value"].(float64); ok {
			attrs[rewards.RewardPrefix+".0.name"] = "primary"
			attrs[rewards.RewardPrefix+".0.value"] = v
		}
	}
	status := "OK"
	if s, _ := data["status"].(string); s == "error" {
		status = "ERROR"
	}
	return model.Span{
		RolloutID:  ev.RolloutID,
		AttemptID:  ev.AttemptID,
		TraceID:    randomHex(32),
		SpanID:     randomHex(16),
		Name:       name,
		Status:     model.TraceStatus{StatusCode: status},
		Attributes: attrs,
		Events:     []model.Event{},
		Links:      []model.Link{},
		StartTime:  &ts,
		EndTime:    &ts,
		Resource:   model.OtelResource{Attributes: model.Attributes{}},
	}
}

// SpanEvent is the v1.0 event a stored span shows as: the event itself for
// a span posted through v1.0; a model_request for an LLM call of any
// convention (pkg/genai), with the fields v1.0's triplet view reads; a
// reward for a span with a primary reward (pkg/rewards). Other spans are no
// event.
func SpanEvent(s model.Span) (model.V1Event, bool) {
	ev := model.V1Event{RolloutID: s.RolloutID, AttemptID: s.AttemptID}
	switch {
	case s.StartTime != nil:
		ev.Timestamp = *s.StartTime
	case s.EndTime != nil:
		ev.Timestamp = *s.EndTime
	}
	if t, ok := s.Attributes[AttrEventType].(string); ok {
		if ts, ok := s.Attributes[AttrEventTimestamp].(float64); ok {
			ev.Timestamp = ts
		}
		d, _ := s.Attributes[AttrEventData].(string)
		if !json.Valid([]byte(d)) {
			d = "{}"
		}
		ev.EventType, ev.Data = t, json.RawMessage(d)
		return ev, true
	}
	if genai.ClassifySpan(s).IsLLMCall {
		call, _ := genai.ParseSpan(s)
		choice := map[string]any{"token_ids": nonNil(call.ResponseTokenIDs)}
		if len(call.Logprobs) > 0 {
			choice["logprobs"] = map[string]any{"content": call.Logprobs}
		}
		// http.response.status_code (OTel's HTTP convention, which the LLM
		// proxy's spans carry) when the span has it; else the span status.
		status, httpStatus := "ok", int64(200)
		if s.Status.StatusCode == "ERROR" {
			httpStatus = 500
		}
		if v, ok := intAttr(s.Attributes["http.response.status_code"]); ok {
			httpStatus = v
		}
		if httpStatus >= 400 || s.Status.StatusCode == "ERROR" {
			status = "error"
		}
		ev.EventType = EventModelRequest
		ev.Data = raw(map[string]any{
			"model": call.Model(),
			"response": map[string]any{
				"prompt_token_ids": nonNil(call.PromptTokenIDs),
				"choices":          []any{choice},
			},
			"server":      map[string]any{"model": call.Model(), "version": 0},
			"http_status": httpStatus,
			"status":      status,
		})
		return ev, true
	}
	if v, ok, err := rewards.Value(rewards.ModelSpanOf(s)); ok && err == nil {
		ev.EventType = EventReward
		ev.Data = raw(map[string]any{"value": v})
		return ev, true
	}
	return model.V1Event{}, false
}

func intAttr(v any) (int64, bool) {
	switch t := v.(type) {
	case int64:
		return t, true
	case float64:
		return int64(t), t == math.Trunc(t)
	case json.Number:
		n, err := t.Int64()
		return n, err == nil
	}
	return 0, false
}

func nonNil(ids []int64) []int64 {
	if ids == nil {
		return []int64{}
	}
	return ids
}

// TripletView is v1.0's format=triplet (its 1.0.2 rules): model_request
// events trimmed to token ids, log probs and server; rewards trimmed to
// value, source and reason; then model requests with the same non-empty
// integer prompt ids deduplicated, keeping the last.
func TripletView(events []model.V1Event) []model.V1Event {
	out := make([]model.V1Event, len(events))
	lastByPrompt := map[string]int{}
	keep := map[int]bool{}
	for i, ev := range events {
		var data map[string]any
		d := json.NewDecoder(bytesReader(ev.Data))
		d.UseNumber()
		_ = d.Decode(&data)
		switch ev.EventType {
		case EventModelRequest:
			t := trimModelRequest(data)
			ev.Data = raw(t)
			if key, ok := promptKey(t["prompt_token_ids"]); ok {
				lastByPrompt[key] = i
			} else {
				keep[i] = true
			}
		case EventReward:
			t := map[string]any{"value": data["value"]}
			for _, k := range []string{"source", "reason"} {
				if v, ok := data[k]; ok {
					t[k] = v
				}
			}
			ev.Data = raw(t)
		}
		out[i] = ev
	}
	for _, i := range lastByPrompt {
		keep[i] = true
	}
	kept := make([]model.V1Event, 0, len(out))
	for i, ev := range out {
		if ev.EventType != EventModelRequest || keep[i] {
			kept = append(kept, ev)
		}
	}
	return kept
}

// trimModelRequest is v1.0's _trim_model_request.
func trimModelRequest(data map[string]any) map[string]any {
	prompt, response := any([]any{}), any([]any{})
	var logProbs any
	switch resp := data["response"].(type) {
	case map[string]any:
		if v, ok := resp["prompt_token_ids"]; ok {
			prompt = v
		}
		if choices, ok := resp["choices"].([]any); ok && len(choices) > 0 {
			c0, _ := choices[0].(map[string]any)
			if falsy(prompt) {
				prompt = []any{}
				if v, ok := c0["prompt_token_ids"]; ok {
					prompt = v
				}
			}
			response = []any{}
			if v, ok := c0["token_ids"]; ok {
				response = v
			}
			logProbs = choiceLogProbs(c0)
		}
	case []any:
		var ids []any
		for _, chunk := range resp {
			c, _ := chunk.(map[string]any)
			if falsy(prompt) && !falsy(c["prompt_token_ids"]) {
				prompt = c["prompt_token_ids"]
			}
			if choices, ok := c["choices"].([]any); ok && len(choices) > 0 {
				c0, _ := choices[0].(map[string]any)
				if tids, ok := c0["token_ids"].([]any); ok {
					ids = append(ids, tids...)
				}
			}
		}
		if ids != nil {
			response = ids
		}
	}
	srv, _ := data["server"].(map[string]any)
	out := map[string]any{
		"prompt_token_ids":   prompt,
		"response_token_ids": response,
		"response_log_probs": logProbs,
		"server":             map[string]any{"model": srv["model"], "version": srv["version"]},
	}
	for _, k := range []string{"http_status", "status"} {
		if v, ok := data[k]; ok {
			out[k] = v
		}
	}
	if resp, ok := data["response"].(map[string]any); ok {
		if v, ok := resp["error"]; ok {
			out["error"] = v
		}
	}
	return out
}

// choiceLogProbs is v1.0's _extract_choice_log_probs: nil when missing or
// when any value is not a finite number.
func choiceLogProbs(choice map[string]any) any {
	lp, ok := choice["logprobs"].(map[string]any)
	if !ok {
		return nil
	}
	var vals []any
	if content, ok := lp["content"].([]any); ok {
		for _, item := range content {
			m, ok := item.(map[string]any)
			if !ok {
				return nil
			}
			v, ok := m["logprob"]
			if !ok {
				return nil
			}
			vals = append(vals, v)
		}
	} else if tl, ok := lp["token_logprobs"].([]any); ok {
		vals = tl
	} else {
		return nil
	}
	out := make([]float64, 0, len(vals))
	for _, v := range vals {
		f, ok := toFloat(v)
		if !ok || math.IsInf(f, 0) || math.IsNaN(f) {
			return nil
		}
		out = append(out, f)
	}
	return out
}

func toFloat(v any) (float64, bool) {
	switch t := v.(type) {
	case float64:
		return t, true
	case json.Number:
		f, err := t.Float64()
		return f, err == nil
	case bool:
		if t {
			return 1, true
		}
		return 0, true
	}
	return 0, false
}

// falsy is Python's truth test for the JSON values it meets here.
func falsy(v any) bool {
	switch t := v.(type) {
	case nil:
		return true
	case []any:
		return len(t) == 0
	case string:
		return t == ""
	case bool:
		return !t
	}
	return false
}

// promptKey is the dedupe key of v1.0.2: a non-empty list of integers
// (JSON numbers without a fraction or exponent, as Python's json gives int).
func promptKey(v any) (string, bool) {
	list, ok := v.([]any)
	if !ok || len(list) == 0 {
		return "", false
	}
	for _, x := range list {
		n, ok := x.(json.Number)
		if !ok {
			return "", false
		}
		if _, err := n.Int64(); err != nil {
			return "", false
		}
	}
	return string(raw(list)), true
}

// intList reads a list of integer token ids.
func intList(v any) ([]any, bool) {
	list, ok := v.([]any)
	if !ok {
		return nil, false
	}
	out := make([]any, 0, len(list))
	for _, x := range list {
		f, ok := x.(float64)
		if !ok || f != math.Trunc(f) {
			return nil, false
		}
		out = append(out, int64(f))
	}
	return out, true
}
