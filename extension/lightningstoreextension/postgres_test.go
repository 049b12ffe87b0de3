package lightningstoreextension

import (
	"net/http"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	"go.opentelemetry.io/collector/config/configopaque"

	"github.com/otelcol-lightning/otelcol-lightning/internal/pgtest"
)

// TestPostgresSharedByTwoExtensions: two collectors' lightningstore extensions on
// one PostgreSQL schema serve the same store; what one enqueues, the
// other dequeues, once.
func TestPostgresSharedByTwoExtensions(t *testing.T) {
	dsn, schema := pgtest.Schema(t)
	cfg := func() *Config {
		c := testConfig(BackendPostgres, "")
		c.Store.DSN = configopaque.String(dsn)
		c.Store.Schema = schema
		c.Store.MaxConns, c.Store.MinConns = 4, 1
		return c
	}
	a, b := start(t, cfg()), start(t, cfg())
	defer shutdown(t, a)
	defer shutdown(t, b)

	status, _, body := call(t, a, http.MethodPost, "/v1/agl/queues/rollouts/enqueue",
		`{"rollouts": [{"input": {"task": 1}}, {"input": {"task": 2}}]}`)
	require.Equal(t, http.StatusCreated, status, "%v", body)

	status, _, body = call(t, b, http.MethodPost, "/v1/agl/queues/rollouts/dequeue", `{"limit": 10, "worker_id": "w-b"}`)
	require.Equal(t, http.StatusOK, status, "%v", body)
	assert.Len(t, body.([]any), 2)
	status, _, body = call(t, a, http.MethodPost, "/v1/agl/queues/rollouts/dequeue", `{"limit": 10, "worker_id": "w-a"}`)
	require.Equal(t, http.StatusOK, status, "%v", body)
	assert.Empty(t, body.([]any), "already claimed through the other collector")

	assert.ElementsMatch(t, searchRolloutIDs(t, a), searchRolloutIDs(t, b))
	_, _, stats := call(t, a, http.MethodGet, "/v1/agl/statistics", "")
	assert.Equal(t, "PostgresLightningStore", stats.(map[string]any)["name"])
}
