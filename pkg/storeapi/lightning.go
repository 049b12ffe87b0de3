package storeapi

import (
	"encoding/json"
	"net/http"

	"github.com/otelcol-lightning/otelcol-lightning/pkg/export"
	"github.com/otelcol-lightning/otelcol-lightning/pkg/model"
	"github.com/otelcol-lightning/otelcol-lightning/pkg/store"
)

// LightningPrefix is the path prefix of the collector's own API: what
// Agent Lightning does not have (triplets, messages, exports) lives here so
// the compatible /v1/agl surface stays exact.
const LightningPrefix = "/v1/lightning"

func (h *handler) lightningRoutes() {
	h.mux.HandleFunc("GET "+LightningPrefix+"/rollouts/{rollout_id}/triplets", h.getTriplets)
	h.mux.HandleFunc("GET "+LightningPrefix+"/rollouts/{rollout_id}/messages", h.getMessages)
	h.exportRoutes()
}

// attemptParam reads ?attempt_id=, defaulting to the latest attempt; "all"
// selects every attempt.
func attemptParam(r *http.Request) string {
	switch v := r.URL.Query().Get("attempt_id"); v {
	case "":
		return store.LatestAttempt
	case "all":
		return ""
	default:
		return v
	}
}

func (h *handler) getTriplets(w http.ResponseWriter, r *http.Request) {
	recs, err := h.store.QueryTriplets(r.Context(), r.PathValue("rollout_id"), attemptParam(r))
	if err != nil {
		h.writeStoreError(w, r, err)
		return
	}
	body := append(make([]byte, 0, 4096), `{"items":[`...)
	for i, rec := range recs {
		if i > 0 {
			body = append(body, ',')
		}
		body = export.NewTripletLine(rec).AppendJSON(body)
	}
	body = append(body, "]}"...)
	w.Header().Set("Content-Type", "application/json")
	w.WriteHeader(http.StatusOK)
	_, _ = w.Write(body)
}

// messageItem is a chat record: the OpenAI-format body plus its ids.
type messageItem struct {
	RolloutID  string          `json:"rollout_id"`
	AttemptID  string          `json:"attempt_id"`
	TraceID    string          `json:"trace_id"`
	SpanID     string          `json:"span_id"`
	SequenceID int             `json:"sequence_id"`
	Attributes json.RawMessage `json:"attributes"`
	body       json.RawMessage
}

// MarshalJSON inlines the body's keys (messages, tools, completion) next to
// the ids.
func (m messageItem) MarshalJSON() ([]byte, error) {
	type ids messageItem
	head, err := json.Marshal(ids(m))
	if err != nil {
		return nil, err
	}
	var body map[string]json.RawMessage
	if err := json.Unmarshal(m.body, &body); err != nil || len(body) == 0 {
		return head, nil
	}
	var all map[string]json.RawMessage
	if err := json.Unmarshal(head, &all); err != nil {
		return nil, err
	}
	for k, v := range body {
		if _, taken := all[k]; !taken {
			all[k] = v
		}
	}
	return json.Marshal(all)
}

func (h *handler) getMessages(w http.ResponseWriter, r *http.Request) {
	recs, err := h.store.QueryMessages(r.Context(), r.PathValue("rollout_id"), attemptParam(r))
	if err != nil {
		h.writeStoreError(w, r, err)
		return
	}
	items := make([]messageItem, len(recs))
	for i, rec := range recs {
		items[i] = messageItem{
			RolloutID: rec.RolloutID, AttemptID: rec.AttemptID, TraceID: rec.TraceID, SpanID: rec.SpanID,
			SequenceID: rec.SequenceID, Attributes: model.RawOrNull(rec.Attributes), body: rec.Body,
		}
	}
	writeJSON(w, http.StatusOK, map[string]any{"items": items})
}
