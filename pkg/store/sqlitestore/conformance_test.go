package sqlitestore_test

import (
	"path/filepath"
	"testing"

	"github.com/otelcol-lightning/otelcol-lightning/pkg/store"
	"github.com/otelcol-lightning/otelcol-lightning/pkg/store/sqlitestore"
	"github.com/otelcol-lightning/otelcol-lightning/pkg/store/storetest"
)

// TestConformance runs the shared store conformance suite on SQLite.
func TestConformance(t *testing.T) {
	storetest.Run(t, func(t *testing.T, opts store.Options) store.Store {
		b, err := sqlitestore.Open(filepath.Join(t.TempDir(), "store.db"))
		if err != nil {
			t.Fatal(err)
		}
		return store.New(b, opts)
	})
}
