package pgstore

import (
	"context"
	"crypto/tls"
	"errors"
	"fmt"
	"io"
	"net"
	"testing"
	"time"

	"github.com/jackc/pgx/v5/pgconn"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/otelcol-lightning/otelcol-lightning/pkg/store"
)

func TestRebind(t *testing.T) {
	d := dialect{}
	assert.Equal(t, "SELECT 1", d.Rebind("SELECT 1"))
	assert.Equal(t, "a = $1 AND b IN ($2, $3) LIMIT $4", d.Rebind("a = ? AND b IN (?, ?) LIMIT ?"))
}

func TestIsTransient(t *testing.T) {
	tests := []struct {
		name string
		err  error
		want bool
	}{
		{"serialization failure", &pgconn.PgError{Code: "40001"}, true},
		{"deadlock", &pgconn.PgError{Code: "40P01"}, true},
		{"connection failure", &pgconn.PgError{Code: "08006"}, true},
		{"too many connections", &pgconn.PgError{Code: "53300"}, true},
		{"admin shutdown", &pgconn.PgError{Code: "57P01"}, true},
		{"lock timeout", &pgconn.PgError{Code: "55P03"}, true},
		{"statement timeout", &pgconn.PgError{Code: "57014"}, true},
		{"unique violation", &pgconn.PgError{Code: "23505"}, false},
		{"syntax error", &pgconn.PgError{Code: "42601"}, false},
		{"wrapped deadlock", fmt.Errorf("commit: %w", &pgconn.PgError{Code: "40P01"}), true},
		{"network", &net.OpError{Op: "read", Err: errors.New("connection reset by peer")}, true},
		{"eof", fmt.Errorf("read: %w", io.ErrUnexpectedEOF), true},
		{"other", errors.New("boom"), false},
		{"canceled", context.Canceled, false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			assert.Equal(t, tt.want, dialect{}.IsTransient(tt.err))
		})
	}
	assert.True(t, conflictCode(&store.TransientError{Err: fmt.Errorf("x: %w", &pgconn.PgError{Code: "40001"})}))
	assert.False(t, conflictCode(&pgconn.PgError{Code: "08006"}), "a lost connection may have committed: never rerun")
}

func TestLockKeysAreScopedBySchema(t *testing.T) {
	a, b := dialect{schema: "a"}, dialect{schema: "b"}
	assert.NotEqual(t, a.TryScanLock(), b.TryScanLock())
	assert.NotEqual(t, a.MigrationLock(), b.MigrationLock())
	assert.NotEqual(t, a.TryScanLock(), a.MigrationLock())
	_, ka := a.LockKey("rollouts", "ro-1")
	_, kb := b.LockKey("rollouts", "ro-1")
	_, kc := a.LockKey("workers", "ro-1")
	_, kd := a.LockKey("attempts", "ro-1", "at-1")
	_, ke := a.LockKey("attempts", "ro-1", "at-1")
	assert.NotEqual(t, ka, kb)
	assert.NotEqual(t, ka, kc)
	assert.Equal(t, kd, ke)
}

func TestConfigDefaultsAndErrors(t *testing.T) {
	c := Config{DSN: "postgres://localhost/db"}
	require.NoError(t, c.applyDefaults())
	assert.Equal(t, DefaultMaxConns, c.MaxConns)
	assert.Equal(t, DefaultMaxRetries, c.MaxRetries)

	for _, bad := range []Config{
		{},
		{DSN: "x", MaxConns: -1},
		{DSN: "x", MaxConns: 2, MinConns: 3},
		{DSN: "x", MinConns: -1},
		{DSN: "x", ConnMaxLifetime: -time.Second},
	} {
		assert.Error(t, bad.applyDefaults(), "%+v", bad)
	}
}

func TestBadDSNDoesNotLeakPassword(t *testing.T) {
	_, err := Open(context.Background(), Config{DSN: "postgres://user:s3cret@host:notaport/db"})
	require.Error(t, err)
	assert.NotContains(t, err.Error(), "s3cret")
}

func TestTLSAppliesToEveryHost(t *testing.T) {
	cfg, err := connConfig(Config{
		DSN: "postgres://u@db1:5432,db2:5433/lightning?sslmode=prefer",
		TLS: &tls.Config{MinVersion: tls.VersionTLS13},
	})
	require.NoError(t, err)
	require.NotNil(t, cfg.TLSConfig)
	assert.Equal(t, "db1", cfg.TLSConfig.ServerName)
	require.Len(t, cfg.Fallbacks, 1, "sslmode=prefer's plaintext fallbacks are gone")
	assert.Equal(t, "db2", cfg.Fallbacks[0].Host)
	require.NotNil(t, cfg.Fallbacks[0].TLSConfig)
	assert.Equal(t, "db2", cfg.Fallbacks[0].TLSConfig.ServerName)
	assert.Equal(t, uint16(tls.VersionTLS13), cfg.Fallbacks[0].TLSConfig.MinVersion)
}

func TestSchemaOnSearchPath(t *testing.T) {
	cfg, err := connConfig(Config{DSN: "postgres://u@db/lightning", Schema: `team "a"`})
	require.NoError(t, err)
	assert.Equal(t, `"team ""a"""`, cfg.RuntimeParams["search_path"])
}

func TestBackoffIsBounded(t *testing.T) {
	for attempt := range 20 {
		d := backoff(attempt)
		assert.Positive(t, d)
		assert.LessOrEqual(t, d, 100*time.Millisecond)
	}
}
