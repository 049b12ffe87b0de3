package storeapi

import (
	"encoding/json"
	"net/http"

	"github.com/otelcol-lightning/otelcol-lightning/pkg/model"
	"github.com/otelcol-lightning/otelcol-lightning/pkg/store"
)

// workerQuery is QueryWorkersRequest.
type workerQuery struct {
	StatusIn         []model.WorkerStatus `json:"status_in"`
	WorkerIDContains *string              `json:"worker_id_contains"`
	FilterLogic      *string              `json:"filter_logic"`
	pageParams
}

// queryWorkers serves GET /workers and POST /workers/search.
func (h *handler) queryWorkers(w http.ResponseWriter, r *http.Request) {
	q, ok := queryOrSearch(w, r, queryWorkersRequest)
	if !ok {
		return
	}
	serveQuery(h, w, r, q, &workerQuery{}, "", func(b *workerQuery, pg store.Page) (model.Paginated[model.Worker], error) {
		return h.store.QueryWorkers(r.Context(), store.WorkerQuery{
			StatusIn:         b.StatusIn,
			WorkerIDContains: b.WorkerIDContains,
			FilterLogic:      logic(b.FilterLogic),
			Page:             pg,
		})
	})
}

func (h *handler) getWorker(w http.ResponseWriter, r *http.Request) {
	out, err := h.store.GetWorker(r.Context(), r.PathValue("worker_id"))
	if err != nil {
		h.writeStoreError(w, r, err)
		return
	}
	writeJSON(w, http.StatusOK, out)
}

// updateWorker records a heartbeat; the body (and heartbeat_stats in it)
// is optional, but an explicit null is refused.
func (h *handler) updateWorker(w http.ResponseWriter, r *http.Request) {
	q, ok := readBody(w, r, updateWorkerRequest, false)
	if !ok || rejectNulls(w, q, "heartbeat_stats") {
		return
	}
	var stats json.RawMessage
	if q.has("heartbeat_stats") {
		stats = q.fields["heartbeat_stats"]
	}
	out, err := h.store.UpdateWorker(r.Context(), r.PathValue("worker_id"), stats)
	if err != nil {
		h.writeStoreError(w, r, err)
		return
	}
	writeJSON(w, http.StatusOK, out)
}
