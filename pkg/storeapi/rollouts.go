package storeapi

import (
	"encoding/json"
	"net/http"
	"time"

	"github.com/otelcol-lightning/otelcol-lightning/pkg/model"
	"github.com/otelcol-lightning/otelcol-lightning/pkg/store"
)

func (h *handler) health(w http.ResponseWriter, _ *http.Request) {
	writeJSON(w, http.StatusOK, map[string]string{"status": "ok"})
}

func (h *handler) statistics(w http.ResponseWriter, r *http.Request) {
	stats, err := h.store.Statistics(r.Context())
	if err != nil {
		h.writeStoreError(w, r, err)
		return
	}
	writeJSON(w, http.StatusOK, stats)
}

func (h *handler) enqueueRollouts(w http.ResponseWriter, r *http.Request) {
	q, ok := readBody(w, r, enqueueManyRequest, true)
	if !ok {
		return
	}
	var body struct {
		Rollouts []model.EnqueueRolloutRequest `json:"rollouts"`
	}
	if !decodeOrReject(w, q, &body) {
		return
	}
	if len(body.Rollouts) == 0 {
		writeJSON(w, http.StatusCreated, []model.Rollout{})
		return
	}
	out, err := h.store.EnqueueRollouts(r.Context(), body.Rollouts)
	if err != nil {
		h.writeStoreError(w, r, err)
		return
	}
	writeJSON(w, http.StatusCreated, plainRollouts(out))
}

func (h *handler) dequeueRollouts(w http.ResponseWriter, r *http.Request) {
	q, ok := readBody(w, r, dequeueRequest, false)
	if !ok {
		return
	}
	var body struct {
		Limit    *int    `json:"limit"`
		WorkerID *string `json:"worker_id"`
	}
	if !decodeOrReject(w, q, &body) {
		return
	}
	limit := 1
	if body.Limit != nil {
		limit = *body.Limit
	}
	if limit <= 0 {
		writeJSON(w, http.StatusOK, []model.Rollout{})
		return
	}
	out, err := h.store.DequeueRollouts(r.Context(), limit, body.WorkerID)
	if err != nil {
		h.writeStoreError(w, r, err)
		return
	}
	writeJSON(w, http.StatusOK, nonNil(out))
}

func (h *handler) startRollout(w http.ResponseWriter, r *http.Request) {
	q, ok := readBody(w, r, startRolloutRequest, true)
	if !ok {
		return
	}
	var body store.StartRolloutRequest
	if !decodeOrReject(w, q, &body) {
		return
	}
	out, err := h.store.StartRollout(r.Context(), body)
	if err != nil {
		h.writeStoreError(w, r, err)
		return
	}
	writeJSON(w, http.StatusCreated, out)
}

// rolloutQuery is QueryRolloutsRequest. status_in and rollout_id_in stay
// nil when absent or null, and an empty list filters everything out.
type rolloutQuery struct {
	StatusIn          []model.RolloutStatus `json:"status_in"`
	RolloutIDIn       []string              `json:"rollout_id_in"`
	RolloutIDContains *string               `json:"rollout_id_contains"`
	FilterLogic       *string               `json:"filter_logic"`
	pageParams
}

// queryRollouts serves both GET /rollouts and POST /rollouts/search.
func (h *handler) queryRollouts(w http.ResponseWriter, r *http.Request) {
	q, ok := queryOrSearch(w, r, queryRolloutsRequest)
	if !ok {
		return
	}
	serveQuery(h, w, r, q, &rolloutQuery{}, "", func(b *rolloutQuery, pg store.Page) (model.Paginated[model.Rollout], error) {
		return h.store.QueryRollouts(r.Context(), store.RolloutQuery{
			StatusIn:          b.StatusIn,
			RolloutIDIn:       b.RolloutIDIn,
			RolloutIDContains: b.RolloutIDContains,
			FilterLogic:       logic(b.FilterLogic),
			Page:              pg,
		})
	})
}

func (h *handler) getRollout(w http.ResponseWriter, r *http.Request) {
	out, err := h.store.GetRollout(r.Context(), r.PathValue("rollout_id"))
	if err != nil {
		h.writeStoreError(w, r, err)
		return
	}
	writeJSON(w, http.StatusOK, out)
}

func (h *handler) updateRollout(w http.ResponseWriter, r *http.Request) {
	q, ok := readBody(w, r, updateRolloutRequest, true)
	if !ok {
		return
	}
	if rejectNulls(w, q, "status", "config") {
		return
	}
	var body struct {
		Input       json.RawMessage      `json:"input"`
		Mode        *model.RolloutMode   `json:"mode"`
		ResourcesID *string              `json:"resources_id"`
		Status      *model.RolloutStatus `json:"status"`
		Config      *model.RolloutConfig `json:"config"`
		Metadata    json.RawMessage      `json:"metadata"`
	}
	if !decodeOrReject(w, q, &body) {
		return
	}
	out, err := h.store.UpdateRollout(r.Context(), r.PathValue("rollout_id"), store.RolloutUpdate{
		Input:       rawPatch(q, "input", body.Input),
		Mode:        patch(q, "mode", body.Mode),
		ResourcesID: patch(q, "resources_id", body.ResourcesID),
		Status:      patch(q, "status", body.Status),
		Config:      patch(q, "config", body.Config),
		Metadata:    rawPatch(q, "metadata", body.Metadata),
	})
	if err != nil {
		h.writeStoreError(w, r, err)
		return
	}
	if out != nil {
		out = &plainRollouts([]model.Rollout{*out})[0]
	}
	writeJSON(w, http.StatusOK, out)
}

func (h *handler) waitForRollouts(w http.ResponseWriter, r *http.Request) {
	q, ok := readBody(w, r, waitRequest, true)
	if !ok {
		return
	}
	var body struct {
		RolloutIDs []string `json:"rollout_ids"`
		Timeout    *float64 `json:"timeout"`
	}
	if !decodeOrReject(w, q, &body) {
		return
	}
	// Python: None waits without limit and timeout <= 0 does not wait;
	// the store reads a negative timeout as "no limit". Absurdly long
	// timeouts also mean no limit, rather than overflowing a Duration.
	timeout := -1.0
	if body.Timeout != nil && *body.Timeout < maxWaitSeconds {
		timeout = max(*body.Timeout, 0)
	}
	ExtendForLongPoll(w, timeout)
	out, err := h.store.WaitForRollouts(r.Context(), body.RolloutIDs, timeout)
	if err != nil {
		h.writeStoreError(w, r, err)
		return
	}
	writeJSON(w, http.StatusOK, plainRollouts(out))
}

// answerBudget is what a long poll keeps, after its wait, to write the
// answer: the server's default write timeout.
const answerBudget = 30 * time.Second

// ExtendForLongPoll lets a long poll (any route that waits for the store,
// such as wait_for_rollouts) live as long as its caller asked (wait
// seconds; negative waits without limit). The server's write timeout would
// otherwise close the connection of a longer wait without an answer; the
// write deadline becomes the wait plus answerBudget, or none. (The read
// timeout needs nothing: net/http lifts the read deadline once the body is
// read.) Writers that cannot set deadlines (a test recorder) are left as
// they are.
func ExtendForLongPoll(w http.ResponseWriter, wait float64) {
	deadline := time.Time{}
	if wait >= 0 {
		deadline = time.Now().Add(time.Duration(wait*float64(time.Second)) + answerBudget)
	}
	_ = http.NewResponseController(w).SetWriteDeadline(deadline)
}

// maxWaitSeconds is about 30 years, far below Duration's 292-year range.
const maxWaitSeconds = 1e9

// plainRollouts drops the attempts of routes whose response model is
// Rollout: FastAPI serialises them through that model, which has no
// "attempt" field.
func plainRollouts(in []model.Rollout) []model.Rollout {
	out := make([]model.Rollout, len(in))
	for i, r := range in {
		r.Attempt = nil
		out[i] = r
	}
	return out
}

// rejectNulls answers 400 for the first of keys sent as an explicit null:
// Pydantic accepts null for these optional fields, the store does not.
func rejectNulls(w http.ResponseWriter, q *request, keys ...string) bool {
	for _, k := range keys {
		if q.isNull(k) {
			writeDetail(w, http.StatusBadRequest, k+" is invalid; it cannot be a null value.")
			return true
		}
	}
	return false
}

// patch turns a decoded optional field into a partial-update patch:
// absent leaves the field alone, null clears it, a value sets it.
func patch[T any](q *request, key string, v *T) store.Patch[T] {
	switch {
	case !q.has(key):
		return store.Patch[T]{}
	case v == nil:
		return store.Clear[T]()
	default:
		return store.To(*v)
	}
}

// rawPatch is patch for free-form JSON fields.
func rawPatch(q *request, key string, v json.RawMessage) store.Patch[json.RawMessage] {
	switch {
	case !q.has(key):
		return store.Patch[json.RawMessage]{}
	case q.isNull(key):
		return store.Clear[json.RawMessage]()
	default:
		return store.To(v)
	}
}

// decodeOrReject decodes a validated request into dst. Validation makes a
// failure unlikely; should one happen it is reported as a 422.
func decodeOrReject(w http.ResponseWriter, q *request, dst any) bool {
	if err := q.decode(dst); err != nil {
		writeValidation(w, []fieldError{{Type: "value_error", Loc: []any{"body"}, Msg: "Value error, " + err.Error(), Input: json.RawMessage(q.raw)}})
		return false
	}
	return true
}

func nonNil[T any](s []T) []T {
	if s == nil {
		return []T{}
	}
	return s
}
