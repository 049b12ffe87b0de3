package storeapi

import (
	"encoding/json"
	"net/http"

	"github.com/otelcol-lightning/otelcol-lightning/pkg/model"
	"github.com/otelcol-lightning/otelcol-lightning/pkg/store"
)

// addSpan stores one span: 201 with the span, or 201 with null when the
// (rollout, attempt, span id) already exists.
func (h *handler) addSpan(w http.ResponseWriter, r *http.Request) {
	q, ok := readBody(w, r, spanRequest, true)
	if !ok {
		return
	}
	var span model.Span
	if !decodeOrReject(w, q, &span) {
		return
	}
	out, err := h.store.AddSpan(r.Context(), span)
	if err != nil {
		h.writeStoreError(w, r, err)
		return
	}
	writeJSON(w, http.StatusCreated, out)
}

// spanQuery is QuerySpansRequest.
type spanQuery struct {
	RolloutID        string  `json:"rollout_id"`
	AttemptID        *string `json:"attempt_id"`
	TraceID          *string `json:"trace_id"`
	TraceIDContains  *string `json:"trace_id_contains"`
	SpanID           *string `json:"span_id"`
	SpanIDContains   *string `json:"span_id_contains"`
	ParentID         *string `json:"parent_id"`
	ParentIDContains *string `json:"parent_id_contains"`
	Name             *string `json:"name"`
	NameContains     *string `json:"name_contains"`
	FilterLogic      *string `json:"filter_logic"`
	pageParams
}

// querySpans serves GET /spans and POST /spans/search; spans sort by
// sequence_id unless told otherwise, and attempt_id may be "latest".
func (h *handler) querySpans(w http.ResponseWriter, r *http.Request) {
	q, ok := queryOrSearch(w, r, querySpansRequest)
	if !ok {
		return
	}
	serveQuery(h, w, r, q, &spanQuery{}, "sequence_id", func(b *spanQuery, pg store.Page) (model.Paginated[json.RawMessage], error) {
		// Spans are served as the store's documents where it keeps them
		// verbatim, without decoding and encoding them again.
		return h.store.QuerySpansRaw(r.Context(), store.SpanQuery{
			RolloutID:        b.RolloutID,
			AttemptID:        b.AttemptID,
			TraceID:          b.TraceID,
			TraceIDContains:  b.TraceIDContains,
			SpanID:           b.SpanID,
			SpanIDContains:   b.SpanIDContains,
			ParentID:         b.ParentID,
			ParentIDContains: b.ParentIDContains,
			Name:             b.Name,
			NameContains:     b.NameContains,
			FilterLogic:      logic(b.FilterLogic),
			Page:             pg,
		})
	})
}

// nextSequenceID allocates one span sequence id; unknown ids are fine.
func (h *handler) nextSequenceID(w http.ResponseWriter, r *http.Request) {
	q, ok := readBody(w, r, nextSequenceIDRequest, true)
	if !ok {
		return
	}
	var body struct {
		RolloutID string `json:"rollout_id"`
		AttemptID string `json:"attempt_id"`
	}
	if !decodeOrReject(w, q, &body) {
		return
	}
	ids, err := h.store.NextSequenceIDs(r.Context(), []store.SequenceKey{{RolloutID: body.RolloutID, AttemptID: body.AttemptID}})
	if err != nil {
		h.writeStoreError(w, r, err)
		return
	}
	if len(ids) != 1 {
		h.writeStoreError(w, r, &store.Error{Type: "RuntimeError", Message: "sequence id allocation returned no id"})
		return
	}
	writeJSON(w, http.StatusOK, map[string]int{"sequence_id": ids[0]})
}
