package pgstore_test

import (
	"context"
	"testing"

	"github.com/otelcol-lightning/otelcol-lightning/internal/pgtest"
	"github.com/otelcol-lightning/otelcol-lightning/pkg/store"
	"github.com/otelcol-lightning/otelcol-lightning/pkg/store/pgstore"
	"github.com/otelcol-lightning/otelcol-lightning/pkg/store/storetest"
)

// TestPostgresConformance runs the shared store conformance suite on
// PostgreSQL, each case on a schema of its own.
func TestPostgresConformance(t *testing.T) {
	pgtest.DSN(t)
	storetest.Run(t, func(t *testing.T, opts store.Options) store.Store {
		return store.New(openBackend(t), opts)
	})
}

// openBackend opens a backend on a fresh schema; the caller closes it.
func openBackend(t *testing.T) *pgstore.Backend {
	t.Helper()
	dsn, schema := pgtest.Schema(t)
	return openSchema(t, dsn, schema)
}

func openSchema(t *testing.T, dsn, schema string) *pgstore.Backend {
	t.Helper()
	b, err := pgstore.Open(context.Background(), pgstore.Config{DSN: dsn, Schema: schema, MaxConns: 8})
	if err != nil {
		t.Fatal(err)
	}
	return b
}
