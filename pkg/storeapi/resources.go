package storeapi

import (
	"encoding/json"
	"net/http"

	"github.com/otelcol-lightning/otelcol-lightning/pkg/model"
	"github.com/otelcol-lightning/otelcol-lightning/pkg/store"
)

// resourcesQuery is QueryResourcesRequest.
type resourcesQuery struct {
	ResourcesID         *string `json:"resources_id"`
	ResourcesIDContains *string `json:"resources_id_contains"`
	pageParams
}

func (h *handler) queryResources(w http.ResponseWriter, r *http.Request) {
	q, ok := readQuery(w, r, queryResourcesRequest)
	if !ok {
		return
	}
	serveQuery(h, w, r, q, &resourcesQuery{}, "", func(b *resourcesQuery, pg store.Page) (model.Paginated[model.ResourcesUpdate], error) {
		return h.store.QueryResources(r.Context(), store.ResourcesQuery{
			ResourcesID:         b.ResourcesID,
			ResourcesIDContains: b.ResourcesIDContains,
			Page:                pg,
		})
	})
}

func (h *handler) addResources(w http.ResponseWriter, r *http.Request) {
	res, ok := readResources(w, r)
	if !ok {
		return
	}
	out, err := h.store.AddResources(r.Context(), res)
	if err != nil {
		h.writeStoreError(w, r, err)
		return
	}
	writeJSON(w, http.StatusCreated, out)
}

func (h *handler) updateResources(w http.ResponseWriter, r *http.Request) {
	res, ok := readResources(w, r)
	if !ok {
		return
	}
	out, err := h.store.UpdateResources(r.Context(), r.PathValue("resources_id"), res)
	if err != nil {
		h.writeStoreError(w, r, err)
		return
	}
	writeJSON(w, http.StatusOK, out)
}

func (h *handler) getResources(w http.ResponseWriter, r *http.Request) {
	out, err := h.store.GetResources(r.Context(), r.PathValue("resources_id"))
	if err != nil {
		h.writeStoreError(w, r, err)
		return
	}
	writeJSON(w, http.StatusOK, out)
}

func (h *handler) getLatestResources(w http.ResponseWriter, r *http.Request) {
	out, err := h.store.GetLatestResources(r.Context())
	if err != nil {
		h.writeStoreError(w, r, err)
		return
	}
	writeJSON(w, http.StatusOK, out)
}

// readResources reads the bare NamedResources map of POST /resources and
// normalises each resource (defaults filled in) the way Pydantic would.
func readResources(w http.ResponseWriter, r *http.Request) (model.NamedResources, bool) {
	q, ok := readBody(w, r, namedResources, true)
	if !ok {
		return nil, false
	}
	res, err := model.NormalizeResources(model.NamedResources(q.fields))
	if err != nil {
		writeValidation(w, []fieldError{{Type: "value_error", Loc: []any{"body"}, Msg: "Value error, " + err.Error(), Input: json.RawMessage(q.raw)}})
		return nil, false
	}
	return res, true
}
