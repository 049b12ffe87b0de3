package storeapi

import (
	"net/http"

	"github.com/otelcol-lightning/otelcol-lightning/pkg/model"
	"github.com/otelcol-lightning/otelcol-lightning/pkg/store"
)

// pageParams are the sorting and paging fields shared by every query.
type pageParams struct {
	Limit     *int    `json:"limit"`
	Offset    *int    `json:"offset"`
	SortBy    *string `json:"sort_by"`
	SortOrder *string `json:"sort_order"`
}

// errZeroLimit is the one paging rule the REST layer adds to the store's:
// the store returns an empty page for limit 0, the server refuses it.
var errZeroLimit = &store.InvalidArgumentError{Message: "Limit must be greater than 0 or -1 for no limit"}

// page applies the request defaults (limit -1, offset 0, ascending, and
// defaultSort when sort_by is absent; an explicit null means no sort).
func (p pageParams) page(q *request, defaultSort string) (store.Page, error) {
	pg := store.Page{SortOrder: store.SortAsc, Limit: -1, SortBy: p.SortBy}
	if p.Limit != nil {
		pg.Limit = *p.Limit
	}
	if p.Offset != nil {
		pg.Offset = *p.Offset
	}
	if p.SortOrder != nil {
		pg.SortOrder = *p.SortOrder
	}
	if defaultSort != "" && !q.has("sort_by") {
		pg.SortBy = &defaultSort
	}
	if pg.Limit == 0 {
		return pg, errZeroLimit
	}
	return pg, nil
}

func logic(v *string) string {
	if v == nil {
		return store.LogicAnd
	}
	return *v
}

// queryOrSearch reads the parameters of a paginated query: the query
// string for GET, the (required) JSON body for POST .../search.
func queryOrSearch(w http.ResponseWriter, r *http.Request, s *schema) (*request, bool) {
	if r.Method == http.MethodGet {
		return readQuery(w, r, s)
	}
	return readBody(w, r, s, true)
}

// pager is a query body: it knows how to turn itself into a store.Page.
type pager interface {
	page(q *request, defaultSort string) (store.Page, error)
}

// serveQuery runs the steps every query route shares once the request is
// read: decode it into body, page it, run the store query and answer with
// the page (items never null).
func serveQuery[B pager, T any](h *handler, w http.ResponseWriter, r *http.Request, q *request, body B, defaultSort string,
	run func(B, store.Page) (model.Paginated[T], error)) {
	if !decodeOrReject(w, q, body) {
		return
	}
	pg, err := body.page(q, defaultSort)
	if err != nil {
		h.writeStoreError(w, r, err)
		return
	}
	out, err := run(body, pg)
	if err != nil {
		h.writeStoreError(w, r, err)
		return
	}
	out.Items = nonNil(out.Items)
	writeJSON(w, http.StatusOK, out)
}
