package storeapi

import (
	"encoding/json"
	"net/http"

	"github.com/otelcol-lightning/otelcol-lightning/pkg/model"
	"github.com/otelcol-lightning/otelcol-lightning/pkg/store"
)

func (h *handler) startAttempt(w http.ResponseWriter, r *http.Request) {
	q, ok := readBody(w, r, startAttemptRequest, false)
	if !ok {
		return
	}
	var body struct {
		WorkerID *string `json:"worker_id"`
	}
	if !decodeOrReject(w, q, &body) {
		return
	}
	out, err := h.store.StartAttempt(r.Context(), r.PathValue("rollout_id"), body.WorkerID)
	if err != nil {
		h.writeStoreError(w, r, err)
		return
	}
	writeJSON(w, http.StatusCreated, out)
}

// queryAttempts serves GET .../attempts and POST .../attempts/search;
// attempts sort by sequence_id unless told otherwise.
func (h *handler) queryAttempts(w http.ResponseWriter, r *http.Request) {
	q, ok := queryOrSearch(w, r, queryAttemptsRequest)
	if !ok {
		return
	}
	serveQuery(h, w, r, q, &pageParams{}, "sequence_id", func(b *pageParams, pg store.Page) (model.Paginated[model.Attempt], error) {
		return h.store.QueryAttempts(r.Context(), store.AttemptQuery{RolloutID: r.PathValue("rollout_id"), Page: pg})
	})
}

func (h *handler) getLatestAttempt(w http.ResponseWriter, r *http.Request) {
	out, err := h.store.GetLatestAttempt(r.Context(), r.PathValue("rollout_id"))
	if err != nil {
		h.writeStoreError(w, r, err)
		return
	}
	writeJSON(w, http.StatusOK, out)
}

// updateAttempt applies a partial update; the attempt id may be "latest".
func (h *handler) updateAttempt(w http.ResponseWriter, r *http.Request) {
	q, ok := readBody(w, r, updateAttemptRequest, true)
	if !ok {
		return
	}
	if rejectNulls(w, q, "status", "worker_id", "last_heartbeat_time", "metadata") {
		return
	}
	var body struct {
		Status            *model.AttemptStatus `json:"status"`
		WorkerID          *string              `json:"worker_id"`
		LastHeartbeatTime *float64             `json:"last_heartbeat_time"`
		Metadata          json.RawMessage      `json:"metadata"`
	}
	if !decodeOrReject(w, q, &body) {
		return
	}
	out, err := h.store.UpdateAttempt(r.Context(), r.PathValue("rollout_id"), r.PathValue("attempt_id"), store.AttemptUpdate{
		Status:            patch(q, "status", body.Status),
		WorkerID:          patch(q, "worker_id", body.WorkerID),
		LastHeartbeatTime: patch(q, "last_heartbeat_time", body.LastHeartbeatTime),
		Metadata:          rawPatch(q, "metadata", body.Metadata),
	})
	if err != nil {
		h.writeStoreError(w, r, err)
		return
	}
	writeJSON(w, http.StatusOK, out)
}
