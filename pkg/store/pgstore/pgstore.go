package pgstore

import (
	"context"
	"crypto/tls"
	"database/sql"
	"errors"
	"fmt"
	"math/rand/v2"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgconn"
	"github.com/jackc/pgx/v5/stdlib"

	"github.com/otelcol-lightning/otelcol-lightning/pkg/store"
	"github.com/otelcol-lightning/otelcol-lightning/pkg/store/sqlstore"
)

// Defaults of Config.
const (
	DefaultMaxConns   = 10
	DefaultMaxRetries = 10
	// DefaultConnectTimeout applies when the DSN sets no connect_timeout.
	DefaultConnectTimeout = 10 * time.Second
)

// Config configures Open.
type Config struct {
	// DSN is a libpq connection string or URL, for example
	// postgres://user:password@host:5432/lightning?sslmode=verify-full.
	DSN string
	// Schema, when set, holds the store's tables: it is created when
	// missing and is the only schema on the connections' search_path.
	// Empty: the DSN's search_path (by default the public schema).
	Schema string
	// MaxConns bounds the open connections. Default 10.
	MaxConns int
	// MinConns connections are opened at start and kept while idle.
	MinConns int
	// ConnMaxLifetime closes connections older than this when they are
	// next idle (0: never), so that a load balancer in front of the
	// database or a failover spreads them again.
	ConnMaxLifetime time.Duration
	// TLS, when set, is used for every connection instead of what the
	// DSN's sslmode asks for. ServerName defaults to the host connected to.
	TLS *tls.Config
	// MaxRetries bounds how many times Update runs a transaction again
	// after a deadlock or serialisation failure. Default 10; -1: never.
	MaxRetries int
}

// Backend is the PostgreSQL store.Backend: sqlstore's, whose Update runs a
// transaction again when PostgreSQL rolled it back for a conflict.
type Backend struct {
	*sqlstore.Backend
	maxRetries int
}

var _ store.Backend = (*Backend)(nil)

// Open connects to PostgreSQL, creates the schema when asked, applies any
// missing migrations and returns the store backend.
func Open(ctx context.Context, cfg Config) (*Backend, error) {
	if err := cfg.applyDefaults(); err != nil {
		return nil, fmt.Errorf("postgres store: %w", err)
	}
	connCfg, err := connConfig(cfg)
	if err != nil {
		return nil, fmt.Errorf("postgres store: %w", err)
	}
	db := stdlib.OpenDB(*connCfg)
	db.SetMaxOpenConns(cfg.MaxConns)
	// Idle connections stay open: they keep their prepared statements.
	db.SetMaxIdleConns(cfg.MaxConns)
	db.SetConnMaxLifetime(cfg.ConnMaxLifetime)

	where := fmt.Sprintf("postgres store (host %s, database %s)", connCfg.Host, connCfg.Database)
	schema, err := prepareSchema(ctx, db, cfg.Schema)
	if err != nil {
		_ = db.Close()
		return nil, fmt.Errorf("%s: %w", where, err)
	}
	if err := warmUp(ctx, db, cfg.MinConns); err != nil {
		_ = db.Close()
		return nil, fmt.Errorf("%s: %w", where, err)
	}
	// sqlstore.New owns db from here on and closes it when it fails.
	sb, err := sqlstore.New(ctx, dialect{schema: schema}, db, db)
	if err != nil {
		return nil, fmt.Errorf("%s: %w", where, err)
	}
	return &Backend{Backend: sb, maxRetries: cfg.MaxRetries}, nil
}

func (c *Config) applyDefaults() error {
	if c.DSN == "" {
		return errors.New("a DSN is required")
	}
	if c.MaxConns == 0 {
		c.MaxConns = DefaultMaxConns
	}
	if c.MaxRetries == 0 {
		c.MaxRetries = DefaultMaxRetries
	}
	switch {
	case c.MaxConns < 1:
		return fmt.Errorf("max connections must be at least 1, got %d", c.MaxConns)
	case c.MinConns < 0 || c.MinConns > c.MaxConns:
		return fmt.Errorf("min connections must be between 0 and max connections (%d), got %d", c.MaxConns, c.MinConns)
	case c.ConnMaxLifetime < 0:
		return fmt.Errorf("connection max lifetime must not be negative, got %s", c.ConnMaxLifetime)
	}
	return nil
}

// connConfig parses the DSN and applies the schema and TLS settings.
func connConfig(cfg Config) (*pgx.ConnConfig, error) {
	connCfg, err := pgx.ParseConfig(cfg.DSN)
	if err != nil {
		// The parse error may quote the DSN, password included.
		return nil, errors.New("cannot parse the DSN; see https://www.postgresql.org/docs/current/libpq-connect.html#LIBPQ-CONNSTRING")
	}
	if connCfg.ConnectTimeout == 0 {
		// An unreachable host would otherwise hang the collector's start
		// for as long as the operating system keeps trying.
		connCfg.ConnectTimeout = DefaultConnectTimeout
	}
	if cfg.Schema != "" {
		connCfg.RuntimeParams["search_path"] = pgx.Identifier{cfg.Schema}.Sanitize()
	}
	if cfg.TLS != nil {
		applyTLS(&connCfg.Config, cfg.TLS)
	}
	return connCfg, nil
}

// applyTLS makes every host of the DSN use tlsCfg, dropping the plaintext
// fallbacks that sslmode=prefer or allow would add.
func applyTLS(c *pgconn.Config, tlsCfg *tls.Config) {
	forHost := func(host string) *tls.Config {
		t := tlsCfg.Clone()
		if t.ServerName == "" && !isUnixSocket(host) {
			t.ServerName = host
		}
		return t
	}
	c.TLSConfig = forHost(c.Host)
	type addr struct {
		host string
		port uint16
	}
	seen := map[addr]bool{{c.Host, c.Port}: true}
	fallbacks := c.Fallbacks[:0]
	for _, fb := range c.Fallbacks {
		a := addr{fb.Host, fb.Port}
		if seen[a] {
			continue
		}
		seen[a] = true
		fb.TLSConfig = forHost(fb.Host)
		fallbacks = append(fallbacks, fb)
	}
	c.Fallbacks = fallbacks
}

func isUnixSocket(host string) bool { return len(host) > 0 && host[0] == '/' }

// prepareSchema creates the configured schema if needed and returns the
// schema the store's tables live in, which scopes its advisory locks.
func prepareSchema(ctx context.Context, db *sql.DB, schema string) (string, error) {
	if schema == "" {
		var current sql.NullString
		if err := db.QueryRowContext(ctx, "SELECT current_schema()").Scan(&current); err != nil {
			return "", fmt.Errorf("connect: %w", err)
		}
		if !current.Valid {
			return "", errors.New("the search_path names no existing schema to create the tables in")
		}
		return current.String, nil
	}
	// An existing schema needs no CREATE privilege on the database.
	var exists bool
	if err := db.QueryRowContext(ctx, "SELECT EXISTS (SELECT 1 FROM pg_namespace WHERE nspname = $1)", schema).Scan(&exists); err != nil {
		return "", fmt.Errorf("connect: %w", err)
	}
	if exists {
		return schema, nil
	}
	tx, err := db.BeginTx(ctx, nil)
	if err != nil {
		return "", fmt.Errorf("connect: %w", err)
	}
	defer func() { _ = tx.Rollback() }()
	// Concurrent CREATE SCHEMA IF NOT EXISTS can still collide on the
	// catalog; the lock makes starting collectors take turns.
	if _, err := tx.ExecContext(ctx, "SELECT pg_advisory_xact_lock($1)", lockKey(schema, "create schema")); err != nil {
		return "", fmt.Errorf("lock schema creation: %w", err)
	}
	if _, err := tx.ExecContext(ctx, "CREATE SCHEMA IF NOT EXISTS "+pgx.Identifier{schema}.Sanitize()); err != nil {
		return "", fmt.Errorf("create schema %q: %w", schema, err)
	}
	if err := tx.Commit(); err != nil {
		return "", fmt.Errorf("create schema %q: %w", schema, err)
	}
	return schema, nil
}

// warmUp opens n connections at once and returns them to the idle pool.
func warmUp(ctx context.Context, db *sql.DB, n int) error {
	conns := make([]*sql.Conn, 0, n)
	defer func() {
		for _, c := range conns {
			_ = c.Close()
		}
	}()
	for range n {
		c, err := db.Conn(ctx)
		if err != nil {
			return fmt.Errorf("open %d connections: %w", n, err)
		}
		conns = append(conns, c)
	}
	return nil
}

// Update runs fn in a transaction, again when PostgreSQL rolled it back for
// a deadlock or a serialisation failure (nothing of it was committed).
func (b *Backend) Update(ctx context.Context, fn func(store.Tx) error) error {
	for attempt := 0; ; attempt++ {
		err := b.Backend.Update(ctx, fn)
		if err == nil || attempt >= b.maxRetries || !conflictCode(err) {
			return err
		}
		if werr := sleep(ctx, backoff(attempt)); werr != nil {
			return err
		}
	}
}

// backoff is a full-jitter exponential delay: 1 ms doubling up to 100 ms,
// so transactions that collided do not collide again in step.
func backoff(attempt int) time.Duration {
	limit := time.Millisecond << min(attempt, 7)
	limit = min(limit, 100*time.Millisecond)
	return time.Duration(rand.Int64N(int64(limit)) + 1)
}

func sleep(ctx context.Context, d time.Duration) error {
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case <-ctx.Done():
		return ctx.Err()
	case <-t.C:
		return nil
	}
}
