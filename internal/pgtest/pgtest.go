// Package pgtest gives tests a PostgreSQL schema of their own on the server
// named by LIGHTNING_TEST_POSTGRES_DSN (.ci/run starts one), so tests that
// share the server stay isolated and may run in parallel.
package pgtest

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"os"
	"strings"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"
)

// EnvDSN names the variable holding the test server's DSN.
const EnvDSN = "LIGHTNING_TEST_POSTGRES_DSN"

// DSN returns the test server's DSN, or skips t when EnvDSN is unset.
func DSN(t testing.TB) string {
	t.Helper()
	dsn := os.Getenv(EnvDSN)
	if dsn == "" {
		t.Skipf("%s is unset: no PostgreSQL server to test against (.ci/run starts one)", EnvDSN)
	}
	return dsn
}

// Schema returns the test server's DSN and the name of a schema no other
// test uses (it does not exist yet: the store creates it). The schema is
// dropped, with everything in it, when t ends.
func Schema(t testing.TB) (dsn, schema string) {
	t.Helper()
	dsn = DSN(t)
	b := make([]byte, 6)
	_, _ = rand.Read(b)
	schema = "t_" + strings.ToLower(sanitize(t.Name(), 40)) + "_" + hex.EncodeToString(b)
	t.Cleanup(func() { Drop(t, dsn, schema) })
	return dsn, schema
}

// Drop removes schema and everything in it.
func Drop(t testing.TB, dsn, schema string) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	conn, err := pgx.Connect(ctx, dsn)
	if err != nil {
		t.Errorf("drop schema %s: %v", schema, err)
		return
	}
	defer conn.Close(ctx)
	if _, err := conn.Exec(ctx, "DROP SCHEMA IF EXISTS "+pgx.Identifier{schema}.Sanitize()+" CASCADE"); err != nil {
		t.Errorf("drop schema %s: %v", schema, err)
	}
}

// sanitize keeps the letters and digits of a test name, at most n of them,
// so schemas are recognisable in psql.
func sanitize(name string, n int) string {
	var b strings.Builder
	for _, r := range name {
		if b.Len() >= n {
			break
		}
		switch {
		case r >= 'a' && r <= 'z', r >= 'A' && r <= 'Z', r >= '0' && r <= '9':
			b.WriteRune(r)
		default:
			b.WriteByte('_')
		}
	}
	return b.String()
}
