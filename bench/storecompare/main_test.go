package main

import (
	"bytes"
	"strings"
	"testing"

	"github.com/otelcol-lightning/otelcol-lightning/internal/pgtest"
)

// TestPostgresStoreCompareSmoke runs the comparison on a small load.
func TestPostgresStoreCompareSmoke(t *testing.T) {
	dsn := pgtest.DSN(t)
	var out bytes.Buffer
	err := run([]string{"-dsn", dsn, "-spans", "2048", "-batch", "512", "-writers", "2", "-rollouts", "100", "-dequeuers", "4"}, &out)
	if err != nil {
		t.Fatalf("%v\n%s", err, out.String())
	}
	for _, want := range []string{"sqlite ", "postgres ", "ratio postgres/sqlite: ingest "} {
		if !strings.Contains(out.String(), want) {
			t.Errorf("output lacks %q:\n%s", want, out.String())
		}
	}
}

func TestStoreCompareNeedsDSN(t *testing.T) {
	t.Setenv("LIGHTNING_POSTGRES_DSN", "")
	t.Setenv(pgtest.EnvDSN, "")
	if err := run(nil, &bytes.Buffer{}); err == nil || !strings.Contains(err.Error(), "no PostgreSQL DSN") {
		t.Fatalf("want a missing-DSN error, got %v", err)
	}
}
