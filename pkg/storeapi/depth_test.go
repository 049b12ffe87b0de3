package storeapi

import (
	"context"
	"net/http"
	"strings"
	"sync/atomic"
	"testing"

	"github.com/stretchr/testify/assert"

	"github.com/otelcol-lightning/otelcol-lightning/pkg/depthlimit"
)

// TestBodiesNestedTooDeep: every JSON body over depthlimit.Max is refused
// with 400 and counted, on every route that reads one, and the store never
// sees it; a body at the limit is accepted.
func TestBodiesNestedTooDeep(t *testing.T) {
	var refused atomic.Int64
	a := newTestAPI(t, WithTooDeep(func(context.Context) { refused.Add(1) }))
	deep := func(depth int) raw {
		// {"input": [[...]]}: the body's object is one level.
		return raw(`{"input":` + strings.Repeat("[", depth-1) + strings.Repeat("]", depth-1) + `}`)
	}
	routes := []string{"/rollouts", "/queues/rollouts/enqueue", "/rollouts/search", "/spans", "/waits/rollouts", "/resources"}
	for _, path := range routes {
		resp := a.do(http.MethodPost, path, deep(depthlimit.Max+1))
		assert.Equal(t, http.StatusBadRequest, resp.status, path)
		assert.Contains(t, string(resp.body), "nested deeper than 32 levels", path)
	}
	assert.EqualValues(t, len(routes), refused.Load())

	resp := a.do(http.MethodPost, "/rollouts", deep(depthlimit.Max))
	assert.Less(t, resp.status, 300, string(resp.body))

	// A hostile 20 MB body is refused at its first bytes.
	huge := raw(`{"input":` + strings.Repeat("[", 20<<20))
	resp = a.do(http.MethodPost, "/rollouts", huge)
	assert.Equal(t, http.StatusBadRequest, resp.status)
	assert.EqualValues(t, len(routes)+1, refused.Load())
}
