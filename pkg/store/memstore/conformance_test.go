package memstore_test

import (
	"testing"

	"github.com/otelcol-lightning/otelcol-lightning/pkg/store"
	"github.com/otelcol-lightning/otelcol-lightning/pkg/store/memstore"
	"github.com/otelcol-lightning/otelcol-lightning/pkg/store/storetest"
)

// TestConformance runs the shared store conformance suite on the in-memory backend.
func TestConformance(t *testing.T) {
	storetest.Run(t, func(t *testing.T, opts store.Options) store.Store { return store.New(memstore.New(), opts) })
}
